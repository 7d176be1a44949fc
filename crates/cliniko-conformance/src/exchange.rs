//! An HTTP exchange as every reader and writer of the checker holds it (recordings, HAR archives,
//! live runs, the proxy), and why one could not be read. The readers depend on this module, and
//! it on none of them.

use serde_json::{Map, Value};

/// One request and the response it got.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// What was sent.
    pub request: RecordedRequest,
    /// What came back.
    pub response: RecordedResponse,
}

/// The request half of an exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method, as recorded (compared case-insensitively).
    pub method: String,
    /// An absolute URL (`https://api.au1.cliniko.com/v1/attendees/1`) or a path
    /// (`/v1/attendees/1`, `/attendees/1`), with its query string if any.
    pub url: String,
    /// The request headers.
    pub headers: Headers,
    /// The request body.
    pub body: Body,
}

/// The response half of an exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: Headers,
    /// The response body.
    pub body: Body,
}

/// A recorded body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body (`null`, `""` or absent in the recording).
    Empty,
    /// The body text exactly as received (a JSON string in the recording); it may not be JSON.
    Text(String),
    /// A JSON body, recorded as the JSON value itself.
    Json(Value),
}

impl Body {
    /// Reads the `body` field of a recording.
    pub fn from_recorded(value: Value) -> Self {
        match value {
            Value::Null => Self::Empty,
            Value::String(text) if text.is_empty() => Self::Empty,
            Value::String(text) => Self::Text(text),
            other => Self::Json(other),
        }
    }

    /// The `body` field to write in a recording.
    ///
    /// A JSON body that is itself a JSON string is written as its raw text (`"\"text\""`), since a
    /// plain string in a recording means "the raw body".
    pub fn to_recorded(&self) -> Value {
        match self {
            Self::Empty => Value::Null,
            Self::Text(text) => Value::String(text.clone()),
            Self::Json(Value::String(text)) => {
                Value::String(Value::String(text.clone()).to_string())
            }
            Self::Json(value) => value.clone(),
        }
    }

    /// Whether there is no body.
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }
}

/// HTTP headers, with names kept in lower case so that lookups ignore case.
///
/// A recording may leave its headers out altogether (many HAR exports drop request headers);
/// such a set is [not recorded](Headers::is_recorded), and the header checks that need it are
/// skipped. An empty set that was recorded means no header was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
    not_recorded: bool,
}

impl Headers {
    /// No headers (the recording says none were sent).
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers the recording did not keep: nothing is known about them.
    pub fn not_recorded() -> Self {
        Self {
            entries: Vec::new(),
            not_recorded: true,
        }
    }

    /// Whether the recording kept these headers (false when it left them out).
    pub fn is_recorded(&self) -> bool {
        !self.not_recorded
    }

    /// Adds a header; the name is stored in lower case. A name may be added more than once.
    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.not_recorded = false;
        self.entries.push((name.to_ascii_lowercase(), value.into()));
    }

    /// The first value of a header, whatever the case of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Removes every value of a header, whatever the case of `name`.
    pub fn remove(&mut self, name: &str) {
        self.entries
            .retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    }

    /// Every header as `(lower-case name, value)`, in recorded order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// Changes every value in place.
    pub fn map_values(&mut self, mut change: impl FnMut(&str, &str) -> String) {
        for (name, value) in &mut self.entries {
            *value = change(name, value);
        }
    }

    /// The headers as a recording writes them: one string per name, repeated values as an array;
    /// `null` when they were not recorded.
    pub fn to_recorded(&self) -> Value {
        if self.not_recorded {
            return Value::Null;
        }
        let mut out = Map::new();
        for (name, value) in &self.entries {
            match out.get_mut(name) {
                None => {
                    out.insert(name.clone(), Value::String(value.clone()));
                }
                Some(Value::Array(values)) => values.push(Value::String(value.clone())),
                Some(single) => {
                    let first = single.take();
                    *single = Value::Array(vec![first, Value::String(value.clone())]);
                }
            }
        }
        Value::Object(out)
    }
}

impl Exchange {
    /// The exchange as a recording file holds it.
    pub fn to_recorded(&self) -> Value {
        serde_json::json!({
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": self.request.headers.to_recorded(),
                "body": self.request.body.to_recorded(),
            },
            "response": {
                "status": self.response.status,
                "headers": self.response.headers.to_recorded(),
                "body": self.response.body.to_recorded(),
            },
        })
    }
}

/// Why a recording could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{file}:{line}:{column}: not JSON: {message}")]
    Json {
        /// The file.
        file: String,
        /// The 1-based line of the error.
        line: usize,
        /// The 1-based column of the error.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The file is JSON but not a recording.
    #[error(
        "{file}: at {pointer}: not a recording: {message}; see the recording format in the cliniko-conformance docs"
    )]
    Shape {
        /// The file.
        file: String,
        /// Where in the file (a JSON pointer; `/` for the whole file).
        pointer: String,
        /// What was expected.
        message: String,
    },
    /// The file is JSON but not a HAR 1.2 archive, or one of its entries is not an exchange.
    #[error(
        "{file}{}: at {pointer}: not HAR 1.2: {message}",
        entry.map(|index| format!("#entry-{index}")).unwrap_or_default()
    )]
    Har {
        /// The file.
        file: String,
        /// The entry (its index in `log.entries`), when the problem is inside one.
        entry: Option<usize>,
        /// Where in the file (a JSON pointer; `/` for the whole file).
        pointer: String,
        /// What was expected.
        message: String,
    },
}

impl RecordingError {
    /// The file that could not be read.
    pub fn file(&self) -> &str {
        match self {
            Self::Io { file, .. }
            | Self::Json { file, .. }
            | Self::Shape { file, .. }
            | Self::Har { file, .. } => file,
        }
    }
}
