//! Whether a schema takes null: one reading for every tool of the workspace (the diff, the
//! checker's suggestions, codegen), the one OpenAPI 3.0.3 gives.
//!
//! OpenAPI 3.0 has no `null` type. Its `nullable: true` "adds `null` to the allowed values of the
//! type specified by the `type` keyword, only if `type` is explicitly defined within the same
//! Schema Object" (3.0.3, Schema Object, and the clarification proposal it links); everything else
//! is JSON Schema, which never lets a keyword other than `type`, `enum` and the compositions
//! refuse null. So, for [`allows_null`]:
//!
//! | schema | null |
//! |---|---|
//! | `{$ref: X}` | as `X` says (siblings of `$ref` are ignored, as 3.0 says); a `$ref` that resolves nowhere says nothing, so it takes null |
//! | `{enum: [...]}` | only if the list holds `null` (even with `nullable: true`) |
//! | `{type: T}` | only with `nullable: true` beside it (`type: 'null'`, not 3.0, is read as null) |
//! | `{nullable: true}` without `type` (bare) | yes, as any schema without `type` does: `nullable` adds nothing, it removes nothing |
//! | `{nullable: true, allOf: [X]}` | only if `X` takes null: `nullable` has no `type` to widen here |
//! | `allOf` | only if every branch takes null |
//! | `anyOf` | if any branch takes null, so `anyOf: [X, {enum: [null]}]` does |
//! | `oneOf` | if exactly one branch takes null: `oneOf: [X, {type: T, nullable: true, enum: [null]}]` does, `oneOf: [{nullable: true}, {enum: [null]}]` does not |
//! | `not: S` | only if `S` refuses it |
//!
//! [`is_null_branch`] is the other question the tools ask of a `oneOf`/`anyOf` member: does it
//! take null and nothing else, as the "or null" branch beside a `$ref` does.

use serde_json::{Map, Value};

use crate::pointer;

/// How deeply compositions may nest before a schema is read as refusing null (a schema that
/// deep holds a loop through its `$ref`s, which the spec check refuses).
const MAX_DEPTH: usize = 32;

/// Whether `schema` (in `document`, whose `$ref`s it may use) accepts the JSON value `null`, read
/// as OpenAPI 3.0.3 reads it; see the [module docs](self) for each case.
pub fn allows_null(document: &Value, schema: &Value) -> bool {
    allows_null_at(document, schema, 0)
}

fn allows_null_at(document: &Value, schema: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let chased = pointer::chase(document, schema);
    if chased.broken.is_some() {
        // Nothing is known of it (the spec check reports it): it constrains nothing.
        return true;
    }
    let Some(object) = chased.value.as_object() else {
        // Not a schema object: it says nothing, so it takes anything.
        return true;
    };
    if let Some(values) = object.get("enum").and_then(Value::as_array)
        && !values.contains(&Value::Null)
    {
        return false;
    }
    match object.get("type") {
        Some(Value::String(ty)) if ty == "null" => {}
        Some(_) if object.get("nullable").and_then(Value::as_bool) != Some(true) => return false,
        _ => {}
    }
    // For each composition: how many branches it has, and how many of them take null.
    let taking = |keyword: &str| {
        object
            .get(keyword)
            .and_then(Value::as_array)
            .map(|branches| {
                let taking = branches
                    .iter()
                    .filter(|branch| allows_null_at(document, branch, depth + 1))
                    .count();
                (branches.len(), taking)
            })
    };
    if taking("allOf").is_some_and(|(all, taking)| taking != all)
        || taking("anyOf").is_some_and(|(_, taking)| taking == 0)
        || taking("oneOf").is_some_and(|(_, taking)| taking != 1)
    {
        return false;
    }
    object
        .get("not")
        .is_none_or(|not| !allows_null_at(document, not, depth + 1))
}

/// Whether `schema` takes null and nothing else (`enum: [null]`, with or without the `type` and
/// `nullable: true` that make it valid OpenAPI 3.0, or `type: 'null'`), `$ref`s followed: the
/// "or null" member of a `oneOf`/`anyOf`. A bare `{nullable: true}` is not one: it takes any
/// value (see the [module docs](self)).
pub fn is_null_branch(document: &Value, schema: &Value) -> bool {
    let chased = pointer::chase(document, schema);
    if chased.broken.is_some() {
        return false;
    }
    let Some(object) = chased.value.as_object() else {
        return false;
    };
    match object.get("enum").and_then(Value::as_array) {
        Some(values) => !values.is_empty() && values.iter().all(Value::is_null),
        None => object.get("type").and_then(Value::as_str) == Some("null"),
    }
}

