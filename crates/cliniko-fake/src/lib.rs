//! A stateful, in-memory fake of Cliniko's API, served from the spec, for tests and load runs.
//!
//! [`FakeCliniko`] serves every resource of the spec's `x-cliniko-resources` (attendees and
//! patients in the embedded spec) under `/v1` on a real HTTP stack (axum on hyper and tokio): its
//! routes and statuses, pagination, sorting and `q[]` filters, the list variants (cancelled,
//! deleted, archived, nested), create, update and every state change, with request bodies checked
//! against their schemas (422 with a message per field); HTTP Basic authentication; the
//! `User-Agent` check; a per-key rate limit; and injectable [`Faults`].
//!
//! Nothing in it is written for one resource but Cliniko's rules that OpenAPI cannot state, one
//! module per resource (only an attendee of a group appointment can be cancelled, for one). Each
//! item schema is compiled once at start-up; seeded records are made from it, their seed and their
//! ID when read (deterministic by seed, valid against the spec by construction, with IDs above
//! 2^53, unicode text and nulls), and links between resources resolve: an attendee's patient is a
//! patient the fake serves. [`FakeClinikoBuilder::spec`] serves another spec than the embedded
//! one, [`FakeClinikoBuilder::state_file`] keeps the data between runs and
//! [`FakeClinikoBuilder::drift`] serves Cliniko drifting from the spec on chosen routes.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cliniko_fake::Error> {
//! use cliniko_fake::FakeCliniko;
//!
//! let server = FakeCliniko::builder().api_key("fake-key-au1").seed(42).attendees(10).start().await?;
//! assert!(server.base_url().ends_with("/v1"));
//! assert_eq!(server.attendee_count(), 10);
//! assert!(server.fixtures().attendees.iter().any(|id| id.get() > 1 << 53));
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod drift;
mod engine;
mod faults;
mod rate_limit;
mod rng;
mod routes;
mod seed;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cliniko_spec::Spec;
pub use drift::{AddedField, Drift, DriftError, DriftRule, NewCode};
pub use engine::SpecProblem;
pub use faults::Faults;
pub use seed::Fixtures;
pub use state::StateError;

use crate::faults::FaultState;
use crate::rate_limit::RateLimiter;
use crate::server::{RequestCounts, RequestIds, Shared};

/// The API key accepted when none is configured.
pub const DEFAULT_API_KEY: &str = "fake-api-key";
/// The spec's pattern for `User-Agent` (`#/components/parameters/UserAgent`); a request whose
/// `User-Agent` does not match it is refused with 403.
pub const USER_AGENT_PATTERN: &str = cliniko_types::facts::USER_AGENT_PATTERN;
/// How many attendees are seeded when no count is configured.
pub const DEFAULT_ATTENDEES: usize = 100;
/// Cliniko's rate limit: requests per window (a minute) per key.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = cliniko_types::facts::RATE_LIMIT_REQUESTS;
/// The window Cliniko's rate limit counts requests in: a minute.
pub const DEFAULT_RATE_LIMIT_WINDOW: Duration =
    Duration::from_secs(cliniko_types::facts::RATE_LIMIT_WINDOW_SECONDS as u64);
/// The largest request body accepted when no limit is configured (1 MiB); larger ones get 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// The most attendees the fake seeds; more would not fit its memory budget or its ID layout.
pub const MAX_ATTENDEES: usize = 100_000_000;

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// More attendees were asked for than the fake seeds.
    #[error("cannot seed {requested} attendees; at most {max} are supported")]
    TooManyAttendees {
        /// The count asked for.
        requested: usize,
        /// [`MAX_ATTENDEES`].
        max: usize,
    },
    /// The spec given to [`FakeClinikoBuilder::spec`] cannot be served.
    #[error("cannot serve the spec: {0}")]
    Spec(#[from] SpecProblem),
    /// The state file could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The bound socket did not say its address.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(#[source] std::io::Error),
}

/// Configures and starts a [`FakeCliniko`].
#[derive(Clone)]
pub struct FakeClinikoBuilder {
    api_key: String,
    seed: u64,
    attendees: usize,
    rate_limit_per_minute: Option<u32>,
    rate_limit_window: Duration,
    faults: Faults,
    listen: SocketAddr,
    max_body_bytes: usize,
    spec: Option<Arc<Spec>>,
    state_file: Option<std::path::PathBuf>,
    drift: Drift,
}

