//! The fields every reader of exchanges takes from a request and a response, recordings and HAR
//! entries alike: the two halves, the method, the URL, the status and the header values, each
//! refused with the JSON pointer and what was expected when it is missing or malformed. The
//! readers differ only where their formats do (headers as an object or a `[{name, value}]` list,
//! a body as a value or `postData`/`content`).

use serde_json::{Map, Value};

/// A shape problem: the JSON pointer and what was expected there.
pub(crate) type Problem = (String, String);

/// A JSON object: a request or a response.
pub(crate) type Object = Map<String, Value>;

/// The `request` and `response` objects of `value`, an exchange (`what` names it in the message:
/// "an object", "an entry object").
pub(crate) fn halves(value: Value, at: &str, what: &str) -> Result<(Object, Object), Problem> {
    let Value::Object(mut object) = value else {
        return Err((
            slash(at),
            format!("expected {what} with `request` and `response`"),
        ));
    };
    let mut half = |key: &str| match object.remove(key) {
        Some(Value::Object(half)) => Ok(half),
        Some(_) => Err((format!("{at}/{key}"), "expected an object".to_owned())),
        None => Err((slash(at), format!("missing `{key}`"))),
    };
    let request = half("request")?;
    let response = half("response")?;
    Ok((request, response))
}

/// The request's `method`, a non-empty string.
pub(crate) fn method(request: &mut Object, at: &str) -> Result<String, Problem> {
    match request.remove("method") {
        Some(Value::String(method)) if !method.is_empty() => Ok(method),
        Some(_) => Err((
            format!("{at}/method"),
            "expected an HTTP method as a string".to_owned(),
        )),
        None => Err((at.to_owned(), "missing `method`".to_owned())),
    }
}

/// What a reader takes as the request's `url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Url {
    /// An absolute URL or a path (a recording).
    UrlOrPath,
    /// The absolute URL, not empty (HAR 1.2).
    Absolute,
}

/// The request's `url`.
pub(crate) fn url(request: &mut Object, at: &str, kind: Url) -> Result<String, Problem> {
    match request.remove("url") {
        Some(Value::String(url)) if kind == Url::UrlOrPath || !url.is_empty() => Ok(url),
        Some(_) => Err((
            format!("{at}/url"),
            match kind {
                Url::UrlOrPath => "expected a URL or a path as a string",
                Url::Absolute => "expected the absolute URL as a string",
            }
            .to_owned(),
        )),
        None => Err((at.to_owned(), "missing `url`".to_owned())),
    }
}

/// The response's `status`, from 100 to 599. `no_answer` is what a reader adds to the message for
/// a status of 0 (what a browser records for a request that got no answer).
pub(crate) fn status(
    response: &mut Object,
    at: &str,
    no_answer: Option<&str>,
) -> Result<u16, Problem> {
    match response.remove("status") {
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|status| (100..=599).contains(status))
            .and_then(|status| u16::try_from(status).ok())
            .ok_or_else(|| {
                let hint = match (n.as_u64(), no_answer) {
                    (Some(0), Some(hint)) => format!(" ({hint})"),
                    _ => String::new(),
                };
                (
                    format!("{at}/status"),
                    format!("expected an HTTP status from 100 to 599, found {n}{hint}"),
                )
            }),
        Some(_) => Err((
            format!("{at}/status"),
            "expected an HTTP status as a number".to_owned(),
        )),
        None => Err((at.to_owned(), "missing `status`".to_owned())),
    }
}

/// A header value; numbers and booleans are accepted as their text, since hand-written recordings
/// often hold `"x-ratelimit-reset": 1700000060`.
pub(crate) fn header_text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `at`, or `/` for the whole document.
pub(crate) fn slash(at: &str) -> String {
    if at.is_empty() {
        "/".to_owned()
    } else {
        at.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Object {
        match value {
            Value::Object(object) => object,
            _ => Object::new(),
        }
    }

    #[test]
    fn each_field_is_refused_with_its_pointer_and_what_was_expected() {
        assert_eq!(
            halves(json!([]), "", "an object"),
            Err((
                "/".to_owned(),
                "expected an object with `request` and `response`".to_owned()
            ))
        );
        assert_eq!(
            halves(
                json!({ "request": {} }),
                "/log/entries/2",
                "an entry object"
            ),
            Err(("/log/entries/2".to_owned(), "missing `response`".to_owned()))
        );
        assert_eq!(
            method(&mut object(json!({ "method": "" })), "/request"),
            Err((
                "/request/method".to_owned(),
                "expected an HTTP method as a string".to_owned()
            ))
        );
        assert_eq!(
            url(
                &mut object(json!({ "url": "" })),
                "/request",
                Url::UrlOrPath
            ),
            Ok(String::new())
        );
        assert_eq!(
            url(&mut object(json!({ "url": "" })), "/r", Url::Absolute),
            Err((
                "/r/url".to_owned(),
                "expected the absolute URL as a string".to_owned()
            ))
        );
        assert_eq!(
            status(&mut object(json!({ "status": 204 })), "", None),
            Ok(204)
        );
        assert_eq!(
            status(&mut object(json!({ "status": 0 })), "/r", Some("no answer")),
            Err((
                "/r/status".to_owned(),
                "expected an HTTP status from 100 to 599, found 0 (no answer)".to_owned()
            ))
        );
        assert_eq!(
            status(
                &mut object(json!({ "status": 600 })),
                "/r",
                Some("no answer")
            ),
            Err((
                "/r/status".to_owned(),
                "expected an HTTP status from 100 to 599, found 600".to_owned()
            ))
        );
        assert_eq!(header_text(json!(17)), Some("17".to_owned()));
        assert_eq!(header_text(json!(null)), None);
    }
}
