//! Listening and forwarding: the server, one request's trip upstream and back, and the answer's body
//! teed to the checker as it streams to the app.

use std::borrow::Cow;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt as _, Either, Full, LengthLimitError, Limited};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::recording::{Body, Headers, RecordedRequest};

use super::ProxyError;
use super::captured::{Captured, Job};
use super::config::Upstream;
use super::links::{LinkRewriter, rebase};
use super::redact::{Secrets, credentials};
use super::report::{PendingChecks, ProxyEvent, ProxyFailure};
use super::{MAX_CHECKED_BODY, MAX_REQUEST_BODY, Observer, SHUTDOWN_GRACE};
use crate::sink::redact;

pub(super) type UpstreamClient = HttpClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub(super) type ProxyBody = Either<TeeBody, Full<Bytes>>;

/// What every request handler shares.
pub(super) struct Shared {
    pub(super) client: UpstreamClient,
    pub(super) upstream: Upstream,
    /// `http://ADDR`, for answers to requests that name no usable `Host`.
    pub(super) own_origin: String,
    pub(super) jobs: mpsc::Sender<Job>,
    pub(super) sequence: AtomicUsize,
    pub(super) secrets: Secrets,
    pub(super) observer: Arc<Observer>,
    pub(super) failures: Arc<AtomicUsize>,
    /// How many answers are being read to their end after the app hung up.
    pub(super) draining: watch::Sender<usize>,
    /// The exchanges answered and not yet checked.
    pub(super) pending: watch::Sender<PendingChecks>,
    /// [`MAX_PENDING_CHECK_BYTES`], but for tests.
    pub(super) pending_budget: usize,
}

pub(super) fn upstream_client() -> Result<UpstreamClient, ProxyError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Small exchanges must not wait for Nagle's algorithm.
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(30)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .try_with_platform_verifier()
        .map_err(|error| ProxyError::Tls(error.to_string()))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(HttpClient::builder(TokioExecutor::new()).build(https))
}

pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let service = hyper::service::service_fn(move |request| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(handle(shared, request).await) }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = stopped.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Forwards one request and returns the answer to stream back.
pub(super) async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<ProxyBody> {
    let sequence = shared.sequence.fetch_add(1, Ordering::SeqCst) + 1;
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    // The request's credentials are learnt before anything about it is said, so that a key in the
    // path of the first request that sends it is redacted too.
    let (secrets, api_key) = credentials(&parts.headers);
    shared.secrets.add(&secrets);
    // Only for messages, redacted in case an app put its key in a path.
    let path = shared.redact(parts.uri.path()).into_owned();
    let base_path = &shared.upstream.base_path;
    if !is_under(parts.uri.path(), base_path) {
        shared.fail(ProxyFailure::OutsideBasePath {
            method: method.to_string(),
            path,
            base_path: base_path.clone(),
        });
        return plain(
            StatusCode::NOT_FOUND,
            format!("cliniko-conformance proxy: only {base_path} is forwarded\n"),
        );
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = format!("{}{path_and_query}", shared.upstream.origin);
    let Ok(uri) = target.parse::<Uri>() else {
        shared.fail(ProxyFailure::Request {
            method: method.to_string(),
            path,
            reason: "the request target does not make a URL on the upstream".to_owned(),
        });
        return plain(
            StatusCode::BAD_REQUEST,
            "cliniko-conformance proxy: bad request target\n",
        );
    };
    // Answers name the proxy as the app reached it, so that links work from where the app is.
    let own_origin = parts
        .headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| host.parse::<http::uri::Authority>().is_ok())
        .map_or_else(
            || shared.own_origin.clone(),
            |host| format!("http://{host}"),
        );

    let mut headers = parts.headers;
    remove_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    headers.remove(header::ACCEPT_ENCODING);

    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let too_large = error.is::<LengthLimitError>();
            shared.fail(ProxyFailure::Request {
                method: method.to_string(),
                path,
                reason: if too_large {
                    format!("its body is over {MAX_REQUEST_BODY} bytes")
                } else {
                    shared.redact(&error.to_string()).into_owned()
                },
            });
            return if too_large {
                plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "cliniko-conformance proxy: request body too large\n",
                )
            } else {
                plain(
                    StatusCode::BAD_REQUEST,
                    "cliniko-conformance proxy: the request body could not be read\n",
                )
            };
        }
    };
    let recorded_request = RecordedRequest {
        method: method.to_string(),
        url: target,
        headers: recorded_headers(&headers),
        // Read from `request_body` by the checker thread, not here before forwarding.
        body: Body::Empty,
    };
    let request_body = body.clone();

    let mut forwarded = Request::new(Full::new(body));
    *forwarded.method_mut() = method.clone();
    *forwarded.uri_mut() = uri;
    *forwarded.headers_mut() = headers;
    shared.wait_for_checks_to_catch_up().await;
    let response = match shared.client.request(forwarded).await {
        Ok(response) => response,
        Err(error) => {
            shared.fail(ProxyFailure::NoAnswer {
                method: method.to_string(),
                path,
                reason: shared.redact(&error_chain(&error)).into_owned(),
            });
            return plain(
                StatusCode::BAD_GATEWAY,
                "cliniko-conformance proxy: the upstream did not answer\n",
            );
        }
    };

    let (mut parts, upstream_body) = response.into_parts();
    let status = parts.status.as_u16();
    let response_headers = recorded_headers(&parts.headers);
    let has_body = method != Method::HEAD
        && !parts.status.is_informational()
        && parts.status != StatusCode::NO_CONTENT
        && parts.status != StatusCode::NOT_MODIFIED;
    let rewriter = (has_body && is_uncompressed_json(&parts.headers))
        .then(|| LinkRewriter::new(&shared.upstream.origin, &own_origin));
    remove_hop_by_hop(&mut parts.headers);
    if rewriter.is_some() {
        // Rewritten links change the length; the answer goes out chunked instead.
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    if let Some(location) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| rebase(value, &shared.upstream.origin, &own_origin))
        .and_then(|value| HeaderValue::from_str(&value).ok())
    {
        parts.headers.insert(header::LOCATION, location);
    }
    let expected_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_CHECKED_BODY);
    let body = TeeBody {
        inner: Some(upstream_body),
        rewriter,
        copy: Vec::with_capacity(expected_length),
        too_large: false,
        ended: false,
        draining: false,
        pending: Some(Pending {
            captured: Captured {
                sequence,
                request: recorded_request,
                request_body,
                api_key,
                status,
                headers: response_headers,
                body: Vec::new(),
            },
            path,
        }),
        shared,
    };
    Response::from_parts(parts, Either::Left(body))
}

impl Shared {
    pub(super) fn fail(&self, failure: ProxyFailure) {
        self.failures.fetch_add(1, Ordering::SeqCst);
        (self.observer)(ProxyEvent::Failed(failure));
    }

    pub(super) fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        redact(text, &self.secrets.all())
    }

    /// Backpressure: while more than [`MAX_PENDING_CHECK_BYTES`] wait for their check, a request
    /// waits too.
    pub(super) async fn wait_for_checks_to_catch_up(&self) {
        let budget = self.pending_budget;
        if self.pending.borrow().bytes <= budget {
            return;
        }
        let mut pending = self.pending.subscribe();
        let _ = pending.wait_for(|pending| pending.bytes <= budget).await;
    }

    pub(super) fn submit(&self, captured: Captured) {
        let bytes = captured.bytes();
        self.pending.send_modify(|pending| {
            pending.exchanges += 1;
            pending.bytes += bytes;
        });
        // After shutdown nobody checks any more; the exchange is dropped.
        let _ = self.jobs.send(Job::Check(Box::new(captured)));
    }
}

/// The answer as it streams to the app, with a copy of the upstream's bytes kept for the check.
pub(super) struct TeeBody {
    /// The upstream's body; `None` once handed to a task that reads it to the end.
    pub(super) inner: Option<Incoming>,
    pub(super) rewriter: Option<LinkRewriter>,
    pub(super) copy: Vec<u8>,
    pub(super) too_large: bool,
    pub(super) ended: bool,
    /// Whether this body is being read to its end after the app hung up.
    pub(super) draining: bool,
    /// The exchange to check once the answer has ended; taken when it is sent or given up.
    pub(super) pending: Option<Pending>,
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Pending {
    pub(super) captured: Captured,
    /// The request path, for failure messages (the query is left out: it may hold anything).
    pub(super) path: String,
}

impl TeeBody {
    pub(super) fn keep(&mut self, data: &[u8]) {
        if self.too_large {
            return;
        }
        if self.copy.len() + data.len() > MAX_CHECKED_BODY {
            self.too_large = true;
            self.copy = Vec::new();
        } else {
            self.copy.extend_from_slice(data);
        }
    }

