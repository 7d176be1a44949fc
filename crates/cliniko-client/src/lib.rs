//! A typed client for the Cliniko attendees API.
//!
//! The operations are generated from `spec/cliniko-attendees.yaml` by progenitor: [`Client`] has one
//! builder method per operation (`client.get_attendee().id(id).send()`), taking and returning the
//! types of [`cliniko_types`]. This crate wraps that client from the outside:
//!
//! - [`Client::builder`] takes the API key and the `User-Agent`, finds the shard from the key, and
//!   sets HTTP Basic auth, `Accept`, TLS (rustls, 1.2 or newer) and timeouts. The key never appears
//!   in `Debug` output, errors or traces.
//! - Every request goes through the client's `ClientHooks`: it adds the key (only for the
//!   configured origin), waits out a 429 until `X-RateLimit-Reset` by the server's `Date`, retries
//!   only what the spec marks safe to repeat after a 5xx or a lost answer (a create, cancel,
//!   archive or delete gives [`ErrorKind::OutcomeUnknown`] instead), and can keep to Cliniko's
//!   200 requests in any minute ([`RateLimit::CLINIKO`], a sliding window shared by clones).
//! - [`Client::stream_attendees`] and [`Client::attendee_pages`] stream a list route, owning their
//!   client and resuming from a [`PageCursor`]; [`Client::sync_attendees`] reads every change
//!   since a [`SyncCheckpoint`]; [`filter`] builds typed `q[]` filters and sorts.
//! - Every call fails with one [`Error`]: an [`ErrorKind`] and the operation, method, path,
//!   status and `X-Request-Id`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = cliniko_fake::FakeCliniko::builder().api_key("fake-api-key").seed(7).attendees(120).start().await?;
//! # let base_url = server.base_url();
//! use chrono::{Duration, Utc};
//! use cliniko_client::filter::Filter;
//! use cliniko_client::{AttendeeQuery, Client, ResponseExt as _};
//! use cliniko_types::{AttendeeCancel, AttendeeCreate, CancellationReason};
//! use futures::TryStreamExt as _;
//!
//! let client = Client::builder("fake-api-key", "Really helpful app (devs@helpfulapp.com)")
//!     .base_url(base_url) // leave out to use the shard named by the key
//!     .build()?;
//!
//! // Every attendee changed in the last 30 days, 100 to a page.
//! let since = Utc::now() - Duration::days(30);
//! let query = AttendeeQuery::attendees().per_page(100).filter(Filter::attendees().updated_at().gt(since));
//! let recent: Vec<_> = client.stream_attendees(&query).try_collect().await?;
//! # let _ = recent;
//!
//! // Add a patient to a group appointment, then cancel them.
//! # let booking_id = server.fixtures().group_appointments[0];
//! # let patient_id = server.fixtures().patients[0];
//! let created = client
//!     .create_attendee()
//!     .body(AttendeeCreate { booking_id, patient_id, arrived: None, notes: None, patient_case_id: None })
//!     .send()
//!     .await?;
//! println!("created {}", created.location().expect("cliniko sends a location"));
//! client
//!     .cancel_attendee()
//!     .id(created.id)
//!     .body(AttendeeCancel {
//!         cancellation_reason: CancellationReason::FeelingBetter,
//!         cancellation_note: None,
//!         apply_to_repeats: None,
//!     })
//!     .send()
//!     .await?;
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod config;
mod error;
pub mod filter;
mod paginate;
mod policy;
mod response;
mod sync;

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, unused_imports, deprecated)]
mod generated_sdk;

pub use config::{
    ApiKey, ClientBuilder, ConfigError, Shard, USER_AGENT_PATTERN, UnknownShard, UserAgent,
};
pub use error::{Error, ErrorBody, ErrorKind, Result};
pub use generated_sdk::*;
pub use paginate::{
    AttendeePage, AttendeePages, AttendeeQuery, AttendeeRoute, AttendeeStream, ListCursor,
    ListFilter, ListQuery, ListRoute, Page, PageCursor, Pages, Records, Route,
};
pub use policy::{RateLimit, RequestPolicy, RetryPolicy, Waiting};
pub use sync::{
    AttendeeSync, RecordEvent, RecordSync, SyncCheckpoint, SyncEvent, SyncOptions, SyncProgress,
};

use progenitor_client::{ClientHooks, OperationInfo};

