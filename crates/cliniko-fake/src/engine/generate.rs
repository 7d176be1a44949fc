//! Records built from the spec's schemas: every property the item schema names, each value valid
//! for its type, format, code list, range and pattern, nulls where the schema allows them, unicode
//! text, and the schema's own examples among the values. The same seed and ID give the same
//! record, so seeded records are made when read rather than held in memory.

use cliniko_spec::nullable_one_of_branch;
use cliniko_spec::pointer::follow;
use serde_json::{Map, Value, json};

use crate::rng::SplitMix64;

/// The API root written into seeded and stored links; the engine swaps it for the request's own
/// root when it answers.
pub(crate) const BASE: &str = "https://base.cliniko-fake.invalid/v1";

/// The share of seeded records with a state field (`cancelled_at`, `archived_at`, `deleted_at`)
/// set, per field, among those whose generated value was not null.
const STATE_SHARE: f64 = 0.15;

/// 2020-01-01T00:00:00Z: seeded records are created from here on.
const FIRST_CREATED_AT: i64 = 1_577_836_800;

/// Free text for strings without a format: accents, CJK, emoji and quotes, so that encoders and
/// decoders are exercised.
const TEXT: [&str; 8] = [
    "Prefers the afternoon",
    "Zoë O'Brien-Łukasiewicz",
    "café \"au lait\" ✓",
    "東京 クリニック",
    "Ελληνικά κείμενα",
    "🦘 hop, skip & jump",
    "line one\nline two",
    "Ünïcödé — naïve",
];

/// Where a link's target lives: the plural that names it in URLs, and the IDs that exist there.
pub(crate) trait Targets {
    /// The plural and one existing ID of the resource a property (`patient`, `booking`) links
    /// to, if the fake knows that resource.
    fn pick(&self, property: &str, rng: &mut SplitMix64) -> Option<(String, i64)>;
}

/// Makes records for one item schema.
pub(crate) struct Generator<'a> {
    pub(crate) document: &'a Value,
    pub(crate) plural: &'a str,
    pub(crate) targets: &'a dyn Targets,
}

/// Times a seeded record carries: creation grows with its position, so ID order is creation
/// order (the default sort needs no sorting).
pub(crate) fn created_at_of(index: usize) -> i64 {
    FIRST_CREATED_AT + index as i64 * 61
}

