//! Comparing two schemas after following their `$ref`s and flattening `allOf` and nullable
//! idioms, so that equivalent spellings compare equal.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::operations::{Site, Walker};
use super::{ChangeKind, Direction, Verdict, show};
use crate::nullable::is_null_branch;

/// How many `$ref`s or `allOf` levels deep a schema may go before it is treated as empty.
const MAX_DEPTH: usize = 32;

/// A schema with its `$ref`s followed and its `allOf` members merged in.
#[derive(Debug, Default)]
pub(super) struct Flat<'a> {
    ty: Option<&'a str>,
    format: Option<&'a str>,
    nullable: bool,
    /// The `enum` values other than null.
    values: Option<Vec<&'a Value>>,
    properties: BTreeMap<&'a str, &'a Value>,
    required: BTreeSet<&'a str>,
    items: Option<&'a Value>,
    additional: Option<&'a Value>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    lengths: BTreeMap<&'static str, f64>,
    pattern: Option<&'a str>,
    default: Option<&'a Value>,
    deprecated: bool,
    /// `oneOf` or `anyOf`, without the variants that only allow null.
    variants: Option<(&'static str, Vec<(usize, &'a Value)>)>,
    extensions: BTreeMap<&'a str, &'a Value>,
    /// The last component schema named on the way in, such as `Attendee`.
    pub(super) component: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    exclusive: bool,
}

impl Bound {
    fn show(self, lower: bool) -> String {
        let op = match (lower, self.exclusive) {
            (true, true) => ">",
            (true, false) => ">=",
            (false, true) => "<",
            (false, false) => "<=",
        };
        format!("{op} {}", self.value)
    }
}

/// Follows `$ref`s from `value`; returns the schema and the last component schema name met. A
/// chain that resolves nowhere or loops reads as the empty schema.
pub(super) fn deref<'a>(document: &'a Value, value: &'a Value) -> (&'a Value, Option<&'a str>) {
    let chased = crate::pointer::chase(document, value);
    match chased.broken {
        None => (chased.value, chased.schema_name),
        Some(_) => (&EMPTY, chased.schema_name),
    }
}

/// The empty schema (and what an unresolvable `$ref` stands for): anything is allowed.
pub(super) static EMPTY: Value = Value::Null;

pub(super) fn flatten<'a>(document: &'a Value, schema: &'a Value) -> Flat<'a> {
    let mut flat = Flat::default();
    merge(document, schema, &mut flat, 0, false);
    flat
}

/// The final target of the `$ref`s from `value`, as a JSON pointer, when it has one that resolves.
fn reference_target<'a>(document: &'a Value, value: &'a Value) -> Option<&'a str> {
    let chased = crate::pointer::chase(document, value);
    match chased.broken {
        Some(crate::pointer::Broken::Dangling(_)) => None,
        _ => chased
            .reference
            .map(|reference| reference.trim_start_matches('#')),
    }
}

/// Whether two variants are the same one: the same `$ref`, or the same schema but for its
/// documentation.
fn same_variant(old: &Value, new: &Value) -> bool {
    let reference = |v: &Value| v.get("$ref").and_then(Value::as_str).map(str::to_owned);
    match (reference(old), reference(new)) {
        (Some(a), Some(b)) => a == b,
        (None, None) => {
            let bare = |v: &Value| -> Value {
                match v.as_object() {
                    Some(object) => Value::Object(
                        object
                            .iter()
                            .filter(|(k, _)| {
                                !matches!(k.as_str(), "description" | "example" | "title")
                            })
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    None => v.clone(),
                }
            };
            bare(old) == bare(new)
        }
        _ => false,
    }
}

/// The keywords that make a schema more than a wrapper around one `oneOf`/`anyOf`.
const SHAPING: &[&str] = &[
    "type",
    "format",
    "enum",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "allOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
];

/// A schema's `oneOf` or `anyOf` members that allow more than null, with their places, when the
/// schema is only that composition (plus `nullable`, documentation and extensions).
fn composition<'a>(
    document: &'a Value,
    schema: &'a Value,
) -> Option<(&'static str, Vec<(usize, &'a Value)>)> {
    let object = schema.as_object()?;
    if SHAPING.iter().any(|k| object.contains_key(*k)) {
        return None;
    }
    let mut found = None;
    for keyword in ["oneOf", "anyOf"] {
        if let Some(members) = object.get(keyword).and_then(Value::as_array) {
            if found.is_some() {
                return None;
            }
            let kept: Vec<(usize, &Value)> = members
                .iter()
                .enumerate()
                .filter(|(_, m)| !is_null_branch(document, m))
                .collect();
            found = Some((keyword, kept));
        }
    }
    found.filter(|(_, kept)| !kept.is_empty())
}

