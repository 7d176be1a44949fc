//! Project automation, run as `cargo xtask <verb>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask codegen [--check] [--strict] [--timings]`: check `spec/cliniko-attendees.yaml`
//!   and generate the schema types, the client and `spec/DIFFERENCES.md` from it; `--check` writes
//!   nothing and fails on stale output; `--strict` fails on a difference from Cliniko's documents
//!   without a reason (otherwise a warning).
//! - `cargo xtask spec-diff [--base GIT_REV_OR_FILE]
//!   [--format human|json|markdown|githubactions|junit] [--profile ours|strict]
//!   [--fail-on breaking|warning|info] [--fail-on-breaking] [--ignore FILE]
//!   [--require-version-bump CARGO_TOML]`: what changed in the spec since a base, and how much
//!   each change matters for code generated from it.
//! - `cargo xtask heal [PATH...] [--base-url URL] [--body FILE] [--dry-run]`: widen the spec to
//!   what exchanges show Cliniko sending, regenerate, bump the version, and write a pull-request
//!   body (see `heal.rs`).
//! - `XTASK_ROOT=DIR` runs a verb on the workspace copy at `DIR` instead of this one.
//! - `cargo xtask conformance ARGS...`: `cargo run -p cliniko-conformance -- ARGS...`, for example
//!   `cargo xtask conformance check tests/recordings`.

/// The spec, relative to the workspace root (read by `codegen` and `spec-diff` alike).
pub const SPEC_PATH: &str = "spec/cliniko-attendees.yaml";

mod codegen;
mod heal;
mod spec_diff;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser;

/// Project automation for the Cliniko attendees workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
enum Command {
    /// Regenerate the types, the client and spec/DIFFERENCES.md from the spec.
    Codegen {
        /// Write nothing; fail when the checked-in files are stale.
        #[arg(long)]
        check: bool,
        /// Print how long each step took.
        #[arg(long)]
        timings: bool,
        /// Fail when a difference from Cliniko's documents has no reason in
        /// spec/differences-reasons.yaml, or a reason matches nothing (CI runs this; without it
        /// they are warnings).
        #[arg(long)]
        strict: bool,
    },
    /// Compare the spec with a base and say what breaks for code generated from the base.
    ///
    /// Exits with 0, with 1 when --fail-on-breaking (or --require-version-bump) finds a problem,
    /// and with 2 when a document cannot be read.
    SpecDiff(spec_diff::Args),
    /// Widen the spec to what Cliniko sent: read exchanges (recordings, HAR files, or a read-only
    /// live run), apply the changes they call for, regenerate, bump the version, and write a
    /// pull-request body.
    ///
    /// Exits with 0 when healed or when there is nothing to heal, 1 when the traffic calls for a
    /// change heal cannot make, and 2 when the input cannot be read.
    Heal(heal::Args),
    /// Check recorded or live exchanges against the spec (cargo run -p cliniko-conformance --
    /// ARGS...; try `conformance help`).
    #[command(disable_help_flag = true)]
    Conformance {
        /// Passed on to cliniko-conformance.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let command = Command::parse();
    match run(command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(spec_diff::exit_code(&error))
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    // `XTASK_ROOT` points the verbs at a copy of the workspace (the tests use it).
    let root = std::env::var_os("XTASK_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(workspace_root);
    match command {
        Command::Codegen {
            check,
            timings,
            strict,
        } => {
            let mode = if check {
                codegen::Mode::Check
            } else {
                codegen::Mode::Write
            };
            codegen::run(&root, mode, timings, strict)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::SpecDiff(args) => spec_diff::run(&root, &args),
        Command::Heal(args) => heal::run(&root, &args),
        Command::Conformance { args } => {
            conformance(&args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs the conformance CLI with `args` (paths stay relative to the caller's directory) and ends
/// with its exit status: 1 means violations, 2 an unreadable spec or recording.
fn conformance(args: &[String]) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["run", "--quiet", "--package", "cliniko-conformance", "--"])
        .args(args)
        .status()
        .context("cannot run cargo")?;
    match status.code() {
        Some(0) => Ok(()),
        // The CLI has already printed its report and its errors.
        Some(code) => std::process::exit(code),
        None => bail!("cliniko-conformance was stopped by a signal"),
    }
}

/// The workspace root: the xtask crate sits one level below it.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn help(verb: &str) -> String {
        let mut command = Command::command();
        command
            .find_subcommand_mut(verb)
            .expect("the verb exists")
            .render_long_help()
            .to_string()
    }

    #[test]
    fn every_verb_has_help() {
        Command::command().debug_assert();
        insta::assert_snapshot!("spec_diff_help", help("spec-diff"));
        insta::assert_snapshot!("codegen_help", help("codegen"));
        insta::assert_snapshot!("heal_help", help("heal"));
    }

    #[test]
    fn conformance_passes_its_arguments_on() {
        let command = Command::try_parse_from([
            "xtask",
            "conformance",
            "check",
            "--format",
            "junit",
            "--help",
        ])
        .expect("parses");
        let Command::Conformance { args } = command else {
            panic!("not conformance: {command:?}");
        };
        assert_eq!(args, ["check", "--format", "junit", "--help"]);
    }

    #[test]
    fn spec_diff_flags_parse() {
        let command = Command::try_parse_from([
            "xtask",
            "spec-diff",
            "--base",
            "HEAD~1",
            "--format",
            "markdown",
            "--fail-on-breaking",
            "--require-version-bump",
            "crates/cliniko-client/Cargo.toml",
        ])
        .expect("parses");
        let Command::SpecDiff(args) = command else {
            panic!("not spec-diff: {command:?}");
        };
        assert_eq!(args.base, "HEAD~1");
        assert_eq!(args.format, spec_diff::Format::Markdown);
        assert!(args.fail_on_breaking);
        assert_eq!(
            args.require_version_bump.as_deref(),
            Some(Path::new("crates/cliniko-client/Cargo.toml"))
        );
    }
}