/// The non-null branch of the spec's idiom for a nullable reference:
/// `oneOf: [{$ref: X}, {type: T, nullable: true, enum: [null]}]` (or `anyOf`).
///
/// OpenAPI 3.0.3 lets `nullable` add null only to a `type` in the same schema object, so the
/// older `{nullable: true, allOf: [{$ref: X}]}` is read as "not nullable" by strict tools
/// (openapi-core) and refused by redocly; a second branch that accepts only null says the same
/// thing in a way every tool reads alike. The null branch must be a [null branch](is_null_branch)
/// that is valid OpenAPI 3.0 (`nullable: true` beside its `enum`), the form codegen turns into
/// `Option<X>`.
pub fn nullable_one_of_branch(object: &Map<String, Value>) -> Option<&Value> {
    let branches = ["oneOf", "anyOf"]
        .iter()
        .find_map(|keyword| object.get(*keyword).and_then(Value::as_array))?;
    let [first, second] = branches.as_slice() else {
        return None;
    };
    let null_only = |branch: &Value| {
        branch.get("$ref").is_none()
            && is_null_branch(&Value::Null, branch)
            && branch.get("enum").is_some()
            && branch.get("nullable").and_then(Value::as_bool) == Some(true)
    };
    match (null_only(first), null_only(second)) {
        (false, true) => Some(first),
        (true, false) => Some(second),
        _ => None,
    }
}

/// The schema a nullable property holds, and whether it takes null: the non-null branch of the
/// spec's idiom ([`nullable_one_of_branch`]) and `true`, or else `schema` itself and
/// [`allows_null`].
pub fn non_null<'a>(document: &Value, schema: &'a Value) -> (&'a Value, bool) {
    match schema.as_object().and_then(nullable_one_of_branch) {
        Some(branch) => (branch, true),
        None => (schema, allows_null(document, schema)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> Value {
        json!({ "components": { "schemas": {
            "Status": { "type": "integer", "enum": [10, 90] },
            "Note": { "type": "string", "nullable": true },
            "Free": {},
        } } })
    }

    fn status() -> Value {
        json!({ "$ref": "#/components/schemas/Status" })
    }

    /// The cases the workspace's four readers disagreed on, each with what OpenAPI 3.0.3 says.
    #[test]
    fn null_is_allowed_as_openapi_3_0_3_says() {
        let doc = document();
        let null_branch = json!({ "type": "integer", "nullable": true, "enum": [null] });
        let cases = [
            // A bare `nullable` (no `type`): the schema says nothing, null included.
            (json!({ "nullable": true }), true),
            (json!({}), true),
            // `nullable` beside a lone `allOf`: nothing to widen, so the `$ref` decides.
            (json!({ "nullable": true, "allOf": [status()] }), false),
            (
                json!({ "nullable": true, "allOf": [{ "$ref": "#/components/schemas/Note" }] }),
                true,
            ),
            // `type` refuses null unless `nullable` is beside it; an enum must list null.
            (json!({ "type": "string" }), false),
            (json!({ "type": "string", "nullable": true }), true),
            (
                json!({ "type": "string", "nullable": true, "enum": ["a"] }),
                false,
            ),
            (
                json!({ "type": "string", "nullable": true, "enum": ["a", null] }),
                true,
            ),
            (json!({ "enum": [null] }), true),
            // The spec's idiom, and a null branch in `anyOf`.
            (json!({ "oneOf": [status(), null_branch.clone()] }), true),
            (json!({ "anyOf": [status(), { "enum": [null] }] }), true),
            (json!({ "anyOf": [status(), { "type": "string" }] }), false),
            // `oneOf` takes null only if exactly one branch does.
            (
                json!({ "oneOf": [{ "nullable": true }, null_branch] }),
                false,
            ),
            (json!({ "oneOf": [status(), { "type": "string" }] }), false),
            // `$ref`s are followed; one that resolves nowhere says nothing.
            (status(), false),
            (json!({ "$ref": "#/components/schemas/Note" }), true),
            (json!({ "$ref": "#/components/schemas/Free" }), true),
            (json!({ "$ref": "#/components/schemas/Nope" }), true),
            (json!({ "not": { "enum": [null] } }), false),
            (json!({ "not": status() }), true),
        ];
        for (schema, expected) in cases {
            assert_eq!(allows_null(&doc, &schema), expected, "{schema}");
        }
    }

    #[test]
    fn a_null_branch_takes_null_and_nothing_else() {
        let doc = document();
        assert!(is_null_branch(&doc, &json!({ "enum": [null] })));
        assert!(is_null_branch(
            &doc,
            &json!({ "type": "string", "nullable": true, "enum": [null] })
        ));
        assert!(is_null_branch(&doc, &json!({ "type": "null" })));
        // A bare `nullable: true` takes anything, so it is no null branch.
        assert!(!is_null_branch(&doc, &json!({ "nullable": true })));
        assert!(!is_null_branch(&doc, &json!({ "enum": [] })));
        assert!(!is_null_branch(&doc, &status()));
    }

    #[test]
    fn the_idiom_gives_its_non_null_branch() {
        let doc = document();
        let idiom =
            json!({ "oneOf": [status(), { "type": "integer", "nullable": true, "enum": [null] }] });
        assert_eq!(non_null(&doc, &idiom), (&status(), true));
        // A null branch that is not valid OpenAPI 3.0 (no `nullable`) is not the idiom, though
        // the schema takes null.
        let loose = json!({ "anyOf": [status(), { "enum": [null] }] });
        assert_eq!(non_null(&doc, &loose), (&loose, true));
        let note = json!({ "$ref": "#/components/schemas/Note" });
        assert_eq!(non_null(&doc, &note), (&note, true));
        assert_eq!(non_null(&doc, &status()), (&status(), false));
    }
}
