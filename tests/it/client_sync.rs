//! Incremental sync against the fake while records change under it: every attendee version is
//! yielded once, none is lost (a record that moved between pages is still read, and a record that
//! changed during a sync is read again by the next one), also under 5xx answers, dropped
//! connections and 429 storms, and a sync resumes from a saved checkpoint.

use crate::client_support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use cliniko_client::filter::Filter;
use cliniko_client::{
    AttendeeQuery, AttendeeSync, Client, RetryPolicy, SyncCheckpoint, SyncEvent, SyncOptions,
    SyncProgress,
};
use cliniko_fake::{FakeCliniko, Faults};
use cliniko_types::Attendee;
use futures::TryStreamExt as _;

use client_support::{API_KEY, USER_AGENT, fake};

fn patient_client(server: &FakeCliniko) -> Client {
    Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(
            RetryPolicy::default()
                .max_retries(30)
                .backoff(Duration::from_millis(1), Duration::from_millis(5))
                .max_rate_limit_waits(30),
        )
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the client builds")
}

/// Every attendee the server holds, in every state, read without faults.
async fn truth(client: &Client) -> BTreeMap<i64, Attendee> {
    let query = AttendeeQuery::attendees()
        .per_page(100)
        .filter(Filter::attendees().cancelled_at().any().archived_at().any());
    client
        .stream_attendees(&query)
        .try_collect::<Vec<_>>()
        .await
        .expect("a clean read")
        .into_iter()
        .map(|attendee| (attendee.id.get(), attendee))
        .collect()
}

/// What a sync has yielded so far: the attendees in order, its last progress (whose counts are the
/// sync's totals so far: the 429s it waited out, the requests it sent again) and, once it has
/// finished, the checkpoint to start the next sync from.
#[derive(Default)]
struct Yielded {
    attendees: Vec<Attendee>,
    progress: Option<SyncProgress>,
    next: Option<SyncCheckpoint>,
}

impl Yielded {
    /// Reads `sync` until it ends, or until its last progress shows `enough`.
    async fn read(&mut self, sync: &mut AttendeeSync, enough: impl Fn(&SyncProgress) -> bool) {
        while !self.progress.as_ref().is_some_and(&enough) {
            let Some(event) = sync.try_next().await.expect("every fault retried away") else {
                break;
            };
            match event {
                SyncEvent::Attendee(attendee) => self.attendees.push(*attendee),
                SyncEvent::Progress(progress) => self.progress = Some(progress),
                SyncEvent::Finished(next) => self.next = Some(next),
                _ => {}
            }
        }
    }
}

/// Reads `sync` to its end, after what it has already `yielded`: the attendees in order, the next
/// checkpoint, and the last progress.
async fn finish(
    mut sync: AttendeeSync,
    mut yielded: Yielded,
) -> (Vec<Attendee>, SyncCheckpoint, SyncProgress) {
    yielded.read(&mut sync, |_| false).await;
    (
        yielded.attendees,
        yielded.next.expect("a finished event"),
        yielded.progress.expect("a progress event"),
    )
}

/// Runs a sync to its end: the attendees in order, the next checkpoint, and the last progress.
async fn sync(
    client: &Client,
    checkpoint: SyncCheckpoint,
    per_page: i64,
) -> (Vec<Attendee>, SyncCheckpoint, SyncProgress) {
    let sync = client.sync_attendees_with(checkpoint, SyncOptions::default().per_page(per_page));
    finish(sync, Yielded::default()).await
}

fn assert_no_version_twice(attendees: &[Attendee]) {
    let mut seen = HashSet::new();
    for attendee in attendees {
        assert!(
            seen.insert((attendee.id.get(), attendee.updated_at)),
            "attendee {} at {} yielded twice",
            attendee.id,
            attendee.updated_at
        );
    }
}

/// Changes attendees through the API (raw HTTP, so the client under test is not the judge) until
/// told to stop: notes, cancels, archives and creates, spread over the whole data set so that
/// records move between the pages the sync is reading.
fn mutate(server: &FakeCliniko, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let base = server.base_url();
    let fixtures = server.fixtures().clone();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:"))
    );
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut changes = 0_u64;
        let mut n = 0_usize;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let id = fixtures.attendees[(n * 37) % fixtures.attendees.len()];
            let request = match n % 4 {
                0 => http
                    .patch(format!("{base}/attendees/{id}"))
                    .json(&serde_json::json!({ "notes": format!("change {n}") })),
                1 => http
                    .patch(format!("{base}/attendees/{id}/cancel"))
                    .json(&serde_json::json!({ "cancellation_reason": 10 })),
                2 => http.post(format!("{base}/attendees/{id}/archive")),
                _ => http.post(format!("{base}/attendees")).json(&serde_json::json!({
                    "booking_id": fixtures.group_appointments[n % fixtures.group_appointments.len()].to_string(),
                    "patient_id": fixtures.patients[n % fixtures.patients.len()].to_string(),
                })),
            };
            let answer = request
                .header("authorization", &auth)
                .header("user-agent", USER_AGENT)
                .header("accept", "application/json")
                .send()
                .await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                changes += 1;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        changes
    })
}

