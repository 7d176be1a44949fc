//! Incremental sync: every record of a resource created, updated, cancelled or archived since a
//! checkpoint, each version once, and the checkpoint to start the next sync from. Any resource
//! whose list route filters on `updated_at` and whose records always carry `id` and `updated_at`
//! can be synced ([`Client::sync`]); [`Client::sync_attendees`] is the same sync for attendees.
//!
//! A sync reads the resource's main list route, for attendees `GET /attendees` with
//! `q[]=cancelled_at:*` and `q[]=archived_at:*` (the `*` filter on the field each state change of
//! the resource fills, which brings back the records the plain list leaves out), in
//! `updated_at` then ID order. It does not page by page number, because records move between
//! pages while they change: each request starts from the last `updated_at` seen (keyset paging),
//! and when one instant holds a whole page, it pages through that instant by ID. An attendee that
//! changes during the sync moves to the end and is read again in its new version; the next
//! checkpoint is the sync's start on the server's clock, less a safety margin, applied with `>=`,
//! so whatever changed while the sync ran is read again next time.
//!
//! Exactly once across syncs: the versions a sync yielded that lie within that margin (changed at
//! or after the next checkpoint's time) are remembered in the checkpoint, and the next sync skips
//! them when it reads them again. A version is an attendee's ID with its `updated_at`; a newer
//! version of the same attendee is yielded as usual.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use cliniko_types::resource::{ListPage, Role, Versioned};
use cliniko_types::{Attendee, AttendeeList, Id};
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::paginate::{ListPageFuture, ListQuery, ListRoute, Page, Route as _, start_list_fetch};
use crate::policy::Waits;
use crate::{Client, Error};

/// Where a sync starts: every change at or after a time, and, while a sync is under way, how far
/// it got. Serialise it (it is serde) to resume a sync after a crash or to start the next one.
///
/// ```
/// use cliniko_client::SyncCheckpoint;
///
/// let checkpoint = SyncCheckpoint::since("2024-01-01T00:00:00Z".parse()?);
/// let saved = serde_json::to_string(&checkpoint)?;
/// assert_eq!(serde_json::from_str::<SyncCheckpoint>(&saved)?, checkpoint);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCheckpoint {
    /// Changes at or after this time are read; `None` reads everything.
    since: Option<DateTime<Utc>>,
    /// How far the sync under way got, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<Resume>,
    /// Versions already yielded at or after `since` (by the sync that made this checkpoint, or
    /// the one under way): read again, they are skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    delivered: Vec<Version>,
}

/// One version of an attendee: its ID and when it was last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
struct Version {
    id: Id,
    updated_at: DateTime<Utc>,
}

/// A sync under way: when it started (on the server's clock) and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Resume {
    started_at: DateTime<Utc>,
    position: Position,
}

/// Where the next page of a sync starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum Position {
    /// Records changed at or after `at` (after it, when `strict`), less those already read at
    /// `at` (`seen`).
    From {
        at: Option<DateTime<Utc>>,
        #[serde(default)]
        strict: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        seen: Vec<Id>,
    },
    /// Records changed exactly at `at` with an ID above `after`: one instant that holds more than
    /// a page.
    Instant { at: DateTime<Utc>, after: Id },
}

impl SyncCheckpoint {
    /// Every attendee: a first, full sync.
    pub fn everything() -> Self {
        Self {
            since: None,
            resume: None,
            delivered: Vec::new(),
        }
    }

    /// Every attendee changed at or after `since`.
    pub fn since(since: DateTime<Utc>) -> Self {
        Self {
            since: Some(since),
            resume: None,
            delivered: Vec::new(),
        }
    }

    /// The time from which changes are read.
    pub fn changes_since(&self) -> Option<DateTime<Utc>> {
        self.since
    }

    /// Whether this checkpoint resumes a sync that did not finish.
    pub fn is_resuming(&self) -> bool {
        self.resume.is_some()
    }

    /// How many versions changed at or after [`changes_since`](Self::changes_since) this
    /// checkpoint knows were already yielded, and skips when they are read again.
    pub fn versions_delivered(&self) -> usize {
        self.delivered.len()
    }
}

/// How a sync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    per_page: i64,
    safety_margin: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            per_page: cliniko_types::facts::PER_PAGE_MAX,
            safety_margin: Duration::from_secs(120),
        }
    }
}

