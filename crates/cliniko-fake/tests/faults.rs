//! Each injected fault, as a client sees it, and that faults can be changed while running.

mod common;

use std::time::{Duration, Instant};

use cliniko_fake::Faults;
use common::{Harness, KEY, USER_AGENT, basic, builder};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sends one raw HTTP/1.1 request and reads until the server closes the connection.
async fn raw_exchange(h: &Harness, path: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(h.server.local_addr())
        .await
        .expect("connects");
    let request = format!(
        "GET /v1{path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\n\r\n",
        h.server.local_addr(),
        basic(KEY)
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut answer = Vec::new();
    // A reset connection is as good as a closed one here.
    let _ = stream.read_to_end(&mut answer).await;
    answer
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let h = Harness::start().await;
    h.server.set_faults(Faults {
        latency: Duration::from_millis(40),
        ..Faults::default()
    });
    let started = Instant::now();
    assert_eq!(h.get("/attendees?per_page=1").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn server_errors_are_500_or_503_with_the_error_body() {
    let h = Harness::with(builder().faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let answer = h.get("/attendees").await;
        assert!(answer.message().ends_with("Error") || answer.message() == "Service Unavailable");
        seen.push(answer.status);
    }
    assert!(seen.contains(&500) && seen.contains(&503), "{seen:?}");

    h.server.set_faults(Faults {
        server_error_rate: 0.5,
        ..Faults::default()
    });
    let mut failures = 0;
    for _ in 0..100 {
        if h.get("/attendees/1").await.status >= 500 {
            failures += 1;
        }
    }
    assert!(
        (20..=80).contains(&failures),
        "{failures} of 100 failed at a share of 0.5"
    );
    h.server.set_faults(Faults::default());
    assert_eq!(h.get("/attendees?per_page=1").await.status, 200);
}

#[tokio::test]
async fn a_burst_answers_exactly_n_429s_then_recovers() {
    let h = Harness::start().await;
    h.server.set_faults(Faults {
        rate_limit_burst: 3,
        ..Faults::default()
    });
    for _ in 0..3 {
        let answer = h.get("/attendees?per_page=1").await;
        assert_eq!(answer.status, 429);
        assert!(
            answer
                .header("x-ratelimit-reset")
                .is_some_and(|r| r.parse::<u64>().is_ok())
        );
    }
    assert_eq!(h.get("/attendees?per_page=1").await.status, 200);
}

#[tokio::test]
async fn a_truncated_body_keeps_the_full_content_length() {
    let h = Harness::with(builder().faults(Faults {
        truncate_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let answer = raw_exchange(&h, "/attendees?per_page=3").await;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("Content-Length")
        .parse()
        .expect("a number");
    assert!(
        !body.is_empty() && body.len() < length,
        "{} of {length} bytes arrived",
        body.len()
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(body).is_err(),
        "the JSON is cut short"
    );

    let error = h
        .client
        .get(h.url("/attendees"))
        .header("authorization", basic(KEY))
        .header("user-agent", USER_AGENT)
        .send()
        .await;
    let body = match error {
        Ok(response) => response.bytes().await.err(),
        Err(error) => Some(error),
    };
    assert!(body.is_some(), "a client reading the body sees an error");
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer_at_all() {
    let h = Harness::with(builder().faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    assert!(raw_exchange(&h, "/attendees").await.is_empty());
    let sent = h
        .client
        .get(h.url("/attendees"))
        .header("authorization", basic(KEY))
        .header("user-agent", USER_AGENT)
        .send()
        .await;
    assert!(sent.is_err(), "the client sees the connection close");
    assert_eq!(
        h.server.requests_received(),
        2,
        "dropped requests still count as received"
    );
    h.server.set_faults(Faults::default());
    assert_eq!(h.get("/attendees?per_page=1").await.status, 200);
}

#[tokio::test]
async fn fault_choices_repeat_for_a_seed() {
    let run = |seed| async move {
        let h = Harness::with(builder().seed(seed).faults(Faults {
            server_error_rate: 0.3,
            ..Faults::default()
        }))
        .await;
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(h.get("/attendees/1").await.status);
        }
        statuses
    };
    let first = run(11).await;
    assert_eq!(first, run(11).await);
    assert!(first.iter().any(|s| *s >= 500) && first.contains(&404));
}

#[tokio::test]
async fn truncation_leaves_an_empty_204_alone() {
    let h = Harness::start().await;
    let id = h.ids("/attendees?per_page=1").await.remove(0);
    h.server.set_faults(Faults {
        truncate_rate: 1.0,
        ..Faults::default()
    });
    let archived = h
        .call(
            reqwest::Method::POST,
            &format!("/attendees/{id}/archive"),
            None,
        )
        .await;
    assert_eq!(archived.status, 204);
    assert!(archived.text.is_empty() && archived.header("content-length").is_none());
}
