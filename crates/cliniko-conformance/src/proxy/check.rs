//! The checker threads: each exchange passed on whole is checked, reported and recorded behind the answers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use bytes::Bytes;
use serde_json::Value;

use crate::check::Checker;
use crate::recording::{Body, Exchange, Headers, RecordedRequest, RecordedResponse};
use crate::report::ExchangeReport;
use crate::scrub::Scrubber;

use super::forward::Shared;
use super::redact::redact;
use super::report::{Collected, ProxyEvent, ProxyFailure};

/// Work for the checker threads.
pub(super) enum Job {
    Check(Box<Captured>),
    Stop,
}

/// An exchange as the upstream saw and sent it, complete.
pub(super) struct Captured {
    pub(super) sequence: usize,
    /// The request, its body still to be read from `request_body` (off the forwarding path).
    pub(super) request: RecordedRequest,
    pub(super) request_body: Bytes,
    /// The API key from `Authorization` (for the scrubber), if it held one.
    pub(super) api_key: Option<String>,
    pub(super) status: u16,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
}

impl Captured {
    /// What it holds in bodies, as counted against [`MAX_PENDING_CHECK_BYTES`].
    pub(super) fn bytes(&self) -> usize {
        self.request_body.len() + self.body.len()
    }
}

/// What a checker thread needs.
#[derive(Clone)]
pub(super) struct Worker {
    pub(super) checker: Arc<Checker>,
    pub(super) jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    pub(super) collected: Arc<Mutex<Collected>>,
    pub(super) record_dir: Option<PathBuf>,
    pub(super) upstream_origin: String,
    pub(super) shared: Arc<Shared>,
    /// Whether it gives way to forwarding: true while the proxy serves, false for the threads
    /// that help finish the checks at shutdown.
    pub(super) gives_way: bool,
}

impl Worker {
    pub(super) fn spawn(&self, n: usize) -> std::io::Result<std::thread::JoinHandle<()>> {
        let worker = self.clone();
        std::thread::Builder::new()
            .name(format!("proxy-checker-{n}"))
            .spawn(move || worker.run())
    }

    pub(super) fn run(self) {
        if self.gives_way {
            lower_this_threads_priority();
        }
        loop {
            let job = {
                let jobs = self
                    .jobs
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                jobs.recv()
            };
            match job {
                Ok(Job::Check(captured)) => {
                    let bytes = captured.bytes();
                    self.check(*captured);
                    self.shared.pending.send_modify(|pending| {
                        pending.exchanges -= 1;
                        pending.bytes -= bytes;
                    });
                }
                Ok(Job::Stop) | Err(_) => return,
            }
        }
    }

    pub(super) fn check(&self, captured: Captured) {
        let Captured {
            sequence,
            mut request,
            request_body,
            api_key,
            status,
            headers,
            body,
        } = captured;
        request.body = recorded_body(&request_body);
        drop(request_body);
        let exchange = Exchange {
            request,
            response: RecordedResponse {
                status,
                headers,
                body: recorded_body(&body),
            },
        };
        drop(body);
        // The check sees the exchange exactly as it happened; only what it reports is redacted.
        let secrets = self.shared.secrets.all();
        let mut verdict = self.checker.check(&exchange);
        verdict.method = redact(&verdict.method, &secrets).into_owned();
        verdict.path = redact(&verdict.path, &secrets).into_owned();
        // A violation quotes what was sent, and an upstream may echo a key.
        let change = |text: &str| redact(text, &secrets).into_owned();
        verdict.violations = verdict
            .violations
            .into_iter()
            .map(|violation| violation.map_text(&change))
            .collect();
        verdict.notes = verdict
            .notes
            .into_iter()
            .map(|note| note.map_text(&change))
            .collect();
        let file = match &self.record_dir {
            None => format!("proxy:{sequence}"),
            Some(dir) => {
                let operation = verdict.operation.as_deref().unwrap_or("unknown");
                let path = dir.join(format!("{sequence:04}-{operation}-{status}.json"));
                match self.record(&path, &exchange, api_key.as_deref(), &secrets) {
                    Ok(()) => path.display().to_string(),
                    Err(source) => {
                        self.shared.fail(ProxyFailure::Record {
                            path: path.display().to_string(),
                            source,
                        });
                        format!("proxy:{sequence}")
                    }
                }
            }
        };
        let report = ExchangeReport {
            file,
            index: None,
            verdict,
        };
        if !report.verdict.conforms() {
            (self.shared.observer)(ProxyEvent::Violations(report.clone()));
        }
        self.collected
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .exchanges
            .push((sequence, report));
    }

    pub(super) fn record(
        &self,
        path: &Path,
        exchange: &Exchange,
        api_key: Option<&str>,
        secrets: &[String],
    ) -> std::io::Result<()> {
        let scrubber = Scrubber::new(api_key.unwrap_or("")).with_origin(&self.upstream_origin);
        let scrubbed = scrubber.exchange(exchange);
        let mut text =
            serde_json::to_string_pretty(&scrubbed.to_recorded()).map_err(std::io::Error::other)?;
        text.push('\n');
        // The scrubber knows the key and its Basic token; a token with a password, a bearer
        // token, or another app's key passing through the same proxy are removed here.
        let text = redact(&text, secrets);
        std::fs::write(path, text.as_bytes())
    }
}

pub(super) fn recorded_body(bytes: &[u8]) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    // `parse_json` reads what serde_json reads, into the same value, in about half the time
    // for a page of attendees; JSON is UTF-8, so text that is not is not JSON either.
    match std::str::from_utf8(bytes).map(crate::recording::parse_json) {
        // A JSON string body is kept as raw text, as the recording format requires.
        Ok(Ok(Value::String(_)) | Err(_)) | Err(_) => {
            Body::Text(String::from_utf8_lossy(bytes).into_owned())
        }
        Ok(Ok(value)) => Body::Json(value),
    }
}

/// Makes the calling thread the last to get a core, so that a burst of checks is worked off in
/// the time forwarding leaves free instead of delaying answers: `SCHED_IDLE`, which a waking
/// forwarding thread always preempts at once (nice 19 alone did not: measured at 1,000 requests
/// a second on two cores, one round in four had a p99 of 80 ms, against under 5 ms for every
/// round with `SCHED_IDLE`), and nice 19 in case that is refused. On Linux both apply to the
/// calling thread only (id 0). Best effort: a refusal leaves the thread as it was, and the checks
/// still all run.
pub(super) fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority and sched_setscheduler read plain integers and one `sched_param` that
    // lives across the call, and touch no other memory.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        let param = libc::sched_param { sched_priority: 0 };
        let _ = libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
    }
}
