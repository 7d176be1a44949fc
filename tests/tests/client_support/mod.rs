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

/// A client for `server` with fast retries.
pub fn client(server: &FakeCliniko) -> Client {
    Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(fast_retries())
        .build()
        .expect("the client builds")
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
        Client::builder(API_KEY, USER_AGENT)
            .base_url(&self.base_url)
            .retry(fast_retries())
            .build()
            .expect("the client builds")
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.task.abort();
    }
}
