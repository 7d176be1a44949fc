//! The attendee routes: list, show, create, update, archive and cancel, each answering with the
//! spec's statuses and bodies.

use std::collections::BTreeMap;
use std::num::NonZeroI64;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use cliniko_types::facts::{Operation, operations};
use cliniko_types::{
    AttendeeCancel, AttendeeCreate, AttendeeUpdate, CancellationReason, ErrorResponse, Id,
};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde_json::{Map, Value};

use crate::query::{ListQuery, PathField, Scope, path_filter};
use crate::render::{self, PageLinks};
use crate::seed::BookingKind;
use crate::server::{Shared, unix_now};
use crate::store::{AttendeeChanges, AttendeeRecord, ChangeRefused};

type SharedState = State<Arc<Shared>>;

/// The resources this module serves by hand (its rules: only an attendee of a group appointment
/// can be cancelled, archived and cancelled attendees need the `*` filter, a create names an
/// existing booking, patient and patient case); the generic engine serves every other one.
pub(crate) const HAND_SERVED: &[&str] = &["attendee"];

/// The router for every route of the spec, under `/v1`.
pub(crate) fn router(shared: Arc<Shared>, generic: Router<Arc<Shared>>) -> Router {
    generic
        .route("/v1/attendees", get(list_attendees).post(create_attendee))
        .route("/v1/attendees/deleted", get(list_deleted_attendees))
        .route("/v1/attendees/cancelled", get(list_cancelled_attendees))
        .route(
            "/v1/attendees/{id}",
            get(show_attendee)
                .put(update_attendee)
                .patch(update_attendee)
                .delete(archive_attendee),
        )
        .route("/v1/attendees/{id}/archive", post(archive_attendee))
        .route("/v1/attendees/{id}/cancel", patch(cancel_attendee))
        .route(
            "/v1/group_appointments/{id}/attendees",
            get(list_group_appointment_attendees),
        )
        .route(
            "/v1/individual_appointments/{id}/attendees",
            get(list_individual_appointment_attendees),
        )
        .route(
            "/v1/patient_cases/{id}/attendees",
            get(list_patient_case_attendees),
        )
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

    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::validation(BTreeMap::from([(field.to_owned(), message.into())]))
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

fn no_content() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
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

/// The ID in path segment `index` (`/v1/attendees/{id}` has it at 3), or 404.
fn path_id(uri: &Uri, index: usize) -> Result<i64, ApiError> {
    uri.path()
        .split('/')
        .nth(index)
        .and_then(|text| Id::from_str(text).ok())
        .map(Id::get)
        .ok_or_else(ApiError::not_found)
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

async fn list_attendees(
    State(shared): SharedState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    list(
        &shared,
        &headers,
        &uri,
        Scope::Plain,
        &operations::LIST_ATTENDEES,
        None,
    )
}

async fn list_deleted_attendees(
    State(shared): SharedState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    list(
        &shared,
        &headers,
        &uri,
        Scope::Deleted,
        &operations::LIST_DELETED_ATTENDEES,
        None,
    )
}

async fn list_cancelled_attendees(
    State(shared): SharedState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    list(
        &shared,
        &headers,
        &uri,
        Scope::Cancelled,
        &operations::LIST_CANCELLED_ATTENDEES,
        None,
    )
}

async fn list_group_appointment_attendees(
    state: SharedState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_appointment_attendees(state, &headers, &uri, BookingKind::Group)
}

async fn list_individual_appointment_attendees(
    state: SharedState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    list_appointment_attendees(state, &headers, &uri, BookingKind::Individual)
}

/// The attendees of one appointment of `kind`; an ID of the other kind is not found.
fn list_appointment_attendees(
    State(shared): SharedState,
    headers: &HeaderMap,
    uri: &Uri,
    kind: BookingKind,
) -> Result<Response, ApiError> {
    let id = path_id(uri, 3)?;
    if shared.fixtures.booking_kind(id) != Some(kind) {
        return Err(ApiError::not_found());
    }
    list(
        &shared,
        headers,
        uri,
        Scope::Plain,
        match kind {
            BookingKind::Group => &operations::LIST_GROUP_APPOINTMENT_ATTENDEES,
            BookingKind::Individual => &operations::LIST_INDIVIDUAL_APPOINTMENT_ATTENDEES,
        },
        Some((PathField::Booking, id)),
    )
}

async fn list_patient_case_attendees(
    State(shared): SharedState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let id = path_id(&uri, 3)?;
    if !shared.fixtures.has_patient_case(id) {
        return Err(ApiError::not_found());
    }
    list(
        &shared,
        &headers,
        &uri,
        Scope::Plain,
        &operations::LIST_PATIENT_CASE_ATTENDEES,
        Some((PathField::PatientCase, id)),
    )
}

fn list(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    scope: Scope,
    operation: &'static Operation,
    fixed: Option<(PathField, i64)>,
) -> Result<Response, ApiError> {
    check_accept(headers)?;
    let mut query = ListQuery::parse(uri.query().unwrap_or(""), scope, operation)
        .map_err(ApiError::bad_request)?;
    if let Some((field, id)) = fixed {
        query.filters.push(path_filter(field, id));
    }
    let origin = origin(shared, headers);
    let base = format!("{origin}/v1");
    let store = shared.read_store();
    let page = store.list(&query);
    let links = page_links(&origin, uri.path(), &query, page.total_entries);
    let body = render::list_json(&store, &page, &base, &links);
    drop(store);
    Ok(json_response(StatusCode::OK, body))
}

fn page_links(origin: &str, path: &str, query: &ListQuery, total: u64) -> PageLinks {
    let url = |page: u64| {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.append_pair("page", itoa::Buffer::new().format(page));
        for (key, value) in &query.link_pairs {
            serializer.append_pair(key, value);
        }
        format!("{origin}{path}?{}", serializer.finish())
    };
    let shown = query.page.saturating_mul(u64::from(query.per_page));
    PageLinks {
        this: url(query.page),
        next: (shown < total).then(|| url(query.page + 1)),
        previous: (query.page > 1).then(|| url(query.page - 1)),
    }
}

async fn show_attendee(
    State(shared): SharedState,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let id = path_id(&uri, 3)?;
    let query = ListQuery::parse(
        uri.query().unwrap_or(""),
        Scope::Plain,
        &operations::GET_ATTENDEE,
    )
    .map_err(ApiError::bad_request)?;
    let base = format!("{}/v1", origin(&shared, &headers));
    let store = shared.read_store();
    let record = store
        .find(id)
        .filter(|r| query.scope_admits(r) && query.filters.iter().all(|f| f.matches(r)))
        .ok_or_else(ApiError::not_found)?;
    let body = render::attendee_json(record, &base);
    drop(store);
    Ok(json_response(StatusCode::OK, body))
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

/// Deserialises a body into its cliniko-types shape, or 400 naming the field whose type is wrong.
fn typed<T: serde::de::DeserializeOwned>(object: &Map<String, Value>) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(object.clone())).map_err(|error| {
        let path = error.path().to_string();
        ApiError::bad_request(format!(
            "The request body is malformed at {path}: {}",
            error.into_inner()
        ))
    })
}

fn is_blank(object: &Map<String, Value>, field: &str) -> bool {
    object.get(field).is_none_or(Value::is_null)
}

async fn create_attendee(
    State(shared): SharedState,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let object = read_object(&shared, &headers, body).await?;
    let blank: BTreeMap<String, String> = ["booking_id", "patient_id"]
        .into_iter()
        .filter(|field| is_blank(&object, field))
        .map(|field| (field.to_owned(), "can't be blank".to_owned()))
        .collect();
    if !blank.is_empty() {
        return Err(ApiError::validation(blank));
    }
    let create: AttendeeCreate = typed(&object)?;
    let mut errors = BTreeMap::new();
    let booking = shared.fixtures.booking_kind(create.booking_id.get());
    if booking.is_none() {
        errors.insert(
            "booking_id".to_owned(),
            "does not name an existing appointment".to_owned(),
        );
    }
    if !shared.fixtures.has_patient(create.patient_id.get()) {
        errors.insert(
            "patient_id".to_owned(),
            "does not name an existing patient".to_owned(),
        );
    }
    let patient_case_id = match create.patient_case_id {
        Some(case) if !shared.fixtures.has_patient_case(case.get()) => {
            errors.insert(
                "patient_case_id".to_owned(),
                "does not name an existing patient case".to_owned(),
            );
            None
        }
        case => case.and_then(|c| NonZeroI64::new(c.get())),
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let base = format!("{}/v1", origin(&shared, &headers));
    let mut store = shared.write_store();
    let now = unix_now();
    let created_at = store.next_created_at(now);
    let record = AttendeeRecord {
        id: store.next_id(),
        booking_id: create.booking_id.get(),
        patient_id: create.patient_id.get(),
        patient_case_id,
        created_at,
        updated_at: created_at,
        cancelled_at: None,
        archived_at: None,
        notes: create.notes.map(String::into_boxed_str),
        cancellation_note: None,
        booking_ip_address: None,
        arrived: create.arrived,
        online_booking_policy_accepted: None,
        cancellation_reason: None,
        invoice_status: None,
        treatment_note_status: None,
        sent_email_reminders: 0,
        sent_sms_reminders: 0,
        sent_email_follow_ups: 0,
        sent_sms_follow_ups: 0,
        in_group_appointment: booking == Some(BookingKind::Group),
        has_telehealth: false,
    };
    let record = store.insert(record).ok_or_else(|| {
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "The fake holds no more attendees",
        )
    })?;
    let location = format!("{base}/attendees/{}", record.id);
    let body = render::attendee_json(record, &base);
    drop(store);
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn update_attendee(
    State(shared): SharedState,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_id(&uri, 3)?;
    let object = read_object(&shared, &headers, body).await?;
    let update: AttendeeUpdate = typed(&object)?;
    // `Patch` tells a field left out (keep) from one sent as null (clear).
    let mut changes = AttendeeChanges {
        arrived: update.arrived.into_option(),
        notes: update
            .notes
            .into_option()
            .map(|notes| notes.map(String::into_boxed_str)),
        ..AttendeeChanges::default()
    };
    if let Some(case) = update.patient_case_id.into_option() {
        changes.patient_case_id = Some(match case {
            Some(case) if !shared.fixtures.has_patient_case(case.get()) => {
                return Err(ApiError::invalid(
                    "patient_case_id",
                    "does not name an existing patient case",
                ));
            }
            case => case.and_then(|c| NonZeroI64::new(c.get())),
        });
    }
    let base = format!("{}/v1", origin(&shared, &headers));
    let mut store = shared.write_store();
    let record = store
        .update(id, changes, unix_now())
        .map_err(|_| ApiError::not_found())?;
    let body = render::attendee_json(record, &base);
    drop(store);
    Ok(json_response(StatusCode::OK, body))
}

/// Archives without looking at `Accept`: the answer has no body, and the spec documents no 400
/// for these routes.
async fn archive_attendee(State(shared): SharedState, uri: Uri) -> Result<Response, ApiError> {
    let id = path_id(&uri, 3)?;
    shared
        .write_store()
        .archive(id, unix_now())
        .map_err(|_| ApiError::not_found())?;
    Ok(no_content())
}

async fn cancel_attendee(
    State(shared): SharedState,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_id(&uri, 3)?;
    let object = read_object(&shared, &headers, body).await?;
    if shared
        .read_store()
        .find(id)
        .is_none_or(AttendeeRecord::is_archived)
    {
        return Err(ApiError::not_found());
    }
    if is_blank(&object, "cancellation_reason") {
        return Err(ApiError::invalid("cancellation_reason", "can't be blank"));
    }
    let cancel: AttendeeCancel = typed(&object)?;
    let code = cancel.cancellation_reason.code();
    let reason = CancellationReason::KNOWN
        .iter()
        .find(|known| known.code() == code)
        .and_then(|known| u8::try_from(known.code()).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "cancellation_reason",
                "is not included in the list (10, 20, 30, 31, 40, 50, 60)",
            )
        })?;
    let note = cancel.cancellation_note.map(String::into_boxed_str);
    match shared.write_store().cancel(id, reason, note, unix_now()) {
        Ok(()) => Ok(no_content()),
        Err(ChangeRefused::NotFound) => Err(ApiError::not_found()),
        Err(ChangeRefused::IndividualAppointment) => Err(ApiError::invalid(
            "booking_id",
            "is an individual appointment; cancel it with PATCH /individual_appointments/{id}/cancel",
        )),
        Err(ChangeRefused::AlreadyCancelled) => Err(ApiError::invalid(
            "cancelled_at",
            "the attendee is already cancelled",
        )),
    }
}
