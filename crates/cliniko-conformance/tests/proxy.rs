//! The `proxy` subcommand: forwarding, streaming and link rewriting (in-process, against a
//! scripted upstream and the fake), and the command as a user runs it (stderr, exit status after
//! SIGTERM, scrubbed recordings, refusing a remote listen address).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use cliniko_conformance::proxy::{Proxy, ProxyError, ProxyEvent, ProxyOptions};
use cliniko_conformance::{CheckOptions, Checker, Outcome};
use cliniko_fake::FakeCliniko;
use http_body_util::BodyExt as _;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

const API_KEY: &str = "proxy-test-secret-key-au1";
const USER_AGENT: &str = "Proxy tests (tests@example.com)";

fn basic_token() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:"))
}

fn checker() -> Checker {
    let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
    Checker::new(&spec, CheckOptions::default()).expect("the spec compiles")
}

fn options(upstream: &str) -> ProxyOptions {
    ProxyOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ProxyOptions::new(upstream)
    }
}

/// Starts a proxy in-process; its events are collected as text.
async fn start_proxy(upstream: &str) -> (Proxy, Arc<Mutex<Vec<String>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let proxy = Proxy::start(options(upstream), checker(), move |event: ProxyEvent| {
        sink.lock().expect("not poisoned").push(event.to_string());
    })
    .await
    .expect("the proxy starts");
    (proxy, events)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
}

// ---------------------------------------------------------------------------------------------
// A scripted upstream: records what it receives and answers scripted bytes.

/// A request as the upstream received it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the upstream answers: status, headers and body pieces; with a gate, every piece after
/// the first waits until the gate is opened.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    pieces: Vec<Vec<u8>>,
    gate: Option<Arc<Notify>>,
}

struct Scripted {
    origin: String,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A body fed piece by piece from a channel.
struct Pieces(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|bytes| Ok(Frame::data(bytes))))
    }
}

