//! What happens around each request: the optional client-side rate limiter, waiting out a 429
//! until `X-RateLimit-Reset`, and retrying idempotent requests after a 5xx or a lost connection.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use reqwest::{Method, Request, Response, StatusCode};

use crate::error::BufferedBody;

/// The header in which Cliniko names the UNIX second at which its rate limit resets.
const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// The most jitter added to a wait for the rate limit to reset, so that clients sharing a key do
/// not all come back in the same instant.
const RESET_JITTER: Duration = Duration::from_millis(250);

/// How often, and how patiently, requests are tried again.
///
/// Every request is tried again after a 429 (Cliniko did not act on it) and when the connection
/// could not even be opened. After a 5xx, reads, updates, cancels and archives are tried again, but
/// never a create (`POST /attendees`). When the answer is lost after the request went out (a
/// dropped connection, a body cut short, a timeout), only reads and updates are tried again: a
/// repeated cancel or archive would be refused as already done, and a repeated create could add
/// the patient twice, so those errors are returned for the caller to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_rate_limit_waits: u32,
    max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_rate_limit_waits: 3,
            max_rate_limit_wait: Duration::from_secs(65),
        }
    }
}

impl RetryPolicy {
    /// No retries and no waiting out a 429: every failure is returned at once.
    pub fn never() -> Self {
        Self {
            max_retries: 0,
            max_rate_limit_waits: 0,
            ..Self::default()
        }
    }

    /// How many times an idempotent request is retried after a 5xx or a connection failure
    /// (default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The backoff before the first retry (default 200 ms); it doubles with each retry, up to
    /// `max`, and each wait is drawn at random below it ("full jitter").
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// How many times one request waits for the rate limit to reset before
    /// [`Error::RateLimited`](crate::Error::RateLimited) is returned (default 3).
    pub fn max_rate_limit_waits(mut self, waits: u32) -> Self {
        self.max_rate_limit_waits = waits;
        self
    }

    /// The longest wait for a reset that the client accepts (default 65 s); a reset further away
    /// is returned as [`Error::RateLimited`](crate::Error::RateLimited) at once.
    pub fn max_rate_limit_wait(mut self, wait: Duration) -> Self {
        self.max_rate_limit_wait = wait;
        self
    }

    /// The wait before retry number `retry` (counted from 0): full jitter below an exponential cap.
    fn backoff_before(&self, retry: u32) -> Duration {
        let cap = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        cap.mul_f64(fastrand::f64())
    }
}

/// A client-side limit on how fast requests leave, shared by every clone of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_minute: NonZeroU32,
}

impl RateLimit {
    /// Cliniko's own limit: 200 requests per minute per user.
    pub const CLINIKO: Self = Self {
        per_minute: NonZeroU32::new(200).expect("200 is not zero"),
    };

    /// At most `requests` per minute, in bursts of up to `requests`.
    pub fn per_minute(requests: NonZeroU32) -> Self {
        Self {
            per_minute: requests,
        }
    }
}

/// The client's request policy: what the `ClientHooks` implementation of [`Client`](crate::Client)
/// applies to every request. Built by [`ClientBuilder`](crate::ClientBuilder).
#[derive(Debug, Clone)]
pub struct RequestPolicy {
    retry: RetryPolicy,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
}

/// What one attempt came back with.
enum Attempt {
    /// A whole response, its body already read.
    Answered(Response),
    /// No response: the connection could not be opened.
    NotSent(reqwest::Error),
    /// The request may have reached Cliniko, but the answer was lost or cut short.
    Lost(reqwest::Error),
}

impl RequestPolicy {
    pub(crate) fn new(retry: RetryPolicy, rate_limit: Option<RateLimit>) -> Self {
        Self {
            retry,
            limiter: rate_limit
                .map(|limit| Arc::new(RateLimiter::direct(Quota::per_minute(limit.per_minute)))),
        }
    }

    /// The retry policy in force.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sends `request` under this policy and returns the final response with its body read.
    ///
    /// `operation` is the spec's operation (progenitor's name for it); it decides whether the
    /// request may be repeated after Cliniko may have seen it.
    pub(crate) async fn execute(
        &self,
        http: &reqwest::Client,
        request: Request,
        operation: &'static str,
    ) -> reqwest::Result<Response> {
        let repeat = Repeat::of(request.method(), operation);
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let mut retries = 0;
        let mut rate_limit_waits = 0;
        let mut pending = request;
        loop {
            let spare = pending.try_clone();
            if let Some(limiter) = &self.limiter {
                limiter.until_ready().await;
            }
            let attempt = send(http, pending).await;
            let wait = match &attempt {
                Attempt::Answered(response)
                    if response.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    let wait = wait_for_reset(response.headers());
                    (rate_limit_waits < self.retry.max_rate_limit_waits
                        && wait <= self.retry.max_rate_limit_wait)
                        .then(|| {
                            rate_limit_waits += 1;
                            wait + RESET_JITTER.mul_f64(fastrand::f64())
                        })
                }
                Attempt::Answered(response) if response.status().is_server_error() => {
                    (repeat != Repeat::OnlyIfUnseen && retries < self.retry.max_retries)
                        .then(|| self.retry.backoff_before(retries))
                }
                Attempt::Answered(_) => None,
                Attempt::NotSent(_) => {
                    (retries < self.retry.max_retries).then(|| self.retry.backoff_before(retries))
                }
                Attempt::Lost(_) => (repeat == Repeat::Always && retries < self.retry.max_retries)
                    .then(|| self.retry.backoff_before(retries)),
            };
            match (wait, spare) {
                (Some(wait), Some(spare)) => {
                    let why = match &attempt {
                        Attempt::Answered(response) => response.status().to_string(),
                        Attempt::NotSent(error) | Attempt::Lost(error) => error.to_string(),
                    };
                    if !matches!(&attempt, Attempt::Answered(r) if r.status() == StatusCode::TOO_MANY_REQUESTS)
                    {
                        retries += 1;
                    }
                    tracing::debug!(%method, path, operation, why, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    pending = spare;
                }
                _ => {
                    return match attempt {
                        Attempt::Answered(response) => {
                            tracing::trace!(%method, path, operation, status = response.status().as_u16(), "answered");
                            Ok(response)
                        }
                        Attempt::NotSent(error) | Attempt::Lost(error) => {
                            tracing::debug!(%method, path, operation, error = %error, "failed");
                            Err(error)
                        }
                    };
                }
            }
        }
    }
}

