//! Rewriting the upstream's absolute URLs in an answer (`links` objects, `Location`) to the proxy's own origin.

use bytes::Bytes;

/// A link longer than this is passed on unchanged rather than held back whole.
pub(super) const MAX_HELD_LINK: usize = 16 << 10;

/// `url` with the origin `from` replaced by `to`, when it starts with `from` (scheme and host in
/// any case) followed by a path, a query, a fragment or nothing.
pub(super) fn rebase(url: &str, from: &str, to: &str) -> Option<String> {
    let head = url.get(..from.len())?;
    let rest = &url[from.len()..];
    (head.eq_ignore_ascii_case(from) && (rest.is_empty() || rest.starts_with(['/', '?', '#'])))
        .then(|| format!("{to}{rest}"))
}

/// Rewrites, in a JSON text that arrives in pieces, the string values of every `links` object
/// that start with one origin so that they start with another. Every other byte passes through
/// unchanged and at once; a link is held back only from its opening to its closing quote.
///
/// Text that is not JSON passes through unchanged (the scan may lose its place, never a byte).
#[derive(Debug)]
pub(super) struct LinkRewriter {
    pub(super) from: String,
    pub(super) to: String,
    /// `to` escaped for a JSON string.
    pub(super) to_json: String,
    /// The open objects and arrays.
    pub(super) stack: Vec<Container>,
    pub(super) state: Scan,
    /// The object key being read (only its first bytes: only `links` matters).
    pub(super) key: Vec<u8>,
    /// Whether the last key read was `links`.
    pub(super) after_links_key: bool,
    /// The link being read, quotes included, held back until it ends.
    pub(super) held: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Container {
    /// An object; `links` when it is the value of a `links` key.
    Object {
        links: bool,
        expect_key: bool,
    },
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    Structure,
    Key { escaped: bool },
    Text { escaped: bool, held: bool },
}

impl LinkRewriter {
    pub(super) fn new(from: &str, to: &str) -> Self {
        // `to` goes into JSON strings as it is; an origin needs no escaping, but one that did
        // would break the answer's JSON.
        let to_json = serde_json::to_string(to)
            .ok()
            .and_then(|quoted| quoted.get(1..quoted.len() - 1).map(str::to_owned))
            .unwrap_or_default();
        Self {
            from: from.to_owned(),
            to: to.to_owned(),
            to_json,
            stack: Vec::new(),
            state: Scan::Structure,
            key: Vec::new(),
            after_links_key: false,
            held: Vec::new(),
        }
    }

