//! Incremental sync: every attendee created, updated, cancelled or archived since a checkpoint,
//! each version once, and the checkpoint to start the next sync from.
//!
//! A sync reads one route, `GET /attendees` with `q[]=cancelled_at:*` and `q[]=archived_at:*`
//! (which bring back the cancelled and archived attendees the plain list leaves out), in
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

use chrono::{DateTime, TimeDelta, Utc};
use cliniko_types::{Attendee, Id};
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::filter::{Filter, Sort, SortField};
use crate::paginate::{AttendeePage, AttendeeQuery, AttendeeRoute, PageFuture, start_fetch};
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

impl Client {
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
        AttendeeSync {
            client: self.clone(),
            options,
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
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    pages_read: u64,
    attendees: u64,
    total_entries: Option<u64>,
    waits: Waits,
}

/// An incremental sync under way. Made by [`Client::sync_attendees`]; owns its client.
///
/// After an error, polling again retries the page that failed; or save [`checkpoint`](Self::checkpoint)
/// and resume later.
#[must_use = "a sync does nothing until polled"]
pub struct AttendeeSync {
    client: Client,
    options: SyncOptions,
    /// Versions yielded at or after `since`, by this sync or the one before (from its checkpoint).
    delivered: HashSet<(Id, DateTime<Utc>)>,
    since: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    /// The local clock when the sync was made, in case no answer carries a `Date`.
    local_start: DateTime<Utc>,
    position: Position,
    events: VecDeque<SyncEvent>,
    fetching: Option<PageFuture>,
    progress: Counts,
    done: bool,
}

impl std::fmt::Debug for AttendeeSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeeSync")
            .field("since", &self.since)
            .field("position", &self.position)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl AttendeeSync {
    /// The checkpoint to resume from: every attendee yielded so far is behind it. Once the sync
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

    fn query(&self) -> AttendeeQuery {
        let query = AttendeeQuery::new(AttendeeRoute::Attendees).per_page(self.options.per_page);
        let everything = Filter::attendees().cancelled_at().any().archived_at().any();
        match &self.position {
            Position::From { at, strict, .. } => {
                let filter = match (at, strict) {
                    (Some(at), true) => everything.updated_at().gt(*at),
                    (Some(at), false) => everything.updated_at().ge(*at),
                    (None, _) => everything,
                };
                query
                    .filter(filter)
                    .sort(Sort::new().asc(SortField::UpdatedAt).asc(SortField::Id))
            }
            Position::Instant { at, after } => query
                .filter(
                    everything
                        .updated_at()
                        .ge(*at)
                        .updated_at()
                        .le(*at)
                        .id()
                        .gt(*after),
                )
                .sort(Sort::new().asc(SortField::Id)),
        }
    }

    /// Yields a page's new versions and moves the position past them.
    fn take(&mut self, page: AttendeePage) {
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
        let full = i64::try_from(page.attendees.len()).unwrap_or(i64::MAX) >= self.options.per_page;
        let first = page.attendees.first().map(|a| a.updated_at);
        let last = page.attendees.last().map(|a| (a.updated_at, a.id));
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
                    .attendees
                    .iter()
                    .filter(|attendee| attendee.updated_at == at)
                    .map(|attendee| attendee.id)
                    .collect(),
            }),
            (Position::From { .. }, _) => None,
        };
        // Versions changed at or after the next checkpoint's time are remembered, so that the
        // next sync, which reads them again, does not yield them again.
        let cutoff = self.cutoff();
        for attendee in page.attendees {
            let already_read = match &self.position {
                Position::From {
                    at: Some(at),
                    strict: false,
                    seen,
                } => attendee.updated_at == *at && seen.contains(&attendee.id),
                _ => false,
            };
            if already_read {
                continue;
            }
            let version = (attendee.id, attendee.updated_at);
            if !self.delivered.is_empty() && self.delivered.contains(&version) {
                // Yielded by the sync before this one, within its margin.
                continue;
            }
            if attendee.updated_at >= cutoff {
                self.delivered.insert(version);
            }
            self.progress.attendees += 1;
            self.events
                .push_back(SyncEvent::Attendee(Box::new(attendee)));
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
        self.events.push_back(SyncEvent::Progress(progress));
        if self.done {
            self.events
                .push_back(SyncEvent::Finished(self.next_checkpoint()));
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

impl Stream for AttendeeSync {
    type Item = Result<SyncEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
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
                    let cursor = match this.query().first_page() {
                        Ok(cursor) => cursor,
                        Err(error) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(error)));
                        }
                    };
                    this.fetching.insert(start_fetch(&this.client, cursor))
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
