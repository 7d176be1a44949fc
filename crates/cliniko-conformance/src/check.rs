//! The checker: a spec compiled once into per-operation, per-status expectations, applied to
//! exchanges.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use cliniko_spec::dom::Dom;
use cliniko_spec::{METHODS, SchemaValidator, Spec};
use serde_json::Value;

use crate::compile::{CheckOptions, CheckerError, Compiler, is_json, media_type};
use crate::recording::{Body, Exchange, RecordedResponse, RecordingError};
use crate::request::{ItemKind, RequestSpec};
use crate::round_trip::TypedSchema;
use crate::violation::Violation;

/// What the checker concluded about one exchange.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// The request method, in upper case.
    pub method: String,
    /// The request path after the server's base path, without the query string.
    pub path: String,
    /// The `operationId` the request matched, if any.
    pub operation: Option<String>,
    /// The response status.
    pub status: u16,
    /// Every violation found; empty when the exchange conforms.
    pub violations: Vec<Violation>,
    /// What is wrong with a request that the server rejected (a documented 4xx, or another
    /// error): the expected answer to an invalid request, so notes rather than violations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Violation>,
    /// The response key the status matched (`200`, `5XX`, `default`), for coverage.
    #[serde(skip)]
    pub(crate) documented_status: Option<String>,
    /// The documented response fields (indexes into the operation's
    /// [`DocumentedOperation::fields`]) that were non-null in this body, for coverage.
    #[serde(skip)]
    pub(crate) fields_seen: Vec<u16>,
}

/// What the spec documents for one operation, which coverage is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentedOperation {
    /// The `operationId`.
    pub operation: String,
    /// The response keys (`200`, `404`, `5XX`).
    pub statuses: Vec<String>,
    /// The fields of the success response, as paths (`/attendees/*/cancellation_url`).
    pub fields: Vec<String>,
}