async fn scripted_upstream(
    script: impl Fn(&Received) -> Answer + Send + Sync + 'static,
) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let origin = format!("http://{}", listener.local_addr().expect("an address"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            let script = script.clone();
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let log = log.clone();
                let script = script.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let seen = Received {
                        method: parts.method.to_string(),
                        target: parts.uri.to_string(),
                        headers: parts
                            .headers
                            .iter()
                            .map(|(n, v)| {
                                (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body: body.to_vec(),
                    };
                    let answer = script(&seen);
                    log.lock().expect("not poisoned").push(seen);
                    let (sender, receiver) = mpsc::channel(8);
                    tokio::spawn(async move {
                        for (n, piece) in answer.pieces.into_iter().enumerate() {
                            if n == 1
                                && let Some(gate) = &answer.gate
                            {
                                gate.notified().await;
                            }
                            if sender.send(Bytes::from(piece)).await.is_err() {
                                return;
                            }
                        }
                    });
                    let mut response = hyper::Response::new(Pieces(receiver));
                    *response.status_mut() =
                        hyper::StatusCode::from_u16(answer.status).expect("a status");
                    for (name, value) in answer.headers {
                        response.headers_mut().append(
                            name,
                            hyper::header::HeaderValue::from_str(&value).expect("a header value"),
                        );
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Scripted { origin, received }
}

fn json_answer(status: u16, body: &Value) -> Answer {
    Answer {
        status,
        headers: vec![("content-type", "application/json; charset=utf-8".to_owned())],
        pieces: vec![body.to_string().into_bytes()],
        gate: None,
    }
}

// ---------------------------------------------------------------------------------------------
// In-process behaviour.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_method_path_query_headers_and_body_and_rewrites_links_and_location() {
    let upstream = scripted_upstream(|seen| {
        let origin = seen
            .header("host")
            .map(|h| format!("http://{h}"))
            .unwrap_or_default();
        let mut answer = json_answer(
            201,
            &json!({
                "id": "1", "notes": format!("not a link: {origin}/v1/x"),
                "links": { "self": format!("{origin}/v1/attendees/1") },
                "patient": { "links": { "self": format!("{origin}/v1/patients/2") } },
            }),
        );
        answer
            .headers
            .push(("location", format!("{origin}/v1/attendees/1")));
        answer.headers.push(("x-request-id", "abc".to_owned()));
        answer
    })
    .await;
    let (proxy, _events) = start_proxy(&format!("{}/v1", upstream.origin)).await;
    let proxy_origin = format!("http://{}", proxy.local_addr());

    let response = client()
        .patch(format!(
            "{}/attendees/123?x=1&q%5B%5D=id:%3D1",
            proxy.base_url()
        ))
        .basic_auth(API_KEY, Some(""))
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .header("x-custom", "kept")
        .header("keep-alive", "timeout=5")
        .body(r#"{"notes":"hello"}"#)
        .send()
        .await
        .expect("the proxy answers");
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.headers()["location"],
        format!("{proxy_origin}/v1/attendees/1").as_str()
    );
    assert_eq!(response.headers()["x-request-id"], "abc");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({
            "id": "1", "notes": format!("not a link: {}/v1/x", upstream.origin),
            "links": { "self": format!("{proxy_origin}/v1/attendees/1") },
            "patient": { "links": { "self": format!("{proxy_origin}/v1/patients/2") } },
        })
    );

    let received = upstream.received.lock().expect("not poisoned").clone();
    assert_eq!(received.len(), 1);
    let seen = &received[0];
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.target, "/v1/attendees/123?x=1&q%5B%5D=id:%3D1");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Basic {}", basic_token()).as_str())
    );
    assert_eq!(seen.header("user-agent"), Some(USER_AGENT));
    assert_eq!(seen.header("x-custom"), Some("kept"));
    assert_eq!(
        seen.header("host"),
        Some(upstream.origin.trim_start_matches("http://"))
    );
    assert_eq!(
        seen.header("keep-alive"),
        None,
        "a hop-by-hop header was forwarded"
    );
    assert_eq!(seen.body, br#"{"notes":"hello"}"#);

    let finished = proxy.shutdown().await;
    assert_eq!(finished.report.exchanges.len(), 1);
    let verdict = &finished.report.exchanges[0].verdict;
    assert_eq!(verdict.operation.as_deref(), Some("updateAttendee"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_the_answer_as_it_arrives() {
    let gate = Arc::new(Notify::new());
    let opened = gate.clone();
    let upstream = scripted_upstream(move |_| Answer {
        status: 200,
        headers: vec![("content-type", "application/json".to_owned())],
        pieces: vec![
            br#"{"attendees":[],"total_entries":0,"#.to_vec(),
            br#""links":{"self":"http://elsewhere.invalid/v1/attendees"}}"#.to_vec(),
        ],
        gate: Some(opened.clone()),
    })
    .await;
    let (proxy, _events) = start_proxy(&format!("{}/v1", upstream.origin)).await;

    let mut response = client()
        .get(format!("{}/attendees", proxy.base_url()))
        .send()
        .await
        .expect("the headers come before the whole body");
    let first = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the first piece arrives while the upstream still holds the rest")
        .expect("reads")
        .expect("a piece");
    assert_eq!(&first[..], br#"{"attendees":[],"total_entries":0,"#);
    gate.notify_one();
    let mut rest = Vec::new();
    while let Some(piece) = response.chunk().await.expect("reads") {
        rest.extend_from_slice(&piece);
    }
    assert_eq!(
        rest,
        br#""links":{"self":"http://elsewhere.invalid/v1/attendees"}}"#
    );
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_through_the_proxy_follows_links_to_the_proxy() {
    let fake = FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(7)
        .attendees(120)
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("the fake starts");
    let (proxy, events) = start_proxy(&fake.base_url()).await;
    let client = client();

    let mut url = format!("{}/attendees?per_page=50", proxy.base_url());
    let mut ids = BTreeSet::new();
    let mut pages = 0;
    let mut total = 0;
    loop {
        assert!(url.starts_with(proxy.base_url()), "{url} leaves the proxy");
        let page: Value = client
            .get(&url)
            .basic_auth(API_KEY, Some(""))
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json")
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        pages += 1;
        if pages == 1 {
            total = page["total_entries"].as_u64().expect("a count");
        }
        for attendee in page["attendees"].as_array().expect("a list") {
            ids.insert(attendee["id"].as_str().expect("a string ID").to_owned());
            let link = attendee["links"]["self"].as_str().expect("a link");
            assert!(link.starts_with(proxy.base_url()), "{link}");
        }
        match page["links"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    // 120 seeded, some cancelled or archived: more than 50 and at most 120 in the plain list.
    assert!((51..=120).contains(&total), "{total} attendees");
    let expected_pages = total.div_ceil(50);
    assert_eq!(pages, expected_pages);
    assert_eq!(ids.len() as u64, total);
    assert_eq!(fake.requests_to("GET", "/v1/attendees"), expected_pages);

    // A create's Location points at the proxy too.
    let fixtures = fake.fixtures();
    let created = client
        .post(format!("{}/attendees", proxy.base_url()))
        .basic_auth(API_KEY, Some(""))
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
        .json(&json!({
            "booking_id": fixtures.group_appointments[0].get().to_string(),
            "patient_id": fixtures.patients[0].get().to_string(),
        }))
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().expect("text");
    assert!(location.starts_with(proxy.base_url()), "{location}");

    let finished = proxy.shutdown().await;
    fake.shutdown().await;
    let events = events.lock().expect("not poisoned").clone();
    assert_eq!(
        finished.report.exchanges.len() as u64,
        expected_pages + 1,
        "{events:?}"
    );
    assert!(
        finished
            .report
            .exchanges
            .iter()
            .all(|e| e.verdict.conforms()),
        "{events:?}"
    );
    assert_eq!(finished.outcome(), Outcome::Conforms);
}

#[tokio::test]
async fn refuses_a_non_loopback_listen_address_unless_allowed() {
    let mut options = options("http://127.0.0.1:9/v1");
    options.listen = SocketAddr::from(([0, 0, 0, 0], 0));
    let error = Proxy::start(options, checker(), |_| {})
        .await
        .expect_err("refused");
    assert!(matches!(error, ProxyError::RemoteListen { .. }), "{error}");
    assert!(error.to_string().contains("--allow-remote"), "{error}");
}

/// Issue 19, item 8: the proxy redacted a request's path before it learnt the request's key, so
/// a key in the path of the first request that sent it stayed in the failure messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_in_the_path_of_the_first_request_that_sends_it_is_redacted() {
    // Nothing listens on the discard port: the upstream never answers.
    let (proxy, events) = start_proxy("http://127.0.0.1:9/v1").await;
    let origin = format!("http://{}", proxy.local_addr());
    // Outside the base path: answered 404 by the proxy itself.
    let outside = client()
        .get(format!("{origin}/{API_KEY}/attendees"))
        .basic_auth(API_KEY, Some(""))
        .send()
        .await
        .expect("answers");
    assert_eq!(outside.status(), 404);
    let (proxy, more) = {
        let finished = proxy.shutdown().await;
        assert_eq!(finished.failures, 1);
        start_proxy("http://127.0.0.1:9/v1").await
    };
    // Under the base path, with an upstream that does not answer: 502.
    let unanswered = client()
        .get(format!("{}/attendees/{API_KEY}", proxy.base_url()))
        .basic_auth(API_KEY, Some(""))
        .send()
        .await
        .expect("answers");
    assert_eq!(unanswered.status(), 502);
    let finished = proxy.shutdown().await;
    assert_eq!(finished.failures, 1);

    let mut said = events.lock().expect("not poisoned").clone();
    said.extend(more.lock().expect("not poisoned").iter().cloned());
    let failures: Vec<&String> = said
        .iter()
        .filter(|event| event.contains("[redacted]"))
        .collect();
    assert_eq!(failures.len(), 2, "{said:#?}");
    assert!(
        failures[0].contains("GET /[redacted]/attendees: not under /v1"),
        "{said:#?}"
    );
    assert!(
        failures[1].contains("GET /v1/attendees/[redacted]: the upstream did not answer"),
        "{said:#?}"
    );
    for event in &said {
        assert_no_secret("a proxy event", event);
    }
}

// ---------------------------------------------------------------------------------------------
// The command.

/// The command, running: its stderr lines arrive on a channel as they are written.
struct Running {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    base_url: String,
}

fn spawn_proxy(upstream: &str, extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
        .args(["proxy", "--listen", "127.0.0.1:0", "--upstream", upstream])
        .args(extra)
        .env_remove("CLINIKO_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let stderr = child.stderr.take().expect("piped");
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let mut running = Running {
        child,
        lines,
        seen: Vec::new(),
        base_url: String::new(),
    };
    let first = running
        .lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the proxy says where it listens");
    running.base_url = first
        .strip_prefix("proxying ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    running.seen.push(first);
    running
}

impl Running {
    /// Sends SIGTERM and returns the exit code, stdout and every stderr line.
    fn terminate(mut self) -> (Option<i32>, String, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut stdout)
            .expect("stdout reads");
        let status = self.child.wait().expect("the proxy ends");
        self.seen.extend(self.lines.iter());
        (status.code(), stdout, self.seen.join("\n"))
    }
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(API_KEY), "the API key is in {what}:\n{text}");
    assert!(
        !text.contains(&basic_token()),
        "the Basic token is in {what}:\n{text}"
    );
}

fn files_in(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("the recording directory exists")
        .map(|entry| {
            let path = entry.expect("an entry").path();
            let text = std::fs::read_to_string(&path).expect("a recording reads");
            (path.display().to_string(), text)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_violation_shows_on_stderr_and_exits_1_after_sigterm() {
    // The upstream echoes the key where an ID belongs: a violation, whose message must not show it.
    let upstream = scripted_upstream(|_| {
        json_answer(
            200,
            &json!({ "id": API_KEY, "notes": null, "links": { "self": "http://x.invalid/v1/attendees/1" } }),
        )
    })
    .await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let record = dir.path().join("recordings");
    let running = spawn_proxy(
        &format!("{}/v1", upstream.origin),
        &[
            "--record",
            record.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
    );
    let response = client()
        .get(format!("{}/attendees/1", running.base_url))
        .basic_auth(API_KEY, Some(""))
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let (code, stdout, stderr) = running.terminate();

    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    // One line per violation, each naming the operation, the kind and the pointer.
    let line = stderr
        .lines()
        .find(|line| {
            line.starts_with(
                "violation: getAttendee (GET /attendees/1 -> 200): body_schema at /id: ",
            )
        })
        .unwrap_or_else(|| panic!("no violation at /id on stderr:\n{stderr}"));
    assert!(line.contains("[redacted]"), "{line}");
    let report: Value = serde_json::from_str(&stdout).expect("a JSON report");
    assert_eq!(report["summary"]["failing"], 1);
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &stderr);
    let files = files_in(&record);
    assert_eq!(files.len(), 1);
    for (path, text) in &files {
        assert_no_secret(path, text);
        assert!(
            !text.to_ascii_lowercase().contains("authorization"),
            "{path}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conforming_run_exits_0_and_its_recordings_are_scrubbed_and_check_clean() {
    let fake = FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(11)
        .attendees(40)
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("the fake starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let record = dir.path().join("recordings");
    let running = spawn_proxy(
        &fake.base_url(),
        &["--record", record.to_str().expect("utf-8")],
    );
    let client = client();
    let page: Value = client
        .get(format!("{}/attendees?per_page=20", running.base_url))
        .basic_auth(API_KEY, Some(""))
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let next = page["links"]["next"].as_str().expect("a next page");
    assert!(next.starts_with(&running.base_url), "{next}");
    // This answer's body is never read: the proxy still reads it from the upstream and checks it.
    let status = client
        .get(next)
        .basic_auth(API_KEY, Some(""))
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
        .send()
        .await
        .expect("answers")
        .status();
    assert_eq!(status, 200);
    let (code, stdout, stderr) = running.terminate();
    fake.shutdown().await;

    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("2 exchanges checked: 2 conform, 0 do not (0 violations)"),
        "{stdout}"
    );
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &stderr);
    let files = files_in(&record);
    assert_eq!(files.len(), 2);
    let seeded: Value = serde_json::from_str(&files[0].1).expect("a recording is JSON");
    assert!(
        seeded["response"]["body"]["attendees"]
            .as_array()
            .is_some_and(|attendees| attendees.len() == 20),
        "{}",
        files[0].1
    );
    for (path, text) in &files {
        assert_no_secret(path, text);
        assert!(
            !text.to_ascii_lowercase().contains("authorization"),
            "{path}"
        );
        assert!(
            !text.contains("cliniko-fake.invalid"),
            "a capability URL in {path}"
        );
        assert!(
            !text.contains("127.0.0.1"),
            "the upstream's address in {path}"
        );
    }
    // What the proxy recorded checks clean with `check`.
    let check = Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
        .args(["check", record.to_str().expect("utf-8")])
        .output()
        .expect("check runs");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn no_exchange_at_all_exits_2() {
    let running = spawn_proxy("http://127.0.0.1:9/v1", &[]);
    let (code, stdout, stderr) = running.terminate();
    assert_eq!(code, Some(2), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("0 exchanges checked"), "{stdout}");
}

#[test]
fn a_non_loopback_listen_address_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
        .args([
            "proxy",
            "--listen",
            "0.0.0.0:0",
            "--upstream",
            "http://127.0.0.1:9/v1",
        ])
        .output()
        .expect("the command runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0") && stderr.contains("--allow-remote"),
        "{stderr}"
    );
}
