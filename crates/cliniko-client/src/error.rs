//! The one error type of the client: what went wrong ([`ErrorKind`]), and where (the operation,
//! its method and path, and the status and `X-Request-Id` when Cliniko answered).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use cliniko_types::facts::{Operation, Retry};
use cliniko_types::{ErrorResponse, Id};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use crate::config::ConfigError;
use crate::response::{BufferedBody, RequestPath, rate_limit_reset};

/// The longest piece of a non-JSON body kept in an error, in bytes.
const BODY_EXCERPT_LIMIT: usize = 4096;

/// The result of a call made through this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call to Cliniko failed: the [`ErrorKind`], and the operation, method, path, status and
/// request ID it happened on.
///
/// Every operation of the generated client, every stream and sync, and [`ClientBuilder::build`]
/// (through `?`) give this one type.
///
/// ```
/// # async fn run(client: cliniko_client::Client, id: cliniko_types::Id) {
/// use cliniko_client::ErrorKind;
///
/// match client.get_attendee().id(id).send().await {
///     Ok(attendee) => println!("{}", attendee.id),
///     Err(error) if matches!(error.kind(), ErrorKind::NotFound { .. }) => println!("gone"),
///     Err(error) => eprintln!("{error} (request id {:?})", error.request_id()),
/// }
/// # }
/// ```
///
/// [`ClientBuilder::build`]: crate::ClientBuilder::build
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    operation: Option<&'static Operation>,
    status: Option<StatusCode>,
    request_id: Option<String>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 422: Cliniko refused the body; `errors` maps each field to what is wrong with it.
    #[error("validation failed: {}; correct the body and send it again", describe_fields(.message, .errors))]
    Validation {
        /// Cliniko's summary, usually `Validation Failed`.
        message: String,
        /// For each field that failed, why.
        errors: BTreeMap<String, String>,
    },
    /// 404: there is no such attendee, appointment or patient case (or the route is wrong).
    #[error(
        "not found: check the id; cancelled and archived records are found only with a `*` filter (q[]=cancelled_at:* or q[]=archived_at:*)"
    )]
    NotFound {
        /// What came with the 404: JSON, or Cliniko's HTML page.
        body: ErrorBody,
    },
    /// 401: the API key is missing, wrong or revoked.
    #[error("unauthorised: check the api key")]
    Unauthorised {
        /// What came with the 401.
        body: ErrorBody,
    },
    /// 403: the key's user may not do this, or Cliniko refused the `User-Agent`.
    #[error("forbidden: the key's user may not do this, or the user-agent was refused")]
    Forbidden {
        /// What came with the 403.
        body: ErrorBody,
    },
    /// 429, still, after waiting for the reset as often as the retry policy allows.
    #[error("rate limited{}; slow down or allow more waits in the retry policy", reset_at.map(|at| format!(" until {}", at.to_rfc3339())).unwrap_or_default())]
    RateLimited {
        /// When Cliniko said the limit resets (`X-RateLimit-Reset`), if it said.
        reset_at: Option<DateTime<Utc>>,
    },
    /// Another documented error status (400, 413, 5xx after the retries) with Cliniko's JSON body.
    #[error("cliniko answered {status}: {}", body.message.to_lowercase())]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// Cliniko's error body.
        body: ErrorResponse,
    },
    /// A status the spec does not list, or an error whose body is not Cliniko's JSON.
    #[error("unexpected response {status}")]
    UnexpectedResponse {
        /// The HTTP status.
        status: StatusCode,
        /// The body, as JSON or as text (for example Cliniko's HTML error page).
        body: ErrorBody,
    },
    /// A successful status whose body does not match the spec (for example a truncated body).
    #[error("the response body does not match the spec")]
    InvalidPayload {
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The request never got an answer: connection refused or dropped, timeout, TLS failure.
    /// Only reads and updates fail this way once sent; for the others see
    /// [`OutcomeUnknown`](Self::OutcomeUnknown).
    #[error("{}", describe_transport(.0))]
    Transport(#[source] reqwest::Error),
    /// A create, cancel, archive or delete reached Cliniko (or may have), but the answer was a
    /// 5xx or was lost: it may or may not have taken effect. It was not sent again, because a
    /// second attempt could change the outcome (a second attendee, or a 404 for an archive that
    /// worked). Read the attendee back (or list the booking's attendees, for a create) to know.
    #[error("the outcome is unknown ({source}); {}", match attendee_id {
        Some(id) => format!("read attendee {id} back before sending this again"),
        None => "look for the attendee before creating it again".to_owned(),
    })]
    OutcomeUnknown {
        /// The attendee the call was about, when the path names one.
        attendee_id: Option<Id>,
        /// The ambiguous failure: a 5xx answer, or a transport error after sending.
        #[source]
        source: Box<ErrorKind>,
    },
    /// A value the spec does not allow, refused before sending (for example `per_page` 0).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A `links.next` that would make pagination loop.
    #[error("refusing to follow the next page link: {reason}")]
    InvalidNextLink {
        /// What is wrong with the link.
        reason: &'static str,
        /// The link, as Cliniko sent it.
        url: String,
    },
    /// The client could not be built.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Error {
    /// An error of `kind` on `operation`, before any answer.
    pub(crate) fn new(kind: ErrorKind, operation: Option<&'static Operation>) -> Self {
        Self {
            kind,
            operation,
            status: None,
            request_id: None,
        }
    }

    /// Types an error response from its status, headers and whole body, for `operation`.
    pub(crate) fn from_response(
        operation: &'static Operation,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        path: Option<&str>,
    ) -> Self {
        let kind = classify(status, headers, ErrorBody::parse(headers, body));
        Self::answered(operation, kind, status, headers, path)
    }

    /// An error for an answer: an ambiguous one (a 5xx to an operation that is not safe to repeat)
    /// becomes [`ErrorKind::OutcomeUnknown`].
    fn answered(
        operation: &'static Operation,
        kind: ErrorKind,
        status: StatusCode,
        headers: &HeaderMap,
        path: Option<&str>,
    ) -> Self {
        let kind = if status.is_server_error() && !safe_to_repeat(operation) {
            ErrorKind::OutcomeUnknown {
                attendee_id: path.and_then(|path| attendee_id(operation, path)),
                source: Box::new(kind),
            }
        } else {
            kind
        };
        Self {
            kind,
            operation: Some(operation),
            status: Some(status),
            request_id: headers
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// A transport failure on `operation`: when the request may have reached Cliniko and the
    /// operation is not safe to repeat, the outcome is unknown.
    pub(crate) fn transport(operation: &'static Operation, error: reqwest::Error) -> Self {
        if error.is_connect() || safe_to_repeat(operation) {
            return Self::new(ErrorKind::Transport(error), Some(operation));
        }
        let attendee_id = error
            .url()
            .and_then(|url| attendee_id(operation, url.path()));
        Self::new(
            ErrorKind::OutcomeUnknown {
                attendee_id,
                source: Box::new(ErrorKind::Transport(error)),
            },
            Some(operation),
        )
    }

    /// Converts what a generated builder's `send` failed with. The generated code calls this with
    /// its operation's facts; it is not meant to be called by hand.
    #[doc(hidden)]
    pub fn from_generated(
        error: progenitor_client::Error<ErrorResponse>,
        operation: &'static Operation,
    ) -> Self {
        use progenitor_client::Error as Generated;
        match error {
            Generated::InvalidRequest(message) | Generated::Custom(message) => {
                Self::new(ErrorKind::InvalidRequest(message), Some(operation))
            }
            Generated::CommunicationError(error)
            | Generated::InvalidUpgrade(error)
            | Generated::ResponseBodyError(error) => Self::transport(operation, error),
            Generated::ErrorResponse(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                let kind = classify(status, &headers, ErrorBody::Json(response.into_inner()));
                Self::answered(operation, kind, status, &headers, None)
            }
            Generated::InvalidResponsePayload(_, source) => {
                Self::new(ErrorKind::InvalidPayload { source }, Some(operation))
            }
            Generated::UnexpectedResponse(response) => {
                let body = response
                    .extensions()
                    .get::<BufferedBody>()
                    .map(|buffered| buffered.0.clone())
                    .unwrap_or_default();
                let path = response
                    .extensions()
                    .get::<RequestPath>()
                    .map(|path| path.0.clone());
                Self::from_response(
                    operation,
                    response.status(),
                    response.headers(),
                    &body,
                    path.as_deref(),
                )
            }
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// What went wrong, owned.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// The operation that failed, with its method and path template, when the error came from one.
    pub fn operation(&self) -> Option<&'static Operation> {
        self.operation
    }

    /// The HTTP status Cliniko answered with, when there was an answer.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// Cliniko's `X-Request-Id` for the answer, to quote to its support team.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Whether the call may or may not have taken effect ([`ErrorKind::OutcomeUnknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self.kind, ErrorKind::OutcomeUnknown { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        let Some(operation) = self.operation else {
            return Ok(());
        };
        write!(
            f,
            " [{} {} {}",
            operation.id, operation.method, operation.path
        )?;
        if let Some(status) = self.status {
            write!(f, ", status {}", status.as_u16())?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        f.write_str("]")
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind, None)
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Self::new(ErrorKind::Config(error), None)
    }
}

