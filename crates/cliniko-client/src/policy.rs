//! The request policy every operation goes through: authentication, pacing to a rate limit,
//! waiting out a 429 until `X-RateLimit-Reset` by the server's clock, and retrying only what cannot
//! change the outcome.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use cliniko_types::facts::{self, Operation, Retry};
use reqwest::header::{AUTHORIZATION, DATE, HeaderMap, HeaderValue};
use reqwest::{Request, Response, StatusCode, Url};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::response::{BufferedBody, RequestPath, rate_limit_reset};

/// The most jitter added to a wait for the rate limit to reset, so that clients sharing a key do
/// not all come back in the same instant.
const RESET_JITTER: Duration = Duration::from_millis(250);

/// How often, and how patiently, requests are tried again.
///
/// Retries never change the outcome of a call. Every request is sent again after a 429 (Cliniko
/// did not act on it) and when the connection could not even be opened. After a 5xx, or when the
/// answer is lost once the request went out, only the operations the spec marks as safe to repeat
/// (reads and updates, [`Retry::Always`]) are sent again; a create, cancel, archive or delete is
/// not, and the caller gets [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown).
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

    /// How many times a request is retried after a 5xx or a connection failure, where retrying
    /// is safe (default 3).
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
    /// [`ErrorKind::RateLimited`](crate::ErrorKind::RateLimited) is returned (default 3).
    pub fn max_rate_limit_waits(mut self, waits: u32) -> Self {
        self.max_rate_limit_waits = waits;
        self
    }

    /// The longest wait for a reset that the client accepts (default 65 s); a reset further away
    /// is returned as [`ErrorKind::RateLimited`](crate::ErrorKind::RateLimited) at once.
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

/// A client-side limit: at most `requests` requests start in any window of `window`, counted
/// from the very first request and shared by every clone of the client and every task using it.
///
/// It keeps a log of the last `requests` start times (a sliding-window log), so unlike a token
/// bucket it never lets a full burst and its refill through in the same window.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use cliniko_client::RateLimit;
///
/// assert_eq!(RateLimit::CLINIKO.requests(), 200);
/// assert_eq!(RateLimit::CLINIKO.window(), Duration::from_secs(60));
/// let scaled = RateLimit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(2));
/// assert_eq!(scaled.window(), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    requests: NonZeroU32,
    window: Duration,
}

impl RateLimit {
    /// Cliniko's own limit: 200 requests in any minute, per user.
    pub const CLINIKO: Self = Self {
        requests: NonZeroU32::new(facts::RATE_LIMIT_REQUESTS).expect("the limit is not zero"),
        window: Duration::from_secs(facts::RATE_LIMIT_WINDOW_SECONDS as u64),
    };

    /// At most `requests` in any 60 seconds.
    pub fn per_minute(requests: NonZeroU32) -> Self {
        Self::new(requests, Duration::from_secs(60))
    }

    /// At most `requests` in any `window`: a shorter window runs tests against a scaled fake in
    /// seconds. A zero window is taken as one millisecond.
    pub fn new(requests: NonZeroU32, window: Duration) -> Self {
        Self {
            requests,
            window: window.max(Duration::from_millis(1)),
        }
    }

    /// How many requests may start in one window.
    pub fn requests(&self) -> u32 {
        self.requests.get()
    }

    /// The window's length.
    pub fn window(&self) -> Duration {
        self.window
    }
}

/// When each of the last `requests` requests counts as sent, shared by clones of a client.
///
/// A request is booked at its start, and moved to when its answer came back once it has one:
/// the server counted it somewhere in between, and a later arrival than the start (a slow
/// connection, a busy machine) would otherwise let the request `requests` after it reach the
/// server less than a window later, and be answered 429.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    limit: RateLimit,
    log: Mutex<Log>,
}

#[derive(Debug)]
struct Log {
    /// The booked times of the last `requests` requests, oldest booking first.
    times: VecDeque<Instant>,
    /// How many bookings have left `times`: booking number `n` is `times[n - dropped]`.
    dropped: u64,
}

/// A booking in the window, to move to when its answer came back.
#[derive(Debug, Clone, Copy)]
struct Booking(u64);

