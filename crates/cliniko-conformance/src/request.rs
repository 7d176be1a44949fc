//! Request checks: path and query parameters, the headers every call needs, and request bodies,
//! each rule read from the spec's parameters, request bodies and response media types.
//!
//! Nothing here knows a Cliniko fact by heart: `per_page` is bounded because its parameter schema
//! says `maximum: 100`, a filter is refused because it fails the `q[]` parameter's pattern, and
//! `Accept` must name a media type the operation documents for its responses.

use std::sync::Arc;

use cliniko_spec::SchemaValidator;
use serde_json::Value;

use crate::compile::{Compiler, is_json, media_type};
use crate::recording::{Body, Headers, RecordedRequest};
use crate::violation::{RequestPart, Violation};

/// What the spec says a request to one operation must look like.
#[derive(Debug, Default)]
pub(crate) struct RequestSpec {
    parameters: Vec<ParameterSpec>,
    body: Option<BodySpec>,
    /// Every media type the operation documents for a response, which `Accept` must admit.
    answers: Vec<String>,
}

#[derive(Debug)]
struct ParameterSpec {
    name: String,
    location: Location,
    required: bool,
    validator: Option<Arc<SchemaValidator>>,
    kind: TextKind,
    /// The parameter's `example`, shown when a value fails its pattern.
    example: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Path,
    Query,
    Header,
}

/// How a parameter's text becomes the JSON value its schema is applied to.
#[derive(Debug, Clone, Copy)]
enum TextKind {
    Integer,
    Number,
    Boolean,
    Text,
    /// An exploded array (`q[]=a&q[]=b`), items read as the inner kind.
    Array(ItemKind),
}

/// How a parameter's or header's text is read before its schema is applied.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ItemKind {
    Integer,
    Number,
    Boolean,
    Text,
}

#[derive(Debug)]
struct BodySpec {
    required: bool,
    content: Vec<(String, Option<Arc<SchemaValidator>>)>,
}

impl RequestSpec {
    /// Reads the request rules of the operation at `pointer` (`/paths/~1attendees/get`).
    pub(crate) fn compile(
        compiler: &mut Compiler<'_>,
        item_pointer: &str,
        item: &Value,
        pointer: &str,
        operation: &Value,
        answers: Vec<String>,
    ) -> Result<Self, crate::CheckerError> {
        let mut parameters: Vec<ParameterSpec> = Vec::new();
        // Path-item parameters first; an operation's parameter of the same name and place
        // replaces one of the path item's.
        for (at, list) in [
            (format!("{item_pointer}/parameters"), item.get("parameters")),
            (format!("{pointer}/parameters"), operation.get("parameters")),
        ] {
            for (index, parameter) in list
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let (at, parameter) = compiler.resolve(&format!("{at}/{index}"), parameter)?;
                let Some(name) = parameter.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let location = match parameter.get("in").and_then(Value::as_str) {
                    Some("path") => Location::Path,
                    Some("query") => Location::Query,
                    Some("header") => Location::Header,
                    // Cookie parameters are not checked: recordings rarely keep cookies.
                    _ => continue,
                };
                // OpenAPI ignores header parameters named Accept, Content-Type or Authorization;
                // those are checked from the media types instead.
                if location == Location::Header
                    && ["accept", "content-type", "authorization"]
                        .contains(&name.to_ascii_lowercase().as_str())
                {
                    continue;
                }
                let validator = match parameter.get("schema") {
                    Some(schema) => {
                        Some(compiler.validator(&format!("{at}/schema"), schema, false)?)
                    }
                    None => None,
                };
                let kind = validator
                    .as_deref()
                    .map_or(TextKind::Text, |v| text_kind(v.json_schema()));
                let spec = ParameterSpec {
                    name: name.to_owned(),
                    location,
                    required: location == Location::Path
                        || parameter.get("required").and_then(Value::as_bool) == Some(true),
                    validator,
                    kind,
                    example: match parameter.get("example") {
                        Some(Value::String(text)) => Some(text.clone()),
                        Some(Value::Array(items)) => {
                            items.first().and_then(Value::as_str).map(str::to_owned)
                        }
                        _ => None,
                    },
                };
                match parameters.iter_mut().find(|p| {
                    p.location == location
                        && (p.name == spec.name
                            || (location == Location::Header
                                && p.name.eq_ignore_ascii_case(&spec.name)))
                }) {
                    Some(existing) => *existing = spec,
                    None => parameters.push(spec),
                }
            }
        }