    /// The bytes to pass on for `chunk`: the chunk itself when nothing in it is held back or
    /// rewritten.
    ///
    /// Strings are skipped a run at a time up to their next quote or backslash, and only the
    /// bytes between strings are looked at one by one, so a page costs little more than a copy.
    pub(super) fn push(&mut self, chunk: Bytes) -> Bytes {
        let bytes = &chunk[..];
        // What to pass on, once it differs from the chunk; `start` is the first byte of the
        // chunk neither in `out` nor in `held` yet.
        let mut out: Option<Vec<u8>> = None;
        let mut start = 0;
        if matches!(self.state, Scan::Text { held: true, .. }) {
            out = Some(Vec::with_capacity(bytes.len()));
        }
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                Scan::Structure => {
                    while let Some(&byte) = bytes.get(i) {
                        if byte == b'"' {
                            break;
                        }
                        self.structure(byte);
                        i += 1;
                    }
                    if i == bytes.len() {
                        break;
                    }
                    match self.stack.last() {
                        Some(Container::Object {
                            expect_key: true, ..
                        }) => {
                            self.key.clear();
                            self.state = Scan::Key { escaped: false };
                        }
                        Some(Container::Object { links: true, .. }) => {
                            let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                            out.extend_from_slice(&bytes[start..i]);
                            self.held.clear();
                            self.held.push(b'"');
                            start = i + 1;
                            self.state = Scan::Text {
                                escaped: false,
                                held: true,
                            };
                        }
                        _ => {
                            self.state = Scan::Text {
                                escaped: false,
                                held: false,
                            }
                        }
                    }
                    i += 1;
                }
                Scan::Key { escaped: true } => {
                    self.keep_key_bytes(&bytes[i..=i]);
                    self.state = Scan::Key { escaped: false };
                    i += 1;
                }
                Scan::Key { escaped: false } => {
                    let Some(end) = string_stop(&bytes[i..]).map(|offset| i + offset) else {
                        self.keep_key_bytes(&bytes[i..]);
                        break;
                    };
                    self.keep_key_bytes(&bytes[i..=end]);
                    if bytes[end] == b'"' {
                        self.after_links_key = self.key == b"links\"";
                        self.state = Scan::Structure;
                    } else {
                        self.state = Scan::Key { escaped: true };
                    }
                    i = end + 1;
                }
                Scan::Text {
                    escaped: true,
                    held: false,
                } => {
                    self.state = Scan::Text {
                        escaped: false,
                        held: false,
                    };
                    i += 1;
                }
                Scan::Text {
                    escaped: false,
                    held: false,
                } => {
                    let Some(end) = string_stop(&bytes[i..]).map(|offset| i + offset) else {
                        break;
                    };
                    self.state = if bytes[end] == b'"' {
                        Scan::Structure
                    } else {
                        Scan::Text {
                            escaped: true,
                            held: false,
                        }
                    };
                    i = end + 1;
                }
                Scan::Text {
                    escaped,
                    held: true,
                } => {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                    let end = if escaped {
                        Some(i)
                    } else {
                        string_stop(&bytes[i..]).map(|offset| i + offset)
                    };
                    let Some(end) = end else {
                        self.held.extend_from_slice(&bytes[i..]);
                        i = bytes.len();
                        start = i;
                        self.pass_on_if_too_long(out, false);
                        break;
                    };
                    self.held.extend_from_slice(&bytes[i..=end]);
                    i = end + 1;
                    start = i;
                    if !escaped && bytes[end] == b'"' {
                        self.state = Scan::Structure;
                        // Only a link that fits, quotes aside, is rewritten.
                        if self.held.len() - 2 < MAX_HELD_LINK {
                            self.rewrite_held_into(out);
                        } else {
                            out.extend_from_slice(&self.held);
                        }
                        self.held.clear();
                    } else {
                        let escaped = !escaped && bytes[end] == b'\\';
                        self.state = Scan::Text {
                            escaped,
                            held: true,
                        };
                        self.pass_on_if_too_long(out, escaped);
                    }
                }
            }
        }
        match out {
            None => chunk,
            Some(mut out) => {
                if !matches!(self.state, Scan::Text { held: true, .. }) {
                    out.extend_from_slice(&bytes[start..]);
                }
                Bytes::from(out)
            }
        }
    }

    /// Follows one byte between strings (never a quote): objects, arrays, and whether the next
    /// string in an object is a key.
    pub(super) fn structure(&mut self, byte: u8) {
        match byte {
            b'{' => {
                let links = self.after_links_key
                    && matches!(
                        self.stack.last(),
                        Some(Container::Object {
                            expect_key: false,
                            ..
                        })
                    );
                self.stack.push(Container::Object {
                    links,
                    expect_key: true,
                });
            }
            b'[' => self.stack.push(Container::Array),
            b'}' | b']' => {
                self.stack.pop();
            }
            b':' | b',' => {
                if let Some(Container::Object { expect_key, .. }) = self.stack.last_mut() {
                    *expect_key = byte == b',';
                }
            }
            _ => {}
        }
    }

    /// Keeps the first bytes of a key: enough to tell `links"` from anything else.
    pub(super) fn keep_key_bytes(&mut self, run: &[u8]) {
        let room = 8usize.saturating_sub(self.key.len());
        self.key.extend_from_slice(&run[..run.len().min(room)]);
    }

    /// A held string longer than any link anyone follows is passed on as it is, and the rest of
    /// it streams through unheld.
    pub(super) fn pass_on_if_too_long(&mut self, out: &mut Vec<u8>, escaped: bool) {
        if self.held.len() > MAX_HELD_LINK {
            out.extend_from_slice(&self.held);
            self.held.clear();
            self.state = Scan::Text {
                escaped,
                held: false,
            };
        }
    }

    /// What is still held back when the body ends (an unterminated string: passed on as it is).
    pub(super) fn finish(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.held))
    }

    /// Appends the held string, quotes included, rebased when it is a link to `from`.
    pub(super) fn rewrite_held_into(&self, out: &mut Vec<u8>) {
        let held = &self.held[..];
        let inner = &held[1..held.len() - 1];
        if !inner.contains(&b'\\') {
            // Nothing to unescape, so the string is its own bytes: rebased without allocating.
            // It must still be a valid JSON string for its link to count (as the general case
            // below requires).
            let rest = inner
                .get(..self.from.len())
                .filter(|head| head.eq_ignore_ascii_case(self.from.as_bytes()))
                .map(|_| &inner[self.from.len()..])
                .filter(|rest| rest.is_empty() || matches!(rest[0], b'/' | b'?' | b'#'))
                .filter(|rest| {
                    !rest.iter().any(|&b| b < 0x20) && std::str::from_utf8(rest).is_ok()
                });
            match rest {
                Some(rest) => {
                    out.push(b'"');
                    out.extend_from_slice(self.to_json.as_bytes());
                    out.extend_from_slice(rest);
                    out.push(b'"');
                }
                None => out.extend_from_slice(held),
            }
            return;
        }
        match serde_json::from_slice::<String>(held)
            .ok()
            .and_then(|link| rebase(&link, &self.from, &self.to))
            .and_then(|link| serde_json::to_vec(&link).ok())
        {
            Some(rewritten) => out.extend_from_slice(&rewritten),
            None => out.extend_from_slice(held),
        }
    }
}

