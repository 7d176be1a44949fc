//! The generated types agree with the spec they were generated from.
//!
//! schemars derives a JSON schema from each generated Rust type; this test compares it with the
//! spec's schema of the same name, property by property: the same fields, the same required set,
//! the same nullability, the same types, formats and references. A hand edit of the generated code,
//! or a typify setting that changes meaning, fails here rather than in a clinic's sync job.

use serde_json::{Value, json};

/// Formats the Rust types deliberately keep as plain `String`: a link is passed on exactly as
/// Cliniko sent it (a URL type would normalise it), and the conformance checks enforce the format;
/// `phone` is Cliniko's own name for a phone number, no JSON Schema format, so a string it stays.
const KEPT_AS_TEXT: &[&str] = &["uri", "phone"];

/// What the spec says about one property, read from its OpenAPI 3.0 schema.
#[derive(Debug, PartialEq)]
struct Shape {
    kind: Option<String>,
    format: Option<String>,
    reference: Option<String>,
}

fn spec_property(schema: &Value) -> (Shape, bool) {
    // A nullable reference is `oneOf: [{$ref}, {type, nullable: true, enum: [null]}]` in the spec.
    if let Some(branch) = schema
        .as_object()
        .and_then(cliniko_spec::nullable_one_of_branch)
    {
        return (spec_property(branch).0, true);
    }
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    let target = match schema.get("allOf").and_then(Value::as_array) {
        Some(branches) if branches.len() == 1 => &branches[0],
        _ => schema,
    };
    let reference = target.get("$ref").and_then(Value::as_str).map(ref_name);
    let shape = Shape {
        kind: target
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        format: target
            .get("format")
            .and_then(Value::as_str)
            .filter(|format| !KEPT_AS_TEXT.contains(format))
            .map(str::to_owned),
        reference,
    };
    (shape, nullable)
}

fn rust_property(schema: &Value) -> (Shape, bool) {
    // schemars wraps a `$ref` in a one-item `allOf` when it adds a description.
    if let Some([only]) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        return rust_property(only);
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let null = json!({ "type": "null" });
        let others: Vec<&Value> = branches.iter().filter(|b| **b != null).collect();
        if others.len() == 1 && branches.len() == 2 {
            return (rust_property(others[0]).0, true);
        }
    }
    let (kind, nullable) = match schema.get("type") {
        Some(Value::String(kind)) => (Some(kind.clone()), false),
        Some(Value::Array(kinds)) => {
            let non_null: Vec<&str> = kinds
                .iter()
                .filter_map(Value::as_str)
                .filter(|k| *k != "null")
                .collect();
            (
                non_null.first().map(|k| (*k).to_owned()),
                kinds.len() > non_null.len(),
            )
        }
        _ => (None, false),
    };
    let shape = Shape {
        kind,
        format: schema
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_owned),
        reference: schema.get("$ref").and_then(Value::as_str).map(ref_name),
    };
    (shape, nullable)
}

/// A reference to a scalar schema (no properties) as the shape of that schema.
fn scalar<'a>(shape: Shape, find: impl Fn(&str) -> Option<&'a Value>) -> Shape {
    let Some(target) = shape.reference.as_deref().and_then(find) else {
        return shape;
    };
    if target.get("properties").is_some() {
        return shape;
    }
    Shape {
        kind: target
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        format: target
            .get("format")
            .and_then(Value::as_str)
            .filter(|format| !KEPT_AS_TEXT.contains(format))
            .map(str::to_owned),
        reference: None,
    }
}

fn ref_name(reference: &str) -> String {
    reference.rsplit('/').next().unwrap_or(reference).to_owned()
}

