//! `cliniko attendee sync`: every changed attendee to a JSON Lines or CSV file, through
//! [`Client::sync_attendees_with`], resumable after Ctrl-C or a crash.
//!
//! How it stays exact:
//! - Records are appended to `OUT.partial`, next to `OUT`. After each page, the partial file is
//!   flushed and the checkpoint file is replaced atomically (a temporary file persisted over it)
//!   with the sync's checkpoint after that page *and the partial file's length at that moment*.
//! - A resumed run truncates `OUT.partial` to that length, dropping whatever was written after the
//!   last checkpoint (a page cut short by Ctrl-C or `kill -9`), and the sync goes on from that
//!   checkpoint: no record is lost and none is written twice.
//! - When the sync finishes, the partial file is synced to disk and renamed to `OUT` (so `OUT` is
//!   never half-written), and only then is the checkpoint replaced by the next sync's start.
//!
//! The partial file is flushed to the operating system after each page but synced to disk only
//! at the end: a crash of the process loses nothing, and after a power loss a partial file shorter
//! than its checkpoint says is refused with what to do, never silently resumed.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Arg, ArgAction, ArgMatches, Command};
use cliniko_client::{Client, SyncCheckpoint, SyncEvent, SyncOptions, SyncProgress};
use cliniko_types::Attendee;
use futures::TryStreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::Usage;
use crate::generated_cli::CSV_COLUMNS;
use crate::output::cell;

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One attendee per line, as Cliniko's JSON.
    Jsonl,
    /// One attendee per row; nested links flattened into columns such as `patient.links.self`.
    Csv,
}

/// Where a sync starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Every attendee.
    Everything,
    /// Attendees changed at or after a time.
    Time(DateTime<Utc>),
    /// The checkpoint saved in a file by an earlier run (finished or not).
    Checkpoint(PathBuf),
}

impl Since {
    /// `everything`, an RFC 3339 time, or the path of a checkpoint file.
    pub fn parse(text: &str) -> Self {
        if text == "everything" {
            return Self::Everything;
        }
        match DateTime::parse_from_rfc3339(text) {
            Ok(at) => Self::Time(at.with_timezone(&Utc)),
            Err(_) => Self::Checkpoint(PathBuf::from(text)),
        }
    }
}

/// How progress is shown.
#[derive(Debug)]
pub enum Progress {
    /// Not at all.
    Off,
    /// A plain line on stderr every few seconds, and at the end.
    Log,
    /// An indicatif progress bar drawn to this target.
    Bar(ProgressDrawTarget),
}

/// What to export, and where.
#[derive(Debug)]
pub struct ExportOptions {
    /// Where the sync starts.
    pub since: Since,
    /// The output file.
    pub out: PathBuf,
    /// Its format.
    pub format: ExportFormat,
    /// Where the checkpoint is kept; default the `--since` file, or `OUT.checkpoint.json`.
    pub checkpoint: Option<PathBuf>,
    /// Attendees per request.
    pub per_page: i64,
    /// How progress is shown.
    pub progress: Progress,
}

/// How an export ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// Every change is in the output file; the checkpoint holds the next sync's start.
    Finished {
        /// Attendees written.
        records: u64,
        /// The checkpoint file.
        checkpoint: PathBuf,
        /// The time spent showing progress (the bar or the log lines), measured around each of
        /// the reporter's calls: what the progress display cost this run.
        progress_time: Duration,
    },
    /// Stopped by Ctrl-C; the checkpoint resumes it.
    Interrupted {
        /// Attendees written and kept so far.
        records: u64,
        /// The checkpoint file.
        checkpoint: PathBuf,
    },
}

/// The checkpoint file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedCheckpoint {
    /// Where the next run's sync starts (or goes on).
    sync: SyncCheckpoint,
    /// An export under way, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unfinished: Option<Unfinished>,
}

/// An export that has not finished: its files, and how much of the partial file is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Unfinished {
    out: PathBuf,
    format: ExportFormat,
    /// The length of `OUT.partial` that holds every record before `sync`.
    partial_bytes: u64,
    /// How many records those bytes hold.
    records: u64,
}