impl SyncOptions {
    /// Attendees per request (default, and most, 100).
    pub fn per_page(mut self, per_page: i64) -> Self {
        self.per_page = per_page;
        self
    }

    /// How far before the sync's start the next checkpoint lies (default 2 minutes), for changes
    /// that Cliniko stamps with a time a little before they become visible.
    pub fn safety_margin(mut self, margin: Duration) -> Self {
        self.safety_margin = margin;
        self
    }
}

/// How far a sync has got.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncProgress {
    /// Pages read so far.
    pub pages_read: u64,
    /// Attendees yielded so far.
    pub attendees: u64,
    /// How many attendees had changed when the sync started (`total_entries` of its first page).
    pub total_entries: u64,
    /// How many 429 answers were waited out.
    pub rate_limit_waits: u32,
    /// How long those waits took.
    pub rate_limit_waited: Duration,
    /// How long the client's own rate limit held requests back.
    pub paced: Duration,
    /// Requests sent again after a 5xx or a connection failure.
    pub retries: u32,
    /// The checkpoint to resume from: everything before it has been yielded.
    pub checkpoint: SyncCheckpoint,
}

impl SyncProgress {
    /// Records yielded so far (the field is named for the attendee sync that came first).
    pub fn records(&self) -> u64 {
        self.attendees
    }
}

/// What a sync yields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// An attendee that was created, changed, cancelled or archived since the checkpoint, in
    /// its latest version when it was read. An attendee that changes during the sync can come
    /// again in its newer version; the same version never comes twice.
    Attendee(Box<Attendee>),
    /// A page was read, and its attendees yielded.
    Progress(SyncProgress),
    /// The sync is complete: start the next one from this checkpoint.
    Finished(SyncCheckpoint),
}

/// What a sync of any resource yields (see [`Client::sync`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RecordEvent<T> {
    /// A record that was created, changed, cancelled or archived since the checkpoint, in its
    /// latest version when it was read; the same version never comes twice.
    Record(Box<T>),
    /// A page was read, and its records yielded (`attendees` counts the records).
    Progress(SyncProgress),
    /// The sync is complete: start the next one from this checkpoint.
    Finished(SyncCheckpoint),
}

impl Client {
    /// Syncs every record of `L`'s resource changed since `checkpoint` (for patients,
    /// `client.sync::<PatientList>(checkpoint, SyncOptions::default())`). Refused, on the first
    /// poll, when the resource's list route does not filter on `updated_at`.
    pub fn sync<L>(&self, checkpoint: SyncCheckpoint, options: SyncOptions) -> RecordSync<L>
    where
        L: ListPage,
        L::Item: Versioned + Send + 'static,
    {
        let (started_at, position) = match checkpoint.resume {
            Some(resume) => (Some(resume.started_at), resume.position),
            None => (
                None,
                Position::From {
                    at: checkpoint.since,
                    strict: false,
                    seen: Vec::new(),
                },
            ),
        };
        let (route, everything, refused) = match sync_route::<L>() {
            Ok((route, everything)) => (Some(route), everything, None),
            Err(error) => (None, Vec::new(), Some(error)),
        };
        RecordSync {
            client: self.clone(),
            options,
            route,
            everything,
            refused,
            delivered: checkpoint
                .delivered
                .iter()
                .map(|version| (version.id, version.updated_at))
                .collect(),
            since: checkpoint.since,
            started_at,
            local_start: Utc::now(),
            position,
            events: VecDeque::new(),
            fetching: None,
            progress: Counts::default(),
            done: false,
        }
    }

    /// Syncs every attendee changed since `checkpoint`, with the default [`SyncOptions`].
    ///
    /// ```no_run
    /// # async fn run(client: cliniko_client::Client) -> cliniko_client::Result<()> {
    /// use cliniko_client::{SyncCheckpoint, SyncEvent};
    /// use futures::TryStreamExt as _;
    ///
    /// let mut sync = client.sync_attendees(SyncCheckpoint::everything());
    /// while let Some(event) = sync.try_next().await? {
    ///     match event {
    ///         SyncEvent::Attendee(attendee) => println!("{} {}", attendee.id, attendee.updated_at),
    ///         SyncEvent::Progress(progress) => eprintln!("{} pages", progress.pages_read),
    ///         SyncEvent::Finished(next) => println!("{}", serde_json::to_string(&next).unwrap()),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn sync_attendees(&self, checkpoint: SyncCheckpoint) -> AttendeeSync {
        self.sync_attendees_with(checkpoint, SyncOptions::default())
    }

    /// Syncs every attendee changed since `checkpoint`.
    pub fn sync_attendees_with(
        &self,
        checkpoint: SyncCheckpoint,
        options: SyncOptions,
    ) -> AttendeeSync {
        AttendeeSync(self.sync::<AttendeeList>(checkpoint, options))
    }
}

