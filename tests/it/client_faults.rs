//! Fault injection: 5xx bursts, latency, dropped connections and truncated bodies. Reads and
//! updates come through whole, retries stay within their bound, and no create is sent twice.

use crate::client_support;

use std::collections::HashSet;
use std::time::Duration;

use cliniko_client::{AttendeeQuery, Client, Error, ErrorKind, RetryPolicy};
use cliniko_fake::{FakeCliniko, Faults};
use cliniko_types::{Attendee, AttendeeCreate, AttendeeUpdate, Id, Patch};
use futures::TryStreamExt as _;

use client_support::{API_KEY, USER_AGENT, fake};

/// Generous retries with short backoffs: these tests check that faults are survived, not waited.
fn patient_client(server: &FakeCliniko, max_retries: u32) -> Client {
    Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(
            RetryPolicy::default()
                .max_retries(max_retries)
                .backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the client builds")
}

async fn everything(client: &Client) -> Result<Vec<Attendee>, Error> {
    client
        .stream_attendees(&AttendeeQuery::attendees().per_page(25))
        .try_collect()
        .await
}

fn create_body(server: &FakeCliniko, n: usize) -> AttendeeCreate {
    let fixtures = server.fixtures();
    AttendeeCreate {
        booking_id: fixtures.group_appointments[n % fixtures.group_appointments.len()],
        patient_id: fixtures.patients[n % fixtures.patients.len()],
        patient_case_id: None,
        arrived: None,
        notes: Some(format!("create number {n}")),
    }
}

/// Streams every attendee under `faults` and checks the result is what a fault-free run gives.
async fn stream_survives(faults: Faults) -> (u64, u64) {
    let server = fake(500).await;
    let client = patient_client(&server, 10);
    let reference = everything(&client).await.expect("a clean run");
    let pages = server.requests_to("GET", "/v1/attendees");
    server.set_faults(faults);
    let faulty = everything(&client).await.expect("every fault retried away");
    assert_eq!(
        faulty, reference,
        "the same attendees, in the same order, none twice or missing"
    );
    let with_faults = server.requests_to("GET", "/v1/attendees") - pages;
    assert!(
        with_faults <= pages * 11,
        "at most ten retries a page: {with_faults} requests for {pages} pages"
    );
    server.shutdown().await;
    (pages, with_faults)
}

#[tokio::test]
async fn a_stream_survives_server_errors() {
    let (pages, requests) = stream_survives(Faults {
        server_error_rate: 0.3,
        ..Faults::default()
    })
    .await;
    assert!(requests > pages, "some pages were retried");
}

#[tokio::test]
async fn a_stream_survives_dropped_connections() {
    let (pages, requests) = stream_survives(Faults {
        drop_rate: 0.2,
        ..Faults::default()
    })
    .await;
    assert!(requests > pages, "some pages were retried");
}

#[tokio::test]
async fn a_stream_survives_truncated_bodies() {
    let (pages, requests) = stream_survives(Faults {
        truncate_rate: 0.3,
        ..Faults::default()
    })
    .await;
    assert!(requests > pages, "some pages were retried");
}

#[tokio::test]
async fn a_stream_survives_latency_and_every_fault_at_once() {
    stream_survives(Faults {
        latency: Duration::from_millis(2),
        server_error_rate: 0.1,
        rate_limit_burst: 2,
        truncate_rate: 0.1,
        drop_rate: 0.1,
    })
    .await;
}

#[tokio::test]
async fn retries_stop_at_their_bound() {
    let server = fake(10).await;
    let client = patient_client(&server, 3);
    server.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let id = server.fixtures().attendees[0];
    let error = client
        .get_attendee()
        .id(id)
        .send()
        .await
        .expect_err("always 5xx");
    assert!(
        matches!(error.kind(), ErrorKind::Api { status, .. } if status.is_server_error()),
        "{error:?}"
    );
    assert_eq!(
        server.requests_to("GET", "/v1/attendees/{id}"),
        4,
        "one try and three retries"
    );

    server.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let error = client
        .list_attendees()
        .send()
        .await
        .expect_err("always dropped");
    assert!(matches!(error.kind(), ErrorKind::Transport(_)), "{error:?}");
    assert_eq!(
        server.requests_to("GET", "/v1/attendees"),
        4,
        "one try and three retries"
    );
    server.shutdown().await;
}

/// A create is never retried blindly: after a 5xx, a dropped connection or a cut body, the caller
/// is told the outcome is unknown (no attendee named: a create has no ID yet), and each create
/// reaches the server exactly once.
#[tokio::test]
async fn creates_are_never_sent_twice() {
    for faults in [
        Faults {
            server_error_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            drop_rate: 0.3,
            ..Faults::default()
        },
        Faults {
            truncate_rate: 0.3,
            ..Faults::default()
        },
    ] {
        let server = fake(10).await;
        let client = patient_client(&server, 10);
        server.set_faults(faults);
        let mut created = HashSet::new();
        let mut failed = 0;
        for n in 0..40 {
            match client
                .create_attendee()
                .body(create_body(&server, n))
                .send()
                .await
            {
                Ok(attendee) => assert!(created.insert(attendee.id)),
                Err(error) => {
                    failed += 1;
                    assert!(
                        matches!(
                            error.kind(),
                            ErrorKind::OutcomeUnknown {
                                attendee_id: None,
                                ..
                            }
                        ),
                        "{faults:?}: {error:?}"
                    );
                    assert_eq!(error.operation().map(|op| op.id), Some("createAttendee"));
                }
            }
        }
        assert!(failed > 0, "{faults:?} hit some creates");
        assert_eq!(
            server.requests_to("POST", "/v1/attendees"),
            40,
            "{faults:?}: each create sent once"
        );
        let added = server.attendee_count() - 10;
        if faults.truncate_rate > 0.0 {
            // A cut body comes after the attendee was saved: every create took effect.
            assert_eq!(added, 40);
        } else {
            // A 5xx or a dropped connection comes before: only the answered creates took effect.
            assert_eq!(added, created.len());
        }
        server.shutdown().await;
    }
}

/// Updates set values, so repeating one is harmless: under every fault each lands exactly as sent.
#[tokio::test]
async fn updates_land_whatever_the_faults() -> Result<(), Error> {
    let server = fake(60).await;
    let client = patient_client(&server, 10);
    let targets: Vec<Id> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(100))
        .map_ok(|attendee| attendee.id)
        .try_collect()
        .await?;
    server.set_faults(Faults {
        latency: Duration::from_millis(1),
        server_error_rate: 0.2,
        truncate_rate: 0.2,
        drop_rate: 0.2,
        ..Faults::default()
    });
    for (n, &id) in targets.iter().enumerate() {
        let notes = format!("updated under faults {n}");
        let update = AttendeeUpdate {
            notes: Patch::Set(notes.clone()),
            arrived: Patch::Set(n % 2 == 0),
            patient_case_id: Patch::Keep,
        };
        let updated = client.update_attendee().id(id).body(update).send().await?;
        assert_eq!(updated.notes.as_deref(), Some(notes.as_str()));
    }
    let updates = server.requests_to("PATCH", "/v1/attendees/{id}");
    assert!(updates > targets.len() as u64, "some updates were retried");
    server.set_faults(Faults::default());
    for (n, &id) in targets.iter().enumerate() {
        let attendee = client.get_attendee().id(id).send().await?;
        assert_eq!(
            attendee.notes.as_deref(),
            Some(format!("updated under faults {n}").as_str())
        );
        assert_eq!(attendee.arrived, Some(n % 2 == 0));
    }
    server.shutdown().await;
    Ok(())
}

/// A request slower than the client's timeout is a transport error, retried within the bound.
#[tokio::test]
async fn a_timeout_is_a_transport_error_after_bounded_retries() {
    let server = fake(10).await;
    let client = Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(
            RetryPolicy::default()
                .max_retries(2)
                .backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .timeout(Duration::from_millis(50))
        .build()
        .expect("the client builds");
    server.set_faults(Faults {
        latency: Duration::from_secs(2),
        ..Faults::default()
    });
    let error = client.list_attendees().send().await.expect_err("too slow");
    assert!(
        matches!(error.kind(), ErrorKind::Transport(source) if source.is_timeout()),
        "{error:?}"
    );
    assert_eq!(
        server.requests_to("GET", "/v1/attendees"),
        3,
        "one try and two retries"
    );
    server.set_faults(Faults::default());
    server.shutdown().await;
}