impl Verdict {
    /// Whether the exchange conforms to the spec.
    pub fn conforms(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A spec compiled for checking exchanges.
///
/// Building one compiles every response schema once; checking an exchange then costs one walk
/// over its body (plus the typed round trip, when enabled).
#[derive(Debug)]
pub struct Checker {
    server_path: String,
    operations: Vec<Operation>,
    options: CheckOptions,
}

#[derive(Debug)]
struct Operation {
    id: String,
    method: String,
    segments: Vec<Segment>,
    literals: usize,
    responses: Vec<(String, ResponseSpec)>,
    request: RequestSpec,
    /// The success response's field paths, as tokens (`*` for an array's items).
    fields: Vec<Vec<String>>,
    /// The same paths as steps to walk a body by, read once here so that finding the fields a
    /// body holds costs no string work per exchange.
    field_steps: Vec<Vec<FieldStep>>,
}

/// One step of a field path: into every item of an array, or into an object's property (its
/// name unescaped).
#[derive(Debug)]
enum FieldStep {
    Items,
    Property(String),
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Parameter(String),
}

#[derive(Debug)]
struct ResponseSpec {
    headers: Vec<HeaderSpec>,
    content: Vec<MediaSpec>,
}

#[derive(Debug)]
struct HeaderSpec {
    name: String,
    required: bool,
    schema: Option<(Arc<SchemaValidator>, ItemKind)>,
}

#[derive(Debug)]
struct MediaSpec {
    media_type: String,
    schema: Option<Arc<SchemaValidator>>,
    typed: Option<TypedSchema>,
}

impl Checker {
    /// Compiles `spec` for checking.
    pub fn new(spec: &Spec, options: CheckOptions) -> Result<Self, CheckerError> {
        let mut compiler = Compiler {
            spec,
            options,
            cache: HashMap::new(),
        };
        let raw = spec.raw();
        let server_path = raw
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .map(url_path)
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        let mut operations = Vec::new();
        for (template, item) in raw
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let segments: Vec<Segment> = split_path(template)
                .map(|segment| {
                    if segment.starts_with('{') && segment.ends_with('}') {
                        Segment::Parameter(segment[1..segment.len() - 1].to_owned())
                    } else {
                        Segment::Literal(segment.to_owned())
                    }
                })
                .collect();
            let literals = segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            let item_pointer = format!("/paths/{}", cliniko_spec::pointer::escape(template));
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let pointer = format!("{item_pointer}/{method}");
                let mut responses = Vec::new();
                for (status, response) in operation
                    .get("responses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let at = format!(
                        "{pointer}/responses/{}",
                        cliniko_spec::pointer::escape(status)
                    );
                    responses.push((status.clone(), compiler.response(&at, response)?));
                }
                let mut answers: Vec<String> = Vec::new();
                for (_, response) in &responses {
                    for media in &response.content {
                        if !answers.contains(&media.media_type) {
                            answers.push(media.media_type.clone());
                        }
                    }
                }
                let fields = responses
                    .iter()
                    .filter(|(status, _)| status.starts_with('2'))
                    .flat_map(|(_, response)| &response.content)
                    .filter_map(|media| media.schema.as_deref())
                    .map(|validator| {
                        let mut fields = Vec::new();
                        field_paths(validator.json_schema(), &mut Vec::new(), &mut fields);
                        fields
                    })
                    .next()
                    .unwrap_or_default();
                let request = RequestSpec::compile(
                    &mut compiler,
                    &item_pointer,
                    item,
                    &pointer,
                    operation,
                    answers,
                )?;
                operations.push(Operation {
                    id: operation
                        .get("operationId")
                        .and_then(Value::as_str)
                        .map_or_else(
                            || format!("{} {template}", method.to_uppercase()),
                            str::to_owned,
                        ),
                    method: method.to_uppercase(),
                    segments: segments.clone(),
                    literals,
                    responses,
                    request,
                    field_steps: fields
                        .iter()
                        .map(|tokens| {
                            tokens
                                .iter()
                                .map(|token| match token.as_str() {
                                    "*" => FieldStep::Items,
                                    name => FieldStep::Property(
                                        name.replace("~1", "/").replace("~0", "~"),
                                    ),
                                })
                                .collect()
                        })
                        .collect(),
                    fields,
                });
            }
        }
        Ok(Self {
            server_path,
            operations,
            options,
        })
    }

    /// What each operation documents, which coverage is counted against.
    pub fn documented(&self) -> Vec<DocumentedOperation> {
        self.operations
            .iter()
            .map(|op| DocumentedOperation {
                operation: op.id.clone(),
                statuses: op.responses.iter().map(|(key, _)| key.clone()).collect(),
                fields: op
                    .fields
                    .iter()
                    .map(|tokens| format!("/{}", tokens.join("/")))
                    .collect(),
            })
            .collect()
    }

    /// The options this checker was built with.
    pub fn options(&self) -> CheckOptions {
        self.options
    }

    /// The path a request URL names, after the server's base path and without the query string.
    pub fn operation_path<'u>(&self, url: &'u str) -> &'u str {
        let path = url_path(url);
        let path = path.split(['?', '#']).next().unwrap_or("");
        match path.strip_prefix(self.server_path.as_str()) {
            Some(rest)
                if !self.server_path.is_empty() && (rest.is_empty() || rest.starts_with('/')) =>
            {
                rest
            }
            _ => path,
        }
    }

    /// The `operationId` of the operation a method and URL name, if any.
    pub fn operation_id(&self, method: &str, url: &str) -> Option<&str> {
        self.find(method, self.operation_path(url))
            .map(|op| op.id.as_str())
    }

    /// Checks one exchange.
    ///
    /// A body held as text (a HAR entry, a raw body, an answer through the proxy) is read once
    /// into a zero-copy DOM ([`cliniko_spec::dom`]) and checked where it lies; see
    /// [`Checker::check_recording`].
    pub fn check(&self, exchange: &Exchange) -> Verdict {
        match &exchange.response.body {
            Body::Text(text) => cliniko_spec::dom::read(text.as_bytes(), |dom| {
                self.check_with(
                    exchange,
                    ResponseBody::new(&exchange.response.body, dom, false),
                )
            }),
            body => self.check_with(exchange, ResponseBody::new(body, None, false)),
        }
    }

    /// Reads a recording file's text and checks its exchanges, as [`crate::parse_recording`] and
    /// [`Checker::check`] would, with the same verdicts and the same errors; `file` names it in
    /// errors.
    ///
    /// The file is read once, by simd-json, into a zero-copy DOM; each JSON body is validated and
    /// round-tripped where it lies in it, and no `serde_json::Value` is built for it unless it
    /// fails (the errors are then collected from one, as before). A file that the DOM cannot hold
    /// exactly as serde_json reads it (see [`cliniko_spec::dom`]), and a HAR archive, are read by
    /// [`crate::parse_recording`] instead.
    pub fn check_recording(
        &self,
        bytes: &[u8],
        file: &str,
    ) -> Result<Vec<Verdict>, RecordingError> {
        if crate::recording::is_har_name(file) {
            return self.check_parsed(bytes, file);
        }
        cliniko_spec::dom::read(bytes, |dom| {
            let Some(dom) = dom else {
                return self.check_parsed(bytes, file);
            };
            let mut bodies = Vec::new();
            let envelope = envelope(dom, &mut bodies);
            if crate::har::looks_like_har(&envelope) {
                return self.check_parsed(bytes, file);
            }
            let exchanges = crate::recording::recording_from_value(envelope, file)?;
            Ok(exchanges
                .iter()
                .enumerate()
                .map(
                    |(index, exchange)| match bodies.iter().find(|(at, _)| *at == index) {
                        Some((_, body)) => self.check_with(
                            exchange,
                            ResponseBody::new(&exchange.response.body, Some(*body), true),
                        ),
                        None => self.check(exchange),
                    },
                )
                .collect())
        })
    }

    /// Checks an exchange whose response body is `bytes`, as received (`exchange`'s own response
    /// body is not read): the verdict [`Checker::check`] gives the exchange with the body a
    /// recording of it holds (JSON as its value, anything else as text), with the body read
    /// once into a zero-copy DOM rather than into a `serde_json::Value`.
    pub fn check_received(&self, exchange: &Exchange, bytes: &[u8]) -> Verdict {
        if bytes.is_empty() {
            return self.check_with(exchange, ResponseBody::new(&Body::Empty, None, false));
        }
        cliniko_spec::dom::read(bytes, |dom| match dom {
            Some(dom) if dom.as_str().is_none() => {
                self.check_with(exchange, ResponseBody::new(&Body::Empty, Some(dom), true))
            }
            _ => {
                let body = match std::str::from_utf8(bytes).map(crate::recording::parse_json) {
                    Ok(Ok(value)) if !value.is_string() => Body::Json(value),
                    _ => Body::Text(String::from_utf8_lossy(bytes).into_owned()),
                };
                self.check_with(exchange, ResponseBody::new(&body, None, false))
            }
        })
    }

    fn check_parsed(&self, bytes: &[u8], file: &str) -> Result<Vec<Verdict>, RecordingError> {
        Ok(crate::recording::parse_recording(bytes, file)?
            .iter()
            .map(|exchange| self.check(exchange))
            .collect())
    }

    fn check_with(&self, exchange: &Exchange, body: ResponseBody<'_>) -> Verdict {
        let method = exchange.request.method.to_ascii_uppercase();
        let path = self.operation_path(&exchange.request.url).to_owned();
        let status = exchange.response.status;
        let mut verdict = Verdict {
            method,
            path,
            operation: None,
            status,
            violations: Vec::new(),
            notes: Vec::new(),
            documented_status: None,
            fields_seen: Vec::new(),
        };
        let Some(operation) = self.find(&verdict.method, &verdict.path) else {
            verdict.violations.push(Violation::UnknownOperation {
                method: verdict.method.clone(),
                path: verdict.path.clone(),
            });
            return verdict;
        };
        verdict.operation = Some(operation.id.clone());

        // Requests are checked as schemathesis' negative-data checks read them: an invalid
        // request that is refused is the expected answer (a note); one that succeeds means the
        // server and the spec disagree on what is valid.
        let mut problems = Vec::new();
        operation.request.check(
            &exchange.request,
            &operation.path_values(&verdict.path),
            &mut problems,
        );
        if !problems.is_empty() {
            if (200..300).contains(&status) {
                verdict.violations.push(Violation::AcceptedInvalidRequest {
                    status,
                    problems: problems.len(),
                });
                verdict.violations.append(&mut problems);
            } else {
                verdict.notes = problems;
            }
        }

        match operation.response_entry(status) {
            Some((key, response)) => {
                verdict.documented_status = Some(key.clone());
                // One reading of the body serves coverage and the checks alike, whether the
                // recording held it as JSON or as text (a HAR entry, a raw body, the proxy).
                if (200..300).contains(&status)
                    && let Some(Ok(value)) = body.get()
                {
                    verdict.fields_seen = match value {
                        Json::Value(value) => operation.fields_seen(value),
                        Json::Dom(dom) => operation.fields_seen_dom(dom),
                    };
                }
                self.check_response(response, &exchange.response, &body, &mut verdict.violations)
            }
            None => verdict.violations.push(Violation::UndocumentedStatus {
                operation: operation.id.clone(),
                status,
                documented: operation
                    .responses
                    .iter()
                    .map(|(key, _)| key.clone())
                    .collect(),
            }),
        }
        verdict
    }

    fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let segments: Vec<&str> = split_path(path).collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method) && op.matches(&segments))
            .max_by_key(|op| op.literals)
    }

    fn check_response(
        &self,
        spec: &ResponseSpec,
        response: &RecordedResponse,
        body: &ResponseBody<'_>,
        out: &mut Vec<Violation>,
    ) {
        for header in &spec.headers {
            match response.headers.get(&header.name) {
                None if header.required => out.push(Violation::MissingHeader {
                    header: header.name.clone(),
                }),
                None => {}
                Some(value) => {
                    if let Some((validator, kind)) = &header.schema
                        && let Some(message) = header_problem(validator, *kind, value)
                    {
                        out.push(Violation::HeaderSchema {
                            header: header.name.clone(),
                            value: value.to_owned(),
                            message,
                        });
                    }
                }
            }
        }

        if spec.content.is_empty() {
            if let Some(length) = body.length() {
                out.push(Violation::UnexpectedBody {
                    status: response.status,
                    length,
                });
            }
            return;
        }
        if body.is_empty() {
            if spec.content.iter().any(|media| is_json(&media.media_type)) {
                out.push(Violation::BodyNotJson {
                    message: "the body is empty".to_owned(),
                });
            }
            return;
        }
        let found = response.headers.get("content-type").map(media_type);
        let Some(media) = found
            .as_deref()
            .and_then(|found| spec.content.iter().find(|m| m.media_type == found))
        else {
            out.push(Violation::ContentType {
                found,
                expected: spec.content.iter().map(|m| m.media_type.clone()).collect(),
            });
            return;
        };
        if is_json(&media.media_type) {
            let body = match body.get() {
                Some(Ok(value)) => value,
                Some(Err(error)) => {
                    out.push(Violation::BodyNotJson {
                        message: format!(
                            "{} at line {} column {}",
                            crate::recording::parser_message(error),
                            error.line(),
                            error.column()
                        ),
                    });
                    return;
                }
                None => return,
            };
            self.check_body(media, body, out);
        } else if let Some(validator) = &media.schema {
            let text = match (body.dom_value(), body.body) {
                (Some(value), _) => Value::String(value.to_string()),
                (None, Body::Text(text)) => Value::String(text.clone()),
                (None, Body::Json(value)) => Value::String(value.to_string()),
                (None, Body::Empty) => return,
            };
            out.extend(
                validator
                    .violations(&text)
                    .into_iter()
                    .map(schema_violation),
            );
        }
    }

    fn check_body(&self, media: &MediaSpec, body: Json<'_>, out: &mut Vec<Violation>) {
        let Some(validator) = &media.schema else {
            return;
        };
        let body = match body {
            Json::Value(value) => value,
            Json::Dom(dom) => {
                // The fast path: a body that passes and comes back unchanged is done with. Anything
                // else is reported from the serde_json value of the same text, as before.
                if validator.is_valid_dom(dom)
                    && (!self.options.round_trip
                        || media.typed.is_none_or(|typed| {
                            typed.comes_back_unchanged(dom, validator.json_schema())
                        }))
                {
                    return;
                }
                return self.check_body(media, Json::Value(&dom.to_value()), out);
            }
        };
        // `violations` takes the fast `is_valid` path first and only walks again to collect errors
        // when the body fails.
        let before = out.len();
        out.extend(validator.violations(body).into_iter().map(schema_violation));
        if out.len() == before
            && self.options.round_trip
            && let Some(typed) = media.typed
        {
            out.extend(typed.round_trip(body, validator.json_schema()));
        }
    }
}