/// Merges `schema` into `flat`: what `flat` already has wins, lists and sets are united. With
/// `shallow`, a `oneOf`/`anyOf` at the top only says whether null is allowed.
fn merge<'a>(
    document: &'a Value,
    schema: &'a Value,
    flat: &mut Flat<'a>,
    depth: usize,
    shallow: bool,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let (schema, name) = deref(document, schema);
    if flat.component.is_none() && depth == 0 {
        flat.component = name;
    }
    let Some(object) = schema.as_object() else {
        return;
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    let number = |key: &str| object.get(key).and_then(Value::as_f64);
    let flag = |key: &str| object.get(key).and_then(Value::as_bool) == Some(true);
    flat.ty = flat.ty.or(text("type"));
    flat.format = flat.format.or(text("format"));
    flat.pattern = flat.pattern.or(text("pattern"));
    flat.nullable |= flag("nullable");
    flat.deprecated |= flag("deprecated");
    flat.default = flat.default.or(object.get("default"));
    if let Some(values) = object.get("enum").and_then(Value::as_array) {
        flat.nullable |= values.iter().any(Value::is_null);
        if flat.values.is_none() {
            flat.values = Some(values.iter().filter(|v| !v.is_null()).collect());
        }
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            flat.properties.entry(name.as_str()).or_insert(property);
        }
    }
    if let Some(required) = object.get("required").and_then(Value::as_array) {
        flat.required
            .extend(required.iter().filter_map(Value::as_str));
    }
    flat.items = flat.items.or(object.get("items"));
    flat.additional = flat.additional.or(object.get("additionalProperties"));
    if flat.minimum.is_none() {
        flat.minimum = number("minimum").map(|value| Bound {
            value,
            exclusive: flag("exclusiveMinimum"),
        });
    }
    if flat.maximum.is_none() {
        flat.maximum = number("maximum").map(|value| Bound {
            value,
            exclusive: flag("exclusiveMaximum"),
        });
    }
    for key in ["minLength", "maxLength", "minItems", "maxItems"] {
        if let Some(value) = number(key) {
            flat.lengths.entry(key).or_insert(value);
        }
    }
    for (key, value) in object.iter().filter(|(k, _)| k.starts_with("x-")) {
        flat.extensions.entry(key.as_str()).or_insert(value);
    }
    if let Some(members) = object.get("allOf").and_then(Value::as_array) {
        for member in members {
            merge(document, member, flat, depth + 1, false);
        }
    }
    for keyword in ["oneOf", "anyOf"] {
        let Some(members) = object.get(keyword).and_then(Value::as_array) else {
            continue;
        };
        let mut kept = Vec::new();
        for (index, member) in members.iter().enumerate() {
            if is_null_branch(document, member) {
                flat.nullable = true;
            } else {
                kept.push((index, member));
            }
        }
        if shallow {
            continue;
        }
        // `anyOf: [$ref, {enum: [null]}]` is the same schema as `nullable: true, allOf: [$ref]`.
        if let [(_, single)] = kept.as_slice() {
            merge(document, single, flat, depth + 1, false);
        } else if flat.variants.is_none() && !kept.is_empty() {
            flat.variants = Some((if keyword == "oneOf" { "oneOf" } else { "anyOf" }, kept));
        }
    }
}

