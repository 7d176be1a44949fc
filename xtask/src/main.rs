//! Project automation, run as `cargo xtask <verb>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask codegen [--check] [--timings]`: check `spec/cliniko-attendees.yaml` and generate
//!   the schema types and the client from it; `--check` writes nothing and fails on stale output.

mod codegen;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;

const USAGE: &str = "\
usage: cargo xtask <verb>

verbs:
  codegen [--check] [--timings]   regenerate the types and the client from the spec;
                                  --check writes nothing and fails when the checked-in code is stale;
                                  --timings prints how long each step took";

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
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown verb `{other}`\n\n{USAGE}"),
    }
}

/// The workspace root: the xtask crate sits one level below it.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}
