//! Live runs: a scenario played against a server, every exchange checked and optionally recorded.
//!
//! The scenario is planned from the spec's resources (`x-cliniko-resources`): for each, it lists
//! on every list route, filters on each filterable field, follows `links.next`, gets one record
//! and a missing one; with writes, it creates a record from the spec's request example, gets it,
//! updates it (`PATCH` and `PUT`), runs each state change (cancel, archive, unarchive, delete; a
//! change that ends a record's life on a new record) and provokes the error paths a well-behaved
//! client can reach: invalid bodies (422), a missing record (404), a malformed body and a bad
//! filter (400), a wrong key (401) and a request without a `User-Agent`. With
//! [`LiveOptions::provoke_limits`] it also sends an oversized body (413) and requests until it is
//! rate limited (429) on the first resource; leave that off against a real account. What OpenAPI
//! cannot say of a resource (which attendee may be cancelled) is in one small rules module each.
//!
//! Every exchange is checked as the server sent it, then scrubbed (see [`crate::scrub`]) before it
//! is written, so that a violation in a field the scrubber replaces is still reported, and neither
//! the API key nor personal data reaches a recording. Violation messages are scrubbed of the key
//! too.
//!
//! The scenario creates and changes attendees. It does so only against a loopback server (a fake)
//! or with [`LiveOptions::allow_writes`]; [`LiveOptions::read_only`] runs only the `GET` routes
//! wherever the server is.
//!
//! A run fails closed: [`LiveReport::outcome`] is a failure when a step meant to succeed was
//! answered 401 or 403 (a wrong key), when a planned step did not run, and when the server could
//! not be reached.

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

mod rules;
mod scenario;

use crate::check::Checker;
use crate::recording::{Body, Exchange, Headers, RecordedRequest, RecordedResponse};
use crate::report::{ExchangeReport, Outcome, Report};
use crate::scrub::Scrubber;
use crate::sink::{self, Sink, Sunk};

/// What a live run needs.
#[derive(Clone, Default)]
pub struct LiveOptions {
    /// The server's base URL, with its `/v1` (`https://api.au1.cliniko.com/v1`).
    pub base_url: String,
    /// The API key, sent as the Basic-auth user name. Never printed or recorded.
    pub api_key: String,
    /// The `User-Agent` to send, `NAME (EMAIL)`.
    pub user_agent: String,
    /// Where to write recordings (see [`LiveOptions::record_format`]); `None` writes nothing.
    pub record_dir: Option<PathBuf>,
    /// How recordings are written: one JSON file per exchange, or one HAR 1.2 archive
    /// (`live.har`) holding every exchange; both scrubbed alike.
    pub record_format: RecordFormat,
    /// Also provoke 413 (an oversized body) and 429 (up to 300 quick requests).
    pub provoke_limits: bool,
    /// A group appointment whose attendees the scenario may add and cancel (the attendee
    /// rules); found from the first page of attendees when `None`.
    pub group_appointment_id: Option<String>,
    /// A patient to add to that appointment; taken from the first attendee when `None`.
    pub patient_id: Option<String>,
    /// Show progress on standard error (only shown when it is a terminal).
    pub progress: bool,
    /// Run only the `GET` routes, whatever the server.
    pub read_only: bool,
    /// Run the writing steps (create, update, cancel, archive, delete) against a server that is
    /// not on a loopback address; without it they run only against loopback (a fake).
    pub allow_writes: bool,
}

impl std::fmt::Debug for LiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveOptions")
            .field("base_url", &self.base_url)
            .field("api_key", &"[hidden]")
            .field("user_agent", &self.user_agent)
            .field("record_dir", &self.record_dir)
            .field("record_format", &self.record_format)
            .field("provoke_limits", &self.provoke_limits)
            .field("group_appointment_id", &self.group_appointment_id)
            .field("patient_id", &self.patient_id)
            .field("read_only", &self.read_only)
            .field("allow_writes", &self.allow_writes)
            .finish()
    }
}

/// How a live run writes what it recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordFormat {
    /// One recording per exchange, `NN-operationId-STATUS.json` (the format `check` documents).
    #[default]
    Json,
    /// One HAR 1.2 archive, `live.har`, an entry per exchange in the order they were sent; the
    /// report names each exchange `live.har#entry-N`, as `check` does when it reads the file.
    Har,
}

/// The archive a HAR-recording run writes in its directory.
pub const HAR_FILE: &str = "live.har";