/// One attempt: sends the request and reads the whole body, so that a body cut short is seen
/// here, where the request can still be retried, rather than in the generated code.
async fn send(http: &reqwest::Client, request: Request) -> Attempt {
    let response = match http.execute(request).await {
        Ok(response) => response,
        Err(error) if error.is_connect() => return Attempt::NotSent(error),
        Err(error) => return Attempt::Lost(error),
    };
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => return Attempt::Lost(error),
    };
    let mut rebuilt = http::Response::new(reqwest::Body::from(body.clone()));
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    // Kept for the error path: a status the generated code does not expect (even a 2xx) reaches
    // `Error::from` as a response whose body can no longer be read.
    rebuilt.extensions_mut().insert(BufferedBody(body));
    Attempt::Answered(Response::from(rebuilt))
}

/// When a request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads, and updates that set the same values again: any time.
    Always,
    /// Cancels, archives and deletes: the state converges, but a repeat after one that went through
    /// is refused (already cancelled, not found), so not once the request may have been acted on.
    UnlessAnswerLost,
    /// Creates: only when Cliniko is known not to have seen the request.
    OnlyIfUnseen,
}

impl Repeat {
    fn of(method: &Method, operation: &str) -> Self {
        match *method {
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT => Self::Always,
            Method::PATCH if operation == "update_attendee" => Self::Always,
            Method::DELETE => Self::UnlessAnswerLost,
            _ if matches!(operation, "cancel_attendee" | "archive_attendee") => {
                Self::UnlessAnswerLost
            }
            _ => Self::OnlyIfUnseen,
        }
    }
}

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

/// How long until the rate limit resets; a second when Cliniko did not say.
fn wait_for_reset(headers: &HeaderMap) -> Duration {
    let Some(reset) = rate_limit_reset(headers) else {
        return Duration::from_secs(1);
    };
    let reset = UNIX_EPOCH + Duration::from_secs(reset.timestamp().max(0).unsigned_abs());
    reset
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn each_operation_has_its_repeat_rule() {
        assert_eq!(Repeat::of(&Method::GET, "list_attendees"), Repeat::Always);
        assert_eq!(
            Repeat::of(&Method::GET, "list_attendees_next_page"),
            Repeat::Always
        );
        assert_eq!(
            Repeat::of(&Method::PUT, "update_attendee_via_put"),
            Repeat::Always
        );
        assert_eq!(
            Repeat::of(&Method::PATCH, "update_attendee"),
            Repeat::Always
        );
        assert_eq!(
            Repeat::of(&Method::DELETE, "delete_attendee"),
            Repeat::UnlessAnswerLost
        );
        assert_eq!(
            Repeat::of(&Method::PATCH, "cancel_attendee"),
            Repeat::UnlessAnswerLost
        );
        assert_eq!(
            Repeat::of(&Method::POST, "archive_attendee"),
            Repeat::UnlessAnswerLost
        );
        assert_eq!(
            Repeat::of(&Method::POST, "create_attendee"),
            Repeat::OnlyIfUnseen
        );
    }

    #[test]
    fn backoff_stays_under_its_exponential_cap() {
        let policy =
            RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_secs(1));
        for retry in 0..10 {
            let cap = Duration::from_millis(100 * 2u64.pow(retry)).min(Duration::from_secs(1));
            assert!(policy.backoff_before(retry) <= cap);
        }
    }

    #[test]
    fn the_reset_header_is_read_as_unix_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(rate_limit_reset(&headers), None);
        assert_eq!(wait_for_reset(&headers), Duration::from_secs(1));
        headers.insert(RATE_LIMIT_RESET, HeaderValue::from_static("1700000060"));
        assert_eq!(
            rate_limit_reset(&headers).map(|at| at.timestamp()),
            Some(1_700_000_060)
        );
        // A reset in the past means no wait at all.
        assert_eq!(wait_for_reset(&headers), Duration::ZERO);
        headers.insert(RATE_LIMIT_RESET, HeaderValue::from_static("soon"));
        assert_eq!(rate_limit_reset(&headers), None);
    }

    #[test]
    fn the_limiter_allows_a_minute_of_requests_at_once_and_is_shared_by_clones() {
        let policy = RequestPolicy::new(
            RetryPolicy::default(),
            Some(RateLimit::per_minute(NonZeroU32::new(3).expect("three"))),
        );
        let copy = policy.clone();
        let limiter = policy.limiter.as_ref().expect("a limiter");
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_ok());
        let shared = copy.limiter.as_ref().expect("a limiter");
        assert!(shared.check().is_ok(), "the clone draws on the same three");
        assert!(
            limiter.check().is_err(),
            "the fourth request of the minute waits"
        );
        assert!(
            RequestPolicy::new(RetryPolicy::default(), None)
                .limiter
                .is_none()
        );
    }

    #[test]
    fn never_retries_nothing() {
        let policy = RetryPolicy::never();
        assert_eq!(policy.max_retries, 0);
        assert_eq!(policy.max_rate_limit_waits, 0);
    }
}
