//! `cliniko <resource> sync`: every changed record of a resource to a JSON Lines or CSV file,
//! through the client's incremental sync ([`Client::sync`], generic over the resource's list
//! type), resumable after Ctrl-C or a crash, and appended to by the next run. The generated
//! command tree adds `sync` to the group of every resource whose list route filters on
//! `updated_at` (and `id`), with that resource's list type: nothing here names a resource.
//!
//! How it stays exact:
//! - Records are appended to `OUT.partial`, next to `OUT`. After each page, the partial file is
//!   flushed and the checkpoint file is replaced atomically (a temporary file persisted over it)
//!   with the sync's checkpoint after that page *and the partial file's length at that moment*.
//! - A resumed run truncates `OUT.partial` to that length, dropping whatever was written after the
//!   last checkpoint (a page cut short by Ctrl-C or `kill -9`), and the sync goes on from that
//!   checkpoint: no record is lost and none is written twice.
//! - When the sync finishes, the partial file is synced to disk and the checkpoint says so
//!   (`complete`, with the next sync's start); then the partial file is renamed to `OUT` (a first
//!   export, so `OUT` is never half-written) or appended to it (an increment), and only then does
//!   the checkpoint record the finished export (`exported`: `OUT`'s length and record count). A
//!   crash in between is finished by the next run, which cuts `OUT` back to its length before the
//!   increment and appends again: never twice.
//! - Rerunning the same command (no `--since`) goes on from the checkpoint: it resumes an
//!   unfinished run, or exports what changed since the last one and appends it to `OUT` (CSV
//!   without a second header). The client's sync skips versions its checkpoint already delivered,
//!   so no version is written twice across runs. An `OUT` that no checkpoint describes (or that
//!   changed length since) is replaced only with `--overwrite`.
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
use cliniko_client::{Client, RecordEvent, SyncCheckpoint, SyncOptions, SyncProgress};
use cliniko_types::resource::{ListPage, Role, Versioned};
use futures::TryStreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::exit::{Exit, Usage};
use crate::output::{Column, Format, Output, Record};
use crate::progress::{LOG_EVERY, plural, watch_bar, watch_log};

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One record per line, as Cliniko's JSON.
    Jsonl,
    /// One record per row; nested objects flattened into columns such as `patient.links.self`.
    Csv,
}

/// Where a sync starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Every record.
    Everything,
    /// Records changed at or after a time.
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
    /// Where the sync starts; `None`: where the checkpoint says, or everything.
    pub since: Option<Since>,
    /// The output file.
    pub out: PathBuf,
    /// Replace an existing output file rather than refuse.
    pub overwrite: bool,
    /// Its format.
    pub format: ExportFormat,
    /// Where the checkpoint is kept; default the `--since` file, or `OUT.checkpoint.json`.
    pub checkpoint: Option<PathBuf>,
    /// Records per request.
    pub per_page: i64,
    /// How progress is shown.
    pub progress: Progress,
}

/// How an export ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// Every change is in the output file; the checkpoint holds the next sync's start.
    Finished {
        /// Records written by this run.
        records: u64,
        /// Records the output file holds.
        total: u64,
        /// Whether this run appended to an earlier export.
        appended: bool,
        /// The checkpoint file.
        checkpoint: PathBuf,
        /// The time spent showing progress (the bar or the log lines), measured around each of
        /// the reporter's calls: what the progress display cost this run.
        progress_time: Duration,
    },
    /// Stopped by Ctrl-C; the checkpoint resumes it.
    Interrupted {
        /// Records written and kept so far.
        records: u64,
        /// The checkpoint file.
        checkpoint: PathBuf,
    },
}

/// The resource of a checkpoint file without one: the only one `sync` served before it said.
const LEGACY_RESOURCE: &str = "attendees";

/// The checkpoint file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedCheckpoint {
    /// The resource synced, by its plural (`patients`); absent in checkpoints written before
    /// `sync` served more than attendees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    /// Where the next run's sync starts (or goes on).
    sync: SyncCheckpoint,
    /// An export under way, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unfinished: Option<Unfinished>,
    /// The export that finished last: the file the next run appends to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exported: Option<Exported>,
}

/// An export that has not finished: its files, and how much of the partial file is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Unfinished {
    out: PathBuf,
    format: ExportFormat,
    /// The length of `OUT.partial` that holds every record before `sync`.
    partial_bytes: u64,
    /// How many records those bytes hold (once `complete`, how many `OUT` holds when moved).
    records: u64,
    /// The length of `OUT` that this run appends after; `None` when it makes `OUT` anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    appends_to: Option<u64>,
    /// Every record is in the partial file and `sync` is the next run's start: only moving the
    /// partial file into `OUT` is left (again, after a crash).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    complete: bool,
}