/// The route a sync of `L` reads (the resource's main list), and the `*` conditions that bring
/// back what it leaves out: the field each of the resource's state changes fills, where the route
/// filters on it.
fn sync_route<L: ListPage>() -> Result<(ListRoute, Vec<String>), Error> {
    let resource = L::resource();
    let refuse = |why: String| Error::new(ErrorKind::InvalidRequest(why), None);
    let id = resource
        .operation(Role::List)
        .ok_or_else(|| refuse(format!("{} have no list route to sync", resource.plural)))?;
    let route = ListRoute::new(id)?;
    let operation = route.operation();
    if operation.filter("updated_at").is_none() || operation.filter("id").is_none() {
        return Err(refuse(format!(
            "{} cannot be synced: {} does not filter on updated_at and id",
            resource.plural, operation.id
        )));
    }
    // A deleted record is the archived one (Cliniko's DELETE archives), so cancel and archive
    // name every field that hides a record from the list.
    let everything = [Role::Cancel, Role::Archive]
        .into_iter()
        .filter(|role| resource.operation(*role).is_some())
        .filter_map(Role::state_field)
        .filter(|field| operation.filter(field).is_some())
        .map(|field| format!("{field}:*"))
        .collect();
    Ok((route, everything))
}

/// A time as Cliniko's filters take it (UTC, `Z`).
fn utc(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    pages_read: u64,
    attendees: u64,
    total_entries: Option<u64>,
    waits: Waits,
}

/// An incremental sync of attendees under way. Made by [`Client::sync_attendees`]; owns its
/// client.
///
/// After an error, polling again retries the page that failed; or save [`checkpoint`](Self::checkpoint)
/// and resume later.
#[must_use = "a sync does nothing until polled"]
pub struct AttendeeSync(RecordSync<AttendeeList>);

impl std::fmt::Debug for AttendeeSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeeSync")
            .field("since", &self.0.since)
            .field("position", &self.0.position)
            .field("done", &self.0.done)
            .finish_non_exhaustive()
    }
}

impl AttendeeSync {
    /// The checkpoint to resume from: every attendee yielded so far is behind it. Once the sync
    /// has finished, the checkpoint for the next sync.
    pub fn checkpoint(&self) -> SyncCheckpoint {
        self.0.checkpoint()
    }
}

impl Stream for AttendeeSync {
    type Item = Result<SyncEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx).map(|item| {
            item.map(|event| {
                event.map(|event| match event {
                    RecordEvent::Record(attendee) => SyncEvent::Attendee(attendee),
                    RecordEvent::Progress(progress) => SyncEvent::Progress(progress),
                    RecordEvent::Finished(next) => SyncEvent::Finished(next),
                })
            })
        })
    }
}

/// An incremental sync of any resource under way. Made by [`Client::sync`]; owns its client.
///
/// After an error, polling again retries the page that failed; or save [`checkpoint`](Self::checkpoint)
/// and resume later.
#[must_use = "a sync does nothing until polled"]
pub struct RecordSync<L: ListPage> {
    client: Client,
    options: SyncOptions,
    /// The route read (`None` when the resource cannot be synced: see `refused`).
    route: Option<ListRoute>,
    /// The `*` conditions that bring back the records the route leaves out.
    everything: Vec<String>,
    /// Why the resource cannot be synced, reported on the first poll.
    refused: Option<Error>,
    /// Versions yielded at or after `since`, by this sync or the one before (from its checkpoint).
    delivered: HashSet<(Id, DateTime<Utc>)>,
    since: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    /// The local clock when the sync was made, in case no answer carries a `Date`.
    local_start: DateTime<Utc>,
    position: Position,
    events: VecDeque<RecordEvent<L::Item>>,
    fetching: Option<ListPageFuture<L::Item, ListRoute>>,
    progress: Counts,
    done: bool,
}

