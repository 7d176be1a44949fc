//! Spec changes proposed from recorded exchanges: what the recordings show that the spec does not
//! say, as a list for people and as an RFC 6902 JSON Patch against the spec.
//!
//! Each recorded response body is walked beside the schema the spec documents for it (following
//! `$ref`, `allOf`, and the non-null branches of `anyOf`/`oneOf`, so that it does not depend on how
//! nullable references are spelled). It proposes:
//!
//! - a property the schema does not name, with its type, format and nullability inferred from every
//!   value seen (`add .../properties/NAME`; a property only ever seen as null is proposed as a
//!   nullable string, and both its description and the list say the type is a guess);
//! - an enum value seen but not listed (`add .../enum/-`, and the `x-enum-varnames` and
//!   `x-enum-descriptions` beside it when the spec has them);
//! - a status an operation answered but does not document (`add .../responses/STATUS`);
//! - a property documented as non-null that arrived null: `nullable: true` beside its `type`, or,
//!   for a `$ref` or a composition, the spec's idiom for a nullable reference,
//!   `oneOf: [{$ref: X}, {type: T, nullable: true, enum: [null]}]` (OpenAPI 3.0.3 lets `nullable`
//!   widen only a `type` beside it, and `cargo xtask codegen` refuses it anywhere else);
//! - a required property that did not arrive (`remove .../required/N`);
//!
//! and lists, without a patch, the documented properties never seen at all. Nothing here writes
//! the spec: the CLI writes the patched document only to a file the user names.

use std::collections::{BTreeMap, BTreeSet};

use cliniko_spec::Spec;
use cliniko_spec::nullable::is_null_branch;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::check::Checker;
use crate::compile::media_type;
use crate::recording::{Body, Exchange};
use crate::violation::Violation;

/// One proposed change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// What kind of change: `add_field`, `add_enum_value`, `add_status`, `make_nullable`,
    /// `make_optional` or `never_seen`.
    pub kind: &'static str,
    /// Where in the spec (a JSON pointer).
    pub pointer: String,
    /// The change in words, with the evidence.
    pub message: String,
}

/// Everything `suggest` proposes.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestions {
    /// The proposals, in the order of the spec pointers they touch.
    pub items: Vec<Suggestion>,
    /// The proposals that change the spec, as an RFC 6902 JSON Patch against it.
    pub patch: json_patch::Patch,
    /// How many exchanges were read.
    pub exchanges: usize,
    /// How many of them gave evidence: they matched an operation and either answered a status
    /// it does not document or a JSON body with a documented schema to compare.
    pub usable: usize,
}

/// Why the proposals could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    /// `--write` names the spec being read: `suggest` never edits it.
    #[error(
        "{file} is the spec being read; write the patched document elsewhere and let `cargo xtask spec-diff` classify it"
    )]
    WouldOverwriteSpec {
        /// The file.
        file: String,
    },
    /// The file name does not say YAML or JSON.
    #[error("{file}: cannot tell the format; name the file *.yaml, *.yml or *.json")]
    UnknownFormat {
        /// The file.
        file: String,
    },
    /// The patched document could not be written.
    #[error("cannot write {file}: {message}")]
    Write {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// No exchange gave evidence to propose from: a run that could not look must not pass as one
    /// that found nothing to change.
    #[error(
        "no usable exchange among the {exchanges} read: {reasons}; nothing was compared with the spec"
    )]
    NoUsableExchange {
        /// How many exchanges were read.
        exchanges: usize,
        /// Why each was left out, counted (`2 matched no operation in the spec`).
        reasons: String,
    },
    /// The patch does not apply to the spec it was made from (a bug: please report it).
    #[error("the proposed patch does not apply to {file}: {message}")]
    Patch {
        /// The spec file.
        file: String,
        /// What json-patch said.
        message: String,
    },
}

/// Collects evidence exchange by exchange, then proposes.
pub struct Suggester<'s> {
    spec: &'s Spec,
    checker: &'s Checker,
    exchanges: usize,
    usable: usize,
    /// Why exchanges gave no evidence, with how many of each.
    unusable: BTreeMap<&'static str, usize>,
    /// Object schema pointer → undocumented property → values seen.
    missing: BTreeMap<String, BTreeMap<String, Vec<Value>>>,
    /// Enum schema pointer → values seen outside the enum.
    enum_values: BTreeMap<String, Vec<Value>>,
    /// Property schema pointer → how many nulls arrived where the schema refuses null.
    nulls: BTreeMap<String, usize>,
    /// Object schema pointer → required property → how many times it was absent.
    absent: BTreeMap<String, BTreeMap<String, usize>>,
    /// Object schema pointer → property names seen.
    seen: BTreeMap<String, BTreeSet<String>>,
    /// Operation pointer → status → (media type, scrubbed bodies).
    statuses: BTreeMap<String, BTreeMap<u16, UndocumentedStatus>>,
    /// `oneOf`/`anyOf` branch pointer → its compiled schema (`None`: it does not compile).
    branches: BTreeMap<String, Option<cliniko_spec::SchemaValidator>>,
}