impl SlidingWindow {
    fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            log: Mutex::new(Log {
                times: VecDeque::with_capacity(limit.requests() as usize),
                dropped: 0,
            }),
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Books the earliest start, no sooner than `now`, that keeps every window within the limit,
    /// and returns it. Starts are booked in order, so waiting tasks go first come, first served.
    #[cfg(test)]
    fn reserve(&self, now: Instant) -> Instant {
        self.book(now).0
    }

    fn book(&self, now: Instant) -> (Instant, Booking) {
        let mut log = self.log();
        let limit = self.limit.requests() as usize;
        let mut start = log.times.back().map_or(now, |last| now.max(*last));
        if log.times.len() >= limit {
            // The earliest of the last `limit` requests must have left the window before this
            // one starts (times moved to an answer need not be in order).
            if let Some(earliest) = log.times.iter().min() {
                start = start.max(*earliest + self.limit.window);
            }
        }
        log.times.push_back(start);
        while log.times.len() > limit {
            log.times.pop_front();
            log.dropped += 1;
        }
        let booking = Booking(log.dropped + log.times.len() as u64 - 1);
        (start, booking)
    }

    /// Moves a booking to `answered_at`, when its answer (or failure) came back.
    fn answered(&self, booking: Booking, answered_at: Instant) {
        let mut log = self.log();
        let Some(index) = booking.0.checked_sub(log.dropped) else {
            return;
        };
        if let Some(time) = log.times.get_mut(index as usize) {
            *time = (*time).max(answered_at);
        }
    }

    /// Waits for this request's turn and returns how long that took, and its booking.
    async fn acquire(&self, activity: &Activity) -> (Duration, Booking) {
        let now = Instant::now();
        let (start, booking) = self.book(now);
        if start > now {
            activity
                .wait_until(
                    start,
                    Waiting::Pacing {
                        until: start.into_std(),
                    },
                )
                .await;
        }
        (start - now, booking)
    }
}

/// What a client's requests are waiting for at this moment: see
/// [`Client::waiting`](crate::Client::waiting). A progress display polls it to show a countdown
/// rather than a frozen screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Waiting {
    /// Cliniko answered 429: the request is sent again at `until`, after its rate limit resets.
    RateLimitReset {
        /// When the request goes again.
        until: std::time::Instant,
    },
    /// The client's own rate limit holds the request back until `until`.
    Pacing {
        /// When the request goes.
        until: std::time::Instant,
    },
    /// A 5xx answer or a failed connection: the request is sent again at `until`.
    Retry {
        /// When the request goes again.
        until: std::time::Instant,
        /// Which retry it will be (from 1).
        retry: u32,
    },
}

impl Waiting {
    /// When the wait ends.
    pub fn until(&self) -> std::time::Instant {
        match *self {
            Self::RateLimitReset { until } | Self::Pacing { until } | Self::Retry { until, .. } => {
                until
            }
        }
    }
}

/// The wait under way, shared by a client's clones; written only when a request waits.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    waiting: Mutex<Option<Waiting>>,
}

impl Activity {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Waiting>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sleeps until `deadline`, showing `waiting` meanwhile.
    async fn wait_until(&self, deadline: Instant, waiting: Waiting) {
        *self.slot() = Some(waiting);
        tokio::time::sleep_until(deadline).await;
        let mut slot = self.slot();
        if *slot == Some(waiting) {
            *slot = None;
        }
    }

    pub(crate) fn current(&self) -> Option<Waiting> {
        *self.slot()
    }
}

/// How the policy got a response: the waits and retries along the way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Waits {
    /// Time spent waiting for the client's own rate limit.
    pub(crate) pacing: Duration,
    /// How many 429 answers were waited out.
    pub(crate) rate_limited: u32,
    /// Time spent waiting for Cliniko's rate limit to reset.
    pub(crate) rate_limit_wait: Duration,
    /// How many retries after a 5xx or a connection failure.
    pub(crate) retries: u32,
}