fn safe_to_repeat(operation: &Operation) -> bool {
    matches!(operation.retry, Retry::Always)
}

/// The attendee ID in `path`, where the operation's template (such as `/attendees/{id}/cancel`)
/// has `{id}`; `path` may carry the base URL's prefix (`/v1`).
fn attendee_id(operation: &Operation, path: &str) -> Option<Id> {
    let template: Vec<&str> = operation.path.trim_matches('/').split('/').collect();
    let index = template.iter().position(|segment| *segment == "{id}")?;
    let actual: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let offset = actual.len().checked_sub(template.len())?;
    actual.get(offset + index)?.parse().ok()
}

/// The body of an error response.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorBody {
    /// Cliniko's JSON error body.
    Json(ErrorResponse),
    /// Anything else, such as the HTML 404 page; the text is cut after 4 KiB.
    Text {
        /// The `Content-Type` header, if any.
        content_type: Option<String>,
        /// The body, decoded as UTF-8 with replacement characters.
        text: String,
    },
}

impl ErrorBody {
    /// Reads a body: Cliniko's JSON error when it parses as one, text otherwise.
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(json) => Self::Json(json),
            Err(_) => Self::Text {
                content_type: headers
                    .get(CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
                text: excerpt(body),
            },
        }
    }

    /// Cliniko's message, when the body is its JSON error.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Json(json) => Some(&json.message),
            Self::Text { .. } => None,
        }
    }
}

