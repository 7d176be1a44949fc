//! Each `q[]` operator and `sort`, sent by the client and checked against what the fake holds.

use crate::client_support;

use chrono::{DateTime, Utc};
use cliniko_client::filter::{AttendeeLists, Filter, Sort, SortField};
use cliniko_client::{AttendeeQuery, AttendeeRoute, Client, Error, ErrorKind};
use cliniko_types::{Attendee, Id};
use futures::TryStreamExt as _;

use client_support::{client, fake};

/// The ID at the end of a link such as `.../patients/18014398509481985`.
fn linked_id(link: &str) -> Id {
    link.rsplit('/')
        .next()
        .and_then(|last| last.parse().ok())
        .expect("a link ending in an ID")
}

fn patient_id(attendee: &Attendee) -> Id {
    linked_id(&attendee.patient.links.self_)
}

fn booking_id(attendee: &Attendee) -> Id {
    linked_id(&attendee.booking.links.self_)
}

fn patient_case_id(attendee: &Attendee) -> Option<Id> {
    attendee
        .patient_case
        .as_ref()
        .map(|case| linked_id(&case.links.self_))
}

/// The IDs `filter` selects, streamed; the generated builder, given the same filter, agrees.
async fn matching(client: &Client, filter: Filter<AttendeeLists>) -> Result<Vec<Id>, Error> {
    let first_page = client
        .list_attendees()
        .per_page(100_u64)
        .q(filter.clone())
        .send()
        .await?
        .into_inner();
    let streamed: Vec<Id> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(100).filter(filter))
        .map_ok(|attendee| attendee.id)
        .try_collect()
        .await?;
    assert_eq!(first_page.total_entries, streamed.len() as i64);
    assert!(
        first_page
            .attendees
            .iter()
            .map(|attendee| attendee.id)
            .eq(streamed.iter().copied().take(100)),
        "the builder's page is the stream's first"
    );
    let mut ids = streamed;
    ids.sort();
    Ok(ids)
}