impl<L: ListPage> std::fmt::Debug for RecordSync<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSync")
            .field("route", &self.route)
            .field("since", &self.since)
            .field("position", &self.position)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<L: ListPage> Unpin for RecordSync<L> {}

impl<L> RecordSync<L>
where
    L: ListPage,
    L::Item: Versioned + Send + 'static,
{
    /// The checkpoint to resume from: every record yielded so far is behind it. Once the sync
    /// has finished, the checkpoint for the next sync.
    pub fn checkpoint(&self) -> SyncCheckpoint {
        if self.done {
            return self.next_checkpoint();
        }
        SyncCheckpoint {
            since: self.since,
            resume: self.started_at.map(|started_at| Resume {
                started_at,
                position: self.position.clone(),
            }),
            delivered: versions(self.delivered.iter().copied(), None),
        }
    }

    /// The next sync's start: this one's start less the margin, and the versions yielded since.
    fn next_checkpoint(&self) -> SyncCheckpoint {
        let since = self.cutoff();
        SyncCheckpoint {
            since: Some(since),
            resume: None,
            delivered: versions(self.delivered.iter().copied(), Some(since)),
        }
    }

    /// The next checkpoint's time: the start (on the server's clock, once known) less the margin.
    fn cutoff(&self) -> DateTime<Utc> {
        let started_at = self.started_at.unwrap_or(self.local_start);
        let margin = TimeDelta::from_std(self.options.safety_margin).unwrap_or(TimeDelta::MAX);
        started_at
            .checked_sub_signed(margin)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The page to read next: the route's `*` conditions, then the position's keyset, in the
    /// order the attendee sync has always sent them.
    fn query(&self, route: ListRoute) -> ListQuery<L, ListRoute> {
        let mut query = ListQuery::<L, ListRoute>::new(route).per_page(self.options.per_page);
        for condition in &self.everything {
            query = query.condition(condition.clone());
        }
        match &self.position {
            Position::From { at, strict, .. } => {
                if let Some(at) = at {
                    let operator = if *strict { ">" } else { ">=" };
                    query = query.condition(format!("updated_at:{operator}{}", utc(at)));
                }
                query.sort_by("updated_at:asc,id:asc")
            }
            Position::Instant { at, after } => query
                .condition(format!("updated_at:>={}", utc(at)))
                .condition(format!("updated_at:<={}", utc(at)))
                .condition(format!("id:>{after}"))
                .sort_by("id:asc"),
        }
    }

    /// Yields a page's new versions and moves the position past them.
    fn take(&mut self, page: Page<L::Item, ListRoute>) {
        // The start, on the server's clock: its `Date` is stamped after the first page was read,
        // in whole seconds, so a second less is surely before it.
        if self.started_at.is_none() {
            self.started_at = Some(
                page.answered_at
                    .map_or(self.local_start, |date| date - TimeDelta::seconds(1)),
            );
        }
        self.progress
            .total_entries
            .get_or_insert(page.total_entries);
        let full = i64::try_from(page.records.len()).unwrap_or(i64::MAX) >= self.options.per_page;
        let first = page.records.first().map(|r| r.updated_at());
        let last = page.records.last().map(|r| (r.updated_at(), r.id()));
        let next = match (&self.position, last) {
            (Position::Instant { at, .. }, Some((_, id))) if full => {
                Some(Position::Instant { at: *at, after: id })
            }
            // The instant is done (even when its last page was exactly full): on to what follows.
            (Position::Instant { at, .. }, _) => Some(Position::From {
                at: Some(*at),
                strict: true,
                seen: Vec::new(),
            }),
            (Position::From { .. }, Some((at, id))) if full && first == Some(at) => {
                Some(Position::Instant { at, after: id })
            }
            (Position::From { .. }, Some((at, _))) if full => Some(Position::From {
                at: Some(at),
                strict: false,
                seen: page
                    .records
                    .iter()
                    .filter(|record| record.updated_at() == at)
                    .map(|record| record.id())
                    .collect(),
            }),
            (Position::From { .. }, _) => None,
        };
        // Versions changed at or after the next checkpoint's time are remembered, so that the
        // next sync, which reads them again, does not yield them again.
        let cutoff = self.cutoff();
        for record in page.records {
            let (id, updated_at) = (record.id(), record.updated_at());
            let already_read = match &self.position {
                Position::From {
                    at: Some(at),
                    strict: false,
                    seen,
                } => updated_at == *at && seen.contains(&id),
                _ => false,
            };
            if already_read {
                continue;
            }
            let version = (id, updated_at);
            if !self.delivered.is_empty() && self.delivered.contains(&version) {
                // Yielded by the sync before this one, within its margin.
                continue;
            }
            if updated_at >= cutoff {
                self.delivered.insert(version);
            }
            self.progress.attendees += 1;
            self.events.push_back(RecordEvent::Record(Box::new(record)));
        }
        self.progress.pages_read += 1;
        match next {
            Some(position) => self.position = position,
            None => self.done = true,
        }
        let progress = SyncProgress {
            pages_read: self.progress.pages_read,
            attendees: self.progress.attendees,
            total_entries: self.progress.total_entries.unwrap_or_default(),
            rate_limit_waits: self.progress.waits.rate_limited,
            rate_limit_waited: self.progress.waits.rate_limit_wait,
            paced: self.progress.waits.pacing,
            retries: self.progress.waits.retries,
            checkpoint: self.checkpoint(),
        };
        self.events.push_back(RecordEvent::Progress(progress));
        if self.done {
            self.events
                .push_back(RecordEvent::Finished(self.next_checkpoint()));
        }
    }
}

/// The versions of `delivered` changed at or after `since`, in order (so that a checkpoint's JSON
/// does not depend on a hash order).
fn versions(
    delivered: impl Iterator<Item = (Id, DateTime<Utc>)>,
    since: Option<DateTime<Utc>>,
) -> Vec<Version> {
    let mut out: Vec<Version> = delivered
        .filter(|(_, updated_at)| since.is_none_or(|since| *updated_at >= since))
        .map(|(id, updated_at)| Version { id, updated_at })
        .collect();
    out.sort_unstable();
    out
}

impl<L> Stream for RecordSync<L>
where
    L: ListPage,
    L::Item: Versioned + Send + 'static,
{
    type Item = Result<RecordEvent<L::Item>, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(error) = this.refused.take() {
            this.done = true;
            return Poll::Ready(Some(Err(error)));
        }
        let Some(route) = this.route.clone() else {
            return Poll::Ready(None);
        };
        loop {
            if let Some(event) = this.events.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let fetching = match &mut this.fetching {
                Some(fetching) => fetching,
                None => {
                    let cursor = match this.query(route.clone()).first_page() {
                        Ok(cursor) => cursor,
                        Err(error) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(error)));
                        }
                    };
                    this.fetching
                        .insert(start_list_fetch::<L, ListRoute>(&this.client, cursor))
                }
            };
            let (outcome, waits) = ready!(fetching.as_mut().poll(cx));
            this.fetching = None;
            let total = &mut this.progress.waits;
            total.pacing += waits.pacing;
            total.rate_limited += waits.rate_limited;
            total.rate_limit_wait += waits.rate_limit_wait;
            total.retries += waits.retries;
            match outcome {
                Ok(page) => this.take(page),
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_through_json_while_resuming() {
        let at: DateTime<Utc> = "2024-05-01T10:00:00Z".parse().expect("a time");
        let checkpoint = SyncCheckpoint {
            since: Some(at),
            resume: Some(Resume {
                started_at: at + TimeDelta::hours(1),
                position: Position::From {
                    at: Some(at + TimeDelta::minutes(5)),
                    strict: false,
                    seen: vec![Id::new(7), Id::new(9)],
                },
            }),
            delivered: vec![Version {
                id: Id::new(7),
                updated_at: at,
            }],
        };
        let json = serde_json::to_string(&checkpoint).expect("serialises");
        assert_eq!(
            serde_json::from_str::<SyncCheckpoint>(&json).expect("reads back"),
            checkpoint
        );
        assert!(checkpoint.is_resuming());
        let instant = SyncCheckpoint {
            since: None,
            resume: Some(Resume {
                started_at: at,
                position: Position::Instant {
                    at,
                    after: Id::new(1_390_726_237_298_631_770),
                },
            }),
            delivered: Vec::new(),
        };
        let json = serde_json::to_string(&instant).expect("serialises");
        assert!(
            json.contains("\"1390726237298631770\""),
            "ids stay strings: {json}"
        );
        assert_eq!(
            serde_json::from_str::<SyncCheckpoint>(&json).expect("reads back"),
            instant
        );
    }
}
