//! What compiling a spec for checking needs in both halves of an exchange, requests and
//! responses: the options, the compiler that follows `$ref`s and caches validators, why compiling
//! failed, and how a `Content-Type` is read. The request and response checkers both depend on
//! this module, and it on neither.

use std::collections::HashMap;
use std::sync::Arc;

use cliniko_spec::{SchemaOptions, SchemaValidator, Spec, SpecError};
use serde_json::Value;

/// How exchanges are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// Report every property a schema does not name as an `undocumented_field` violation.
    pub strict: bool,
    /// Deserialise each body that passes its schema into the generated type and serialise it
    /// back, reporting any difference (on by default).
    pub round_trip: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            strict: false,
            round_trip: true,
        }
    }
}

/// Why a spec could not be turned into a [`Checker`](crate::Checker).
#[derive(Debug, thiserror::Error)]
pub enum CheckerError {
    /// The spec could not be read, or one of its schemas does not compile.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A `$ref` to a response or header does not resolve.
    #[error("{file}: at {pointer}: $ref {reference} does not resolve")]
    UnresolvedRef {
        /// The spec file.
        file: String,
        /// Where the `$ref` is.
        pointer: String,
        /// The reference.
        reference: String,
    },
}

/// Compiles the parts of a spec the checker needs, each schema once.
pub(crate) struct Compiler<'s> {
    pub(crate) spec: &'s Spec,
    pub(crate) options: CheckOptions,
    pub(crate) cache: HashMap<(String, bool), Arc<SchemaValidator>>,
}

impl<'s> Compiler<'s> {
    /// Whether schemas are compiled in strict mode.
    pub(crate) fn strict(&self) -> bool {
        self.options.strict
    }

    /// Follows `$ref`s (with [`cliniko_spec::pointer::chase`], so that a loop cannot hang the
    /// checker): the JSON pointer of the schema reached, and the schema. A `$ref` that resolves
    /// nowhere is an error naming the node that holds it.
    pub(crate) fn resolve(
        &self,
        pointer: &str,
        value: &'s Value,
    ) -> Result<(String, &'s Value), CheckerError> {
        let chased = cliniko_spec::pointer::chase(self.spec.raw(), value);
        let reference = match chased.broken {
            None => return Ok((chased.pointer_or(pointer), chased.value)),
            Some(cliniko_spec::pointer::Broken::Dangling(reference)) => reference.to_owned(),
            Some(cliniko_spec::pointer::Broken::Loop) => format!(
                "(a chain of more than {} $refs)",
                cliniko_spec::pointer::MAX_HOPS
            ),
        };
        Err(CheckerError::UnresolvedRef {
            file: self.spec.source().to_owned(),
            pointer: chased.pointer_or(pointer),
            reference,
        })
    }

    pub(crate) fn validator(
        &mut self,
        pointer: &str,
        schema: &Value,
        strict: bool,
    ) -> Result<Arc<SchemaValidator>, CheckerError> {
        let key = (schema.to_string(), strict);
        if let Some(validator) = self.cache.get(&key) {
            return Ok(Arc::clone(validator));
        }
        let validator = Arc::new(
            self.spec
                .validator(pointer, schema, SchemaOptions { strict })?,
        );
        self.cache.insert(key, Arc::clone(&validator));
        Ok(validator)
    }
}

/// The media type of a `Content-Type` value, without parameters, in lower case.
pub(crate) fn media_type(content_type: &str) -> String {
    match content_type.trim().parse::<mime::Mime>() {
        Ok(mime) => mime.essence_str().to_ascii_lowercase(),
        Err(_) => content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    }
}

/// Whether a media type is JSON (`application/json`, or any `+json`).
pub(crate) fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}
