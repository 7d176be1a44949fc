//! The typed round trip: a body that passes its schema goes through the generated type and back.
//!
//! A difference means the generated types and the spec disagree. Properties the schema does not
//! name are left out of the comparison (the generated types drop them by design; `--strict`
//! reports them as `undocumented_field`). Two more differences are not counted, because they lose
//! nothing:
//!
//! - a property that is `null` on one side and absent on the other (the generated types leave out
//!   optional properties that are `None`, so `"archived_at": null` comes back absent);
//! - two date-time strings that name the same instant (`2016-06-28T21:33:26.000+00:00` comes back
//!   as `2016-06-28T21:33:26Z`), and two numbers of equal value (`50.0` and `50`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::violation::Violation;

/// A schema of the spec that has a generated type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypedSchema {
    Attendee,
    AttendeeList,
    ErrorResponse,
}

impl TypedSchema {
    /// The generated type for a `$ref` such as `#/components/schemas/Attendee`.
    pub(crate) fn for_ref(reference: &str) -> Option<Self> {
        match reference.strip_prefix("#/components/schemas/")? {
            "Attendee" => Some(Self::Attendee),
            "AttendeeList" => Some(Self::AttendeeList),
            "ErrorResponse" => Some(Self::ErrorResponse),
            _ => None,
        }
    }

    /// Every difference between `body` and `body` sent through the generated type.
    /// `schema` is the body's JSON Schema (as compiled), used to tell documented properties from
    /// the others.
    pub(crate) fn round_trip(self, body: &Value, schema: &Value) -> Vec<Violation> {
        match self {
            Self::Attendee => through::<cliniko_types::Attendee>("Attendee", body, schema),
            Self::AttendeeList => {
                through::<cliniko_types::AttendeeList>("AttendeeList", body, schema)
            }
            Self::ErrorResponse => {
                through::<cliniko_types::ErrorResponse>("ErrorResponse", body, schema)
            }
        }
    }
}

fn through<T: DeserializeOwned + Serialize>(
    type_name: &str,
    body: &Value,
    schema: &Value,
) -> Vec<Violation> {
    let typed: T = match serde_path_to_error::deserialize(body) {
        Ok(typed) => typed,
        Err(error) => {
            return vec![Violation::RoundTripRefused {
                type_name: type_name.to_owned(),
                pointer: pointer_of(error.path()),
                message: error.into_inner().to_string(),
            }];
        }
    };
    let back = match serde_json::to_value(&typed) {
        Ok(back) => back,
        Err(error) => {
            return vec![Violation::RoundTripRefused {
                type_name: type_name.to_owned(),
                pointer: String::new(),
                message: format!("does not serialise again: {error}"),
            }];
        }
    };
    let mut differences = Vec::new();
    let mut pointer = String::new();
    diff(body, &back, Some(schema), &mut pointer, &mut differences);
    differences
        .into_iter()
        .map(
            |(pointer, body, round_tripped)| Violation::RoundTripChanged {
                type_name: type_name.to_owned(),
                pointer,
                body,
                round_tripped,
            },
        )
        .collect()
}

type Difference = (String, Option<Value>, Option<Value>);

/// Compares two JSON values, collecting each difference with its pointer. With a `schema`, object
/// properties it does not name are skipped.
pub(crate) fn diff(
    body: &Value,
    back: &Value,
    schema: Option<&Value>,
    pointer: &mut String,
    out: &mut Vec<Difference>,
) {
    match (body, back) {
        (Value::Object(left), Value::Object(right)) => {
            let properties = schema
                .and_then(|schema| find(schema, "properties"))
                .and_then(Value::as_object);
            let additional = schema
                .and_then(|schema| find(schema, "additionalProperties"))
                .filter(|a| a.is_object());
            let sub_schema = |key: &str| match properties {
                Some(properties) => properties.get(key).map(Some).or(additional.map(Some)),
                None => Some(None),
            };
            for (key, value) in left {
                let Some(schema) = sub_schema(key) else {
                    continue;
                };
                let len = pointer.len();
                push_token(pointer, key);
                match right.get(key) {
                    Some(other) => diff(value, other, schema, pointer, out),
                    None if value.is_null() => {}
                    None => out.push((pointer.clone(), Some(value.clone()), None)),
                }
                pointer.truncate(len);
            }
            for (key, value) in right {
                if !left.contains_key(key) && !value.is_null() {
                    let len = pointer.len();
                    push_token(pointer, key);
                    out.push((pointer.clone(), None, Some(value.clone())));
                    pointer.truncate(len);
                }
            }
        }
        (Value::Array(left), Value::Array(right)) if left.len() == right.len() => {
            let items = schema.and_then(|schema| find(schema, "items"));
            for (index, (a, b)) in left.iter().zip(right).enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                diff(a, b, items, pointer, out);
                pointer.truncate(len);
            }
        }
        (Value::String(a), Value::String(b)) if a == b || same_instant(a, b) => {}
        (Value::Number(a), Value::Number(b)) if a == b || a.as_f64() == b.as_f64() => {}
        (a, b) if a == b => {}
        (a, b) => out.push((pointer.clone(), Some(a.clone()), Some(b.clone()))),
    }
}

/// A keyword of a schema, looked for in the schema itself and then in its `anyOf`, `oneOf` and
/// `allOf` branches (where `nullable` and single-`$ref` wrappers put it).
fn find<'s>(schema: &'s Value, keyword: &str) -> Option<&'s Value> {
    if let Some(found) = schema.get(keyword) {
        return Some(found);
    }
    ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter_map(|combinator| schema.get(*combinator).and_then(Value::as_array))
        .flatten()
        .find_map(|branch| find(branch, keyword))
}

fn same_instant(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&cliniko_spec::pointer::escape(token));
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            Segment::Map { key } => push_token(&mut out, key),
            Segment::Enum { variant } => push_token(&mut out, variant),
            Segment::Unknown => out.push_str("/?"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn null_and_absent_and_equal_instants_are_not_differences() {
        let mut out = Vec::new();
        diff(
            &json!({ "a": null, "t": "2016-06-28T21:33:26.000+00:00", "n": 50.0, "extra": 1 }),
            &json!({ "t": "2016-06-28T21:33:26Z", "n": 50 }),
            Some(
                &json!({ "anyOf": [{ "type": "null" }, { "properties": { "a": {}, "t": {}, "n": {} } }] }),
            ),
            &mut String::new(),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn differences_carry_their_pointer() {
        let mut out = Vec::new();
        diff(
            &json!({ "a/b": [1, 2] }),
            &json!({ "a/b": [1, 3], "c": true }),
            None,
            &mut String::new(),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                ("/a~1b/1".to_owned(), Some(json!(2)), Some(json!(3))),
                ("/c".to_owned(), None, Some(json!(true))),
            ]
        );
    }
}
