//! HAR 1.2 files (HTTP Archive, what browser devtools, mitmproxy and schemathesis' `--report har`
//! export): every entry read as an [`Exchange`], and exchanges written back as one archive.
//!
//! The mapping, which follows the HAR 1.2 specification
//! (<http://www.softwareishard.com/blog/har-12-spec/>), is documented in the
//! [crate documentation](crate#har-archives).

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::exchange::{Body, Exchange, Headers, RecordedRequest, RecordedResponse, RecordingError};
use crate::fields;

/// A shape problem in a HAR file: the entry (if the problem is inside one), the JSON pointer and
/// what was expected.
type HarProblem = (Option<usize>, String, String);

/// Reads every entry of a parsed HAR document; `file` names it in errors.
pub(crate) fn exchanges_from_har(
    value: Value,
    file: &str,
) -> Result<Vec<Exchange>, RecordingError> {
    read_log(value).map_err(|(entry, pointer, message)| RecordingError::Har {
        file: file.to_owned(),
        entry,
        pointer,
        message,
    })
}

/// Whether a parsed JSON document is a HAR archive rather than a recording: an object whose only
/// key the recording format knows nothing about is `log`.
pub(crate) fn looks_like_har(value: &Value) -> bool {
    value.as_object().is_some_and(|top| {
        top.get("log").is_some_and(Value::is_object)
            && !top.contains_key("request")
            && !top.contains_key("interactions")
    })
}

fn read_log(value: Value) -> Result<Vec<Exchange>, HarProblem> {
    let file_problem =
        |pointer: &str, message: &str| (None, pointer.to_owned(), message.to_owned());
    let Value::Object(mut top) = value else {
        return Err(file_problem("/", "expected an object with `log`"));
    };
    let mut log = match top.remove("log") {
        Some(Value::Object(log)) => log,
        Some(_) => return Err(file_problem("/log", "expected an object with `entries`")),
        None => return Err(file_problem("/", "expected an object with `log`")),
    };
    let entries = match log.remove("entries") {
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(file_problem("/log/entries", "expected an array of entries")),
        None => return Err(file_problem("/log", "missing `entries`")),
    };
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let at = format!("/log/entries/{index}");
            entry_from(entry, &at).map_err(|(pointer, message)| (Some(index), pointer, message))
        })
        .collect()
}

fn entry_from(value: Value, at: &str) -> Result<Exchange, (String, String)> {
    let (request, response) = fields::halves(value, at, "an entry object")?;
    Ok(Exchange {
        request: request_from(request, &format!("{at}/request"))?,
        response: response_from(response, &format!("{at}/response"))?,
    })
}

fn request_from(
    mut object: Map<String, Value>,
    at: &str,
) -> Result<RecordedRequest, (String, String)> {
    let method = fields::method(&mut object, at)?;
    let url = fields::url(&mut object, at, fields::Url::Absolute)?;
    let mut headers = headers_from(object.remove("headers"), &format!("{at}/headers"))?;
    let body = match object.remove("postData") {
        None | Some(Value::Null) => Body::Empty,
        Some(Value::Object(mut post)) => {
            let here = format!("{at}/postData");
            let mime = match post.remove("mimeType") {
                None | Some(Value::Null) => None,
                Some(Value::String(mime)) => Some(mime).filter(|m| !m.trim().is_empty()),
                Some(_) => {
                    return Err((
                        format!("{here}/mimeType"),
                        "expected a media type as a string".to_owned(),
                    ));
                }
            };
            // `mimeType` is the Content-Type of the posted data; it stands in for the header
            // only where the recorded headers lack one, so a header list that was left out
            // stays "not recorded".
            if let Some(mime) = mime
                && headers.is_recorded()
                && headers.get("content-type").is_none()
            {
                headers.append("content-type", mime);
            }
            match post.remove("text") {
                Some(Value::String(text)) => Body::from_recorded(Value::String(text)),
                None | Some(Value::Null) => {
                    form_from(post.remove("params"), &format!("{here}/params"))?
                }
                Some(_) => {
                    return Err((
                        format!("{here}/text"),
                        "expected the posted body as a string".to_owned(),
                    ));
                }
            }
        }
        Some(_) => {
            return Err((
                format!("{at}/postData"),
                "expected an object with `mimeType` and `text`".to_owned(),
            ));
        }
    };
    Ok(RecordedRequest {
        method,
        url,
        headers,
        body,
    })
}

