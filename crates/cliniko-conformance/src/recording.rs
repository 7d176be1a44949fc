//! Recordings: HTTP exchanges kept as JSON files, read into [`Exchange`]s and written back.
//!
//! The format is described in the [crate documentation](crate#recordings). Reading never panics:
//! a file that is not JSON, or not shaped like a recording, gives a [`RecordingError`] that names
//! the file and, where it applies, the line or the JSON pointer of the problem.

use std::path::Path;

use serde_json::Value;

pub use crate::exchange::{
    Body, Exchange, Headers, RecordedRequest, RecordedResponse, RecordingError,
};
use crate::fields;

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