impl Generator<'_> {
    /// The record with this ID, seeded by `seed` and its position among the seeded records.
    pub(crate) fn record(&self, schema: &Value, seed: u64, id: i64, index: usize) -> Value {
        let mut rng = SplitMix64::new(seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut record = self.value(schema, "", &mut rng, 0);
        if let Value::Object(object) = &mut record {
            self.fix_identity(object, id, created_at_of(index), &mut rng);
        }
        record
    }

    /// Sets what every record's identity fields must say whatever was generated: its ID, its
    /// self link, and times in order (`created_at` ≤ `updated_at` ≤ any state change).
    pub(crate) fn fix_identity(
        &self,
        object: &mut Map<String, Value>,
        id: i64,
        created_at: i64,
        rng: &mut SplitMix64,
    ) {
        if object.contains_key("id") {
            object.insert("id".to_owned(), Value::String(id.to_string()));
        }
        if let Some(Value::Object(links)) = object.get_mut("links")
            && links.contains_key("self")
        {
            links.insert(
                "self".to_owned(),
                Value::String(format!("{BASE}/{}/{id}", self.plural)),
            );
        }
        let mut at = created_at;
        if object.contains_key("created_at") {
            object.insert("created_at".to_owned(), time(at));
        }
        if object.contains_key("updated_at") {
            if rng.chance(0.5) {
                at += rng.below(3 * 86_400) as i64;
            }
            object.insert("updated_at".to_owned(), time(at));
        }
        // A record in a state (cancelled, archived, deleted) is the exception, as in a real
        // account: each state field stays set in `STATE_SHARE` of the records where it was
        // generated non-null (about one in ten), so that the plain lists are not mostly empty.
        // Drawn apart from `rng`, so that a record's other values do not move with this rule.
        let mut states = SplitMix64::new((id as u64) ^ 0x57A7_E5EE_D000_0001);
        for state in ["cancelled_at", "archived_at", "deleted_at"] {
            let in_state = states.chance(STATE_SHARE);
            if let Some(value) = object.get_mut(state)
                && !value.is_null()
            {
                if in_state {
                    at += 1;
                    *value = time(at);
                } else {
                    *value = Value::Null;
                }
            }
        }
        if object.contains_key("updated_at") {
            object.insert("updated_at".to_owned(), time(at));
        }
    }

    /// A value for `schema`, the property `name` (empty at the root).
    pub(crate) fn value(
        &self,
        schema: &Value,
        name: &str,
        rng: &mut SplitMix64,
        depth: usize,
    ) -> Value {
        let schema = follow(self.document, schema);
        let Some(object) = schema.as_object() else {
            return Value::Null;
        };
        // No schema of the spec is recursive; this only stops a cycle. A patient's custom field
        // option is some twenty steps down (properties, arrays, oneOf branches, references).
        if depth > 64 {
            return Value::Null;
        }
        if let Some(branch) = nullable_one_of_branch(object) {
            if rng.chance(0.3) {
                return Value::Null;
            }
            return self.value(branch, name, rng, depth + 1);
        }
        if let Some(Value::Array(parts)) = object.get("allOf")
            && let [only] = parts.as_slice()
        {
            return self.value(only, name, rng, depth + 1);
        }
        if let Some(Value::Array(branches)) = object.get("oneOf").or_else(|| object.get("anyOf"))
            && !branches.is_empty()
        {
            let branch = &branches[rng.below(branches.len() as u64) as usize];
            return self.value(branch, name, rng, depth + 1);
        }
        let nullable = object.get("nullable") == Some(&Value::Bool(true));
        if let Some(Value::Array(codes)) = object.get("enum") {
            let codes: Vec<&Value> = codes.iter().filter(|c| !c.is_null()).collect();
            if codes.is_empty() || (nullable && rng.chance(0.2)) {
                return Value::Null;
            }
            return codes[rng.below(codes.len() as u64) as usize].clone();
        }
        if nullable && rng.chance(0.3) {
            return Value::Null;
        }
        if self.is_linked_resource(object) {
            return self.link(name, rng);
        }
        match object.get("type").and_then(Value::as_str) {
            Some("object") => self.object(object, rng, depth),
            Some("array") => {
                let items = object.get("items").cloned().unwrap_or(Value::Null);
                let least = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let most = object
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(least + 2)
                    .max(least);
                let count = least + rng.below(most - least + 1);
                Value::Array(
                    (0..count)
                        .map(|_| self.value(&items, name, rng, depth + 1))
                        .collect(),
                )
            }
            Some("integer") => integer(object, rng),
            Some("number") => {
                let low = object.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
                let high = object
                    .get("maximum")
                    .and_then(Value::as_f64)
                    .unwrap_or(low + 1000.0);
                json!(low + (high - low) * (rng.below(1000) as f64 / 1000.0))
            }
            Some("boolean") => Value::Bool(rng.chance(0.5)),
            Some("string") => string(object, name, rng),
            _ => Value::Null,
        }
    }

    /// Whether a schema is the spec's link to another record: an object whose only required
    /// property is `links`, holding a `self` URL.
    fn is_linked_resource(&self, object: &Map<String, Value>) -> bool {
        let Some(Value::Object(properties)) = object.get("properties") else {
            return false;
        };
        properties.len() == 1
            && properties.get("links").is_some_and(|links| {
                follow(self.document, links)
                    .pointer("/properties/self")
                    .is_some()
            })
    }

    fn link(&self, name: &str, rng: &mut SplitMix64) -> Value {
        let (plural, id) = self.targets.pick(name, rng).unwrap_or_else(|| {
            // A link to a list (`invoices`) is named by its plural already.
            let plural = if name.ends_with('s') {
                name.to_owned()
            } else {
                format!("{name}s")
            };
            (plural, 1_000_000_001 + rng.below(1000) as i64)
        });
        json!({"links": {"self": format!("{BASE}/{plural}/{id}")}})
    }

    fn object(&self, object: &Map<String, Value>, rng: &mut SplitMix64, depth: usize) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (name, schema) in properties {
                let value = self.value(schema, name, rng, depth + 1);
                // Below the item, an optional list that came out empty is left out: the
                // generated types drop an empty optional list, so a client's round trip (and the
                // checker's) would otherwise differ. The item keeps every property: a create or
                // update writes only the properties a record has.
                if depth > 0
                    && !required.contains(&name.as_str())
                    && value.as_array().is_some_and(Vec::is_empty)
                {
                    continue;
                }
                out.insert(name.clone(), value);
            }
        }
        Value::Object(out)
    }
}