/// The media type and the bodies of the answers with one undocumented status.
type UndocumentedStatus = (Option<String>, Vec<Value>);

impl std::fmt::Debug for Suggester<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suggester")
            .field("exchanges", &self.exchanges)
            .finish_non_exhaustive()
    }
}

impl<'s> Suggester<'s> {
    /// A suggester for `spec`; `checker` must have been built from the same spec.
    pub fn new(spec: &'s Spec, checker: &'s Checker) -> Self {
        Self {
            spec,
            checker,
            exchanges: 0,
            usable: 0,
            unusable: BTreeMap::new(),
            missing: BTreeMap::new(),
            enum_values: BTreeMap::new(),
            nulls: BTreeMap::new(),
            absent: BTreeMap::new(),
            seen: BTreeMap::new(),
            statuses: BTreeMap::new(),
            branches: BTreeMap::new(),
        }
    }

    /// Takes the evidence of one exchange.
    pub fn add(&mut self, exchange: &Exchange) {
        self.exchanges += 1;
        let verdict = self.checker.check(exchange);
        let Some(operation) = verdict
            .operation
            .as_deref()
            .and_then(|operation_id| self.operation_pointer(operation_id))
        else {
            return self.unusable("matched no operation in the spec");
        };
        let status = exchange.response.status;
        let body = json_body(&exchange.response.body);
        if verdict
            .violations
            .iter()
            .any(|v| matches!(v, Violation::UndocumentedStatus { .. }))
        {
            let entry = self
                .statuses
                .entry(operation)
                .or_default()
                .entry(status)
                .or_insert_with(|| {
                    (
                        exchange
                            .response
                            .headers
                            .get("content-type")
                            .map(media_type),
                        Vec::new(),
                    )
                });
            // Kept scrubbed: a body may become the new response's example in the spec.
            let scrubbed = crate::scrub::Scrubber::new("").exchange(exchange);
            if let Some(body) = json_body(&scrubbed.response.body) {
                entry.1.push(body);
            }
            self.usable += 1;
            return;
        }
        let Some(schema) = self.response_schema(&operation, status) else {
            return self.unusable("answered a status whose response documents no JSON body");
        };
        let Some(body) = body else {
            return self.unusable("had no JSON body to compare with its schema");
        };
        self.usable += 1;
        self.walk(&body, &schema);
    }

    fn unusable(&mut self, reason: &'static str) {
        *self.unusable.entry(reason).or_default() += 1;
    }