fn classify(status: StatusCode, headers: &HeaderMap, body: ErrorBody) -> ErrorKind {
    match (status, body) {
        (StatusCode::UNAUTHORIZED, body) => ErrorKind::Unauthorised { body },
        (StatusCode::FORBIDDEN, body) => ErrorKind::Forbidden { body },
        (StatusCode::NOT_FOUND, body) => ErrorKind::NotFound { body },
        (StatusCode::TOO_MANY_REQUESTS, _) => ErrorKind::RateLimited {
            reset_at: rate_limit_reset(headers),
        },
        (StatusCode::UNPROCESSABLE_ENTITY, ErrorBody::Json(json)) => ErrorKind::Validation {
            message: json.message,
            errors: json.errors,
        },
        (status, ErrorBody::Json(body)) if !status.is_success() => ErrorKind::Api { status, body },
        (status, body) => ErrorKind::UnexpectedResponse { status, body },
    }
}

/// `message` alone, or each field and its message.
fn describe_fields(message: &str, errors: &BTreeMap<String, String>) -> String {
    if errors.is_empty() {
        return message.to_lowercase();
    }
    errors
        .iter()
        .map(|(field, why)| format!("{field} {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The first 4 KiB of a body as text, cut on a character boundary.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= BODY_EXCERPT_LIMIT {
        return text.into_owned();
    }
    let mut end = BODY_EXCERPT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Which server did not answer, and how: a timeout, a refused connection, or a lost answer.
fn describe_transport(error: &reqwest::Error) -> String {
    let server = error
        .url()
        .and_then(|url| {
            url.host_str().map(|host| match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        })
        .unwrap_or_else(|| "cliniko".to_owned());
    if error.is_timeout() {
        format!(
            "{server} did not answer in time; check the network, or allow longer (a larger timeout)"
        )
    } else if error.is_connect() {
        format!("cannot connect to {server}; check the network and the base url")
    } else {
        format!(
            "the request to {server} failed before its answer was read; check the network and try again"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cliniko_types::facts::operations;
    use reqwest::header::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("valid"),
        );
        headers
    }

    fn answer(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
        Error::from_response(&operations::GET_ATTENDEE, status, headers, body, None)
    }

    #[test]
    fn a_422_lists_each_field() {
        let body =
            br#"{"message":"Validation Failed","errors":{"appointment_id":"can't be blank"}}"#;
        let error = Error::from_response(
            &operations::CREATE_ATTENDEE,
            StatusCode::UNPROCESSABLE_ENTITY,
            &headers("application/json"),
            body,
            Some("/v1/attendees"),
        );
        let ErrorKind::Validation { message, errors } = error.kind() else {
            panic!("expected a validation error, got {error:?}");
        };
        assert_eq!(message, "Validation Failed");
        assert_eq!(errors["appointment_id"], "can't be blank");
        assert_eq!(error.operation().map(|op| op.id), Some("createAttendee"));
        assert_eq!(error.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    }

    #[test]
    fn an_html_404_keeps_its_page() {
        let page =
            b"<!DOCTYPE html><html><head><title>Not found</title></head><body></body></html>";
        let error = answer(
            StatusCode::NOT_FOUND,
            &headers("text/html; charset=utf-8"),
            page,
        );
        let ErrorKind::NotFound {
            body: ErrorBody::Text { content_type, text },
        } = error.kind()
        else {
            panic!("expected a not-found error with a text body, got {error:?}");
        };
        assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert!(text.starts_with("<!DOCTYPE html>"));
        assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    }

    #[test]
    fn a_429_carries_the_reset_time() {
        let mut headers = headers("application/json");
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1700000060"));
        let error = answer(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"message":"Too Many Requests"}"#,
        );
        let ErrorKind::RateLimited {
            reset_at: Some(reset_at),
        } = error.kind()
        else {
            panic!("expected a rate-limited error with a reset time, got {error:?}");
        };
        assert_eq!(reset_at.timestamp(), 1_700_000_060);
    }

    #[test]
    fn a_5xx_to_a_write_is_an_unknown_outcome_naming_the_attendee() {
        let json = headers("application/json");
        for operation in [
            &operations::CANCEL_ATTENDEE,
            &operations::ARCHIVE_ATTENDEE,
            &operations::DELETE_ATTENDEE,
        ] {
            let path = operation.path.replace("{id}", "1390726237298631770");
            let error = Error::from_response(
                operation,
                StatusCode::GATEWAY_TIMEOUT,
                &json,
                b"",
                Some(&format!("/v1{path}")),
            );
            let ErrorKind::OutcomeUnknown {
                attendee_id: Some(id),
                source,
            } = error.kind()
            else {
                panic!("expected an unknown outcome, got {error:?}");
            };
            assert_eq!(id.get(), 1_390_726_237_298_631_770);
            assert!(matches!(**source, ErrorKind::UnexpectedResponse { .. }));
        }
        let error = Error::from_response(
            &operations::CREATE_ATTENDEE,
            StatusCode::BAD_GATEWAY,
            &json,
            br#"{"message":"Bad Gateway"}"#,
            Some("/v1/attendees"),
        );
        assert!(matches!(
            error.kind(),
            ErrorKind::OutcomeUnknown {
                attendee_id: None,
                ..
            }
        ));
        // A read that still fails after its retries is only a failure.
        let error = answer(
            StatusCode::BAD_GATEWAY,
            &json,
            br#"{"message":"Bad Gateway"}"#,
        );
        assert!(matches!(error.kind(), ErrorKind::Api { .. }));
    }

    #[test]
    fn messages_read_well() {
        let json = headers("application/json");
        let mut limited = json.clone();
        limited.insert("x-ratelimit-reset", HeaderValue::from_static("1700000060"));
        limited.insert("x-request-id", HeaderValue::from_static("7f3a"));
        let errors = [
            answer(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json,
                br#"{"message":"Validation Failed","errors":{"booking_id":"can't be blank","patient_id":"does not exist"}}"#,
            ),
            answer(StatusCode::UNPROCESSABLE_ENTITY, &json, br#"{"message":"Validation Failed"}"#),
            answer(StatusCode::NOT_FOUND, &headers("text/html"), b"<html></html>"),
            answer(StatusCode::UNAUTHORIZED, &json, br#"{"message":"Unauthorized"}"#),
            answer(StatusCode::FORBIDDEN, &json, br#"{"message":"Forbidden"}"#),
            answer(StatusCode::TOO_MANY_REQUESTS, &limited, b""),
            answer(StatusCode::TOO_MANY_REQUESTS, &json, b""),
            answer(StatusCode::BAD_REQUEST, &json, br#"{"message":"Invalid filter"}"#),
            answer(StatusCode::IM_A_TEAPOT, &headers("text/plain"), b"short and stout"),
            Error::from_response(
                &operations::CANCEL_ATTENDEE,
                StatusCode::GATEWAY_TIMEOUT,
                &json,
                b"",
                Some("/v1/attendees/77/cancel"),
            ),
            Error::from_response(
                &operations::CREATE_ATTENDEE,
                StatusCode::BAD_GATEWAY,
                &json,
                b"",
                Some("/v1/attendees"),
            ),
            Error::new(
                ErrorKind::InvalidPayload {
                    source: serde_json::from_str::<ErrorResponse>("{").expect_err("cut short"),
                },
                Some(&operations::LIST_ATTENDEES),
            ),
            Error::new(
                ErrorKind::InvalidRequest("per_page must be from 1 to 100, not 500".to_owned()),
                Some(&operations::LIST_ATTENDEES),
            ),
            Error::new(
                ErrorKind::InvalidNextLink {
                    reason: "it does not move forward, so pagination would loop",
                    url: "https://api.au1.cliniko.com/v1/attendees?page=1".to_owned(),
                },
                Some(&operations::LIST_ATTENDEES),
            ),
        ];
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(messages.join("\n"), @r"
        validation failed: booking_id can't be blank; patient_id does not exist; correct the body and send it again [getAttendee GET /attendees/{id}, status 422]
        validation failed: validation failed; correct the body and send it again [getAttendee GET /attendees/{id}, status 422]
        not found: check the id; cancelled and archived records are found only with a `*` filter (q[]=cancelled_at:* or q[]=archived_at:*) [getAttendee GET /attendees/{id}, status 404]
        unauthorised: check the api key [getAttendee GET /attendees/{id}, status 401]
        forbidden: the key's user may not do this, or the user-agent was refused [getAttendee GET /attendees/{id}, status 403]
        rate limited until 2023-11-14T22:14:20+00:00; slow down or allow more waits in the retry policy [getAttendee GET /attendees/{id}, status 429, request id 7f3a]
        rate limited; slow down or allow more waits in the retry policy [getAttendee GET /attendees/{id}, status 429]
        cliniko answered 400 Bad Request: invalid filter [getAttendee GET /attendees/{id}, status 400]
        unexpected response 418 I'm a teapot [getAttendee GET /attendees/{id}, status 418]
        the outcome is unknown (unexpected response 504 Gateway Timeout); read attendee 77 back before sending this again [cancelAttendee PATCH /attendees/{id}/cancel, status 504]
        the outcome is unknown (unexpected response 502 Bad Gateway); look for the attendee before creating it again [createAttendee POST /attendees, status 502]
        the response body does not match the spec [listAttendees GET /attendees]
        invalid request: per_page must be from 1 to 100, not 500 [listAttendees GET /attendees]
        refusing to follow the next page link: it does not move forward, so pagination would loop [listAttendees GET /attendees]
        ");
    }

    #[test]
    fn the_attendee_id_is_read_from_the_path() {
        let cancel = &operations::CANCEL_ATTENDEE;
        assert_eq!(
            attendee_id(cancel, "/v1/attendees/42/cancel").map(Id::get),
            Some(42)
        );
        assert_eq!(
            attendee_id(cancel, "/proxy/v1/attendees/42/cancel").map(Id::get),
            Some(42)
        );
        assert_eq!(attendee_id(cancel, "/cancel"), None);
        assert_eq!(
            attendee_id(&operations::CREATE_ATTENDEE, "/v1/attendees"),
            None
        );
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(BODY_EXCERPT_LIMIT);
        let text = excerpt(body.as_bytes());
        assert!(text.ends_with('…'));
        assert!(text.len() <= BODY_EXCERPT_LIMIT + '…'.len_utf8());
    }
}
