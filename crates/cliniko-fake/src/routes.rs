//! What every route shares: the error answer, JSON responses, the `Accept` and `Content-Type`
//! checks, reading a JSON body within the size limit, and the 404 for anything else.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use cliniko_types::ErrorResponse;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde_json::{Map, Value};

use crate::server::Shared;

/// The router for every route of the spec (the engine's), under `/v1`; anything else is 404.
pub(crate) fn router(shared: Arc<Shared>, engine: Router<Arc<Shared>>) -> Router {
    engine
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

/// An error answer: a status and the spec's `ErrorResponse` body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    errors: BTreeMap<String, String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: BTreeMap::new(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub(crate) fn validation(errors: BTreeMap<String, String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "Validation Failed".to_owned(),
            errors,
        }
    }

    /// Adds a message for one field.
    pub(crate) fn with_error(mut self, field: &str, message: impl Into<String>) -> Self {
        self.errors.insert(field.to_owned(), message.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            message: self.message,
            errors: self.errors,
        };
        let bytes =
            serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"message\":\"Error\"}".to_vec());
        json_response(self.status, bytes)
    }
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// `http://HOST`, from the request's `Host` when it is a plain host name or address.
pub(crate) fn origin(shared: &Shared, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        })
        .unwrap_or(&shared.fallback_host);
    format!("http://{host}")
}

/// Refuses an `Accept` that rules JSON out.
pub(crate) fn check_accept(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let accepts_json = accept.split(',').any(|range| {
        let essence = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        essence.is_empty()
            || matches!(
                essence.as_str(),
                "*/*" | "application/*" | "application/json"
            )
            || essence.ends_with("+json")
    });
    if accepts_json {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Accept {accept:?} rules out application/json, the only type this API answers with"
        )))
    }
}

/// Reads a JSON object body, within the size limit; an empty body reads as `{}`.
pub(crate) async fn read_object(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    check_accept(headers)?;
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::bad_request(format!(
                "Content-Type {content_type:?} is not JSON; send the body as application/json"
            )));
        }
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Payload Too Large: request bodies are limited to {} bytes",
                shared.max_body_bytes
            ),
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > shared.max_body_bytes as u64) {
        return Err(too_large());
    }
    let bytes = match Limited::new(body, shared.max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Err(_) => return Err(ApiError::bad_request("The request body could not be read")),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // Every route that reads a body declares it `required` in the spec.
        return Err(ApiError::bad_request(
            "The request body is missing; send a JSON object",
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
        Err(error) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {error}"
        ))),
    }
}