    /// The proposals, checked to apply to the spec; an error when no exchange gave evidence
    /// (none was read, or none matched an operation with something to compare).
    pub fn finish(self) -> Result<Suggestions, SuggestError> {
        if self.usable == 0 {
            let reasons = if self.unusable.is_empty() {
                "no exchange was given".to_owned()
            } else {
                self.unusable
                    .iter()
                    .map(|(reason, count)| format!("{count} {reason}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(SuggestError::NoUsableExchange {
                exchanges: self.exchanges,
                reasons,
            });
        }
        let raw = self.spec.raw();
        let mut items = Vec::new();
        let mut patch: Vec<Value> = Vec::new();

        for (object, fields) in &self.missing {
            for (name, values) in fields {
                let pointer = format!("{object}/properties/{}", escape(name));
                let schema = infer(values);
                items.push(Suggestion {
                    kind: "add_field",
                    pointer: pointer.clone(),
                    message: format!(
                        "add property `{name}` ({}{}), seen {} time{}",
                        describe(&schema),
                        if only_null_seen(values) {
                            "; only null was seen, so the type is a guess"
                        } else {
                            ""
                        },
                        values.len(),
                        plural(values.len())
                    ),
                });
                if raw.pointer(&format!("{object}/properties")).is_some() {
                    patch.push(json!({ "op": "add", "path": pointer, "value": schema }));
                } else {
                    patch.push(json!({ "op": "add", "path": format!("{object}/properties"), "value": { name: schema } }));
                }
            }
        }
        for (schema, values) in &self.enum_values {
            let node = raw.pointer(schema);
            let mut unique: Vec<&Value> = Vec::new();
            for value in values {
                if !unique.contains(&value) {
                    unique.push(value);
                }
            }
            for value in unique {
                let count = values.iter().filter(|v| *v == value).count();
                items.push(Suggestion {
                    kind: "add_enum_value",
                    pointer: format!("{schema}/enum"),
                    message: format!(
                        "add {value} to the enum, seen {count} time{}",
                        plural(count)
                    ),
                });
                patch.push(
                    json!({ "op": "add", "path": format!("{schema}/enum/-"), "value": value }),
                );
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                if node.and_then(|n| n.get("x-enum-varnames")).is_some() {
                    let name: String = format!("Seen{text}")
                        .chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect();
                    patch.push(json!({ "op": "add", "path": format!("{schema}/x-enum-varnames/-"), "value": name }));
                }
                if node.and_then(|n| n.get("x-enum-descriptions")).is_some() {
                    patch.push(json!({ "op": "add", "path": format!("{schema}/x-enum-descriptions/-"), "value": format!("Seen in recordings ({text}); describe it") }));
                }
            }
        }
        for (property, count) in &self.nulls {
            items.push(Suggestion {
                kind: "make_nullable",
                pointer: property.clone(),
                message: format!(
                    "documented as non-null, arrived null {count} time{}",
                    plural(*count)
                ),
            });
            let node = raw.pointer(property).cloned().unwrap_or(Value::Null);
            patch.push(match make_nullable(raw, property, &node) {
                Nullable::AddKeyword => {
                    json!({ "op": "add", "path": format!("{property}/nullable"), "value": true })
                }
                Nullable::Replace(value) => {
                    json!({ "op": "replace", "path": property, "value": value })
                }
            });
        }
        for (object, names) in &self.absent {
            let required: Vec<&str> = raw
                .pointer(&format!("{object}/required"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut indexes = Vec::new();
            for (name, count) in names {
                items.push(Suggestion {
                    kind: "make_optional",
                    pointer: format!("{object}/required"),
                    message: format!(
                        "`{name}` is required, but was absent {count} time{}",
                        plural(*count)
                    ),
                });
                if let Some(index) = required.iter().position(|r| r == name) {
                    indexes.push(index);
                }
            }
            // Removing from the end keeps the earlier indexes right.
            indexes.sort_unstable_by(|a, b| b.cmp(a));
            for index in indexes {
                patch.push(json!({ "op": "remove", "path": format!("{object}/required/{index}") }));
            }
        }
        for (operation, statuses) in &self.statuses {
            for (status, (media, bodies)) in statuses {
                let pointer = format!("{operation}/responses/{status}");
                let mut response = Map::new();
                response.insert(
                    "description".to_owned(),
                    Value::from(format!(
                        "Seen in recordings ({} time{}); describe it.",
                        bodies.len().max(1),
                        plural(bodies.len().max(1))
                    )),
                );
                if let Some(media) = media {
                    let mut content = Map::new();
                    match self.known_schema(operation, bodies) {
                        // The schema another response uses, with that response's examples.
                        Some((schema, examples)) => {
                            content.insert("schema".to_owned(), schema);
                            content.extend(examples);
                        }
                        None => {
                            content.insert("schema".to_owned(), infer(bodies));
                            if (200..300).contains(status)
                                && let Some(first) = bodies.first()
                            {
                                // A success needs an example (the spec's own check): the first
                                // body seen, scrubbed as it was kept.
                                content.insert("example".to_owned(), first.clone());
                            }
                        }
                    }
                    response.insert(
                        "content".to_owned(),
                        json!({ media: Value::Object(content) }),
                    );
                }
                items.push(Suggestion {
                    kind: "add_status",
                    pointer: pointer.clone(),
                    message: format!(
                        "document status {status}{}",
                        media
                            .as_deref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    ),
                });
                patch.push(json!({ "op": "add", "path": pointer, "value": response }));
            }
        }
        for (object, names) in &self.seen {
            for name in object_properties(raw, object) {
                if !names.contains(name) {
                    items.push(Suggestion {
                        kind: "never_seen",
                        pointer: format!("{object}/properties/{}", escape(name)),
                        message: format!(
                            "documented property `{name}` never arrived in {} exchange{}",
                            self.exchanges,
                            plural(self.exchanges)
                        ),
                    });
                }
            }
        }

        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(patch)).map_err(|error| SuggestError::Patch {
                file: self.spec.source().to_owned(),
                message: error.to_string(),
            })?;
        let mut document = raw.clone();
        json_patch::patch(&mut document, &patch).map_err(|error| SuggestError::Patch {
            file: self.spec.source().to_owned(),
            message: error.to_string(),
        })?;
        Ok(Suggestions {
            items,
            patch,
            exchanges: self.exchanges,
            usable: self.usable,
        })
    }

    /// The first branch of the `oneOf`/`anyOf` at `schema` (through `$ref`s) that `value` is
    /// valid against, when there are two branches or more that are not only `null`.
    fn fitting_branch(&mut self, value: &Value, schema: &str) -> Option<String> {
        let raw = self.spec.raw();
        let at = resolve(raw, schema);
        let node = raw.pointer(&at)?;
        for keyword in ["oneOf", "anyOf"] {
            let Some(branches) = node.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            let candidates: Vec<String> = branches
                .iter()
                .enumerate()
                .filter(|(_, branch)| !is_null_branch(raw, branch))
                .map(|(index, _)| format!("{at}/{keyword}/{index}"))
                .collect();
            if candidates.len() < 2 {
                continue;
            }
            for candidate in candidates {
                let spec = self.spec;
                let validator = self.branches.entry(candidate.clone()).or_insert_with(|| {
                    let branch = raw.pointer(&candidate)?;
                    spec.validator(&candidate, branch, cliniko_spec::SchemaOptions::default())
                        .ok()
                });
                if validator.as_ref().is_some_and(|v| v.is_valid(value)) {
                    return Some(candidate);
                }
            }
        }
        None
    }

    fn operation_pointer(&self, operation_id: &str) -> Option<String> {
        let paths = self.spec.raw().get("paths")?.as_object()?;
        for (template, item) in paths {
            for (method, operation) in item.as_object()? {
                if operation.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                    return Some(format!("/paths/{}/{method}", escape(template)));
                }
            }
        }
        None
    }

    /// The pointer of the JSON schema of a documented status's response.
    fn response_schema(&self, operation: &str, status: u16) -> Option<String> {
        let raw = self.spec.raw();
        let responses = raw
            .pointer(&format!("{operation}/responses"))?
            .as_object()?;
        let exact = status.to_string();
        let class = format!("{}XX", status / 100);
        let key = [exact.as_str(), class.as_str(), "default"]
            .into_iter()
            .find(|key| responses.keys().any(|k| k.eq_ignore_ascii_case(key)))?;
        let key = responses.keys().find(|k| k.eq_ignore_ascii_case(key))?;
        let response = resolve(raw, &format!("{operation}/responses/{}", escape(key)));
        let content = raw.pointer(&response)?.get("content")?.as_object()?;
        let media = content.keys().find(|m| crate::compile::is_json(m))?;
        Some(format!("{response}/content/{}/schema", escape(media)))
    }

    /// A schema the operation already uses for a response that every body fits (for a new status
    /// answered with, say, the usual error body), with the `example`/`examples` that response
    /// gives it.
    fn known_schema(
        &self,
        operation: &str,
        bodies: &[Value],
    ) -> Option<(Value, Map<String, Value>)> {
        if bodies.is_empty() {
            return None;
        }
        let raw = self.spec.raw();
        let responses = raw
            .pointer(&format!("{operation}/responses"))?
            .as_object()?;
        for key in responses.keys() {
            let response = resolve(raw, &format!("{operation}/responses/{}", escape(key)));
            let Some(content) = raw
                .pointer(&format!("{response}/content"))
                .and_then(Value::as_object)
            else {
                continue;
            };
            for (media, spec) in content {
                let Some(schema) = spec.get("schema") else {
                    continue;
                };
                let at = format!("{response}/content/{}/schema", escape(media));
                if let Ok(validator) =
                    self.spec
                        .validator(&at, schema, cliniko_spec::SchemaOptions::default())
                    && bodies.iter().all(|body| validator.is_valid(body))
                    && schema.get("$ref").is_some()
                {
                    let examples = ["example", "examples"]
                        .into_iter()
                        .filter_map(|key| Some((key.to_owned(), spec.get(key)?.clone())))
                        .collect();
                    return Some((schema.clone(), examples));
                }
            }
        }
        None
    }

    fn walk(&mut self, value: &Value, schema: &str) {
        let raw = self.spec.raw();
        // A value that fits one branch of a `oneOf`/`anyOf` is that branch's: the others' rules
        // (a custom field's `type` code, say) are not evidence against it.
        if let Some(branch) = self.fitting_branch(value, schema) {
            return self.walk(value, &branch);
        }
        let concrete = concrete(raw, schema);
        match value {
            Value::Null => {
                if !allows_null(raw, schema) {
                    *self.nulls.entry(schema.to_owned()).or_default() += 1;
                }
            }
            Value::Object(object) => {
                let Some(owner) = concrete
                    .iter()
                    .find(|c| raw.pointer(&format!("{c}/properties")).is_some())
                    .cloned()
                else {
                    return;
                };
                let mut properties: BTreeMap<String, String> = BTreeMap::new();
                for c in &concrete {
                    for name in object_properties(raw, c) {
                        properties
                            .entry(name.clone())
                            .or_insert_with(|| format!("{c}/properties/{}", escape(name)));
                    }
                }
                let seen = self.seen.entry(owner.clone()).or_default();
                for name in object.keys() {
                    seen.insert(name.clone());
                }
                for c in &concrete {
                    for name in raw
                        .pointer(&format!("{c}/required"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !object.contains_key(name) {
                            *self
                                .absent
                                .entry(c.clone())
                                .or_default()
                                .entry(name.to_owned())
                                .or_default() += 1;
                        }
                    }
                }
                for (name, item) in object {
                    match properties.get(name) {
                        Some(at) => self.walk(item, at),
                        None => self
                            .missing
                            .entry(owner.clone())
                            .or_default()
                            .entry(name.clone())
                            .or_default()
                            .push(item.clone()),
                    }
                }
            }
            Value::Array(items) => {
                if let Some(at) = concrete
                    .iter()
                    .map(|c| format!("{c}/items"))
                    .find(|at| raw.pointer(at).is_some())
                {
                    for item in items {
                        self.walk(item, &at);
                    }
                }
            }
            scalar => {
                for c in &concrete {
                    if let Some(options) =
                        raw.pointer(&format!("{c}/enum")).and_then(Value::as_array)
                        && !options.contains(scalar)
                        && same_type(options, scalar)
                    {
                        self.enum_values
                            .entry(c.clone())
                            .or_default()
                            .push(scalar.clone());
                    }
                }
            }
        }
    }
}

impl Suggestions {
    /// The spec with the patch applied.
    pub fn patched(&self, spec: &Spec) -> Result<Value, SuggestError> {
        let mut document = spec.raw().clone();
        json_patch::patch(&mut document, &self.patch).map_err(|error| SuggestError::Patch {
            file: spec.source().to_owned(),
            message: error.to_string(),
        })?;
        Ok(document)
    }

    /// Writes the patched spec to `path`, as YAML or JSON by its extension, atomically (a
    /// temporary file in the same directory, renamed over the target). `protected` are the files
    /// that must not be written (the spec being read).
    pub fn write_patched(
        &self,
        spec: &Spec,
        path: &std::path::Path,
        protected: &[std::path::PathBuf],
    ) -> Result<(), SuggestError> {
        let file = path.display().to_string();
        let target = canonical(path);
        if protected.iter().any(|p| canonical(p) == target) {
            return Err(SuggestError::WouldOverwriteSpec { file });
        }
        let document = self.patched(spec)?;
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => serde_yaml_ng::to_string(&document).map_err(|e| e.to_string()),
            Some("json") => serde_json::to_string_pretty(&document)
                .map(|mut text| {
                    text.push('\n');
                    text
                })
                .map_err(|e| e.to_string()),
            _ => return Err(SuggestError::UnknownFormat { file }),
        }
        .map_err(|message| SuggestError::Write {
            file: file.clone(),
            message,
        })?;
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let write = |message: std::io::Error| SuggestError::Write {
            file: file.clone(),
            message: message.to_string(),
        };
        let mut temporary = tempfile::NamedTempFile::new_in(&directory).map_err(write)?;
        std::io::Write::write_all(&mut temporary, text.as_bytes()).map_err(write)?;
        temporary
            .persist(path)
            .map_err(|error| write(error.error))?;
        Ok(())
    }

    /// The proposals for people, one per line, then the JSON Patch.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            out.push_str(&format!(
                "{}: {}: {}\n",
                item.kind, item.pointer, item.message
            ));
        }
        out.push_str(&format!(
            "\n{} proposal{} from {} exchange{}; as a JSON Patch (RFC 6902) against the spec:\n",
            self.items.len(),
            plural(self.items.len()),
            self.exchanges,
            plural(self.exchanges)
        ));
        out.push_str(&serde_json::to_string_pretty(&self.patch).unwrap_or_default());
        out.push('\n');
        out
    }
}