fn response_from(
    mut object: Map<String, Value>,
    at: &str,
) -> Result<RecordedResponse, (String, String)> {
    let status = fields::status(
        &mut object,
        at,
        Some("the request got no answer; leave the entry out of the archive"),
    )?;
    let headers = match object.get("headers") {
        // Response headers are kept as recorded: an empty list means none were sent.
        Some(Value::Array(list)) if list.is_empty() => Headers::new(),
        _ => headers_from(object.remove("headers"), &format!("{at}/headers"))?,
    };
    let body = match object.remove("content") {
        None | Some(Value::Null) => Body::Empty,
        Some(Value::Object(content)) => content_from(content, &format!("{at}/content"))?,
        Some(_) => {
            return Err((
                format!("{at}/content"),
                "expected an object with `size`, `mimeType` and `text`".to_owned(),
            ));
        }
    };
    Ok(RecordedResponse {
        status,
        headers,
        body,
    })
}

fn content_from(mut content: Map<String, Value>, at: &str) -> Result<Body, (String, String)> {
    let text = match content.remove("text") {
        Some(Value::String(text)) => text,
        None | Some(Value::Null) => {
            return match content.get("size").and_then(Value::as_i64) {
                Some(size) if size > 0 => Err((
                    format!("{at}/text"),
                    format!(
                        "expected the body as `text`: `size` says {size} bytes came, but the archive left them out (export it with content)"
                    ),
                )),
                _ => Ok(Body::Empty),
            };
        }
        Some(_) => {
            return Err((
                format!("{at}/text"),
                "expected the body as a string".to_owned(),
            ));
        }
    };
    match content.remove("encoding") {
        None | Some(Value::Null) => Ok(Body::from_recorded(Value::String(text))),
        Some(Value::String(encoding)) if encoding.eq_ignore_ascii_case("base64") => {
            // Encoders wrap long base64 at 76 columns; the padding-tolerant engine does not
            // skip whitespace, so it goes first.
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|error| {
                    (
                        format!("{at}/text"),
                        format!("expected base64, as `encoding` says: {error}"),
                    )
                })?;
            // As a live run reads a body: text that is not UTF-8 keeps replacement characters.
            Ok(Body::from_recorded(Value::String(
                String::from_utf8_lossy(&bytes).into_owned(),
            )))
        }
        Some(Value::String(encoding)) => Err((
            format!("{at}/encoding"),
            format!("expected `base64` or no encoding, found `{encoding}`"),
        )),
        Some(_) => Err((
            format!("{at}/encoding"),
            "expected `base64` or no encoding".to_owned(),
        )),
    }
}

/// `[{name, value}]`, as HAR lists headers; an absent or empty list is "not recorded".
fn headers_from(value: Option<Value>, at: &str) -> Result<Headers, (String, String)> {
    let list = match value {
        None | Some(Value::Null) => return Ok(Headers::not_recorded()),
        Some(Value::Array(list)) if list.is_empty() => return Ok(Headers::not_recorded()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err((
                at.to_owned(),
                "expected an array of `{name, value}` objects".to_owned(),
            ));
        }
    };
    let mut headers = Headers::new();
    for (index, header) in list.into_iter().enumerate() {
        let (name, value) = name_value(header, &format!("{at}/{index}"))?;
        headers.append(&name, value);
    }
    Ok(headers)
}

/// The form fields of `postData.params`, as `application/x-www-form-urlencoded` text.
fn form_from(value: Option<Value>, at: &str) -> Result<Body, (String, String)> {
    let list = match value {
        None | Some(Value::Null) => return Ok(Body::Empty),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err((
                at.to_owned(),
                "expected an array of `{name, value}` objects".to_owned(),
            ));
        }
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (index, param) in list.into_iter().enumerate() {
        let here = format!("{at}/{index}");
        let Value::Object(mut param) = param else {
            return Err((
                here,
                "expected an object with `name` and `value`".to_owned(),
            ));
        };
        let name = match param.remove("name") {
            Some(Value::String(name)) => name,
            _ => return Err((format!("{here}/name"), "expected a string".to_owned())),
        };
        let value = match param.remove("value") {
            Some(Value::String(value)) => value,
            None | Some(Value::Null) => String::new(),
            Some(_) => return Err((format!("{here}/value"), "expected a string".to_owned())),
        };
        form.append_pair(&name, &value);
    }
    Ok(Body::from_recorded(Value::String(form.finish())))
}

fn name_value(value: Value, at: &str) -> Result<(String, String), (String, String)> {
    let Value::Object(mut object) = value else {
        return Err((
            at.to_owned(),
            "expected an object with `name` and `value`".to_owned(),
        ));
    };
    let name = match object.remove("name") {
        Some(Value::String(name)) if !name.is_empty() => name,
        Some(_) => {
            return Err((
                format!("{at}/name"),
                "expected a header name as a string".to_owned(),
            ));
        }
        None => return Err((at.to_owned(), "missing `name`".to_owned())),
    };
    let value = match object.remove("value").map(fields::header_text) {
        Some(Some(value)) => value,
        Some(None) => {
            return Err((
                format!("{at}/value"),
                "expected a header value as a string".to_owned(),
            ));
        }
        None => return Err((at.to_owned(), "missing `value`".to_owned())),
    };
    Ok((name, value))
}

