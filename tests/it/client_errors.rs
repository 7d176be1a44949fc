//! Each way Cliniko says no, as a typed error: 422, 404 (JSON and HTML), 401, 429, and others.

use crate::client_support;

use std::time::Duration;

use chrono::Utc;
use cliniko_client::{AttendeeQuery, Client, ErrorBody, ErrorKind, RetryPolicy};
use cliniko_fake::{FakeCliniko, Faults};
use cliniko_types::{AttendeeCancel, AttendeeCreate, CancellationReason, Id};
use futures::StreamExt as _;

use client_support::{API_KEY, Canned, USER_AGENT, client, fake, fast_retries};

#[tokio::test]
async fn a_422_carries_each_field_and_its_message() {
    let server = fake(20).await;
    let client = client(&server);
    let unknown = Id::new(1);
    let error = client
        .create_attendee()
        .body(AttendeeCreate {
            booking_id: unknown,
            patient_id: unknown,
            patient_case_id: None,
            arrived: None,
            notes: None,
        })
        .send()
        .await
        .expect_err("unknown booking and patient");
    let ErrorKind::Validation { message, errors } = error.kind() else {
        panic!("expected a validation error, got {error:?}");
    };
    assert_eq!(message, "Validation Failed");
    assert!(errors.contains_key("booking_id"), "{errors:?}");
    assert!(errors.contains_key("patient_id"), "{errors:?}");
    assert!(
        error
            .to_string()
            .starts_with("validation failed: booking_id "),
        "{error}"
    );
    assert_eq!(server.attendee_count(), 20);

    // Attendees of individual appointments cannot be cancelled on this route.
    let individual = server.fixtures().individual_appointments[0];
    let created = client
        .create_attendee()
        .body(AttendeeCreate {
            booking_id: individual,
            patient_id: server.fixtures().patients[0],
            patient_case_id: None,
            arrived: None,
            notes: None,
        })
        .send()
        .await
        .expect("created");
    let error = client
        .cancel_attendee()
        .id(created.id)
        .body(AttendeeCancel {
            cancellation_reason: CancellationReason::Sick,
            cancellation_note: None,
            apply_to_repeats: None,
        })
        .send()
        .await
        .expect_err("an individual appointment");
    assert!(
        matches!(error.kind(), ErrorKind::Validation { errors, .. } if errors.contains_key("booking_id")),
        "{error:?}"
    );
    assert_eq!(
        server.requests_to("PATCH", "/v1/attendees/{id}/cancel"),
        1,
        "a 422 is not retried"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_404_is_not_found_with_its_json_body() {
    let server = fake(20).await;
    let client = client(&server);
    let error = client
        .get_attendee()
        .id(Id::new(42))
        .send()
        .await
        .expect_err("no such attendee");
    assert!(
        matches!(error.kind(), ErrorKind::NotFound { body: ErrorBody::Json(body) } if body.message == "Not Found"),
        "{error:?}"
    );
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(
        server.requests_to("GET", "/v1/attendees/{id}"),
        1,
        "a 404 is not retried"
    );
    server.shutdown().await;
}

/// Cliniko has been seen to answer 404 with its HTML page; the error keeps the status and the page.
#[tokio::test]
async fn an_html_404_is_not_found_with_the_page() {
    let page = "<!DOCTYPE html><html><head><title>Not found</title></head><body></body></html>";
    let canned = Canned::start(404, "text/html; charset=utf-8", |_| page.to_owned()).await;
    let client = canned.client();
    // `GET /attendees/{id}` documents a JSON 404; `GET /attendees` documents no 404 at all.
    let from_get = client
        .get_attendee()
        .id(Id::new(1))
        .send()
        .await
        .expect_err("404");
    let from_list = client.list_attendees().send().await.expect_err("404");
    for error in [from_get, from_list] {
        let ErrorKind::NotFound {
            body: ErrorBody::Text { content_type, text },
        } = error.kind()
        else {
            panic!("expected a not-found error with the page, got {error:?}");
        };
        assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(text, page);
    }
}

/// A status outside the spec, with a body that is not JSON, is an unexpected response that keeps
/// both; a GET is retried first, within its bound.
#[tokio::test]
async fn an_undocumented_answer_keeps_its_status_and_body() {
    let canned = Canned::start(502, "text/plain", |_| "upstream went away".to_owned()).await;
    let client = Client::builder(API_KEY, USER_AGENT)
        .base_url(&canned.base_url)
        .retry(fast_retries().max_retries(2))
        .build()
        .expect("built");
    let error = client.list_attendees().send().await.expect_err("502");
    assert!(
        matches!(error.kind(), ErrorKind::UnexpectedResponse { status, body: ErrorBody::Text { text, .. } }
            if status.as_u16() == 502 && text == "upstream went away"),
        "{error:?}"
    );
    assert_eq!(canned.requests(), 3, "one try and two retries");
}

/// Even a success status is unexpected where the spec names another; the body is kept.
#[tokio::test]
async fn an_unexpected_success_keeps_its_body() {
    let canned = Canned::start(200, "text/plain", |_| "archived, probably".to_owned()).await;
    let client = canned.client();
    let error = client
        .archive_attendee()
        .id(Id::new(1))
        .send()
        .await
        .expect_err("the spec says 204");
    assert!(
        matches!(error.kind(), ErrorKind::UnexpectedResponse { status, body: ErrorBody::Text { text, .. } }
            if status.as_u16() == 200 && text == "archived, probably"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_unauthorised_everywhere() {
    let server = fake(20).await;
    let client = Client::builder("not-the-key", USER_AGENT)
        .base_url(server.base_url())
        .build()
        .expect("built");
    let error = client
        .get_attendee()
        .id(server.fixtures().attendees[0])
        .send()
        .await
        .expect_err("a wrong key");
    assert!(
        matches!(error.kind(), ErrorKind::Unauthorised { .. }),
        "{error:?}"
    );
    let streamed: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees())
        .collect()
        .await;
    assert!(
        matches!(&streamed[..], [Err(error)] if matches!(error.kind(), ErrorKind::Unauthorised { .. })),
        "{streamed:?}"
    );
    assert_eq!(server.requests_received(), 2, "a 401 is not retried");
    server.shutdown().await;
}

/// A short burst of 429s is waited out: the request succeeds after the reset, once per 429.
#[tokio::test]
async fn a_429_is_waited_out_until_the_reset() {
    let server = fake(20).await;
    let client = client(&server);
    server.set_faults(Faults {
        rate_limit_burst: 2,
        ..Faults::default()
    });
    let page = client
        .list_attendees()
        .send()
        .await
        .expect("answered after the reset");
    assert!(!page.attendees.is_empty());
    assert_eq!(
        server.requests_to("GET", "/v1/attendees"),
        3,
        "two 429s, then the answer"
    );

    // A create over the limit was not acted on, so it is sent again after the reset.
    server.set_faults(Faults {
        rate_limit_burst: 1,
        ..Faults::default()
    });
    let fixtures = server.fixtures().clone();
    client
        .create_attendee()
        .body(AttendeeCreate {
            booking_id: fixtures.group_appointments[0],
            patient_id: fixtures.patients[0],
            patient_case_id: None,
            arrived: None,
            notes: None,
        })
        .send()
        .await
        .expect("created after the reset");
    assert_eq!(server.requests_to("POST", "/v1/attendees"), 2);
    assert_eq!(server.attendee_count(), 21, "created exactly once");
    server.shutdown().await;
}

/// When the 429s go on past the bound, the error says when the limit resets.
#[tokio::test]
async fn a_429_past_the_bound_is_rate_limited_with_the_reset_time() {
    let server = fake(20).await;
    let client = Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(fast_retries().max_rate_limit_waits(1))
        .build()
        .expect("built");
    server.set_faults(Faults {
        rate_limit_burst: 10,
        ..Faults::default()
    });
    let before = Utc::now();
    let error = client
        .list_attendees()
        .send()
        .await
        .expect_err("still limited");
    let ErrorKind::RateLimited {
        reset_at: Some(reset_at),
    } = error.kind()
    else {
        panic!("expected a rate-limited error with a reset time, got {error:?}");
    };
    assert!(
        reset_at.timestamp() >= before.timestamp(),
        "{reset_at} is not before the request"
    );
    assert_eq!(
        server.requests_to("GET", "/v1/attendees"),
        2,
        "one wait, then the error"
    );
    server.shutdown().await;
}

/// The fake's own limit resets up to a minute away: further than the client is told to wait, so
/// the error comes back at once instead of stalling the caller.
#[tokio::test]
async fn a_reset_too_far_away_is_returned_at_once() {
    let server = FakeCliniko::builder()
        .api_key(API_KEY)
        .attendees(5)
        .rate_limit_per_minute(Some(3))
        .start()
        .await
        .expect("the fake starts");
    let client = Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(RetryPolicy::default().max_rate_limit_wait(Duration::ZERO))
        .build()
        .expect("built");
    for _ in 0..3 {
        client
            .list_attendees()
            .send()
            .await
            .expect("within the limit");
    }
    let error = client
        .list_attendees()
        .send()
        .await
        .expect_err("over the limit");
    assert!(
        matches!(error.kind(), ErrorKind::RateLimited { reset_at: Some(_) }),
        "{error:?}"
    );
    assert_eq!(server.requests_received(), 4);
    server.shutdown().await;
}

#[tokio::test]
async fn a_value_the_spec_refuses_never_leaves_the_client() {
    let server = fake(5).await;
    let client = client(&server);
    let error = client
        .list_attendees()
        .per_page(0_u64)
        .send()
        .await
        .expect_err("per_page 0");
    assert!(
        matches!(error.kind(), ErrorKind::InvalidRequest(_)),
        "{error:?}"
    );
    let empty = cliniko_client::filter::Filter::attendees()
        .id()
        .one_of(Vec::<i64>::new());
    let error = client
        .list_attendees()
        .q(empty)
        .send()
        .await
        .expect_err("empty id list");
    assert!(
        matches!(error.kind(), ErrorKind::InvalidRequest(_)),
        "{error:?}"
    );
    assert_eq!(server.requests_received(), 0);
    server.shutdown().await;
}