/// Why a live run stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// A recording could not be written.
    #[error("cannot write recording {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A step whose status was not the one the scenario expected (a note, not a spec violation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    /// The scenario step.
    pub step: String,
    /// The status the scenario expected.
    pub expected: u16,
    /// The status that came.
    pub found: u16,
}

/// The result of a live run.
#[derive(Debug, Default)]
pub struct LiveReport {
    /// Every exchange checked; `file` is the recording written, or `live:STEP`.
    pub report: Report,
    /// Steps that did not get the status the scenario expected.
    pub deviations: Vec<Deviation>,
    /// Steps skipped because an earlier one failed, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Steps whose request got no answer (connection refused, reset, timed out), with the error.
    pub failed: Vec<(String, String)>,
    /// Steps meant to succeed that the server refused with 401 or 403, with the status.
    pub refused: Vec<(String, u16)>,
    /// What the run left out on purpose, and why (`--read-only`, a server that is not loopback).
    pub notes: Vec<String>,
}

impl LiveReport {
    /// Every reason the run failed besides the violations: steps refused with 401 or 403, planned
    /// steps that did not run, steps without an answer. Each names its step.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (step, status) in &self.refused {
            out.push(format!(
                "step `{step}` was meant to succeed and was answered {status}: {}",
                if *status == 401 {
                    "the API key was refused (is CLINIKO_API_KEY right, and for this shard?)"
                } else {
                    "the key's user may not do this, or the User-Agent was refused"
                }
            ));
        }
        for (step, why) in &self.skipped {
            out.push(format!("step `{step}` did not run: {why}"));
        }
        for (step, error) in &self.failed {
            out.push(format!("step `{step}` got no answer: {error}"));
        }
        out
    }

    /// How the run ends: [`Outcome::Unreadable`] (exit 2) when the server could not be reached
    /// or nothing was checked, [`Outcome::Violations`] (exit 1) on a violation, a refused or
    /// a skipped step, [`Outcome::Conforms`] (exit 0) otherwise.
    pub fn outcome(&self) -> Outcome {
        if !self.failed.is_empty() || self.report.exchanges.is_empty() {
            Outcome::Unreadable
        } else if !self.refused.is_empty() || !self.skipped.is_empty() {
            Outcome::Violations
        } else {
            self.report.outcome()
        }
    }
}

struct Session<'a> {
    client: reqwest::Client,
    options: &'a LiveOptions,
    checker: &'a Checker,
    sink: Sink,
    out: LiveReport,
    planned: usize,
    done: usize,
    progress: bool,
    /// Whether the writing steps run.
    writes: bool,
    /// The scrubbed HAR entries so far, when recording HAR.
    har_entries: Vec<Value>,
}

/// Which credentials and headers a request goes with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Credentials {
    Valid,
    WrongKey,
    NoUserAgent,
}

struct Request<'s> {
    step: &'s str,
    method: reqwest::Method,
    url: String,
    body: Option<Vec<u8>>,
    credentials: Credentials,
    expected: Option<u16>,
}

/// About how many steps the scenario has, for the progress display: each resource's operations
/// and its error paths.
fn planned_steps() -> usize {
    cliniko_types::resource::RESOURCES
        .iter()
        .map(|resource| resource.operations.len() + 8)
        .sum()
}
const WRONG_KEY: &str = "cliniko-conformance-wrong-key";