/// The embedded spec, read once per process.
fn embedded_spec() -> Result<Arc<Spec>, Error> {
    static EMBEDDED: std::sync::LazyLock<Result<Arc<Spec>, String>> =
        std::sync::LazyLock::new(|| Spec::embedded().map(Arc::new).map_err(|e| e.to_string()));
    EMBEDDED.clone().map_err(|problems| {
        Error::Spec(SpecProblem::Unreadable {
            what: "embedded spec",
            problems,
        })
    })
}

impl std::fmt::Debug for FakeClinikoBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeClinikoBuilder")
            .field("api_key", &"<redacted>")
            .field("seed", &self.seed)
            .field("attendees", &self.attendees)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("rate_limit_window", &self.rate_limit_window)
            .field("faults", &self.faults)
            .field("listen", &self.listen)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Default for FakeClinikoBuilder {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            seed: 0,
            attendees: DEFAULT_ATTENDEES,
            rate_limit_per_minute: Some(DEFAULT_RATE_LIMIT_PER_MINUTE),
            rate_limit_window: DEFAULT_RATE_LIMIT_WINDOW,
            faults: Faults::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            spec: None,
            state_file: None,
            drift: Drift::default(),
        }
    }
}

impl FakeClinikoBuilder {
    /// The one API key accepted (as the Basic user name); default [`DEFAULT_API_KEY`].
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }

    /// The seed of the generator behind the seeded data and the faults; default 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How many attendees to seed, at most [`MAX_ATTENDEES`]; default [`DEFAULT_ATTENDEES`].
    pub fn attendees(mut self, count: usize) -> Self {
        self.attendees = count;
        self
    }

    /// Requests per window (a minute, unless [`rate_limit_window`](Self::rate_limit_window)
    /// says otherwise) per key before 429, or `None` for no limit; default 200.
    ///
    /// The limit is a sliding window, as Cliniko's: a request is refused when the limit's worth
    /// of requests were admitted in the window before it, and `X-RateLimit-Reset` names the UNIX
    /// second (rounded up) by which the oldest of them leaves the window.
    pub fn rate_limit_per_minute(mut self, limit: Option<u32>) -> Self {
        self.rate_limit_per_minute = limit;
        self
    }

    /// The length of the rate limit's window; default a minute. A shorter one scales the limit
    /// down so that tests of pacing run in seconds.
    pub fn rate_limit_window(mut self, window: Duration) -> Self {
        self.rate_limit_window = window;
        self
    }

    /// The faults to inject from the start; default none.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// The address to listen on; default `127.0.0.1:0`, a free port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The largest request body accepted; default [`DEFAULT_MAX_BODY_BYTES`].
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The spec whose resources to serve; default the embedded one. Every resource of its
    /// `x-cliniko-resources` is served from its paths, schemas and facts.
    pub fn spec(mut self, spec: Spec) -> Self {
        self.spec = Some(Arc::new(spec));
        self
    }

    /// A file that keeps the data between runs: read at start when it exists (it must have been
    /// written with the same seed and attendee count), written atomically by
    /// [`FakeCliniko::save_state`] and at [`FakeCliniko::shutdown_and_save`].
    pub fn state_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Drift rules: undocumented fields, new codes, nulls or statuses on chosen routes, for
    /// testing the tools that watch Cliniko change; default none.
    pub fn drift(mut self, drift: Drift) -> Self {
        self.drift = drift;
        self
    }

    /// Seeds the data, binds the address and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<FakeCliniko, Error> {
        if self.attendees > MAX_ATTENDEES {
            return Err(Error::TooManyAttendees {
                requested: self.attendees,
                max: MAX_ATTENDEES,
            });
        }
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: self.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(Error::LocalAddr)?;
        let spec = match self.spec {
            Some(spec) => spec,
            None => embedded_spec()?,
        };
        let fixtures = Arc::new(seed::seed(self.attendees));
        let written = match &self.state_file {
            Some(path) => state::load(path, self.seed, self.attendees)?.map(|saved| saved.written),
            None => None,
        };
        let (engine, engine_routes) =
            engine::Engine::build(&spec, fixtures.clone(), self.seed, written)?;
        let shared = Arc::new(Shared {
            api_key: self.api_key,
            fixtures,
            faults: FaultState::new(self.faults, self.seed),
            rate_limiter: RateLimiter::new(self.rate_limit_per_minute, self.rate_limit_window),
            counts: RequestCounts::default(),
            max_body_bytes: self.max_body_bytes,
            fallback_host: local_addr.to_string(),
            request_ids: RequestIds::new(self.seed),
            engine,
            drift: self.drift,
        });
        let router = routes::router(shared.clone(), engine::router(&shared, engine_routes));
        let (shutdown, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, shared.clone(), router, stopped));
        Ok(FakeCliniko {
            state_file: self.state_file,
            seed: self.seed,
            seeded_attendees: self.attendees,
            base_url: format!("http://{local_addr}/v1"),
            local_addr,
            shared,
            shutdown,
            task: Some(task),
        })
    }
}

