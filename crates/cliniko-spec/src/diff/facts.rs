//! Cliniko's facts (`x-cliniko-*`), compared with the rules of what each one does to the
//! client, read with the parsers of [`crate::facts`]. Any other `x-cliniko-*` extension outside
//! a schema is reported as changed and left unjudged.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::operations::{Site, Walker};
use super::patterns::covers;
use super::{ChangeKind, Direction, Verdict, show};
use crate::METHODS;
use crate::facts::{
    FilterField, Retry, filter_fields_from_value, filter_parameter, filter_pattern,
    rate_limit_from_value,
};
use crate::pointer::push;

/// The extensions this module has rules for, by their place.
const RATE_LIMIT: &str = "/x-cliniko-rate-limit";

pub(super) fn compare(walker: &mut Walker<'_>) {
    rate_limit(walker);
    shard_patterns(walker);
    operations(walker);
    others(walker);
}

fn rate_limit(walker: &mut Walker<'_>) {
    let (old, new) = (
        walker.base.pointer(RATE_LIMIT),
        walker.head.pointer(RATE_LIMIT),
    );
    if old == new {
        return;
    }
    fn read(v: Option<&Value>) -> Option<(Option<(u32, u32)>, &Value)> {
        v.map(|v| (rate_limit_from_value(v), v))
    }
    let describe = |v: &Option<(Option<(u32, u32)>, &Value)>| {
        v.as_ref().map(|(parsed, raw)| match parsed {
            Some((requests, window)) => format!("{requests} per {window} s"),
            None => format!("unreadable: {}", show(raw)),
        })
    };
    let (old, new) = (read(old), read(new));
    let verdict = match (&old, &new) {
        // A limit is no longer stated: a client that keeps to the old one is still within it.
        (Some(_), None) => Verdict::NotBreaking,
        (Some((Some(old), _)), Some((Some(new), _))) => {
            if allows(*new, *old) {
                Verdict::NotBreaking
            } else {
                Verdict::Breaking
            }
        }
        // A new limit, or one that cannot be read: the older client may exceed it.
        _ => Verdict::Breaking,
    };
    let site = Site::root("x-cliniko-rate-limit", RATE_LIMIT);
    walker.push(
        &site,
        ChangeKind::RateLimitChanged,
        describe(&old),
        describe(&new),
        verdict,
    );
}

/// Whether a client that keeps to `old` (requests per window) keeps to `new` too: it may send
/// `old.0` at once, and `old.0` again each `old.1` seconds.
fn allows(new: (u32, u32), old: (u32, u32)) -> bool {
    let windows = u64::from(new.1).div_ceil(u64::from(old.1));
    u64::from(new.0) >= u64::from(old.0) * windows.max(1)
}

fn shard_patterns(walker: &mut Walker<'_>) {
    let patterns = |document: &Value| -> BTreeMap<(String, String), (usize, Option<String>)> {
        let mut out = BTreeMap::new();
        for (index, server) in document
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let url = server.get("url").and_then(Value::as_str).unwrap_or("");
            for (name, variable) in server
                .get("variables")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let pattern = variable.get("x-cliniko-pattern").map(show);
                out.insert((url.to_owned(), name.clone()), (index, pattern));
            }
        }
        out
    };
    let (old, new) = (patterns(walker.base), patterns(walker.head));
    for key in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let before = old.get(key).and_then(|(_, p)| p.clone());
        let after = new.get(key).and_then(|(_, p)| p.clone());
        if before == after {
            continue;
        }
        let index = new.get(key).or(old.get(key)).map_or(0, |(i, _)| *i);
        let verdict = match (&before, &after) {
            (_, None) => Verdict::NotBreaking,
            (None, Some(_)) => Verdict::Breaking,
            (Some(old), Some(new)) => match covers(new, old) {
                Some(true) => Verdict::NotBreaking,
                // Narrower, or it cannot be told: breaking, so that CI looks at it.
                _ => Verdict::Breaking,
            },
        };
        let at = push(
            &push(&format!("/servers/{index}/variables"), &key.1),
            "x-cliniko-pattern",
        );
        let site = Site::root(&format!("servers → {} → variable {}", key.0, key.1), &at);
        walker.push(
            &site,
            ChangeKind::ClinikoPatternChanged,
            before,
            after,
            verdict,
        );
    }
}

