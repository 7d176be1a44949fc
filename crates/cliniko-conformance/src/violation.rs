//! The ways an exchange can fail the spec, as structured values.

use serde::Serialize;
use serde_json::Value;

/// One way an exchange fails the spec. Each variant carries the facts, not just a sentence;
/// [`Violation::kind`] names the check and `Display` says it in words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Violation {
    /// No operation in the spec has this method and path.
    #[error("no operation in the spec matches {method} {path}")]
    UnknownOperation {
        /// The request method.
        method: String,
        /// The request path, after the server's base path (`/v1`).
        path: String,
    },
    /// The operation does not document this status.
    #[error("status {status} is not documented for {operation} (it documents {})", documented.join(", "))]
    UndocumentedStatus {
        /// The operation's `operationId`.
        operation: String,
        /// The status received.
        status: u16,
        /// The statuses the operation documents (`200`, `5XX`, `default`).
        documented: Vec<String>,
    },
    /// The response's media type is missing or not one the spec documents for it.
    #[error("content type {} is not documented here (expected {})", found.as_deref().map_or_else(|| "(none)".to_owned(), |f| format!("`{f}`")), expected.join(" or "))]
    ContentType {
        /// The `Content-Type` received, if any.
        found: Option<String>,
        /// The media types the spec documents for this status.
        expected: Vec<String>,
    },
    /// A header the spec requires is absent.
    #[error("required header `{header}` is missing")]
    MissingHeader {
        /// The header name, as the spec spells it.
        header: String,
    },
    /// A header is present but fails its schema.
    #[error("header `{header}` is {value:?}, which does not match its schema: {message}")]
    HeaderSchema {
        /// The header name, as the spec spells it.
        header: String,
        /// The value received.
        value: String,
        /// What the schema expected.
        message: String,
    },
    /// A JSON response whose body does not parse.
    #[error("the body is not JSON: {message}")]
    BodyNotJson {
        /// Why it does not parse (with line and column when there is a body).
        message: String,
    },
    /// A body where the spec documents none.
    #[error("status {status} documents no body, but a body of {length} bytes came")]
    UnexpectedBody {
        /// The status received.
        status: u16,
        /// The body's length in bytes.
        length: usize,
    },
    /// The body fails its schema at `pointer`.
    #[error("at {}: {message}", display_pointer(pointer))]
    BodySchema {
        /// The JSON pointer into the body (`/attendees/3/cancelled_at`).
        pointer: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The body has a property the schema does not name (reported only in strict mode).
    #[error(
        "at {}: property `{field}` is not named by the schema",
        display_pointer(pointer)
    )]
    UndocumentedField {
        /// The JSON pointer to the property.
        pointer: String,
        /// The property's name.
        field: String,
    },
    /// The request breaks the spec at `pointer` (`/query/per_page`, `/header/User-Agent`,
    /// `/body/patient_id`). Alone it is a note: the server may reject an invalid request. It is a
    /// violation next to [`Violation::AcceptedInvalidRequest`].
    #[error("request at {pointer}: {message}")]
    Request {
        /// Which part of the request.
        part: RequestPart,
        /// The JSON pointer into the request: `/path/NAME`, `/query/NAME`, `/header/NAME` or
        /// `/body/...`.
        pointer: String,
        /// What the spec expects and what was sent.
        message: String,
    },
    /// The server answered a request that breaks the spec with success: the server and the spec
    /// disagree on what is valid.
    #[error(
        "the server answered {status} to a request that breaks the spec ({problems} problem{}): the spec is stricter than the server, or the server does not check",
        if *problems == 1 { "" } else { "s" }
    )]
    AcceptedInvalidRequest {
        /// The success status received.
        status: u16,
        /// How many request problems were found (each is reported beside this one).
        problems: usize,
    },
    /// A body that passes the schema is refused by the generated type.
    #[error(
        "at {}: passes the schema but the generated type `{type_name}` refuses it: {message}",
        display_pointer(pointer)
    )]
    RoundTripRefused {
        /// The generated type.
        type_name: String,
        /// Where in the body the type gave up.
        pointer: String,
        /// The deserialiser's message.
        message: String,
    },
    /// A body that passes the schema comes back different from the generated type.
    #[error(
        "at {}: the generated type `{type_name}` turns {} into {}",
        display_pointer(pointer),
        shown(body),
        shown(round_tripped)
    )]
    RoundTripChanged {
        /// The generated type.
        type_name: String,
        /// Where the two differ.
        pointer: String,
        /// The value in the body (`None`: absent).
        body: Option<Value>,
        /// The value after deserialising and serialising again (`None`: absent).
        round_tripped: Option<Value>,
    },
}

/// Where in a request a request check looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPart {
    /// A path or query parameter (`/path/id`, `/query/per_page`, `/query/q[]/0`).
    Parameter,
    /// A header (`/header/User-Agent`).
    Header,
    /// The body (`/body/patient_id`).
    Body,
}

/// The check a [`Violation`] comes from, as the reports name it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// See [`Violation::UnknownOperation`].
    UnknownOperation,
    /// See [`Violation::UndocumentedStatus`].
    UndocumentedStatus,
    /// See [`Violation::ContentType`].
    ContentType,
    /// See [`Violation::MissingHeader`].
    MissingHeader,
    /// See [`Violation::HeaderSchema`].
    HeaderSchema,
    /// See [`Violation::BodyNotJson`].
    BodyNotJson,
    /// See [`Violation::UnexpectedBody`].
    UnexpectedBody,
    /// See [`Violation::BodySchema`].
    BodySchema,
    /// See [`Violation::UndocumentedField`].
    UndocumentedField,
    /// See [`Violation::RoundTripRefused`] and [`Violation::RoundTripChanged`].
    RoundTrip,
    /// A [`Violation::Request`] on a path or query parameter.
    RequestParameter,
    /// A [`Violation::Request`] on a header.
    RequestHeader,
    /// A [`Violation::Request`] on the body.
    RequestBody,
    /// See [`Violation::AcceptedInvalidRequest`].
    AcceptedInvalidRequest,
}