/// The path with its directory resolved (the file itself may not exist yet).
fn canonical(path: &std::path::Path) -> std::path::PathBuf {
    if let Ok(path) = path.canonicalize() {
        return path;
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    match (parent.canonicalize(), path.file_name()) {
        (Ok(parent), Some(name)) => parent.join(name),
        _ => path.to_owned(),
    }
}

/// Follows `$ref`s from `pointer` to the schema they name (the last node that resolves, when one
/// does not).
fn resolve(raw: &Value, pointer: &str) -> String {
    match raw.pointer(pointer) {
        Some(node) => cliniko_spec::pointer::chase(raw, node).pointer_or(pointer),
        None => pointer.to_owned(),
    }
}

/// The schemas that describe a value at `pointer`: through `$ref`, every `allOf` branch, and the
/// `anyOf`/`oneOf` branches that are not only `null`.
fn concrete(raw: &Value, pointer: &str) -> Vec<String> {
    let mut out = Vec::new();
    collect_concrete(raw, pointer, &mut out, 0);
    out
}

fn collect_concrete(raw: &Value, pointer: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 12 {
        return;
    }
    let at = resolve(raw, pointer);
    let Some(node) = raw.pointer(&at) else {
        return;
    };
    if !out.contains(&at) {
        out.push(at.clone());
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for (index, branch) in node
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if is_null_branch(raw, branch) {
                continue;
            }
            collect_concrete(raw, &format!("{at}/{keyword}/{index}"), out, depth + 1);
        }
    }
}