/// A running fake Cliniko API; it stops on [`shutdown`](Self::shutdown) or when dropped.
pub struct FakeCliniko {
    shared: Arc<Shared>,
    state_file: Option<std::path::PathBuf>,
    seed: u64,
    seeded_attendees: usize,
    base_url: String,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeCliniko {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCliniko")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeCliniko {
    /// A builder with the defaults: key [`DEFAULT_API_KEY`], seed 0, 100 attendees, 200
    /// requests per minute, no faults, a free port on 127.0.0.1.
    pub fn builder() -> FakeClinikoBuilder {
        FakeClinikoBuilder::default()
    }

    /// The API root, such as `http://127.0.0.1:PORT/v1` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Replaces the faults in force; a `rate_limit_burst` starts counting again from now.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults);
    }

    /// The faults in force (with shares clamped to 0.0–1.0).
    pub fn faults(&self) -> Faults {
        self.shared.faults.current()
    }

    /// The IDs the seeded data was built from.
    pub fn fixtures(&self) -> &Fixtures {
        &self.shared.fixtures
    }

    /// How many HTTP requests reached the server, whatever it answered (or if it dropped them).
    pub fn requests_received(&self) -> u64 {
        self.shared.counts.total()
    }

    /// How many requests with this method reached this path (without the query). The path is
    /// either literal, `/v1/attendees/9007199254740993`, or a template as in the spec with the
    /// `/v1` prefix, `/v1/attendees/{id}`, which counts every literal path it matches.
    pub fn requests_to(&self, method: &str, path: &str) -> u64 {
        self.shared.counts.to(method, path)
    }

    /// How many attendees the server holds, in every state.
    pub fn attendee_count(&self) -> usize {
        self.shared.engine.count("attendee").unwrap_or(0)
    }

    /// How many records of a resource the server holds (not deleted), by the resource's name in
    /// the spec (`attendee`, `patient`); `None` for a resource it does not serve.
    pub fn record_count(&self, resource: &str) -> Option<usize> {
        self.shared.engine.count(resource)
    }

    /// Every record (not deleted) of a resource, in ID order, as the JSON its `get` route answers
    /// with; `None` for names the spec does not declare.
    pub fn records(&self, resource: &str) -> Option<Vec<serde_json::Value>> {
        self.shared.engine.all(resource, &self.base_url)
    }

    /// Writes the data to the state file (atomically), if one was configured; `Ok(false)` when
    /// none was.
    pub fn save_state(&self) -> Result<bool, StateError> {
        let Some(path) = &self.state_file else {
            return Ok(false);
        };
        let saved = state::Saved::new(
            self.seed,
            self.seeded_attendees,
            self.shared.engine.written(),
        );
        state::save(path, &saved)?;
        Ok(true)
    }

    /// Stops accepting connections, lets requests in flight finish (for up to a second), and
    /// waits until the server has stopped. It does not write the state file: see
    /// [`shutdown_and_save`](Self::shutdown_and_save).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// [`shutdown`](Self::shutdown), then writes the state file if one was configured (after
    /// the last request has finished, so no write is left out).
    pub async fn shutdown_and_save(mut self) -> Result<(), StateError> {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.save_state().map(|_| ())
    }
}

impl Drop for FakeCliniko {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
