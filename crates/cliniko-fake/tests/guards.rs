//! Authentication, the User-Agent check, content negotiation, body limits, malformed requests
//! and the rate limit: each refusal is the spec's status with a JSON error body.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Harness, KEY, USER_AGENT, basic, builder};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn requests_without_the_key_get_401() {
    let h = Harness::start().await;
    let url = h.url("/attendees");
    for authorization in [
        None,
        Some(basic("wrong-key")),
        Some("Bearer fake-key-au1".to_owned()),
        Some("Basic !!!".to_owned()),
    ] {
        let mut request = h.client.get(&url).header("user-agent", USER_AGENT);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let answer = h.checked(Method::GET, "/attendees", request).await;
        assert_eq!(answer.status, 401, "{authorization:?}");
        assert_eq!(answer.json(), json!({ "message": "Unauthorized" }));
    }
    let with_password = h
        .checked(
            Method::GET,
            "/attendees",
            h.client
                .get(&url)
                .basic_auth(KEY, Some("ignored"))
                .header("user-agent", USER_AGENT),
        )
        .await;
    assert_eq!(with_password.status, 200);
}

#[tokio::test]
async fn a_user_agent_without_name_and_email_gets_403() {
    let h = Harness::start().await;
    for user_agent in [
        "",
        "reqwest/0.13",
        "My app",
        "My app (not-an-email)",
        "(devs@helpfulapp.com)",
    ] {
        let answer = h
            .checked(
                Method::GET,
                "/attendees",
                h.client
                    .get(h.url("/attendees"))
                    .header("authorization", basic(KEY))
                    .header("user-agent", user_agent),
            )
            .await;
        assert_eq!(answer.status, 403, "{user_agent:?}");
        assert!(
            answer.message().contains("User-Agent"),
            "{}",
            answer.message()
        );
    }
}

#[tokio::test]
async fn the_key_is_checked_before_the_user_agent() {
    let h = Harness::start().await;
    let answer = h
        .checked(
            Method::GET,
            "/attendees",
            h.client
                .get(h.url("/attendees"))
                .header("user-agent", "curl"),
        )
        .await;
    assert_eq!(answer.status, 401);
}

fn authorised(h: &Harness, method: Method, path: &str) -> reqwest::RequestBuilder {
    h.client
        .request(method, h.url(path))
        .header("authorization", basic(KEY))
        .header("user-agent", USER_AGENT)
}

#[tokio::test]
async fn bodies_must_be_json_objects() {
    let h = Harness::start().await;
    let group = h.server.fixtures().group_appointments[0].to_string();
    let patient = h.server.fixtures().patients[0].to_string();
    let cases = [
        (
            "application/json",
            "{\"booking_id\": ".to_owned(),
            "not valid JSON",
        ),
        (
            "application/json",
            "[1, 2]".to_owned(),
            "must be a JSON object",
        ),
        (
            "application/json",
            "\u{0}\u{1}binary".to_owned(),
            "not valid JSON",
        ),
        (
            "application/json",
            format!("{{\"booking_id\": {group}.5, \"patient_id\": \"{patient}\"}}"),
            "booking_id",
        ),
        (
            "application/json",
            format!(
                "{{\"booking_id\": \"{group}\", \"patient_id\": \"{patient}\", \"arrived\": \"yes\"}}"
            ),
            "arrived",
        ),
        (
            "application/json",
            format!("{{\"booking_id\": \"{group}\", \"patient_id\": \"-1\"}}"),
            "patient_id",
        ),
        (
            "text/plain",
            format!("{{\"booking_id\": \"{group}\", \"patient_id\": \"{patient}\"}}"),
            "Content-Type",
        ),
    ];
    for (content_type, body, says) in cases {
        let answer = h
            .checked(
                Method::POST,
                "/attendees",
                authorised(&h, Method::POST, "/attendees")
                    .header("content-type", content_type)
                    .body(body.clone()),
            )
            .await;
        // A body that cannot be read is 400; one that reads but holds a value of the wrong type
        // or form is 422, with a message for that field (as any validation failure).
        if answer.status == 422 {
            assert!(
                answer.json()["errors"].get(says).is_some(),
                "{body}: {}",
                answer.text
            );
        } else {
            assert_eq!(answer.status, 400, "{body}");
            assert!(
                answer.message().contains(says),
                "{body}: {}",
                answer.message()
            );
        }
        let unreadable = matches!(
            says,
            "not valid JSON" | "must be a JSON object" | "Content-Type"
        );
        assert_eq!(answer.status == 400, unreadable, "{body}: {}", answer.text);
    }
    let id = h.ids("/attendees?per_page=1").await.remove(0);
    let path = format!("/attendees/{id}");
    let wrong_type = h
        .call(Method::PATCH, &path, Some(json!({ "notes": 5 })))
        .await;
    assert_eq!(wrong_type.status, 422, "{}", wrong_type.text);
    assert!(
        wrong_type.json()["errors"].get("notes").is_some(),
        "{}",
        wrong_type.text
    );
    let wrong_reason = h
        .call(
            Method::PATCH,
            &format!("{path}/cancel"),
            Some(json!({ "cancellation_reason": "soon" })),
        )
        .await;
    assert_eq!(wrong_reason.status, 422, "{}", wrong_reason.text);
    assert!(
        wrong_reason.json()["errors"]
            .get("cancellation_reason")
            .is_some(),
        "{}",
        wrong_reason.text
    );
}

