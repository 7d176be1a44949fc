//! Checking recording files and directories, and writing the result for people (`human`), for
//! programs (`json`) and for CI systems (`junit`).

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::check::{Checker, Verdict};
use crate::recording::RecordingError;

/// The recording files under `paths`: files as given, directories searched recursively (symbolic
/// links followed, a link loop ends the walk there) for `*.json` and `*.har`, in name order; and
/// every path that could not be read.
pub fn recording_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<RecordingError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if !path.is_dir() {
            match std::fs::metadata(path) {
                Ok(_) => files.push(path.clone()),
                Err(source) => errors.push(RecordingError::Io {
                    file: path.display().to_string(),
                    source,
                }),
            }
            continue;
        }
        for entry in walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Ok(entry) => {
                    let recording = entry.file_type().is_file()
                        && entry
                            .path()
                            .extension()
                            .is_some_and(|ext| ext == "json" || ext == "har");
                    if recording {
                        files.push(entry.into_path());
                    }
                }
                // A loop has been walked once already; nothing is left unread.
                Err(error) if error.loop_ancestor().is_some() => {}
                Err(error) => errors.push(RecordingError::Io {
                    file: error.path().unwrap_or(path).display().to_string(),
                    source: error
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("cannot walk the directory")),
                }),
            }
        }
    }
    (files, errors)
}

/// The result of checking a set of recordings.
#[derive(Debug, Default)]
pub struct Report {
    /// Every exchange checked, in file order.
    pub exchanges: Vec<ExchangeReport>,
    /// Every file that could not be read, and why.
    pub unreadable: Vec<RecordingError>,
}

/// One checked exchange and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExchangeReport {
    /// The recording file.
    pub file: String,
    /// The exchange's place in the file's `interactions`; `None` for a file holding one exchange.
    pub index: Option<usize>,
    /// What the checker concluded.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Counts over a [`Report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Exchanges checked.
    pub exchanges: usize,
    /// Exchanges that conform.
    pub conforming: usize,
    /// Exchanges with at least one violation.
    pub failing: usize,
    /// Violations over all exchanges.
    pub violations: usize,
    /// Files that could not be read.
    pub unreadable_files: usize,
}

/// How the CLI ends: 0 when everything conforms, 1 on a violation, 2 when something was unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every exchange conforms and every file was read.
    Conforms,
    /// At least one exchange has a violation.
    Violations,
    /// A file (or the spec) could not be read, or nothing was checked at all.
    Unreadable,
}

impl Outcome {
    /// The process exit code: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Conforms => 0,
            Self::Violations => 1,
            Self::Unreadable => 2,
        }
    }
}

impl Report {
    /// Checks every recording under `paths`: files as given, directories recursively (their
    /// `*.json` recordings and `*.har` archives, in name order), on every core the process may
    /// use ([`std::thread::available_parallelism`]). See [`Report::check_paths_with_threads`].
    pub fn check_paths(checker: &Checker, paths: &[PathBuf]) -> Self {
        let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Self::check_paths_with_threads(checker, paths, threads)
    }

