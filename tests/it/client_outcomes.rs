//! Retries never change the outcome: a create, cancel, archive or delete is sent once when its
//! answer is a 5xx or is lost (the caller learns the outcome is unknown, with the attendee's ID),
//! and again only when it provably never reached the server (a 429). Reads are still retried.

use crate::client_support;

use cliniko_client::ErrorKind;
use cliniko_types::{AttendeeCancel, AttendeeCreate, CancellationReason, Id};

use client_support::{Scripted, attendee_list, http_answer};

const ATTENDEE: i64 = 1_390_726_237_298_631_770;

/// The first attempt times out at the gateway (Cliniko answers 504 to work that ran past 30 s
/// and may still have finished it); a second attempt would be told "already cancelled".
fn gateway_timeout_then_refusal() -> impl Fn(&client_support::Recorded, usize) -> Option<String> {
    |_, index| match index {
        0 => Some(http_answer(504, &[], r#"{"message":"Gateway Timeout"}"#)),
        _ => Some(http_answer(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":{"base":"already cancelled"}}"#,
        )),
    }
}

#[tokio::test]
async fn a_cancel_answered_504_is_sent_once_and_its_outcome_is_unknown() {
    let server = Scripted::start(gateway_timeout_then_refusal()).await;
    let client = server.client("/v1");
    let error = client
        .cancel_attendee()
        .id(Id::new(ATTENDEE))
        .body(AttendeeCancel {
            cancellation_reason: CancellationReason::FeelingBetter,
            cancellation_note: None,
            apply_to_repeats: None,
        })
        .send()
        .await
        .expect_err("the outcome is not known");
    let ErrorKind::OutcomeUnknown {
        attendee_id: Some(id),
        ..
    } = error.kind()
    else {
        panic!("expected an unknown outcome naming the attendee, got {error:?}");
    };
    assert_eq!(id.get(), ATTENDEE);
    assert_eq!(error.operation().map(|op| op.id), Some("cancelAttendee"));
    assert_eq!(error.status().map(|s| s.as_u16()), Some(504));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "sent once: {requests:?}");
    assert_eq!(
        requests[0].request_line,
        format!("PATCH /v1/attendees/{ATTENDEE}/cancel HTTP/1.1")
    );
}

#[tokio::test]
async fn archive_and_delete_answered_504_are_sent_once() {
    for archive in [true, false] {
        let server = Scripted::start(gateway_timeout_then_refusal()).await;
        let client = server.client("/v1");
        let result = if archive {
            client
                .archive_attendee()
                .id(Id::new(ATTENDEE))
                .send()
                .await
                .map(drop)
        } else {
            client
                .delete_attendee()
                .id(Id::new(ATTENDEE))
                .send()
                .await
                .map(drop)
        };
        let error = result.expect_err("the outcome is not known");
        assert!(error.is_outcome_unknown(), "{error:?}");
        assert_eq!(server.requests().len(), 1);
        let expected = if archive {
            format!("POST /v1/attendees/{ATTENDEE}/archive ")
        } else {
            format!("DELETE /v1/attendees/{ATTENDEE} ")
        };
        let requests = server.requests();
        assert!(
            requests[0].request_line.starts_with(&expected),
            "expected {expected:?}, sent {:?}",
            requests[0].request_line
        );
    }
}

/// A create whose connection is closed after it was sent: not sent again.
#[tokio::test]
async fn a_create_whose_answer_is_lost_is_sent_once() {
    let server = Scripted::start(|_, _| None).await;
    let client = server.client("/v1");
    let error = client
        .create_attendee()
        .body(AttendeeCreate {
            booking_id: Id::new(5),
            patient_id: Id::new(6),
            arrived: None,
            notes: None,
            patient_case_id: None,
        })
        .send()
        .await
        .expect_err("no answer");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::OutcomeUnknown {
                attendee_id: None,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// A 429 means Cliniko did not act: the cancel is sent again and succeeds.
#[tokio::test]
async fn a_cancel_answered_429_is_sent_again() {
    let server = Scripted::start(|_, index| match index {
        0 => Some(http_answer(
            429,
            &[("x-ratelimit-reset", "0".to_owned())],
            r#"{"message":"Too Many Requests"}"#,
        )),
        _ => Some("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".to_owned()),
    })
    .await;
    let client = server.client("/v1");
    client
        .cancel_attendee()
        .id(Id::new(ATTENDEE))
        .body(AttendeeCancel {
            cancellation_reason: CancellationReason::Sick,
            cancellation_note: None,
            apply_to_repeats: None,
        })
        .send()
        .await
        .expect("cancelled on the second attempt");
    assert_eq!(server.requests().len(), 2);
    let requests = server.requests();
    assert_eq!(requests[1].request_line, requests[0].request_line);
    assert_eq!(requests[1].body, requests[0].body);
}

/// A read is safe to repeat: a 502 is retried.
#[tokio::test]
async fn a_read_answered_502_is_retried() {
    let server = Scripted::start(|_, index| match index {
        0 => Some(http_answer(502, &[], r#"{"message":"Bad Gateway"}"#)),
        _ => Some(http_answer(200, &[], &attendee_list(1, 1, 1, None))),
    })
    .await;
    let client = server.client("/v1");
    let list = client
        .list_attendees()
        .send()
        .await
        .expect("the retry succeeds");
    assert_eq!(list.attendees.len(), 1);
    assert_eq!(server.requests().len(), 2);
}