/// A response body read as JSON at most once: a body recorded as JSON is borrowed, one recorded
/// as text (a HAR entry, a raw body, an answer through the proxy) was read into a zero-copy DOM
/// or, when the DOM cannot hold it exactly, is parsed by serde_json on first use.
struct ResponseBody<'b> {
    /// The body as recorded; a placeholder when `recorded_dom` (the JSON value a recording
    /// holds) stands for it.
    body: &'b Body,
    /// The body read into a DOM: the JSON value a recording holds, or the body's text.
    dom: Option<Dom<'b>>,
    /// Whether `dom` is the recorded JSON value itself, not a reading of `body`'s text.
    recorded_dom: bool,
    parsed: OnceCell<Option<Result<Cow<'b, Value>, serde_json::Error>>>,
}

/// A body read as JSON: a `serde_json` value, or a zero-copy DOM holding the same value.
#[derive(Clone, Copy)]
enum Json<'v> {
    Value(&'v Value),
    Dom(Dom<'v>),
}

impl<'b> ResponseBody<'b> {
    fn new(body: &'b Body, dom: Option<Dom<'b>>, recorded_dom: bool) -> Self {
        Self {
            body,
            dom,
            recorded_dom,
            parsed: OnceCell::new(),
        }
    }

    /// The body as JSON; `None` when there is no body, an error when the text is not JSON.
    fn get(&self) -> Option<Result<Json<'_>, &serde_json::Error>> {
        if let Some(dom) = self.dom {
            return Some(Ok(Json::Dom(dom)));
        }
        self.parsed
            .get_or_init(|| match self.body {
                Body::Empty => None,
                Body::Json(value) => Some(Ok(Cow::Borrowed(value))),
                Body::Text(text) => Some(crate::recording::parse_json(text).map(Cow::Owned)),
            })
            .as_ref()
            .map(|parsed| parsed.as_ref().map(|value| Json::Value(value)))
    }

    /// The recorded JSON value, when the recording's value is held as a DOM.
    fn dom_value(&self) -> Option<Value> {
        self.dom
            .filter(|_| self.recorded_dom)
            .map(|dom| dom.to_value())
    }

    fn is_empty(&self) -> bool {
        !self.recorded_dom && self.body.is_empty()
    }

    fn length(&self) -> Option<usize> {
        match self.dom_value() {
            Some(value) => Some(value.to_string().len()),
            None => body_length(self.body),
        }
    }
}

