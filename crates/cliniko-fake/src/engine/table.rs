//! One resource's records: the seeded ones, made from the schema when read (so a million seeded
//! patients cost their IDs, not their JSON), and every record written since, kept as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

/// A resource's records by ID.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// The seeded IDs, ascending; a seeded record is made from its ID until it is written.
    pub(crate) seeded: Arc<Vec<i64>>,
    /// Records written since seeding (created, updated or changed in state); `None` for one
    /// removed by a delete.
    pub(crate) written: BTreeMap<i64, Option<Map<String, Value>>>,
}

/// What a lookup found.
pub(crate) enum Found<'a> {
    /// A seeded record, at this position among the seeded IDs.
    Seeded(usize),
    /// A written record.
    Written(&'a Map<String, Value>),
}

impl Table {
    /// The record with this ID, unless it does not exist or was deleted.
    pub(crate) fn find(&self, id: i64) -> Option<Found<'_>> {
        match self.written.get(&id) {
            Some(Some(record)) => Some(Found::Written(record)),
            Some(None) => None,
            None => self.seeded.binary_search(&id).ok().map(Found::Seeded),
        }
    }

    /// Every live ID, ascending.
    pub(crate) fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        let seeded = self
            .seeded
            .iter()
            .copied()
            .filter(|id| !self.written.contains_key(id));
        let written = self
            .written
            .iter()
            .filter(|(_, r)| r.is_some())
            .map(|(id, _)| *id);
        merge(seeded, written)
    }

    /// The ID the next created record gets: two above the highest, so that IDs stay odd.
    pub(crate) fn next_id(&self, floor: i64) -> i64 {
        let highest = self
            .seeded
            .last()
            .copied()
            .into_iter()
            .chain(self.written.keys().next_back().copied())
            .max();
        highest.map_or(floor, |id| id.saturating_add(2).max(floor))
    }
}

/// Two ascending ID streams merged into one.
fn merge(a: impl Iterator<Item = i64>, b: impl Iterator<Item = i64>) -> impl Iterator<Item = i64> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x <= y => a.next(),
        (Some(_), Some(_)) => b.next(),
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}
