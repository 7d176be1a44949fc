//! What the client's end-to-end tests share: a fake Cliniko and a client pointed at it.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use cliniko_client::{Client, RetryPolicy};
use cliniko_fake::FakeCliniko;

/// The key every fake accepts in these tests; shaped like a real one so that a leak is findable.
pub const API_KEY: &str = "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2";
/// A `User-Agent` of the form Cliniko asks for.
pub const USER_AGENT: &str = "Cliniko client tests (tests@example.com)";

/// A fake with `attendees` seeded attendees and no rate limit.
pub async fn fake(attendees: usize) -> FakeCliniko {
    FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(42)
        .attendees(attendees)
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("the fake starts")
}

/// Short backoffs, so that retries do not slow the tests down.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(10))
}

/// A client for the API at `base_url` with fast retries.
fn client_at(base_url: &str) -> Client {
    Client::builder(API_KEY, USER_AGENT)
        .base_url(base_url)
        .retry(fast_retries())
        .build()
        .expect("the client builds")
}

/// A client for `server` with fast retries.
pub fn client(server: &FakeCliniko) -> Client {
    client_at(&server.base_url())
}

/// A one-route HTTP server that answers every request with the same canned response, for the
/// answers the fake never gives (an HTML 404, a `next` link that loops). `body` gets the base URL.
pub struct Canned {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Canned {
    /// Starts answering `status` with `content_type` and the body `body(base_url)`.
    pub async fn start(
        status: u16,
        content_type: &'static str,
        body: impl Fn(&str) -> String,
    ) -> Self {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}/v1", listener.local_addr().expect("an address"));
        let body = body(&base_url);
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            502 => "Bad Gateway",
            _ => "Status",
        };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self {
            base_url,
            requests,
            task,
        }
    }

    /// How many requests (connections) it has answered.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A client for it with fast retries.
    pub fn client(&self) -> Client {
        client_at(&self.base_url)
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request as a [`Scripted`] server read it off the socket.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When its head had arrived.
    pub arrived: std::time::Instant,
    /// `METHOD /path?query HTTP/1.1`.
    pub request_line: String,
    /// The head's lines after the request line, as sent.
    pub headers: Vec<String>,
    /// The body's exact bytes.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of a header (name case-insensitive), as sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }
}

/// A raw HTTP/1.1 server that records every request's bytes and arrival time and answers each
/// with whatever its script returns for it (the request and how many came before it): the
/// judge of what the client puts on the wire, independent of the client's own types.
pub struct Scripted {
    /// `http://127.0.0.1:PORT` (no path).
    pub origin: String,
    recorded: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

/// An HTTP/1.1 answer with `connection: close` and a JSON body.
pub fn http_answer(status: u16, extra_headers: &[(&str, String)], body: &str) -> String {
    let mut head = format!("HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\n");
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    format!(
        "{head}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

impl Scripted {
    /// Starts answering; `script(request, index)` gives the raw answer, or `None` to close the
    /// connection without one.
    pub async fn start(
        script: impl Fn(&Recorded, usize) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("an address"));
        let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Recorded>::new()));
        let log = recorded.clone();
        let script = std::sync::Arc::new(script);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = log.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let mut bytes = Vec::new();
                    let mut buffer = [0u8; 4096];
                    let head_end = loop {
                        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at;
                        }
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => bytes.extend_from_slice(&buffer[..read]),
                        }
                    };
                    let arrived = std::time::Instant::now();
                    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let request_line = lines.next().unwrap_or_default().to_owned();
                    let headers: Vec<String> = lines.map(str::to_owned).collect();
                    let length = headers
                        .iter()
                        .find_map(|line| {
                            let (key, value) = line.split_once(':')?;
                            key.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = bytes[head_end + 4..].to_vec();
                    while body.len() < length {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(read) => body.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let request = Recorded {
                        arrived,
                        request_line,
                        headers,
                        body,
                    };
                    let index = {
                        let mut log = log.lock().expect("the log");
                        log.push(request.clone());
                        log.len() - 1
                    };
                    if let Some(answer) = script(&request, index) {
                        let _ = stream.write_all(answer.as_bytes()).await;
                        let _ = stream.shutdown().await;
                    }
                });
            }
        });
        Self {
            origin,
            recorded,
            task,
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().expect("the log").clone()
    }

    /// A client for `{origin}{path}` with fast retries.
    pub fn client(&self, path: &str) -> Client {
        client_at(&format!("{}{path}", self.origin))
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A list body with `count` minimal attendees numbered from `first`, and `next` if given.
pub fn attendee_list(first: u64, count: u64, total: u64, next: Option<&str>) -> String {
    let attendees: Vec<serde_json::Value> = (first..first + count)
        .map(|n| sample_attendee(n, "2024-01-01T00:00:00Z"))
        .collect();
    let mut links =
        serde_json::json!({ "self": "https://api.au1.cliniko.com/v1/attendees?page=1" });
    if let Some(next) = next {
        links["next"] = serde_json::Value::String(next.to_owned());
    }
    serde_json::json!({ "attendees": attendees, "total_entries": total, "links": links })
        .to_string()
}

/// An attendee as the spec's example has it, with this ID and `updated_at`.
pub fn sample_attendee(id: u64, updated_at: &str) -> serde_json::Value {
    let link = |path: String| serde_json::json!({ "links": { "self": format!("https://api.au1.cliniko.com/v1{path}") } });
    serde_json::json!({
        "id": id.to_string(),
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": updated_at,
        "arrived": false,
        "booking_ip_address": null,
        "cancellation_note": null,
        "cancellation_reason": null,
        "cancellation_reason_description": "",
        "cancellation_url": null,
        "email_reminder_sent": false,
        "invoice_status": null,
        "notes": null,
        "online_booking_policy_accepted": null,
        "sms_reminder_sent": false,
        "telehealth_url": null,
        "treatment_note_status": null,
        "sent_email_reminders_count": 0,
        "sent_sms_reminders_count": 0,
        "sent_email_follow_ups_count": 0,
        "sent_sms_follow_ups_count": 0,
        "archived_at": null,
        "cancelled_at": null,
        "deleted_at": null,
        "booking": link("/group_appointments/5".to_owned()),
        "patient": link("/patients/6".to_owned()),
        "patient_case": null,
        "invoices": link(format!("/attendees/{id}/invoices")),
        "patient_forms": link(format!("/attendees/{id}/patient_forms")),
        "links": { "self": format!("https://api.au1.cliniko.com/v1/attendees/{id}") },
    })
}

/// Everything a tracing subscriber writes, shared with the test that reads it back.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
        .into_owned()
    }
}
