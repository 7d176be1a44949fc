//! The Cliniko attendees OpenAPI document, read, checked and turned into validators.
//!
//! The workspace has one hand-maintained OpenAPI 3.0 document, `spec/cliniko-attendees.yaml`.
//! This crate embeds it, loads it (or another file) with line-accurate errors, checks that it is
//! sound enough to generate code from (every `$ref` resolves, every operation is named and
//! summarised, every example passes its own schema), and compiles its schemas into validators with
//! OpenAPI 3.0 semantics (`nullable`, `format`, int64 IDs sent as strings).
//!
//! ```
//! let spec = cliniko_spec::Spec::embedded()?;
//! spec.check()?;
//! let attendee = spec.validator_for_ref("#/components/schemas/Attendee")?;
//! let violations = attendee.violations(&serde_json::json!({ "id": 1 }));
//! assert!(violations.iter().any(|v| v.pointer == "/id"));
//! # Ok::<(), cliniko_spec::SpecError>(())
//! ```
#![deny(missing_docs)]

mod check;
pub mod diff;
pub mod dom;
mod error;
pub mod facts;
mod lines;
pub mod nullable;
pub mod pointer;
pub mod resources;
mod schema;

use std::path::Path;

pub use error::{Problem, SpecError};
pub use lines::LineIndex;
pub use nullable::nullable_one_of_branch;
pub use schema::{SchemaOptions, SchemaValidator, SchemaViolation, fold_nullable_one_of};

/// The operation fields of an OpenAPI 3.0 Path Item, in the order the specification lists them.
pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The text of the workspace's spec, as it was when this crate was built.
pub const EMBEDDED_YAML: &str = include_str!("../spec/cliniko-attendees.yaml");

/// Where the embedded spec lives in the workspace, for messages.
pub const EMBEDDED_PATH: &str = "spec/cliniko-attendees.yaml";

/// A loaded OpenAPI document: its raw JSON form (for pointers) and its typed form.
#[derive(Debug, Clone)]
pub struct Spec {
    source: String,
    text: std::sync::Arc<str>,
    lines: std::sync::OnceLock<LineIndex>,
    raw: serde_json::Value,
    document: openapiv3::OpenAPI,
}

impl Spec {
    /// The spec embedded in this crate.
    pub fn embedded() -> Result<Self, SpecError> {
        Self::from_yaml_str(EMBEDDED_YAML, EMBEDDED_PATH)
    }

