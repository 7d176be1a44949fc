//! The `cliniko` command line: every operation of the Cliniko attendees API as a subcommand, a
//! resumable export of each resource whose list filters on `updated_at` (`cliniko patient sync`),
//! and a built-in fake server (`cliniko --fake ...`).
//!
//! ```text
//! cliniko --fake attendee list --per-page 5
//! CLINIKO_API_KEY=... cliniko attendee get 1390726237298631770 --output json
//! CLINIKO_API_KEY=... cliniko attendee cancel 1390726237298631770 --reason sick --note "flu"
//! CLINIKO_API_KEY=... cliniko attendee sync --since 2024-01-01T00:00:00Z --out changes.jsonl
//! cliniko completions bash > ~/.local/share/bash-completion/completions/cliniko
//! ```
//!
//! # Generated from the spec
//!
//! The command tree (`src/generated_cli.rs`) is written by `cargo xtask codegen` from
//! `spec/cliniko-attendees.yaml`, as the client is, and drift-checked by `cargo xtask codegen
//! --check`. progenitor has a CLI generator of its own, but it is written against progenitor's
//! error type, which our generated builders no longer return (their `send()` gives
//! [`cliniko_client::Error`]), it cannot turn a code list into named values or let a partial update
//! clear a field, and it knows nothing of the filter facts; so `xtask/src/codegen/cli.rs`
//! generates clap builder calls from the spec itself. Nothing per operation is written by hand:
//! this crate adds only value parsers ([`args`]), printing ([`output`]), the export ([`export`],
//! generic over the resource; the generated tree adds it to each syncable resource's group),
//! progress ([`progress`]), exit codes ([`exit`]) and the client set-up. No module uses the
//! crate root or one that uses it back: the generated tree depends on `args`, `exit`, `export` and
//! `output`, none of which depends on it.
//!
//! Names follow one rule. The command group is the operation's tag (`attendee`); the subcommand
//! is the `operationId` in kebab case without the tag's word (`listDeletedAttendees` →
//! `list-deleted`, `updateAttendeeViaPut` → `update-via-put`), and when the path starts at another
//! resource, `for` joins the verb to it (`listGroupAppointmentAttendees` →
//! `list-for-group-appointment GROUP_APPOINTMENT_ID`). Path parameters are positional; query
//! parameters and body properties are options, and a body property whose first word begins with
//! the verb loses it (`cancellation_reason` → `cancel --reason`). Code lists take the names of
//! `x-enum-varnames` in kebab case or Cliniko's codes (`--reason sick` or `--reason 30`); `q[]` is
//! `--filter`, checked against the route's fields and operators from [`cliniko_types::facts`]
//! before anything is sent; a nullable field of a partial update can be cleared
//! (`update --clear-notes`).
//!
//! # Keys, output and exit codes
//!
//! The API key comes from `CLINIKO_API_KEY` only, never from a flag (flags end up in shell
//! history and process lists); its suffix names the shard, and `--base-url` points elsewhere (a
//! proxy). Nothing this program prints or writes holds the key. Results go to stdout, as a table
//! or as JSON (`--output json`); messages and progress go to stderr. Exit codes
//! ([`EXIT_CODES`], also in `--help`): 0 success, 1 Cliniko refused, 2 bad usage or configuration
//! (including a request refused before sending), 3 a network failure, 130 interrupted by Ctrl-C
//! (a sync's checkpoint is saved). A closed stdout (`cliniko ... | head -1`) ends quietly with 0.
//!
//! # The fake
//!
//! `--fake` starts [`cliniko_fake::FakeCliniko`] inside the process on a free loopback port,
//! seeded with [`FAKE_ATTENDEES`] attendees from seed [`FAKE_SEED`], and points the command at it
//! with the fake's own key: every command can be tried without an account. Each run starts from
//! the same seeded data, so a cancel is not remembered by the next command.
//!
//! The crate is `publish = false`: `--fake` links `cliniko-fake`, which is not published; install
//! with `cargo install --path crates/cliniko-cli`.
#![deny(missing_docs)]

