//! Streams that follow `links.next` across many pages, stop at a limit, and refuse bad links.

use crate::client_support;

use std::collections::HashSet;

use cliniko_client::{AttendeeQuery, Error, ErrorKind};
use cliniko_types::Id;
use futures::{StreamExt as _, TryStreamExt as _};

use client_support::{Canned, client, fake};

#[tokio::test]
async fn a_stream_walks_every_page_once_and_in_order() -> Result<(), Error> {
    let server = fake(1000).await;
    let client = client(&server);
    let first = client
        .list_attendees()
        .per_page(7_u64)
        .send()
        .await?
        .into_inner();
    let total = usize::try_from(first.total_entries).expect("a count");
    assert!(
        total > 500,
        "most seeded attendees are neither cancelled nor archived"
    );
    let requests_before = server.requests_to("GET", "/v1/attendees");

    let attendees: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(7))
        .try_collect()
        .await?;

    assert_eq!(attendees.len(), total);
    let unique: HashSet<Id> = attendees.iter().map(|a| a.id).collect();
    assert_eq!(unique.len(), total, "no attendee twice");
    assert!(
        attendees
            .windows(2)
            .all(|pair| pair[0].created_at <= pair[1].created_at),
        "Cliniko's default order"
    );
    assert_eq!(
        attendees[..7],
        first.attendees[..],
        "the first page is the one the request asked for"
    );
    let pages = total.div_ceil(7) as u64;
    assert_eq!(
        server.requests_to("GET", "/v1/attendees") - requests_before,
        pages,
        "one request per page"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_limit_stops_without_fetching_further_pages() -> Result<(), Error> {
    let server = fake(300).await;
    let client = client(&server);
    let attendees: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(10))
        .limit(25)
        .try_collect()
        .await?;
    assert_eq!(attendees.len(), 25);
    assert_eq!(
        server.requests_to("GET", "/v1/attendees"),
        3,
        "pages 1 to 3 hold the first 25"
    );
    let none: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees())
        .limit(0)
        .try_collect()
        .await?;
    assert!(none.is_empty());
    assert_eq!(
        server.requests_to("GET", "/v1/attendees"),
        3,
        "a limit of 0 fetches nothing"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_stream_can_start_from_a_later_page() -> Result<(), Error> {
    let server = fake(100).await;
    let client = client(&server);
    let query = AttendeeQuery::attendees().per_page(20);
    let all: Vec<_> = client.stream_attendees(&query).try_collect().await?;
    // Read two pages, then start a new stream where the first one stopped.
    let mut pages = client.attendee_pages(&query);
    for _ in 0..2 {
        pages.try_next().await?.expect("a page");
    }
    let third = pages.cursor().cloned().expect("a next page");
    assert_eq!(third.page(), 3);
    let requests_before = server.requests_to("GET", "/v1/attendees");
    let from_third: Vec<_> = client.resume_attendees(third).try_collect().await?;
    assert_eq!(from_third[..], all[40..]);
    assert_eq!(
        server.requests_to("GET", "/v1/attendees") - requests_before,
        (all.len() - 40).div_ceil(20) as u64,
        "pages 1 and 2 are not read again"
    );
    server.shutdown().await;
    Ok(())
}

/// A page whose `next` is itself: without the check the stream would never end.
#[tokio::test]
async fn a_next_link_that_loops_ends_the_stream_with_an_error() {
    let canned = Canned::start(200, "application/json", |base| {
        format!(
            r#"{{"attendees":[],"total_entries":1000,"links":{{"self":"{base}/attendees?page=1","next":"{base}/attendees?page=1"}}}}"#
        )
    })
    .await;
    let client = canned.client();
    let outcomes: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees())
        .collect()
        .await;
    assert_eq!(outcomes.len(), 1);
    assert!(
        matches!(&outcomes[0], Err(error) if matches!(error.kind(), ErrorKind::InvalidNextLink { reason, .. } if reason.contains("loop"))),
        "{outcomes:?}"
    );
    assert_eq!(canned.requests(), 1, "the looping link is not followed");
}

/// A `next` link naming another host (Cliniko's own, when the client talks to a proxy) is followed
/// by its query on the configured base URL: the key never goes to the link's host. Here the canned
/// server names page 2 on another host each time, so the second page's link loops and ends the
/// stream; an attempt to reach the other host would have failed as a transport error instead.
#[tokio::test]
async fn a_next_link_to_another_host_is_followed_on_the_base_url() {
    let canned = Canned::start(200, "application/json", |_| {
        r#"{"attendees":[],"total_entries":1000,"links":{"self":"http://127.0.0.1:9/v1/attendees?page=1","next":"https://elsewhere.invalid/v1/attendees?page=2"}}"#.to_owned()
    })
    .await;
    let client = canned.client();
    let outcomes: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees())
        .collect()
        .await;
    assert!(
        matches!(&outcomes[..], [Err(error)] if matches!(error.kind(), ErrorKind::InvalidNextLink { reason, url } if reason.contains("loop") && url.contains("elsewhere.invalid"))),
        "{outcomes:?}"
    );
    assert_eq!(
        canned.requests(),
        2,
        "page 1, then page 2 on the canned server"
    );
}
