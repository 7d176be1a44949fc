//! The attendees held in memory: a compact record per attendee, kept in ID order, and the three
//! views (active, cancelled, archived) that the list routes page through without a scan.

use std::net::Ipv4Addr;
use std::num::NonZeroI64;

use crate::query::{ListQuery, Scope, SortKey};

/// One attendee, stored compactly; the JSON form is written from it by `render`.
///
/// Times are UNIX seconds (UTC). An attendee is archived and deleted at the same moment, so one
/// field holds both `archived_at` and `deleted_at`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct AttendeeRecord {
    pub(crate) id: i64,
    pub(crate) booking_id: i64,
    pub(crate) patient_id: i64,
    pub(crate) patient_case_id: Option<NonZeroI64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) cancelled_at: Option<i64>,
    pub(crate) archived_at: Option<i64>,
    pub(crate) notes: Option<Box<str>>,
    pub(crate) cancellation_note: Option<Box<str>>,
    pub(crate) booking_ip_address: Option<Ipv4Addr>,
    pub(crate) arrived: Option<bool>,
    pub(crate) online_booking_policy_accepted: Option<bool>,
    /// The cancellation reason's code (10, 20, ...), when cancelled.
    pub(crate) cancellation_reason: Option<u8>,
    /// The invoice status code (10, 20, 30, 40).
    pub(crate) invoice_status: Option<u8>,
    /// The treatment note status code (10, 90).
    pub(crate) treatment_note_status: Option<u8>,
    pub(crate) sent_email_reminders: u8,
    pub(crate) sent_sms_reminders: u8,
    pub(crate) sent_email_follow_ups: u8,
    pub(crate) sent_sms_follow_ups: u8,
    /// Whether the booking is a group appointment (only those attendees can be cancelled here).
    pub(crate) in_group_appointment: bool,
    pub(crate) has_telehealth: bool,
}

impl AttendeeRecord {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }

    pub(crate) fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// Which of the three views an attendee is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Active,
    Cancelled,
    Archived,
}

fn view_of(record: &AttendeeRecord) -> View {
    if record.is_archived() {
        View::Archived
    } else if record.is_cancelled() {
        View::Cancelled
    } else {
        View::Active
    }
}

/// The changes an update may make; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct AttendeeChanges {
    pub(crate) arrived: Option<Option<bool>>,
    pub(crate) notes: Option<Option<Box<str>>>,
    pub(crate) patient_case_id: Option<Option<NonZeroI64>>,
}

/// Why a state change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeRefused {
    /// No attendee with that ID is visible to the route.
    NotFound,
    /// The attendee belongs to an individual appointment, which this route cannot cancel.
    IndividualAppointment,
    /// The attendee is already cancelled.
    AlreadyCancelled,
}

/// A page of positions into the store, in the order the query asked for.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) positions: Vec<u32>,
    pub(crate) total_entries: u64,
}

/// Every attendee, in ascending ID order; IDs only grow, and `created_at` never decreases along
/// the vector, so the default sort (`created_at`, then ID) is the vector's own order.
#[derive(Debug, Default)]
pub(crate) struct Store {
    records: Vec<AttendeeRecord>,
    active: Vec<u32>,
    cancelled: Vec<u32>,
    archived: Vec<u32>,
}

impl Store {
    /// Builds a store from records already in ascending ID and `created_at` order.
    pub(crate) fn from_sorted(records: Vec<AttendeeRecord>) -> Self {
        let mut store = Self {
            records,
            ..Self::default()
        };
        for (position, record) in store.records.iter().enumerate() {
            // The store never holds more than u32::MAX attendees; see `insert`.
            let position = position as u32;
            match view_of(record) {
                View::Active => store.active.push(position),
                View::Cancelled => store.cancelled.push(position),
                View::Archived => store.archived.push(position),
            }
        }
        store
    }