/// Whether the schema at `pointer` takes null, as OpenAPI 3.0.3 reads it (see
/// [`cliniko_spec::nullable`]); a pointer that names nothing takes anything.
fn allows_null(raw: &Value, pointer: &str) -> bool {
    raw.pointer(pointer)
        .is_none_or(|node| cliniko_spec::nullable::allows_null(raw, node))
}

/// How a schema that refused a null is made nullable.
enum Nullable {
    /// Add `nullable: true` beside the schema's own `type` (and `null` to its enum, if any).
    AddKeyword,
    /// Replace the schema with this one.
    Replace(Value),
}

/// The change that lets the schema at `pointer` take null, in the spec's idiom: `nullable: true`
/// beside a `type`, and for anything else (a `$ref`, a composition) the non-null schema as the
/// first branch of `oneOf: [schema, {type: T, nullable: true, enum: [null]}]`, T being the type
/// the schema describes. OpenAPI 3.0.3 lets `nullable` widen only a `type` in the same schema
/// object, so `{nullable: true, allOf: [$ref]}` would read as "not nullable" to strict tools,
/// and `cargo xtask codegen` refuses it.
fn make_nullable(raw: &Value, pointer: &str, node: &Value) -> Nullable {
    let Some(object) = node.as_object() else {
        return Nullable::AddKeyword;
    };
    if object.get("type").is_some_and(Value::is_string) {
        return match object.get("enum").and_then(Value::as_array) {
            Some(options) if !options.contains(&Value::Null) => {
                let mut replaced = object.clone();
                replaced.insert("nullable".to_owned(), Value::Bool(true));
                if let Some(Value::Array(options)) = replaced.get_mut("enum") {
                    options.push(Value::Null);
                }
                Nullable::Replace(Value::Object(replaced))
            }
            _ => Nullable::AddKeyword,
        };
    }
    // A `$ref` takes no siblings in OpenAPI 3.0, so its siblings are dropped; other schemas keep
    // their annotations outside the `oneOf`, their constraints inside it.
    let (outer, inner): (Map<String, Value>, Map<String, Value>) = match object.get("$ref") {
        Some(reference) => (
            Map::new(),
            Map::from_iter([("$ref".to_owned(), reference.clone())]),
        ),
        None => object
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .partition(|(key, _)| is_annotation(key)),
    };
    let null_branch = json!({
        "type": declared_type(raw, pointer, 0).unwrap_or("object"),
        "nullable": true,
        "enum": [null],
    });
    let mut replaced = outer;
    replaced.insert(
        "oneOf".to_owned(),
        json!([Value::Object(inner), null_branch]),
    );
    Nullable::Replace(Value::Object(replaced))
}