fn names(schema: &Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = match schema.get(key) {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out
}

/// Compares the schemars schema of one generated type with the spec's component of that name.
fn compare(name: &str, rust: &Value) -> Vec<String> {
    let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
    let pointer = format!("/components/schemas/{name}");
    let schema = spec
        .raw()
        .pointer(&pointer)
        .expect("the spec names this schema");
    let mut differences = Vec::new();

    let spec_fields = names(schema, "properties");
    let rust_fields = names(rust, "properties");
    if spec_fields != rust_fields {
        differences.push(format!(
            "{name}: fields differ: spec {spec_fields:?}, Rust {rust_fields:?}"
        ));
    }

    let spec_required = names(schema, "required");
    let rust_required = names(rust, "required");
    for field in &spec_fields {
        let (spec_shape, spec_nullable) = spec_property(&schema["properties"][field]);
        let Some(rust_schema) = rust.get("properties").and_then(|p| p.get(field)) else {
            continue;
        };
        let (rust_shape, rust_nullable) = rust_property(rust_schema);
        let required = spec_required.contains(field);
        // schemars (0.8) counts an `Option` field as optional whatever serde does with it, so a
        // required-but-nullable field shows up as not required; the deserialisation test below
        // covers that case.
        let expect_rust_required = required && !spec_nullable;
        if rust_required.contains(field) != expect_rust_required {
            differences.push(format!(
                "{name}.{field}: required in spec {required} (nullable {spec_nullable}), required in Rust {}",
                rust_required.contains(field)
            ));
        }
        if spec_nullable && !rust_nullable {
            differences.push(format!(
                "{name}.{field}: nullable in the spec but not in Rust"
            ));
        }
        if required && !spec_nullable && rust_nullable {
            differences.push(format!(
                "{name}.{field}: required and not nullable in the spec, but Rust accepts null"
            ));
        }
        // A field with `nullable` whose Rust type is a map (`additionalProperties`) has no `type`
        // in schemars' output beyond "object"; compare what both sides state.
        // A scalar named in one document and inline in the other is the same type: typify
        // names an inline code list (`type: [text]`) and schemars writes a newtype over a string
        // (`EmailAddress`) inline. Compare what the named schema says then.
        let (spec_shape, rust_shape) =
            if spec_shape.reference.is_some() != rust_shape.reference.is_some() {
                (
                    scalar(spec_shape, |name| {
                        spec.raw().pointer(&format!("/components/schemas/{name}"))
                    }),
                    scalar(rust_shape, |name| {
                        rust.pointer(&format!("/definitions/{name}"))
                    }),
                )
            } else {
                (spec_shape, rust_shape)
            };
        if spec_shape != rust_shape {
            differences.push(format!(
                "{name}.{field}: spec {spec_shape:?}, Rust {rust_shape:?}"
            ));
        }
    }
    differences
}

/// The schemars schema of a generated type, reached by its schema's name.
struct SchemaOf;

impl cliniko_types::resource::SchemaVisitor for SchemaOf {
    type Output = Value;
    fn visit<T: serde::de::DeserializeOwned + serde::Serialize + schemars::JsonSchema + 'static>(
        self,
        _: &'static str,
    ) -> Value {
        serde_json::to_value(schemars::schema_for!(T)).expect("schema serialises")
    }
}

/// Every schema of the spec that is an object (the code lists and `Id` are compared by their own
/// tests), from the list generated from the spec, so a schema added to the spec is compared too.
#[test]
fn every_generated_object_type_agrees_with_its_spec_schema() {
    let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
    let types: Vec<(&str, Value)> = cliniko_types::resource::SCHEMAS
        .iter()
        .filter(|name| {
            spec.raw()
                .pointer(&format!("/components/schemas/{name}/properties"))
                .is_some()
        })
        .map(|name| {
            let rust = cliniko_types::resource::visit_schema(name, SchemaOf).expect("generated");
            (*name, rust)
        })
        .collect();
    assert!(types.len() >= 9, "{} object schemas compared", types.len());
    let differences: Vec<String> = types
        .iter()
        .flat_map(|(name, rust)| compare(name, rust))
        .collect();
    assert!(
        differences.is_empty(),
        "the generated types and the spec disagree:\n{}",
        differences.join("\n")
    );
}

#[test]
fn the_comparison_notices_a_missing_field_and_a_lost_null() {
    let mut rust = serde_json::to_value(schemars::schema_for!(cliniko_types::Attendee))
        .expect("schema serialises");
    let properties = rust["properties"]
        .as_object_mut()
        .expect("an object schema");
    properties.remove("notes");
    properties.insert("arrived".to_owned(), json!({ "type": "boolean" }));
    let differences = compare("Attendee", &rust);
    assert!(
        differences.iter().any(|d| d.contains("fields differ")),
        "{differences:?}"
    );
    assert!(
        differences
            .iter()
            .any(|d| d.contains("Attendee.arrived: nullable")),
        "{differences:?}"
    );
}

/// Every property the spec marks required must be required by the Rust type too, nullable or
/// not: dropping it from a valid body must fail deserialisation instead of becoming `None`.
#[test]
fn required_fields_are_required_when_deserialising() {
    let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
    let example = spec
        .raw()
        .pointer("/components/examples/Attendee/value")
        .expect("the spec has an attendee example")
        .clone();
    serde_json::from_value::<cliniko_types::Attendee>(example.clone())
        .expect("the example deserialises");
    let required = names(
        spec.raw()
            .pointer("/components/schemas/Attendee")
            .expect("schema"),
        "required",
    );
    assert!(required.len() >= 20, "the attendee has its required list");
    for field in required {
        let mut body = example.clone();
        body.as_object_mut().expect("an object").remove(&field);
        assert!(
            serde_json::from_value::<cliniko_types::Attendee>(body).is_err(),
            "an attendee without `{field}` was accepted"
        );
    }
}