/// One exchange as a HAR 1.2 entry: started at `started`, answered after `elapsed`.
pub(crate) fn har_entry(
    exchange: &Exchange,
    started: chrono::DateTime<chrono::Utc>,
    elapsed: std::time::Duration,
) -> Value {
    let milliseconds = elapsed.as_secs_f64() * 1000.0;
    let request_text = body_text(&exchange.request.body);
    let response_text = body_text(&exchange.response.body);
    let query: Vec<Value> = url::Url::parse(&exchange.request.url)
        .map(|url| {
            url.query_pairs()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect()
        })
        .unwrap_or_default();
    let mut request = json!({
        "method": exchange.request.method,
        "url": exchange.request.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": har_headers(&exchange.request.headers),
        "queryString": query,
        "headersSize": -1,
        "bodySize": request_text.as_ref().map_or(0, String::len),
    });
    if let Some(text) = request_text {
        request["postData"] = json!({
            "mimeType": exchange.request.headers.get("content-type").unwrap_or(""),
            "text": text,
        });
    }
    let response_size = response_text.as_ref().map_or(0, String::len);
    let mut content = json!({
        "size": response_size,
        "mimeType": exchange.response.headers.get("content-type").unwrap_or(""),
    });
    if let Some(text) = response_text {
        content["text"] = Value::String(text);
    }
    json!({
        "startedDateTime": started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "time": milliseconds,
        "request": request,
        "response": {
            "status": exchange.response.status,
            "statusText": http::StatusCode::from_u16(exchange.response.status)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or(""),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": har_headers(&exchange.response.headers),
            "content": content,
            "redirectURL": exchange.response.headers.get("location").unwrap_or(""),
            "headersSize": -1,
            "bodySize": response_size,
        },
        "cache": {},
        "timings": { "send": 0, "wait": milliseconds, "receive": 0 },
    })
}

/// A HAR 1.2 document holding `entries`, made by `cliniko-conformance`.
pub(crate) fn har_document(entries: Vec<Value>) -> Value {
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "cliniko-conformance", "version": env!("CARGO_PKG_VERSION") },
            "entries": entries,
        }
    })
}