impl ViolationKind {
    /// The name the reports use (`body_schema`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownOperation => "unknown_operation",
            Self::UndocumentedStatus => "undocumented_status",
            Self::ContentType => "content_type",
            Self::MissingHeader => "missing_header",
            Self::HeaderSchema => "header_schema",
            Self::BodyNotJson => "body_not_json",
            Self::UnexpectedBody => "unexpected_body",
            Self::BodySchema => "body_schema",
            Self::UndocumentedField => "undocumented_field",
            Self::RoundTrip => "round_trip",
            Self::RequestParameter => "request_parameter",
            Self::RequestHeader => "request_header",
            Self::RequestBody => "request_body",
            Self::AcceptedInvalidRequest => "accepted_invalid_request",
        }
    }
}

impl std::fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Violation {
    /// The check this violation comes from.
    pub fn kind(&self) -> ViolationKind {
        match self {
            Self::UnknownOperation { .. } => ViolationKind::UnknownOperation,
            Self::UndocumentedStatus { .. } => ViolationKind::UndocumentedStatus,
            Self::ContentType { .. } => ViolationKind::ContentType,
            Self::MissingHeader { .. } => ViolationKind::MissingHeader,
            Self::HeaderSchema { .. } => ViolationKind::HeaderSchema,
            Self::BodyNotJson { .. } => ViolationKind::BodyNotJson,
            Self::UnexpectedBody { .. } => ViolationKind::UnexpectedBody,
            Self::BodySchema { .. } => ViolationKind::BodySchema,
            Self::UndocumentedField { .. } => ViolationKind::UndocumentedField,
            Self::RoundTripRefused { .. } | Self::RoundTripChanged { .. } => {
                ViolationKind::RoundTrip
            }
            Self::Request { part, .. } => match part {
                RequestPart::Parameter => ViolationKind::RequestParameter,
                RequestPart::Header => ViolationKind::RequestHeader,
                RequestPart::Body => ViolationKind::RequestBody,
            },
            Self::AcceptedInvalidRequest { .. } => ViolationKind::AcceptedInvalidRequest,
        }
    }

    /// The JSON pointer into the response body, or into the request (`/query/per_page`,
    /// `/body/patient_id`) for request checks, for the violations that have one.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            Self::Request { pointer, .. }
            | Self::BodySchema { pointer, .. }
            | Self::UndocumentedField { pointer, .. }
            | Self::RoundTripRefused { pointer, .. }
            | Self::RoundTripChanged { pointer, .. } => Some(pointer),
            _ => None,
        }
    }
}

impl Violation {
    /// The violation with every text it carries passed through `change` (the scrubber uses it to
    /// keep a secret that a server echoed out of a report).
    pub(crate) fn map_text(self, change: &dyn Fn(&str) -> String) -> Self {
        let value = |value: Option<Value>| {
            value.map(|mut value| {
                map_value_text(&mut value, change);
                value
            })
        };
        match self {
            Self::UnknownOperation { method, path } => Self::UnknownOperation {
                method,
                path: change(&path),
            },
            Self::UndocumentedStatus { .. }
            | Self::ContentType { .. }
            | Self::MissingHeader { .. }
            | Self::UnexpectedBody { .. }
            | Self::AcceptedInvalidRequest { .. } => self,
            Self::HeaderSchema {
                header,
                value,
                message,
            } => Self::HeaderSchema {
                header,
                value: change(&value),
                message: change(&message),
            },
            Self::BodyNotJson { message } => Self::BodyNotJson {
                message: change(&message),
            },
            Self::BodySchema { pointer, message } => Self::BodySchema {
                pointer: change(&pointer),
                message: change(&message),
            },
            Self::UndocumentedField { pointer, field } => Self::UndocumentedField {
                pointer: change(&pointer),
                field: change(&field),
            },
            Self::Request {
                part,
                pointer,
                message,
            } => Self::Request {
                part,
                pointer: change(&pointer),
                message: change(&message),
            },
            Self::RoundTripRefused {
                type_name,
                pointer,
                message,
            } => Self::RoundTripRefused {
                type_name,
                pointer: change(&pointer),
                message: change(&message),
            },
            Self::RoundTripChanged {
                type_name,
                pointer,
                body,
                round_tripped,
            } => Self::RoundTripChanged {
                type_name,
                pointer: change(&pointer),
                body: value(body),
                round_tripped: value(round_tripped),
            },
        }
    }
}

fn map_value_text(value: &mut Value, change: &dyn Fn(&str) -> String) {
    match value {
        Value::String(text) => *text = change(text),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| map_value_text(item, change)),
        Value::Object(object) => object
            .values_mut()
            .for_each(|item| map_value_text(item, change)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Reports write a violation as `{ "kind", "pointer", "message" }`.
impl Serialize for Violation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Violation", 3)?;
        out.serialize_field("kind", &self.kind())?;
        out.serialize_field("pointer", &self.pointer())?;
        out.serialize_field("message", &self.to_string())?;
        out.end()
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the root"
    } else {
        pointer
    }
}

fn shown(value: &Option<Value>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(value) => {
            let text = value.to_string();
            if text.len() > 80 {
                let cut = (0..=77)
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                format!("{}...", &text[..cut])
            } else {
                text
            }
        }
    }
}
