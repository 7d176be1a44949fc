//! Errors from reading and checking a spec.

use std::fmt;

/// Why a spec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid YAML.
    #[error("{file}:{}: invalid YAML: {message}", location(*line, *column))]
    Yaml {
        /// The file.
        file: String,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// The 1-based column, when known.
        column: Option<usize>,
        /// What the parser expected.
        message: String,
    },
    /// The document is not OpenAPI 3.0.
    #[error(
        "{file}: openapi version {found} is not supported; write an OpenAPI 3.0.x document \
         (progenitor cannot read 3.1)"
    )]
    UnsupportedVersion {
        /// The file.
        file: String,
        /// The `openapi` field as found.
        found: String,
    },
    /// The YAML is not shaped like an OpenAPI 3.0 document.
    #[error("{file}: at {pointer}: not a valid OpenAPI 3.0 document: {message}")]
    Structure {
        /// The file.
        file: String,
        /// Where in the document.
        pointer: String,
        /// What was expected.
        message: String,
    },
    /// The document is OpenAPI 3.0 but fails the project's checks.
    #[error("{file}: {} problem{} found\n{}", problems.len(), if problems.len() == 1 { "" } else { "s" }, ProblemList(problems))]
    Invalid {
        /// The file.
        file: String,
        /// Every problem, in document order.
        problems: Vec<Problem>,
    },
}

/// One problem found by [`Spec::check`](crate::Spec::check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The JSON pointer into the document where the problem is.
    pub pointer: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.pointer, self.message)
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {problem}")?;
        }
        Ok(())
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("{line}:{column}"),
        (Some(line), None) => line.to_string(),
        _ => "?".to_owned(),
    }
}