/// The `sync` subcommand, added to `cliniko attendee` beside the generated operations.
pub fn command() -> Command {
    Command::new("sync")
        .about("Export every attendee changed since a time or a checkpoint")
        .long_about(
            "Export every attendee created, changed, cancelled or archived since a time or a \
             checkpoint, through the client's incremental sync, to a JSON Lines or CSV file.\n\n\
             The output is written to OUT.partial and renamed to OUT when complete. The checkpoint \
             is saved after every page: after Ctrl-C or a crash, run the same command with \
             --since CHECKPOINT to go on without losing or repeating a record; after a finished \
             run, the same command exports what changed since.",
        )
        .arg(
            Arg::new("since")
                .long("since")
                .value_name("CHECKPOINT_OR_TIME")
                .required(true)
                .help("A checkpoint file, a UTC time such as 2024-01-01T00:00:00Z, or `everything`"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_name("FILE")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf))
                .help("The output file, replaced whole when the sync finishes"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_parser(clap::value_parser!(ExportFormat))
                .default_value("jsonl")
                .help("The output format"),
        )
        .arg(
            Arg::new("checkpoint")
                .long("checkpoint")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Where to keep the checkpoint [default: the --since file, or OUT.checkpoint.json]"),
        )
        .arg(
            Arg::new("per-page")
                .long("per-page")
                .value_name("N")
                .value_parser(
                    clap::value_parser!(i64)
                        .range(cliniko_types::facts::PER_PAGE_MIN..=cliniko_types::facts::PER_PAGE_MAX),
                )
                .default_value("100")
                .help("Attendees per request"),
        )
        .arg(
            Arg::new("progress")
                .long("progress")
                .value_parser(["auto", "bar", "log", "off"])
                .default_value("auto")
                .action(ArgAction::Set)
                .help("A progress bar on a terminal, plain log lines otherwise (auto)"),
        )
}

/// The options `matches` (of `sync`) give.
pub fn options(matches: &ArgMatches) -> anyhow::Result<ExportOptions> {
    let since = matches
        .get_one::<String>("since")
        .context("--since is required")?;
    let progress = match matches.get_one::<String>("progress").map(String::as_str) {
        Some("off") => Progress::Off,
        Some("log") => Progress::Log,
        Some("bar") => Progress::Bar(ProgressDrawTarget::stderr()),
        _ if std::io::IsTerminal::is_terminal(&std::io::stderr()) => {
            Progress::Bar(ProgressDrawTarget::stderr())
        }
        _ => Progress::Log,
    };
    Ok(ExportOptions {
        since: Since::parse(since),
        out: matches
            .get_one::<PathBuf>("out")
            .cloned()
            .context("--out is required")?,
        format: matches
            .get_one::<ExportFormat>("format")
            .copied()
            .unwrap_or(ExportFormat::Jsonl),
        checkpoint: matches.get_one::<PathBuf>("checkpoint").cloned(),
        per_page: matches.get_one::<i64>("per-page").copied().unwrap_or(100),
        progress,
    })
}