/// An export that finished into `out`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Exported {
    out: PathBuf,
    format: ExportFormat,
    /// The length of `out` when it finished: the next run appends after it.
    bytes: u64,
    /// How many records `out` holds.
    records: u64,
}

/// The `sync` subcommand of `L`'s resource, added by the generated command tree to its group
/// (`cliniko patient`) beside the generated operations.
pub fn command<L>(group: &str) -> Command
where
    L: ListPage,
    L::Item: Record,
{
    let singular = L::Item::SINGULAR;
    let plural_name = L::Item::PLURAL;
    // What a sync brings: every change, and the state changes the resource has.
    let mut changes = vec!["created", "changed"];
    let resource = L::resource();
    for (role, word) in [(Role::Cancel, "cancelled"), (Role::Archive, "archived")] {
        if resource.operation(role).is_some() {
            changes.push(word);
        }
    }
    let last = changes.pop().unwrap_or_default();
    let changes = format!("{} or {last}", changes.join(", "));
    let example = format!("cliniko {group} sync --out {plural_name}.jsonl");
    Command::new("sync")
        .about(format!(
            "Export every {singular} changed since the last run (or a time) to a file"
        ))
        .long_about(format!(
            "Export every {singular} {changes} to a JSON Lines or CSV \
             file, through the client's incremental sync, each version once.\n\n\
             The first run exports everything (or what changed since --since TIME) to \
             OUT.partial, renamed to OUT when complete. The checkpoint (OUT.checkpoint.json) is \
             saved after every page: after Ctrl-C, a crash or a network failure, run the same \
             command again to go on without losing or repeating a record. After a finished run, \
             the same command appends what changed since to OUT, never repeating a version it \
             already wrote. An existing OUT that no checkpoint describes is replaced only with \
             --overwrite.",
        ))
        .after_help(format!(
            "Examples:\n  {example:<59}# everything, then each run appends what changed\n  \
             cliniko {group} sync --out changes.csv --format csv --since 2024-01-01T00:00:00Z\n\n\
             Exit codes: 0 finished, 1 Cliniko refused, 2 bad usage or configuration, 3 network failure, 130 interrupted (the checkpoint is saved).",
        ))
        .arg(
            Arg::new("since")
                .long("since")
                .value_name("TIME_OR_CHECKPOINT")
                .help("Start at a UTC time such as 2024-01-01T00:00:00Z, `everything`, or a checkpoint file [default: the checkpoint, else everything]"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_name("FILE")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf))
                .help("The output file: made by the first run, appended to by the next"),
        )
        .arg(
            Arg::new("overwrite")
                .long("overwrite")
                .action(ArgAction::SetTrue)
                .help("Replace an existing output file (and its checkpoint) with a new export"),
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
                .help(format!("{} per request", capitalised(plural_name))),
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

/// `patients` → `Patients`.
fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Runs `sync` of `L`'s resource as `matches` (of its `sync`) ask: prints what it did on stderr
/// (and a JSON summary on stdout with `--output json`); Ctrl-C stops it with its checkpoint saved.
pub async fn run<L>(
    client: &Client,
    matches: &ArgMatches,
    output: &mut Output,
) -> anyhow::Result<Exit>
where
    L: ListPage,
    L::Item: Versioned + Record + Send + 'static,
{
    let options = options(matches)?;
    let out = options.out.clone();
    let interrupt = async {
        // Without a signal handler (which cannot fail on the platforms we build for), a sync
        // simply runs to its end.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let noun = |count| plural(count, L::Item::SINGULAR, L::Item::PLURAL);
    match export::<L>(client, options, interrupt).await? {
        ExportOutcome::Finished {
            records,
            total,
            appended,
            checkpoint,
            ..
        } => {
            let verb = if appended { "appended" } else { "wrote" };
            eprintln!(
                "{verb} {} to {} ({total} in all); run the same command again to add what changes next (checkpoint {})",
                noun(records),
                out.display(),
                checkpoint.display()
            );
            if output.format() == Format::Json {
                output.summary(
                    "",
                    serde_json::json!({
                        "finished": true,
                        "records": records,
                        "total": total,
                        "appended": appended,
                        "out": out,
                        "checkpoint": checkpoint,
                    }),
                )?;
            }
            Ok(Exit::Success)
        }
        ExportOutcome::Interrupted {
            records,
            checkpoint,
        } => {
            eprintln!(
                "interrupted: {} kept; run the same command again to go on (checkpoint {})",
                noun(records),
                checkpoint.display()
            );
            Ok(Exit::Interrupted)
        }
    }
}

/// The options `matches` (of `sync`) give.
pub fn options(matches: &ArgMatches) -> anyhow::Result<ExportOptions> {
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
        since: matches
            .get_one::<String>("since")
            .map(|since| Since::parse(since)),
        out: matches
            .get_one::<PathBuf>("out")
            .cloned()
            .context("--out is required")?,
        overwrite: matches.get_flag("overwrite"),
        format: matches
            .get_one::<ExportFormat>("format")
            .copied()
            .unwrap_or(ExportFormat::Jsonl),
        checkpoint: matches.get_one::<PathBuf>("checkpoint").cloned(),
        per_page: matches.get_one::<i64>("per-page").copied().unwrap_or(100),
        progress,
    })
}

