//! Sync every attendee created, changed, cancelled or archived since a checkpoint, and save the
//! checkpoint to start from next time (or to resume from, after a crash).
//!
//! ```text
//! CLINIKO_API_KEY=... CLINIKO_USER_AGENT='My app (me@example.com)' \
//!     cargo run -p cliniko-client --example sync_updated_since -- checkpoint.json
//! ```
//!
//! Without `CLINIKO_API_KEY` it runs against a local fake Cliniko. `CLINIKO_BASE_URL` overrides
//! the shard named by the key. The checkpoint file is read if it exists (a first run syncs
//! everything) and rewritten after every page.

mod common;

use std::error::Error;

use cliniko_client::{SyncCheckpoint, SyncEvent};
use futures::TryStreamExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client, fake) = common::connect(1_000).await?;
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "checkpoint.json".to_owned());
    let checkpoint = match std::fs::read_to_string(&path) {
        Ok(saved) => serde_json::from_str(&saved)?,
        Err(_) => SyncCheckpoint::everything(),
    };

    let mut sync = client.sync_attendees(checkpoint);
    while let Some(event) = sync.try_next().await? {
        match event {
            SyncEvent::Attendee(attendee) => println!(
                "{}\tupdated {}\tcancelled {:?}\tarchived {:?}",
                attendee.id, attendee.updated_at, attendee.cancelled_at, attendee.archived_at
            ),
            // Everything yielded so far is behind this checkpoint: a crash resumes from here.
            SyncEvent::Progress(progress) => {
                std::fs::write(&path, serde_json::to_string(&progress.checkpoint)?)?;
                eprintln!(
                    "{} pages, {} of {} attendees, {} rate-limit waits",
                    progress.pages_read,
                    progress.attendees,
                    progress.total_entries,
                    progress.rate_limit_waits
                );
            }
            SyncEvent::Finished(next) => std::fs::write(&path, serde_json::to_string(&next)?)?,
            _ => {}
        }
    }

    if let Some(fake) = fake {
        fake.shutdown().await;
    }
    Ok(())
}
