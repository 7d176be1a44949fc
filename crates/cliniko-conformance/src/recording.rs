//! Recordings: HTTP exchanges kept as JSON files, read into [`Exchange`]s and written back.
//!
//! The format is described in the [crate documentation](crate#recordings). Reading never panics:
//! a file that is not JSON, or not shaped like a recording, gives a [`RecordingError`] that names
//! the file and, where it applies, the line or the JSON pointer of the problem.

use std::path::Path;

use serde_json::{Map, Value};

use crate::fields;

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

/// Reads every exchange in a recording file.
pub fn read_recording(path: &Path) -> Result<Vec<Exchange>, RecordingError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| RecordingError::Io {
        file: file.clone(),
        source,
    })?;
    parse_recording(&bytes, &file)
}

/// Reads every exchange in the text of a recording, or of a HAR 1.2 archive (a file named `*.har`,
/// or any whose JSON is an object with `log`); `file` names it in errors.
pub fn parse_recording(bytes: &[u8], file: &str) -> Result<Vec<Exchange>, RecordingError> {
    // Checking UTF-8 once over the whole file is faster than letting serde_json check each string
    // in turn, as `from_slice` does; the parse is otherwise the same. Bytes that are not UTF-8 are
    // not JSON either, and `from_slice` then says where they go wrong.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => parse_json(text),
        Err(_) => serde_json::from_slice::<Value>(bytes),
    };
    let value = parsed.map_err(|error| RecordingError::Json {
        file: file.to_owned(),
        line: error.line(),
        column: error.column(),
        message: parser_message(&error),
    })?;
    if is_har_name(file) || crate::har::looks_like_har(&value) {
        return crate::har::exchanges_from_har(value, file);
    }
    recording_from_value(value, file)
}

/// Whether a file is named as a HAR archive (`*.har`, in any case).
pub(crate) fn is_har_name(file: &str) -> bool {
    std::path::Path::new(file)
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("har"))
}

/// Parses JSON text into the same [`Value`] as `serde_json::from_str`, with the same errors, but
/// builds each object's map in one pass rather than key by key.
///
/// serde_json's own `Value` inserts every property into its `BTreeMap` as it is read: a search
/// from the root for each key, which for a page of attendees costs more than reading the text.
/// Here the properties of an object are gathered in order and the map is built from them at
/// once (`FromIterator`: a stable sort, already sorted in the common case, then a bulk build that
/// keeps the last of repeated keys, as inserting them one by one does).
pub(crate) fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed as _;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut properties = Vec::new();
    let value = JsonValue {
        properties: &mut properties,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A [`Value`], read by [`parse_json`]. The properties of the objects being read wait in one
/// shared stack, each object's at its end, so that gathering them allocates nothing per object.
struct JsonValue<'s> {
    properties: &'s mut Vec<(String, Value)>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonValue<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonValue<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(self, deserializer)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(JsonValue {
            properties: &mut *self.properties,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let start = self.properties.len();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(JsonValue {
                properties: &mut *self.properties,
            })?;
            self.properties.push((key, value));
        }
        Ok(Value::Object(self.properties.drain(start..).collect()))
    }
}

/// Reads every exchange in a recording that is already parsed; `file` names it in errors.
pub fn recording_from_value(value: Value, file: &str) -> Result<Vec<Exchange>, RecordingError> {
    let shape = |pointer: &str, message: &str| RecordingError::Shape {
        file: file.to_owned(),
        pointer: pointer.to_owned(),
        message: message.to_owned(),
    };
    let Value::Object(mut top) = value else {
        return Err(shape(
            "/",
            "expected an object with `request` and `response`, or with `interactions`",
        ));
    };
    match top.remove("interactions") {
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                exchange_from_value(item, &format!("/interactions/{index}"))
                    .map_err(|(p, m)| shape(&p, &m))
            })
            .collect(),
        Some(_) => Err(shape("/interactions", "expected an array of exchanges")),
        None => exchange_from_value(Value::Object(top), "")
            .map(|one| vec![one])
            .map_err(|(p, m)| shape(&p, &m)),
    }
}

/// A shape problem: the pointer and the message.
type ShapeProblem = fields::Problem;

