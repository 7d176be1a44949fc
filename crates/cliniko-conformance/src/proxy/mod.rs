//! `proxy`: a reverse proxy that checks and records an app's traffic with Cliniko.
//!
//! An app pointed at `http://127.0.0.1:8080/v1` instead of `https://api.au1.cliniko.com/v1` works
//! unchanged: [`Proxy`] forwards each request (method, path, query, headers including
//! `Authorization`, body) to the upstream, streams the answer back as it arrives, and rewrites the
//! upstream's absolute URLs in the answer (the string values of every `links` object in a JSON
//! body, and `Location`) to its own origin, so that the app keeps paging through the proxy. Once
//! an answer has been passed on whole, the exchange exactly as the upstream sent it is checked
//! against the spec with [`Checker`] (on a checker thread, off the app's path) and, with
//! [`ProxyOptions::record_dir`], written as a recording scrubbed by [`crate::scrub`].
//!
//! Checks run behind the answers, on checker threads that give way to forwarding (`SCHED_IDLE`
//! on Linux), so that a burst is answered at full speed and checked after; none is dropped. Up to
//! [`MAX_PENDING_CHECK_BYTES`] of exchanges may wait for their check; past that, new requests
//! wait until the checks catch up, so that the proxy's memory stays bounded and the app is slowed
//! down rather than an exchange going unchecked. [`Proxy::pending_checks`] shows the backlog and
//! [`Proxy::checks_done`] waits for it; at shutdown, what is left is checked at normal priority.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use cliniko_conformance::proxy::{Proxy, ProxyOptions};
//! use cliniko_conformance::{CheckOptions, Checker};
//!
//! let checker = Checker::new(&cliniko_spec::Spec::embedded()?, CheckOptions::default())?;
//! let options = ProxyOptions::new("https://api.au1.cliniko.com/v1");
//! let proxy = Proxy::start(options, checker, |event| eprintln!("{event}")).await?;
//! println!("point the app at {}", proxy.base_url());
//! // ... the app runs ...
//! let finished = proxy.shutdown().await;
//! std::process::exit(finished.outcome().exit_code().into());
//! # }
//! ```
//!
//! The API key never leaves the exchange it came in: it is forwarded to the upstream and nowhere
//! else. Every key, Basic token or bearer token the proxy sees is removed from recordings (the
//! scrubber's work, plus the tokens it does not know), from the violations it reports and from
//! its error messages. It listens on loopback only unless [`ProxyOptions::allow_remote`] is set,
//! since whoever can reach it can use the keys that pass through it.
//!
//! Hop-by-hop headers (`Connection` and the headers it names, `Keep-Alive`, `Transfer-Encoding`,
//! `TE`, `Trailer`, `Upgrade`, `Proxy-*`) are not forwarded in either direction, `Host` is the
//! upstream's, and `Accept-Encoding` is dropped so that the upstream answers uncompressed: the
//! proxy has to read the body to check it and to rewrite its links.

mod captured;
mod check;
mod config;
mod forward;
mod links;
mod redact;
mod report;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::check::Checker;
use crate::report::Report;

use captured::Job;
use check::Worker;
use config::parse_upstream;
pub use config::{ProxyError, ProxyOptions};
use forward::{Shared, serve, upstream_client};
use redact::Secrets;
use report::Collected;
pub use report::{PendingChecks, ProxyEvent, ProxyFailure, ProxyReport};

/// The largest request body the proxy forwards (Cliniko refuses far smaller ones with 413); a
/// larger one is answered 413 by the proxy itself.
pub const MAX_REQUEST_BODY: usize = 32 << 20;

/// The largest answer the proxy keeps a copy of for checking; a larger one is still passed on
/// whole, but not checked.
pub const MAX_CHECKED_BODY: usize = 64 << 20;

/// How long [`Proxy::shutdown`] waits for exchanges in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How many bytes of answered exchanges may wait for their check. Past it, new requests wait
/// before they are forwarded until the checker threads have caught up: the app is slowed down
/// rather than the proxy's memory growing without end or an exchange going unchecked.
pub const MAX_PENDING_CHECK_BYTES: usize = 256 << 20;