    pub(super) fn complete(&mut self) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        if self.too_large {
            self.shared.fail(ProxyFailure::TooLargeToCheck {
                method: pending.captured.request.method,
                path: pending.path,
            });
            return;
        }
        pending.captured.body = std::mem::take(&mut self.copy);
        self.shared.submit(pending.captured);
    }

    pub(super) fn give_up(&mut self, reason: String) {
        if let Some(pending) = self.pending.take() {
            self.shared.fail(ProxyFailure::Incomplete {
                method: pending.captured.request.method,
                path: pending.path,
                reason,
            });
        }
    }
}

impl HttpBody for TeeBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(inner) = this.inner.as_mut().filter(|_| !this.ended) else {
                return Poll::Ready(None);
            };
            match Pin::new(inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.keep(&data);
                        let out = match &mut this.rewriter {
                            Some(rewriter) => rewriter.push(data),
                            None => data,
                        };
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Poll::Ready(Some(Err(error))) => {
                    let reason = this.shared.redact(&error_chain(&error)).into_owned();
                    this.give_up(format!("the upstream's answer broke off: {reason}"));
                    this.ended = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    let tail = this
                        .rewriter
                        .as_mut()
                        .map(LinkRewriter::finish)
                        .unwrap_or_default();
                    this.complete();
                    return Poll::Ready((!tail.is_empty()).then(|| Ok(Frame::data(tail))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        match &self.rewriter {
            Some(_) => SizeHint::default(),
            None => self
                .inner
                .as_ref()
                .map_or_else(SizeHint::default, HttpBody::size_hint),
        }
    }
}

impl Drop for TeeBody {
    fn drop(&mut self) {
        if self.pending.is_none() {
            return;
        }
        // A body hyper never had to read (a 204, an answer to HEAD) is complete as it is.
        if self.inner.as_ref().is_none_or(HttpBody::is_end_stream) {
            self.complete();
            return;
        }
        // The app stopped reading (it wanted only the status, or gave up): the upstream's answer
        // is still read to its end on a task of its own, and checked.
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !self.draining => runtime,
            _ => return self.give_up("the app hung up first".to_owned()),
        };
        let mut rest = TeeBody {
            inner: self.inner.take(),
            rewriter: None,
            copy: std::mem::take(&mut self.copy),
            too_large: self.too_large,
            ended: false,
            draining: true,
            pending: self.pending.take(),
            shared: self.shared.clone(),
        };
        self.shared.draining.send_modify(|count| *count += 1);
        let shared = self.shared.clone();
        runtime.spawn(async move {
            // Reaching the end (or an error) completes or gives up the exchange.
            while let Some(Ok(_)) = rest.frame().await {}
            drop(rest);
            shared.draining.send_modify(|count| *count -= 1);
        });
    }
}

/// Removes the headers that concern one connection only (RFC 9110, section 7.6.1), and those the
/// `Connection` header names.
pub(super) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    for name in ["keep-alive", "proxy-connection"] {
        headers.remove(name);
    }
}

pub(super) fn recorded_headers(headers: &HeaderMap) -> Headers {
    let mut out = Headers::new();
    for (name, value) in headers {
        out.append(
            name.as_str(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        );
    }
    out
}

pub(super) fn is_uncompressed_json(headers: &HeaderMap) -> bool {
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| !value.trim().eq_ignore_ascii_case("identity"));
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    !encoded && (media_type == "application/json" || media_type.ends_with("+json"))
}

/// Whether `path` is `base` or below it.
pub(super) fn is_under(path: &str, base: &str) -> bool {
    match path.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

pub(super) fn plain(status: StatusCode, text: impl Into<String>) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(text.into()))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// An error and its causes, `: `-separated.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_go() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("keep-alive", "timeout=5"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("authorization", "Basic x"),
            ("accept", "application/json"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        remove_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "authorization"]);
    }
}