/// Plays the scenario against `options.base_url`, checking every exchange with `checker`.
pub async fn run(options: &LiveOptions, checker: &Checker) -> Result<LiveReport, LiveError> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|error| LiveError::Client(error.to_string()))?;
    if let Some(dir) = &options.record_dir {
        std::fs::create_dir_all(dir).map_err(|source| LiveError::Write {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let loopback = is_loopback(&options.base_url);
    let writes = !options.read_only && (options.allow_writes || loopback);
    let mut notes = Vec::new();
    if options.read_only {
        notes.push("read-only: only the GET routes were run".to_owned());
    } else if !writes {
        notes.push(format!(
            "{} is not a loopback address: the writing steps (create, update, cancel, archive, delete) were not run; pass --allow-writes to run them against a test account",
            host_of(&options.base_url)
        ));
    }
    let mut session = Session {
        client,
        options,
        checker,
        sink: sink_for(options),
        out: LiveReport {
            notes,
            ..LiveReport::default()
        },
        planned: planned_steps() + if options.provoke_limits { 2 } else { 0 },
        done: 0,
        progress: options.progress && std::io::stderr().is_terminal(),
        writes,
        har_entries: Vec::new(),
    };
    let played = session.scenario().await;
    if session.progress {
        eprintln!();
    }
    // What was recorded before a failure is still written.
    if let Some(dir) = &options.record_dir
        && options.record_format == RecordFormat::Har
        && !session.har_entries.is_empty()
    {
        let path = dir.join(HAR_FILE);
        let document = crate::har::har_document(std::mem::take(&mut session.har_entries));
        write_json(&path, &document)?;
    }
    played?;
    Ok(session.out)
}

impl Session<'_> {
    async fn oversized_body(&mut self, url: &str) -> Result<(), LiveError> {
        let padding = "x".repeat(12 * 1024 * 1024);
        let step = "create with an oversized body";
        let body = json!({ "notes": padding });
        let (status, _) = self
            .request(Request {
                step,
                method: reqwest::Method::POST,
                url: url.to_owned(),
                body: Some(body.to_string().into_bytes()),
                credentials: Credentials::Valid,
                expected: Some(413),
            })
            .await?;
        // A server may answer 413 and close the connection before it has read the body (HTTP
        // allows it); the client then sees a broken connection instead of the answer.
        if status == 0
            && let Some((_, error)) = self.out.failed.pop()
        {
            self.out.notes.push(format!("step `{step}`: the server closed the connection without an answer the client could read ({error}); HTTP allows that for an oversized body"));
        }
        Ok(())
    }

    async fn rate_limit(&mut self, url: &str) -> Result<(), LiveError> {
        for _ in 0..300 {
            let (status, _) = self
                .exchange(
                    Request {
                        step: "provoke the rate limit",
                        method: reqwest::Method::GET,
                        url: format!("{url}?per_page=1"),
                        body: None,
                        credentials: Credentials::Valid,
                        expected: None,
                    },
                    false,
                )
                .await?;
            match status {
                // 0: no answer, already noted in `failed`.
                0 | 429 => return Ok(()),
                _ => {}
            }
        }
        self.skip(
            "provoke the rate limit",
            "300 requests were not rate limited",
        );
        Ok(())
    }

    async fn get(
        &mut self,
        step: &str,
        url: &str,
        expected: Option<u16>,
    ) -> Result<Option<Value>, LiveError> {
        let (_, body) = self
            .request(Request {
                step,
                method: reqwest::Method::GET,
                url: url.to_owned(),
                body: None,
                credentials: Credentials::Valid,
                expected,
            })
            .await?;
        Ok(body)
    }

    async fn send_json(
        &mut self,
        step: &str,
        method: reqwest::Method,
        url: &str,
        body: &Value,
        expected: Option<u16>,
    ) -> Result<Option<Value>, LiveError> {
        let (_, body) = self
            .request(Request {
                step,
                method,
                url: url.to_owned(),
                body: Some(body.to_string().into_bytes()),
                credentials: Credentials::Valid,
                expected,
            })
            .await?;
        Ok(body)
    }

    fn skip(&mut self, step: &str, why: &str) {
        self.out.skipped.push((step.to_owned(), why.to_owned()));
    }

    /// Sends one request, checks and records the exchange. A request that gets no answer is
    /// noted in [`LiveReport::failed`] and gives status 0, so that the scenario goes on.
    async fn request(&mut self, request: Request<'_>) -> Result<(u16, Option<Value>), LiveError> {
        self.exchange(request, true).await
    }

    /// Sends one request; with `keep` the exchange is checked and recorded, otherwise only sent
    /// (the rate-limit loop keeps just the 429).
    async fn exchange(
        &mut self,
        request: Request<'_>,
        keep: bool,
    ) -> Result<(u16, Option<Value>), LiveError> {
        let step = request.step.to_owned();
        if self.progress && keep {
            self.done += 1;
            eprint!(
                "\r\x1b[2K[{:>2}/{}] {step}",
                self.done,
                self.planned.max(self.done)
            );
            let _ = std::io::stderr().flush();
        }
        let mut headers = Headers::new();
        headers.append("accept", "application/json");
        if request.credentials != Credentials::NoUserAgent {
            headers.append("user-agent", self.options.user_agent.clone());
        }
        if request.body.is_some() {
            headers.append("content-type", "application/json");
        }
        let mut builder = self.client.request(request.method.clone(), &request.url);
        for (name, value) in headers.iter() {
            builder = builder.header(name, value);
        }
        builder = match request.credentials {
            Credentials::WrongKey => builder.basic_auth(WRONG_KEY, Some("")),
            Credentials::Valid | Credentials::NoUserAgent => {
                builder.basic_auth(&self.options.api_key, Some(""))
            }
        };
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let started = chrono::Utc::now();
        let timer = std::time::Instant::now();
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => {
                let message = self.sink.text(&error.without_url().to_string());
                self.out.failed.push((step, message));
                return Ok((0, None));
            }
        };
        let status = response.status().as_u16();
        let mut response_headers = Headers::new();
        for (name, value) in response.headers() {
            response_headers.append(
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            );
        }
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                let message = self.sink.text(&error.without_url().to_string());
                self.out.failed.push((step, message));
                return Ok((0, None));
            }
        };
        let elapsed = timer.elapsed();
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !keep && status != 429 {
            return Ok((status, parsed));
        }
        let exchange = exchange_of(
            request.method.as_str(),
            &request.url,
            headers,
            request.body.as_deref(),
            status,
            response_headers,
            &bytes,
        );
        // The check sees what the server sent; only what is written or reported is scrubbed.
        let Sunk { verdict, scrubbed } = self.sink.take(self.checker, &exchange);
        let (file, index) = match (&self.options.record_dir, self.options.record_format) {
            (Some(dir), RecordFormat::Json) => {
                let sequence = self.out.report.exchanges.len() + 1;
                let operation = verdict.operation.as_deref().unwrap_or("unknown");
                let path = dir.join(format!("{sequence:02}-{operation}-{status}.json"));
                self.sink
                    .write(&path, &scrubbed)
                    .map_err(|source| LiveError::Write {
                        path: path.display().to_string(),
                        source,
                    })?;
                (path.display().to_string(), None)
            }
            (Some(dir), RecordFormat::Har) => {
                let index = self.har_entries.len();
                self.har_entries
                    .push(crate::har::har_entry(&scrubbed, started, elapsed));
                (dir.join(HAR_FILE).display().to_string(), Some(index))
            }
            (None, _) => (format!("live:{step}"), None),
        };
        if request
            .expected
            .is_some_and(|expected| (200..300).contains(&expected))
            && matches!(status, 401 | 403)
        {
            self.out.refused.push((step.clone(), status));
        }
        if let Some(expected) = request.expected
            && expected != status
        {
            self.out.deviations.push(Deviation {
                step: step.clone(),
                expected,
                found: status,
            });
        }
        self.out.report.exchanges.push(ExchangeReport {
            file,
            index,
            verdict,
        });
        Ok((status, parsed))
    }
}

