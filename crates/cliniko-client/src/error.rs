//! The typed errors of the client: what Cliniko refused, and why a request could not complete.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use cliniko_types::ErrorResponse;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

/// The longest piece of a non-JSON body kept in an error, in bytes.
const BODY_EXCERPT_LIMIT: usize = 4096;

/// The result of a call made through this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call to Cliniko failed.
///
/// The generated builders return `progenitor_client::Error`; `?` converts it into this type, so a
/// function returning [`Result`] can write `client.get_attendee().id(id).send().await?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 422: Cliniko refused the body; `errors` maps each field to what is wrong with it.
    #[error("validation failed: {}", describe_fields(.message, .errors))]
    Validation {
        /// Cliniko's summary, usually `Validation Failed`.
        message: String,
        /// For each field that failed, why.
        errors: BTreeMap<String, String>,
    },
    /// 404: there is no such attendee, appointment or patient case (or the route is wrong).
    #[error("not found")]
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
    #[error("rate limited{}", reset_at.map(|at| format!(" until {}", at.to_rfc3339())).unwrap_or_default())]
    RateLimited {
        /// When Cliniko said the limit resets (`X-RateLimit-Reset`), if it said.
        reset_at: Option<DateTime<Utc>>,
    },
    /// Another documented error status (400, 413, 5xx after the retries) with Cliniko's JSON body.
    #[error("cliniko answered {status}: {}", body.message)]
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
    ///
    /// A create (`POST /attendees`) that fails this way may or may not have been saved; it is
    /// never retried automatically. Look for the attendee before sending it again.
    #[error("the request to cliniko failed")]
    Transport(#[source] reqwest::Error),
    /// A builder was given a value the spec does not allow (for example a filter that does not fit).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A `links.next` that would make pagination loop, or send the key to another host.
    #[error("refusing to follow the next page link: {reason}")]
    InvalidNextLink {
        /// What is wrong with the link.
        reason: &'static str,
        /// The link, as Cliniko sent it.
        url: String,
    },
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

impl Error {
    /// Types an error response from its status, headers and whole body.
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        Self::classify(status, headers, ErrorBody::parse(headers, body))
    }

    fn classify(status: StatusCode, headers: &HeaderMap, body: ErrorBody) -> Self {
        match (status, body) {
            (StatusCode::UNAUTHORIZED, body) => Self::Unauthorised { body },
            (StatusCode::FORBIDDEN, body) => Self::Forbidden { body },
            (StatusCode::NOT_FOUND, body) => Self::NotFound { body },
            (StatusCode::TOO_MANY_REQUESTS, _) => Self::RateLimited {
                reset_at: crate::policy::rate_limit_reset(headers),
            },
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorBody::Json(json)) => Self::Validation {
                message: json.message,
                errors: json.errors,
            },
            (status, ErrorBody::Json(body)) if !status.is_success() => Self::Api { status, body },
            (status, body) => Self::UnexpectedResponse { status, body },
        }
    }

    /// The HTTP status Cliniko answered with, when there was an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Validation { .. } => Some(StatusCode::UNPROCESSABLE_ENTITY),
            Self::NotFound { .. } => Some(StatusCode::NOT_FOUND),
            Self::Unauthorised { .. } => Some(StatusCode::UNAUTHORIZED),
            Self::Forbidden { .. } => Some(StatusCode::FORBIDDEN),
            Self::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            Self::Api { status, .. } | Self::UnexpectedResponse { status, .. } => Some(*status),
            Self::Transport(error) => error.status(),
            Self::InvalidPayload { .. }
            | Self::InvalidRequest(_)
            | Self::InvalidNextLink { .. } => None,
        }
    }
}

/// The whole body of a non-success response, kept by the client's `exec` hook in the response's
/// extensions so that an error can be typed after the generated code has taken the response.
#[derive(Debug, Clone)]
pub(crate) struct BufferedBody(pub(crate) Bytes);

impl From<progenitor_client::Error<ErrorResponse>> for Error {
    fn from(error: progenitor_client::Error<ErrorResponse>) -> Self {
        use progenitor_client::Error as Generated;
        match error {
            Generated::InvalidRequest(message) | Generated::Custom(message) => {
                Self::InvalidRequest(message)
            }
            Generated::CommunicationError(error)
            | Generated::InvalidUpgrade(error)
            | Generated::ResponseBodyError(error) => Self::Transport(error),
            Generated::ErrorResponse(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                Self::classify(status, &headers, ErrorBody::Json(response.into_inner()))
            }
            Generated::InvalidResponsePayload(_, source) => Self::InvalidPayload { source },
            Generated::UnexpectedResponse(response) => {
                let body = response
                    .extensions()
                    .get::<BufferedBody>()
                    .map(|buffered| buffered.0.clone())
                    .unwrap_or_default();
                Self::from_response(response.status(), response.headers(), &body)
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(content_type).expect("valid"),
        );
        headers
    }

    #[test]
    fn a_422_lists_each_field() {
        let body =
            br#"{"message":"Validation Failed","errors":{"appointment_id":"can't be blank"}}"#;
        let error = Error::from_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &headers("application/json"),
            body,
        );
        let Error::Validation { message, errors } = &error else {
            panic!("expected a validation error, got {error:?}");
        };
        assert_eq!(message, "Validation Failed");
        assert_eq!(errors["appointment_id"], "can't be blank");
        assert_eq!(
            error.to_string(),
            "validation failed: appointment_id can't be blank"
        );
    }