/// A running proxy. Stop it with [`Proxy::shutdown`] to get the report.
pub struct Proxy {
    local_addr: SocketAddr,
    base_url: String,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// What each checker thread is started with.
    worker: Worker,
    collected: Arc<Mutex<Collected>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("local_addr", &self.local_addr)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

type Observer = dyn Fn(ProxyEvent) + Send + Sync;

impl Proxy {
    /// Starts the proxy: binds `options.listen`, and checks every exchange with `checker`.
    /// `observer` hears of each violation and failure as it happens, and first of
    /// [`ProxyEvent::Listening`].
    pub async fn start(
        options: ProxyOptions,
        checker: impl Into<Arc<Checker>>,
        observer: impl Fn(ProxyEvent) + Send + Sync + 'static,
    ) -> Result<Self, ProxyError> {
        Self::start_with_budget(options, checker, observer, MAX_PENDING_CHECK_BYTES).await
    }

    /// [`Proxy::start`], with requests waiting while more than `pending_budget` bytes wait for
    /// their check.
    async fn start_with_budget(
        options: ProxyOptions,
        checker: impl Into<Arc<Checker>>,
        observer: impl Fn(ProxyEvent) + Send + Sync + 'static,
        pending_budget: usize,
    ) -> Result<Self, ProxyError> {
        if !options.listen.ip().is_loopback() && !options.allow_remote {
            return Err(ProxyError::RemoteListen {
                addr: options.listen,
            });
        }
        let upstream = parse_upstream(&options.upstream)?;
        if let Some(dir) = &options.record_dir {
            std::fs::create_dir_all(dir).map_err(|source| ProxyError::RecordDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let client = upstream_client()?;
        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| ProxyError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            addr: options.listen,
            source,
        })?;
        let observer: Arc<Observer> = Arc::new(observer);
        let (jobs, receiver) = mpsc::channel();
        let shared = Arc::new(Shared {
            client,
            upstream: upstream.clone(),
            own_origin: format!("http://{local_addr}"),
            jobs,
            sequence: AtomicUsize::new(0),
            secrets: Secrets::default(),
            observer: observer.clone(),
            failures: Arc::new(AtomicUsize::new(0)),
            draining: watch::Sender::new(0),
            pending: watch::Sender::new(PendingChecks::default()),
            pending_budget,
        });
        let collected = Arc::new(Mutex::new(Collected::default()));
        let receiver = Arc::new(Mutex::new(receiver));
        let checker: Arc<Checker> = checker.into();
        // Checks run on their own threads, so that they never hold up an answer. They take the
        // cores the forwarding does not need: one thread on a machine with two cores or fewer
        // (a burst of checks then queues and is worked off after it), up to four on larger ones.
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .saturating_sub(1)
            .clamp(1, 4);
        let worker = Worker {
            checker,
            jobs: receiver,
            collected: collected.clone(),
            record_dir: options.record_dir.clone(),
            upstream_origin: upstream.origin.clone(),
            shared: shared.clone(),
            gives_way: true,
        };
        let mut workers = Vec::with_capacity(threads);
        for n in 0..threads {
            workers.push(worker.spawn(n).map_err(ProxyError::Thread)?);
        }
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(serve(listener, shared.clone(), stopped));
        let base_url = format!("http://{local_addr}{}", upstream.base_path);
        observer(ProxyEvent::Listening {
            base_url: base_url.clone(),
            upstream: format!("{}{}", upstream.origin, upstream.base_path),
        });
        Ok(Self {
            local_addr,
            base_url,
            stop,
            server,
            shared,
            workers,
            worker,
            collected,
        })
    }

    /// The address the proxy listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base URL to point the app at: `http://ADDR` and the upstream's base path (`/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The exchanges answered and not yet checked.
    pub fn pending_checks(&self) -> PendingChecks {
        *self.shared.pending.borrow()
    }

    /// Waits until every exchange answered so far has been checked.
    pub async fn checks_done(&self) {
        let mut pending = self.shared.pending.subscribe();
        let _ = pending.wait_for(|pending| pending.exchanges == 0).await;
    }

