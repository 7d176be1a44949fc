//! Checking recording files and directories, and writing the result for people (`human`), for
//! programs (`json`) and for CI systems (`junit`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::check::{Checker, Verdict};
use crate::recording::{RecordingError, read_recording};

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
                    file: error
                        .path()
                        .unwrap_or(path)
                        .display()
                        .to_string(),
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
    /// `*.json` files, in name order). Files are read one at a time, so memory does not grow with
    /// the number of recordings beyond one verdict per exchange.
    pub fn check_paths(checker: &Checker, paths: &[PathBuf]) -> Self {
        let mut report = Self::default();
        let (files, errors) = recording_files(paths);
        report.unreadable = errors;
        for file in files {
            report.check_file(checker, &file);
        }
        report
    }

    /// Checks the exchanges of one recording file.
    pub fn check_file(&mut self, checker: &Checker, path: &Path) {
        match read_recording(path) {
            Ok(exchanges) => {
                let several = exchanges.len() > 1;
                let file = path.display().to_string();
                for (index, exchange) in exchanges.iter().enumerate() {
                    self.exchanges.push(ExchangeReport {
                        file: file.clone(),
                        index: several.then_some(index),
                        verdict: checker.check(exchange),
                    });
                }
            }
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

    /// The report as JUnit XML: one test case per exchange (a `failure` per failing exchange),
    /// and one per unreadable file (an `error`).
    pub fn junit(&self) -> String {
        let summary = self.summary();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"cliniko-conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            summary.exchanges + summary.unreadable_files,
            summary.failing,
            summary.unreadable_files
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
            summary.exchanges + summary.unreadable_files,
            summary.failing,
            summary.unreadable_files
        );
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
            let classname = match exchange.index {
                Some(index) => format!("{}#{index}", exchange.file),
                None => exchange.file.clone(),
            };
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&classname),
                xml(&name)
            );
            if exchange.verdict.conforms() {
                out.push_str("/>\n");
                continue;
            }
            let violations = &exchange.verdict.violations;
            let text: Vec<String> = violations
                .iter()
                .map(|v| format!("{}: {v}", v.kind()))
                .collect();
            let _ = writeln!(
                out,
                ">\n      <failure type=\"{}\" message=\"{} violation{}\">{}</failure>\n    </testcase>",
                violations[0].kind(),
                violations.len(),
                plural(violations.len()),
                xml(&text.join("\n"))
            );
        }
        for error in &self.unreadable {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"read recording\">\n      <error type=\"unreadable\" message=\"{}\"/>\n    </testcase>",
                xml(unreadable_file(error)),
                xml(&error.to_string())
            );
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

impl ExchangeReport {
    /// `file[#index]: METHOD /path -> operationId STATUS`.
    pub fn title(&self) -> String {
        let place = match self.index {
            Some(index) => format!("{}#{index}", self.file),
            None => self.file.clone(),
        };
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

fn unreadable_file(error: &RecordingError) -> &str {
    match error {
        RecordingError::Io { file, .. }
        | RecordingError::Json { file, .. }
        | RecordingError::Shape { file, .. } => file,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Escapes text for an XML attribute or element, dropping the control characters XML 1.0 forbids.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