/// What a run starts from.
struct Start {
    sync: SyncCheckpoint,
    writer: RecordWriter,
    /// Records already in the partial file.
    records: u64,
    /// Records `OUT` already holds from earlier runs.
    in_out: u64,
    appends_to: Option<u64>,
}

/// Decides where a run starts, from the options and the checkpoint file, refusing what would lose
/// or repeat records; finishes moving a complete export into place first, if a crash left one.
fn start(
    options: &ExportOptions,
    resource: &str,
    columns: &'static [Column],
    checkpoint_path: &Path,
    partial_path: &Path,
) -> anyhow::Result<Start> {
    let folder = match options.out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(Usage::new(format!(
            "the folder of --out {} does not exist; create it, or choose another --out",
            options.out.display()
        ))
        .into());
    }
    let explicit_start = matches!(options.since, Some(Since::Everything | Since::Time(_)));
    let mut saved = match &options.since {
        Some(Since::Checkpoint(path)) => match read_checkpoint(path)? {
            Some(saved) => Some(saved),
            None => {
                return Err(Usage::new(format!(
                    "there is no checkpoint at {}; start with --since 2024-01-01T00:00:00Z or --since everything",
                    path.display()
                ))
                .into());
            }
        },
        _ => read_checkpoint(checkpoint_path)?,
    };
    if let Some(saved) = &saved {
        let synced = saved.resource.as_deref().unwrap_or(LEGACY_RESOURCE);
        if synced != resource && !options.overwrite {
            return Err(Usage::new(format!(
                "{} is the checkpoint of a sync of {synced}, not {resource}; choose another --out (or --checkpoint), or add --overwrite to start a new export of {resource}",
                match &options.since {
                    Some(Since::Checkpoint(path)) => path,
                    _ => checkpoint_path,
                }
                .display(),
            ))
            .into());
        }
    }
    if options.overwrite {
        saved = None;
    }
    if let Some(SavedCheckpoint {
        unfinished: Some(unfinished),
        ..
    }) = &saved
    {
        if explicit_start {
            return Err(Usage::new(format!(
                "an unfinished sync is saved in {}: run the command again without --since to go on, or add --overwrite to start again",
                checkpoint_path.display(),
            ))
            .into());
        }
        if unfinished.out != options.out || unfinished.format != options.format {
            return Err(Usage::new(format!(
                "the unfinished sync in {} writes {}; go on with --out {1} --format {}",
                checkpoint_path.display(),
                unfinished.out.display(),
                format_name(unfinished.format),
            ))
            .into());
        }
    }
    if let Some(SavedCheckpoint {
        sync,
        unfinished: Some(unfinished),
        ..
    }) = &saved
    {
        if unfinished.complete {
            // A crash after every record was written but before the file was in place.
            let exported = move_into_place(partial_path, unfinished)?;
            write_checkpoint(
                checkpoint_path,
                &SavedCheckpoint {
                    resource: Some(resource.to_owned()),
                    sync: sync.clone(),
                    unfinished: None,
                    exported: Some(exported.clone()),
                },
            )?;
            saved = Some(SavedCheckpoint {
                resource: Some(resource.to_owned()),
                sync: sync.clone(),
                unfinished: None,
                exported: Some(exported),
            });
        } else {
            let writer = RecordWriter::resume(
                partial_path,
                options.format,
                columns,
                unfinished.partial_bytes,
            )?;
            let in_out = match (unfinished.appends_to, &saved) {
                (
                    Some(_),
                    Some(SavedCheckpoint {
                        exported: Some(exported),
                        ..
                    }),
                ) => exported.records,
                _ => 0,
            };
            return Ok(Start {
                sync: sync.clone(),
                writer,
                records: unfinished.records,
                in_out,
                appends_to: unfinished.appends_to,
            });
        }
    }
    match saved {
        Some(SavedCheckpoint {
            sync,
            exported: Some(exported),
            ..
        }) if !explicit_start
            && (options.since.is_none()
                || (exported.out == options.out && exported.format == options.format)) =>
        {
            if exported.out != options.out || exported.format != options.format {
                return Err(Usage::new(format!(
                    "the checkpoint {} is of the export into {} ({}); run with that --out and --format to add what changed, or add --overwrite to start a new export",
                    checkpoint_path.display(),
                    exported.out.display(),
                    format_name(exported.format),
                ))
                .into());
            }
            let length = std::fs::metadata(&options.out).map(|meta| meta.len()).ok();
            if length != Some(exported.bytes) {
                return Err(Usage::new(format!(
                    "{} {} since the last export wrote {} bytes; move it back, or add --overwrite to export everything again",
                    options.out.display(),
                    match length {
                        None => "is gone".to_owned(),
                        Some(length) => format!("holds {length} bytes"),
                    },
                    exported.bytes,
                ))
                .into());
            }
            Ok(Start {
                sync,
                writer: RecordWriter::create(partial_path, options.format, columns, false)?,
                records: 0,
                in_out: exported.records,
                appends_to: Some(exported.bytes),
            })
        }
        saved => {
            if options.out.exists() && !options.overwrite {
                return Err(Usage::new(format!(
                    "{} already exists and {} is no checkpoint of an export into it; add --overwrite to replace it, or choose another --out",
                    options.out.display(),
                    checkpoint_path.display(),
                ))
                .into());
            }
            let sync = match (&options.since, saved) {
                (Some(Since::Time(at)), _) => SyncCheckpoint::since(*at),
                (Some(Since::Checkpoint(_)), Some(saved)) => saved.sync,
                _ => SyncCheckpoint::everything(),
            };
            Ok(Start {
                sync,
                writer: RecordWriter::create(partial_path, options.format, columns, true)?,
                records: 0,
                in_out: 0,
                appends_to: None,
            })
        }
    }
}

