//! The generic list API (`ListRoute`, `ListQuery<L>`, `Client::stream`/`pages`): any list route
//! of any resource of the spec, checked against the spec before sending, and the same records as
//! the attendee API for attendees.

use crate::client_support;

use cliniko_client::{AttendeeQuery, Error, ListCursor, ListQuery, ListRoute, Route};
use cliniko_types::AttendeeList;
use cliniko_types::resource::Role;
use futures::TryStreamExt as _;

use client_support::{client, fake};

#[test]
fn a_route_must_be_a_list_route_of_a_resource_with_its_parent() {
    for (operation, parent, expected) in [
        ("getAttendee", None, "is not a list route"),
        ("listPatientCaseAttendees", None, "is nested"),
        ("listAttendees", Some("7"), "takes no parent"),
        ("listWidgets", None, "has no operation"),
    ] {
        let result = match parent {
            Some(parent) => ListRoute::nested(operation, parent.parse().expect("an id")),
            None => ListRoute::new(operation),
        };
        let error = result.expect_err(operation).to_string();
        assert!(error.contains(expected), "{operation}: {error}");
    }
    let nested = ListRoute::nested(
        "listGroupAppointmentAttendees",
        "9007199254740993".parse().expect("an id"),
    )
    .expect("a nested route");
    assert_eq!(
        nested.path(),
        "/group_appointments/9007199254740993/attendees"
    );
}

#[test]
fn a_cursor_serialises_its_route_by_operation_and_refuses_an_unknown_one() {
    let cursor = ListQuery::<AttendeeList>::role(Role::ListDeleted)
        .expect("attendees have a deleted route")
        .per_page(5)
        .first_page()
        .expect("a valid query");
    let saved = serde_json::to_value(&cursor).expect("serialises");
    assert_eq!(
        saved,
        serde_json::json!({"route": {"operation": "listDeletedAttendees"}, "query": "page=1&per_page=5", "page": 1})
    );
    let back: ListCursor = serde_json::from_value(saved).expect("reads back");
    assert_eq!(back, cursor);
    let unknown =
        serde_json::json!({"route": {"operation": "listWidgets"}, "query": "page=1", "page": 1});
    let error = serde_json::from_value::<ListCursor>(unknown).expect_err("no such operation");
    assert!(error.to_string().contains("listWidgets"), "{error}");
}

#[tokio::test]
async fn the_generic_stream_reads_what_the_attendee_stream_reads() -> Result<(), Error> {
    let server = fake(120).await;
    let client = client(&server);
    let generic: Vec<_> = client
        .stream(&ListQuery::<AttendeeList>::list().per_page(7))
        .try_collect()
        .await?;
    let attendees: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(7))
        .try_collect()
        .await?;
    assert!(generic.len() > 50, "{} attendees", generic.len());
    assert_eq!(generic, attendees);

    // A nested route, by operation and parent, with a condition checked against its fields.
    // A group appointment some attendee of the plain list is booked into.
    let groups = &server.fixtures().group_appointments;
    let group = attendees
        .iter()
        .filter_map(|a| a.booking.links.self_.rsplit('/').next()?.parse().ok())
        .find(|id: &cliniko_types::Id| groups.contains(id))
        .expect("an attendee of a group appointment");
    let route = ListRoute::nested("listGroupAppointmentAttendees", group).expect("nested");
    let nested: Vec<_> = client
        .stream(&ListQuery::<AttendeeList>::new(route.clone()).condition("id:>0"))
        .try_collect()
        .await?;
    assert!(!nested.is_empty(), "the group appointment has attendees");
    for attendee in &nested {
        assert!(
            attendee.booking.links.self_.ends_with(&format!("/{group}")),
            "{} is not in {group}",
            attendee.id
        );
    }
    let refused = client
        .stream(&ListQuery::<AttendeeList>::new(route).condition("colour:=red"))
        .try_collect::<Vec<_>>()
        .await
        .expect_err("not a field of the route");
    assert!(
        refused.to_string().contains("does not filter on colour"),
        "{refused}"
    );
    server.shutdown().await;
    Ok(())
}

/// A sync of another resource than attendees: every patient once, then across a second sync
/// from the first one's checkpoint, only the version that changed, none twice.
#[tokio::test]
async fn patients_sync_every_version_once_across_syncs() -> Result<(), Error> {
    use cliniko_client::{RecordEvent, SyncCheckpoint, SyncOptions};
    use cliniko_types::PatientList;
    use cliniko_types::resource::Versioned as _;
    use std::collections::HashSet;

    let server = fake(40).await;
    let client = client(&server);
    let seeded = server.record_count("patient").expect("patients are served");
    assert!(seeded > 3, "{seeded} patients");

    let options = SyncOptions::default().per_page(7);
    let mut first: Vec<(cliniko_types::Id, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let mut next = None;
    let events: Vec<_> = client
        .sync::<PatientList>(SyncCheckpoint::everything(), options)
        .try_collect()
        .await?;
    for event in events {
        match event {
            RecordEvent::Record(patient) => first.push((patient.id(), patient.updated_at())),
            RecordEvent::Finished(checkpoint) => next = Some(checkpoint),
            _ => {}
        }
    }
    let ids: HashSet<_> = first.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), first.len(), "no patient twice");
    assert_eq!(first.len(), seeded, "every patient, archived ones included");
    let next = next.expect("the sync finished");

    // One patient changes; the next sync yields it, and nothing the first one yielded.
    // An archived or deleted patient cannot be changed (404), so the change is to a live one.
    let live = server
        .records("patient")
        .expect("the fake lists its patients")
        .into_iter()
        .find(|p| p["archived_at"].is_null() && p["deleted_at"].is_null())
        .expect("a live patient");
    let changed: cliniko_types::Id = live["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a string ID");
    let body: cliniko_types::PatientUpdate =
        serde_json::from_value(serde_json::json!({ "notes": "Moved to Dunedin" }))
            .expect("an update");
    client
        .update_patient()
        .id(changed)
        .body(body)
        .send()
        .await?;
    let mut second = Vec::new();
    let events: Vec<_> = client
        .sync::<PatientList>(next, options)
        .try_collect()
        .await?;
    for event in events {
        if let RecordEvent::Record(patient) = event {
            second.push((patient.id(), patient.updated_at()));
        }
    }
    assert!(
        second.iter().any(|(id, _)| *id == changed),
        "the changed patient comes again: {second:?}"
    );
    for version in &second {
        assert!(
            !first.contains(version),
            "{version:?} was yielded by both syncs"
        );
    }
    server.shutdown().await;
    Ok(())
}