/// A `q[]` parameter's pointer, its fields and its pattern.
type QueryFilter<'a> = (String, Option<Vec<FilterField>>, Option<&'a str>);

/// One operation's facts.
struct OperationFacts<'a> {
    label: String,
    id: Option<String>,
    at: String,
    retry: Option<&'a Value>,
    /// The `q[]` parameter's pointer, its fields (`None` without `x-cliniko-filter-fields`) and
    /// its pattern.
    filters: Option<QueryFilter<'a>>,
}

fn operation_facts(document: &Value) -> BTreeMap<(String, usize), OperationFacts<'_>> {
    let mut out = BTreeMap::new();
    for (path, item) in document
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (index, method) in METHODS.iter().enumerate() {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let filters = filter_parameter(document, path, method).map(|(at, parameter)| {
                let fields = parameter
                    .get("x-cliniko-filter-fields")
                    .map(|groups| filter_fields_from_value(groups).0);
                let pattern = parameter
                    .pointer("/schema/items/pattern")
                    .and_then(Value::as_str);
                (at, fields, pattern)
            });
            out.insert(
                (super::operations::template(path), index),
                OperationFacts {
                    label: format!("{} {path}", method.to_ascii_uppercase()),
                    id: operation
                        .get("operationId")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    at: push(&push("/paths", path), method),
                    retry: operation.get("x-cliniko-retry"),
                    filters,
                },
            );
        }
    }
    out
}

fn operations(walker: &mut Walker<'_>) {
    let (old, new) = (operation_facts(walker.base), operation_facts(walker.head));
    for (key, after) in &new {
        // An added or removed operation is reported as such, with its facts.
        let Some(before) = old.get(key) else {
            continue;
        };
        let site = Site::operation(&after.label, after.id.clone(), &after.at);
        retry(walker, &site, before.retry, after.retry);
        filters(walker, &site, before, after);
    }
}

fn retry(walker: &mut Walker<'_>, site: &Site, old: Option<&Value>, new: Option<&Value>) {
    if old == new {
        return;
    }
    // No fact reads as the cautious `only-if-not-sent`.
    let read = |v: Option<&Value>| match v {
        None => Some(Retry::OnlyIfNotSent),
        Some(v) => Retry::from_value(v),
    };
    let verdict = match (read(old), read(new)) {
        (Some(Retry::OnlyIfNotSent), Some(Retry::Always)) => Verdict::Breaking,
        (Some(_), Some(_)) => Verdict::NotBreaking,
        // A value the client does not know: it cannot say how it would act.
        _ => Verdict::Breaking,
    };
    walker.push(
        &site.doc_child("x-cliniko-retry"),
        ChangeKind::RetryChanged,
        old.map(show),
        new.map(show),
        verdict,
    );
}

