//! Project automation, run as `cargo xtask <verb>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask codegen [--check] [--timings]`: check `spec/cliniko-attendees.yaml` and generate
//!   the schema types and the client from it; `--check` writes nothing and fails on stale output.
//! - `cargo xtask conformance ARGS...`: `cargo run -p cliniko-conformance -- ARGS...`, for example
//!   `cargo xtask conformance check tests/recordings`.

mod codegen;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

const USAGE: &str = "\
usage: cargo xtask <verb>

verbs:
  codegen [--check] [--timings]   regenerate the types and the client from the spec;
                                  --check writes nothing and fails when the checked-in code is stale;
                                  --timings prints how long each step took
  conformance ARGS...             check recorded or live exchanges against the spec
                                  (cargo run -p cliniko-conformance -- ARGS...; try `conformance help`)";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    let Some((verb, flags)) = args.split_first() else {
        bail!("no verb given\n\n{USAGE}");
    };
    match verb.as_str() {
        "codegen" => {
            let mut mode = codegen::Mode::Write;
            let mut timings = false;
            for flag in flags {
                match flag.as_str() {
                    "--check" => mode = codegen::Mode::Check,
                    "--timings" => timings = true,
                    other => bail!("unknown flag `{other}` for codegen\n\n{USAGE}"),
                }
            }
            codegen::run(&workspace_root(), mode, timings)
        }
        "conformance" => conformance(flags),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown verb `{other}`\n\n{USAGE}"),
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