    /// Every attendee, in ID order.
    pub(crate) fn records(&self) -> &[AttendeeRecord] {
        &self.records
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn record(&self, position: u32) -> &AttendeeRecord {
        &self.records[position as usize]
    }

    fn position_of(&self, id: i64) -> Option<usize> {
        self.records.binary_search_by_key(&id, |r| r.id).ok()
    }

    /// The attendee with this ID, in any state.
    pub(crate) fn find(&self, id: i64) -> Option<&AttendeeRecord> {
        self.position_of(id).map(|p| &self.records[p])
    }

    fn view_mut(&mut self, view: View) -> &mut Vec<u32> {
        match view {
            View::Active => &mut self.active,
            View::Cancelled => &mut self.cancelled,
            View::Archived => &mut self.archived,
        }
    }

    fn move_between_views(&mut self, position: u32, from: View, to: View) {
        if from == to {
            return;
        }
        let source = self.view_mut(from);
        if let Ok(at) = source.binary_search(&position) {
            source.remove(at);
        }
        let target = self.view_mut(to);
        if let Err(at) = target.binary_search(&position) {
            target.insert(at, position);
        }
    }

    /// The ID the next created attendee gets: two above the highest, so that IDs stay odd and a
    /// float parser keeps failing on them above 2^53.
    pub(crate) fn next_id(&self) -> i64 {
        self.records.last().map_or(1, |r| r.id.saturating_add(2))
    }

    /// The creation time a new attendee gets: now, but never before the newest attendee, which
    /// keeps the vector in `created_at` order.
    pub(crate) fn next_created_at(&self, now: i64) -> i64 {
        self.records.last().map_or(now, |r| r.created_at.max(now))
    }

    /// Adds a new attendee, which must carry `next_id()` and `next_created_at()`; returns `None`
    /// when the store is full.
    pub(crate) fn insert(&mut self, record: AttendeeRecord) -> Option<&AttendeeRecord> {
        let position = u32::try_from(self.records.len()).ok()?;
        let view = view_of(&record);
        self.records.push(record);
        self.view_mut(view).push(position);
        self.records.last()
    }

    /// Applies an update to a visible (not archived) attendee.
    pub(crate) fn update(
        &mut self,
        id: i64,
        changes: AttendeeChanges,
        now: i64,
    ) -> Result<&AttendeeRecord, ChangeRefused> {
        let position = self.position_of(id).ok_or(ChangeRefused::NotFound)?;
        let record = &mut self.records[position];
        if record.is_archived() {
            return Err(ChangeRefused::NotFound);
        }
        let before = record.clone();
        if let Some(arrived) = changes.arrived {
            record.arrived = arrived;
        }
        if let Some(notes) = changes.notes {
            record.notes = notes;
        }
        if let Some(case) = changes.patient_case_id {
            record.patient_case_id = case;
        }
        // Like Cliniko, an update that changes nothing leaves `updated_at` alone.
        if *record != before {
            record.updated_at = record.updated_at.max(now);
        }
        Ok(&self.records[position])
    }

    /// Archives an attendee that is not archived yet.
    pub(crate) fn archive(&mut self, id: i64, now: i64) -> Result<(), ChangeRefused> {
        let position = self.position_of(id).ok_or(ChangeRefused::NotFound)?;
        let record = &mut self.records[position];
        if record.is_archived() {
            return Err(ChangeRefused::NotFound);
        }
        let from = view_of(record);
        let at = record.updated_at.max(now);
        record.archived_at = Some(at);
        record.updated_at = at;
        self.move_between_views(position as u32, from, View::Archived);
        Ok(())
    }

    /// Cancels an attendee of a group appointment.
    pub(crate) fn cancel(
        &mut self,
        id: i64,
        reason: u8,
        note: Option<Box<str>>,
        now: i64,
    ) -> Result<(), ChangeRefused> {
        let position = self.position_of(id).ok_or(ChangeRefused::NotFound)?;
        let record = &mut self.records[position];
        if record.is_archived() {
            return Err(ChangeRefused::NotFound);
        }
        if !record.in_group_appointment {
            return Err(ChangeRefused::IndividualAppointment);
        }
        if record.is_cancelled() {
            return Err(ChangeRefused::AlreadyCancelled);
        }
        let at = record.updated_at.max(now);
        record.cancelled_at = Some(at);
        record.updated_at = at;
        record.cancellation_reason = Some(reason);
        record.cancellation_note = note;
        self.move_between_views(position as u32, View::Active, View::Cancelled);
        Ok(())
    }

    /// Runs a list query: the matching attendees' positions for one page, and how many match.
    pub(crate) fn list(&self, query: &ListQuery) -> Page {
        let per_page = query.per_page as u64;
        let offset = (query.page - 1).saturating_mul(per_page);
        if query.filters.is_empty()
            && query.is_default_order()
            && let Some(view) = self.single_view(query)
        {
            return page_of(view, offset, per_page, query.descending_default());
        }
        let mut matched: Vec<u32> = Vec::new();
        let mut collect = |position: u32| {
            let record = &self.records[position as usize];
            if query.scope_admits(record) && query.filters.iter().all(|f| f.matches(record)) {
                matched.push(position);
            }
        };
        match self.single_view(query) {
            Some(view) => view.iter().copied().for_each(&mut collect),
            None => (0..self.records.len() as u32).for_each(&mut collect),
        }
        if !query.is_default_order() {
            let records = &self.records;
            // A stable sort over ID order leaves ties in ascending ID order.
            matched.sort_by(|a, b| {
                let (a, b) = (&records[*a as usize], &records[*b as usize]);
                query
                    .sort
                    .iter()
                    .map(|key: &SortKey| key.compare(a, b))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            return page_of(&matched, offset, per_page, false);
        }
        page_of(&matched, offset, per_page, query.descending_default())
    }

    /// The one view that holds exactly the attendees the query's scope admits, if there is one.
    fn single_view(&self, query: &ListQuery) -> Option<&[u32]> {
        match (query.scope, query.include_cancelled, query.include_archived) {
            (Scope::Plain, false, false) => Some(&self.active),
            (Scope::Cancelled, _, false) => Some(&self.cancelled),
            (Scope::Deleted, _, _) => Some(&self.archived),
            _ => None,
        }
    }
}

fn page_of(positions: &[u32], offset: u64, per_page: u64, reversed: bool) -> Page {
    let total = positions.len() as u64;
    let start = offset.min(total);
    let end = offset.saturating_add(per_page).min(total);
    let positions = if reversed {
        let (start, end) = ((total - end) as usize, (total - start) as usize);
        positions[start..end].iter().rev().copied().collect()
    } else {
        positions[start as usize..end as usize].to_vec()
    };
    Page {
        positions,
        total_entries: total,
    }
}