impl<'a> Walker<'a> {
    /// Compares two schemas at `site`.
    pub(super) fn schema(&mut self, site: &Site, base: &'a Value, head: &'a Value) {
        let (base_target, base_name) = deref(self.base, base);
        let (head_target, head_name) = deref(self.head, head);
        let key = (
            base_target as *const Value as usize,
            head_target as *const Value as usize,
            site.direction,
        );
        // A schema that contains itself is compared once per path through it.
        if self.active.contains(&key) {
            return;
        }
        self.active.push(key);
        let mut site = site.entering(head_name.or(base_name));
        if let Some(target) = reference_target(self.head, head) {
            site = site.at(target);
        }
        match (
            composition(self.base, base_target),
            composition(self.head, head_target),
        ) {
            // A wrapper around `oneOf`/`anyOf` on both sides (`oneOf: [$ref, null]` included):
            // what the wrapper says, then each variant, matched by what it is, at its own place.
            (Some((kw_before, before_members)), Some((kw_after, after_members)))
                if kw_before == kw_after =>
            {
                let mut before = Flat::default();
                merge(self.base, base, &mut before, 0, true);
                let mut after = Flat::default();
                merge(self.head, head, &mut after, 0, true);
                self.flat(&site, &before, &after);
                self.variants(&site, kw_after, &before_members, &after_members);
            }
            // One schema became a choice of several (or the other way): the schema is one variant.
            (None, Some((keyword, after_members))) if after_members.len() > 1 => {
                self.variants(&site, keyword, &[(0, base)], &after_members);
            }
            (Some((keyword, before_members)), None) if before_members.len() > 1 => {
                self.variants(&site, keyword, &before_members, &[(0, head)]);
            }
            _ => {
                let before = flatten(self.base, base);
                let after = flatten(self.head, head);
                self.flat(&site, &before, &after);
            }
        }
        self.active.pop();
    }

