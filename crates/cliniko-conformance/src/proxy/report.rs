//! What the proxy reports: events as they happen, failures, the backlog of checks and the final report.

use crate::report::{ExchangeReport, Outcome, Report};

use super::MAX_CHECKED_BODY;

/// An exchange the proxy could not forward, check or record. Each one is reported as it happens
/// and makes the run end with exit status 2 unless a violation was found.
#[derive(Debug, thiserror::Error)]
pub enum ProxyFailure {
    /// The request is not under the upstream's base path; it was answered 404 by the proxy.
    #[error("{method} {path}: not under {base_path}, so not forwarded")]
    OutsideBasePath {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The base path the proxy forwards.
        base_path: String,
    },
    /// The app's request body could not be read, or was too large to forward.
    #[error("{method} {path}: the request could not be forwarded: {reason}")]
    Request {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The upstream did not answer; the app got 502.
    #[error("{method} {path}: the upstream did not answer: {reason}")]
    NoAnswer {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The connection error.
        reason: String,
    },
    /// The answer broke off, or the app hung up before it ended; the exchange was not checked.
    #[error("{method} {path}: the answer did not arrive whole ({reason}), so it was not checked")]
    Incomplete {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// What happened.
        reason: String,
    },
    /// The answer was larger than [`MAX_CHECKED_BODY`]; it was passed on but not checked.
    #[error("{method} {path}: the answer is over {MAX_CHECKED_BODY} bytes, so it was not checked")]
    TooLargeToCheck {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
    },
    /// A recording could not be written.
    #[error("cannot write recording {path}: {source}")]
    Record {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// What the proxy reports while it runs.
#[derive(Debug)]
pub enum ProxyEvent {
    /// The proxy is ready.
    Listening {
        /// The base URL to point the app at (`http://127.0.0.1:8080/v1`).
        base_url: String,
        /// The upstream's base URL.
        upstream: String,
    },
    /// An exchange was checked and has violations.
    Violations(ExchangeReport),
    /// An exchange could not be forwarded, checked or recorded.
    Failed(ProxyFailure),
}

/// `Listening` is one line; `Violations` one line per violation (operation, request, status, kind,
/// pointer, message); `Failed` one line starting with `error:`.
impl std::fmt::Display for ProxyEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Listening { base_url, upstream } => write!(
                f,
                "proxying {base_url} to {upstream}; stop with Ctrl-C or SIGTERM for the report"
            ),
            Self::Violations(exchange) => {
                let verdict = &exchange.verdict;
                let operation = verdict.operation.as_deref().unwrap_or("(no operation)");
                for (n, violation) in verdict.violations.iter().enumerate() {
                    if n > 0 {
                        writeln!(f)?;
                    }
                    write!(
                        f,
                        "violation: {operation} ({} {} -> {}): {}",
                        verdict.method,
                        verdict.path,
                        verdict.status,
                        violation.kind()
                    )?;
                    let message = violation.to_string();
                    match violation.pointer() {
                        Some(pointer) => {
                            let shown = if pointer.is_empty() {
                                "the root"
                            } else {
                                pointer
                            };
                            // Most messages with a pointer already start with it.
                            let message = message
                                .strip_prefix(&format!("at {pointer}: "))
                                .or_else(|| message.strip_prefix("at the root: "))
                                .unwrap_or(&message);
                            write!(f, " at {shown}: {message}")?;
                        }
                        None => write!(f, ": {message}")?,
                    }
                }
                Ok(())
            }
            Self::Failed(failure) => write!(f, "error: {failure}"),
        }
    }
}

/// What a proxy run found.
#[derive(Debug, Default)]
pub struct ProxyReport {
    /// Every exchange checked, in the order the requests arrived. `file` is the recording written,
    /// or `proxy:N` for the N-th request.
    pub report: Report,
    /// How many exchanges could not be forwarded, checked or recorded (each was reported as a
    /// [`ProxyEvent::Failed`]).
    pub failures: usize,
}

impl ProxyReport {
    /// How the run ends: [`Outcome::Violations`] (exit 1) when any exchange violated the spec;
    /// otherwise [`Outcome::Unreadable`] (exit 2) when no exchange was checked at all, since a
    /// check that checked nothing is not a pass, or when an exchange could not be forwarded,
    /// checked or recorded; otherwise [`Outcome::Conforms`] (exit 0).
    pub fn outcome(&self) -> Outcome {
        let summary = self.report.summary();
        if summary.failing > 0 {
            Outcome::Violations
        } else if summary.exchanges == 0 || self.failures > 0 {
            Outcome::Unreadable
        } else {
            Outcome::Conforms
        }
    }
}

/// The exchanges a [`Proxy`] has passed on whole and not yet checked. Checks run behind the
/// answers; once [`MAX_PENDING_CHECK_BYTES`] wait, new requests wait for them to catch up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingChecks {
    /// How many exchanges wait.
    pub exchanges: usize,
    /// Their request and answer bodies, in bytes.
    pub bytes: usize,
}

#[derive(Default)]
pub(super) struct Collected {
    pub(super) exchanges: Vec<(usize, ExchangeReport)>,
}