pub mod args;
pub mod exit;
pub mod export;
pub mod output;
pub mod progress;

/// The command tree generated from the spec.
#[rustfmt::skip]
#[allow(clippy::all, unused_mut)]
pub mod generated_cli;

use std::time::Duration;

use anyhow::Context as _;
use clap::{Arg, ArgAction, ArgMatches, Command};
use cliniko_client::{Client, ErrorKind, RateLimit, RetryPolicy};

use crate::output::{Format, Output};

pub use crate::args::confirm;
pub use crate::exit::{EXIT_CODES, Exit, Usage};

/// The seed of `--fake`'s data.
pub const FAKE_SEED: u64 = 1;
/// How many attendees `--fake` seeds.
pub const FAKE_ATTENDEES: usize = 200;
/// The environment variable that holds the API key.
pub const API_KEY_VARIABLE: &str = "CLINIKO_API_KEY";
/// The `User-Agent` sent when `CLINIKO_USER_AGENT` does not name one.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "cliniko-cli/",
    env!("CARGO_PKG_VERSION"),
    " (cliniko-cli@users.noreply.github.com)"
);

/// The heading global options are shown under, apart from each command's own.
const GLOBAL_OPTIONS: &str = "Global options";

/// The whole command tree: the generated groups (with `sync` in each syncable resource's), the
/// global options, and `completions`.
pub fn command() -> Command {
    let groups = generated_cli::groups();
    Command::new("cliniko")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Cliniko's attendees API from a terminal: every operation, a resumable export, and a built-in fake")
        .after_help(format!(
            "The API key is read from CLINIKO_API_KEY (never a flag); its suffix names the shard.\n\
             Try any command without an account: cliniko --fake attendee list\n\n{EXIT_CODES}"
        ))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .next_help_heading(GLOBAL_OPTIONS)
        .arg(
            Arg::new("timeout")
                .long("timeout")
                .global(true)
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64).range(1..=3600))
                .default_value("30")
                .help("Give up on a request that has no answer after this long (each try)"),
        )
        .arg(
            Arg::new("output")
                .long("output")
                .short('o')
                .global(true)
                .value_parser(["table", "json"])
                .default_value("table")
                .help("A table for people, or JSON for scripts (a page object; JSON Lines with --all)"),
        )
        .arg(
            Arg::new("base-url")
                .long("base-url")
                .global(true)
                .value_name("URL")
                .help("Send requests here (a proxy) instead of the shard the key names"),
        )
        .arg(
            Arg::new("fake")
                .long("fake")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Run against a fake Cliniko started in this process, with seeded data"),
        )
        .arg(
            Arg::new("user-agent")
                .long("user-agent")
                .global(true)
                .env("CLINIKO_USER_AGENT")
                .value_name("NAME (EMAIL)")
                .help("Who is calling, as Cliniko requires")
                .default_value(DEFAULT_USER_AGENT),
        )
        .subcommands(groups)
        .subcommand(
            Command::new("completions")
                .about("Print a shell's completion script")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(clap::value_parser!(clap_complete::Shell)),
                ),
        )
}

/// The output format `matches` ask for.
pub fn format(matches: &ArgMatches) -> Format {
    match matches.get_one::<String>("output").map(String::as_str) {
        Some("json") => Format::Json,
        _ => Format::Table,
    }
}

/// Runs the command `matches` name, printing results to `output`.
pub async fn run(matches: &ArgMatches, output: &mut Output) -> anyhow::Result<Exit> {
    if let Some(("completions", completions)) = matches.subcommand() {
        let shell = completions
            .get_one::<clap_complete::Shell>("shell")
            .copied()
            .context("a shell is required")?;
        let mut buffer = Vec::new();
        clap_complete::generate(shell, &mut command(), "cliniko", &mut buffer);
        output.summary(&String::from_utf8_lossy(&buffer), serde_json::Value::Null)?;
        return Ok(Exit::Success);
    }
    let (client, fake) = client(matches).await?;
    let outcome = generated_cli::run(&client, matches, output).await;
    output.flush()?;
    if let Some(fake) = fake {
        fake::stop(fake).await;
    }
    outcome
}