    /// Stops accepting requests, waits (up to ten seconds) for the exchanges in flight and for
    /// their checks, and returns what the run found.
    pub async fn shutdown(self) -> ProxyReport {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        let mut draining = self.shared.draining.subscribe();
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, draining.wait_for(|count| *count == 0)).await;
        // No answer waits on the checks any more, so those still queued are finished at normal
        // priority: threads that give way could wait behind every other process on the machine.
        let mut workers = self.workers;
        let helpers = std::thread::available_parallelism().map_or(1, usize::from);
        if self.shared.pending.borrow().exchanges > 0 {
            let helper = Worker {
                gives_way: false,
                ..self.worker.clone()
            };
            for n in 0..helpers {
                match helper.spawn(workers.len() + n) {
                    Ok(handle) => workers.push(handle),
                    // The threads already running finish the checks anyway.
                    Err(_) => break,
                }
            }
        }
        drop(self.worker);
        // Each checker thread takes one `Stop`, after every exchange sent before it.
        for _ in &workers {
            let _ = self.shared.jobs.send(Job::Stop);
        }
        let _ = tokio::task::spawn_blocking(move || {
            for worker in workers {
                let _ = worker.join();
            }
        })
        .await;
        let mut exchanges = std::mem::take(
            &mut self
                .collected
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .exchanges,
        );
        exchanges.sort_by_key(|(sequence, _)| *sequence);
        ProxyReport {
            report: Report {
                exchanges: exchanges.into_iter().map(|(_, e)| e).collect(),
                unreadable: Vec::new(),
            },
            failures: self.shared.failures.load(Ordering::SeqCst),
        }
    }
}

/// Runs a proxy until SIGINT or SIGTERM, then shuts it down and returns what it found.
pub async fn run_until_signal(
    options: ProxyOptions,
    checker: impl Into<Arc<Checker>>,
    observer: impl Fn(ProxyEvent) + Send + Sync + 'static,
) -> Result<ProxyReport, ProxyError> {
    // The handlers are installed before the proxy says it is listening, so that a signal sent
    // as soon as it is ready still produces the report.
    let signals = Signals::install()?;
    let proxy = Proxy::start(options, checker, observer).await?;
    signals.wait().await;
    Ok(proxy.shutdown().await)
}

#[cfg(unix)]
struct Signals {
    pub(super) interrupt: tokio::signal::unix::Signal,
    pub(super) terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Result<Self, ProxyError> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).map_err(ProxyError::Signal)?,
            terminate: signal(SignalKind::terminate()).map_err(ProxyError::Signal)?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Result<Self, ProxyError> {
        Ok(Self)
    }

    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With room for no answer at all, each request waits for the checks before it: slow, but
    /// every answer arrives and every exchange is checked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_wait_for_checks_that_fall_behind_and_none_is_dropped() {
        let fake = cliniko_fake::FakeCliniko::builder()
            .api_key("backpressure-key-au1")
            .rate_limit_per_minute(None)
            .start()
            .await
            .expect("the fake starts");
        let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
        let checker = Checker::new(&spec, crate::CheckOptions::default()).expect("it compiles");
        let options = ProxyOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ProxyOptions::new(fake.base_url())
        };
        let proxy = Proxy::start_with_budget(options, checker, |_| {}, 1)
            .await
            .expect("the proxy starts");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        let url = format!("{}/attendees?per_page=50", proxy.base_url());
        let mut requests = Vec::new();
        for _ in 0..12 {
            let request = client
                .get(&url)
                .basic_auth("backpressure-key-au1", Some(""))
                .header("user-agent", "Proxy unit tests (tests@example.com)")
                .send();
            requests.push(tokio::spawn(async move {
                let response = request.await.expect("answered");
                (
                    response.status(),
                    response.bytes().await.expect("the body").len(),
                )
            }));
        }
        for request in requests {
            let (status, length) = request.await.expect("the request task ends");
            assert_eq!(status, 200);
            assert!(length > 0);
        }
        proxy.checks_done().await;
        assert_eq!(proxy.pending_checks(), PendingChecks::default());
        let finished = proxy.shutdown().await;
        assert_eq!(finished.report.summary().exchanges, 12);
        assert_eq!(finished.report.summary().conforming, 12);
        assert_eq!(finished.failures, 0);
        fake.shutdown().await;
    }
}
