//! The HTTP front door: the accept loop, per-connection tasks (so a fault can drop a connection
//! without answering), request counting, request IDs, faults, authentication, the `User-Agent`
//! check and the rate limit, in that order, before the router sees a request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower_service::Service as _;

use crate::faults::{FaultState, Verdict};
use crate::rate_limit::RateLimiter;
use crate::routes::ApiError;
use crate::seed::Fixtures;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) fixtures: Arc<Fixtures>,
    pub(crate) faults: FaultState,
    pub(crate) rate_limiter: RateLimiter,
    pub(crate) counts: RequestCounts,
    pub(crate) max_body_bytes: usize,
    /// `host:port` to build URLs with when a request's `Host` is missing or unusable.
    pub(crate) fallback_host: String,
    pub(crate) request_ids: RequestIds,
    /// Every resource of the spec.
    pub(crate) engine: crate::engine::Engine,
    /// The drift rules in force (`--drift`).
    pub(crate) drift: crate::drift::Drift,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("api_key", &"<redacted>")
            .field("fallback_host", &self.fallback_host)
            .finish_non_exhaustive()
    }
}

/// Request IDs: a counter, mixed with the seed so two fakes do not hand out the same IDs.
#[derive(Debug)]
pub(crate) struct RequestIds {
    next: AtomicU64,
    salt: u64,
}

impl RequestIds {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            next: AtomicU64::new(0),
            salt: crate::rng::SplitMix64::new(seed ^ 0x1D1D_1D1D).next_u64(),
        }
    }

    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mixed = crate::rng::SplitMix64::new(n ^ self.salt).next_u64();
        let text = format!("{mixed:016x}{n:016x}");
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("0"))
    }
}

/// The current UNIX time in seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// How many requests arrived, in all and per method and literal path.
#[derive(Debug, Default)]
pub(crate) struct RequestCounts {
    total: AtomicU64,
    by_path: Mutex<HashMap<Method, HashMap<Box<str>, u64>>>,
}

impl RequestCounts {
    fn record(&self, method: &Method, path: &str) {
        self.total.fetch_add(1, Ordering::SeqCst);
        let mut by_path = self
            .by_path
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let paths = by_path.entry(method.clone()).or_default();
        match paths.get_mut(path) {
            Some(count) => *count += 1,
            None => {
                paths.insert(path.into(), 1);
            }
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    /// Requests with this method to this path, where the path is either literal
    /// (`/v1/attendees/5`) or a template whose `{...}` segments match any one segment.
    pub(crate) fn to(&self, method: &str, path: &str) -> u64 {
        let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
            return 0;
        };
        let by_path = self
            .by_path
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(paths) = by_path.get(&method) else {
            return 0;
        };
        if !path.contains('{') {
            return paths.get(path).copied().unwrap_or(0);
        }
        paths
            .iter()
            .filter(|(literal, _)| matches_template(literal, path))
            .map(|(_, count)| count)
            .sum()
    }
}

fn matches_template(literal: &str, template: &str) -> bool {
    let (mut literal, mut template) = (literal.split('/'), template.split('/'));
    loop {
        match (literal.next(), template.next()) {
            (None, None) => return true,
            (Some(l), Some(t))
                if l == t || (t.starts_with('{') && t.ends_with('}') && !l.is_empty()) => {}
            _ => return false,
        }
    }
}

/// Runs the accept loop until `shutdown` turns true (or its sender goes away).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    router: Router,
    shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, shared.clone(), router.clone(), shutdown.clone()));
                }
                // Out of file descriptors or a connection reset before accept: wait and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            () = stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

async fn connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    // Small answers on keep-alive connections should not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let dropper = Arc::new(Notify::new());
    let service = {
        let dropper = dropper.clone();
        hyper::service::service_fn(move |request| {
            front_door(shared.clone(), router.clone(), dropper.clone(), request)
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        // Returning drops the connection, which closes the socket without an answer.
        _ = dropper.notified() => {}
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
        }
    }
}

/// Resolves once the server is told to stop, or its handle is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

async fn front_door(
    shared: Arc<Shared>,
    mut router: Router,
    dropper: Arc<Notify>,
    request: Request<Incoming>,
) -> Result<Response, Infallible> {
    shared.counts.record(request.method(), request.uri().path());
    let request_id = shared.request_ids.next();
    let faults = shared.faults.current();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let mut response = match shared.faults.verdict(&faults) {
        Verdict::Drop => {
            dropper.notify_one();
            return std::future::pending().await;
        }
        Verdict::RateLimited => rate_limited(reset_after(Duration::from_secs(1))),
        Verdict::ServerError(503) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
        }
        Verdict::ServerError(_) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                .into_response()
        }
        Verdict::Handle { truncate } => {
            let route = (!shared.drift.is_empty()).then(|| {
                (
                    request.method().to_string(),
                    request.uri().path().to_owned(),
                )
            });
            let mut response = match refusal(&shared, request.headers()) {
                Some(refusal) => refusal,
                None => match router.call(request.map(Body::new)).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                },
            };
            if let Some((method, path)) = route {
                response = drifted(&shared.drift, &method, &path, response).await;
            }
            if truncate {
                truncated(response).await
            } else {
                response
            }
        }
    };
    response.headers_mut().insert("x-request-id", request_id);
    Ok(response)
}