/// Where a run of string bytes stops: the offset of its next quote or backslash.
pub(super) fn string_stop(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_in_pieces(text: &str, piece: usize) -> String {
        let mut rewriter = LinkRewriter::new("http://up:1", "http://me:2");
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(piece) {
            out.extend_from_slice(&rewriter.push(Bytes::copy_from_slice(chunk)));
        }
        out.extend_from_slice(&rewriter.finish());
        String::from_utf8(out).expect("utf-8 in, utf-8 out")
    }

    #[test]
    fn rewrites_only_links_whatever_the_chunking() {
        let body = r#"{"attendees":[{"id":"1","notes":"see http://up:1/v1/x","links":{"self":"http://up:1/v1/attendees/1"},"patient":{"links":{"self":"http:\/\/up:1\/v1\/patients\/2"}},"telehealth_url":"http://up:1/v1/t"}],"total_entries":1,"links":{"self":"http://up:1/v1/attendees?page=1","next":"http://up:10/v1/attendees?page=2","previous":"https://elsewhere/v1"}}"#;
        let expected = r#"{"attendees":[{"id":"1","notes":"see http://up:1/v1/x","links":{"self":"http://me:2/v1/attendees/1"},"patient":{"links":{"self":"http://me:2/v1/patients/2"}},"telehealth_url":"http://up:1/v1/t"}],"total_entries":1,"links":{"self":"http://me:2/v1/attendees?page=1","next":"http://up:10/v1/attendees?page=2","previous":"https://elsewhere/v1"}}"#;
        for piece in [1, 2, 3, 7, 64, body.len()] {
            assert_eq!(
                rewrite_in_pieces(body, piece),
                expected,
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn a_link_too_long_to_hold_passes_unchanged_and_the_next_is_rewritten() {
        let long = format!("http://up:1/{}", "x".repeat(MAX_HELD_LINK));
        let body = format!(r#"{{"links":{{"self":"{long}","next":"http://up:1/v1/n"}}}}"#);
        let expected = format!(r#"{{"links":{{"self":"{long}","next":"http://me:2/v1/n"}}}}"#);
        for piece in [1, 1000, 4096, body.len()] {
            assert_eq!(
                rewrite_in_pieces(&body, piece),
                expected,
                "pieces of {piece}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever the text (JSON or not, escapes, links, bytes that are not UTF-8) and however
        /// it is cut, the rewriter passes on what it passes on for the text in one piece.
        #[test]
        fn the_chunking_never_changes_the_output(
            tokens in proptest::collection::vec(0..TOKENS.len(), 0..60),
            cuts in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..6),
        ) {
            let text: Vec<u8> = tokens.iter().flat_map(|&n| TOKENS[n].iter().copied()).collect();
            let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(text.len() + 1)).collect();
            cuts.sort_unstable();
            let whole = rewrite_bytes(&text, &[]);
            proptest::prop_assert_eq!(rewrite_bytes(&text, &cuts), whole);
        }
    }

    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b":",
        b",",
        b"\"",
        b"\\",
        b"links",
        b"\"links\"",
        b"\"links\":{\"a\":\"",
        b"http://up:1",
        b"/x",
        b"?q",
        b"http:\\/\\/up:1\\/y",
        b"a",
        b" ",
        b"\xc3\xa9",
        b"\xff",
        b"\x01",
        b"HTTP://UP:1",
        b"http://up:12",
        b"null",
    ];

    fn rewrite_bytes(text: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut rewriter = LinkRewriter::new("http://up:1", "http://me:2");
        let mut out = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain([&text.len()]) {
            out.extend_from_slice(&rewriter.push(Bytes::copy_from_slice(&text[last..cut])));
            last = cut;
        }
        out.extend_from_slice(&rewriter.finish());
        out
    }

    #[test]
    fn passes_text_that_is_not_json_through() {
        for text in [
            "<html>\"links\": {\"self\": \"http://up:1/",
            "{\"links\":{\"a\":\"http://up:1/x",
        ] {
            assert_eq!(rewrite_in_pieces(text, 3), text);
        }
    }

    #[test]
    fn rebase_needs_a_boundary_after_the_origin() {
        assert_eq!(
            rebase("HTTP://UP:1/v1?a", "http://up:1", "http://me:2").as_deref(),
            Some("http://me:2/v1?a")
        );
        assert_eq!(
            rebase("http://up:12/v1", "http://up:1", "http://me:2"),
            None
        );
        assert_eq!(rebase("http://up", "http://up:1", "http://me:2"), None);
    }
}
