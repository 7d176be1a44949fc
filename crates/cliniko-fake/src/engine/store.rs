//! One resource's records: the seeded ones, made from the plan when read (so a million seeded
//! records cost their IDs and index columns, not their JSON), every record written since kept as
//! JSON, and the indexes a list page is found by without a sort.
//!
//! Every record has a position, in ascending ID order; IDs only grow, and `created_at` never
//! decreases along the positions, so the default sort (`created_at`, then ID) is position order.
//! Each numeric or date-time field a route filters or sorts on has an index column (an ID, or a
//! time in nanoseconds, `NULL` for null). Four views hold the positions of each state (neither
//! cancelled nor gone, cancelled, gone, archived) and `by_updated` every position in
//! (`updated_at`, ID) order, kept in order as writes move `updated_at`. A sync's page
//! (`q[]=updated_at:>=T` with the `*` filters, `sort=updated_at,id`) is then a binary search and a
//! slice.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::plan::STATES;
use super::query::{Found, Query, Scope};

/// The identity and state fields: an index column each, in this order, for every resource whose
/// item has them.
pub(crate) const IDENTITY_COLUMNS: [&str; 6] = [
    "id",
    "created_at",
    "updated_at",
    STATES[0],
    STATES[1],
    STATES[2],
];

/// A null in an index column.
pub(crate) const NULL: i64 = i64::MIN;

const CANCELLED: u8 = 1;
const ARCHIVED: u8 = 2;
const DELETED: u8 = 4;
/// Removed by a delete: in no list and no view.
const REMOVED: u8 = 8;

/// The views, by the states their records are in.
const VIEW_PLAIN: usize = 0;
const VIEW_CANCELLED: usize = 1;
const VIEW_GONE: usize = 2;
const VIEW_ARCHIVED: usize = 3;

fn in_view(view: usize, class: u8) -> bool {
    if class & REMOVED != 0 {
        return false;
    }
    let gone = class & (ARCHIVED | DELETED) != 0;
    match view {
        VIEW_PLAIN => class == 0,
        VIEW_CANCELLED => class & CANCELLED != 0 && !gone,
        VIEW_GONE => gone,
        _ => class & ARCHIVED != 0,
    }
}

/// What the store's columns are: their names, and which are the identity and state fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    pub(crate) names: Vec<String>,
    pub(crate) created: Option<usize>,
    pub(crate) updated: Option<usize>,
    /// `cancelled_at`, `archived_at`, `deleted_at`.
    pub(crate) states: [Option<usize>; 3],
}

impl Layout {
    pub(crate) fn new(names: Vec<String>) -> Self {
        let at = |name: &str| names.iter().position(|n| n == name);
        Self {
            created: at("created_at"),
            updated: at("updated_at"),
            states: STATES.map(at),
            names,
        }
    }

    fn class_of(&self, values: &[i64]) -> u8 {
        let set = |column: Option<usize>| column.is_some_and(|c| values[c] != NULL);
        let mut class = 0;
        if set(self.states[0]) {
            class |= CANCELLED;
        }
        if set(self.states[1]) {
            class |= ARCHIVED;
        }
        if set(self.states[2]) {
            class |= DELETED;
        }
        class
    }
}

/// A page of positions, in the order the query asked for.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) positions: Vec<u32>,
    pub(crate) total_entries: u64,
}

/// A resource's records and indexes.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) layout: Layout,
    /// Every record's ID, by position (ascending).
    ids: Vec<i64>,
    /// How many positions, from the first, are seeded records.
    seeded: usize,
    /// Index columns, each by position.
    columns: Vec<Vec<i64>>,
    class: Vec<u8>,
    views: [Vec<u32>; 4],
    by_updated: Vec<u32>,
    removed: usize,
    /// Records written since seeding (created, updated or changed in state); `None` for one
    /// removed by a delete.
    pub(crate) written: BTreeMap<i64, Option<Map<String, Value>>>,
}

impl Store {
    /// A store of seeded records, in ascending ID order, each with its index column values.
    pub(crate) fn seeded(layout: Layout, records: impl Iterator<Item = (i64, Vec<i64>)>) -> Self {
        let width = layout.names.len();
        let mut store = Self {
            columns: vec![Vec::new(); width],
            layout,
            ..Self::default()
        };
        for (id, values) in records {
            store.push_raw(id, &values);
        }
        store.seeded = store.ids.len();
        store.rebuild_indexes();
        store
    }

