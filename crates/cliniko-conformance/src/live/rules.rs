//! What the live scenario needs to know of a resource that OpenAPI cannot say, one small module
//! per resource that needs any; every other resource gets the [`Generic`] rules.

mod attendee;

use cliniko_types::facts::Operation;
use cliniko_types::resource::{Resource, Role};
use serde_json::Value;

use super::LiveOptions;

/// The rules of one resource.
pub(super) trait Rules {
    /// The candidates for the parent ID of a nested list route, from the first page's records:
    /// by default the ID in each record's link named like the parent (`patient_case` for
    /// `/patient_cases/{patient_case_id}/attendees`).
    fn parents(&self, nested: &Operation, records: &[Value]) -> Vec<String> {
        let parent = parent_name(nested);
        let mut out: Vec<String> = Vec::new();
        for id in records.iter().filter_map(|record| link_id(record, parent)) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out.truncate(5);
        out
    }

    /// Told which parent a nested route answered 200 for.
    fn found_parent(&mut self, _nested: &Operation, _id: &str) {}

    /// The ID a numeric filter on `name` can use from `record`: its `id`, a `NAME` property, or
    /// the ID at the end of the link named `NAME` without `_id` (`patient_id` ← `patient`).
    fn id_of(&self, record: &Value, name: &str) -> Option<String> {
        if let Some(id) = record.get(name).and_then(Value::as_str) {
            return Some(id.to_owned());
        }
        link_id(record, name.strip_suffix("_id")?)
    }

    /// The body to create a record with, from the spec's request example: each `…_id` property
    /// takes an ID found in the first page's records, and is left out when none is found.
    fn create_body(&self, example: Value, records: &[Value]) -> Option<Value> {
        let Value::Object(mut body) = example else {
            return Some(example);
        };
        let ids: Vec<String> = body
            .keys()
            .filter(|k| k.ends_with("_id"))
            .cloned()
            .collect();
        for key in ids {
            match records.iter().find_map(|record| self.id_of(record, &key)) {
                Some(id) => body.insert(key, Value::String(id)),
                None => body.remove(&key),
            };
        }
        Some(Value::Object(body))
    }

    /// The field a state change fills, whose `*` filter brings the record back to its get route.
    fn hidden_by(&self, role: Role) -> Option<&'static str> {
        role.state_field()
    }

    /// Writes the server must refuse beyond the generic ones (an empty create, a missing update,
    /// a malformed body): step, operation, body and the status expected (`None`: any refusal).
    fn invalid_writes(&self, _id: &str) -> Vec<(String, &'static Operation, Value, Option<u16>)> {
        Vec::new()
    }
}

/// The rules of a resource that needs nothing of its own.
pub(super) struct Generic;

impl Rules for Generic {}

/// The rules of `resource`.
pub(super) fn for_resource(resource: &Resource, options: &LiveOptions) -> Box<dyn Rules> {
    match resource.name {
        "attendee" => Box::new(attendee::Attendee::new(options)),
        _ => Box::new(Generic),
    }
}

/// The parent resource a nested route names first, singular: `patient_case` for
/// `/patient_cases/{patient_case_id}/attendees`.
pub(super) fn parent_name(nested: &Operation) -> &'static str {
    nested
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches('s')
}

/// The ID at the end of `record[name].links.self`, when it is one.
pub(super) fn link_id(record: &Value, name: &str) -> Option<String> {
    let link = record.get(name)?.pointer("/links/self")?.as_str()?;
    let last = link
        .split(['?', '#'])
        .next()?
        .trim_end_matches('/')
        .rsplit('/')
        .next()?;
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())).then(|| last.to_owned())
}
