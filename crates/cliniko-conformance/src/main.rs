//! The `cliniko-conformance` command: checks recorded or live exchanges against the spec.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use cliniko_conformance::live::{LiveOptions, LiveReport};
use cliniko_conformance::{CheckOptions, Checker, Coverage, Outcome, Report};
use cliniko_spec::Spec;

/// The environment variable the API key is read from; a key is never taken as a flag, so that it
/// stays out of shell histories and process lists.
const API_KEY_VARIABLE: &str = "CLINIKO_API_KEY";

/// Checks HTTP exchanges with the Cliniko attendees API against the OpenAPI spec.
///
/// Exit status: 0 when every exchange conforms, 1 when any violation was found, 2 when the spec
/// or a recording could not be read (the other recordings are still checked and reported).
#[derive(Debug, Parser)]
#[command(name = "cliniko-conformance", version)]
struct Cli {
    /// The OpenAPI document to check against, read at run time [default: the spec embedded at
    /// build time, spec/cliniko-attendees.yaml]
    #[arg(long, global = true, value_name = "PATH")]
    spec: Option<PathBuf>,
    /// Also report every property the schemas do not name (`undocumented_field`)
    #[arg(long, global = true)]
    strict: bool,
    /// How to write the report
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 when the share of documented (operation, status) pairs seen is below RATIO (0 to 1)
    #[arg(long, global = true, value_name = "RATIO", value_parser = ratio)]
    min_coverage: Option<f64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check recordings: JSON files and HAR archives, or directories searched recursively for both
    Check {
        /// Recording files (*.json), HAR 1.2 archives (*.har, an exchange per entry) or
        /// directories
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Check on N threads, each taking the next file; the report is the same for any N
        /// [default: every core]
        #[arg(long, value_name = "N")]
        threads: Option<std::num::NonZeroUsize>,
    },
    /// Propose spec changes from recordings: undocumented fields, enum values and statuses
    ///
    /// Prints the proposals and an RFC 6902 JSON Patch against the spec. With --write, also
    /// writes the patched document (YAML or JSON by extension) for `cargo xtask spec-diff` to
    /// classify; it never writes the spec being read.
    Suggest {
        /// Recording files or directories
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Write the patched spec here (*.yaml, *.yml or *.json)
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
    },
    /// Run the scenario against a server and check every exchange
    ///
    /// The API key is read from the CLINIKO_API_KEY environment variable. The scenario creates,
    /// changes, cancels and archives attendees, but only against a loopback server (a fake) or
    /// with --allow-writes; --read-only runs only the GET routes. Exit status: 1 when a step meant
    /// to succeed is answered 401 or 403 (a wrong key), a planned step did not run, or an exchange
    /// violates the spec; 2 when the server cannot be reached.
    Live {
        /// The server's base URL, with its /v1 (e.g. https://api.au1.cliniko.com/v1)
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// Write each exchange, scrubbed, as a recording in this directory
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        /// How --record writes: `json`, a recording per exchange; `har`, one HAR 1.2 archive
        /// (DIR/live.har) with an entry per exchange, scrubbed alike
        #[arg(long, value_name = "FORMAT", value_enum, default_value_t = RecordFormatArg::Json, requires = "record")]
        record_format: RecordFormatArg,
        /// The User-Agent to send, `NAME (EMAIL)`
        #[arg(
            long,
            value_name = "TEXT",
            default_value = "cliniko-conformance (conformance@example.com)"
        )]
        user_agent: String,
        /// A group appointment to add attendees to [default: found from the first page]
        #[arg(long, value_name = "ID")]
        group_appointment_id: Option<String>,
        /// A patient to add to it [default: the first attendee's patient]
        #[arg(long, value_name = "ID")]
        patient_id: Option<String>,
        /// Also provoke 413 (a 12 MiB body) and 429 (up to 300 quick requests)
        #[arg(long)]
        provoke_limits: bool,
        /// Run only the GET routes (safe against a production account)
        #[arg(long, conflicts_with = "allow_writes")]
        read_only: bool,
        /// Create, change, cancel and archive attendees on a server that is not loopback
        #[arg(long)]
        allow_writes: bool,
    },
    /// Forward an app's requests to a server, checking and recording every exchange
    ///
    /// Point the app at http://LISTEN/v1 instead of Cliniko: requests go to the upstream with
    /// their Authorization header, answers come back with their links pointing at the proxy, and
    /// each violation is printed to stderr as it happens. On SIGINT or SIGTERM the report goes to
    /// stdout; the exit status is 1 if any exchange violated the spec, 2 if none was checked (or
    /// one could not be forwarded or recorded), else 0.
    Proxy {
        /// The address to listen on; only loopback unless --allow-remote
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The server's base URL, with its /v1 (e.g. https://api.au1.cliniko.com/v1)
        #[arg(long, value_name = "URL")]
        upstream: String,
        /// Write each exchange, scrubbed, as a recording in this directory
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        /// Accept a --listen address that is not loopback (whoever reaches the proxy can use the
        /// API keys passing through it)
        #[arg(long)]
        allow_remote: bool,
    },
}