/// The recording (or HAR archive) a file's DOM holds, as a `serde_json` value, but for its
/// responses' JSON bodies: each is left in the DOM, noted in `bodies` with the index of its
/// exchange, and is `null` in the value.
fn envelope<'d>(root: Dom<'d>, bodies: &mut Vec<(usize, Dom<'d>)>) -> Value {
    let Some(top) = root.as_object() else {
        return root.to_value();
    };
    let interactions = top.get_str("interactions").is_some();
    let mut out = serde_json::Map::new();
    for (key, value) in top.iter() {
        let value = match (key, value.as_array()) {
            ("interactions", Some(items)) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| exchange_envelope(item, index, bodies))
                    .collect(),
            ),
            ("response", _) if !interactions => response_envelope(value, 0, bodies),
            _ => value.to_value(),
        };
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

fn exchange_envelope<'d>(
    exchange: Dom<'d>,
    index: usize,
    bodies: &mut Vec<(usize, Dom<'d>)>,
) -> Value {
    let Some(object) = exchange.as_object() else {
        return exchange.to_value();
    };
    let mut out = serde_json::Map::new();
    for (key, value) in object.iter() {
        let value = match key {
            "response" => response_envelope(value, index, bodies),
            _ => value.to_value(),
        };
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

fn response_envelope<'d>(
    response: Dom<'d>,
    index: usize,
    bodies: &mut Vec<(usize, Dom<'d>)>,
) -> Value {
    let Some(object) = response.as_object() else {
        return response.to_value();
    };
    let mut out = serde_json::Map::new();
    for (key, value) in object.iter() {
        let value = if key == "body" && (value.as_object().is_some() || value.as_array().is_some())
        {
            bodies.push((index, value));
            Value::Null
        } else {
            value.to_value()
        };
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

impl Operation {
    /// [`Operation::fields_seen`] for a body read into a DOM.
    fn fields_seen_dom(&self, body: Dom<'_>) -> Vec<u16> {
        (0u16..)
            .zip(&self.field_steps)
            .filter(|(_, path)| non_null_at_dom(body, path))
            .map(|(index, _)| index)
            .collect()
    }

    /// The documented success-response fields (indexes into [`Operation::fields`]) that are
    /// non-null somewhere in `body`, for coverage.
    fn fields_seen(&self, body: &Value) -> Vec<u16> {
        (0u16..)
            .zip(&self.field_steps)
            .filter(|(_, path)| non_null_at(body, path))
            .map(|(index, _)| index)
            .collect()
    }

    fn matches(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(expected, found)| match expected {
                    Segment::Literal(literal) => literal == found,
                    Segment::Parameter(_) => !found.is_empty(),
                })
    }

    /// The path parameters of a path this operation matches, by name.
    fn path_values<'p>(&'p self, path: &'p str) -> Vec<(&'p str, &'p str)> {
        self.segments
            .iter()
            .zip(split_path(path))
            .filter_map(|(segment, found)| match segment {
                Segment::Parameter(name) => Some((name.as_str(), found)),
                Segment::Literal(_) => None,
            })
            .collect()
    }

    /// The response documented for a status, with its key: the exact code, then its class
    /// (`5XX`), then `default`.
    fn response_entry(&self, status: u16) -> Option<&(String, ResponseSpec)> {
        let exact = status.to_string();
        let class = format!("{}XX", status / 100);
        self.responses
            .iter()
            .find(|(key, _)| *key == exact)
            .or_else(|| {
                self.responses
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(&class))
            })
            .or_else(|| self.responses.iter().find(|(key, _)| key == "default"))
    }
}

impl<'s> Compiler<'s> {
    fn response(
        &mut self,
        pointer: &str,
        response: &'s Value,
    ) -> Result<ResponseSpec, CheckerError> {
        let (pointer, response) = self.resolve(pointer, response)?;
        let mut headers = Vec::new();
        for (name, header) in response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let at = format!("{pointer}/headers/{}", cliniko_spec::pointer::escape(name));
            let (at, header) = self.resolve(&at, header)?;
            let schema = match header.get("schema") {
                Some(schema) => {
                    let validator = self.validator(&format!("{at}/schema"), schema, false)?;
                    let kind = ItemKind::of(validator.json_schema());
                    Some((validator, kind))
                }
                None => None,
            };
            headers.push(HeaderSpec {
                name: name.clone(),
                required: header
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                schema,
            });
        }
        let mut content = Vec::new();
        for (media_type, media) in response
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let at = format!(
                "{pointer}/content/{}",
                cliniko_spec::pointer::escape(media_type)
            );
            let schema = media.get("schema");
            content.push(MediaSpec {
                media_type: media_type.to_ascii_lowercase(),
                schema: schema
                    .map(|schema| {
                        self.validator(&format!("{at}/schema"), schema, self.options.strict)
                    })
                    .transpose()?,
                typed: schema
                    .and_then(|schema| schema.get("$ref"))
                    .and_then(Value::as_str)
                    .and_then(TypedSchema::for_ref),
            });
        }
        Ok(ResponseSpec { headers, content })
    }
}