#[tokio::test]
async fn an_accept_that_rules_out_json_is_refused() {
    let h = Harness::start().await;
    let refused = h
        .checked(
            Method::GET,
            "/attendees",
            authorised(&h, Method::GET, "/attendees").header("accept", "text/html"),
        )
        .await;
    assert_eq!(refused.status, 400);
    for accept in [
        "*/*",
        "application/json; charset=utf-8",
        "text/html, application/*;q=0.5",
    ] {
        let answer = h
            .checked(
                Method::GET,
                "/attendees",
                authorised(&h, Method::GET, "/attendees").header("accept", accept),
            )
            .await;
        assert_eq!(answer.status, 200, "{accept}");
        assert!(
            answer
                .header("content-type")
                .expect("type")
                .starts_with("application/json")
        );
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let h = Harness::with(builder().max_body_bytes(1_024)).await;
    let notes = "x".repeat(4_096);
    let body = json!({ "booking_id": "1", "patient_id": "1", "notes": notes }).to_string();
    let announced = h
        .checked(
            Method::POST,
            "/attendees",
            authorised(&h, Method::POST, "/attendees")
                .header("content-type", "application/json")
                .body(body.clone()),
        )
        .await;
    assert_eq!(announced.status, 413);
    assert!(
        announced.message().contains("1024 bytes"),
        "{}",
        announced.message()
    );

    // Streamed without a Content-Length, the limit is enforced while reading.
    let chunks = futures::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let streamed = h
        .checked(
            Method::POST,
            "/attendees",
            authorised(&h, Method::POST, "/attendees")
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(chunks)),
        )
        .await;
    assert_eq!(streamed.status, 413);

    let id = h.ids("/attendees?per_page=1").await.remove(0);
    let path = format!("/attendees/{id}");
    let patch = h
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "notes": "y".repeat(2_000) })),
        )
        .await;
    assert_eq!(patch.status, 413);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_the_reset_time() {
    let h = Harness::with(builder().rate_limit_per_minute(Some(5))).await;
    for _ in 0..5 {
        assert_eq!(h.get("/attendees?per_page=1").await.status, 200);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let limited = h.get("/attendees?per_page=1").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json(), json!({ "message": "Too Many Requests" }));
    let reset: u64 = limited
        .header("x-ratelimit-reset")
        .expect("X-RateLimit-Reset")
        .parse()
        .expect("UNIX seconds");
    assert!(
        reset > now && reset <= now + 61,
        "reset {reset} is not within the next minute of {now}"
    );
    assert_eq!(
        h.get("/attendees/1").await.status,
        429,
        "every route shares the limit"
    );
    let unauthorised = h
        .checked(
            Method::GET,
            "/attendees",
            h.client
                .get(h.url("/attendees"))
                .header("user-agent", USER_AGENT),
        )
        .await;
    assert_eq!(
        unauthorised.status, 401,
        "requests without the key do not use it up"
    );
}

#[tokio::test]
async fn the_default_limit_is_200_a_minute() {
    let h = Harness::with(
        builder().rate_limit_per_minute(Some(cliniko_fake::DEFAULT_RATE_LIMIT_PER_MINUTE)),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..201 {
        statuses.push(h.get("/attendees/1").await.status);
    }
    assert!(statuses[..200].iter().all(|s| *s == 404));
    assert_eq!(statuses[200], 429);
}

/// The window slides: a request is admitted when the oldest of the last `limit` requests has left
/// the window, not when a fixed window starting at the first request resets. A fixed window would
/// admit all three requests sent just after the first window ends.
#[tokio::test]
async fn the_rate_limit_is_a_sliding_window_of_configurable_length() {
    let window = std::time::Duration::from_millis(1_500);
    let h = Harness::with(
        builder()
            .rate_limit_per_minute(Some(3))
            .rate_limit_window(window),
    )
    .await;
    let start = std::time::Instant::now();
    assert_eq!(h.get("/attendees/1").await.status, 404);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(h.get("/attendees/1").await.status, 404);
    assert_eq!(h.get("/attendees/1").await.status, 404);
    assert_eq!(
        h.get("/attendees/1").await.status,
        429,
        "three in the window"
    );
    tokio::time::sleep_until((start + window + std::time::Duration::from_millis(150)).into()).await;
    let statuses = [
        h.get("/attendees/1").await.status,
        h.get("/attendees/1").await.status,
    ];
    assert_eq!(
        statuses,
        [404, 429],
        "only the first request has left the window"
    );
}