/// A successful answer changed by the drift rules for its route.
async fn drifted(
    drift: &crate::drift::Drift,
    method: &str,
    path: &str,
    response: Response,
) -> Response {
    let rules: Vec<_> = drift.rules_for(method, path).collect();
    if rules.is_empty() || !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut json) => {
            crate::drift::apply(&rules, &mut json);
            Bytes::from(serde_json::to_vec(&json).unwrap_or_default())
        }
        Err(_) => bytes,
    };
    if let Some(status) = rules.iter().rev().find_map(|r| r.status)
        && let Ok(status) = StatusCode::from_u16(status)
    {
        parts.status = status;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The answer refusing a request: authentication first, then the `User-Agent`, then the rate
/// limit; `None` lets the request through.
fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if !authorised(&shared.api_key, headers) {
        let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Cliniko\""),
        );
        return Some(response);
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_vendor_user_agent(user_agent) {
        return Some(
            ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden: the User-Agent header must name your app and a contact email, \
             as in `Really helpful app (devs@helpfulapp.com)`",
            )
            .into_response(),
        );
    }
    shared
        .rate_limiter
        .admit(Instant::now())
        .err()
        .map(|wait| rate_limited(reset_after(wait)))
}

/// The UNIX second by which `wait` from now has passed: `X-RateLimit-Reset` is in whole seconds,
/// so it is rounded up, never promising a reset before it happens.
fn reset_after(wait: Duration) -> u64 {
    let at = SystemTime::now() + wait;
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    since_epoch.as_secs() + u64::from(since_epoch.subsec_nanos() > 0)
}

fn authorised(api_key: &str, headers: &HeaderMap) -> bool {
    let Some(credentials) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials.trim()) else {
        return false;
    };
    // The key is the user name; Cliniko's password is empty, and any password is ignored here.
    let user = decoded.split(|b| *b == b':').next().unwrap_or_default();
    !api_key.is_empty() && user == api_key.as_bytes()
}

/// Whether a `User-Agent` has the form `Name (email)`: whether it matches the spec's pattern.
pub(crate) fn is_vendor_user_agent(text: &str) -> bool {
    static PATTERN: LazyLock<regress::Regex> = LazyLock::new(|| {
        regress::Regex::new(crate::USER_AGENT_PATTERN).expect("the pattern compiles")
    });
    PATTERN.find(text).is_some()
}

fn rate_limited(reset: u64) -> Response {
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    response
        .headers_mut()
        .insert("x-ratelimit-reset", HeaderValue::from(reset));
    response
}

/// The same answer, with its full `Content-Length`, but a body that stops halfway and then
/// fails, so the client sees the connection end mid-JSON.
async fn truncated(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, Body::empty());
    };
    let full = collected.to_bytes();
    if full.is_empty() {
        // Nothing to cut short (a 204, say), and a 204 must not carry a Content-Length.
        return Response::from_parts(parts, Body::from(full));
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    let half = full.slice(..full.len() / 2);
    let chunks = futures::stream::unfold(Some(half), |state| async move {
        match state {
            Some(half) => Some((Ok::<Bytes, std::io::Error>(half), None)),
            None => {
                // Give the half a moment to leave the socket before the connection is cut.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((
                    Err(std::io::Error::other("body cut short by fault injection")),
                    None,
                ))
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_follow_the_specs_pattern() {
        for good in [
            "Really helpful app (devs@helpfulapp.com)",
            "x (a@b.c)",
            "My app v2 (me+x@mail.example.org)",
        ] {
            assert!(is_vendor_user_agent(good), "{good} was refused");
        }
        for bad in [
            "",
            "curl/8.0",
            "app (devs@helpfulapp)",
            " app (a@b.c)",
            "(a@b.c)",
            "app (a b@c.d)",
            "app (@b.c)",
            "app (a@.c)x",
        ] {
            assert!(!is_vendor_user_agent(bad), "{bad} was accepted");
        }
    }

    #[test]
    fn templates_match_one_segment_per_placeholder() {
        assert!(matches_template("/v1/attendees/5", "/v1/attendees/{id}"));
        assert!(!matches_template(
            "/v1/attendees/5/archive",
            "/v1/attendees/{id}"
        ));
        assert!(!matches_template("/v1/attendees", "/v1/attendees/{id}"));
    }
}