    /// Checks every recording under `paths` as [`Report::check_paths`] does, on `threads`
    /// threads.
    ///
    /// Each thread takes the next file not yet taken, reads it and checks its exchanges; the
    /// report is then put together in file order, so that it is the same whatever the number of
    /// threads. A thread holds one file at a time, so memory does not grow with the number of
    /// recordings beyond one verdict per exchange.
    pub fn check_paths_with_threads(
        checker: &Checker,
        paths: &[PathBuf],
        threads: NonZeroUsize,
    ) -> Self {
        let (files, errors) = recording_files(paths);
        let mut report = Self {
            exchanges: Vec::new(),
            unreadable: errors,
        };
        let threads = threads.get().min(files.len());
        if threads <= 1 {
            for file in &files {
                report.check_file(checker, file);
            }
            return report;
        }
        let next = AtomicUsize::new(0);
        let mut checked: Vec<(usize, Result<Vec<ExchangeReport>, RecordingError>)> =
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let at = next.fetch_add(1, Ordering::Relaxed);
                                let Some(file) = files.get(at) else {
                                    return mine;
                                };
                                mine.push((at, check_one_file(checker, file)));
                            }
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|worker| match worker.join() {
                        Ok(mine) => mine,
                        // A panic in a check is a bug; it is not hidden as a missing file.
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            });
        checked.sort_unstable_by_key(|(at, _)| *at);
        for (_, result) in checked {
            match result {
                Ok(mut exchanges) => report.exchanges.append(&mut exchanges),
                Err(error) => report.unreadable.push(error),
            }
        }
        report
    }

    /// Checks the exchanges of one recording file.
    pub fn check_file(&mut self, checker: &Checker, path: &Path) {
        match check_one_file(checker, path) {
            Ok(mut exchanges) => self.exchanges.append(&mut exchanges),
            Err(error) => self.unreadable.push(error),
        }
    }

    /// The counts.
    pub fn summary(&self) -> Summary {
        let failing = self
            .exchanges
            .iter()
            .filter(|e| !e.verdict.conforms())
            .count();
        Summary {
            exchanges: self.exchanges.len(),
            conforming: self.exchanges.len() - failing,
            failing,
            violations: self
                .exchanges
                .iter()
                .map(|e| e.verdict.violations.len())
                .sum(),
            unreadable_files: self.unreadable.len(),
        }
    }

    /// How the run ends.
    pub fn outcome(&self) -> Outcome {
        let summary = self.summary();
        // A run that checked nothing must not look green.
        if summary.unreadable_files > 0 || summary.exchanges == 0 {
            Outcome::Unreadable
        } else if summary.failing > 0 {
            Outcome::Violations
        } else {
            Outcome::Conforms
        }
    }

    /// The report for people: one line per exchange, each violation under its exchange.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for exchange in &self.exchanges {
            let mark = if exchange.verdict.conforms() {
                "ok  "
            } else {
                "FAIL"
            };
            let _ = writeln!(out, "{mark} {}", exchange.title());
            for violation in &exchange.verdict.violations {
                let _ = writeln!(out, "       {}: {violation}", violation.kind());
            }
            for note in &exchange.verdict.notes {
                let _ = writeln!(
                    out,
                    "       note: {}: {note} (the server answered {})",
                    note.kind(),
                    exchange.verdict.status
                );
            }
        }
        for error in &self.unreadable {
            let _ = writeln!(out, "ERROR {error}");
        }
        let summary = self.summary();
        let _ = write!(
            out,
            "\n{} exchange{} checked: {} conform, {} do not ({} violation{})",
            summary.exchanges,
            plural(summary.exchanges),
            summary.conforming,
            summary.failing,
            summary.violations,
            plural(summary.violations),
        );
        if summary.unreadable_files > 0 {
            let _ = write!(
                out,
                "; {} file{} could not be read",
                summary.unreadable_files,
                plural(summary.unreadable_files)
            );
        }
        out.push('\n');
        out
    }

    /// The report for programs: `{ "exchanges": [...], "unreadable": [...], "summary": {...} }`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "exchanges": self.exchanges,
            "unreadable": self.unreadable.iter().map(|error| serde_json::json!({
                "file": unreadable_file(error),
                "message": error.to_string(),
            })).collect::<Vec<_>>(),
            "summary": self.summary(),
        })
    }

    /// The report as JUnit XML (written by quick-junit): one test case per exchange (a `failure`
    /// per failing exchange), and one per unreadable file (an `error`).
    pub fn junit(&self) -> String {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
        let mut report = quick_junit::Report::new("cliniko-conformance");
        let mut suite = TestSuite::new("conformance");
        for exchange in &self.exchanges {
            let name = match &exchange.verdict.operation {
                Some(operation) => format!(
                    "{} {} {} ({operation})",
                    exchange.verdict.method, exchange.verdict.path, exchange.verdict.status
                ),
                None => format!(
                    "{} {} {}",
                    exchange.verdict.method, exchange.verdict.path, exchange.verdict.status
                ),
            };
            let status = if exchange.verdict.conforms() {
                TestCaseStatus::success()
            } else {
                let violations = &exchange.verdict.violations;
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_type(violations[0].kind().as_str());
                status.set_message(format!(
                    "{} violation{}",
                    violations.len(),
                    plural(violations.len())
                ));
                status.set_description(
                    violations
                        .iter()
                        .map(|v| format!("{}: {v}", v.kind()))
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                status
            };
            let mut case = TestCase::new(name, status);
            case.set_classname(exchange.place());
            suite.add_test_case(case);
        }
        for error in &self.unreadable {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_type("unreadable");
            status.set_message(error.to_string());
            let mut case = TestCase::new("read recording", status);
            case.set_classname(unreadable_file(error));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
        report
            .to_string()
            .unwrap_or_else(|error| format!("<!-- cannot write the JUnit report: {error} -->\n"))
    }

    /// The report as GitHub Actions workflow commands: one `::error` per violation (and one per
    /// unreadable file), one `::notice` per request note, then the summary line.
    pub fn github(&self) -> String {
        let mut out = String::new();
        for exchange in &self.exchanges {
            for violation in &exchange.verdict.violations {
                let _ = writeln!(
                    out,
                    "::error file={},title={}::{}",
                    github_property(&exchange.file),
                    github_property(&exchange.github_title(violation.kind().as_str())),
                    github_message(&format!("{}: {violation}", exchange.request_line()))
                );
            }
            for note in &exchange.verdict.notes {
                let _ = writeln!(
                    out,
                    "::notice file={},title={}::{}",
                    github_property(&exchange.file),
                    github_property(
                        &exchange.github_title(&format!("{} (rejected as expected)", note.kind()))
                    ),
                    github_message(&format!("{}: {note}", exchange.request_line()))
                );
            }
        }
        for error in &self.unreadable {
            let _ = writeln!(
                out,
                "::error file={},title=unreadable::{}",
                github_property(unreadable_file(error)),
                github_message(&error.to_string())
            );
        }
        out
    }

    /// A Markdown summary for `$GITHUB_STEP_SUMMARY`: the counts, each failing exchange, and the
    /// coverage table when there is one.
    pub fn markdown(&self, coverage: Option<&Coverage>) -> String {
        let summary = self.summary();
        let mut out = String::from("## Conformance to the Cliniko attendees spec\n\n");
        let _ = writeln!(
            out,
            "{} exchange{} checked: {} conform, {} do not ({} violation{}); {} unreadable file{}.\n",
            summary.exchanges,
            plural(summary.exchanges),
            summary.conforming,
            summary.failing,
            summary.violations,
            plural(summary.violations),
            summary.unreadable_files,
            plural(summary.unreadable_files)
        );
        let failing: Vec<&ExchangeReport> = self
            .exchanges
            .iter()
            .filter(|e| !e.verdict.conforms())
            .collect();
        if !failing.is_empty() {
            out.push_str("| exchange | violations |\n|---|---|\n");
            for exchange in failing {
                let _ = writeln!(
                    out,
                    "| `{}` | {} |",
                    exchange.title().replace('|', "\\|"),
                    exchange
                        .verdict
                        .violations
                        .iter()
                        .map(|v| format!("`{}` {}", v.kind(), v).replace('|', "\\|"))
                        .collect::<Vec<_>>()
                        .join("<br>")
                );
            }
            out.push('\n');
        }
        if let Some(coverage) = coverage {
            out.push_str(&coverage.markdown());
        }
        out
    }
}

/// Escapes a workflow command's property value (`file=`, `title=`).
fn github_property(text: &str) -> String {
    github_message(text).replace(':', "%3A").replace(',', "%2C")
}

/// Escapes a workflow command's message.
fn github_message(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// What a set of exchanges covered of what the spec documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// Per operation, in the spec's order.
    pub operations: Vec<OperationCoverage>,
    /// Documented (operation, status) pairs seen.
    pub pairs_seen: usize,
    /// Documented (operation, status) pairs.
    pub pairs_documented: usize,
    /// `pairs_seen / pairs_documented` (0 when nothing is documented).
    pub ratio: f64,
}

/// What the exchanges covered of one operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationCoverage {
    /// The `operationId`.
    pub operation: String,
    /// Documented statuses seen (`200`, `5XX`).
    pub statuses_seen: Vec<String>,
    /// Documented statuses never seen.
    pub statuses_not_seen: Vec<String>,
    /// Success-response fields never seen with a value other than null
    /// (`/attendees/*/telehealth_url`).
    pub fields_never_non_null: Vec<String>,
}