/// The client's request policy: what the `ClientHooks` implementation of [`Client`](crate::Client)
/// applies to every request. Built by [`ClientBuilder`](crate::ClientBuilder). Its clones share the
/// rate limit.
#[derive(Clone)]
pub struct RequestPolicy {
    retry: RetryPolicy,
    limiter: Option<Arc<SlidingWindow>>,
    /// `Authorization`, marked sensitive; added to each request here rather than to the HTTP
    /// client's default headers, so that no reqwest client this crate hands out carries the key.
    authorization: HeaderValue,
    /// The configured base URL: the key goes only to its origin.
    base_url: Url,
    /// The wait under way, if any.
    activity: Arc<Activity>,
}

impl std::fmt::Debug for RequestPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestPolicy")
            .field("retry", &self.retry)
            .field(
                "rate_limit",
                &self.limiter.as_ref().map(|limiter| limiter.limit),
            )
            .finish_non_exhaustive()
    }
}

/// What one attempt came back with.
enum Attempt {
    /// A whole response, its body already read.
    Answered(Response),
    /// No response: the connection could not be opened, so Cliniko never saw the request.
    NotSent(reqwest::Error),
    /// The request may have reached Cliniko, but the answer was lost or cut short.
    Lost(reqwest::Error),
}

impl RequestPolicy {
    pub(crate) fn new(
        retry: RetryPolicy,
        rate_limit: Option<RateLimit>,
        authorization: HeaderValue,
        base_url: Url,
    ) -> Self {
        Self {
            retry,
            limiter: rate_limit.map(|limit| Arc::new(SlidingWindow::new(limit))),
            authorization,
            base_url,
            activity: Arc::default(),
        }
    }

    /// What a request of this client (or a clone) is waiting for now, if anything.
    pub(crate) fn waiting(&self) -> Option<Waiting> {
        self.activity.current()
    }

    /// The retry policy in force.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The client-side rate limit in force, if any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.limiter.as_ref().map(|limiter| limiter.limit)
    }

    /// Sends `request` for `operation` under this policy, and returns the final response with its
    /// body read (kept in its extensions for the error path), and the waits along the way.
    pub(crate) async fn execute(
        &self,
        http: &reqwest::Client,
        mut request: Request,
        operation: Option<&'static Operation>,
    ) -> (reqwest::Result<Response>, Waits) {
        // The key goes only to the configured origin, whatever URL a request was built with.
        if request.url().origin() == self.base_url.origin() {
            request
                .headers_mut()
                .insert(AUTHORIZATION, self.authorization.clone());
        }
        let retry = operation.map_or(Retry::OnlyIfNotSent, |operation| operation.retry);
        let operation_id = operation.map_or("unknown", |operation| operation.id);
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let mut waits = Waits::default();
        let mut pending = request;
        let mut attempt_number = 0u32;
        loop {
            attempt_number += 1;
            let spare = pending.try_clone();
            let mut booking = None;
            if let Some(limiter) = &self.limiter {
                let (waited, booked) = limiter.acquire(&self.activity).await;
                booking = Some(booked);
                if !waited.is_zero() {
                    tracing::debug!(
                        operation = operation_id,
                        %method,
                        path,
                        wait_ms = waited.as_millis() as u64,
                        "waiting for the client's rate limit"
                    );
                }
                waits.pacing += waited;
            }
            let span = tracing::info_span!(
                "cliniko.request",
                operation = operation_id,
                %method,
                path,
                attempt = attempt_number,
                status = tracing::field::Empty,
                request_id = tracing::field::Empty,
                elapsed_ms = tracing::field::Empty,
            );
            let started = Instant::now();
            let attempt = send(http, pending, &path).instrument(span.clone()).await;
            if let (Some(limiter), Some(booking)) = (&self.limiter, booking) {
                limiter.answered(booking, Instant::now());
            }
            span.record("elapsed_ms", started.elapsed().as_millis() as u64);
            if let Attempt::Answered(response) = &attempt {
                span.record("status", response.status().as_u16());
                if let Some(id) = response
                    .headers()
                    .get("x-request-id")
                    .and_then(|value| value.to_str().ok())
                {
                    span.record("request_id", id);
                }
            }
            let safe_to_repeat = matches!(retry, Retry::Always);
            let wait = match &attempt {
                Attempt::Answered(response)
                    if response.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    let wait = wait_for_reset(response.headers(), SystemTime::now());
                    (waits.rate_limited < self.retry.max_rate_limit_waits
                        && wait <= self.retry.max_rate_limit_wait)
                        .then(|| wait + RESET_JITTER.mul_f64(fastrand::f64()))
                }
                Attempt::Answered(response) if response.status().is_server_error() => {
                    (safe_to_repeat && waits.retries < self.retry.max_retries)
                        .then(|| self.retry.backoff_before(waits.retries))
                }
                Attempt::Answered(_) => None,
                Attempt::NotSent(_) => (waits.retries < self.retry.max_retries)
                    .then(|| self.retry.backoff_before(waits.retries)),
                Attempt::Lost(_) => (safe_to_repeat && waits.retries < self.retry.max_retries)
                    .then(|| self.retry.backoff_before(waits.retries)),
            };
            let (Some(wait), Some(spare)) = (wait, spare) else {
                return match attempt {
                    Attempt::Answered(response) => (Ok(response), waits),
                    Attempt::NotSent(error) | Attempt::Lost(error) => {
                        tracing::debug!(operation = operation_id, %method, path, error = %error, "failed");
                        (Err(error), waits)
                    }
                };
            };
            match &attempt {
                Attempt::Answered(response)
                    if response.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    waits.rate_limited += 1;
                    waits.rate_limit_wait += wait;
                    tracing::debug!(
                        operation = operation_id,
                        %method,
                        path,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited: waiting for the reset"
                    );
                }
                attempt => {
                    waits.retries += 1;
                    let why = match attempt {
                        Attempt::Answered(response) => response.status().to_string(),
                        Attempt::NotSent(error) | Attempt::Lost(error) => error.to_string(),
                    };
                    tracing::debug!(
                        operation = operation_id,
                        %method,
                        path,
                        why,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                }
            }
            let deadline = Instant::now() + wait;
            let waiting = match &attempt {
                Attempt::Answered(response)
                    if response.status() == StatusCode::TOO_MANY_REQUESTS =>
                {
                    Waiting::RateLimitReset {
                        until: deadline.into_std(),
                    }
                }
                _ => Waiting::Retry {
                    until: deadline.into_std(),
                    retry: waits.retries,
                },
            };
            self.activity.wait_until(deadline, waiting).await;
            pending = spare;
        }
    }
}