/// Puts a complete partial file in place: renamed to `OUT` when it is a new export, appended to
/// `OUT` (cut back first to its length before this run, so that a repeat after a crash does not
/// append twice) when it is an increment.
fn move_into_place(partial_path: &Path, unfinished: &Unfinished) -> anyhow::Result<Exported> {
    let out = &unfinished.out;
    let bytes = unfinished.appends_to.unwrap_or(0) + unfinished.partial_bytes;
    let exported = Exported {
        out: out.clone(),
        format: unfinished.format,
        bytes,
        records: unfinished.records,
    };
    if !partial_path.exists() {
        // Moved already, before a crash stopped the checkpoint from saying so.
        if std::fs::metadata(out).map(|meta| meta.len()).ok() == Some(bytes) {
            return Ok(exported);
        }
        return Err(Usage::new(format!(
            "{} is gone before it was moved into {}; delete the checkpoint and start again",
            partial_path.display(),
            out.display()
        ))
        .into());
    }
    match unfinished.appends_to {
        None => {
            std::fs::rename(partial_path, out).with_context(|| {
                format!(
                    "cannot rename {} to {}",
                    partial_path.display(),
                    out.display()
                )
            })?;
        }
        Some(keep) => {
            let mut file = OpenOptions::new()
                .write(true)
                .open(out)
                .with_context(|| format!("cannot open {} to append to it", out.display()))?;
            let length = file.metadata()?.len();
            if length < keep {
                return Err(Usage::new(format!(
                    "{} holds {length} bytes, fewer than the {keep} it held before this run; move it back, or start again with --overwrite",
                    out.display()
                ))
                .into());
            }
            file.set_len(keep)?;
            file.seek(SeekFrom::End(0))?;
            let mut partial = File::open(partial_path)
                .with_context(|| format!("cannot read {}", partial_path.display()))?;
            std::io::copy(&mut partial, &mut file)
                .with_context(|| format!("cannot append to {}", out.display()))?;
            file.sync_all()?;
            std::fs::remove_file(partial_path)
                .with_context(|| format!("cannot remove {}", partial_path.display()))?;
        }
    }
    Ok(exported)
}

