//! What the client puts on the wire, judged by a scripted server that records each request's
//! bytes and arrival time: pacing to a sliding-window limit, waiting out a 429 by the server's
//! clock, following `links.next` behind a proxy, and resuming a failed stream.

use crate::client_support;

use std::num::NonZeroU32;
use std::time::Duration;

use cliniko_client::{AttendeeQuery, Client, ErrorKind, RateLimit};
use futures::TryStreamExt as _;

use client_support::{API_KEY, Scripted, USER_AGENT, attendee_list, http_answer};

fn one_page() -> Option<String> {
    Some(http_answer(200, &[], &attendee_list(1, 1, 1, None)))
}

/// The largest number of arrivals in any window of `window` that starts at an arrival.
fn busiest_window(arrivals: &[std::time::Instant], window: Duration) -> usize {
    arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|at| **at >= *start && **at < *start + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Four tasks on clones of one client share a limit of 3 requests in any 1.5 s: the 4th request
/// leaves a whole window after the 1st (a token bucket would let it go after 0.5 s), and no window
/// holds more than 3 arrivals.
#[tokio::test]
async fn the_rate_limit_is_an_exact_sliding_window_shared_by_clones() {
    let server = Scripted::start(|_, _| one_page()).await;
    let window = Duration::from_millis(1_500);
    let client = Client::builder(API_KEY, USER_AGENT)
        .base_url(format!("{}/v1", server.origin))
        .rate_limit(RateLimit::new(NonZeroU32::new(3).expect("three"), window))
        .build()
        .expect("the client builds");
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..2 {
                    let pages: Vec<_> = client
                        .attendee_pages(&AttendeeQuery::attendees())
                        .try_collect()
                        .await
                        .expect("a page");
                    assert_eq!(pages.len(), 1);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task ends");
    }
    let arrivals: Vec<_> = server.requests().iter().map(|r| r.arrived).collect();
    assert_eq!(arrivals.len(), 8);
    // Loopback delivery can shift an arrival by a few milliseconds either way.
    let slack = Duration::from_millis(30);
    assert!(
        busiest_window(&arrivals, window - slack) <= 3,
        "more than 3 requests in a window: {arrivals:?}"
    );
    let fourth = arrivals[3].duration_since(arrivals[0]);
    assert!(
        fourth >= window - slack,
        "the 4th request left {fourth:?} after the 1st"
    );
    let eighth = arrivals[7].duration_since(arrivals[0]);
    assert!(
        eighth >= 2 * window - slack && eighth < 3 * window,
        "8 requests take two whole windows, not {eighth:?}"
    );
}

/// The server's clock is 23 years behind the local one. It answers 429 with a reset 2 s after its
/// own `Date`: the client waits those 2 s (measured at the server), not `reset - local now`
/// (which is in the past, so no wait at all).
#[tokio::test]
async fn a_429_is_waited_out_by_the_servers_clock() {
    let server = Scripted::start(|_, index| match index {
        0 => Some(http_answer(
            429,
            &[
                ("date", "Sun, 09 Sep 2001 01:46:40 GMT".to_owned()),
                ("x-ratelimit-reset", "1000000002".to_owned()),
            ],
            r#"{"message":"Too Many Requests"}"#,
        )),
        _ => one_page(),
    })
    .await;
    let client = server.client("/v1");
    let attendees: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees())
        .try_collect()
        .await
        .expect("the retry succeeds");
    assert_eq!(attendees.len(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].arrived.duration_since(requests[0].arrived);
    assert!(
        waited >= Duration::from_millis(1_950) && waited < Duration::from_secs(4),
        "waited {waited:?} instead of the 2 s the server's clock asks for"
    );
}

/// A reset farther away than the retry policy allows is an error at once, measured the same way.
#[tokio::test]
async fn a_reset_beyond_the_policy_is_returned_at_once() {
    let server = Scripted::start(|_, _| {
        Some(http_answer(
            429,
            &[
                ("date", "Sun, 09 Sep 2001 01:46:40 GMT".to_owned()),
                ("x-ratelimit-reset", "1000000600".to_owned()),
            ],
            r#"{"message":"Too Many Requests"}"#,
        ))
    })
    .await;
    let client = server.client("/v1");
    let started = std::time::Instant::now();
    let error = client
        .stream_attendees(&AttendeeQuery::attendees())
        .try_collect::<Vec<_>>()
        .await
        .expect_err("rate limited");
    assert!(
        matches!(error.kind(), ErrorKind::RateLimited { .. }),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.requests().len(), 1);
}

/// Behind a proxy at `/proxy/v1`, Cliniko's `next` link names its own host and `/v1`: the client
/// follows its query on the proxy, never contacting another host, with the key on every request.
#[tokio::test]
async fn next_links_are_followed_on_the_configured_base_url() {
    let server = Scripted::start(|request, _| {
        let body = if request.request_line.contains("page=2") {
            attendee_list(2, 1, 2, None)
        } else {
            attendee_list(
                1,
                1,
                2,
                Some("https://api.au1.cliniko.com/v1/attendees?page=2&per_page=1"),
            )
        };
        Some(http_answer(200, &[], &body))
    })
    .await;
    let client = server.client("/proxy/v1");
    let attendees: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(1))
        .try_collect()
        .await
        .expect("two pages");
    assert_eq!(attendees.len(), 2);
    let requests = server.requests();
    let lines: Vec<&str> = requests.iter().map(|r| r.request_line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "GET /proxy/v1/attendees?page=1&per_page=1 HTTP/1.1",
            "GET /proxy/v1/attendees?page=2&per_page=1 HTTP/1.1",
        ]
    );
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some("Basic TXhKclpYa2lPaUkxTmpkMWFtSm1aVFExTnlKOS1hdTI6"),
        );
        assert_eq!(request.header("user-agent"), Some(USER_AGENT));
    }
}

