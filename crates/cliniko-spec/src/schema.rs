//! OpenAPI 3.0 schemas compiled into fast validators.
//!
//! An OpenAPI 3.0 schema object is close to JSON Schema draft 4 but not equal to it: `nullable`
//! widens the type, `format: int32`/`int64` bound integers, IDs are strings with `format: int64`,
//! and `$ref`s point into the document rather than a schema registry. [`SchemaValidator`]
//! translates the schema once (inlining every `$ref`) and compiles it with the `jsonschema` crate,
//! so validating a body costs one walk over it.

use serde_json::{Map, Value};

use crate::nullable::nullable_one_of_branch;
use crate::pointer;

/// How a schema is compiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaOptions {
    /// Refuse object properties that the schema does not name (where the schema says nothing
    /// about `additionalProperties`), reporting each as an undocumented field.
    pub strict: bool,
}

/// One way a JSON value fails a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The JSON pointer into the validated value (`/attendees/3/cancelled_at`); empty for the root.
    pub pointer: String,
    /// What was expected and what was found.
    pub message: String,
    /// The name of a property the value holds but the schema does not name (only reported in
    /// strict mode); `None` for every other violation.
    pub undocumented_field: Option<String>,
}

/// A compiled schema.
///
/// It is compiled for bodies read into a zero-copy [`Dom`](crate::dom::Dom)
/// ([`SchemaValidator::is_valid_dom`], the fast path of a check), and again from the same JSON
/// Schema, on first use, for `serde_json` values, which also give the errors: a checker whose
/// bodies pass never compiles the second.
#[derive(Debug)]
pub struct SchemaValidator {
    json_schema: Value,
    validator: std::sync::OnceLock<Result<jsonschema::Validator, String>>,
    dom_validator: jsonschema::Validator<crate::dom::DomJson>,
}

impl SchemaValidator {
    /// Translates and compiles `schema`, resolving its `$ref`s in `document`.
    pub(crate) fn compile(
        document: &Value,
        schema: &Value,
        options: SchemaOptions,
    ) -> Result<Self, String> {
        let json_schema = translate(document, schema, options, &mut Vec::new())?;
        let dom_validator = jsonschema::options_for::<crate::dom::DomJson>()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .with_format("int64", |s: &str| is_integer_string::<i64>(s))
            .with_format("int32", |s: &str| is_integer_string::<i32>(s))
            .build(&json_schema)
            .map_err(|error| format!("schema does not compile: {error}"))?;
        Ok(Self {
            json_schema,
            validator: std::sync::OnceLock::new(),
            dom_validator,
        })
    }

