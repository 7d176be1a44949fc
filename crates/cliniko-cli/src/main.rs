//! `cliniko`: see the `cliniko_cli` crate docs.

use std::process::ExitCode;

use cliniko_cli::output::Output;

fn main() -> ExitCode {
    let matches = cliniko_cli::command().get_matches();
    let mut output = Output::new(cliniko_cli::format(&matches), std::io::stdout());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(cliniko_cli::Exit::Api as u8);
        }
    };
    let exit = match runtime.block_on(cliniko_cli::run(&matches, &mut output)) {
        Ok(exit) => exit,
        // A reader that stopped reading (`| head -1`) is no failure: end quietly.
        Err(error) if cliniko_cli::is_broken_pipe(&error) => cliniko_cli::Exit::Success,
        Err(error) => {
            eprintln!("error: {}", cliniko_cli::describe(&error));
            cliniko_cli::exit_code(&error)
        }
    };
    ExitCode::from(exit as u8)
}