/// A stream that fails on page 3 resumes from its cursor: the pages it read are not read again.
#[tokio::test]
async fn a_failed_stream_resumes_from_its_cursor() {
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = failures.clone();
    let server = Scripted::start(move |request, _| {
        let page: u64 = request
            .request_line
            .split(['?', '&', ' '])
            .find_map(|part| part.strip_prefix("page=")?.parse().ok())
            .unwrap_or(1);
        if page == 3 && counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Some(http_answer(404, &[], r#"{"message":"Not Found"}"#));
        }
        let next = (page < 4)
            .then(|| format!("https://api.au1.cliniko.com/v1/attendees?page={}", page + 1));
        Some(http_answer(
            200,
            &[],
            &attendee_list(page, 1, 4, next.as_deref()),
        ))
    })
    .await;
    let client = server.client("/v1");
    let mut stream = client.stream_attendees(&AttendeeQuery::attendees());
    let mut ids = Vec::new();
    let error = loop {
        match stream.try_next().await {
            Ok(Some(attendee)) => ids.push(attendee.id.get()),
            Ok(None) => panic!("the stream should fail on page 3"),
            Err(error) => break error,
        }
    };
    assert!(
        matches!(error.kind(), ErrorKind::NotFound { .. }),
        "{error:?}"
    );
    let cursor = stream.cursor().cloned().expect("a cursor");
    assert_eq!(cursor.page(), 3);
    // The cursor survives a process: it is plain data.
    let saved = serde_json::to_string(&cursor).expect("serialises");
    let cursor = serde_json::from_str(&saved).expect("reads back");
    // A new client, as after a restart; the stream is spawned, so it owns its client.
    let resumed = tokio::spawn(
        server
            .client("/v1")
            .resume_attendees(cursor)
            .try_collect::<Vec<_>>(),
    )
    .await
    .expect("the task ends")
    .expect("the rest");
    ids.extend(resumed.iter().map(|attendee| attendee.id.get()));
    assert_eq!(ids, [1, 2, 3, 4]);
    let pages: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.request_line.clone())
        .collect();
    assert_eq!(pages.len(), 5, "pages 1, 2, 3 (failed), 3, 4: {pages:?}");
    assert_eq!(
        pages.iter().filter(|line| line.contains("page=1")).count(),
        1
    );
}

/// `per_page` outside the spec's range is refused before anything is sent.
#[tokio::test]
async fn per_page_out_of_range_is_refused_before_sending() {
    let server = Scripted::start(|_, _| one_page()).await;
    let client = server.client("/v1");
    let error = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(500))
        .try_collect::<Vec<_>>()
        .await
        .expect_err("refused");
    assert!(
        matches!(error.kind(), ErrorKind::InvalidRequest(_)),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("per_page must be from 1 to 100"),
        "{error}"
    );
    assert!(server.requests().is_empty());
}

/// Plain http is for loopback only: anything else would send the key in clear text.
#[test]
fn plain_http_to_another_host_is_refused() {
    let error = Client::builder(API_KEY, USER_AGENT)
        .base_url("http://api.au1.cliniko.com/v1")
        .build()
        .expect_err("insecure");
    assert!(error.to_string().contains("use https"), "{error}");
    let error: cliniko_client::Error = error.into();
    assert!(matches!(error.kind(), ErrorKind::Config(_)));
}

/// The reqwest client the generated code exposes carries no key: the client adds it per request.
#[tokio::test]
async fn the_http_client_handed_out_does_not_carry_the_key() {
    use cliniko_client::ClientInfo as _;
    let server = Scripted::start(|_, _| one_page()).await;
    let client = server.client("/v1");
    let response = client
        .client()
        .get(format!("{}/v1/attendees", server.origin))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let requests = server.requests();
    assert_eq!(requests[0].header("authorization"), None);
}