    fn push_raw(&mut self, id: i64, values: &[i64]) {
        self.ids.push(id);
        for (column, value) in self.columns.iter_mut().zip(values) {
            column.push(*value);
        }
        self.class.push(self.layout.class_of(values));
    }

    fn rebuild_indexes(&mut self) {
        for (k, view) in self.views.iter_mut().enumerate() {
            *view = (0..self.ids.len() as u32)
                .filter(|p| in_view(k, self.class[*p as usize]))
                .collect();
        }
        self.removed = self.class.iter().filter(|c| **c & REMOVED != 0).count();
        self.by_updated.clear();
        if let Some(updated) = self.layout.updated {
            let column = &self.columns[updated];
            let mut order: Vec<u32> = (0..self.ids.len() as u32)
                .filter(|p| self.class[*p as usize] & REMOVED == 0)
                .collect();
            order.sort_by_key(|p| (column[*p as usize], *p));
            self.by_updated = order;
        }
    }

    /// Puts back written records (from a state file): each replaces its seeded record or is added
    /// after them, and the indexes are rebuilt once.
    pub(crate) fn restore(
        &mut self,
        written: BTreeMap<i64, Option<Map<String, Value>>>,
        values_of: impl Fn(&Map<String, Value>) -> Vec<i64>,
    ) {
        let mut added: Vec<(i64, Vec<i64>, u8)> = Vec::new();
        for (id, record) in &written {
            let (values, removed) = match record {
                Some(record) => (values_of(record), false),
                None => (vec![NULL; self.columns.len()], true),
            };
            let mut class = self.layout.class_of(&values);
            if removed {
                class |= REMOVED;
            }
            match self.ids.binary_search(id) {
                Ok(position) => {
                    for (column, value) in self.columns.iter_mut().zip(&values) {
                        column[position] = *value;
                    }
                    self.class[position] = class;
                }
                Err(_) => added.push((*id, values, class)),
            }
        }
        for (id, values, class) in added {
            match self.ids.binary_search(&id) {
                Ok(_) => {}
                Err(at) if at == self.ids.len() => {
                    self.push_raw(id, &values);
                    if let Some(last) = self.class.last_mut() {
                        *last = class;
                    }
                }
                // An ID below the highest that is neither seeded nor created here: not a file
                // this fake wrote; left out rather than breaking the order.
                Err(_) => {}
            }
        }
        self.written = written;
        self.rebuild_indexes();
    }

    /// How many records are live (not removed).
    pub(crate) fn len(&self) -> usize {
        self.ids.len() - self.removed
    }

    /// The position of a live record.
    pub(crate) fn find(&self, id: i64) -> Option<u32> {
        let position = self.position_of(id)?;
        (self.class[position] & REMOVED == 0).then_some(position as u32)
    }

    /// Where an ID is: the seeded IDs are evenly spaced (see `seed::position`), the created
    /// ones follow them.
    fn position_of(&self, id: i64) -> Option<usize> {
        crate::seed::position(&self.ids[..self.seeded], id, |i| *i)
            .or_else(|| self.ids.binary_search(&id).ok())
    }

    pub(crate) fn id(&self, position: u32) -> i64 {
        self.ids[position as usize]
    }

    /// The position among the seeded records, when the record at `position` is one and was not
    /// written since.
    pub(crate) fn seeded_index(&self, position: u32) -> Option<usize> {
        let p = position as usize;
        (p < self.seeded && !self.written.contains_key(&self.ids[p])).then_some(p)
    }

    /// Whether the record is archived or deleted.
    pub(crate) fn is_gone(&self, position: u32) -> bool {
        self.class[position as usize] & (ARCHIVED | DELETED) != 0
    }