    /// Reads a spec from a YAML (or JSON) file.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parses a spec from YAML text; `source` names it in errors.
    pub fn from_yaml_str(text: &str, source: &str) -> Result<Self, SpecError> {
        let raw: serde_json::Value =
            serde_yaml_ng::from_str(text).map_err(|error| SpecError::Yaml {
                file: source.to_owned(),
                line: error.location().map(|l| l.line()),
                column: error.location().map(|l| l.column()),
                message: yaml_message(&error),
            })?;
        let version = raw.get("openapi").and_then(|v| v.as_str()).unwrap_or("");
        if !version.starts_with("3.0.") {
            return Err(SpecError::UnsupportedVersion {
                file: source.to_owned(),
                found: if version.is_empty() {
                    "(no `openapi` field)".to_owned()
                } else {
                    version.to_owned()
                },
            });
        }
        let document: openapiv3::OpenAPI =
            serde_path_to_error::deserialize(&raw).map_err(|error| {
                let at = pointer::from_serde_path(error.path());
                SpecError::Structure {
                    file: source.to_owned(),
                    line: LineIndex::new(text).line(&at),
                    // The message reads "at /: ..." for the document as a whole.
                    pointer: Some(at)
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| "/".to_owned()),
                    message: error.inner().to_string(),
                }
            })?;
        Ok(Self {
            source: source.to_owned(),
            text: text.into(),
            lines: std::sync::OnceLock::new(),
            raw,
            document,
        })
    }

    /// The file (or label) the spec was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The document as JSON, for JSON-pointer access.
    pub fn raw(&self) -> &serde_json::Value {
        &self.raw
    }

    /// The typed OpenAPI document.
    pub fn document(&self) -> &openapiv3::OpenAPI {
        &self.document
    }

    /// Checks that the spec is sound: see [`check`](crate::Spec::check) for the list.
    ///
    /// Refuses a spec in which a `$ref` does not resolve, an operation lacks an `operationId` or a
    /// summary, two operations share an `operationId`, an operation has more than one success or
    /// error schema, an example fails its own schema, a resource's role does not resolve or a
    /// property's mark is malformed (see [`resources`]). Every problem is reported, each with the
    /// JSON pointer where it is.
    pub fn check(&self) -> Result<(), SpecError> {
        let problems = check::problems(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid {
                file: self.source.clone(),
                problems: self.locate(problems),
            })
        }
    }

    /// Checks only that every `$ref` is local, resolves, and does not lead back to itself: what
    /// reading the document by its references (as [`diff`] does) needs. Each problem has its line
    /// and JSON pointer.
    pub fn check_references(&self) -> Result<(), SpecError> {
        let problems = check::reference_problems(self);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SpecError::Invalid {
                file: self.source.clone(),
                problems: self.locate(problems),
            })
        }
    }

    /// The line (1-based) where the node at a JSON pointer starts in the spec's text, or where
    /// its nearest existing ancestor does.
    pub fn line_of(&self, pointer: &str) -> Option<usize> {
        self.lines
            .get_or_init(|| LineIndex::new(&self.text))
            .line(pointer)
    }

    /// Fills in each problem's line.
    fn locate(&self, mut problems: Vec<Problem>) -> Vec<Problem> {
        for problem in &mut problems {
            problem.line = problem.line.or_else(|| self.line_of(&problem.pointer));
        }
        problems
    }

    /// Cliniko's facts as this spec states them (see [`facts`]): every problem with its pointer.
    pub fn facts(&self) -> Result<facts::Facts, Vec<Problem>> {
        facts::read(self).map_err(|problems| self.locate(problems))
    }

    /// The resources `x-cliniko-resources` declares (see [`resources`]): every problem with its
    /// pointer and line.
    pub fn resources(&self) -> Result<Vec<resources::Resource>, Vec<Problem>> {
        resources::read(self).map_err(|problems| self.locate(problems))
    }

    /// Every property marked `x-cliniko-personal` or `x-cliniko-capability-url` (see
    /// [`resources`]).
    pub fn marks(&self) -> Result<Vec<resources::Mark>, Vec<Problem>> {
        resources::marks(self).map_err(|problems| self.locate(problems))
    }

    /// Compiles the schema at a local `$ref` (such as `#/components/schemas/Attendee`).
    pub fn validator_for_ref(&self, reference: &str) -> Result<SchemaValidator, SpecError> {
        let pointer = reference.strip_prefix('#').unwrap_or(reference);
        let schema = self
            .raw
            .pointer(pointer)
            .ok_or_else(|| self.invalid(pointer, "no schema here"))?;
        self.validator(pointer, schema, SchemaOptions::default())
    }

    /// Compiles an OpenAPI 3.0 schema object found at `pointer` in this spec.
    pub fn validator(
        &self,
        pointer: &str,
        schema: &serde_json::Value,
        options: SchemaOptions,
    ) -> Result<SchemaValidator, SpecError> {
        SchemaValidator::compile(&self.raw, schema, options)
            .map_err(|problem| self.invalid(pointer, &problem))
    }

    fn invalid(&self, pointer: &str, message: &str) -> SpecError {
        SpecError::Invalid {
            file: self.source.clone(),
            problems: self.locate(vec![Problem::new(pointer.to_owned(), message.to_owned())]),
        }
    }
}

/// serde_yaml_ng's message without its own "at line L column C" suffix, which we print ourselves.
fn yaml_message(error: &serde_yaml_ng::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