/// `--record-format`, mapped onto the library's [`cliniko_conformance::live::RecordFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RecordFormatArg {
    /// A recording per exchange, NN-operationId-STATUS.json
    Json,
    /// One HAR 1.2 archive, live.har, an entry per exchange
    Har,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One line per exchange, violations beneath, a summary at the end
    Human,
    /// A JSON document: exchanges, unreadable files, summary
    Json,
    /// JUnit XML, one test case per exchange
    Junit,
    /// GitHub Actions workflow commands, one `::error` per violation; a Markdown summary is
    /// appended to $GITHUB_STEP_SUMMARY when it is set
    Github,
}

fn ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!(
            "expected a ratio from 0 to 1, such as 0.8, not {text:?}"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(Outcome::Unreadable.exit_code())
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let spec = match &cli.spec {
        Some(path) => Spec::load(path)?,
        None => Spec::embedded().context("the embedded spec does not load")?,
    };
    let checker = Checker::new(
        &spec,
        CheckOptions {
            strict: cli.strict,
            ..CheckOptions::default()
        },
    )?;
    match cli.command {
        Command::Check { paths, threads } => {
            let report = match threads {
                Some(threads) => Report::check_paths_with_threads(&checker, &paths, threads),
                None => Report::check_paths(&checker, &paths),
            };
            for error in &report.unreadable {
                eprintln!("error: {error}");
            }
            if report.exchanges.is_empty() && report.unreadable.is_empty() {
                eprintln!(
                    "error: no exchange found in {}: looked for *.json recordings and *.har files (directories searched recursively); nothing was checked",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let coverage = write_checked_report(&report, &checker, cli.format, cli.min_coverage)?;
            Ok(with_coverage(report.outcome(), &coverage, cli.min_coverage))
        }
        Command::Suggest { paths, write } => {
            let (files, errors) = cliniko_conformance::recording_files(&paths);
            let mut suggester = cliniko_conformance::suggest::Suggester::new(&spec, &checker);
            let mut unreadable = !errors.is_empty();
            for error in &errors {
                eprintln!("error: {error}");
            }
            for file in &files {
                match cliniko_conformance::read_recording(file) {
                    Ok(exchanges) => exchanges.iter().for_each(|e| suggester.add(e)),
                    Err(error) => {
                        eprintln!("error: {error}");
                        unreadable = true;
                    }
                }
            }
            // Nothing usable (or nothing at all) ends here with exit 2, as `check` does when it
            // could not check.
            let suggestions = suggester.finish().with_context(|| {
                format!(
                    "nothing to suggest from {}",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            let text = match cli.format {
                Format::Json => {
                    let mut text = serde_json::to_string_pretty(&suggestions)
                        .context("cannot write the JSON report")?;
                    text.push('\n');
                    text
                }
                _ => suggestions.human(),
            };
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .context("cannot write the report")?;
            if let Some(target) = write {
                let mut protected = vec![
                    PathBuf::from(cliniko_spec::EMBEDDED_PATH),
                    PathBuf::from(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/../../spec/cliniko-attendees.yaml"
                    )),
                ];
                protected.extend(cli.spec.clone());
                suggestions.write_patched(&spec, &target, &protected)?;
                eprintln!("wrote the patched spec to {}", target.display());
            }
            Ok(if unreadable {
                Outcome::Unreadable
            } else {
                Outcome::Conforms
            })
        }
        Command::Live {
            base_url,
            record,
            record_format,
            user_agent,
            group_appointment_id,
            patient_id,
            provoke_limits,
            read_only,
            allow_writes,
        } => {
            let api_key = std::env::var(API_KEY_VARIABLE).with_context(|| {
                format!(
                    "set {API_KEY_VARIABLE} to the API key to use (it is never taken as a flag)"
                )
            })?;
            let options = LiveOptions {
                base_url,
                api_key,
                user_agent,
                record_dir: record,
                record_format: match record_format {
                    RecordFormatArg::Json => cliniko_conformance::live::RecordFormat::Json,
                    RecordFormatArg::Har => cliniko_conformance::live::RecordFormat::Har,
                },
                provoke_limits,
                group_appointment_id,
                patient_id,
                progress: true,
                read_only,
                allow_writes,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let live = runtime.block_on(cliniko_conformance::live::run(&options, &checker))?;
            report_live(&live);
            let coverage =
                write_checked_report(&live.report, &checker, cli.format, cli.min_coverage)?;
            Ok(with_coverage(live.outcome(), &coverage, cli.min_coverage))
        }
        Command::Proxy {
            listen,
            upstream,
            record,
            allow_remote,
        } => {
            let options = cliniko_conformance::proxy::ProxyOptions {
                listen,
                upstream,
                allow_remote,
                record_dir: record,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let checker = std::sync::Arc::new(checker);
            let finished = runtime.block_on(cliniko_conformance::proxy::run_until_signal(
                options,
                checker.clone(),
                |event| eprintln!("{event}"),
            ))?;
            let coverage =
                write_checked_report(&finished.report, &checker, cli.format, cli.min_coverage)?;
            Ok(with_coverage(
                finished.outcome(),
                &coverage,
                cli.min_coverage,
            ))
        }
    }
}

fn report_live(live: &LiveReport) {
    for deviation in &live.deviations {
        eprintln!(
            "note: step `{}` expected status {} and got {}",
            deviation.step, deviation.expected, deviation.found
        );
    }
    for note in &live.notes {
        eprintln!("note: {note}");
    }
    for problem in live.problems() {
        eprintln!("error: {problem}");
    }
    if live.report.exchanges.is_empty() {
        eprintln!("error: no exchange was checked");
    }
}

/// The outcome, made a failure when the coverage is below `--min-coverage`.
fn with_coverage(outcome: Outcome, coverage: &Coverage, min_coverage: Option<f64>) -> Outcome {
    match min_coverage {
        Some(min) if outcome == Outcome::Conforms => {
            if coverage.ratio < min {
                eprintln!(
                    "error: coverage {:.3} ({} of {} documented (operation, status) pairs) is below --min-coverage {min}",
                    coverage.ratio, coverage.pairs_seen, coverage.pairs_documented
                );
                Outcome::Violations
            } else {
                outcome
            }
        }
        _ => outcome,
    }
}

/// Writes a report with its coverage: a table in the human report, a `coverage` object in the
/// JSON one, and the Markdown summary for GitHub. Returns the coverage, for `--min-coverage`.
fn write_checked_report(
    report: &Report,
    checker: &Checker,
    format: Format,
    min_coverage: Option<f64>,
) -> anyhow::Result<Coverage> {
    let coverage = report.coverage(checker);
    let text = match format {
        Format::Human => {
            let mut text = report.human();
            text.push_str(&coverage.human());
            text
        }
        Format::Json => {
            let mut json = report.json();
            json["coverage"] =
                serde_json::to_value(&coverage).context("cannot write the JSON report")?;
            if let Some(min) = min_coverage {
                json["coverage"]["min"] = serde_json::Value::from(min);
            }
            let mut text =
                serde_json::to_string_pretty(&json).context("cannot write the JSON report")?;
            text.push('\n');
            text
        }
        Format::Junit => report.junit(),
        Format::Github => {
            if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| {
                        format!("cannot append to $GITHUB_STEP_SUMMARY ({})", path.display())
                    })?;
                file.write_all(report.markdown(Some(&coverage)).as_bytes())
                    .with_context(|| {
                        format!("cannot append to $GITHUB_STEP_SUMMARY ({})", path.display())
                    })?;
            }
            report.github()
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .context("cannot write the report")?;
    stdout.flush().context("cannot write the report")?;
    Ok(coverage)
}