fn integer(object: &Map<String, Value>, rng: &mut SplitMix64) -> Value {
    let low = object.get("minimum").and_then(Value::as_i64).unwrap_or(0);
    let high = object
        .get("maximum")
        .and_then(Value::as_i64)
        .unwrap_or(low.saturating_add(9));
    if let Some(example) = object.get("example").and_then(Value::as_i64)
        && rng.chance(0.3)
    {
        return json!(example);
    }
    let span = (high.saturating_sub(low) as u64).saturating_add(1).max(1);
    json!(low.saturating_add(rng.below(span) as i64))
}

fn string(object: &Map<String, Value>, name: &str, rng: &mut SplitMix64) -> Value {
    let format = object.get("format").and_then(Value::as_str).unwrap_or("");
    let text = match format {
        "date-time" => {
            return time(FIRST_CREATED_AT + rng.below(5 * 365 * 86_400) as i64);
        }
        "date" => {
            let days = rng.below(40_000) as i64 - 20_000;
            let at = chrono::DateTime::from_timestamp(days * 86_400, 0).unwrap_or_default();
            at.format("%Y-%m-%d").to_string()
        }
        "email" => format!("someone{}@example.com", rng.below(1000)),
        "uri" | "url" => format!(
            "https://{}.cliniko-fake.invalid/{}",
            name.replace('_', "-"),
            rng.below(1_000_000)
        ),
        "ipv4" => format!("198.51.100.{}", rng.below(254) + 1),
        "int64" | "int32" => {
            // An ID: beyond what a float holds exactly.
            ((1_i64 << 53) + 1 + 2 * rng.below(1 << 20) as i64).to_string()
        }
        _ => {
            let example = object.get("example").and_then(Value::as_str);
            match example {
                Some(example) if rng.chance(0.5) => example.to_owned(),
                _ => TEXT[rng.below(TEXT.len() as u64) as usize].to_owned(),
            }
        }
    };
    Value::String(fit(object, text))
}

/// Makes text fit the schema's `pattern` (falling back to its example) and length bounds.
fn fit(object: &Map<String, Value>, text: String) -> String {
    let mut text = text;
    if let Some(pattern) = object.get("pattern").and_then(Value::as_str)
        && let Ok(regex) = regress::Regex::new(pattern)
        && regex.find(&text).is_none()
        && let Some(example) = object.get("example").and_then(Value::as_str)
    {
        text = example.to_owned();
    }
    if let Some(most) = object.get("maxLength").and_then(Value::as_u64) {
        text = text.chars().take(most as usize).collect();
    }
    if let Some(least) = object.get("minLength").and_then(Value::as_u64) {
        while (text.chars().count() as u64) < least {
            text.push('x');
        }
    }
    text
}

/// UNIX seconds as the spec's UTC date-time.
pub(crate) fn time(secs: i64) -> Value {
    let at = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    Value::String(at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}
