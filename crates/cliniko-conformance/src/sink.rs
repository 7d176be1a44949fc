//! The one path an exchange takes once it has happened, in a live run and in the proxy alike:
//! check it as the server sent it, scrub the verdict and the exchange, write the recording.
//!
//! [`Sink::take`] checks first and scrubs after, so that a violation in a field the scrubber
//! replaces is still reported; what it returns (the verdict and the exchange) is scrubbed, and
//! [`Sink::write`] writes that exchange as a recording file. A sink scrubs with a [`Scrubber`]
//! (the API key, its Basic token, the server's origin, the spec's personal and capability-URL
//! marks) and, for the proxy, every other credential it has seen (a bearer token, a token with a
//! password, another app's key), which are removed from the verdict and from the recording's text.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::check::{Checker, Verdict};
use crate::recording::{Body, Exchange};
use crate::scrub::{SECRET_PLACEHOLDER, Scrubber};

/// Checks, scrubs and records exchanges.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    scrubber: Scrubber,
    /// Credentials beyond the scrubber's, longest first.
    secrets: Arc<Vec<String>>,
}

/// What a [`Sink`] made of one exchange: both scrubbed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sunk {
    /// The verdict on the exchange as it happened, its texts scrubbed.
    pub(crate) verdict: Verdict,
    /// The exchange, scrubbed, as it is written.
    pub(crate) scrubbed: Exchange,
}

impl Sink {
    /// A sink that scrubs with `scrubber` only.
    pub(crate) fn new(scrubber: Scrubber) -> Self {
        Self {
            scrubber,
            secrets: Arc::default(),
        }
    }

    /// Also removes `secrets` (longest first, so that one holding another goes whole) from the
    /// verdict and the recording.
    pub(crate) fn with_secrets(mut self, secrets: Arc<Vec<String>>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Checks `exchange` as it happened, then scrubs the verdict (a server may echo what it was
    /// sent, and a violation quotes it) and the exchange.
    pub(crate) fn take(&self, checker: &Checker, exchange: &Exchange) -> Sunk {
        Sunk {
            verdict: self.verdict(checker.check(exchange)),
            scrubbed: self.scrubber.exchange(exchange),
        }
    }

    /// A verdict on an exchange as it happened, scrubbed as [`Sink::take`] scrubs it.
    pub(crate) fn verdict(&self, verdict: Verdict) -> Verdict {
        let verdict = self.scrubber.verdict(verdict);
        let change = |text: &str| redact(text, &self.secrets).into_owned();
        Verdict {
            method: change(&self.scrubber.text(&verdict.method)),
            path: change(&verdict.path),
            violations: verdict
                .violations
                .into_iter()
                .map(|violation| violation.map_text(&change))
                .collect(),
            notes: verdict
                .notes
                .into_iter()
                .map(|note| note.map_text(&change))
                .collect(),
            ..verdict
        }
    }

    /// The text of the recording file of a scrubbed exchange: pretty JSON and a newline, with the
    /// sink's other credentials removed from it too.
    pub(crate) fn recording(&self, scrubbed: &Exchange) -> String {
        let mut text = serde_json::to_string_pretty(&scrubbed.to_recorded()).unwrap_or_default();
        text.push('\n');
        redact(&text, &self.secrets).into_owned()
    }

    /// Writes the recording of a scrubbed exchange to `path`.
    pub(crate) fn write(&self, path: &Path, scrubbed: &Exchange) -> std::io::Result<()> {
        std::fs::write(path, self.recording(scrubbed))
    }

    /// `text` (an error message) with the key, the origin and every other credential removed.
    pub(crate) fn text(&self, text: &str) -> String {
        redact(&self.scrubber.text(text), &self.secrets).into_owned()
    }
}

/// A body as it came over the wire: none when empty, the JSON value when it parses as JSON other
/// than a string, else its text (a JSON string body is raw text, as the recording format says).
pub(crate) fn body(bytes: &[u8]) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    // `parse_json` reads what serde_json reads, into the same value, in about half the time
    // for a page of attendees; JSON is UTF-8, so text that is not is not JSON either.
    match std::str::from_utf8(bytes).map(crate::recording::parse_json) {
        Ok(Ok(Value::String(_)) | Err(_)) | Err(_) => {
            Body::Text(String::from_utf8_lossy(bytes).into_owned())
        }
        Ok(Ok(value)) => Body::Json(value),
    }
}

/// `text` with every secret replaced by [`SECRET_PLACEHOLDER`].
pub(crate) fn redact<'t>(text: &'t str, secrets: &[String]) -> Cow<'t, str> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), SECRET_PLACEHOLDER));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_values_or_their_text() {
        assert_eq!(body(b""), Body::Empty);
        assert_eq!(body(br#"{"a":1}"#), Body::Json(serde_json::json!({"a": 1})));
        assert_eq!(body(br#""quoted""#), Body::Text("\"quoted\"".to_owned()));
        assert_eq!(body(b"<html>"), Body::Text("<html>".to_owned()));
        assert_eq!(body(b"\xff{"), Body::Text("\u{fffd}{".to_owned()));
    }
}
