//! Every operation of the spec, through the client's generated builders, against the fake.

use crate::client_support;

use cliniko_client::filter::Filter;
use cliniko_client::{AttendeeQuery, AttendeeRoute, Error, ErrorKind, ResponseExt as _};
use cliniko_types::{
    AttendeeCancel, AttendeeCreate, AttendeeUpdate, CancellationReason, Id, Patch,
};
use futures::TryStreamExt as _;

use client_support::{client, fake};

const TWO_TO_THE_53: i64 = 1 << 53;

fn create_body(booking_id: Id, patient_id: Id) -> AttendeeCreate {
    AttendeeCreate {
        booking_id,
        patient_id,
        patient_case_id: None,
        arrived: None,
        notes: Some("Brought a mat".to_owned()),
    }
}

fn cancel_body() -> AttendeeCancel {
    AttendeeCancel {
        cancellation_reason: CancellationReason::FeelingBetter,
        cancellation_note: Some("Back to work".to_owned()),
        apply_to_repeats: None,
    }
}

#[tokio::test]
async fn create_get_update_cancel_archive_and_delete() -> Result<(), Error> {
    let server = fake(50).await;
    let client = client(&server);
    let fixtures = server.fixtures().clone();
    let before = server.attendee_count();

    // Create: 201, the attendee, and its URL in `Location`.
    let created = client
        .create_attendee()
        .body(create_body(
            fixtures.group_appointments[0],
            fixtures.patients[0],
        ))
        .send()
        .await?;
    assert_eq!(created.status().as_u16(), 201);
    assert!(
        created
            .patient
            .links
            .self_
            .ends_with(&format!("/patients/{}", fixtures.patients[0]))
    );
    let location = created.location().expect("a Location header");
    assert_eq!(
        location.as_str(),
        format!("{}/attendees/{}", server.base_url(), created.id)
    );
    assert!(created.request_id().is_some());
    assert_eq!(server.attendee_count(), before + 1);
    let id = created.id;

    // Get.
    let fetched = client.get_attendee().id(id).send().await?.into_inner();
    assert_eq!(fetched.id, id);
    assert_eq!(fetched.notes.as_deref(), Some("Brought a mat"));

    // Update with PATCH, then with PUT.
    let arrived = AttendeeUpdate {
        arrived: Patch::Set(true),
        ..AttendeeUpdate::default()
    };
    let updated = client
        .update_attendee()
        .id(id)
        .body(arrived)
        .send()
        .await?
        .into_inner();
    assert_eq!(updated.arrived, Some(true));
    let noted = AttendeeUpdate {
        notes: Patch::Set("Moved to the front".to_owned()),
        ..AttendeeUpdate::default()
    };
    let updated = client
        .update_attendee_via_put()
        .id(id)
        .body(noted)
        .send()
        .await?
        .into_inner();
    assert_eq!(updated.notes.as_deref(), Some("Moved to the front"));
    assert_eq!(updated.arrived, Some(true));

    // Cancel: 204, then it is only found with the `*` filter and on the cancelled route.
    let cancelled = client
        .cancel_attendee()
        .id(id)
        .body(cancel_body())
        .send()
        .await?;
    assert_eq!(cancelled.status().as_u16(), 204);
    let error = client
        .get_attendee()
        .id(id)
        .send()
        .await
        .expect_err("hidden once cancelled");
    assert!(
        matches!(error.kind(), ErrorKind::NotFound { .. }),
        "{error:?}"
    );
    let found = client
        .get_attendee()
        .id(id)
        .q(Filter::single_attendee().cancelled_at().any())
        .send()
        .await?
        .into_inner();
    assert_eq!(
        found.cancellation_reason,
        Some(CancellationReason::FeelingBetter)
    );
    assert!(found.cancelled_at.is_some());
    let cancelled_ids: Vec<Id> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::Cancelled).per_page(100))
        .map_ok(|attendee| attendee.id)
        .try_collect()
        .await?;
    assert!(cancelled_ids.contains(&id));

    // Archive, and the deprecated DELETE that now archives too.
    let second = client
        .create_attendee()
        .body(create_body(
            fixtures.group_appointments[1],
            fixtures.patients[1],
        ))
        .send()
        .await?
        .into_inner();
    let archived = client.archive_attendee().id(second.id).send().await?;
    assert_eq!(archived.status().as_u16(), 204);
    let third = client
        .create_attendee()
        .body(create_body(
            fixtures.group_appointments[2],
            fixtures.patients[2],
        ))
        .send()
        .await?
        .into_inner();
    let deleted = client.delete_attendee().id(third.id).send().await?;
    assert_eq!(deleted.status().as_u16(), 204);
    let deleted_ids: Vec<Id> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::Deleted).per_page(100))
        .map_ok(|attendee| attendee.id)
        .try_collect()
        .await?;
    assert!(deleted_ids.contains(&second.id));
    assert!(deleted_ids.contains(&third.id));
    let plain = client
        .list_attendees()
        .per_page(100)
        .q(Filter::attendees().id().one_of([second.id, third.id]))
        .send()
        .await?;
    assert!(
        plain.attendees.is_empty(),
        "archived attendees leave the plain list"
    );

    // Each mutating request reached the server exactly once.
    assert_eq!(server.requests_to("POST", "/v1/attendees"), 3);
    assert_eq!(server.requests_to("PATCH", "/v1/attendees/{id}"), 1);
    assert_eq!(server.requests_to("PUT", "/v1/attendees/{id}"), 1);
    assert_eq!(server.requests_to("PATCH", "/v1/attendees/{id}/cancel"), 1);
    assert_eq!(server.requests_to("POST", "/v1/attendees/{id}/archive"), 1);
    assert_eq!(server.requests_to("DELETE", "/v1/attendees/{id}"), 1);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn every_list_route_answers_through_its_builder() -> Result<(), Error> {
    let server = fake(300).await;
    let client = client(&server);
    let fixtures = server.fixtures().clone();

    let all: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(100))
        .try_collect()
        .await?;
    assert!(!all.is_empty());
    assert!(
        all.iter()
            .all(|attendee| attendee.cancelled_at.is_none() && attendee.archived_at.is_none())
    );

    let deleted: Vec<_> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::Deleted).per_page(100))
        .try_collect()
        .await?;
    assert!(deleted.iter().all(|attendee| attendee.deleted_at.is_some()));
    let cancelled: Vec<_> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::Cancelled).per_page(100))
        .try_collect()
        .await?;
    assert!(
        cancelled
            .iter()
            .all(|attendee| attendee.cancelled_at.is_some())
    );

    // The nested routes: each attendee they return is one whose booking (or case) is in the path.
    let group = fixtures.group_appointments[0];
    let of_group: Vec<_> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::GroupAppointment(group)).per_page(100))
        .try_collect()
        .await?;
    assert!(
        of_group
            .iter()
            .all(|a| a.booking.links.self_.ends_with(&format!("/{group}")))
    );
    let individual = fixtures.individual_appointments[0];
    let of_individual: Vec<_> = client
        .stream_attendees(
            &AttendeeQuery::new(AttendeeRoute::IndividualAppointment(individual)).per_page(100),
        )
        .try_collect()
        .await?;
    assert!(
        of_individual
            .iter()
            .all(|a| a.booking.links.self_.ends_with(&format!("/{individual}")))
    );
    let case = fixtures.patient_cases[0];
    let of_case: Vec<_> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::PatientCase(case)).per_page(100))
        .try_collect()
        .await?;
    assert!(of_case.iter().all(|a| {
        a.patient_case
            .as_ref()
            .is_some_and(|linked| linked.links.self_.ends_with(&format!("/{case}")))
    }));
    // Together the nested routes see attendees, so the checks above are not vacuous.
    assert!(of_group.len() + of_individual.len() + of_case.len() > 0);

    // Each route's generated builder answers the stream's first page.
    let first_pages = [
        client
            .list_attendees()
            .per_page(100_u64)
            .send()
            .await?
            .into_inner(),
        client
            .list_deleted_attendees()
            .per_page(100_u64)
            .send()
            .await?
            .into_inner(),
        client
            .list_cancelled_attendees()
            .per_page(100_u64)
            .send()
            .await?
            .into_inner(),
        client
            .list_group_appointment_attendees()
            .group_appointment_id(group)
            .per_page(100_u64)
            .send()
            .await?
            .into_inner(),
        client
            .list_individual_appointment_attendees()
            .individual_appointment_id(individual)
            .per_page(100_u64)
            .send()
            .await?
            .into_inner(),
        client
            .list_patient_case_attendees()
            .patient_case_id(case)
            .per_page(100_u64)
            .send()
            .await?
            .into_inner(),
    ];
    for (page, streamed) in first_pages.iter().zip([
        &all,
        &deleted,
        &cancelled,
        &of_group,
        &of_individual,
        &of_case,
    ]) {
        assert_eq!(page.total_entries, streamed.len() as i64);
        assert_eq!(page.attendees[..], streamed[..streamed.len().min(100)]);
    }
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn ids_above_two_to_the_53_survive_a_round_trip() -> Result<(), Error> {
    let server = fake(200).await;
    let client = client(&server);
    let big: Vec<Id> = server
        .fixtures()
        .attendees
        .iter()
        .copied()
        .filter(|id| id.get() > TWO_TO_THE_53)
        .collect();
    assert!(!big.is_empty(), "the fake seeds IDs above 2^53");
    for &id in big.iter().take(5) {
        // Each of these IDs differs from its neighbours by less than a float can tell apart.
        let found = client
            .get_attendee()
            .id(id)
            .q(Filter::single_attendee()
                .cancelled_at()
                .any()
                .archived_at()
                .any())
            .send()
            .await?
            .into_inner();
        assert_eq!(found.id, id);
        assert_eq!(
            found.links.self_,
            format!("{}/attendees/{id}", server.base_url())
        );
    }
    // Patient IDs are all above 2^54; a create sends them as strings and gets them back exactly.
    let patient = *server.fixtures().patients.last().expect("patients");
    let created = client
        .create_attendee()
        .body(create_body(
            server.fixtures().group_appointments[0],
            patient,
        ))
        .send()
        .await?
        .into_inner();
    assert!(
        created
            .patient
            .links
            .self_
            .ends_with(&format!("/patients/{patient}"))
    );
    let listed = client
        .list_attendees()
        .q(Filter::attendees()
            .patient_id()
            .eq(patient)
            .id()
            .eq(created.id))
        .send()
        .await?
        .into_inner();
    assert_eq!(listed.attendees.len(), 1);
    assert_eq!(listed.attendees[0].id, created.id);
    server.shutdown().await;
    Ok(())
}