/// Runs an export until it finishes, fails, or `interrupt` completes (Ctrl-C).
pub async fn export(
    client: &Client,
    options: ExportOptions,
    interrupt: impl std::future::Future<Output = ()>,
) -> anyhow::Result<ExportOutcome> {
    let checkpoint_path = match (&options.checkpoint, &options.since) {
        (Some(path), _) => path.clone(),
        (None, Since::Checkpoint(path)) => path.clone(),
        (None, _) => sibling(&options.out, ".checkpoint.json"),
    };
    let partial_path = sibling(&options.out, ".partial");
    let saved = match &options.since {
        Since::Checkpoint(path) => match read_checkpoint(path)? {
            Some(saved) => Some(saved),
            None => {
                return Err(Usage::new(format!(
                    "there is no checkpoint at {}; start with --since 2024-01-01T00:00:00Z or --since everything",
                    path.display()
                ))
                .into());
            }
        },
        _ => {
            if let Some(SavedCheckpoint {
                unfinished: Some(_),
                ..
            }) = read_checkpoint(&checkpoint_path)?
            {
                return Err(Usage::new(format!(
                    "an unfinished sync is saved in {}: resume it with --since {0}, or delete it and {} to start again",
                    checkpoint_path.display(),
                    partial_path.display()
                ))
                .into());
            }
            None
        }
    };
    let (sync_from, mut writer, mut records) = match (saved, &options.since) {
        (
            Some(SavedCheckpoint {
                sync,
                unfinished: Some(unfinished),
            }),
            _,
        ) => {
            if unfinished.out != options.out || unfinished.format != options.format {
                return Err(Usage::new(format!(
                    "the unfinished sync in {} writes {}; resume it with --out {1} --format {}",
                    checkpoint_path.display(),
                    unfinished.out.display(),
                    format_name(unfinished.format),
                ))
                .into());
            }
            let writer =
                RecordWriter::resume(&partial_path, options.format, unfinished.partial_bytes)?;
            (sync, writer, unfinished.records)
        }
        (Some(saved), _) => (
            saved.sync,
            RecordWriter::create(&partial_path, options.format)?,
            0,
        ),
        (None, Since::Time(at)) => (
            SyncCheckpoint::since(*at),
            RecordWriter::create(&partial_path, options.format)?,
            0,
        ),
        (None, _) => (
            SyncCheckpoint::everything(),
            RecordWriter::create(&partial_path, options.format)?,
            0,
        ),
    };
    let records_before = records;
    let unfinished = |partial_bytes, records| Unfinished {
        out: options.out.clone(),
        format: options.format,
        partial_bytes,
        records,
    };
    // Saved before the first request, so that Ctrl-C at any moment leaves a checkpoint to resume.
    let position = writer.flush_position()?;
    write_checkpoint(
        &checkpoint_path,
        &SavedCheckpoint {
            sync: sync_from.clone(),
            unfinished: Some(unfinished(position, records)),
        },
    )?;

    // The records behind the last checkpoint saved: what an interrupted run keeps.
    let mut kept = records;
    let mut progress = Reporter::new(options.progress, records_before);
    let mut sync =
        client.sync_attendees_with(sync_from, SyncOptions::default().per_page(options.per_page));
    let mut interrupt = std::pin::pin!(interrupt);
    loop {
        let event = tokio::select! {
            biased;
            () = &mut interrupt => {
                progress.finish();
                return Ok(ExportOutcome::Interrupted { records: kept, checkpoint: checkpoint_path });
            }
            event = sync.try_next() => event,
        };
        let event = match event {
            Ok(Some(event)) => event,
            Ok(None) => anyhow::bail!("the sync ended without its final checkpoint"),
            Err(error) => {
                progress.finish();
                return Err(anyhow::Error::new(error).context(format!(
                    "the sync stopped; run it again with --since {} to go on from the last page saved",
                    checkpoint_path.display()
                )));
            }
        };
        match event {
            SyncEvent::Attendee(attendee) => {
                writer.write(&attendee)?;
                records += 1;
            }
            SyncEvent::Progress(report) => {
                let position = writer.flush_position()?;
                write_checkpoint(
                    &checkpoint_path,
                    &SavedCheckpoint {
                        sync: report.checkpoint.clone(),
                        unfinished: Some(unfinished(position, records)),
                    },
                )?;
                kept = records;
                progress.page(&report);
            }
            SyncEvent::Finished(next) => {
                writer.finish()?;
                std::fs::rename(&partial_path, &options.out).with_context(|| {
                    format!(
                        "cannot rename {} to {}",
                        partial_path.display(),
                        options.out.display()
                    )
                })?;
                write_checkpoint(
                    &checkpoint_path,
                    &SavedCheckpoint {
                        sync: next,
                        unfinished: None,
                    },
                )?;
                progress.finish();
                return Ok(ExportOutcome::Finished {
                    records,
                    checkpoint: checkpoint_path,
                    progress_time: progress.busy,
                });
            }
            _ => {}
        }
    }
}

fn format_name(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Jsonl => "jsonl",
        ExportFormat::Csv => "csv",
    }
}

/// `out` with `suffix` added to its file name.
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out.file_name().map(ToOwned::to_owned).unwrap_or_default();
    name.push(suffix);
    out.with_file_name(name)
}

fn read_checkpoint(path: &Path) -> anyhow::Result<Option<SavedCheckpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|error| {
        Usage::new(format!(
            "{} is not a checkpoint cliniko wrote ({error}); give --since a time, or the checkpoint file",
            path.display()
        ))
        .into()
    })
}

/// Replaces the checkpoint file atomically: a temporary file beside it, persisted over it.
fn write_checkpoint(path: &Path, saved: &SavedCheckpoint) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    serde_json::to_writer_pretty(&mut temporary, saved)?;
    temporary.write_all(b"\n")?;
    temporary
        .persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Appends records to the partial file.
enum RecordWriter {
    Jsonl(BufWriter<File>),
    Csv(csv::Writer<File>),
}