        let body = match operation.get("requestBody") {
            None => None,
            Some(body) => {
                let (at, body) = compiler.resolve(&format!("{pointer}/requestBody"), body)?;
                let mut content = Vec::new();
                for (media_type, media) in body
                    .get("content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let schema_at = format!(
                        "{at}/content/{}/schema",
                        cliniko_spec::pointer::escape(media_type)
                    );
                    let strict = compiler.strict();
                    let validator = match media.get("schema") {
                        Some(schema) => Some(compiler.validator(&schema_at, schema, strict)?),
                        None => None,
                    };
                    content.push((media_type.to_ascii_lowercase(), validator));
                }
                Some(BodySpec {
                    required: body.get("required").and_then(Value::as_bool) == Some(true),
                    content,
                })
            }
        };
        Ok(Self {
            parameters,
            body,
            answers,
        })
    }

    /// Every way `request` breaks the rules; `path_values` are the path parameters by name.
    pub(crate) fn check(
        &self,
        request: &RecordedRequest,
        path_values: &[(&str, &str)],
        out: &mut Vec<Violation>,
    ) {
        let query = query_of(&request.url);
        for parameter in &self.parameters {
            match parameter.location {
                Location::Path => {
                    if let Some((_, value)) = path_values.iter().find(|(n, _)| *n == parameter.name)
                    {
                        let text = percent_decode(value);
                        parameter.check_text(&text, "path", out);
                    }
                }
                Location::Query => self.check_query(parameter, &query, out),
                Location::Header => {
                    if !request.headers.is_recorded() {
                        continue;
                    }
                    match request.headers.get(&parameter.name) {
                        Some(value) => parameter.check_text(value, "header", out),
                        None if parameter.required => out.push(Violation::Request {
                            part: RequestPart::Header,
                            pointer: format!("/header/{}", parameter.name),
                            message: "this required header is missing".to_owned(),
                        }),
                        None => {}
                    }
                }
            }
        }
        if request.headers.is_recorded() {
            self.check_accept(&request.headers, out);
        }
        self.check_body(request, out);
    }

    fn check_query(
        &self,
        parameter: &ParameterSpec,
        query: &[(String, String)],
        out: &mut Vec<Violation>,
    ) {
        let values: Vec<&str> = query
            .iter()
            .filter(|(name, _)| *name == parameter.name)
            .map(|(_, value)| value.as_str())
            .collect();
        if values.is_empty() {
            if parameter.required {
                out.push(Violation::Request {
                    part: RequestPart::Parameter,
                    pointer: format!("/query/{}", escape(&parameter.name)),
                    message: "this required parameter is missing".to_owned(),
                });
            }
            return;
        }
        if let TextKind::Array(item) = parameter.kind {
            let array = Value::Array(values.iter().map(|v| item.value(v)).collect());
            parameter.check_value(&array, "query", out);
            return;
        }
        if values.len() > 1 {
            out.push(Violation::Request {
                part: RequestPart::Parameter,
                pointer: format!("/query/{}", escape(&parameter.name)),
                message: format!("sent {} times; the parameter takes one value", values.len()),
            });
        }
        parameter.check_text(values[0], "query", out);
    }

    fn check_accept(&self, headers: &Headers, out: &mut Vec<Violation>) {
        if self.answers.is_empty() {
            return;
        }
        let expected = self.answers.join(" or ");
        let Some(accept) = headers.get("accept") else {
            out.push(Violation::Request {
                part: RequestPart::Header,
                pointer: "/header/Accept".to_owned(),
                message: format!("missing; the operation answers {expected}"),
            });
            return;
        };
        let admits = accept
            .split(',')
            .filter_map(|range| range.trim().parse::<mime::Mime>().ok())
            .any(|range| {
                self.answers.iter().any(|answer| {
                    answer.parse::<mime::Mime>().is_ok_and(|answer| {
                        (range.type_() == mime::STAR || range.type_() == answer.type_())
                            && (range.subtype() == mime::STAR
                                || range.subtype() == answer.subtype())
                    })
                })
            });
        if !admits {
            out.push(Violation::Request {
                part: RequestPart::Header,
                pointer: "/header/Accept".to_owned(),
                message: format!(
                    "{accept:?} admits none of the media types the operation answers ({expected})"
                ),
            });
        }
    }

    fn check_body(&self, request: &RecordedRequest, out: &mut Vec<Violation>) {
        let problem = |pointer: &str, message: String| Violation::Request {
            part: RequestPart::Body,
            pointer: pointer.to_owned(),
            message,
        };
        let Some(spec) = &self.body else {
            if !request.body.is_empty() {
                out.push(problem(
                    "/body",
                    "the operation takes no request body, but one was sent".to_owned(),
                ));
            }
            return;
        };
        if request.body.is_empty() {
            // A recording that left out the request's headers is partial, and an absent body
            // there says nothing; with headers recorded, no body means none was sent.
            if spec.required && request.headers.is_recorded() {
                out.push(problem(
                    "/body",
                    "the operation requires a request body, and none was sent".to_owned(),
                ));
            }
            return;
        }
        let documented = || {
            spec.content
                .iter()
                .map(|(media, _)| media.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let found = request.headers.get("content-type").map(media_type);
        let media = if request.headers.is_recorded() {
            let Some(found) = found else {
                out.push(Violation::Request {
                    part: RequestPart::Header,
                    pointer: "/header/Content-Type".to_owned(),
                    message: format!(
                        "missing on a request with a body (expected {})",
                        documented()
                    ),
                });
                return;
            };
            match spec.content.iter().find(|(media, _)| *media == found) {
                Some(media) => media,
                None => {
                    out.push(Violation::Request {
                        part: RequestPart::Header,
                        pointer: "/header/Content-Type".to_owned(),
                        message: format!(
                            "`{found}` is not documented for this request body (expected {})",
                            documented()
                        ),
                    });
                    return;
                }
            }
        } else {
            // Without headers, the body is read as the first JSON media type the spec documents.
            match spec.content.iter().find(|(media, _)| is_json(media)) {
                Some(media) => media,
                None => return,
            }
        };
        let (media_type, Some(validator)) = media else {
            return;
        };
        if !is_json(media_type) {
            return;
        }
        let parsed;
        let body = match &request.body {
            Body::Json(value) => value,
            Body::Text(text) => match crate::recording::parse_json(text) {
                Ok(value) => {
                    parsed = value;
                    &parsed
                }
                Err(error) => {
                    out.push(problem(
                        "/body",
                        format!(
                            "not JSON: {} at line {} column {}",
                            crate::recording::parser_message(&error),
                            error.line(),
                            error.column()
                        ),
                    ));
                    return;
                }
            },
            Body::Empty => return,
        };
        for violation in validator.violations(body) {
            let pointer = match required_property(&violation.message) {
                Some(name) => cliniko_spec::pointer::push(&violation.pointer, &name),
                None => violation.pointer,
            };
            out.push(problem(&format!("/body{pointer}"), violation.message));
        }
    }
}

impl ParameterSpec {
    fn check_text(&self, text: &str, place: &str, out: &mut Vec<Violation>) {
        let value = match self.kind {
            TextKind::Integer => ItemKind::Integer.value(text),
            TextKind::Number => ItemKind::Number.value(text),
            TextKind::Boolean => ItemKind::Boolean.value(text),
            TextKind::Text | TextKind::Array(_) => Value::String(text.to_owned()),
        };
        self.check_value(&value, place, out);
    }

    fn check_value(&self, value: &Value, place: &str, out: &mut Vec<Violation>) {
        let Some(validator) = &self.validator else {
            return;
        };
        let part = if self.location == Location::Header {
            RequestPart::Header
        } else {
            RequestPart::Parameter
        };
        for violation in validator.violations(value) {
            let message = match violation.message.find(" does not match ") {
                // The pattern itself can be hundreds of characters (the `q[]` filters); name
                // where it comes from instead of printing it.
                Some(at) => format!(
                    "{} does not match the pattern of the `{}` parameter in the spec{}",
                    &violation.message[..at],
                    self.name,
                    self.example
                        .as_deref()
                        .map(|example| format!(" (such as {example:?})"))
                        .unwrap_or_default()
                ),
                None => violation.message,
            };
            out.push(Violation::Request {
                part,
                pointer: format!("/{place}/{}{}", escape(&self.name), violation.pointer),
                message,
            });
        }
    }
}

impl ItemKind {
    /// The kind a schema's `type` gives its text (`integer`, `number`, `boolean`, else text).
    pub(crate) fn of(schema: &Value) -> Self {
        match schema.get("type").and_then(Value::as_str) {
            Some("integer") => Self::Integer,
            Some("number") => Self::Number,
            Some("boolean") => Self::Boolean,
            _ => Self::Text,
        }
    }

    /// The text as the JSON value of this kind, or `None` when it does not read as one.
    pub(crate) fn parse(self, text: &str) -> Option<Value> {
        match self {
            Self::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.parse::<u64>().map(Value::from))
                .ok(),
            Self::Number => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            Self::Boolean => text.parse::<bool>().ok().map(Value::Bool),
            Self::Text => Some(Value::String(text.to_owned())),
        }
    }

    /// The text as the JSON value the schema expects; text that does not parse stays a string,
    /// so that the schema reports the wrong type.
    fn value(self, text: &str) -> Value {
        self.parse(text)
            .unwrap_or_else(|| Value::String(text.to_owned()))
    }
}

