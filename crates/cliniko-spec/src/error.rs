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
    #[error("{file}:{}: at {pointer}: not a valid OpenAPI 3.0 document: {message}", location(*line, None))]
    Structure {
        /// The file.
        file: String,
        /// The 1-based line of the pointer's node (or its nearest existing ancestor).
        line: Option<usize>,
        /// Where in the document.
        pointer: String,
        /// What was expected.
        message: String,
    },
    /// The document is OpenAPI 3.0 but fails the project's checks.
    #[error("{file}: {} problem{} found\n{}", problems.len(), if problems.len() == 1 { "" } else { "s" }, ProblemList(file, problems))]
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
    /// The 1-based line where the pointer's node (or its nearest existing ancestor) starts, when
    /// the document was read from YAML text.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Problem {
    /// A problem at `pointer`; its line is filled in by the [`Spec`](crate::Spec) that reports it.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "at {}: {}", self.pointer, self.message)
    }
}

/// Each problem on its own line, as `FILE:LINE: at POINTER: MESSAGE` (the form editors jump to).
struct ProblemList<'a>(&'a str, &'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.0;
        for (i, problem) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match problem.line {
                Some(line) => write!(
                    f,
                    "  {file}:{line}: at {}: {}",
                    problem.pointer, problem.message
                )?,
                None => write!(f, "  at {}: {}", problem.pointer, problem.message)?,
            }
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