    #[test]
    fn an_html_404_keeps_its_page() {
        let page =
            b"<!DOCTYPE html><html><head><title>Not found</title></head><body></body></html>";
        let error = Error::from_response(
            StatusCode::NOT_FOUND,
            &headers("text/html; charset=utf-8"),
            page,
        );
        let Error::NotFound {
            body: ErrorBody::Text { content_type, text },
        } = &error
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
        let error = Error::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"message":"Too Many Requests"}"#,
        );
        let Error::RateLimited {
            reset_at: Some(reset_at),
        } = error
        else {
            panic!("expected a rate-limited error with a reset time, got {error:?}");
        };
        assert_eq!(reset_at.timestamp(), 1_700_000_060);
    }

    #[test]
    fn an_undocumented_status_with_text_is_unexpected() {
        let error = Error::from_response(
            StatusCode::BAD_GATEWAY,
            &headers("text/plain"),
            b"upstream gone",
        );
        assert!(matches!(
            &error,
            Error::UnexpectedResponse { status, body: ErrorBody::Text { text, .. } }
                if *status == StatusCode::BAD_GATEWAY && text == "upstream gone"
        ));
        assert_eq!(error.to_string(), "unexpected response 502 Bad Gateway");
    }

    #[test]
    fn a_json_server_error_is_an_api_error() {
        let error = Error::from_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &headers("application/json"),
            br#"{"message":"Internal Server Error"}"#,
        );
        assert_eq!(
            error.to_string(),
            "cliniko answered 500 Internal Server Error: Internal Server Error"
        );
    }

    #[test]
    fn messages_read_well() {
        let json = headers("application/json");
        let mut limited = json.clone();
        limited.insert("x-ratelimit-reset", HeaderValue::from_static("1700000060"));
        let errors = [
            Error::from_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json,
                br#"{"message":"Validation Failed","errors":{"booking_id":"can't be blank","patient_id":"does not exist"}}"#,
            ),
            Error::from_response(StatusCode::UNPROCESSABLE_ENTITY, &json, br#"{"message":"Validation Failed"}"#),
            Error::from_response(StatusCode::NOT_FOUND, &headers("text/html"), b"<html></html>"),
            Error::from_response(StatusCode::UNAUTHORIZED, &json, br#"{"message":"Unauthorized"}"#),
            Error::from_response(StatusCode::FORBIDDEN, &json, br#"{"message":"Forbidden"}"#),
            Error::from_response(StatusCode::TOO_MANY_REQUESTS, &limited, b""),
            Error::from_response(StatusCode::TOO_MANY_REQUESTS, &json, b""),
            Error::from_response(StatusCode::BAD_REQUEST, &json, br#"{"message":"Invalid filter"}"#),
            Error::from_response(StatusCode::IM_A_TEAPOT, &headers("text/plain"), b"short and stout"),
            Error::InvalidPayload {
                source: serde_json::from_str::<ErrorResponse>("{").expect_err("cut short"),
            },
            Error::InvalidRequest("conversion to `ListAttendeesSort` for sort failed".to_owned()),
            Error::InvalidNextLink {
                reason: "it does not move forward, so pagination would loop",
                url: "https://api.au1.cliniko.com/v1/attendees?page=1".to_owned(),
            },
        ];
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(messages.join("\n"), @r"
        validation failed: booking_id can't be blank; patient_id does not exist
        validation failed: validation failed
        not found
        unauthorised: check the api key
        forbidden: the key's user may not do this, or the user-agent was refused
        rate limited until 2023-11-14T22:14:20+00:00
        rate limited
        cliniko answered 400 Bad Request: Invalid filter
        unexpected response 418 I'm a teapot
        the response body does not match the spec
        invalid request: conversion to `ListAttendeesSort` for sort failed
        refusing to follow the next page link: it does not move forward, so pagination would loop
        ");
    }

    #[test]
    fn long_bodies_are_cut_on_a_character_boundary() {
        let body = "é".repeat(BODY_EXCERPT_LIMIT);
        let text = excerpt(body.as_bytes());
        assert!(text.ends_with('…'));
        assert!(text.len() <= BODY_EXCERPT_LIMIT + '…'.len_utf8());
    }
}