fn text_kind(schema: &Value) -> TextKind {
    let item = ItemKind::of;
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => TextKind::Array(schema.get("items").map_or(ItemKind::Text, item)),
        _ => match item(schema) {
            ItemKind::Integer => TextKind::Integer,
            ItemKind::Number => TextKind::Number,
            ItemKind::Boolean => TextKind::Boolean,
            ItemKind::Text => TextKind::Text,
        },
    }
}

/// The decoded `name=value` pairs of a URL's query string.
fn query_of(url: &str) -> Vec<(String, String)> {
    let Some((_, rest)) = url.split_once('?') else {
        return Vec::new();
    };
    let query = rest.split('#').next().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("v={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map_or_else(|| segment.to_owned(), |(_, value)| value.into_owned())
}

fn escape(name: &str) -> String {
    cliniko_spec::pointer::escape(name)
}

/// The property a `required` error names: jsonschema says `"patient_id" is a required property`.
fn required_property(message: &str) -> Option<String> {
    let quoted = message.strip_suffix(" is a required property")?;
    serde_json::from_str::<String>(quoted).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded_and_repeated_names_kept() {
        assert_eq!(
            query_of(
                "/v1/attendees?q%5B%5D=id:%3D1&q[]=updated_at:%3E2024-01-01T00:00:00Z&page=2#x"
            ),
            vec![
                ("q[]".to_owned(), "id:=1".to_owned()),
                (
                    "q[]".to_owned(),
                    "updated_at:>2024-01-01T00:00:00Z".to_owned()
                ),
                ("page".to_owned(), "2".to_owned()),
            ]
        );
        assert!(query_of("/v1/attendees").is_empty());
    }

    #[test]
    fn required_errors_name_their_property() {
        assert_eq!(
            required_property("\"patient_id\" is a required property").as_deref(),
            Some("patient_id")
        );
        assert_eq!(required_property("1 is not of type \"string\""), None);
    }
}