/// Keywords that describe a schema without constraining its values.
fn is_annotation(keyword: &str) -> bool {
    keyword.starts_with("x-")
        || matches!(
            keyword,
            "description"
                | "title"
                | "deprecated"
                | "example"
                | "externalDocs"
                | "readOnly"
                | "writeOnly"
        )
}

/// The `type` a schema describes: its own, or that of the schemas its `$ref` and `allOf` name;
/// failing that, `object` or `array` when it names properties or items.
fn declared_type<'r>(raw: &'r Value, pointer: &str, depth: usize) -> Option<&'r str> {
    if depth > 12 {
        return None;
    }
    let at = resolve(raw, pointer);
    let node = raw.pointer(&at)?;
    if let Some(kind) = node.get("type").and_then(Value::as_str) {
        return Some(kind);
    }
    let branches = node
        .get("allOf")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if let Some(kind) = (0..branches)
        .find_map(|index| declared_type(raw, &format!("{at}/allOf/{index}"), depth + 1))
    {
        return Some(kind);
    }
    if node.get("properties").is_some() {
        Some("object")
    } else if node.get("items").is_some() {
        Some("array")
    } else {
        None
    }
}

/// The names of the properties the schema at `object` documents.
fn object_properties<'r>(raw: &'r Value, object: &str) -> impl Iterator<Item = &'r String> + 'r {
    raw.pointer(&format!("{object}/properties"))
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|properties| properties.keys())
}