    /// Every live record's position, in ID order.
    pub(crate) fn live_positions(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.ids.len() as u32).filter(|p| self.class[*p as usize] & REMOVED == 0)
    }

    /// The ID the next created record gets: two above the highest, so that IDs stay odd.
    pub(crate) fn next_id(&self, floor: i64) -> i64 {
        self.ids
            .last()
            .map_or(floor, |id| id.saturating_add(2).max(floor))
    }

    /// The creation time a new record gets: now, but never before the newest record's, which
    /// keeps positions in `created_at` order.
    pub(crate) fn next_created_at(&self, now: i64) -> i64 {
        let newest = self
            .layout
            .created
            .and_then(|c| self.columns[c].iter().rev().find(|v| **v != NULL))
            .map_or(now, |nanos| nanos.div_euclid(1_000_000_000));
        now.max(newest)
    }

    /// Adds a created record (its ID from [`next_id`](Self::next_id)).
    pub(crate) fn insert(&mut self, id: i64, record: Map<String, Value>, values: Vec<i64>) {
        let position = self.ids.len() as u32;
        self.push_raw(id, &values);
        let class = self.class[position as usize];
        for (k, view) in self.views.iter_mut().enumerate() {
            if in_view(k, class) {
                view.push(position);
            }
        }
        if let Some(updated) = self.layout.updated {
            let slot = self.updated_slot(self.columns[updated][position as usize], position);
            self.by_updated.insert(slot, position);
        }
        self.written.insert(id, Some(record));
    }

    /// Replaces a live record with its written form and new index values.
    pub(crate) fn update(&mut self, position: u32, record: Map<String, Value>, values: Vec<i64>) {
        let p = position as usize;
        let before_class = self.class[p];
        let before_updated = self.layout.updated.map(|c| self.columns[c][p]);
        for (column, value) in self.columns.iter_mut().zip(&values) {
            column[p] = *value;
        }
        self.class[p] = self.layout.class_of(&values);
        self.reindex(position, before_class, before_updated);
        self.written.insert(self.ids[p], Some(record));
    }

    /// Removes a record (a delete of a resource without `deleted_at` or `archived_at`).
    pub(crate) fn remove(&mut self, position: u32) {
        let p = position as usize;
        let before_class = self.class[p];
        let before_updated = self.layout.updated.map(|c| self.columns[c][p]);
        self.class[p] |= REMOVED;
        self.removed += 1;
        self.reindex(position, before_class, before_updated);
        self.written.insert(self.ids[p], None);
    }

    fn reindex(&mut self, position: u32, before_class: u8, before_updated: Option<i64>) {
        let class = self.class[position as usize];
        for (k, view) in self.views.iter_mut().enumerate() {
            let (was, is) = (in_view(k, before_class), in_view(k, class));
            if was && !is {
                if let Ok(at) = view.binary_search(&position) {
                    view.remove(at);
                }
            } else if is
                && !was
                && let Err(at) = view.binary_search(&position)
            {
                view.insert(at, position);
            }
        }
        if let (Some(updated), Some(before)) = (self.layout.updated, before_updated) {
            let after = self.columns[updated][position as usize];
            let was_live = before_class & REMOVED == 0;
            let is_live = class & REMOVED == 0;
            if after == before && was_live == is_live {
                return;
            }
            if was_live {
                let at = self.updated_slot(before, position);
                if self.by_updated.get(at) == Some(&position) {
                    self.by_updated.remove(at);
                }
            }
            if is_live {
                let at = self.updated_slot(after, position);
                self.by_updated.insert(at, position);
            }
        }
    }

    /// Where a record with this (`updated_at`, position) is or would be in `by_updated`. A record
    /// being moved is compared under the key given, so it is found where it was.
    fn updated_slot(&self, updated: i64, position: u32) -> usize {
        let Some(column) = self.layout.updated.map(|c| &self.columns[c]) else {
            return 0;
        };
        self.by_updated.partition_point(|p| {
            let key = if *p == position {
                updated
            } else {
                column[*p as usize]
            };
            (key, *p) < (updated, position)
        })
    }

    /// Whether the route's scope, widened by `*` filters, includes the record at `position`.
    fn admits(&self, query: &Query, position: u32) -> bool {
        let class = self.class[position as usize];
        if class & REMOVED != 0 {
            return false;
        }
        let gone = class & (ARCHIVED | DELETED) != 0;
        let gone_ok = !gone || query.include_gone;
        let cancelled = class & CANCELLED != 0;
        match query.scope {
            Scope::Plain => gone_ok && (!cancelled || query.include_cancelled),
            Scope::Cancelled => cancelled && gone_ok,
            Scope::Deleted => gone,
            Scope::Archived => class & ARCHIVED != 0,
        }
    }

    /// The one view that holds exactly the records the query's scope admits, if there is one.
    fn single_view(&self, query: &Query) -> Option<&[u32]> {
        let view = match (query.scope, query.include_cancelled, query.include_gone) {
            (Scope::Plain, false, false) => VIEW_PLAIN,
            (Scope::Cancelled, _, false) => VIEW_CANCELLED,
            (Scope::Deleted, _, _) => VIEW_GONE,
            (Scope::Archived, _, _) => VIEW_ARCHIVED,
            _ => return None,
        };
        Some(&self.views[view])
    }

    /// Whether the scope admits every live record.
    fn admits_all(&self, query: &Query) -> bool {
        query.scope == Scope::Plain && query.include_cancelled && query.include_gone
    }

    /// A field's value at a position, from its column or (for text) `text`.
    fn found(
        &self,
        position: u32,
        column: Option<usize>,
        name: &str,
        text: &dyn Fn(u32, &str) -> Found,
    ) -> Found {
        match column {
            Some(c) => match self.columns[c][position as usize] {
                NULL => Found::Null,
                v => Found::Number(i128::from(v)),
            },
            None => text(position, name),
        }
    }

    /// Whether a get route shows the record: a cancelled, archived or deleted one only when the
    /// request's `*` filter on that field brings it back (Cliniko's rule for its lists and gets).
    pub(crate) fn shows(
        &self,
        query: &Query,
        position: u32,
        text: &dyn Fn(u32, &str) -> Found,
    ) -> bool {
        self.matches(query, position, text)
    }

    fn matches(&self, query: &Query, position: u32, text: &dyn Fn(u32, &str) -> Found) -> bool {
        self.admits(query, position)
            && query
                .filters
                .iter()
                .all(|f| f.matches(&self.found(position, f.column, &f.name, text)))
    }

    /// Runs a list query: the matching records' positions for one page, and how many match.
    /// `text` reads a field the store has no column for off the record.
    ///
    /// A sort that an ordered index holds (ID or creation order; `updated_at` then ID) walks
    /// that index from the range its filters on the leading field bound, found by binary
    /// search: the page costs its own size when nothing else filters, and one pass over the
    /// range (no sort) to count the matches when something does. Other sorts sort the matches.
    pub(crate) fn list(&self, query: &Query, text: &dyn Fn(u32, &str) -> Found) -> Page {
        let per_page = query.per_page;
        let offset = (query.page - 1).saturating_mul(per_page);
        if let Some((by_updated, descending)) = self.order_of(query) {
            return self.walk(query, by_updated, descending, offset, per_page, text);
        }
        let mut matched: Vec<u32> = match self.single_view(query) {
            Some(view) => view
                .iter()
                .copied()
                .filter(|p| self.matches(query, *p, text))
                .collect(),
            None => (0..self.ids.len() as u32)
                .filter(|p| self.matches(query, *p, text))
                .collect(),
        };
        // Each key's values read once per record, then a stable sort over ID order leaves ties
        // in ascending ID order.
        let keys: Vec<Vec<Found>> = matched
            .iter()
            .map(|p| {
                query
                    .sort
                    .iter()
                    .map(|k| self.found(*p, k.column, &k.name, text))
                    .collect()
            })
            .collect();
        let mut order: Vec<usize> = (0..matched.len()).collect();
        order.sort_by(|a, b| {
            query
                .sort
                .iter()
                .enumerate()
                .map(|(k, key)| key.compare(&keys[*a][k], &keys[*b][k]))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        matched = order.into_iter().map(|k| matched[k]).collect();
        page_of(&matched, offset, per_page, false)
    }

    /// The ordered index that gives the query's sort (`false` for positions, `true` for
    /// `by_updated`), and whether it is walked backwards; `None` when no index does.
    fn order_of(&self, query: &Query) -> Option<(bool, bool)> {
        if query.is_default_order() {
            return Some((false, query.sort[0].descending));
        }
        let first = &query.sort[0];
        if first.name != "updated_at" || self.layout.updated.is_none() {
            return None;
        }
        // Ties on `updated_at` are in ascending ID order unless an `id` key says otherwise; the
        // index holds them ascending, so walked backwards they need `id:desc`.
        match query.sort.get(1) {
            None if !first.descending && query.sort.len() == 1 => Some((true, false)),
            Some(key)
                if key.name == "id"
                    && key.descending == first.descending
                    && query.sort.len() == 2 =>
            {
                Some((true, first.descending))
            }
            _ => None,
        }
    }

    /// One page from an ordered index: the candidates the filters on the index's leading field
    /// bound, walked in order.
    fn walk(
        &self,
        query: &Query,
        by_updated: bool,
        descending: bool,
        offset: u64,
        per_page: u64,
        text: &dyn Fn(u32, &str) -> Found,
    ) -> Page {
        // The leading fields of the index: ID and creation (position order), or `updated_at`.
        let id_column = self.layout.names.iter().position(|n| n == "id");
        let leading: Vec<usize> = if by_updated {
            self.layout.updated.into_iter().collect()
        } else {
            id_column.into_iter().chain(self.layout.created).collect()
        };
        let single = if by_updated {
            None
        } else {
            self.single_view(query)
        };
        let base: &[u32] = match (by_updated, single) {
            (true, _) => &self.by_updated,
            (false, Some(view)) => view,
            (false, None) => &[],
        };
        let whole = !by_updated && single.is_none();
        let scope_exact = if by_updated {
            self.admits_all(query)
        } else {
            single.is_some() || (self.admits_all(query) && self.removed == 0)
        };
        // Every filter either bounds the range on the index's first field, or the walk checks
        // each candidate.
        let mut exact = scope_exact;
        let mut bounds: Vec<(usize, i128, i128)> = Vec::new();
        for filter in &query.filters {
            if filter.is_anything() {
                continue;
            }
            match (filter.column, filter.range()) {
                (Some(column), Some((from, to))) if leading.contains(&column) => {
                    bounds.push((column, from, to))
                }
                _ => exact = false,
            }
        }
        // Both ID and creation time grow with position, so a bound on either narrows it.
        let key = |column: usize, position: u32| -> i128 {
            match self.columns[column][position as usize] {
                NULL => i128::MIN,
                v => i128::from(v),
            }
        };
        let (mut start, mut end) = if whole {
            (0, self.ids.len())
        } else {
            (0, base.len())
        };
        for (column, low, high) in &bounds {
            let at = |k: usize| if whole { k as u32 } else { base[k] };
            let (s, e) = (start, end);
            let from = s + partition(e - s, |k| key(*column, at(s + k)) < *low);
            let to = s + partition(e - s, |k| key(*column, at(s + k)) <= *high);
            start = from;
            end = to.max(from);
        }
        if bounds.len() > 1 {
            // Several bounds on the leading fields narrow the same range; a candidate inside
            // it still passes each of them (checked below only when not exact).
        }
        let at = |k: usize| -> u32 {
            let k = if descending { end - 1 - (k - start) } else { k };
            if whole { k as u32 } else { base[k] }
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
            if self.matches(query, position, text) {
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
    use cliniko_spec::facts::{FilterField, FilterKind};

    use super::*;
    use crate::engine::query::ColumnsOf;
    use crate::rng::SplitMix64;

    /// The identity columns, then a link's.
    const NAMES: [&str; 7] = [
        IDENTITY_COLUMNS[0],
        IDENTITY_COLUMNS[1],
        IDENTITY_COLUMNS[2],
        IDENTITY_COLUMNS[3],
        IDENTITY_COLUMNS[4],
        IDENTITY_COLUMNS[5],
        "patient_id",
    ];
    const SECOND: i64 = 1_000_000_000;

    impl ColumnsOf for Layout {
        fn column(&self, name: &str) -> Option<usize> {
            self.names.iter().position(|n| n == name)
        }
    }

    fn fields() -> Vec<FilterField> {
        NAMES
            .iter()
            .map(|name| FilterField {
                name: (*name).to_owned(),
                kind: if name.ends_with("_at") {
                    FilterKind::DateTime
                } else {
                    FilterKind::Numeric
                },
            })
            .collect()
    }

    /// The answer without indexes: every record the scope and filters admit, stably sorted over
    /// ID order by the query's keys, then the page.
    fn reference(store: &Store, query: &Query) -> (Vec<i64>, u64) {
        let found =
            |p: u32, column: Option<usize>| match column.map(|c| store.columns[c][p as usize]) {
                Some(NULL) | None => Found::Null,
                Some(v) => Found::Number(v.into()),
            };
        let mut matched: Vec<u32> = (0..store.ids.len() as u32)
            .filter(|p| {
                store.admits(query, *p)
                    && query
                        .filters
                        .iter()
                        .all(|f| f.matches(&found(*p, f.column)))
            })
            .collect();
        matched.sort_by(|a, b| {
            query
                .sort
                .iter()
                .map(|key| key.compare(&found(*a, key.column), &found(*b, key.column)))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let total = matched.len() as u64;
        let start = ((query.page - 1) * query.per_page).min(total) as usize;
        let end = (start as u64 + query.per_page).min(total) as usize;
        (
            matched[start..end]
                .iter()
                .map(|p| store.ids[*p as usize])
                .collect(),
            total,
        )
    }

    fn time(nanos: i64) -> String {
        chrono::DateTime::from_timestamp(nanos / SECOND, 0)
            .expect("in range")
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    #[test]
    fn indexed_pages_are_the_pages_a_full_sort_gives_after_writes() {
        let layout = Layout::new(NAMES.iter().map(|n| (*n).to_owned()).collect());
        let mut rng = SplitMix64::new(11);
        let base = 1_577_836_800 * SECOND;
        let seeded: Vec<(i64, Vec<i64>)> = (0..1_500i64)
            .map(|k| {
                let created = base + k * 61 * SECOND;
                let updated = created + rng.below(3 * 86_400) as i64 * SECOND;
                let state = |rng: &mut SplitMix64| {
                    if rng.chance(0.1) { updated } else { NULL }
                };
                let cancelled = state(&mut rng);
                let archived = state(&mut rng);
                let patient = 7 + rng.below(20) as i64;
                (
                    1 + 2 * k,
                    vec![
                        1 + 2 * k,
                        created,
                        updated,
                        cancelled,
                        archived,
                        archived,
                        patient,
                    ],
                )
            })
            .collect();
        let mut store = Store::seeded(layout.clone(), seeded.into_iter());
        // Writes that move records in the `updated_at` index and between the views, some giving
        // several records the same `updated_at` (ties), and a few removals.
        let now = base + 2_000_000 * SECOND;
        for k in 0..300i64 {
            let position = rng.below(1_500) as u32;
            if store.class[position as usize] & REMOVED != 0 {
                continue;
            }
            let mut values: Vec<i64> = (0..NAMES.len())
                .map(|c| store.columns[c][position as usize])
                .collect();
            values[2] = now + (k / 3) * SECOND;
            match rng.below(4) {
                0 => values[3] = values[2],
                1 => {
                    values[4] = values[2];
                    values[5] = values[2];
                }
                2 if k % 10 == 0 => {
                    store.remove(position);
                    continue;
                }
                _ => values[6] = 7 + rng.below(20) as i64,
            }
            store.update(position, Map::new(), values);
        }
        let middle = store.columns[2][700];
        let middle_id = store.ids[700];
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
                time(now + 20 * SECOND)
            ),
            format!("&q[]=id:>{middle_id}&q[]=archived_at:*"),
            format!(
                "&q[]=id:<={middle_id}&q[]=updated_at:<{}",
                time(now + 50 * SECOND)
            ),
            format!(
                "&q[]=created_at:>{}&q[]=cancelled_at:*",
                time(base + 300 * 61 * SECOND)
            ),
            "&q[]=patient_id:=9,10".to_owned(),
        ];
        let sortable: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
        let mut compared = 0;
        for scope in [
            Scope::Plain,
            Scope::Cancelled,
            Scope::Deleted,
            Scope::Archived,
        ] {
            for sort in sorts {
                for filter in &filters {
                    for (page, per_page) in [(1, 100), (3, 37), (40, 50)] {
                        let raw = format!("page={page}&per_page={per_page}{sort}{filter}");
                        let query =
                            Query::parse(&raw, scope, &fields(), &sortable, (1, 100, 50), &layout)
                                .expect("parses");
                        let page = store.list(&query, &|_, _| Found::Null);
                        let ids: Vec<i64> = page.positions.iter().map(|p| store.id(*p)).collect();
                        let (expected, total) = reference(&store, &query);
                        assert_eq!(ids, expected, "{scope:?} {raw}");
                        assert_eq!(page.total_entries, total, "{scope:?} {raw}");
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 4 * 8 * 9 * 3);
        // The `updated_at` index holds every live record, in (`updated_at`, ID) order.
        let keys: Vec<(i64, i64)> = store
            .by_updated
            .iter()
            .map(|p| (store.columns[2][*p as usize], store.ids[*p as usize]))
            .collect();
        assert_eq!(keys.len(), store.len());
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
