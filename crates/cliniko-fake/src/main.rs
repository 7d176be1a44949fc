//! `cliniko-fake`: serves the fake Cliniko API until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use cliniko_fake::{FakeCliniko, Faults};

/// A stateful, in-memory fake of Cliniko's API, served from the spec.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// How many attendees to seed.
    #[arg(long, value_name = "N", default_value_t = cliniko_fake::DEFAULT_ATTENDEES)]
    seed: usize,
    /// The seed of the generator behind the seeded data and the faults.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    random_seed: u64,
    /// The one API key accepted (the Basic user name; the password is ignored). A key given here
    /// or in the environment is never printed.
    #[arg(long, env = "CLINIKO_FAKE_API_KEY", default_value = cliniko_fake::DEFAULT_API_KEY, hide_env_values = true)]
    api_key: String,
    /// Keep the data between runs in this file: read at start when it exists, written
    /// atomically on Ctrl-C (the seed and --seed count must match the run that wrote it).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Serve Cliniko drifting from the spec on chosen routes, as a YAML file lists: an
    /// undocumented field, a new code in a code list, a field turned null, or an undocumented
    /// status (see the crate's `drift` docs).
    #[arg(long, value_name = "FILE")]
    drift: Option<PathBuf>,
    /// Requests per window per key before 429; 0 means no limit.
    #[arg(long, value_name = "N", default_value_t = cliniko_fake::DEFAULT_RATE_LIMIT_PER_MINUTE)]
    rate_limit: u32,
    /// The rate limit's sliding window in milliseconds (Cliniko's is a minute); shorter runs
    /// tests of pacing in seconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = cliniko_fake::DEFAULT_RATE_LIMIT_WINDOW.as_millis() as u64
    )]
    rate_limit_window_ms: u64,
    /// The largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = cliniko_fake::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Fault: milliseconds added to every request.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Fault: the share of requests (0.0 to 1.0) answered 500 or 503.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    server_error_rate: f64,
    /// Fault: answer the first N requests 429.
    #[arg(long, value_name = "N", default_value_t = 0)]
    rate_limit_burst: u32,
    /// Fault: the share of answers whose body is cut short.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    truncate_rate: f64,
    /// Fault: the share of requests whose connection is closed without an answer.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    drop_rate: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let faults = Faults {
        latency: Duration::from_millis(cli.latency_ms),
        server_error_rate: cli.server_error_rate,
        rate_limit_burst: cli.rate_limit_burst,
        truncate_rate: cli.truncate_rate,
        drop_rate: cli.drop_rate,
    };
    let default_key = cli.api_key == cliniko_fake::DEFAULT_API_KEY;
    let mut builder = FakeCliniko::builder();
    if let Some(drift) = &cli.drift {
        builder = builder.drift(cliniko_fake::Drift::load(drift)?);
    }
    if let Some(state) = &cli.state {
        builder = builder.state_file(state);
    }
    let server = builder
        .listen(cli.listen)
        .api_key(cli.api_key)
        .seed(cli.random_seed)
        .attendees(cli.seed)
        .rate_limit_per_minute((cli.rate_limit > 0).then_some(cli.rate_limit))
        .rate_limit_window(Duration::from_millis(cli.rate_limit_window_ms))
        .max_body_bytes(cli.max_body_bytes)
        .faults(faults)
        .start()
        .await
        .context("starting the fake Cliniko server")?;
    // The default key is public (it is in --help); a chosen one is never printed.
    let key = if default_key {
        format!("API key {}", cliniko_fake::DEFAULT_API_KEY)
    } else {
        "the API key from --api-key or CLINIKO_FAKE_API_KEY".to_owned()
    };
    eprintln!(
        "cliniko-fake: serving {} attendees at {} with {key} (press Ctrl-C to stop)",
        server.attendee_count(),
        server.base_url()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!(
        "cliniko-fake: stopping after {} requests",
        server.requests_received()
    );
    let state = cli.state.clone();
    server
        .shutdown_and_save()
        .await
        .context("saving the state")?;
    if let Some(state) = state {
        eprintln!("cliniko-fake: saved the data to {}", state.display());
    }
    Ok(())
}