impl Report {
    /// What these exchanges covered of what `checker`'s spec documents.
    pub fn coverage(&self, checker: &Checker) -> Coverage {
        let mut operations = Vec::new();
        let (mut seen_pairs, mut documented_pairs) = (0, 0);
        for documented in checker.documented() {
            let mine: Vec<&Verdict> = self
                .exchanges
                .iter()
                .map(|e| &e.verdict)
                .filter(|v| v.operation.as_deref() == Some(documented.operation.as_str()))
                .collect();
            let (statuses_seen, statuses_not_seen): (Vec<String>, Vec<String>) =
                documented.statuses.iter().cloned().partition(|status| {
                    mine.iter()
                        .any(|v| v.documented_status.as_deref() == Some(status.as_str()))
                });
            let mut non_null = vec![false; documented.fields.len()];
            for verdict in &mine {
                for index in &verdict.fields_seen {
                    if let Some(seen) = non_null.get_mut(usize::from(*index)) {
                        *seen = true;
                    }
                }
            }
            seen_pairs += statuses_seen.len();
            documented_pairs += documented.statuses.len();
            operations.push(OperationCoverage {
                operation: documented.operation,
                statuses_seen,
                statuses_not_seen,
                fields_never_non_null: documented
                    .fields
                    .into_iter()
                    .zip(non_null)
                    .filter(|(_, seen)| !seen)
                    .map(|(field, _)| field)
                    .collect(),
            });
        }
        Coverage {
            operations,
            pairs_seen: seen_pairs,
            pairs_documented: documented_pairs,
            ratio: if documented_pairs == 0 {
                0.0
            } else {
                seen_pairs as f64 / documented_pairs as f64
            },
        }
    }
}