fn exchange_from_value(value: Value, at: &str) -> Result<Exchange, ShapeProblem> {
    let (mut request, mut response) = fields::halves(value, at, "an object")?;
    let request_at = format!("{at}/request");
    let response_at = format!("{at}/response");
    Ok(Exchange {
        request: RecordedRequest {
            method: fields::method(&mut request, &request_at)?,
            url: fields::url(&mut request, &request_at, fields::Url::UrlOrPath)?,
            headers: headers_from(request.remove("headers"), &format!("{request_at}/headers"))?,
            body: Body::from_recorded(request.remove("body").unwrap_or(Value::Null)),
        },
        response: RecordedResponse {
            status: fields::status(&mut response, &response_at, None)?,
            headers: headers_from(
                response.remove("headers"),
                &format!("{response_at}/headers"),
            )?,
            body: Body::from_recorded(response.remove("body").unwrap_or(Value::Null)),
        },
    })
}

fn headers_from(value: Option<Value>, at: &str) -> Result<Headers, ShapeProblem> {
    let mut headers = Headers::new();
    let object = match value {
        None | Some(Value::Null) => return Ok(Headers::not_recorded()),
        Some(Value::Object(object)) => object,
        Some(_) => {
            return Err((
                at.to_owned(),
                "expected an object of header names to values".to_owned(),
            ));
        }
    };
    for (name, value) in object {
        let here = format!("{at}/{}", cliniko_spec::pointer::escape(&name));
        match value {
            Value::Array(values) => {
                for (index, value) in values.into_iter().enumerate() {
                    headers.append(
                        &name,
                        fields::header_text(value).ok_or_else(|| {
                            (
                                format!("{here}/{index}"),
                                "expected a header value as a string".to_owned(),
                            )
                        })?,
                    );
                }
            }
            value => headers.append(
                &name,
                fields::header_text(value).ok_or_else(|| {
                    (
                        here,
                        "expected a header value as a string or an array of strings".to_owned(),
                    )
                })?,
            ),
        }
    }
    Ok(headers)
}

/// serde_json's message without its own "at line L column C" suffix, which the error prints itself.
pub(crate) fn parser_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_format_the_issue_shows() {
        let text = br#"{
          "request":  { "method": "GET", "url": "https://api.au1.cliniko.com/v1/attendees/1?x=1",
                        "headers": { "Accept": "application/json" }, "body": null },
          "response": { "status": 200, "headers": { "content-type": "application/json; charset=utf-8" },
                        "body": { "id": "1" } }
        }"#;
        let exchanges = parse_recording(text, "one.json").expect("reads");
        assert_eq!(exchanges.len(), 1);
        assert_eq!(
            exchanges[0].request.headers.get("accept"),
            Some("application/json")
        );
        assert_eq!(
            exchanges[0].response.headers.get("Content-Type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(
            exchanges[0].response.body,
            Body::Json(serde_json::json!({ "id": "1" }))
        );
        assert_eq!(exchanges[0].request.body, Body::Empty);
    }

    #[test]
    fn reads_interactions_and_names_the_bad_one() {
        let text = br#"{ "interactions": [
            { "request": { "method": "GET", "url": "/attendees" }, "response": { "status": 200, "body": "{" } },
            { "request": { "method": "GET", "url": "/attendees" }, "response": { "status": "200" } } ] }"#;
        let error = parse_recording(text, "two.json").expect_err("second is bad");
        assert_eq!(
            error.to_string(),
            "two.json: at /interactions/1/response/status: not a recording: expected an HTTP status as a number; see the recording format in the cliniko-conformance docs"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named_by_line_and_column() {
        let text = b"{\n  \"request\": { \"method\": \"GET\", \"url\": \"/attendees\xff\" } }";
        let error = parse_recording(text, "bad.json").expect_err("not UTF-8");
        assert_eq!(
            error.to_string(),
            "bad.json:2:51: not JSON: invalid unicode code point"
        );
    }

    #[test]
    fn parse_json_reads_what_serde_json_reads_and_fails_where_it_fails() {
        let texts = [
            r#"{"b": 1, "a": [true, null, -2, 3.5, 1e400, 18446744073709551615, "x\u00e9"], "b": {"z": {}, "y": []}}"#,
            r#"{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k1":"again"}"#,
            "[]",
            "\"text\"",
            "{\"a\": }",
            "{\"a\": 1} x",
            "[1, 2",
            "",
        ];
        for text in texts {
            let ours = parse_json(text).map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<Value>(text).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{text}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            parse_json(&deep).map_err(|e| e.to_string()),
            serde_json::from_str::<Value>(&deep).map_err(|e| e.to_string())
        );
    }

    #[test]
    fn a_string_body_is_raw_text_and_survives_a_write() {
        let body = Body::Json(Value::String("quoted".to_owned()));
        assert_eq!(
            Body::from_recorded(body.to_recorded()),
            Body::Text("\"quoted\"".to_owned())
        );
        assert_eq!(
            Body::from_recorded(Value::String(String::new())),
            Body::Empty
        );
    }
}
