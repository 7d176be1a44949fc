//! Sync every attendee updated since a time, following `links.next`, and print the checkpoint to
//! start from next time.
//!
//! ```text
//! CLINIKO_API_KEY=... CLINIKO_USER_AGENT='My app (me@example.com)' \
//!     cargo run -p cliniko-client --example sync_updated_since -- 2024-01-01T00:00:00Z
//! ```
//!
//! Without `CLINIKO_API_KEY` it runs against a local fake Cliniko. `CLINIKO_BASE_URL` overrides
//! the shard named by the key. The time defaults to 30 days ago (on the fake, to a time within
//! its seed data).

mod common;

use std::error::Error;

use chrono::{DateTime, Duration, Utc};
use cliniko_client::filter::{Filter, Sort, SortField};
use futures::TryStreamExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client, fake) = common::connect(1_000).await?;
    let since: DateTime<Utc> = match (std::env::args().nth(1), &fake) {
        (Some(text), _) => DateTime::parse_from_rfc3339(&text)?.with_timezone(&Utc),
        // The fake's seed data was all written in the first days of 2020.
        (None, Some(_)) => {
            DateTime::parse_from_rfc3339("2020-01-03T12:00:00Z")?.with_timezone(&Utc)
        }
        (None, None) => Utc::now() - Duration::days(30),
    };

    // Oldest change first, so that the last attendee seen is the checkpoint for the next sync.
    let request = client
        .list_attendees()
        .per_page(100)
        .q(Filter::attendees().updated_at().gt(since))
        .sort(Sort::new().asc(SortField::UpdatedAt).asc(SortField::Id));
    let mut attendees = client.stream_attendees(request);
    let mut checkpoint = since;
    let mut count = 0_u64;
    while let Some(attendee) = attendees.try_next().await? {
        count += 1;
        checkpoint = checkpoint.max(attendee.updated_at);
        println!(
            "{}\tupdated {}\tpatient {}",
            attendee.id, attendee.updated_at, attendee.patient.links.self_
        );
    }
    println!("{count} attendees updated since {since}; next time sync from {checkpoint}");

    if let Some(fake) = fake {
        fake.shutdown().await;
    }
    Ok(())
}
