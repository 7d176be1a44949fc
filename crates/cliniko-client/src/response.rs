//! What a response carries from the request policy to the error that types it: the buffered body
//! and the path (kept in the response's extensions) and the rate limit's reset. Both `policy` and
//! `error` depend on this module, and it on neither.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

/// The header in which Cliniko names the UNIX second at which its rate limit resets.
pub(crate) const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// The whole body of a response, kept by the client's `exec` hook in the response's extensions
/// so that an error can be typed after the generated code has taken the response.
#[derive(Debug, Clone)]
pub(crate) struct BufferedBody(pub(crate) Bytes);

/// The path a response answered, kept beside [`BufferedBody`] so that an error can name the
/// attendee.
#[derive(Debug, Clone)]
pub(crate) struct RequestPath(pub(crate) Box<str>);

/// When Cliniko's rate limit resets, from `X-RateLimit-Reset` (UNIX seconds).
pub(crate) fn rate_limit_reset(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let seconds: i64 = headers
        .get(RATE_LIMIT_RESET)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    DateTime::from_timestamp(seconds, 0)
}