impl Coverage {
    /// The coverage as a table for people.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let width = self
            .operations
            .iter()
            .map(|o| o.operation.len())
            .max()
            .unwrap_or(9)
            .max(9);
        let _ = writeln!(
            out,
            "\ncoverage: {} of {} documented (operation, status) pairs seen ({:.1}%)",
            self.pairs_seen,
            self.pairs_documented,
            100.0 * self.ratio
        );
        let seen_width = self
            .operations
            .iter()
            .map(|o| o.statuses_seen.join(" ").len())
            .max()
            .unwrap_or(0)
            .max(13);
        let not_seen_width = self
            .operations
            .iter()
            .map(|o| o.statuses_not_seen.join(" ").len())
            .max()
            .unwrap_or(0)
            .max(17);
        let _ = writeln!(
            out,
            "{:<width$}  {:<seen_width$}  {:<not_seen_width$}  fields never non-null",
            "operation", "statuses seen", "statuses not seen"
        );
        for operation in &self.operations {
            let _ = writeln!(
                out,
                "{:<width$}  {:<seen_width$}  {:<not_seen_width$}  {}",
                operation.operation,
                dash(&operation.statuses_seen.join(" ")),
                dash(&operation.statuses_not_seen.join(" ")),
                dash(&short_fields(&operation.fields_never_non_null)),
            );
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Coverage\n\n{} of {} documented (operation, status) pairs seen ({:.1}%).\n\n| operation | statuses seen | statuses not seen | fields never non-null |\n|---|---|---|---|\n",
            self.pairs_seen,
            self.pairs_documented,
            100.0 * self.ratio
        );
        for operation in &self.operations {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                operation.operation,
                dash(&operation.statuses_seen.join(" ")),
                dash(&operation.statuses_not_seen.join(" ")),
                dash(&short_fields(&operation.fields_never_non_null))
            );
        }
        out
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

/// Field paths for a table: a field under one already listed (never non-null, so neither are
/// its members) is left out.
fn short_fields(fields: &[String]) -> String {
    fields
        .iter()
        .filter(|field| {
            !fields.iter().any(|parent| {
                field.len() > parent.len() && field.starts_with(&format!("{parent}/"))
            })
        })
        .map(|field| field.trim_start_matches('/'))
        .collect::<Vec<_>>()
        .join(" ")
}

impl ExchangeReport {
    /// Where the exchange came from: the file, with `#N` for an exchange of `interactions`, or
    /// `#entry-N` for an entry of a HAR file.
    pub fn place(&self) -> String {
        match self.index {
            Some(index) if crate::recording::is_har_name(&self.file) => {
                format!("{}#entry-{index}", self.file)
            }
            Some(index) => format!("{}#{index}", self.file),
            None => self.file.clone(),
        }
    }

    /// `METHOD /path -> operationId STATUS`, with `#N` or `#entry-N` first when the file holds
    /// several exchanges.
    fn request_line(&self) -> String {
        let entry = self.place()[self.file.len()..].to_owned();
        format!(
            "{}{}{} {} -> {} {}",
            entry,
            if entry.is_empty() { "" } else { " " },
            self.verdict.method,
            self.verdict.path,
            self.verdict
                .operation
                .as_deref()
                .unwrap_or("(no operation)"),
            self.verdict.status
        )
    }

    fn github_title(&self, kind: &str) -> String {
        format!(
            "{kind}: {} {}",
            self.verdict
                .operation
                .as_deref()
                .unwrap_or("(no operation)"),
            self.verdict.status
        )
    }

    /// `file[#index]: METHOD /path -> operationId STATUS`.
    pub fn title(&self) -> String {
        let place = self.place();
        let operation = self
            .verdict
            .operation
            .as_deref()
            .unwrap_or("(no operation)");
        format!(
            "{place}: {} {} -> {operation} {}",
            self.verdict.method, self.verdict.path, self.verdict.status
        )
    }
}

/// The verdicts on the exchanges of one recording file, or why it could not be read.
fn check_one_file(checker: &Checker, path: &Path) -> Result<Vec<ExchangeReport>, RecordingError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| RecordingError::Io {
        file: file.clone(),
        source,
    })?;
    let verdicts = checker.check_recording(&bytes, &file)?;
    // Every entry of a HAR file is named by its place in `log.entries`, even the only one, so
    // that the name can be looked up in the archive.
    let several = verdicts.len() > 1 || crate::recording::is_har_name(&file);
    Ok(verdicts
        .into_iter()
        .enumerate()
        .map(|(index, verdict)| ExchangeReport {
            file: file.clone(),
            index: several.then_some(index),
            verdict,
        })
        .collect())
}

fn unreadable_file(error: &RecordingError) -> &str {
    error.file()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
