//! A JSON Patch (RFC 6902) applied to the spec's YAML text rather than to its data, so that the
//! comments, the key order, the flow lists (`enum: [10, 20]`) and the quoting of the hand-written
//! document stay as they were, and only the patched places change. The editing is yaml-edit's
//! (a lossless syntax tree); this module walks the patch's JSON pointers through it.
//!
//! Every edit is verified: the edited text, read back as data, must equal the document read as
//! data with the patch applied by `json-patch`. A mismatch is an error naming the operation, never
//! a spec written differently from what was proposed.

use std::str::FromStr as _;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;
use yaml_edit::{Document, Mapping, Sequence, YamlNode};

/// `text` (the YAML document named `file`) with `patch` applied, in place.
pub fn apply(text: &str, file: &str, patch: &json_patch::Patch) -> anyhow::Result<String> {
    let before: Value =
        serde_yaml_ng::from_str(text).with_context(|| format!("{file} is not YAML"))?;
    let mut expected = before.clone();
    json_patch::patch(&mut expected, patch)
        .map_err(|error| anyhow!("the proposed changes do not apply to {file}: {error}"))?;

    let document = Document::from_str(text)
        .map_err(|error| anyhow!("{file} cannot be edited in place: {error}"))?;
    let operations = serde_json::to_value(patch).context("cannot read the patch")?;
    for operation in operations.as_array().into_iter().flatten() {
        apply_one(&document, operation).with_context(|| {
            format!(
                "cannot apply `{} {}` to {file}",
                operation["op"].as_str().unwrap_or("?"),
                operation["path"].as_str().unwrap_or("?")
            )
        })?;
    }
    let edited = document.to_string();
    let after: Value = serde_yaml_ng::from_str(&edited)
        .with_context(|| format!("{file} edited in place is no longer YAML"))?;
    if after != expected {
        let place = first_difference(&after, &expected, String::new());
        bail!(
            "{file} edited in place does not read back as the patched document (first difference at {place}); nothing was written"
        );
    }
    Ok(edited)
}

fn apply_one(document: &Document, operation: &Value) -> anyhow::Result<()> {
    let op = operation["op"]
        .as_str()
        .context("an operation without `op`")?;
    let path = operation["path"]
        .as_str()
        .context("an operation without `path`")?;
    let tokens = tokens(path)?;
    let (last, parents) = tokens
        .split_last()
        .context("the whole document cannot be replaced")?;
    let root = document
        .as_mapping()
        .context("the document is not a mapping")?;
    let parent = walk(YamlNode::Mapping(root), parents)?;
    let value = || -> anyhow::Result<Node> { Node::from_json(&operation["value"]) };
    match (op, parent) {
        ("add" | "replace", YamlNode::Mapping(mapping)) => {
            if op == "replace" && entry_key(&mapping, last).is_none() {
                bail!("no key `{last}` to replace");
            }
            let key = entry_key(&mapping, last).unwrap_or_else(|| last.clone());
            value()?.set_in(&mapping, &key);
        }
        ("add", YamlNode::Sequence(sequence)) if last == "-" => value()?.push_to(&sequence),
        ("add", YamlNode::Sequence(sequence)) => {
            let index = index(last, sequence.len() + 1)?;
            value()?.insert_into(&sequence, index);
        }
        ("replace", YamlNode::Sequence(sequence)) => {
            let index = index(last, sequence.len())?;
            value()?.replace_in(&sequence, index);
        }
        ("remove", YamlNode::Mapping(mapping)) => {
            let key = entry_key(&mapping, last).with_context(|| format!("no key `{last}`"))?;
            mapping.remove(key.as_str());
        }
        ("remove", YamlNode::Sequence(sequence)) => {
            let index = index(last, sequence.len())?;
            sequence.remove(index);
        }
        (op, _) => bail!("`{op}` is not an operation this edit makes, or its parent is a scalar"),
    }
    Ok(())
}

/// A JSON pointer's reference tokens, unescaped.
fn tokens(pointer: &str) -> anyhow::Result<Vec<String>> {
    let rest = pointer
        .strip_prefix('/')
        .with_context(|| format!("`{pointer}` is not a JSON pointer"))?;
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, limit: usize) -> anyhow::Result<usize> {
    let index: usize = token
        .parse()
        .with_context(|| format!("`{token}` is not a list index"))?;
    if index >= limit {
        bail!("index {index} is past the end of the list");
    }
    Ok(index)
}