fn schema_violation(violation: cliniko_spec::SchemaViolation) -> Violation {
    match violation.undocumented_field {
        Some(field) => Violation::UndocumentedField {
            pointer: violation.pointer,
            field,
        },
        None => Violation::BodySchema {
            pointer: violation.pointer,
            message: violation.message,
        },
    }
}

fn header_problem(validator: &SchemaValidator, kind: ItemKind, text: &str) -> Option<String> {
    // A header's surrounding blanks are not part of its value; text is checked as sent.
    let value = match kind {
        ItemKind::Text => kind.parse(text),
        _ => kind.parse(text.trim()),
    };
    let Some(value) = value else {
        return Some(format!(
            "expected {}",
            match kind {
                ItemKind::Integer => "an integer",
                ItemKind::Number => "a number",
                ItemKind::Boolean => "`true` or `false`",
                ItemKind::Text => "text",
            }
        ));
    };
    let violations = validator.violations(&value);
    (!violations.is_empty()).then(|| {
        violations
            .into_iter()
            .map(|v| v.message)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn body_length(body: &Body) -> Option<usize> {
    match body {
        Body::Empty => None,
        Body::Text(text) => Some(text.len()),
        Body::Json(value) => Some(value.to_string().len()),
    }
}

/// The properties a (translated) JSON Schema names, through `allOf`, `anyOf` and `oneOf`.
pub(crate) fn schema_properties(schema: &Value) -> Vec<(&str, &Value)> {
    let mut out = Vec::new();
    collect_properties(schema, &mut out, 0);
    out
}

fn collect_properties<'v>(schema: &'v Value, out: &mut Vec<(&'v str, &'v Value)>, depth: usize) {
    if depth > 8 {
        return;
    }
    for (name, property) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if !out.iter().any(|(seen, _)| *seen == name.as_str()) {
            out.push((name.as_str(), property));
        }
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for branch in schema
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_properties(branch, out, depth + 1);
        }
    }
}