/// `--fake`: a fake Cliniko in this process (the `fake` feature, on by default).
#[cfg(feature = "fake")]
mod fake {
    use anyhow::Context as _;
    use cliniko_client::Client;

    use crate::{FAKE_ATTENDEES, FAKE_SEED, Usage};

    /// The key `--fake` uses; it only opens the in-process fake.
    const FAKE_API_KEY: &str = cliniko_fake::DEFAULT_API_KEY;

    /// A running fake.
    pub(crate) type Running = cliniko_fake::FakeCliniko;

    /// Starts the fake, and a client that talks to it.
    pub(crate) async fn start(user_agent: String) -> anyhow::Result<(Client, Running)> {
        let fake = cliniko_fake::FakeCliniko::builder()
            .api_key(FAKE_API_KEY)
            .seed(FAKE_SEED)
            .attendees(FAKE_ATTENDEES)
            .start()
            .await
            .context("the fake cliniko did not start")?;
        let client = Client::builder(FAKE_API_KEY, user_agent)
            .base_url(fake.base_url())
            .build()
            .map_err(|error| Usage::new(error.to_string()))?;
        Ok((client, fake))
    }

    /// Stops it.
    pub(crate) async fn stop(fake: Running) {
        fake.shutdown().await;
    }
}

/// `--fake` in a build without the `fake` feature: refused.
#[cfg(not(feature = "fake"))]
mod fake {
    use cliniko_client::Client;

    use crate::Usage;

    /// No fake runs in this build.
    pub(crate) enum Running {}

    /// Refuses, naming the feature.
    pub(crate) async fn start(_user_agent: String) -> anyhow::Result<(Client, Running)> {
        Err(Usage::new(
            "this cliniko was built without the `fake` feature: --fake is not available",
        )
        .into())
    }

    /// Nothing to stop.
    pub(crate) async fn stop(fake: Running) {
        match fake {}
    }
}

/// The client the command runs with, and the fake it talks to under `--fake`.
async fn client(matches: &ArgMatches) -> anyhow::Result<(Client, Option<fake::Running>)> {
    let user_agent = matches
        .get_one::<String>("user-agent")
        .cloned()
        .unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned());
    if matches.get_flag("fake") {
        let (client, fake) = fake::start(user_agent).await?;
        return Ok((client, Some(fake)));
    }
    let key = match std::env::var(API_KEY_VARIABLE) {
        Ok(key) if !key.trim().is_empty() => key,
        _ => {
            return Err(Usage::new(format!(
                "set {API_KEY_VARIABLE} to your Cliniko API key (Cliniko: My info > Manage API keys), or try --fake"
            ))
            .into());
        }
    };
    // A long sync meets the rate limit again and again: each request may wait out more resets
    // than the client's default before it gives up.
    let timeout = matches.get_one::<u64>("timeout").copied().unwrap_or(30);
    if matches.get_one::<String>("base-url").is_none()
        && let Ok(shard) = cliniko_client::ApiKey::new(key.trim()).and_then(|key| key.shard())
        && !cliniko_client::Shard::documented().any(|known| known == shard)
    {
        // Not refused (Cliniko opens shards), but named if the shard's host does not answer.
        let _ = UNDOCUMENTED_SHARD.set(shard.to_string());
    }
    let mut builder = Client::builder(key.trim(), user_agent)
        .rate_limit(RateLimit::CLINIKO)
        .retry(RetryPolicy::default().max_rate_limit_waits(10))
        .timeout(Duration::from_secs(timeout));
    if let Some(base_url) = matches.get_one::<String>("base-url") {
        builder = builder.base_url(base_url.clone());
    }
    let client = builder.build().map_err(|error| {
        let check = match &error {
            cliniko_client::ConfigError::InvalidBaseUrl { .. } => "check --base-url".to_owned(),
            cliniko_client::ConfigError::InvalidUserAgent => {
                "check --user-agent or CLINIKO_USER_AGENT".to_owned()
            }
            _ => format!("check {API_KEY_VARIABLE}"),
        };
        Usage::new(format!("{error} ({check})"))
    })?;
    let _ = BASE_URL_PATH.set(base_url_path(client.base_url()));
    Ok((client, None))
}