/// The key of `mapping`'s entry that reads as `token` (a quoted `'200'` and a plain `200` both
/// do, as they do for the spec's readers).
fn entry_key(mapping: &Mapping, token: &str) -> Option<String> {
    mapping.keys().find_map(|key| {
        let text = key.as_scalar()?.as_string();
        (text == token).then_some(text)
    })
}

fn walk(mut node: YamlNode, tokens: &[String]) -> anyhow::Result<YamlNode> {
    for (depth, token) in tokens.iter().enumerate() {
        let at = || format!("/{}", tokens[..=depth].join("/"));
        node = match &node {
            YamlNode::Mapping(mapping) => {
                let key = entry_key(mapping, token).with_context(|| format!("no {}", at()))?;
                mapping
                    .get(key.as_str())
                    .with_context(|| format!("no value at {}", at()))?
            }
            YamlNode::Sequence(sequence) => {
                let index = index(token, sequence.len())?;
                sequence
                    .get(index)
                    .with_context(|| format!("no item at {}", at()))?
            }
            _ => bail!("{} is inside a scalar", at()),
        };
    }
    Ok(node)
}

/// A value to write, as yaml-edit takes it: a scalar written as the spec writes scalars, or a
/// collection parsed from its YAML text.
enum Node {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Null,
    Tree(Document),
}

impl Node {
    fn from_json(value: &Value) -> anyhow::Result<Self> {
        Ok(match value {
            Value::Null => Node::Null,
            Value::Bool(flag) => Node::Boolean(*flag),
            Value::Number(number) => match number.as_i64() {
                Some(integer) => Node::Integer(integer),
                None => Node::Float(number.as_f64().context("a number out of range")?),
            },
            Value::String(text) => Node::Text(text.clone()),
            Value::Array(_) | Value::Object(_) => {
                let text =
                    serde_yaml_ng::to_string(&in_spec_order(value)).context("cannot write YAML")?;
                Node::Tree(
                    Document::from_str(&text)
                        .map_err(|error| anyhow!("cannot edit the new value: {error}"))?,
                )
            }
        })
    }

    fn set_in(&self, mapping: &Mapping, key: &str) {
        match self {
            Node::Text(text) => mapping.set(key, text.as_str()),
            Node::Integer(integer) => mapping.set(key, *integer),
            Node::Float(float) => mapping.set(key, *float),
            Node::Boolean(flag) => mapping.set(key, *flag),
            Node::Null => mapping.set(key, None::<&str>),
            Node::Tree(document) => match (document.as_mapping(), document.as_sequence()) {
                (Some(inner), _) => mapping.set(key, &inner),
                (_, Some(inner)) => mapping.set(key, &inner),
                _ => mapping.set(key, document),
            },
        }
    }

    fn push_to(&self, sequence: &Sequence) {
        self.insert_into(sequence, sequence.len());
    }

    fn insert_into(&self, sequence: &Sequence, index: usize) {
        match self {
            Node::Text(text) => sequence.insert(index, text.as_str()),
            Node::Integer(integer) => sequence.insert(index, *integer),
            Node::Float(float) => sequence.insert(index, *float),
            Node::Boolean(flag) => sequence.insert(index, *flag),
            Node::Null => sequence.insert(index, None::<&str>),
            Node::Tree(document) => match (document.as_mapping(), document.as_sequence()) {
                (Some(inner), _) => sequence.insert(index, &inner),
                (_, Some(inner)) => sequence.insert(index, &inner),
                _ => sequence.insert(index, document),
            },
        }
    }

    fn replace_in(&self, sequence: &Sequence, index: usize) {
        sequence.remove(index);
        self.insert_into(sequence, index);
    }
}

/// The order the spec writes a schema's keys in: what it is first, then its constraints, then
/// its words; keys not listed keep their order after these.
const KEY_ORDER: &[&str] = &[
    "$ref",
    "oneOf",
    "anyOf",
    "allOf",
    "type",
    "format",
    "nullable",
    "enum",
    "x-enum-varnames",
    "x-enum-descriptions",
    "items",
    "required",
    "properties",
    "title",
    "why",
    "kind",
    "where",
    "description",
    "content",
    "schema",
    "example",
    "examples",
];