impl Client {
    /// Starts building a client from an API key and a `User-Agent` of the form `Name (email)`.
    /// Nothing is checked until [`ClientBuilder::build`].
    pub fn builder(api_key: impl Into<String>, user_agent: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(api_key, user_agent)
    }

    /// The base URL requests go to, such as `https://api.au1.cliniko.com/v1`.
    pub fn base_url(&self) -> &str {
        self.baseurl()
    }

    /// What a request of this client (or of a clone, a stream or a sync made from it) is waiting
    /// for at this moment: a rate-limit reset, the client's own pacing, or a retry's backoff.
    /// Cheap to call often, for a progress display's countdown.
    pub fn waiting(&self) -> Option<Waiting> {
        self.inner().waiting()
    }
}

/// The hand-written request policy, applied to every operation the generated code sends.
impl ClientHooks<RequestPolicy> for Client {
    /// Refuses a `per_page` outside the spec's range before anything is sent.
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> std::result::Result<(), progenitor_client::Error<E>> {
        let per_page = request
            .url()
            .query_pairs()
            .find(|(name, _)| name == "per_page")
            .map(|(_, value)| value.into_owned());
        if let Some(per_page) = per_page {
            let value = per_page.parse::<i64>().unwrap_or(i64::MAX);
            paginate::check_per_page(value).map_err(progenitor_client::Error::InvalidRequest)?;
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let operation = cliniko_types::facts::operation(info.operation_id);
        self.inner()
            .execute(self.client(), request, operation)
            .await
            .0
    }

    /// Hands every error answer over as an unexpected response that keeps its status, headers,
    /// and (through the extensions the `exec` hook filled) its whole body and path, so that
    /// [`Error::from_generated`] can type it the same way whatever the generated code expected:
    /// an HTML 404 keeps its page, and a 5xx to a cancel names the attendee.
    async fn post<E>(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        _info: &OperationInfo,
    ) -> std::result::Result<(), progenitor_client::Error<E>> {
        let Ok(response) = result else {
            return Ok(());
        };
        if response.status().is_success() {
            return Ok(());
        }
        let Some(body) = response.extensions().get::<response::BufferedBody>() else {
            return Ok(());
        };
        let mut copy = http::Response::new(reqwest::Body::from(body.0.clone()));
        *copy.status_mut() = response.status();
        *copy.headers_mut() = response.headers().clone();
        copy.extensions_mut().insert(body.clone());
        if let Some(path) = response.extensions().get::<response::RequestPath>() {
            copy.extensions_mut().insert(path.clone());
        }
        Err(progenitor_client::Error::UnexpectedResponse(copy.into()))
    }
}

/// What a response says besides its body.
pub trait ResponseExt {
    /// `Location`: the URL of the attendee a create made.
    fn location(&self) -> Option<reqwest::Url>;
    /// `X-Request-Id`: Cliniko's name for the request, for its support team.
    fn request_id(&self) -> Option<&str>;
}

impl<T> ResponseExt for ResponseValue<T> {
    fn location(&self) -> Option<reqwest::Url> {
        let location = self
            .headers()
            .get(reqwest::header::LOCATION)?
            .to_str()
            .ok()?;
        reqwest::Url::parse(location).ok()
    }

    fn request_id(&self) -> Option<&str> {
        self.headers().get("x-request-id")?.to_str().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests and streams can be handed to `tokio::spawn`: the hooks keep the futures `Send`.
    #[test]
    fn requests_and_streams_are_send() {
        fn send<T: Send>(_: &T) {}
        let client = Client::builder("key", "App (dev@example.com)")
            .base_url("http://127.0.0.1:9/v1")
            .build()
            .expect("built");
        send(&client.list_attendees().send());
        send(&client.create_attendee().send());
        send(&client.stream_attendees(&AttendeeQuery::attendees()));
        send(&client.sync_attendees(SyncCheckpoint::everything()));
    }

    /// Streams and syncs own their client: they outlive it and can be spawned.
    #[test]
    fn streams_and_syncs_are_static() {
        fn owned<T: Send + 'static>(_: T) {}
        let client = Client::builder("key", "App (dev@example.com)")
            .base_url("http://127.0.0.1:9/v1")
            .build()
            .expect("built");
        let stream = client.stream_attendees(&AttendeeQuery::attendees());
        let sync = client.sync_attendees(SyncCheckpoint::everything());
        drop(client);
        owned(stream);
        owned(sync);
    }
}
