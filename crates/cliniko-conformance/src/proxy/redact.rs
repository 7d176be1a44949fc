//! Credentials: every key and token the proxy sees, learnt from `Authorization` and removed from its output.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http::header::{self, HeaderMap};

/// Every credential seen so far, kept in memory only so that it can be removed from output.
///
/// The list is shared as it stands: a reader takes its `Arc` and a new secret replaces it. The
/// lock is held for no allocation on the readers' side, since a checker thread (which gives way
/// to every other thread) holding it while the forwarding waits would stall answers.
#[derive(Default)]
pub(super) struct Secrets(Mutex<Arc<Vec<String>>>);

impl Secrets {
    pub(super) fn add(&self, found: &[String]) {
        if found.is_empty() {
            return;
        }
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if found.iter().all(|secret| known.contains(secret)) {
            return;
        }
        let mut more = Vec::clone(&known);
        for secret in found {
            if !more.contains(secret) {
                more.push(secret.clone());
            }
        }
        // Longer first, so that a secret containing another is replaced whole.
        more.sort_by_key(|s| std::cmp::Reverse(s.len()));
        *known = Arc::new(more);
    }

    pub(super) fn all(&self) -> Arc<Vec<String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The credentials in `Authorization`: every secret to remove from output (the token, and for
/// Basic the user name and password it encodes), and the API key (the Basic user name).
pub(super) fn credentials(headers: &HeaderMap) -> (Vec<String>, Option<String>) {
    let mut secrets = Vec::new();
    let mut api_key = None;
    for value in headers.get_all(header::AUTHORIZATION) {
        let text = String::from_utf8_lossy(value.as_bytes());
        let (scheme, token) = match text.trim().split_once(' ') {
            Some((scheme, token)) => (scheme, token.trim()),
            None => ("", text.trim()),
        };
        if !token.is_empty() {
            secrets.push(token.to_owned());
        }
        if scheme.eq_ignore_ascii_case("basic")
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token)
        {
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            let (user, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
            for part in [user, password] {
                if !part.is_empty() {
                    secrets.push(part.to_owned());
                }
            }
            if !user.is_empty() {
                api_key.get_or_insert_with(|| user.to_owned());
            }
        }
    }
    (secrets, api_key)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn credentials_give_the_key_and_every_token() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic TXhKclpYa2lPaUkxTmpkMWFtSm1aVFExTnlKOS1hdTI6"),
        );
        let (secrets, key) = credentials(&headers);
        assert_eq!(key.as_deref(), Some("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2"));
        assert_eq!(
            secrets,
            [
                "TXhKclpYa2lPaUkxTmpkMWFtSm1aVFExTnlKOS1hdTI6",
                "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2"
            ]
        );
    }
}