fn har_headers(headers: &Headers) -> Value {
    headers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

/// The body as the text that was sent; `None` for no body.
fn body_text(body: &Body) -> Option<String> {
    match body {
        Body::Empty => None,
        Body::Text(text) => Some(text.clone()),
        Body::Json(value) => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn har(entries: Value) -> Value {
        json!({ "log": { "version": "1.2", "creator": { "name": "t", "version": "1" }, "entries": entries } })
    }

    #[test]
    fn entries_map_to_exchanges_as_the_har_spec_says() {
        let body = base64::engine::general_purpose::STANDARD.encode(br#"{"id":"1"}"#);
        let exchanges = exchanges_from_har(
            har(json!([{
                "request": {
                    "method": "POST", "url": "https://api.au1.cliniko.com/v1/attendees?x=1",
                    "headers": [{ "name": "Accept", "value": "application/json" }],
                    "postData": { "mimeType": "application/json", "text": "{\"patient_id\":\"1\"}" }
                },
                "response": {
                    "status": 201,
                    "headers": [{ "name": "Content-Type", "value": "application/json" }, { "name": "Vary", "value": "a" }, { "name": "vary", "value": "b" }],
                    "content": { "size": 10, "mimeType": "application/json", "text": body, "encoding": "base64" }
                }
            }])),
            "one.har",
        )
        .expect("reads");
        let exchange = &exchanges[0];
        assert_eq!(exchange.request.method, "POST");
        assert_eq!(
            exchange.request.url,
            "https://api.au1.cliniko.com/v1/attendees?x=1"
        );
        assert_eq!(
            exchange.request.headers.get("accept"),
            Some("application/json")
        );
        // The recorded headers had no Content-Type: `postData.mimeType` stands in for it.
        assert_eq!(
            exchange.request.headers.get("content-type"),
            Some("application/json")
        );
        assert_eq!(
            exchange.request.body,
            Body::Text("{\"patient_id\":\"1\"}".to_owned())
        );
        assert_eq!(exchange.response.status, 201);
        assert_eq!(
            exchange
                .response
                .headers
                .iter()
                .filter(|(n, _)| *n == "vary")
                .count(),
            2
        );
        assert_eq!(
            exchange.response.body,
            Body::Text(r#"{"id":"1"}"#.to_owned())
        );
    }

    #[test]
    fn request_headers_left_out_are_not_recorded_and_a_form_is_its_text() {
        let exchanges = exchanges_from_har(
            har(json!([{
                "request": { "method": "POST", "url": "https://h.example/v1/attendees", "headers": [],
                             "postData": { "mimeType": "application/x-www-form-urlencoded", "params": [{ "name": "a b", "value": "c&d" }] } },
                "response": { "status": 204, "headers": [], "content": { "size": 0, "mimeType": "" } }
            }])),
            "form.har",
        )
        .expect("reads");
        assert!(!exchanges[0].request.headers.is_recorded());
        assert_eq!(
            exchanges[0].request.body,
            Body::Text("a+b=c%26d".to_owned())
        );
        assert!(exchanges[0].response.headers.is_recorded());
        assert_eq!(exchanges[0].response.body, Body::Empty);
    }

    #[test]
    fn problems_name_the_entry_the_pointer_and_what_was_expected() {
        let good = json!({ "request": { "method": "GET", "url": "https://h.example/v1/attendees" }, "response": { "status": 200 } });
        let cases = [
            (
                json!({ "entries": [] }),
                "bad.har: at /: not HAR 1.2: expected an object with `log`",
            ),
            (
                json!({ "log": {} }),
                "bad.har: at /log: not HAR 1.2: missing `entries`",
            ),
            (
                har(
                    json!([good, { "request": { "method": "GET", "url": "https://h.example/v1/attendees" }, "response": { "status": "200" } }]),
                ),
                "bad.har#entry-1: at /log/entries/1/response/status: not HAR 1.2: expected an HTTP status as a number",
            ),
            (
                har(
                    json!([{ "request": { "method": "GET", "url": "u", "headers": [{ "name": "a" }] }, "response": { "status": 200 } }]),
                ),
                "bad.har#entry-0: at /log/entries/0/request/headers/0: not HAR 1.2: missing `value`",
            ),
            (
                har(
                    json!([{ "request": { "method": "GET", "url": "u" }, "response": { "status": 0 } }]),
                ),
                "bad.har#entry-0: at /log/entries/0/response/status: not HAR 1.2: expected an HTTP status from 100 to 599, found 0 (the request got no answer; leave the entry out of the archive)",
            ),
            (
                har(
                    json!([{ "request": { "method": "GET", "url": "u" }, "response": { "status": 200, "content": { "size": 12, "mimeType": "application/json" } } }]),
                ),
                "bad.har#entry-0: at /log/entries/0/response/content/text: not HAR 1.2: expected the body as `text`: `size` says 12 bytes came, but the archive left them out (export it with content)",
            ),
            (
                har(
                    json!([{ "request": { "method": "GET", "url": "u" }, "response": { "status": 200, "content": { "size": 2, "text": "*!", "encoding": "base64" } } }]),
                ),
                "bad.har#entry-0: at /log/entries/0/response/content/text: not HAR 1.2: expected base64, as `encoding` says: Invalid symbol 42, offset 0.",
            ),
        ];
        for (document, expected) in cases {
            let error = exchanges_from_har(document, "bad.har").expect_err(expected);
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn an_entry_written_reads_back_the_same() {
        let mut request_headers = Headers::new();
        request_headers.append("accept", "application/json");
        request_headers.append("content-type", "application/json");
        let mut response_headers = Headers::new();
        response_headers.append("content-type", "application/json; charset=utf-8");
        let exchange = Exchange {
            request: RecordedRequest {
                method: "PATCH".to_owned(),
                url: "http://127.0.0.1:9/v1/attendees/1/cancel?x=a%20b".to_owned(),
                headers: request_headers,
                body: Body::Json(json!({ "cancellation_reason": 10 })),
            },
            response: RecordedResponse {
                status: 422,
                headers: response_headers,
                body: Body::Text("{\"errors\":{}}".to_owned()),
            },
        };
        let started = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("a time");
        let entry = har_entry(&exchange, started, std::time::Duration::from_millis(5));
        assert_eq!(entry["startedDateTime"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            entry["request"]["queryString"],
            json!([{ "name": "x", "value": "a b" }])
        );
        assert_eq!(entry["response"]["statusText"], "Unprocessable Entity");
        let back = exchanges_from_har(har_document(vec![entry]), "back.har").expect("reads back");
        assert_eq!(
            back[0].request.body,
            Body::Text("{\"cancellation_reason\":10}".to_owned())
        );
        assert_eq!(back[0].request.headers, exchange.request.headers);
        assert_eq!(back[0].response, exchange.response);
    }
}