/// The sink of a live run: its scrubber knows the run's API key and the server's origin.
pub(crate) fn sink_for(options: &LiveOptions) -> Sink {
    Sink::new(Scrubber::new(&options.api_key).with_origin(&origin_of(&options.base_url)))
}

/// One exchange of a live run as it happened: the request as sent (its `Authorization` is added
/// by the HTTP client, so not among `headers`), and the answer's status, headers and bytes.
pub(crate) fn exchange_of(
    method: &str,
    url: &str,
    headers: Headers,
    request_body: Option<&[u8]>,
    status: u16,
    response_headers: Headers,
    response_body: &[u8],
) -> Exchange {
    Exchange {
        request: RecordedRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            headers,
            body: request_body.map_or(Body::Empty, sink::body),
        },
        response: RecordedResponse {
            status,
            headers: response_headers,
            body: sink::body(response_body),
        },
    }
}

fn write_json(path: &Path, document: &Value) -> Result<(), LiveError> {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    std::fs::write(path, text).map_err(|source| LiveError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// `scheme://host:port` of a URL; empty when it is not an absolute URL.
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => parsed.origin().ascii_serialization(),
        _ => String::new(),
    }
}

/// The host a base URL names, for messages.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|parsed| parsed.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// Whether a base URL names this machine: `localhost`, or an address in 127.0.0.0/8 or `::1`.
fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost")
                || domain.to_ascii_lowercase().ends_with(".localhost")
        }
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://127.8.9.10/v1"));
        assert!(is_loopback("http://localhost:1/v1"));
        assert!(is_loopback("http://[::1]:8080/v1"));
        assert!(!is_loopback("https://api.au1.cliniko.com/v1"));
        assert!(!is_loopback("http://10.0.0.1/v1"));
        assert!(!is_loopback("http://127.0.0.1.nip.io/v1"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn origins_keep_scheme_host_and_port() {
        assert_eq!(origin_of("http://127.0.0.1:9/v1"), "http://127.0.0.1:9");
        assert_eq!(
            origin_of("https://api.au1.cliniko.com/v1"),
            "https://api.au1.cliniko.com"
        );
        assert_eq!(origin_of("/v1"), "");
    }
}