impl RecordWriter {
    /// A new partial file, with the CSV header when the format has one.
    fn create(path: &Path, format: ExportFormat) -> anyhow::Result<Self> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(match format {
            ExportFormat::Jsonl => Self::Jsonl(BufWriter::new(file)),
            ExportFormat::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(file);
                writer.write_record(CSV_COLUMNS)?;
                Self::Csv(writer)
            }
        })
    }

    /// The partial file of an unfinished export, cut back to the length its checkpoint kept.
    fn resume(path: &Path, format: ExportFormat, keep: u64) -> anyhow::Result<Self> {
        let mut file = OpenOptions::new().write(true).open(path).with_context(|| {
            format!(
                "the unfinished sync's output {} is gone; delete its checkpoint and start again",
                path.display()
            )
        })?;
        let length = file.metadata()?.len();
        if length < keep {
            return Err(Usage::new(format!(
                "{} holds {length} bytes but its checkpoint kept {keep} (was it cut by a power loss?); delete both and start again",
                path.display()
            ))
            .into());
        }
        file.set_len(keep)?;
        file.seek(SeekFrom::End(0))?;
        Ok(match format {
            ExportFormat::Jsonl => Self::Jsonl(BufWriter::new(file)),
            ExportFormat::Csv => Self::Csv(
                csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(file),
            ),
        })
    }

    fn write(&mut self, attendee: &Attendee) -> anyhow::Result<()> {
        match self {
            Self::Jsonl(out) => {
                serde_json::to_writer(&mut *out, attendee)?;
                out.write_all(b"\n")?;
            }
            Self::Csv(out) => {
                let json = serde_json::to_value(attendee)?;
                out.write_record(CSV_COLUMNS.iter().map(|column| cell(&json, column)))?;
            }
        }
        Ok(())
    }

    /// Hands everything written to the operating system; the file's length.
    fn flush_position(&mut self) -> anyhow::Result<u64> {
        Ok(match self {
            Self::Jsonl(out) => {
                out.flush()?;
                out.get_mut().stream_position()?
            }
            Self::Csv(out) => {
                out.flush()?;
                let mut file: &File = out.get_ref();
                file.stream_position()?
            }
        })
    }

    /// Flushes and syncs the file to disk.
    fn finish(mut self) -> anyhow::Result<()> {
        self.flush_position()?;
        let file = match &self {
            Self::Jsonl(out) => out.get_ref(),
            Self::Csv(out) => out.get_ref(),
        };
        file.sync_all()?;
        Ok(())
    }
}

/// Shows how far a sync has got.
struct Reporter {
    mode: Progress,
    bar: Option<ProgressBar>,
    before: u64,
    last_log: Instant,
    started: Instant,
    last: Option<SyncProgress>,
    /// Time spent in `page` and `finish`.
    busy: Duration,
}

/// How often a log line is written when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(2);

impl Reporter {
    fn new(mode: Progress, before: u64) -> Self {
        let (mode, bar) = match mode {
            Progress::Bar(target) => {
                let bar = ProgressBar::with_draw_target(None, target);
                let style = ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} attendees, {msg}, eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_position(before);
                (Progress::Off, Some(bar))
            }
            mode => (mode, None),
        };
        Self {
            mode,
            bar,
            before,
            last_log: Instant::now(),
            started: Instant::now(),
            last: None,
            busy: Duration::ZERO,
        }
    }

    fn page(&mut self, report: &SyncProgress) {
        let start = Instant::now();
        self.show_page(report);
        self.busy += start.elapsed();
    }

    fn show_page(&mut self, report: &SyncProgress) {
        let done = self.before + report.attendees;
        let total = self.before + report.total_entries.max(report.attendees);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(format!(
                "{} pages, {} rate-limit waits",
                report.pages_read, report.rate_limit_waits
            ));
        } else if matches!(self.mode, Progress::Log) && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            eprintln!("{}", log_line(report, done, total, self.started.elapsed()));
        }
        self.last = Some(report.clone());
    }

    fn finish(&mut self) {
        let start = Instant::now();
        self.show_finish();
        self.busy += start.elapsed();
    }

    fn show_finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let (Progress::Log, Some(report)) = (&self.mode, &self.last) {
            let done = self.before + report.attendees;
            let total = self.before + report.total_entries.max(report.attendees);
            eprintln!("{}", log_line(report, done, total, self.started.elapsed()));
        }
    }
}

fn log_line(report: &SyncProgress, done: u64, total: u64, elapsed: Duration) -> String {
    let mut line = format!(
        "sync: {done} of {total} attendees, {} pages, {} rate-limit waits ({:.1}s waited)",
        report.pages_read,
        report.rate_limit_waits,
        report.rate_limit_waited.as_secs_f64()
    );
    if done > 0 && total > done {
        let per_record = elapsed.as_secs_f64() / report.attendees.max(1) as f64;
        line.push_str(&format!(", eta {:.0}s", per_record * (total - done) as f64));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_times_everything_and_paths() {
        assert_eq!(Since::parse("everything"), Since::Everything);
        assert_eq!(
            Since::parse("2024-01-01T10:00:00+10:00"),
            Since::Time("2024-01-01T00:00:00Z".parse().expect("a time"))
        );
        assert_eq!(
            Since::parse("out.checkpoint.json"),
            Since::Checkpoint(PathBuf::from("out.checkpoint.json"))
        );
    }

    #[test]
    fn siblings_keep_the_folder() {
        assert_eq!(
            sibling(Path::new("/tmp/day/attendees.csv"), ".partial"),
            PathBuf::from("/tmp/day/attendees.csv.partial")
        );
    }
}
