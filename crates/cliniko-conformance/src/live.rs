//! Live runs: a scenario played against a server, every exchange checked and optionally recorded.
//!
//! The scenario lists attendees on every list route, filters, follows `links.next`, gets one,
//! creates three (one per way of ending: cancel, archive, delete), updates with `PATCH` and `PUT`,
//! and provokes the error paths a well-behaved client can reach: a missing attendee (404), invalid
//! bodies (422), a malformed body and a bad filter (400), a wrong key (401) and a request without a
//! `User-Agent`. With [`LiveOptions::provoke_limits`] it also sends an oversized body (413) and
//! requests until it is rate limited (429); leave that off against a real account.
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

use crate::check::Checker;
use crate::recording::{Body, Exchange, Headers, RecordedRequest, RecordedResponse};
use crate::report::{ExchangeReport, Outcome, Report};
use crate::scrub::Scrubber;

/// What a live run needs.
#[derive(Clone)]
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
    /// A group appointment whose attendees the scenario may add and cancel; found from the
    /// first page of attendees when `None`.
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
    scrubber: Scrubber,
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

/// The number of steps of the scenario, for the progress display.
const PLANNED_STEPS: usize = 27;
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
        scrubber: Scrubber::new(&options.api_key).with_origin(&origin_of(&options.base_url)),
        out: LiveReport {
            notes,
            ..LiveReport::default()
        },
        planned: PLANNED_STEPS + if options.provoke_limits { 2 } else { 0 },
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
    async fn scenario(&mut self) -> Result<(), LiveError> {
        let base = self.options.base_url.trim_end_matches('/').to_owned();

        let first = self
            .get(
                "list attendees",
                &format!("{base}/attendees?per_page=5"),
                Some(200),
            )
            .await?;
        let attendees: Vec<Value> = first
            .as_ref()
            .and_then(|b| b.get("attendees"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match first
            .as_ref()
            .and_then(|b| b.pointer("/links/next"))
            .and_then(Value::as_str)
        {
            Some(next) => {
                let next = next.to_owned();
                self.get("follow links.next", &next, Some(200)).await?;
            }
            None => self.skip("follow links.next", "the first page has no `links.next`"),
        }
        let patient_id = self.options.patient_id.clone().or_else(|| {
            attendees
                .iter()
                .find_map(|a| link_id(a, "/patient/links/self"))
        });
        match &patient_id {
            Some(patient) => {
                self.get(
                    "filter by patient",
                    &format!("{base}/attendees?per_page=5&q%5B%5D=patient_id:%3D{patient}"),
                    Some(200),
                )
                .await?;
            }
            None => self.skip("filter by patient", "no patient known"),
        }
        self.get("filter by update time", &format!("{base}/attendees?per_page=5&sort=updated_at:desc&q%5B%5D=updated_at:%3E2000-01-01T00:00:00Z"), Some(200)).await?;
        self.get(
            "list deleted attendees",
            &format!("{base}/attendees/deleted?per_page=5"),
            Some(200),
        )
        .await?;
        self.get(
            "list cancelled attendees",
            &format!("{base}/attendees/cancelled?per_page=5"),
            Some(200),
        )
        .await?;

        // Each booking link names a group or an individual appointment; the nested list routes
        // tell which, and each is exercised once.
        let mut group = self.options.group_appointment_id.clone();
        let mut individual_listed = false;
        for attendee in &attendees {
            if group.is_some() && individual_listed {
                break;
            }
            let Some(booking) = link_id(attendee, "/booking/links/self") else {
                continue;
            };
            if group.is_none() {
                let found = self
                    .request(Request {
                        step: "list a group appointment's attendees",
                        method: reqwest::Method::GET,
                        url: format!("{base}/group_appointments/{booking}/attendees"),
                        body: None,
                        credentials: Credentials::Valid,
                        expected: None,
                    })
                    .await?;
                if found.0 == 200 {
                    group = Some(booking);
                    continue;
                }
            }
            if !individual_listed {
                let found = self
                    .request(Request {
                        step: "list an individual appointment's attendees",
                        method: reqwest::Method::GET,
                        url: format!("{base}/individual_appointments/{booking}/attendees"),
                        body: None,
                        credentials: Credentials::Valid,
                        expected: None,
                    })
                    .await?;
                individual_listed = found.0 == 200;
            }
        }
        if let Some(group) = &group {
            self.get(
                "list a group appointment's attendees",
                &format!("{base}/group_appointments/{group}/attendees?per_page=5"),
                Some(200),
            )
            .await?;
        }
        if !individual_listed {
            self.get(
                "list an unknown individual appointment's attendees",
                &format!("{base}/individual_appointments/9223372036854775807/attendees"),
                Some(404),
            )
            .await?;
        }
        match attendees
            .iter()
            .find_map(|a| link_id(a, "/patient_case/links/self"))
        {
            Some(case) => {
                self.get(
                    "list a patient case's attendees",
                    &format!("{base}/patient_cases/{case}/attendees"),
                    Some(200),
                )
                .await?;
            }
            None => {
                self.get(
                    "list an unknown patient case's attendees",
                    &format!("{base}/patient_cases/9223372036854775807/attendees"),
                    Some(404),
                )
                .await?;
            }
        }
        match attendees
            .first()
            .and_then(|a| a.get("id"))
            .and_then(Value::as_str)
        {
            Some(id) => {
                self.get(
                    "get an attendee",
                    &format!("{base}/attendees/{id}"),
                    Some(200),
                )
                .await?;
            }
            None => self.skip("get an attendee", "the first page is empty"),
        }
        self.get(
            "get a missing attendee",
            &format!("{base}/attendees/9223372036854775807"),
            Some(404),
        )
        .await?;

        if !self.writes {
            return self.error_paths(&base, None).await;
        }
        let (Some(group), Some(patient)) = (group, patient_id) else {
            for step in [
                "create",
                "update",
                "update via PUT",
                "cancel",
                "get a cancelled attendee",
                "archive",
                "delete",
            ] {
                self.skip(
                    step,
                    "no group appointment and patient to create attendees with",
                );
            }
            return self.error_paths(&base, None).await;
        };
        let create = json!({ "booking_id": group, "patient_id": patient, "notes": "Created by cliniko-conformance" });
        let created = self
            .send_json(
                "create an attendee",
                reqwest::Method::POST,
                &format!("{base}/attendees"),
                &create,
                Some(201),
            )
            .await?;
        let new_id = created.and_then(|b| b.get("id").and_then(Value::as_str).map(str::to_owned));
        if let Some(id) = &new_id {
            let url = format!("{base}/attendees/{id}");
            self.send_json(
                "update an attendee",
                reqwest::Method::PATCH,
                &url,
                &json!({ "arrived": true }),
                Some(200),
            )
            .await?;
            self.send_json(
                "update an attendee via PUT",
                reqwest::Method::PUT,
                &url,
                &json!({ "notes": "Updated by cliniko-conformance" }),
                Some(200),
            )
            .await?;
            self.send_json(
                "cancel an attendee",
                reqwest::Method::PATCH,
                &format!("{url}/cancel"),
                &json!({ "cancellation_reason": 50, "cancellation_note": "Cancelled by cliniko-conformance" }),
                Some(204),
            )
            .await?;
            self.get(
                "get a cancelled attendee",
                &format!("{url}?q%5B%5D=cancelled_at:*"),
                Some(200),
            )
            .await?;
        } else {
            for step in [
                "update",
                "update via PUT",
                "cancel",
                "get a cancelled attendee",
            ] {
                self.skip(step, "the create did not give an attendee");
            }
        }
        for (step, method, suffix) in [
            ("archive an attendee", reqwest::Method::POST, "/archive"),
            ("delete an attendee", reqwest::Method::DELETE, ""),
        ] {
            let created = self
                .send_json(
                    "create an attendee",
                    reqwest::Method::POST,
                    &format!("{base}/attendees"),
                    &create,
                    Some(201),
                )
                .await?;
            match created
                .as_ref()
                .and_then(|b| b.get("id"))
                .and_then(Value::as_str)
            {
                Some(id) => {
                    self.request(Request {
                        step,
                        method,
                        url: format!("{base}/attendees/{id}{suffix}"),
                        body: None,
                        credentials: Credentials::Valid,
                        expected: Some(204),
                    })
                    .await?;
                }
                None => self.skip(step, "the create did not give an attendee"),
            }
        }
        self.error_paths(&base, new_id.as_deref()).await
    }

    async fn error_paths(&mut self, base: &str, some_id: Option<&str>) -> Result<(), LiveError> {
        let attendees = format!("{base}/attendees");
        if self.writes {
            self.invalid_writes(&attendees, some_id).await?;
        }
        self.get(
            "filter on an unknown field",
            &format!("{attendees}?q%5B%5D=colour:%3Dred"),
            Some(400),
        )
        .await?;
        self.request(Request {
            step: "list with a wrong key",
            method: reqwest::Method::GET,
            url: attendees.clone(),
            body: None,
            credentials: Credentials::WrongKey,
            expected: Some(401),
        })
        .await?;
        self.request(Request {
            step: "list without a User-Agent",
            method: reqwest::Method::GET,
            url: attendees.clone(),
            body: None,
            credentials: Credentials::NoUserAgent,
            expected: None,
        })
        .await?;
        if !self.options.provoke_limits {
            return Ok(());
        }
        if self.writes {
            self.oversized_body(&attendees).await?;
        }
        self.rate_limit(&attendees).await
    }

    /// Requests that write, each invalid: the server should refuse every one.
    async fn invalid_writes(
        &mut self,
        attendees: &str,
        some_id: Option<&str>,
    ) -> Result<(), LiveError> {
        self.send_json(
            "create without a booking or patient",
            reqwest::Method::POST,
            attendees,
            &json!({}),
            Some(422),
        )
        .await?;
        let id = some_id.unwrap_or("9223372036854775807");
        self.send_json(
            "cancel without a reason",
            reqwest::Method::PATCH,
            &format!("{attendees}/{id}/cancel"),
            &json!({}),
            None,
        )
        .await?;
        self.send_json(
            "update a missing attendee",
            reqwest::Method::PATCH,
            &format!("{attendees}/9223372036854775807"),
            &json!({ "arrived": true }),
            Some(404),
        )
        .await?;
        self.request(Request {
            step: "create with a malformed body",
            method: reqwest::Method::POST,
            url: attendees.to_owned(),
            body: Some(b"{\"booking_id\":".to_vec()),
            credentials: Credentials::Valid,
            expected: Some(400),
        })
        .await?;
        Ok(())
    }

    async fn oversized_body(&mut self, attendees: &str) -> Result<(), LiveError> {
        let notes = "x".repeat(12 * 1024 * 1024);
        let step = "create with an oversized body";
        let body = json!({ "booking_id": "1", "patient_id": "1", "notes": notes });
        let (status, _) = self
            .request(Request {
                step,
                method: reqwest::Method::POST,
                url: attendees.to_owned(),
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

    async fn rate_limit(&mut self, attendees: &str) -> Result<(), LiveError> {
        for _ in 0..300 {
            let (status, _) = self
                .exchange(
                    Request {
                        step: "provoke the rate limit",
                        method: reqwest::Method::GET,
                        url: format!("{attendees}?per_page=1"),
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
                let message = self.scrubber.text(&error.without_url().to_string());
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
                let message = self.scrubber.text(&error.without_url().to_string());
                self.out.failed.push((step, message));
                return Ok((0, None));
            }
        };
        let elapsed = timer.elapsed();
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !keep && status != 429 {
            return Ok((status, parsed));
        }
        let exchange = Exchange {
            request: RecordedRequest {
                method: request.method.as_str().to_owned(),
                url: request.url.clone(),
                headers,
                body: match &request.body {
                    None => Body::Empty,
                    Some(bytes) => recorded_body(bytes),
                },
            },
            response: RecordedResponse {
                status,
                headers: response_headers,
                body: recorded_body(&bytes),
            },
        };
        // The check sees what the server sent; only what is written or reported is scrubbed.
        let verdict = self.scrubber.verdict(self.checker.check(&exchange));
        let scrubbed = self.scrubber.exchange(&exchange);
        let (file, index) = match (&self.options.record_dir, self.options.record_format) {
            (Some(dir), RecordFormat::Json) => {
                let sequence = self.out.report.exchanges.len() + 1;
                let operation = verdict.operation.as_deref().unwrap_or("unknown");
                let path = dir.join(format!("{sequence:02}-{operation}-{status}.json"));
                write_json(&path, &scrubbed.to_recorded())?;
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

fn recorded_body(bytes: &[u8]) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    match serde_json::from_slice::<Value>(bytes) {
        // A JSON string body is kept as raw text, as the recording format requires.
        Ok(Value::String(_)) | Err(_) => Body::Text(String::from_utf8_lossy(bytes).into_owned()),
        Ok(value) => Body::Json(value),
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

/// The last path segment of the link at `pointer`, when it is an ID.
fn link_id(attendee: &Value, pointer: &str) -> Option<String> {
    let link = attendee.pointer(pointer)?.as_str()?;
    let last = link
        .split(['?', '#'])
        .next()?
        .trim_end_matches('/')
        .rsplit('/')
        .next()?;
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())).then(|| last.to_owned())
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
