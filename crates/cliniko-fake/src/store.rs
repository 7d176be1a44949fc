//! The attendees held in memory: a compact record per attendee, kept in ID order, and the three
//! views (active, cancelled, archived) that the list routes page through without a scan.

use std::num::NonZeroI64;

use crate::query::{Field, ListQuery, Scope, SortKey};
pub(crate) use crate::record::AttendeeRecord;

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
///
/// Two ordered indexes let a list page be found by binary search and a walk of the page rather
/// than a sort of every match: the vector itself (ID and creation order, with the three views
/// as its subsets) and `by_updated`, every position in (`updated_at`, ID) order, kept in order
/// as writes move `updated_at`. A sync's page (`q[]=updated_at:>=T` with the `*` filters,
/// `sort=updated_at,id`) is then a binary search and a slice.
#[derive(Debug, Default)]
pub(crate) struct Store {
    records: Vec<AttendeeRecord>,
    active: Vec<u32>,
    cancelled: Vec<u32>,
    archived: Vec<u32>,
    by_updated: Vec<u32>,
}

/// The ordered index a query's sort can walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// ID order (also creation order).
    Id,
    /// (`updated_at`, ID) order.
    Updated,
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
        let mut by_updated: Vec<u32> = (0..store.records.len() as u32).collect();
        by_updated.sort_by_key(|p| {
            let r = &store.records[*p as usize];
            (r.updated_at, r.id)
        });
        store.by_updated = by_updated;
        store
    }

    /// Where a record with this (`updated_at`, ID) is or would be in `by_updated`.
    fn updated_slot(&self, updated_at: i64, id: i64) -> usize {
        self.by_updated.partition_point(|p| {
            let r = &self.records[*p as usize];
            (r.updated_at, r.id) < (updated_at, id)
        })
    }

    /// Moves a record in `by_updated` after its `updated_at` changed from `before`.
    fn reindex_updated(&mut self, position: usize, before: i64) {
        let (after, id) = (self.records[position].updated_at, self.records[position].id);
        if after == before {
            return;
        }
        // Found under its old key: compare with the old time for this record only.
        let old = self.by_updated.partition_point(|p| {
            let r = &self.records[*p as usize];
            let at = if *p as usize == position {
                before
            } else {
                r.updated_at
            };
            (at, r.id) < (before, id)
        });
        if self.by_updated.get(old) == Some(&(position as u32)) {
            self.by_updated.remove(old);
        }
        let new = self.updated_slot(after, id);
        self.by_updated.insert(new, position as u32);
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
        let (updated_at, id) = (record.updated_at, record.id);
        self.records.push(record);
        self.view_mut(view).push(position);
        let slot = self.updated_slot(updated_at, id);
        self.by_updated.insert(slot, position);
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
        self.reindex_updated(position, before.updated_at);
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
        let before = record.updated_at;
        let at = record.updated_at.max(now);
        record.archived_at = Some(at);
        record.updated_at = at;
        self.move_between_views(position as u32, from, View::Archived);
        self.reindex_updated(position, before);
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
        let before = record.updated_at;
        let at = record.updated_at.max(now);
        record.cancelled_at = Some(at);
        record.updated_at = at;
        record.cancellation_reason = Some(reason);
        record.cancellation_note = note;
        self.move_between_views(position as u32, View::Active, View::Cancelled);
        self.reindex_updated(position, before);
        Ok(())
    }

    /// Runs a list query: the matching attendees' positions for one page, and how many match.
    ///
    /// A sort that an ordered index holds (ID or creation order; `updated_at` then ID) walks
    /// that index from the range its filters on the leading field bound, found by binary
    /// search: the page costs its own size when nothing else filters, and one pass over the
    /// range (no sort) to count the matches when something does. Other sorts sort the matches.
    pub(crate) fn list(&self, query: &ListQuery) -> Page {
        let per_page = query.per_page as u64;
        let offset = (query.page - 1).saturating_mul(per_page);
        if query.filters.is_empty()
            && query.is_default_order()
            && let Some(view) = self.single_view(query)
        {
            return page_of(view, offset, per_page, query.descending_default());
        }
        if let Some((order, descending)) = self.order_of(query) {
            return self.walk(query, order, descending, offset, per_page);
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
        page_of(&matched, offset, per_page, false)
    }

    /// The ordered index that gives the query's sort, and whether it is walked backwards; `None`
    /// when no index does (ties must come out as a stable sort over ID order leaves them).
    fn order_of(&self, query: &ListQuery) -> Option<(Order, bool)> {
        if query.is_default_order() {
            return Some((Order::Id, query.descending_default()));
        }
        let (first, descending) = query.sort[0].parts();
        if first != Field::UpdatedAt {
            return None;
        }
        // Ties on `updated_at` are in ascending ID order unless an `id` key says otherwise; the
        // index holds them ascending, so walked backwards they need `id:desc`.
        match query.sort.get(1).map(SortKey::parts) {
            None if !descending => Some((Order::Updated, false)),
            Some((Field::Id, id_descending)) if id_descending == descending => {
                Some((Order::Updated, descending))
            }
            _ => None,
        }
    }

    /// One page from an ordered index: the candidates the filters on the index's leading field
    /// bound, walked in order.
    fn walk(
        &self,
        query: &ListQuery,
        order: Order,
        descending: bool,
        offset: u64,
        per_page: u64,
    ) -> Page {
        let (fields, base, scope_exact): (&[Field], &[u32], bool) = match order {
            Order::Id => match self.single_view(query) {
                Some(view) => (&[Field::Id, Field::CreatedAt], view, true),
                None => (&[Field::Id, Field::CreatedAt], &[], self.admits_all(query)),
            },
            Order::Updated => (
                &[Field::UpdatedAt],
                &self.by_updated,
                self.admits_all(query),
            ),
        };
        let whole = order == Order::Id && self.single_view(query).is_none();
        // Every filter either bounds the range or is `*` (read by the scope alone).
        let mut exact = scope_exact;
        let (mut low, mut high) = (i128::MIN, i128::MAX);
        for filter in &query.filters {
            if filter.is_anything() {
                continue;
            }
            match fields
                .iter()
                .find_map(|f| filter.range_on(*f).map(|r| (*f, r)))
            {
                Some((field, (from, to))) if field == fields[0] => {
                    low = low.max(from);
                    high = high.min(to);
                }
                _ => exact = false,
            }
        }
        let key = |position: u32| fields[0].value(&self.records[position as usize]);
        // The candidates: positions whose leading field is within [low, high].
        let (candidates, start, end): (Option<&[u32]>, usize, usize) = if whole {
            let len = self.records.len();
            let start = partition(len, |p| key(p as u32) < Some(low));
            let end = partition(len, |p| key(p as u32) <= Some(high));
            (None, start, end.max(start))
        } else {
            let start = base.partition_point(|p| key(*p) < Some(low));
            let end = base.partition_point(|p| key(*p) <= Some(high)).max(start);
            (Some(base), start, end)
        };
        let at = |k: usize| -> u32 {
            let k = if descending { end - 1 - (k - start) } else { k };
            match candidates {
                Some(list) => list[k],
                None => k as u32,
            }
        };
        if exact {
            let total = (end - start) as u64;
            let first = offset.min(total) as usize;
            let last = offset.saturating_add(per_page).min(total) as usize;
            return Page {
                positions: (start + first..start + last).map(at).collect(),
                total_entries: total,
            };
        }
        let mut positions = Vec::new();
        let mut total = 0u64;
        for k in start..end {
            let position = at(k);
            let record = &self.records[position as usize];
            if query.scope_admits(record) && query.filters.iter().all(|f| f.matches(record)) {
                if total >= offset && (positions.len() as u64) < per_page {
                    positions.push(position);
                }
                total += 1;
            }
        }
        Page {
            positions,
            total_entries: total,
        }
    }

    /// Whether the query's scope (widened by its `*` filters) admits every attendee.
    fn admits_all(&self, query: &ListQuery) -> bool {
        query.scope == Scope::Plain && query.include_cancelled && query.include_archived
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

/// The first of `0..len` for which `is_before` is false (it must be true, then false).
fn partition(len: usize, is_before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let middle = low + (high - low) / 2;
        if is_before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
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

#[cfg(test)]
mod tests {
    use cliniko_types::facts::{Operation, operations};

    use super::*;
    use crate::rng::SplitMix64;

    /// The answer without indexes: every match, stably sorted over ID order, then the page.
    fn reference(store: &Store, query: &ListQuery) -> (Vec<i64>, u64) {
        let mut matched: Vec<&AttendeeRecord> = store
            .records
            .iter()
            .filter(|r| query.scope_admits(r) && query.filters.iter().all(|f| f.matches(r)))
            .collect();
        matched.sort_by(|a, b| {
            query
                .sort
                .iter()
                .map(|key| key.compare(a, b))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let total = matched.len() as u64;
        let per_page = u64::from(query.per_page);
        let start = ((query.page - 1) * per_page).min(total) as usize;
        let end = (start as u64 + per_page).min(total) as usize;
        (matched[start..end].iter().map(|r| r.id).collect(), total)
    }

    fn ids(store: &Store, page: &Page) -> Vec<i64> {
        page.positions.iter().map(|p| store.record(*p).id).collect()
    }

    fn time(secs: i64) -> String {
        chrono::DateTime::from_timestamp(secs, 0)
            .expect("in range")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    #[test]
    fn indexed_pages_are_the_pages_a_full_sort_gives_after_writes() {
        let (_, records) = crate::seed::seed(11, 1_500);
        let mut store = Store::from_sorted(records);
        let mut rng = SplitMix64::new(5);
        let now = 1_700_000_000;
        // Writes that move records in the `updated_at` index and between the views; some of
        // them give several records the same `updated_at`, so ties are exercised.
        for k in 0..300 {
            let id = store.records[rng.below(1_500) as usize].id;
            let at = now + (k / 3) as i64;
            match rng.below(3) {
                0 => {
                    let _ = store.archive(id, at);
                }
                1 => {
                    let _ = store.cancel(id, 10, None, at);
                }
                _ => {
                    let changes = AttendeeChanges {
                        notes: Some(Some(format!("note {k}").into())),
                        ..AttendeeChanges::default()
                    };
                    let _ = store.update(id, changes, at);
                }
            }
        }
        let middle = store.records[700].updated_at;
        let middle_id = store.records[700].id;
        let sorts = [
            "",
            "&sort=created_at:desc",
            "&sort=id",
            "&sort=updated_at",
            "&sort=updated_at:asc,id:asc",
            "&sort=updated_at:desc,id:desc",
            "&sort=updated_at:desc",
            "&sort=patient_id,updated_at",
        ];
        let filters = [
            String::new(),
            "&q[]=cancelled_at:*&q[]=archived_at:*".to_owned(),
            format!(
                "&q[]=cancelled_at:*&q[]=archived_at:*&q[]=updated_at:>={}",
                time(middle)
            ),
            format!("&q[]=updated_at:>{}", time(middle)),
            format!(
                "&q[]=updated_at:>={0}&q[]=updated_at:<={0}&q[]=id:>{middle_id}",
                time(now + 20)
            ),
            format!("&q[]=id:>{middle_id}&q[]=archived_at:*"),
            format!("&q[]=id:<={middle_id}&q[]=updated_at:<{}", time(now + 50)),
            format!(
                "&q[]=created_at:>{}&q[]=cancelled_at:*",
                time(store.records[300].created_at)
            ),
        ];
        let routes: [(Scope, &'static Operation); 3] = [
            (Scope::Plain, &operations::LIST_ATTENDEES),
            (Scope::Cancelled, &operations::LIST_CANCELLED_ATTENDEES),
            (Scope::Deleted, &operations::LIST_DELETED_ATTENDEES),
        ];
        let mut compared = 0;
        for (scope, operation) in routes {
            for sort in sorts {
                for filter in &filters {
                    for (page, per_page) in [(1, 100), (3, 37), (40, 50)] {
                        let raw = format!("page={page}&per_page={per_page}{sort}{filter}");
                        let Ok(query) = ListQuery::parse(&raw, scope, operation) else {
                            continue;
                        };
                        let page = store.list(&query);
                        let (expected, total) = reference(&store, &query);
                        assert_eq!(ids(&store, &page), expected, "{scope:?} {raw}");
                        assert_eq!(page.total_entries, total, "{scope:?} {raw}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 150, "only {compared} queries compared");
    }

    #[test]
    fn the_updated_index_stays_in_order_through_writes() {
        let (_, records) = crate::seed::seed(3, 400);
        let mut store = Store::from_sorted(records);
        for (k, id) in store
            .records
            .iter()
            .map(|r| r.id)
            .step_by(7)
            .collect::<Vec<_>>()
            .into_iter()
            .enumerate()
        {
            let _ = store.archive(id, 1_800_000_000 - k as i64);
        }
        let keys: Vec<(i64, i64)> = store
            .by_updated
            .iter()
            .map(|p| {
                (
                    store.records[*p as usize].updated_at,
                    store.records[*p as usize].id,
                )
            })
            .collect();
        assert_eq!(keys.len(), store.records.len());
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