/// Every property path of a (translated) JSON Schema, `*` standing for an array's items.
fn field_paths(schema: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if prefix.len() > 6 {
        return;
    }
    if let Some(items) = schema_items(schema) {
        prefix.push("*".to_owned());
        field_paths(items, prefix, out);
        prefix.pop();
    }
    for (name, property) in schema_properties(schema) {
        prefix.push(cliniko_spec::pointer::escape(name));
        out.push(prefix.clone());
        field_paths(property, prefix, out);
        prefix.pop();
    }
}

/// Whether some value at `path` (every item, for [`FieldStep::Items`]) is present and not null.
fn non_null_at(value: &Value, path: &[FieldStep]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return !value.is_null();
    };
    match first {
        FieldStep::Items => value
            .as_array()
            .is_some_and(|items| items.iter().any(|item| non_null_at(item, rest))),
        FieldStep::Property(name) => value
            .as_object()
            .and_then(|object| object.get(name))
            .is_some_and(|item| non_null_at(item, rest)),
    }
}

/// [`non_null_at`] for a body read into a DOM.
fn non_null_at_dom(value: Dom<'_>, path: &[FieldStep]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return !value.is_null();
    };
    match first {
        FieldStep::Items => value
            .as_array()
            .is_some_and(|items| items.iter().any(|item| non_null_at_dom(item, rest))),
        FieldStep::Property(name) => value
            .get(name)
            .is_some_and(|item| non_null_at_dom(item, rest)),
    }
}

