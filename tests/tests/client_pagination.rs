//! Streams that follow `links.next` across many pages, stop at a limit, and refuse bad links.

mod client_support;

use std::collections::HashSet;

use cliniko_client::Error;
use cliniko_types::Id;
use futures::{StreamExt as _, TryStreamExt as _};

use client_support::{Canned, client, fake};

#[tokio::test]
async fn a_stream_walks_every_page_once_and_in_order() -> Result<(), Error> {
    let server = fake(1000).await;
    let client = client(&server);
    let first = client
        .list_attendees()
        .per_page(7)
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
        .stream_attendees(client.list_attendees().per_page(7))
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
        .stream_attendees(client.list_attendees().per_page(10))
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
        .stream_attendees(client.list_attendees())
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
    let all: Vec<_> = client
        .stream_attendees(client.list_attendees().per_page(20))
        .try_collect()
        .await?;
    let from_third: Vec<_> = client
        .stream_attendees(client.list_attendees().per_page(20).page(3))
        .try_collect()
        .await?;
    assert_eq!(from_third[..], all[40..]);
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
        .stream_attendees(client.list_attendees())
        .collect()
        .await;
    assert_eq!(outcomes.len(), 1);
    assert!(
        matches!(&outcomes[0], Err(Error::InvalidNextLink { reason, .. }) if reason.contains("loop")),
        "{outcomes:?}"
    );
    assert_eq!(canned.requests(), 1, "the looping link is not followed");
}

/// A `next` link to another host would receive the API key; the stream refuses to follow it.
#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let canned = Canned::start(200, "application/json", |_| {
        r#"{"attendees":[],"total_entries":1000,"links":{"self":"http://127.0.0.1:9/v1/attendees?page=1","next":"https://elsewhere.invalid/v1/attendees?page=2"}}"#.to_owned()
    })
    .await;
    let client = canned.client();
    let outcomes: Vec<_> = client
        .stream_attendees(client.list_attendees())
        .collect()
        .await;
    assert!(
        matches!(&outcomes[..], [Err(Error::InvalidNextLink { reason, url })] if reason.contains("leaves") && url.contains("elsewhere.invalid")),
        "{outcomes:?}"
    );
    assert_eq!(canned.requests(), 1);
}