    /// The validator for `serde_json` values, compiled on first use. It compiles: the same JSON
    /// Schema, with the same options, compiled for the DOM.
    fn value_validator(&self) -> Result<&jsonschema::Validator, &str> {
        self.validator
            .get_or_init(|| {
                jsonschema::draft4::options()
                    .should_validate_formats(true)
                    .with_format("int64", |s: &str| is_integer_string::<i64>(s))
                    .with_format("int32", |s: &str| is_integer_string::<i32>(s))
                    .build(&self.json_schema)
                    .map_err(|error| format!("schema does not compile: {error}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Whether a body read into a zero-copy DOM passes (the same verdict as [`Self::is_valid`] on
    /// the `serde_json` value read from the same text).
    pub fn is_valid_dom(&self, value: crate::dom::Dom<'_>) -> bool {
        self.dom_validator.is_valid(value)
    }

    /// Whether `value` passes, without collecting errors (the fast path).
    pub fn is_valid(&self, value: &Value) -> bool {
        self.value_validator()
            .is_ok_and(|validator| validator.is_valid(value))
    }

    /// Every way `value` fails the schema; empty when it passes.
    pub fn violations(&self, value: &Value) -> Vec<SchemaViolation> {
        let validator = match self.value_validator() {
            Ok(validator) => validator,
            Err(message) => {
                return vec![SchemaViolation {
                    pointer: String::new(),
                    message: message.to_owned(),
                    undocumented_field: None,
                }];
            }
        };
        if validator.is_valid(value) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for error in validator.iter_errors(value) {
            let at = error.instance_path().as_str().to_owned();
            if let jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } =
                error.kind()
            {
                for name in unexpected {
                    out.push(SchemaViolation {
                        pointer: pointer::push(&at, name),
                        message: format!("property `{name}` is not named by the schema"),
                        undocumented_field: Some(name.clone()),
                    });
                }
                continue;
            }
            // jsonschema shortens a long enum to "10, 20 or 6 other candidates"; a reader checking a
            // Cliniko code wants every value the spec allows.
            let message = match error.kind() {
                jsonschema::error::ValidationErrorKind::Enum { options } => {
                    format!("{} is not one of {options}", error.instance())
                }
                _ => error.to_string(),
            };
            out.push(SchemaViolation {
                pointer: at,
                message,
                undocumented_field: None,
            });
        }
        out
    }

    /// The JSON Schema (draft 4) the OpenAPI schema was translated into.
    pub fn json_schema(&self) -> &Value {
        &self.json_schema
    }
}

fn is_integer_string<T: std::str::FromStr>(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && s.parse::<T>().is_ok()
}

/// The nullable-reference idiom rewritten as `{nullable: true, allOf: [X], ...siblings}`, the
/// form the validator folds into one schema (so errors name the referenced schema's expectation)
/// and the form progenitor turns into `Option<X>`; `None` for any other schema.
pub fn fold_nullable_one_of(object: &Map<String, Value>) -> Option<Map<String, Value>> {
    let branch = nullable_one_of_branch(object)?.clone();
    let mut folded: Map<String, Value> = object
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "oneOf" | "anyOf"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    folded.insert("nullable".to_owned(), Value::Bool(true));
    folded.insert("allOf".to_owned(), Value::Array(vec![branch]));
    Some(folded)
}

/// Keywords of OpenAPI 3.0 that carry no validation, or that JSON Schema would read differently.
const ANNOTATIONS: &[&str] = &[
    "nullable",
    "example",
    "examples",
    "deprecated",
    "discriminator",
    "readOnly",
    "writeOnly",
    "xml",
    "externalDocs",
    "description",
    "title",
    "default",
];

/// Translates an OpenAPI 3.0 schema object into a self-contained JSON Schema draft 4 schema.
fn translate(
    document: &Value,
    schema: &Value,
    options: SchemaOptions,
    refs: &mut Vec<String>,
) -> Result<Value, String> {
    let Some(object) = schema.as_object() else {
        return Ok(schema.clone());
    };
    if let Some(folded) = fold_nullable_one_of(object) {
        return translate(document, &Value::Object(folded), options, refs);
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        if refs.iter().any(|seen| seen == reference) {
            return Err(format!(
                "$ref {reference} refers to itself; recursive schemas are not supported"
            ));
        }
        let target = pointer::resolve(document, reference)
            .ok_or_else(|| format!("$ref {reference} does not resolve"))?;
        refs.push(reference.to_owned());
        let translated = translate(document, target, options, refs);
        refs.pop();
        return translated;
    }

    let mut out = Map::new();
    for (key, value) in object {
        let translated = match key.as_str() {
            k if ANNOTATIONS.contains(&k) || k.starts_with("x-") => continue,
            "properties" => {
                let mut properties = Map::new();
                for (name, property) in value.as_object().into_iter().flatten() {
                    properties.insert(name.clone(), translate(document, property, options, refs)?);
                }
                Value::Object(properties)
            }
            "items" | "not" => translate(document, value, options, refs)?,
            "additionalProperties" if value.is_object() => {
                translate(document, value, options, refs)?
            }
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|branch| translate(document, branch, options, refs))
                    .collect::<Result<_, _>>()?,
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), translated);
    }

    // `nullable` next to a lone `allOf` is how OpenAPI 3.0 makes a `$ref` nullable; fold the
    // branch in so that errors name the real expectation instead of "not valid under allOf".
    if let Some(Value::Array(branches)) = out.get("allOf")
        && branches.len() == 1
        && let Value::Object(inner) = &branches[0]
    {
        let inner = inner.clone();
        out.remove("allOf");
        for (key, value) in inner {
            out.entry(key).or_insert(value);
        }
    }

    bound_integer_formats(&mut out);

    if object.get("nullable").and_then(Value::as_bool) == Some(true) {
        make_nullable(&mut out);
    }
    if options.strict && out.contains_key("properties") && !out.contains_key("additionalProperties")
    {
        out.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    merge_member_checks(&mut out);
    Ok(Value::Object(out))
}

/// Moves the `required` and `properties` of a plain object schema into two `allOf` branches.
///
/// `jsonschema` merges `allOf` branches that only check an object's members into one pass over
/// the members, each looked up once among the declared names; side by side, `required` costs a
/// lookup in the object per name (past 16 names), which for an attendee list costs more than
/// all the other keywords together. The verdict is the same, and so are the errors and their
/// order: `type` first, then `required`, then `properties`, as `jsonschema` orders the keywords
/// of one schema.
fn merge_member_checks(out: &mut Map<String, Value>) {
    let plain_object = out.get("type").and_then(Value::as_str) == Some("object")
        && out.get("required").is_some_and(Value::is_array)
        && out.get("properties").is_some_and(Value::is_object)
        && out
            .keys()
            .all(|key| ["type", "required", "properties"].contains(&key.as_str()));
    if !plain_object {
        return;
    }
    let mut branches = Vec::new();
    for keyword in ["required", "properties"] {
        if let Some(value) = out.remove(keyword) {
            branches.push(Value::Object(Map::from_iter([(keyword.to_owned(), value)])));
        }
    }
    out.insert("allOf".to_owned(), Value::Array(branches));
}

/// `format: int32` and `int64` on integers are range limits in OpenAPI.
fn bound_integer_formats(out: &mut Map<String, Value>) {
    if out.get("type").and_then(Value::as_str) != Some("integer") {
        return;
    }
    let (min, max) = match out.get("format").and_then(Value::as_str) {
        Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
        Some("int64") => (i64::MIN, i64::MAX),
        _ => return,
    };
    out.remove("format");
    out.entry("minimum").or_insert(Value::from(min));
    out.entry("maximum").or_insert(Value::from(max));
}

fn make_nullable(out: &mut Map<String, Value>) {
    if let Some(Value::String(kind)) = out.get("type").cloned() {
        out.insert(
            "type".to_owned(),
            Value::Array(vec![Value::String(kind), Value::from("null")]),
        );
        if let Some(Value::Array(options)) = out.get_mut("enum")
            && !options.contains(&Value::Null)
        {
            options.push(Value::Null);
        }
    } else if !out.is_empty() {
        let inner = std::mem::take(out);
        out.insert(
            "anyOf".to_owned(),
            Value::Array(vec![
                serde_json::json!({ "type": "null" }),
                Value::Object(inner),
            ]),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compile(schema: Value, strict: bool) -> SchemaValidator {
        let document = json!({ "components": { "schemas": {
            "Id": { "type": "string", "format": "int64" },
            "Reason": { "type": "integer", "enum": [10, 20] },
        } } });
        SchemaValidator::compile(&document, &schema, SchemaOptions { strict }).expect("compiles")
    }

    #[test]
    fn the_one_of_null_branch_idiom_reads_like_a_nullable_ref() {
        for combinator in ["oneOf", "anyOf"] {
            let v = compile(
                json!({ combinator: [
                    { "$ref": "#/components/schemas/Reason" },
                    { "type": "integer", "nullable": true, "enum": [null] }
                ] }),
                false,
            );
            assert!(v.is_valid(&json!(null)));
            assert!(v.is_valid(&json!(20)));
            assert!(!v.is_valid(&json!("10")));
            let errors = v.violations(&json!(11));
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].message, "11 is not one of [10,20,null]");
        }
    }

    #[test]
    fn nullable_ref_accepts_null_and_names_the_enum_on_failure() {
        let v = compile(
            json!({ "nullable": true, "allOf": [{ "$ref": "#/components/schemas/Reason" }] }),
            false,
        );
        assert!(v.is_valid(&json!(null)));
        assert!(v.is_valid(&json!(10)));
        let errors = v.violations(&json!(11));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].message, "11 is not one of [10,20,null]");
    }

    #[test]
    fn int64_strings_must_be_digits_that_fit() {
        let v = compile(json!({ "$ref": "#/components/schemas/Id" }), false);
        assert!(v.is_valid(&json!("9007199254740993")));
        assert!(!v.is_valid(&json!("1.5")));
        assert!(!v.is_valid(&json!("99999999999999999999")));
        assert!(!v.is_valid(&json!(1)));
    }

    #[test]
    fn int32_bounds_integers() {
        let v = compile(json!({ "type": "integer", "format": "int32" }), false);
        assert!(v.is_valid(&json!(2_147_483_647)));
        assert!(!v.is_valid(&json!(2_147_483_648_i64)));
    }

    #[test]
    fn every_error_is_reported_with_its_pointer() {
        let v = compile(
            json!({ "type": "object", "required": ["a"], "properties": {
                "b": { "type": "string", "format": "date-time" },
                "c": { "type": "array", "items": { "type": "string", "format": "ipv4" } } } }),
            false,
        );
        let errors = v.violations(&json!({ "b": "yesterday", "c": ["10.0.0.1", "nope"] }));
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(pointers.contains(&"/b"));
        assert!(pointers.contains(&"/c/1"));
        assert!(pointers.contains(&""));
    }

    #[test]
    fn a_long_required_reports_missing_names_in_order_before_property_errors() {
        let names: Vec<String> = (b'a'..=b'r').map(|c| char::from(c).to_string()).collect();
        let properties: Map<String, Value> = names
            .iter()
            .map(|n| (n.clone(), json!({ "type": "string" })))
            .collect();
        let v = compile(
            json!({ "type": "object", "required": names, "properties": properties }),
            false,
        );
        let mut body: Map<String, Value> = names.iter().map(|n| (n.clone(), json!("x"))).collect();
        body.remove("b");
        body.remove("r");
        body.insert("c".to_owned(), json!(3));
        let messages: Vec<_> = v
            .violations(&Value::Object(body))
            .into_iter()
            .map(|e| (e.pointer, e.message))
            .collect();
        assert_eq!(
            messages,
            [
                (String::new(), r#""b" is a required property"#.to_owned()),
                (String::new(), r#""r" is a required property"#.to_owned()),
                ("/c".to_owned(), r#"3 is not of type "string""#.to_owned()),
            ]
        );
        assert!(!v.is_valid(&json!([])));
    }

    #[test]
    fn strict_mode_names_each_undocumented_field() {
        let schema = json!({ "type": "object", "properties": { "a": { "type": "string" } } });
        assert!(compile(schema.clone(), false).is_valid(&json!({ "a": "x", "z": 1 })));
        let errors = compile(schema, true).violations(&json!({ "a": "x", "z": 1 }));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].undocumented_field.as_deref(), Some("z"));
        assert_eq!(errors[0].pointer, "/z");
    }

    #[test]
    fn recursive_refs_are_refused_not_looped() {
        let document = json!({ "components": { "schemas": { "Loop": { "$ref": "#/components/schemas/Loop" } } } });
        let error = SchemaValidator::compile(
            &document,
            &json!({ "$ref": "#/components/schemas/Loop" }),
            SchemaOptions::default(),
        )
        .expect_err("refused");
        assert!(error.contains("refers to itself"), "{error}");
    }
}