    /// Compares the variants of a `oneOf`/`anyOf`: those with the same `$ref` or the same schema
    /// are the same variant wherever they stand; one left on each side is the same variant
    /// edited; the rest were added or removed.
    fn variants(
        &mut self,
        site: &Site,
        keyword: &str,
        before: &[(usize, &'a Value)],
        after: &[(usize, &'a Value)],
    ) {
        let mut taken = vec![false; after.len()];
        let mut pairs = Vec::new();
        let mut removed = Vec::new();
        for (index, old) in before {
            let found = after
                .iter()
                .enumerate()
                .position(|(at, (_, new))| !taken[at] && same_variant(old, new));
            match found {
                Some(at) => {
                    taken[at] = true;
                    pairs.push((*old, after[at]));
                }
                None => removed.push((*index, *old)),
            }
        }
        let mut added: Vec<(usize, &Value)> = after
            .iter()
            .zip(&taken)
            .filter(|(_, taken)| !**taken)
            .map(|(member, _)| *member)
            .collect();
        if let ([(_, old)], [new]) = (removed.as_slice(), added.as_slice()) {
            pairs.push((*old, *new));
            removed.clear();
            added.clear();
        }
        for (old, (index, new)) in pairs {
            self.schema(&site.child(keyword).child(&index.to_string()), old, new);
        }
        for (index, old) in removed {
            self.push(
                &site.child(keyword).child(&index.to_string()),
                ChangeKind::VariantRemoved,
                Some(format!("{keyword}: {}", summary(self.base, old))),
                None,
                // The generated type loses a variant that code may name.
                Verdict::Breaking,
            );
        }
        for (index, new) in added {
            self.push(
                &site.child(keyword).child(&index.to_string()),
                ChangeKind::VariantAdded,
                None,
                Some(format!("{keyword}: {}", summary(self.head, new))),
                // A response may now hold a shape the older code cannot read.
                site.direction.narrowing(false),
            );
        }
    }

    fn flat(&mut self, site: &Site, before: &Flat<'a>, after: &Flat<'a>) {
        let direction = site.direction;
        if before.ty != after.ty {
            self.push(
                site,
                ChangeKind::TypeChanged,
                Some(before.ty.unwrap_or("(any)").to_owned()),
                Some(after.ty.unwrap_or("(any)").to_owned()),
                Verdict::Breaking,
            );
        }
        if before.format != after.format {
            self.push(
                site,
                ChangeKind::FormatChanged,
                before.format.map(str::to_owned),
                after.format.map(str::to_owned),
                Verdict::Breaking,
            );
        }
        match (before.nullable, after.nullable) {
            (false, true) => self.push(
                site,
                ChangeKind::NullableAdded,
                None,
                Some("nullable".to_owned()),
                direction.narrowing(false),
            ),
            (true, false) => self.push(
                site,
                ChangeKind::NullableRemoved,
                Some("nullable".to_owned()),
                None,
                direction.narrowing(true),
            ),
            _ => {}
        }
        self.values(site, before, after);
        self.bounds(site, before, after);
        self.pattern(site, before.pattern, after.pattern);
        if before.default != after.default {
            self.push(
                site,
                ChangeKind::DefaultChanged,
                before.default.map(show),
                after.default.map(show),
                Verdict::NotBreaking,
            );
        }
        if before.deprecated != after.deprecated {
            self.deprecated(site, before.deprecated, after.deprecated);
        }
        self.extensions(site, before, after);
        if before.ty != after.ty && before.ty.is_some() && after.ty.is_some() {
            // What an array held or an object's properties say nothing more once the type changed.
            return;
        }
        self.properties(site, before, after);
        match (before.items, after.items) {
            (None, None) => {}
            (items_before, items_after) => self.schema(
                &site.child("items"),
                items_before.unwrap_or(&EMPTY),
                items_after.unwrap_or(&EMPTY),
            ),
        }
        self.additional_properties(site, before.additional, after.additional);
        match (&before.variants, &after.variants) {
            (None, None) => {}
            (Some((kw_before, list_before)), Some((kw_after, list_after)))
                if kw_before == kw_after =>
            {
                self.variants(site, kw_after, list_before, list_after);
            }
            (variants_before, variants_after) => {
                let describe = |v: &Option<(&str, Vec<(usize, &Value)>)>| {
                    v.as_ref()
                        .map(|(keyword, list)| format!("{keyword} of {}", list.len()))
                };
                self.push(
                    site,
                    ChangeKind::CompositionChanged,
                    describe(variants_before),
                    describe(variants_after),
                    Verdict::Breaking,
                );
            }
        }
    }

    fn values(&mut self, site: &Site, before: &Flat<'a>, after: &Flat<'a>) {
        let list = |values: &[&Value]| {
            values
                .iter()
                .map(|v| show(v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (&before.values, &after.values) {
            (None, None) => {}
            (None, Some(values)) => self.push(
                site,
                ChangeKind::EnumAdded,
                None,
                Some(list(values)),
                Verdict::Breaking,
            ),
            (Some(values), None) => self.push(
                site,
                ChangeKind::EnumRemoved,
                Some(list(values)),
                None,
                Verdict::Breaking,
            ),
            (Some(old), Some(new)) => {
                for value in old.iter().filter(|v| !new.contains(v)) {
                    self.push(
                        site,
                        ChangeKind::EnumValueRemoved,
                        Some(show(value)),
                        None,
                        site.direction.narrowing(true),
                    );
                }
                let catch_all = before.extensions.contains_key("x-enum-varnames");
                for value in new.iter().filter(|v| !old.contains(v)) {
                    let verdict = match (site.direction, catch_all) {
                        (Direction::Request, _) => Verdict::NotBreaking,
                        (Direction::Response, true) => Verdict::BreakingWithoutCatchAll,
                        (Direction::Response, false) => Verdict::Breaking,
                    };
                    self.push(
                        site,
                        ChangeKind::EnumValueAdded,
                        None,
                        Some(show(value)),
                        verdict,
                    );
                }
            }
        }
    }

    fn bounds(&mut self, site: &Site, before: &Flat<'a>, after: &Flat<'a>) {
        let direction = site.direction;
        if before.minimum != after.minimum {
            // A lower bound is narrower when it appears, rises, or becomes exclusive.
            let narrower = match (before.minimum, after.minimum) {
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(b), Some(a)) => a.value > b.value || (a.value == b.value && a.exclusive),
                (None, None) => false,
            };
            self.push(
                site,
                ChangeKind::MinimumChanged,
                before.minimum.map(|b| b.show(true)),
                after.minimum.map(|b| b.show(true)),
                direction.narrowing(narrower),
            );
        }
        if before.maximum != after.maximum {
            let narrower = match (before.maximum, after.maximum) {
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(b), Some(a)) => a.value < b.value || (a.value == b.value && a.exclusive),
                (None, None) => false,
            };
            self.push(
                site,
                ChangeKind::MaximumChanged,
                before.maximum.map(|b| b.show(false)),
                after.maximum.map(|b| b.show(false)),
                direction.narrowing(narrower),
            );
        }
        for (key, kind, lower) in [
            ("minLength", ChangeKind::MinLengthChanged, true),
            ("maxLength", ChangeKind::MaxLengthChanged, false),
            ("minItems", ChangeKind::MinItemsChanged, true),
            ("maxItems", ChangeKind::MaxItemsChanged, false),
        ] {
            let (old, new) = (before.lengths.get(key), after.lengths.get(key));
            if old == new {
                continue;
            }
            let narrower = match (old, new) {
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(o), Some(n)) => (n > o) == lower,
                (None, None) => false,
            };
            self.push(
                site,
                kind,
                old.map(|v| v.to_string()),
                new.map(|v| v.to_string()),
                direction.narrowing(narrower),
            );
        }
    }

    fn pattern(&mut self, site: &Site, before: Option<&str>, after: Option<&str>) {
        let (kind, verdict) = match (before, after) {
            (None, Some(_)) => (ChangeKind::PatternAdded, site.direction.narrowing(true)),
            (Some(_), None) => (ChangeKind::PatternRemoved, site.direction.narrowing(false)),
            // A changed pattern may accept less and more at once: narrower or wider only when
            // the automata of the two say so.
            (Some(b), Some(a)) if b != a => {
                let (wider, narrower) = (
                    super::patterns::covers(a, b) == Some(true),
                    super::patterns::covers(b, a) == Some(true),
                );
                let verdict = match site.direction {
                    Direction::Request if wider => Verdict::NotBreaking,
                    Direction::Response if narrower => Verdict::NotBreaking,
                    _ => Verdict::Breaking,
                };
                (ChangeKind::PatternChanged, verdict)
            }
            _ => return,
        };
        self.push(
            site,
            kind,
            before.map(str::to_owned),
            after.map(str::to_owned),
            verdict,
        );
    }

    fn extensions(&mut self, site: &Site, before: &Flat<'a>, after: &Flat<'a>) {
        let keys: BTreeSet<&str> = before
            .extensions
            .keys()
            .chain(after.extensions.keys())
            .copied()
            .collect();
        for key in keys {
            let (old, new) = (before.extensions.get(key), after.extensions.get(key));
            let kind = match (old, new) {
                (None, Some(_)) => ChangeKind::ExtensionAdded,
                (Some(_), None) => ChangeKind::ExtensionRemoved,
                (Some(o), Some(n)) if o != n => ChangeKind::ExtensionChanged,
                _ => continue,
            };
            let renames = key == "x-enum-varnames" && renames_a_variant(before, after);
            // Names and descriptions that follow values added or removed are part of that change.
            if matches!(key, "x-enum-varnames" | "x-enum-descriptions")
                && kind == ChangeKind::ExtensionChanged
                && before.values.is_some()
                && after.values.is_some()
                && before.values != after.values
                && !renames
            {
                continue;
            }
            let verdict = if kind == ChangeKind::ExtensionChanged && renames {
                Verdict::Breaking
            } else if key.starts_with("x-cliniko-") {
                // Cliniko's facts live in `x-cliniko-*`; one without a rule is not judged.
                Verdict::Unjudged
            } else {
                Verdict::NotBreaking
            };
            let describe = |value: Option<&&Value>| value.map(|v| format!("{key}: {}", show(v)));
            self.push(
                &site.doc_child(key),
                kind,
                describe(old),
                describe(new),
                verdict,
            );
        }
    }

    fn properties(&mut self, site: &Site, before: &Flat<'a>, after: &Flat<'a>) {
        let direction = site.direction;
        let names: BTreeSet<&str> = before
            .properties
            .keys()
            .chain(after.properties.keys())
            .chain(&before.required)
            .chain(&after.required)
            .copied()
            .collect();
        for name in names {
            let child = site.child("properties").child(name);
            let (old, new) = (before.properties.get(name), after.properties.get(name));
            let (was_required, is_required) = (
                before.required.contains(name),
                after.required.contains(name),
            );
            match (old, new) {
                (Some(schema), None) => {
                    self.push(
                        &child,
                        ChangeKind::PropertyRemoved,
                        Some(summary(self.base, schema)),
                        None,
                        Verdict::Breaking,
                    );
                    continue;
                }
                (None, Some(schema)) => {
                    let verdict = match direction {
                        Direction::Request if is_required => Verdict::Breaking,
                        _ => Verdict::NotBreaking,
                    };
                    let mut text = summary(self.head, schema);
                    if is_required {
                        text.push_str(", required");
                    }
                    self.push(&child, ChangeKind::PropertyAdded, None, Some(text), verdict);
                    continue;
                }
                (Some(old), Some(new)) => self.schema(&child, old, new),
                (None, None) => {}
            }
            self.required(&child, was_required, is_required);
        }
    }

    fn additional_properties(
        &mut self,
        site: &Site,
        before: Option<&'a Value>,
        after: Option<&'a Value>,
    ) {
        // Absent means any property is allowed, as `true` does.
        let refused = |v: Option<&Value>| v.and_then(Value::as_bool) == Some(false);
        let schema = |v: Option<&'a Value>| v.filter(|v| v.is_object());
        match (refused(before), refused(after)) {
            (false, true) | (true, false) => {
                let describe =
                    |refused: bool| Some(if refused { "refused" } else { "allowed" }.to_owned());
                self.push(
                    site,
                    ChangeKind::AdditionalPropertiesChanged,
                    describe(refused(before)),
                    describe(refused(after)),
                    site.direction.narrowing(refused(after)),
                );
            }
            (true, true) => {}
            (false, false) => match (schema(before), schema(after)) {
                (None, None) => {}
                (old, new) => self.schema(
                    &site.child("additionalProperties"),
                    old.unwrap_or(&EMPTY),
                    new.unwrap_or(&EMPTY),
                ),
            },
        }
    }
}

/// Whether a value listed in both enums gets a different `x-enum-varnames` name, which renames
/// a generated Rust variant.
fn renames_a_variant(before: &Flat<'_>, after: &Flat<'_>) -> bool {
    let names = |flat: &Flat<'_>| -> BTreeMap<String, String> {
        let values = flat.values.clone().unwrap_or_default();
        let names = flat
            .extensions
            .get("x-enum-varnames")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        values
            .iter()
            .zip(names)
            .map(|(value, name)| (value.to_string(), show(&name)))
            .collect()
    };
    let (old, new) = (names(before), names(after));
    old.iter()
        .any(|(value, name)| new.get(value).is_some_and(|n| n != name))
}

/// A one-line description of a schema for an added or removed property: its type and format,
/// or the component it names.
pub(super) fn summary(document: &Value, schema: &Value) -> String {
    let flat = flatten(document, schema);
    let mut text = match (flat.component, flat.ty, flat.format) {
        (Some(name), _, _) => name.to_owned(),
        (None, Some(ty), Some(format)) => format!("{ty} ({format})"),
        (None, Some(ty), None) => ty.to_owned(),
        (None, None, _) => "any".to_owned(),
    };
    if flat.nullable {
        text.push_str(", nullable");
    }
    text
}
