//! The checker threads: each exchange passed on whole is checked, reported and recorded behind the answers.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};

use crate::check::Checker;
use crate::report::ExchangeReport;
use crate::scrub::Scrubber;
use crate::sink::{Sink, Sunk};

use super::captured::{Captured, Job};
use super::forward::Shared;
use super::report::{Collected, ProxyEvent, ProxyFailure};

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
        let sequence = captured.sequence;
        let status = captured.status;
        let sink = sink_for(
            &self.upstream_origin,
            captured.api_key.as_deref(),
            self.shared.secrets.all(),
        );
        // Not recording, the answer is checked as received, read once into a zero-copy DOM; a
        // recording needs the bodies as values, to scrub and write them.
        let (verdict, scrubbed) = if self.record_dir.is_none() {
            let mut captured = captured;
            let body = std::mem::take(&mut captured.body);
            let exchange = captured.into_exchange();
            let verdict = sink.verdict(self.checker.check_received(&exchange, &body));
            (verdict, None)
        } else {
            let exchange = captured.into_exchange();
            let Sunk { verdict, scrubbed } = sink.take(&self.checker, &exchange);
            (verdict, Some(scrubbed))
        };
        let file = match &self.record_dir {
            None => format!("proxy:{sequence}"),
            Some(dir) => {
                let operation = verdict.operation.as_deref().unwrap_or("unknown");
                let path = dir.join(format!("{sequence:04}-{operation}-{status}.json"));
                match scrubbed
                    .as_ref()
                    .map_or(Ok(()), |scrubbed| sink.write(&path, scrubbed))
                {
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
}

/// The sink of one exchange through an upstream at `upstream_origin`: its scrubber knows the API
/// key of the request's `Authorization` (if it held one) and the upstream's origin; `secrets`
/// (every credential the proxy has seen: a bearer token, a token with a password, another app's
/// key passing through the same proxy) are removed besides.
pub(super) fn sink_for(
    upstream_origin: &str,
    api_key: Option<&str>,
    secrets: Arc<Vec<String>>,
) -> Sink {
    Sink::new(Scrubber::new(api_key.unwrap_or("")).with_origin(upstream_origin))
        .with_secrets(secrets)
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

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use bytes::Bytes;
    use http::header::{self, HeaderMap, HeaderValue};

    use super::*;
    use crate::live::{LiveOptions, RecordFormat, exchange_of};
    use crate::proxy::redact::{Secrets, credentials};
    use crate::recording::{Headers, RecordedRequest};

    const KEY: &str = "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2";
    const ORIGIN: &str = "http://127.0.0.1:18089";

    /// The exchange a live run and the proxy both saw, as each one captures it: the key in the
    /// path (so in the verdict), the origin in the links, personal fields, and a violation.
    fn raw() -> (Headers, Vec<u8>, Headers, Vec<u8>) {
        let mut request_headers = Headers::new();
        request_headers.append("accept", "application/json");
        request_headers.append("user-agent", "Someone (someone@private.example)");
        let mut response_headers = Headers::new();
        response_headers.append("content-type", "application/json; charset=utf-8");
        let body = serde_json::json!({
            "id": 7, "notes": "Allergic to cats", "booking_ip_address": "10.1.2.3",
            "telehealth_url": "https://clinic.au1.cliniko.com/appointments/1/connect",
            "links": { "self": format!("{ORIGIN}/v1/attendees/{KEY}") },
        });
        (
            request_headers,
            Vec::new(),
            response_headers,
            serde_json::to_vec(&body).expect("JSON"),
        )
    }

    #[test]
    fn live_and_the_proxy_give_the_same_recording_and_verdict_for_one_exchange() {
        let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
        let checker = Checker::new(&spec, crate::CheckOptions::default()).expect("it compiles");
        let url = format!("{ORIGIN}/v1/attendees/{KEY}");
        let (request_headers, request_body, response_headers, response_body) = raw();

        // Live: the key is the run's; the HTTP client adds `Authorization` itself.
        let options = LiveOptions {
            base_url: format!("{ORIGIN}/v1"),
            api_key: KEY.to_owned(),
            user_agent: "Someone (someone@private.example)".to_owned(),
            record_dir: None,
            record_format: RecordFormat::Json,
            provoke_limits: false,
            group_appointment_id: None,
            patient_id: None,
            progress: false,
            read_only: true,
            allow_writes: false,
        };
        let live = crate::live::sink_for(&options).take(
            &checker,
            &exchange_of(
                "GET",
                &url,
                request_headers.clone(),
                None,
                200,
                response_headers.clone(),
                &response_body,
            ),
        );

        // The proxy: the key and every token come from the app's `Authorization`.
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
        let mut sent = HeaderMap::new();
        sent.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).expect("a header value"),
        );
        let (found, api_key) = credentials(&sent);
        let secrets = Secrets::default();
        secrets.add(&found);
        let mut proxied_headers = request_headers;
        proxied_headers.append("authorization", format!("Basic {token}"));
        let captured = Captured {
            sequence: 1,
            request: RecordedRequest {
                method: "GET".to_owned(),
                url,
                headers: proxied_headers,
                body: crate::recording::Body::Empty,
            },
            request_body: Bytes::from(request_body),
            api_key,
            status: 200,
            headers: response_headers,
            body: response_body,
        };
        let sink = sink_for(ORIGIN, captured.api_key.as_deref(), secrets.all());
        let proxied = sink.take(&checker, &captured.into_exchange());

        assert_eq!(proxied.verdict, live.verdict);
        assert_eq!(proxied.scrubbed, live.scrubbed);
        let recording = crate::live::sink_for(&options).recording(&live.scrubbed);
        assert_eq!(sink.recording(&proxied.scrubbed), recording);

        // And what both give is scrubbed: the check ran on what was sent, found the violation,
        // and neither the key, its token, the origin nor the personal data is left.
        assert!(
            live.verdict
                .violations
                .iter()
                .any(|v| v.pointer() == Some("/id")),
            "{:?}",
            live.verdict
        );
        assert_eq!(live.verdict.path, "/attendees/[redacted]");
        let verdict = format!("{:?}", live.verdict);
        for secret in [
            KEY,
            token.as_str(),
            ORIGIN,
            "10.1.2.3",
            "Allergic",
            "private.example",
        ] {
            assert!(!recording.contains(secret), "{secret} in {recording}");
            assert!(!verdict.contains(secret), "{secret} in {verdict}");
        }
        assert!(recording.contains("https://cliniko.invalid/v1/attendees/[redacted]"));
    }
}