/// One attempt: sends the request and reads the whole body, so that a body cut short is seen
/// here, where the request can still be retried, rather than in the generated code.
async fn send(http: &reqwest::Client, request: Request, path: &str) -> Attempt {
    let response = match http.execute(request).await {
        Ok(response) => response,
        Err(error) if error.is_connect() => return Attempt::NotSent(error),
        Err(error) => return Attempt::Lost(error),
    };
    // The head is taken apart rather than cloned; the body is read whole.
    let (mut head, body) = http::Response::from(response).into_parts();
    let body = match http_body_util::BodyExt::collect(body).await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Attempt::Lost(error),
    };
    // Kept for the error path: the generated code reads the body of the statuses it expects, and
    // an error needs the body and the path (for the attendee's ID) whatever the status was.
    head.extensions.insert(BufferedBody(body.clone()));
    head.extensions.insert(RequestPath(path.into()));
    Attempt::Answered(Response::from(http::Response::from_parts(
        head,
        reqwest::Body::from(body),
    )))
}

/// The server's clock when it answered: the response's `Date` header (RFC 9110's IMF-fixdate).
pub(crate) fn server_date(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let text = headers.get(DATE)?.to_str().ok()?;
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

/// How long until the rate limit resets, measured on the server's clock: `X-RateLimit-Reset`
/// less the response's `Date` (the local clock may be far off). Without `Date`, the local clock
/// stands in; without a reset, a second.
fn wait_for_reset(headers: &HeaderMap, local_now: SystemTime) -> Duration {
    let Some(reset) = rate_limit_reset(headers) else {
        return Duration::from_secs(1);
    };
    let now = server_date(headers).unwrap_or_else(|| DateTime::<Utc>::from(local_now));
    (reset - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::RATE_LIMIT_RESET;

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
    fn the_reset_is_measured_against_the_servers_date() {
        let mut headers = HeaderMap::new();
        let local = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rate_limit_reset(&headers), None);
        assert_eq!(wait_for_reset(&headers, local), Duration::from_secs(1));
        headers.insert(RATE_LIMIT_RESET, HeaderValue::from_static("1000000003"));
        // No Date: the local clock, on which the reset is long past.
        assert_eq!(wait_for_reset(&headers, local), Duration::ZERO);
        // 1000000000 is Sun, 09 Sep 2001 01:46:40 GMT: three seconds before the reset.
        headers.insert(
            DATE,
            HeaderValue::from_static("Sun, 09 Sep 2001 01:46:40 GMT"),
        );
        assert_eq!(wait_for_reset(&headers, local), Duration::from_secs(3));
        headers.insert(RATE_LIMIT_RESET, HeaderValue::from_static("soon"));
        assert_eq!(rate_limit_reset(&headers), None);
    }

    fn window(requests: u32, window: Duration) -> SlidingWindow {
        SlidingWindow::new(RateLimit::new(
            NonZeroU32::new(requests).expect("not zero"),
            window,
        ))
    }

    /// A request counts from when its answer came back: the server saw it no earlier than it
    /// started and no later than that, so a slow arrival cannot crowd the next window.
    #[test]
    fn a_booking_moves_to_its_answer() {
        let limiter = window(2, Duration::from_secs(10));
        let t0 = Instant::now();
        let (first, a) = limiter.book(t0);
        let (second, b) = limiter.book(t0);
        assert_eq!((first, second), (t0, t0));
        limiter.answered(a, t0 + Duration::from_secs(3));
        limiter.answered(b, t0 + Duration::from_secs(4));
        assert_eq!(limiter.reserve(t0), t0 + Duration::from_secs(13));
        // A booking that has left the log is ignored.
        limiter.answered(a, t0 + Duration::from_secs(100));
        assert_eq!(limiter.reserve(t0), t0 + Duration::from_secs(14));
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        let limiter = window(10, Duration::from_secs(60));
        let t0 = Instant::now();
        // Twenty-five requests asked for at once, then a few later.
        let mut starts: Vec<Instant> = (0..25).map(|_| limiter.reserve(t0)).collect();
        starts.extend((0..5).map(|i| limiter.reserve(t0 + Duration::from_secs(200 + i))));
        assert_eq!(starts[9], t0, "the first ten start at once");
        assert_eq!(
            starts[10],
            t0 + Duration::from_secs(60),
            "the eleventh waits a whole window, not six seconds"
        );
        for (i, start) in starts.iter().enumerate() {
            let in_window = starts
                .iter()
                .filter(|other| **other >= *start && **other < *start + Duration::from_secs(60))
                .count();
            assert!(
                in_window <= 10,
                "{in_window} requests in the window from request {i}"
            );
        }
    }

    #[test]
    fn the_limit_is_shared_by_clones_of_the_policy() {
        let limit = RateLimit::new(NonZeroU32::new(2).expect("two"), Duration::from_secs(5));
        let policy = RequestPolicy::new(
            RetryPolicy::default(),
            Some(limit),
            HeaderValue::from_static("Basic eDo="),
            Url::parse("https://api.au1.cliniko.com/v1").expect("a url"),
        );
        let copy = policy.clone();
        let now = Instant::now();
        let first = policy.limiter.as_ref().expect("a limiter");
        let second = copy.limiter.as_ref().expect("a limiter");
        assert_eq!(first.reserve(now), now);
        assert_eq!(second.reserve(now), now);
        assert_eq!(first.reserve(now), now + Duration::from_secs(5));
        assert_eq!(policy.rate_limit(), Some(limit));
    }

    #[test]
    fn the_documented_limit_is_the_specs() {
        assert_eq!(RateLimit::CLINIKO.requests(), facts::RATE_LIMIT_REQUESTS);
        assert_eq!(
            RateLimit::CLINIKO.window().as_secs(),
            u64::from(facts::RATE_LIMIT_WINDOW_SECONDS)
        );
    }

    #[test]
    fn never_retries_nothing() {
        let policy = RetryPolicy::never();
        assert_eq!(policy.max_retries, 0);
        assert_eq!(policy.max_rate_limit_waits, 0);
    }
}
