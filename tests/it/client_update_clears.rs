//! Updates that can clear: each nullable field of an update is left out (keep), sent (set) or
//! sent as `null` (clear), judged on the bytes a scripted server received, and the fake Cliniko
//! applies the three alike.

use crate::client_support;

use cliniko_types::{AttendeeUpdate, Id, Patch};

use client_support::{Scripted, http_answer, sample_attendee};

fn answer() -> Option<String> {
    Some(http_answer(
        200,
        &[],
        &sample_attendee(1, "2024-01-01T00:00:00Z").to_string(),
    ))
}

/// The body each kind of update puts on the wire, byte for byte, through the generated builder.
#[tokio::test]
async fn keep_set_and_clear_on_the_wire() -> Result<(), cliniko_client::Error> {
    let server = Scripted::start(|_, _| answer()).await;
    let client = server.client("/v1");
    let id: Id = "1".parse().expect("an id");
    let cases: [(AttendeeUpdate, &str); 4] = [
        (AttendeeUpdate::default(), "{}"),
        (
            AttendeeUpdate {
                notes: Patch::Set("Late".to_owned()),
                ..Default::default()
            },
            r#"{"notes":"Late"}"#,
        ),
        (
            AttendeeUpdate {
                notes: Patch::Clear,
                arrived: Patch::Clear,
                patient_case_id: Patch::Clear,
            },
            r#"{"arrived":null,"notes":null,"patient_case_id":null}"#,
        ),
        (
            AttendeeUpdate {
                arrived: Patch::Set(false),
                patient_case_id: Patch::Set("9007199254740993".parse().expect("an id")),
                notes: Patch::Keep,
            },
            r#"{"arrived":false,"patient_case_id":"9007199254740993"}"#,
        ),
    ];
    for (update, _) in &cases {
        client
            .update_attendee()
            .id(id)
            .body(update.clone())
            .send()
            .await?;
    }
    // The builder form: a plain value sets, `None` clears.
    client
        .update_attendee_via_put()
        .id(id)
        .body(
            AttendeeUpdate::builder()
                .notes(None::<String>)
                .arrived(true),
        )
        .send()
        .await?;
    let bodies: Vec<String> = server
        .requests()
        .iter()
        .map(|request| String::from_utf8(request.body.clone()).expect("utf-8"))
        .collect();
    let mut expected: Vec<&str> = cases.iter().map(|(_, bytes)| *bytes).collect();
    expected.push(r#"{"arrived":true,"notes":null}"#);
    assert_eq!(bodies, expected);
    Ok(())
}

/// The fake keeps what is left out and clears what is sent as null.
#[tokio::test]
async fn the_fake_clears_a_field_sent_as_null() -> Result<(), Box<dyn std::error::Error>> {
    let server = client_support::fake(5).await;
    let client = client_support::client(&server);
    let listed = client
        .list_attendees()
        .per_page(1)
        .send()
        .await?
        .into_inner();
    let id = listed.attendees[0].id;
    let set = AttendeeUpdate {
        notes: Patch::Set("Brought a mat".to_owned()),
        arrived: Patch::Set(true),
        ..Default::default()
    };
    client.update_attendee().id(id).body(set).send().await?;
    let kept = AttendeeUpdate {
        arrived: Patch::Set(false),
        ..Default::default()
    };
    let after_keep = client
        .update_attendee()
        .id(id)
        .body(kept)
        .send()
        .await?
        .into_inner();
    assert_eq!(
        after_keep.notes.as_deref(),
        Some("Brought a mat"),
        "notes kept"
    );
    assert_eq!(after_keep.arrived, Some(false));
    let cleared = AttendeeUpdate {
        notes: Patch::Clear,
        arrived: Patch::Clear,
        ..Default::default()
    };
    let after_clear = client
        .update_attendee()
        .id(id)
        .body(cleared)
        .send()
        .await?
        .into_inner();
    assert_eq!(after_clear.notes, None, "notes cleared");
    assert_eq!(after_clear.arrived, None, "arrived cleared");
    server.shutdown().await;
    Ok(())
}
