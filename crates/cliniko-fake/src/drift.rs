//! `--drift FILE`: Cliniko changing under the tools that watch it. A small YAML file lists rules,
//! each for one route (`METHOD /path`, the path as in the spec), and what to change in its
//! successful answers (in each record of a list, or in the record itself):
//!
//! ```yaml
//! - route: GET /attendees/{id}
//!   undocumented_field: {name: colour, value: teal}   # a field the spec does not name
//! - route: GET /attendees
//!   new_code: {field: invoice_status, value: 99}      # a code the code list lacks
//!   null_field: created_at                            # a field turned null
//! - route: POST /attendees
//!   status: 202                                       # a status the spec lacks
//! ```

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// Why a drift file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// The file cannot be read.
    #[error("cannot read drift file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a list of drift rules.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Malformed {
        /// The file.
        file: String,
        /// The line, when known.
        line: Option<usize>,
        /// What was expected, and where.
        message: String,
    },
}

/// A field added to an answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedField {
    /// The field's name.
    pub name: String,
    /// Its value.
    pub value: Value,
}

/// A field's value replaced (a new code in a code list).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCode {
    /// The field.
    pub field: String,
    /// The value it gets.
    pub value: Value,
}

/// One route's drift.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftRule {
    /// `METHOD /path`, the path as the spec writes it (`GET /attendees/{id}`).
    pub route: String,
    /// A field the spec does not name, added to each record.
    #[serde(default)]
    pub undocumented_field: Option<AddedField>,
    /// A field set to a value its code list lacks.
    #[serde(default)]
    pub new_code: Option<NewCode>,
    /// A field turned null.
    #[serde(default)]
    pub null_field: Option<String>,
    /// The status answered instead of the documented success.
    #[serde(default)]
    pub status: Option<u16>,
}

/// Every drift rule in force; empty for none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drift {
    rules: Vec<(String, String, DriftRule)>,
}

impl Drift {
    /// Reads a drift file.
    pub fn load(path: &Path) -> Result<Self, DriftError> {
        let text = std::fs::read_to_string(path).map_err(|source| DriftError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parses drift rules from YAML; `source` names the text in errors.
    pub fn from_yaml_str(text: &str, source: &str) -> Result<Self, DriftError> {
        let malformed = |line, message| DriftError::Malformed {
            file: source.to_owned(),
            line,
            message,
        };
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let rules: Vec<DriftRule> =
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                let at = error.path().to_string();
                let inner = error.into_inner();
                let line = inner.location().map(|l| l.line());
                malformed(line, format!("at {at}: {inner}"))
            })?;
        let mut out = Vec::new();
        for (index, rule) in rules.into_iter().enumerate() {
            let (method, path) = rule
                .route
                .split_once(' ')
                .filter(|(m, p)| {
                    ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(m) && p.starts_with('/')
                })
                .ok_or_else(|| {
                    malformed(
                        None,
                        format!(
                            "at [{index}].route: {:?} is not METHOD /path, as in GET /attendees/{{id}}",
                            rule.route
                        ),
                    )
                })?;
            if let Some(status) = rule.status
                && !(100..=599).contains(&status)
            {
                return Err(malformed(
                    None,
                    format!("at [{index}].status: {status} is not an HTTP status (100 to 599)"),
                ));
            }
            if rule.undocumented_field.is_none()
                && rule.new_code.is_none()
                && rule.null_field.is_none()
                && rule.status.is_none()
            {
                return Err(malformed(
                    None,
                    format!(
                        "at [{index}]: the rule changes nothing; give undocumented_field, new_code, null_field or status"
                    ),
                ));
            }
            out.push((method.to_owned(), format!("/v1{path}"), rule));
        }
        Ok(Self { rules: out })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules for a request, by method and literal path.
    pub(crate) fn rules_for<'a>(
        &'a self,
        method: &'a str,
        path: &'a str,
    ) -> impl Iterator<Item = &'a DriftRule> + 'a {
        self.rules
            .iter()
            .filter(move |(m, template, _)| m == method && matches(path, template))
            .map(|(_, _, rule)| rule)
    }
}

/// Whether a literal path is an instance of a template; a placeholder stands for an ID (digits),
/// so `/attendees/{id}` does not take `/attendees/deleted`.
fn matches(literal: &str, template: &str) -> bool {
    let (mut literal, mut template) = (literal.split('/'), template.split('/'));
    loop {
        match (literal.next(), template.next()) {
            (None, None) => return true,
            (Some(l), Some(t)) if l == t => {}
            (Some(l), Some(t))
                if t.starts_with('{')
                    && t.ends_with('}')
                    && !l.is_empty()
                    && l.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return false,
        }
    }
}

/// Applies rules to a successful answer's JSON: to each record of a list (an object holding an
/// array of objects), or to the record itself.
pub(crate) fn apply(rules: &[&DriftRule], body: &mut Value) {
    let records: Vec<&mut serde_json::Map<String, Value>> = match body {
        Value::Object(object)
            if object.values().any(|v| {
                v.as_array().is_some_and(|a| a.iter().all(Value::is_object)) && v.is_array()
            }) =>
        {
            object
                .values_mut()
                .filter_map(Value::as_array_mut)
                .flat_map(|items| items.iter_mut().filter_map(Value::as_object_mut))
                .collect()
        }
        Value::Object(object) => vec![object],
        _ => Vec::new(),
    };
    for record in records {
        for rule in rules {
            if let Some(added) = &rule.undocumented_field {
                record.insert(added.name.clone(), added.value.clone());
            }
            if let Some(code) = &rule.new_code {
                record.insert(code.field.clone(), code.value.clone());
            }
            if let Some(field) = &rule.null_field {
                record.insert(field.clone(), Value::Null);
            }
        }
    }
}