fn filters(
    walker: &mut Walker<'_>,
    site: &Site,
    before: &OperationFacts<'_>,
    after: &OperationFacts<'_>,
) {
    let (Some((_, old_fields, old_pattern)), Some((at, new_fields, new_pattern))) =
        (&before.filters, &after.filters)
    else {
        return;
    };
    let component = at
        .strip_prefix("/components/parameters/")
        .map(|name| format!("parameter {name}"));
    let site = site
        .then("query q[]")
        .entering(component.as_deref())
        .at(push(at, "x-cliniko-filter-fields"));
    let list = |fields: &[FilterField]| {
        fields
            .iter()
            .map(|f| format!("{} ({})", f.name, f.kind.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (old_fields, new_fields) = match (old_fields, new_fields) {
        (Some(old), Some(new)) => (old, new),
        (None, None) => return,
        // The fact as a whole appeared or went: one change.
        (None, Some(new)) => {
            walker.push(
                &site,
                ChangeKind::FilterFieldAdded,
                None,
                Some(list(new)),
                Verdict::NotBreaking,
            );
            return;
        }
        (Some(old), None) => {
            walker.push(
                &site,
                ChangeKind::FilterFieldRemoved,
                Some(list(old)),
                None,
                Verdict::Breaking,
            );
            return;
        }
    };
    for field in old_fields.iter().filter(|f| !new_fields.contains(f)) {
        walker.push(
            &site.doc_child(field.kind.name()),
            ChangeKind::FilterFieldRemoved,
            Some(list(std::slice::from_ref(field))),
            None,
            Verdict::Breaking,
        );
    }
    for field in new_fields.iter().filter(|f| !old_fields.contains(f)) {
        walker.push(
            &site.doc_child(field.kind.name()),
            ChangeKind::FilterFieldAdded,
            None,
            Some(list(std::slice::from_ref(field))),
            Verdict::NotBreaking,
        );
    }
    // The `q[]` pattern is built from the fields: when both follow them, its change is the
    // fields' change, already reported.
    if old_fields != new_fields
        && *old_pattern == Some(filter_pattern(old_fields).as_str())
        && *new_pattern == Some(filter_pattern(new_fields).as_str())
    {
        walker.forget_derived_pattern(&format!("#{at}/schema/items/pattern"));
    }
}

/// Every other `x-cliniko-*` extension outside schemas, by its pointer.
fn others(walker: &mut Walker<'_>) {
    let (old, new) = (extensions(walker.base), extensions(walker.head));
    for at in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let (before, after) = (old.get(at), new.get(at));
        let kind = match (before, after) {
            (None, Some(_)) => ChangeKind::ExtensionAdded,
            (Some(_), None) => ChangeKind::ExtensionRemoved,
            (Some(b), Some(a)) if b != a => ChangeKind::ExtensionChanged,
            _ => continue,
        };
        let name = at.rsplit('/').next().unwrap_or(at);
        let describe = |v: Option<&&Value>| v.map(|v| format!("{name}: {}", show(v)));
        let site = Site::root(&format!("extension {at}"), at);
        walker.push(
            &site,
            kind,
            describe(before),
            describe(after),
            Verdict::Unjudged,
        );
    }
}

/// `x-cliniko-*` extensions that no rule covers, outside schemas (whose extensions the schema
/// comparison reports).
fn extensions(document: &Value) -> BTreeMap<String, &Value> {
    fn walk<'a>(value: &'a Value, at: &str, out: &mut BTreeMap<String, &'a Value>) {
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    if matches!(key.as_str(), "schema" | "schemas") {
                        continue;
                    }
                    let here = push(at, key);
                    if key.starts_with("x-cliniko-") {
                        // `/paths/P/METHOD/x-cliniko-retry`: four tokens.
                        let on_operation =
                            here.starts_with("/paths/") && here.matches('/').count() == 4;
                        let known = match key.as_str() {
                            "x-cliniko-retry" => on_operation,
                            "x-cliniko-filter-fields" | "x-cliniko-pattern" => true,
                            _ => here == RATE_LIMIT,
                        };
                        if !known {
                            out.insert(here, child);
                        }
                    } else {
                        walk(child, &here, out);
                    }
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    walk(child, &push(at, &index.to_string()), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(document, "", &mut out);
    out
}

impl Site {
    /// A site outside operations, at `at` in the newer document.
    fn root(location: &str, at: &str) -> Self {
        Site::new(location.to_owned(), None, Direction::Request).at(at)
    }

    /// An operation's site.
    fn operation(label: &str, id: Option<String>, at: &str) -> Self {
        Site::new(label.to_owned(), id, Direction::Request).at(at)
    }
}