/// Runs a first sync under `faults` while records change, then a second from its checkpoint, and
/// checks that together they lose and repeat nothing; returns the first sync's last progress.
///
/// With `met`, the first sync reads alone until its progress shows it: until then no other
/// request draws on the faults (a 429 burst, the seeded shares of 5xx and dropped connections),
/// so they surely reach the sync rather than only the mutator's requests. Then records change.
async fn survives(faults: Faults, met: Option<fn(&SyncProgress) -> bool>) -> SyncProgress {
    let server = fake(1_500).await;
    let client = patient_client(&server);
    let before = truth(&client).await;
    server.set_faults(faults);
    let mut first_sync = client.sync_attendees_with(
        SyncCheckpoint::everything(),
        SyncOptions::default().per_page(20),
    );
    let mut yielded = Yielded::default();
    if let Some(met) = met {
        yielded.read(&mut first_sync, met).await;
        assert!(
            yielded.progress.as_ref().is_some_and(met),
            "the sync ended before the faults reached it: {:?}",
            yielded.progress
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mutator = mutate(&server, stop.clone());
    let (first, checkpoint, progress) = finish(first_sync, yielded).await;
    stop.store(true, Ordering::SeqCst);
    let changes = mutator.await.expect("the mutator ends");
    assert!(
        changes >= 20,
        "only {changes} changes were made during the sync"
    );
    assert_no_version_twice(&first);
    // Every attendee that did not change is in the first sync itself, even though the changes
    // moved records between its pages.
    let first_ids: HashSet<i64> = first.iter().map(|a| a.id.get()).collect();
    server.set_faults(Faults::default());
    let unchanged_truth = truth(&client).await;
    // More changes between the two syncs, and the same faults again for the second one.
    let stop = Arc::new(AtomicBool::new(false));
    let between = mutate(&server, stop.clone());
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, Ordering::SeqCst);
    let changed_between = between.await.expect("the mutator ends");
    assert!(changed_between > 0, "nothing changed between the syncs");
    let after = truth(&client).await;
    server.set_faults(faults);
    let unchanged: Vec<i64> = unchanged_truth
        .iter()
        .filter(|(id, attendee)| before.get(id) == Some(attendee))
        .map(|(id, _)| *id)
        .collect();
    let lost: Vec<&i64> = unchanged
        .iter()
        .filter(|id| !first_ids.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} unchanged attendees lost: {lost:?}",
        lost.len()
    );
    // The next sync, from the returned checkpoint, brings the replica level with the server.
    let json = serde_json::to_string(&checkpoint).expect("the checkpoint serialises");
    let (second, _, _) = sync(
        &client,
        serde_json::from_str(&json).expect("reads back"),
        20,
    )
    .await;
    server.set_faults(Faults::default());
    // Exactly once across the two syncs: what the first yielded within its safety margin is not
    // yielded again by the second, although the second reads it again.
    assert!(
        checkpoint.versions_delivered() > 0,
        "the first sync's checkpoint remembers no version within its margin: {json}"
    );
    let both: Vec<Attendee> = first.iter().chain(&second).cloned().collect();
    assert_no_version_twice(&both);
    let mut replica: BTreeMap<i64, Attendee> = BTreeMap::new();
    for attendee in first.into_iter().chain(second) {
        let newer = replica
            .get(&attendee.id.get())
            .is_none_or(|held| held.updated_at <= attendee.updated_at);
        if newer {
            replica.insert(attendee.id.get(), attendee);
        }
    }
    let missing: Vec<&i64> = after
        .keys()
        .filter(|id| !replica.contains_key(id))
        .collect();
    if !missing.is_empty() {
        eprintln!("checkpoint {json}");
        for id in &missing {
            eprintln!(
                "lost {:?} {:?} in first: {}",
                after[id].updated_at,
                before.get(id).map(|a| a.updated_at),
                first_ids.contains(id)
            );
        }
    }
    assert!(missing.is_empty(), "lost: {missing:?}");
    let stale: Vec<&i64> = after
        .iter()
        .filter(|(id, attendee)| replica.get(id) != Some(attendee))
        .map(|(id, _)| id)
        .collect();
    for id in &stale {
        eprintln!(
            "server: {:?}\nreplica: {:?}\nbefore: {:?}",
            after.get(id),
            replica.get(id),
            before.get(id)
        );
    }
    assert!(stale.is_empty(), "stale or extra: {stale:?}");
    assert_eq!(replica.len(), after.len());
    server.shutdown().await;
    progress
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_while_records_change_loses_and_repeats_nothing() {
    survives(
        Faults {
            latency: Duration::from_millis(3),
            ..Faults::default()
        },
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_survives_server_errors_and_dropped_connections() {
    let progress = survives(
        Faults {
            latency: Duration::from_millis(2),
            server_error_rate: 0.1,
            drop_rate: 0.05,
            ..Faults::default()
        },
        Some(|progress: &SyncProgress| progress.retries > 0),
    )
    .await;
    assert!(
        progress.retries > 0,
        "the sync sent no request again: {progress:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_survives_a_429_storm() {
    let progress = survives(
        Faults {
            latency: Duration::from_millis(2),
            rate_limit_burst: 4,
            ..Faults::default()
        },
        Some(|progress: &SyncProgress| progress.rate_limit_waits > 0),
    )
    .await;
    assert!(
        progress.rate_limit_waits > 0,
        "the sync waited out no 429: {progress:?}"
    );
}

/// A sync stopped after a few pages (a crash) resumes from its saved checkpoint: together the two
/// runs yield every attendee once.
#[tokio::test]
async fn a_sync_resumes_from_a_saved_checkpoint() {
    let server = fake(700).await;
    let client = patient_client(&server);
    let everyone = truth(&client).await;
    let mut interrupted = client.sync_attendees_with(
        SyncCheckpoint::everything(),
        SyncOptions::default().per_page(50),
    );
    let mut yielded = Vec::new();
    let mut saved = None;
    while let Some(event) = interrupted.try_next().await.expect("no faults") {
        match event {
            SyncEvent::Attendee(attendee) => yielded.push(*attendee),
            SyncEvent::Progress(progress) => {
                assert_eq!(progress.total_entries, everyone.len() as u64);
                if progress.pages_read == 4 {
                    saved = Some(serde_json::to_string(&progress.checkpoint).expect("json"));
                    break;
                }
            }
            _ => {}
        }
    }
    drop(interrupted);
    assert!(
        yielded.len() <= 200 && yielded.len() > 150,
        "{}",
        yielded.len()
    );
    let checkpoint: SyncCheckpoint =
        serde_json::from_str(&saved.expect("saved after 4 pages")).expect("reads back");
    assert!(checkpoint.is_resuming());
    let (rest, _, _) = sync(&client, checkpoint, 50).await;
    yielded.extend(rest);
    assert_no_version_twice(&yielded);
    let ids: Vec<i64> = yielded.iter().map(|a| a.id.get()).collect();
    assert_eq!(ids.len(), everyone.len());
    assert_eq!(
        ids.iter().copied().collect::<HashSet<_>>(),
        everyone.keys().copied().collect::<HashSet<_>>()
    );
    server.shutdown().await;
}

/// Changes made in bursts put dozens of attendees in the same second, more than a page: the sync
/// pages through such an instant by ID and reads every one of them, up to the last instant.
#[tokio::test]
async fn more_changes_in_one_second_than_a_page_holds_are_all_read() {
    let server = fake(60).await;
    let client = patient_client(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let mutator = mutate(&server, stop.clone());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::SeqCst);
    mutator.await.expect("the mutator ends");
    let everyone = truth(&client).await;
    let mut per_second: BTreeMap<_, usize> = BTreeMap::new();
    for attendee in everyone.values() {
        *per_second.entry(attendee.updated_at).or_default() += 1;
    }
    assert!(
        per_second.values().any(|count| *count > 20),
        "no second holds more than a page: {per_second:?}"
    );
    let (all, _, _) = sync(&client, SyncCheckpoint::everything(), 20).await;
    assert_no_version_twice(&all);
    let read: HashSet<i64> = all.iter().map(|a| a.id.get()).collect();
    let lost: Vec<_> = everyone
        .values()
        .filter(|a| !read.contains(&a.id.get()))
        .map(|a| (a.id.get(), a.updated_at))
        .collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    server.shutdown().await;
}