fn same_type(options: &[Value], value: &Value) -> bool {
    options.iter().any(|option| {
        matches!(
            (option, value),
            (Value::String(_), Value::String(_))
                | (Value::Number(_), Value::Number(_))
                | (Value::Bool(_), Value::Bool(_))
        )
    })
}

fn json_body(body: &Body) -> Option<Value> {
    match body {
        Body::Json(value) => Some(value.clone()),
        Body::Text(text) => serde_json::from_str(text).ok(),
        Body::Empty => None,
    }
}

/// An OpenAPI 3.0 schema for every value seen: the type they share, a format every string fits
/// (`date-time`, `uri`), `nullable` when a null was seen.
///
/// `nullable` only widens a `type` beside it (OpenAPI 3.0.3), so a schema that has none gets
/// none: values of several types give no `type` (which takes null already), and values that were
/// all null give `type: string`, a guess that its description owns up to.
fn infer(values: &[Value]) -> Value {
    let mut schema = Map::new();
    let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    let nullable = non_null.len() < values.len();
    let kind = |value: &Value| match value {
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    let mut kinds: BTreeSet<&str> = non_null.iter().map(|v| kind(v)).collect();
    if kinds.contains("number") {
        kinds.remove("integer");
    }
    if let [only] = kinds.iter().copied().collect::<Vec<_>>()[..] {
        schema.insert("type".to_owned(), Value::from(only));
        match only {
            "string" => {
                let strings: Vec<&str> = non_null.iter().filter_map(|v| v.as_str()).collect();
                if strings
                    .iter()
                    .all(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
                {
                    schema.insert("format".to_owned(), Value::from("date-time"));
                } else if strings.iter().all(|s| {
                    url::Url::parse(s).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https")
                }) {
                    schema.insert("format".to_owned(), Value::from("uri"));
                }
            }
            "integer" => {
                schema.insert("format".to_owned(), Value::from("int64"));
            }
            "array" => {
                let items: Vec<Value> = non_null
                    .iter()
                    .filter_map(|v| v.as_array())
                    .flatten()
                    .cloned()
                    .collect();
                schema.insert("items".to_owned(), infer(&items));
            }
            "object" => {
                let mut fields: BTreeMap<String, Vec<Value>> = BTreeMap::new();
                for object in non_null.iter().filter_map(|v| v.as_object()) {
                    for (name, value) in object {
                        fields.entry(name.clone()).or_default().push(value.clone());
                    }
                }
                let properties: Map<String, Value> = fields
                    .iter()
                    .map(|(name, values)| (name.clone(), infer(values)))
                    .collect();
                schema.insert("properties".to_owned(), Value::Object(properties));
            }
            _ => {}
        }
    }
    let description = match kinds.len() {
        0 if nullable => {
            schema.insert("type".to_owned(), Value::from("string"));
            "Seen in recordings only as null, so its type (string) is a guess; describe it."
                .to_owned()
        }
        0 | 1 => "Seen in recordings; describe it.".to_owned(),
        _ => format!(
            "Seen in recordings as {}{}; describe it.",
            kinds.iter().copied().collect::<Vec<_>>().join(", "),
            if nullable { " and null" } else { "" }
        ),
    };
    if nullable && schema.contains_key("type") {
        schema.insert("nullable".to_owned(), Value::Bool(true));
    }
    schema.insert("description".to_owned(), Value::from(description));
    Value::Object(schema)
}

/// Whether values were seen and every one was null.
fn only_null_seen(values: &[Value]) -> bool {
    !values.is_empty() && values.iter().all(Value::is_null)
}

fn describe(schema: &Value) -> String {
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("any type");
    let format = schema
        .get("format")
        .and_then(Value::as_str)
        .map(|f| format!(", format {f}"))
        .unwrap_or_default();
    let nullable = if schema.get("nullable") == Some(&Value::Bool(true)) {
        ", nullable"
    } else {
        ""
    };
    format!("{kind}{format}{nullable}")
}

fn escape(token: &str) -> String {
    cliniko_spec::pointer::escape(token)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_reads_type_format_and_nullability_from_every_value() {
        let schema = infer(&[json!("2024-01-01T00:00:00Z"), json!(null)]);
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["format"], "date-time");
        assert_eq!(schema["nullable"], true);
        let schema = infer(&[json!(1), json!(2.5)]);
        assert_eq!(schema["type"], "number");
        let schema = infer(&[json!("https://x.example/a"), json!("not a url")]);
        assert_eq!(schema.get("format"), None);
        let schema = infer(&[json!(1), json!("1"), json!(null)]);
        assert_eq!(schema.get("type"), None);
        // Without a `type`, `nullable` would mean nothing to a strict OpenAPI 3.0.3 reader.
        assert_eq!(schema.get("nullable"), None);
        assert_eq!(
            schema["description"],
            "Seen in recordings as integer, string and null; describe it."
        );
    }

    #[test]
    fn a_field_only_seen_as_null_gets_a_type_and_says_it_is_a_guess() {
        let schema = infer(&[json!(null), json!(null)]);
        assert_eq!(schema["type"], "string");
        assert_eq!(schema["nullable"], true);
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| d.contains("only as null")),
            "{schema}"
        );
        let nested = infer(&[json!({ "at": null })]);
        assert_eq!(nested["properties"]["at"]["type"], "string");
    }

    #[test]
    fn a_null_reference_becomes_the_one_of_idiom_with_the_referenced_type() {
        let raw = json!({
            "components": { "schemas": {
                "Link": { "type": "object", "properties": { "self": { "type": "string" } } },
                "Code": { "type": "integer", "enum": [10, 20] },
                "Thing": { "type": "object", "properties": {
                    "link": { "$ref": "#/components/schemas/Link" },
                    "code": { "description": "A code.", "allOf": [{ "$ref": "#/components/schemas/Code" }] },
                    "level": { "type": "integer", "enum": [1, 2] },
                    "name": { "type": "string" },
                    "anything": { "description": "Whatever." }
                } }
            } }
        });
        let at = |name: &str| format!("/components/schemas/Thing/properties/{name}");
        let replaced = |name: &str| match make_nullable(
            &raw,
            &at(name),
            raw.pointer(&at(name)).expect("exists"),
        ) {
            Nullable::Replace(value) => value,
            Nullable::AddKeyword => panic!("{name}: expected a replacement"),
        };
        assert_eq!(
            replaced("link"),
            json!({ "oneOf": [
                { "$ref": "#/components/schemas/Link" },
                { "type": "object", "nullable": true, "enum": [null] }
            ] })
        );
        assert_eq!(
            replaced("code"),
            json!({ "description": "A code.", "oneOf": [
                { "allOf": [{ "$ref": "#/components/schemas/Code" }] },
                { "type": "integer", "nullable": true, "enum": [null] }
            ] })
        );
        assert_eq!(
            replaced("level"),
            json!({ "type": "integer", "enum": [1, 2, null], "nullable": true })
        );
        assert!(matches!(
            make_nullable(
                &raw,
                &at("name"),
                &raw.pointer(&at("name")).cloned().unwrap_or_default()
            ),
            Nullable::AddKeyword
        ));
        assert!(!allows_null(&raw, &at("link")));
        assert!(!allows_null(&raw, &at("code")));
        assert!(allows_null(&raw, &at("anything")));
    }
}