/// Runs an export of the records of `L`'s resource (`PatientList`: patients) until it
/// finishes, fails, or `interrupt` completes (Ctrl-C).
pub async fn export<L>(
    client: &Client,
    options: ExportOptions,
    interrupt: impl std::future::Future<Output = ()>,
) -> anyhow::Result<ExportOutcome>
where
    L: ListPage,
    L::Item: Versioned + Record + Send + 'static,
{
    let resource = L::resource().plural;
    let checkpoint_path = match (&options.checkpoint, &options.since) {
        (Some(path), _) => path.clone(),
        (None, Some(Since::Checkpoint(path))) => path.clone(),
        (None, _) => sibling(&options.out, ".checkpoint.json"),
    };
    let partial_path = sibling(&options.out, ".partial");
    let Start {
        sync: sync_from,
        mut writer,
        mut records,
        in_out,
        appends_to,
    } = start(
        &options,
        resource,
        L::Item::COLUMNS,
        &checkpoint_path,
        &partial_path,
    )?;
    let records_before = records;
    let unfinished = |partial_bytes, records, complete| Unfinished {
        out: options.out.clone(),
        format: options.format,
        partial_bytes,
        records,
        appends_to,
        complete,
    };
    let exported = appends_to.map(|bytes| Exported {
        out: options.out.clone(),
        format: options.format,
        bytes,
        records: in_out,
    });
    // Saved before the first request, so that Ctrl-C at any moment leaves a checkpoint to resume.
    let position = writer.flush_position()?;
    write_checkpoint(
        &checkpoint_path,
        &SavedCheckpoint {
            resource: Some(resource.to_owned()),
            sync: sync_from.clone(),
            unfinished: Some(unfinished(position, records, false)),
            exported: exported.clone(),
        },
    )?;

    // The records behind the last checkpoint saved: what an interrupted run keeps.
    let mut kept = records;
    let mut progress = Reporter::new(
        options.progress,
        records_before,
        client.clone(),
        L::Item::PLURAL,
    );
    let mut sync = client.sync::<L>(sync_from, SyncOptions::default().per_page(options.per_page));
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
                    "the sync stopped after {} were saved; run the same command again to go on from the last page saved ({})",
                    plural(kept, L::Item::SINGULAR, L::Item::PLURAL),
                    checkpoint_path.display()
                )));
            }
        };
        match event {
            RecordEvent::Record(record) => {
                writer.write(&*record)?;
                records += 1;
            }
            RecordEvent::Progress(report) => {
                let position = writer.flush_position()?;
                write_checkpoint(
                    &checkpoint_path,
                    &SavedCheckpoint {
                        resource: Some(resource.to_owned()),
                        sync: report.checkpoint.clone(),
                        unfinished: Some(unfinished(position, records, false)),
                        exported: exported.clone(),
                    },
                )?;
                kept = records;
                progress.page(&report);
            }
            RecordEvent::Finished(next) => {
                let position = writer.finish()?;
                let complete = unfinished(position, in_out + records, true);
                write_checkpoint(
                    &checkpoint_path,
                    &SavedCheckpoint {
                        resource: Some(resource.to_owned()),
                        sync: next.clone(),
                        unfinished: Some(complete.clone()),
                        exported: exported.clone(),
                    },
                )?;
                let done = move_into_place(&partial_path, &complete)?;
                write_checkpoint(
                    &checkpoint_path,
                    &SavedCheckpoint {
                        resource: Some(resource.to_owned()),
                        sync: next,
                        unfinished: None,
                        exported: Some(done),
                    },
                )?;
                progress.finish();
                return Ok(ExportOutcome::Finished {
                    records,
                    total: in_out + records,
                    appended: appends_to.is_some(),
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
// One writer per run: its size does not matter, and a box would cost an indirection per record.
#[allow(clippy::large_enum_variant)]
enum RecordWriter {
    Jsonl(BufWriter<File>),
    /// The writer, and the resource's columns.
    Csv(csv::Writer<File>, &'static [Column]),
}

impl RecordWriter {
    /// A new partial file, with the CSV header when the format has one and `header` asks for it
    /// (not for an increment, appended after the header already written).
    fn create(
        path: &Path,
        format: ExportFormat,
        columns: &'static [Column],
        header: bool,
    ) -> anyhow::Result<Self> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(match format {
            ExportFormat::Jsonl => Self::Jsonl(BufWriter::new(file)),
            ExportFormat::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(file);
                if header {
                    writer.write_record(columns.iter().map(|column| column.name))?;
                }
                Self::Csv(writer, columns)
            }
        })
    }

    /// The partial file of an unfinished export, cut back to the length its checkpoint kept.
    fn resume(
        path: &Path,
        format: ExportFormat,
        columns: &'static [Column],
        keep: u64,
    ) -> anyhow::Result<Self> {
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
                columns,
            ),
        })
    }

    fn write(&mut self, record: &impl Serialize) -> anyhow::Result<()> {
        match self {
            Self::Jsonl(out) => {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")?;
            }
            Self::Csv(out, columns) => {
                let json = serde_json::to_value(record)?;
                out.write_record(columns.iter().map(|column| column.cell(&json)))?;
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
            Self::Csv(out, _) => {
                out.flush()?;
                let mut file: &File = out.get_ref();
                file.stream_position()?
            }
        })
    }

    /// Flushes and syncs the file to disk; its length.
    fn finish(mut self) -> anyhow::Result<u64> {
        let position = self.flush_position()?;
        let file = match &self {
            Self::Jsonl(out) => out.get_ref(),
            Self::Csv(out, _) => out.get_ref(),
        };
        file.sync_all()?;
        Ok(position)
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
    /// Shows the client's waits (a countdown) while no page comes; stopped by `finish`.
    watcher: Option<tokio::task::JoinHandle<()>>,
    /// Time spent in `page` and `finish`.
    busy: Duration,
    /// The records, plural (`patients`).
    plural: &'static str,
}

/// How often the spinner and the clock move.
const TICK_EVERY: Duration = Duration::from_millis(100);

impl Reporter {
    fn new(mode: Progress, before: u64, client: Client, plural: &'static str) -> Self {
        let (mode, bar) = match mode {
            Progress::Bar(target) => {
                let bar = ProgressBar::with_draw_target(None, target);
                let style = ProgressStyle::with_template(&format!(
                    "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {plural} ({{per_sec}}), eta {{eta}}, {{msg}}{{prefix}}",
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_position(before);
                bar.set_message("starting");
                // The spinner and the clock move on their own, whatever the network does.
                bar.enable_steady_tick(TICK_EVERY);
                (Progress::Off, Some(bar))
            }
            mode => (mode, None),
        };
        let watcher = match (&mode, &bar) {
            (_, Some(bar)) => Some(tokio::spawn(watch_bar(client, bar.clone()))),
            (Progress::Log, None) => Some(tokio::spawn(watch_log(client))),
            _ => None,
        };
        Self {
            mode,
            bar,
            before,
            last_log: Instant::now(),
            started: Instant::now(),
            last: None,
            watcher,
            busy: Duration::ZERO,
            plural,
        }
    }

    fn page(&mut self, report: &SyncProgress) {
        let start = Instant::now();
        self.show_page(report);
        self.busy += start.elapsed();
    }

    fn show_page(&mut self, report: &SyncProgress) {
        let done = self.before + report.records();
        let total = self.before + report.total_entries.max(report.records());
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(format!(
                "{}, {}",
                plural(report.pages_read, "page", "pages"),
                plural(
                    u64::from(report.rate_limit_waits),
                    "rate-limit wait",
                    "rate-limit waits"
                )
            ));
        } else if matches!(self.mode, Progress::Log) && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            eprintln!(
                "{}",
                log_line(report, done, total, self.started.elapsed(), self.plural)
            );
        }
        self.last = Some(report.clone());
    }

    fn finish(&mut self) {
        let start = Instant::now();
        self.show_finish();
        self.busy += start.elapsed();
    }

    fn show_finish(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let (Progress::Log, Some(report)) = (&self.mode, &self.last) {
            let done = self.before + report.records();
            let total = self.before + report.total_entries.max(report.records());
            eprintln!(
                "{}",
                log_line(report, done, total, self.started.elapsed(), self.plural)
            );
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
    }
}

fn log_line(
    report: &SyncProgress,
    done: u64,
    total: u64,
    elapsed: Duration,
    plural_name: &str,
) -> String {
    let mut line = format!(
        "sync: {done} of {total} {plural_name}, {}, {} ({:.1}s waited)",
        plural(report.pages_read, "page", "pages"),
        plural(
            u64::from(report.rate_limit_waits),
            "rate-limit wait",
            "rate-limit waits"
        ),
        report.rate_limit_waited.as_secs_f64()
    );
    if done > 0 && total > done {
        let per_record = elapsed.as_secs_f64() / report.records().max(1) as f64;
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