fn expected(universe: &[Attendee], keep: impl Fn(&Attendee) -> bool) -> Vec<Id> {
    let mut ids: Vec<Id> = universe.iter().filter(|a| keep(a)).map(|a| a.id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn each_numeric_operator_selects_what_it_says() -> Result<(), Error> {
    let server = fake(400).await;
    let client = client(&server);
    let universe: Vec<Attendee> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(100))
        .try_collect()
        .await?;
    let mut ids: Vec<Id> = universe.iter().map(|a| a.id).collect();
    ids.sort();
    let pivot = ids[ids.len() / 2];
    let some = [ids[3], ids[50], ids[200]];
    let patient = patient_id(&universe[0]);
    let booking = booking_id(&universe[1]);

    let cases: Vec<(Filter<AttendeeLists>, Vec<Id>)> = vec![
        (Filter::attendees().id().eq(pivot), vec![pivot]),
        (
            Filter::attendees().id().ne(pivot),
            expected(&universe, |a| a.id != pivot),
        ),
        (
            Filter::attendees().id().gt(pivot),
            expected(&universe, |a| a.id > pivot),
        ),
        (
            Filter::attendees().id().ge(pivot),
            expected(&universe, |a| a.id >= pivot),
        ),
        (
            Filter::attendees().id().lt(pivot),
            expected(&universe, |a| a.id < pivot),
        ),
        (
            Filter::attendees().id().le(pivot),
            expected(&universe, |a| a.id <= pivot),
        ),
        (
            Filter::attendees().id().one_of(some),
            expected(&universe, |a| some.contains(&a.id)),
        ),
        (
            Filter::attendees().id().none_of(some),
            expected(&universe, |a| !some.contains(&a.id)),
        ),
        (
            Filter::attendees().patient_id().eq(patient),
            expected(&universe, |a| patient_id(a) == patient),
        ),
        (
            Filter::attendees().booking_id().eq(booking),
            expected(&universe, |a| booking_id(a) == booking),
        ),
        (
            Filter::attendees().appointment_id().eq(booking),
            expected(&universe, |a| booking_id(a) == booking),
        ),
        (
            Filter::attendees().patient_case_id().is_not_null(),
            expected(&universe, |a| patient_case_id(a).is_some()),
        ),
        (
            Filter::attendees().patient_case_id().is_null(),
            expected(&universe, |a| patient_case_id(a).is_none()),
        ),
        // Conditions combine with AND.
        (
            Filter::attendees()
                .id()
                .gt(pivot)
                .patient_case_id()
                .is_null(),
            expected(&universe, |a| a.id > pivot && patient_case_id(a).is_none()),
        ),
    ];
    for (filter, want) in cases {
        let label: Vec<String> = filter.conditions().map(str::to_owned).collect();
        assert!(
            !want.is_empty() || label.iter().any(|c| c.contains("!?") || c.contains('?')),
            "{label:?} selects nothing"
        );
        assert_eq!(matching(&client, filter).await?, want, "{label:?}");
    }
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn each_timestamp_operator_selects_what_it_says() -> Result<(), Error> {
    let server = fake(400).await;
    let client = client(&server);
    let universe: Vec<Attendee> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(100))
        .try_collect()
        .await?;
    let pivot: DateTime<Utc> = universe[universe.len() / 2].created_at;
    // The same instant written in another zone must select the same attendees.
    let pivot_elsewhere =
        pivot.with_timezone(&chrono::FixedOffset::east_opt(10 * 3600).expect("an offset"));

    let cases: Vec<(Filter<AttendeeLists>, Vec<Id>)> = vec![
        (
            Filter::attendees().created_at().gt(pivot),
            expected(&universe, |a| a.created_at > pivot),
        ),
        (
            Filter::attendees().created_at().ge(pivot_elsewhere),
            expected(&universe, |a| a.created_at >= pivot),
        ),
        (
            Filter::attendees().created_at().lt(pivot),
            expected(&universe, |a| a.created_at < pivot),
        ),
        (
            Filter::attendees().created_at().le(pivot),
            expected(&universe, |a| a.created_at <= pivot),
        ),
        (
            Filter::attendees().updated_at().gt(pivot),
            expected(&universe, |a| a.updated_at > pivot),
        ),
        (
            Filter::attendees().cancelled_at().is_null(),
            expected(&universe, |_| true),
        ),
        (Filter::attendees().archived_at().is_not_null(), Vec::new()),
    ];
    for (filter, want) in cases {
        let label: Vec<String> = filter.conditions().map(str::to_owned).collect();
        assert_eq!(matching(&client, filter).await?, want, "{label:?}");
    }

    // `*` brings back the attendees the plain route leaves out.
    let cancelled: Vec<Attendee> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::Cancelled).per_page(100))
        .try_collect()
        .await?;
    assert!(!cancelled.is_empty());
    let with_cancelled = matching(&client, Filter::attendees().cancelled_at().any()).await?;
    let mut want: Vec<Id> = universe.iter().chain(&cancelled).map(|a| a.id).collect();
    want.sort();
    assert_eq!(with_cancelled, want);
    let only_cancelled = matching(
        &client,
        Filter::attendees()
            .cancelled_at()
            .any()
            .cancelled_at()
            .is_not_null(),
    )
    .await?;
    assert_eq!(only_cancelled, expected(&cancelled, |_| true));
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn sort_orders_the_stream() -> Result<(), Error> {
    let server = fake(250).await;
    let client = client(&server);
    let sorted: Vec<Attendee> = client
        .stream_attendees(
            &AttendeeQuery::attendees()
                .per_page(30)
                .sort(Sort::new().desc(SortField::PatientId).asc(SortField::Id)),
        )
        .try_collect()
        .await?;
    assert!(sorted.len() > 100);
    assert!(sorted.windows(2).all(|pair| {
        let (a, b) = (&pair[0], &pair[1]);
        patient_id(a) > patient_id(b) || (patient_id(a) == patient_id(b) && a.id < b.id)
    }));
    let newest_first: Vec<Attendee> = client
        .stream_attendees(
            &AttendeeQuery::attendees()
                .per_page(30)
                .sort(Sort::new().desc(SortField::CreatedAt)),
        )
        .try_collect()
        .await?;
    assert!(
        newest_first
            .windows(2)
            .all(|pair| pair[0].created_at >= pair[1].created_at)
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_patient_case_and_single_attendee_filters_reach_their_routes() -> Result<(), Error> {
    let server = fake(400).await;
    let client = client(&server);
    let case = server.fixtures().patient_cases[0];
    let of_case: Vec<Attendee> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::PatientCase(case)).per_page(100))
        .try_collect()
        .await?;
    let Some(first) = of_case.first() else {
        panic!("the first patient case has attendees");
    };
    let narrowed: Vec<Attendee> = client
        .stream_attendees(
            &AttendeeQuery::new(AttendeeRoute::PatientCase(case))
                .filter(Filter::patient_case_attendees().id().eq(first.id)),
        )
        .try_collect()
        .await?;
    assert_eq!(
        narrowed.iter().map(|a| a.id).collect::<Vec<_>>(),
        [first.id]
    );

    let cancelled: Vec<Attendee> = client
        .stream_attendees(&AttendeeQuery::new(AttendeeRoute::Cancelled))
        .limit(1)
        .try_collect()
        .await?;
    let hidden = cancelled[0].id;
    let error = client
        .get_attendee()
        .id(hidden)
        .send()
        .await
        .expect_err("hidden");
    assert!(
        matches!(error.kind(), ErrorKind::NotFound { .. }),
        "{error:?}"
    );
    let found = client
        .get_attendee()
        .id(hidden)
        .q(Filter::single_attendee().cancelled_at().any())
        .send()
        .await?;
    assert_eq!(found.id, hidden);
    server.shutdown().await;
    Ok(())
}