/// The path of a base URL, without a trailing `/`.
fn base_url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    path.trim_end_matches('/').to_owned()
}

/// Whether `error` is only stdout closed by its reader (`| head -1`): not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit code for an error.
pub fn exit_code(error: &anyhow::Error) -> Exit {
    if is_broken_pipe(error) {
        return Exit::Success;
    }
    for cause in error.chain() {
        if cause.downcast_ref::<Usage>().is_some() {
            return Exit::Usage;
        }
        if let Some(error) = cause.downcast_ref::<cliniko_client::Error>() {
            return match error.kind() {
                ErrorKind::InvalidRequest(_) | ErrorKind::Config(_) => Exit::Usage,
                ErrorKind::Transport(_) => Exit::Network,
                ErrorKind::OutcomeUnknown { source, .. }
                    if matches!(**source, ErrorKind::Transport(_)) =>
                {
                    Exit::Network
                }
                _ => Exit::Api,
            };
        }
    }
    Exit::Api
}

/// The message for an error: what went wrong, then what to do.
pub fn describe(error: &anyhow::Error) -> String {
    let mut message = format!("{error:#}");
    let client_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<cliniko_client::Error>());
    if let Some(client_error) = client_error {
        match client_error.kind() {
            ErrorKind::Unauthorised { .. } => message.push_str(&format!(
                "\nhint: set {API_KEY_VARIABLE} to a valid api key for this account; its suffix names the shard"
            )),
            ErrorKind::RateLimited {
                reset_at: Some(reset_at),
            } => {
                let wait = (*reset_at - chrono::Utc::now()).num_seconds().max(0);
                message.push_str(&format!(
                    "\nhint: cliniko's rate limit resets at {} (in {wait}s); wait that long, then run the command again",
                    reset_at.to_rfc3339()
                ));
            }
            ErrorKind::NotFound { .. } if base_url_lacks_v1() => message.push_str(
                "\nhint: Cliniko's routes start with /v1: a --base-url should end in /v1, such as https://api.au1.cliniko.com/v1",
            ),
            ErrorKind::NotFound { .. } => message.push_str(
                "\nhint: to find a cancelled or archived record, add --filter 'cancelled_at*' or --filter 'archived_at*'",
            ),
            ErrorKind::Transport(_) if UNDOCUMENTED_SHARD.get().is_some() => {
                message.push_str(&format!(
                    "\nhint: {API_KEY_VARIABLE} names the shard {}, which Cliniko does not document ({}); check the key, or pass --base-url",
                    UNDOCUMENTED_SHARD.get().map(String::as_str).unwrap_or_default(),
                    cliniko_client::Shard::documented()
                        .map(|shard| shard.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            ErrorKind::RateLimited { reset_at: None } => message.push_str(
                "\nhint: cliniko's rate limit resets within a minute; wait, then run the command again",
            ),
            _ => {}
        }
    }
    message
}

/// The shard the key names when Cliniko does not document it, for the hint on a network error.
static UNDOCUMENTED_SHARD: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The path of the base URL this process runs against, for the hint on a 404.
static BASE_URL_PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Whether the base URL misses Cliniko's `/v1` (then every route answers 404, which is no
/// missing attendee).
fn base_url_lacks_v1() -> bool {
    BASE_URL_PATH
        .get()
        .is_some_and(|path| !path.ends_with("/v1"))
}