/// `value` as YAML data whose mappings list their keys in [`KEY_ORDER`].
fn in_spec_order(value: &Value) -> serde_yaml_ng::Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort_by_key(|key| {
                KEY_ORDER
                    .iter()
                    .position(|known| known == key)
                    .unwrap_or(KEY_ORDER.len())
            });
            let mut mapping = serde_yaml_ng::Mapping::new();
            for key in keys {
                mapping.insert(
                    serde_yaml_ng::Value::String(key.clone()),
                    in_spec_order(&object[key]),
                );
            }
            serde_yaml_ng::Value::Mapping(mapping)
        }
        Value::Array(items) => {
            serde_yaml_ng::Value::Sequence(items.iter().map(in_spec_order).collect())
        }
        other => serde_yaml_ng::to_value(other).unwrap_or(serde_yaml_ng::Value::Null),
    }
}

/// Where two documents first differ, as a JSON pointer.
fn first_difference(left: &Value, right: &Value, at: String) -> String {
    match (left, right) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) => {
                        return first_difference(x, y, format!("{at}/{}", escape(key)));
                    }
                    _ => return format!("{at}/{}", escape(key)),
                }
            }
            at
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    return first_difference(x, y, format!("{at}/{index}"));
                }
            }
            at
        }
        _ if at.is_empty() => "/".to_owned(),
        _ => at,
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(text: &str, patch: Value) -> String {
        let patch: json_patch::Patch = serde_json::from_value(patch).unwrap();
        apply(text, "spec.yaml", &patch).unwrap()
    }

    const SPEC: &str = "\
# The spec's own comment stays.
components:
  schemas:
    Attendee:
      type: object
      required: [id, created_at]
      properties:
        id:
          type: string   # an ID
        created_at:
          type: string
          format: date-time
    Reason:
      type: integer
      enum: [10, 20]
      x-enum-varnames: [Better, Worse]
paths:
  /attendees/{id}:
    get:
      responses:
        '200':
          description: One.
";

    #[test]
    fn a_property_is_added_and_nothing_else_moves() {
        let out = patched(
            SPEC,
            json!([{ "op": "add", "path": "/components/schemas/Attendee/properties/colour",
                     "value": { "type": "string", "nullable": true, "description": "Seen." } }]),
        );
        assert!(
            out.starts_with("# The spec's own comment stays.\n"),
            "{out}"
        );
        assert!(out.contains("type: string   # an ID"), "{out}");
        assert!(
            out.contains(
                "        colour:\n          type: string\n          nullable: true\n          description: Seen.\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_code_joins_a_flow_list_beside_its_name() {
        let out = patched(
            SPEC,
            json!([
                { "op": "add", "path": "/components/schemas/Reason/enum/-", "value": 99 },
                { "op": "add", "path": "/components/schemas/Reason/x-enum-varnames/-", "value": "Value99" }
            ]),
        );
        let data: Value = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(
            data["components"]["schemas"]["Reason"]["enum"],
            json!([10, 20, 99])
        );
        assert_eq!(
            data["components"]["schemas"]["Reason"]["x-enum-varnames"],
            json!(["Better", "Worse", "Value99"])
        );
    }

    #[test]
    fn a_status_key_and_a_required_item_are_found_however_quoted() {
        let out = patched(
            SPEC,
            json!([
                { "op": "add", "path": "/paths/~1attendees~1{id}/get/responses/203",
                  "value": { "description": "Seen." } },
                { "op": "remove", "path": "/components/schemas/Attendee/required/1" },
                { "op": "add", "path": "/components/schemas/Attendee/properties/created_at/nullable",
                  "value": true }
            ]),
        );
        let data: Value = serde_yaml_ng::from_str(&out).unwrap();
        assert_eq!(
            data["paths"]["/attendees/{id}"]["get"]["responses"]["203"]["description"],
            "Seen."
        );
        assert_eq!(
            data["components"]["schemas"]["Attendee"]["required"],
            json!(["id"])
        );
        assert!(out.contains("'200':"), "{out}");
    }

    #[test]
    fn a_path_that_is_not_there_is_an_error_naming_it() {
        let patch: json_patch::Patch = serde_json::from_value(json!([
            { "op": "remove", "path": "/components/schemas/Nope/required/0" }
        ]))
        .unwrap();
        let error = apply(SPEC, "spec.yaml", &patch).unwrap_err();
        assert!(format!("{error:#}").contains("spec.yaml"), "{error:#}");
    }
}