/// The `items` schema of an array schema, through `allOf`, `anyOf` and `oneOf`.
pub(crate) fn schema_items(schema: &Value) -> Option<&Value> {
    if let Some(items) = schema.get("items") {
        return Some(items);
    }
    ["allOf", "anyOf", "oneOf"].iter().find_map(|keyword| {
        schema
            .get(*keyword)
            .and_then(Value::as_array)?
            .iter()
            .find_map(schema_items)
    })
}

/// The path of a URL: an absolute URL loses its scheme and authority; a path stays as it is.
fn url_path(url: &str) -> &str {
    match url.find("://") {
        Some(at) => {
            let rest = &url[at + 3..];
            match rest.find(['/', '?', '#']) {
                Some(slash) if rest[slash..].starts_with('/') => &rest[slash..],
                Some(_) | None => "/",
            }
        }
        None => url,
    }
}

fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> Checker {
        Checker::new(
            &Spec::embedded().expect("embedded spec loads"),
            CheckOptions::default(),
        )
        .expect("compiles")
    }

    #[test]
    fn literal_routes_win_over_templated_ones() {
        let checker = checker();
        assert_eq!(
            checker.operation_id("GET", "/v1/attendees/deleted"),
            Some("listDeletedAttendees")
        );
        assert_eq!(
            checker.operation_id("get", "https://api.au1.cliniko.com/v1/attendees/7?q[]=x"),
            Some("getAttendee")
        );
        assert_eq!(
            checker.operation_id("PATCH", "/attendees/7/cancel"),
            Some("cancelAttendee")
        );
        assert_eq!(checker.operation_id("GET", "/v1/bookings/7"), None);
    }

    #[test]
    fn url_paths_are_found_in_absolute_urls_and_paths() {
        assert_eq!(url_path("https://h.example/v1/a?x=1"), "/v1/a?x=1");
        assert_eq!(url_path("https://h.example"), "/");
        assert_eq!(url_path("https://h.example?x"), "/");
        assert_eq!(url_path("/attendees"), "/attendees");
    }
}
