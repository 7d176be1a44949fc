//! Load benchmark (not a test): seeds 1,000,000 attendees, drives keep-alive HTTP/1.1 load over
//! loopback, and prints requests per second and p50/p99 latency for `GET /v1/attendees/{id}` and
//! `GET /v1/attendees?per_page=100`, plus the process's resident memory.
//!
//! Run with `cargo bench -p cliniko-fake`. `LOAD_SECONDS` (default 5) sets each phase's length,
//! `LOAD_CONNECTIONS` (default 32) the number of concurrent connections, and `LOAD_ATTENDEES`
//! (default 1,000,000) the seeded count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use cliniko_fake::FakeCliniko;
use http_body_util::{BodyExt as _, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;

const KEY: &str = "bench-key";
const USER_AGENT: &str = "cliniko-fake load bench (bench@cliniko-fake.example)";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The resident set size of this process (server and load generator together), in MiB.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

struct Phase {
    name: &'static str,
    requests: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    bytes: u64,
    non_200: u64,
}

impl Phase {
    fn print(&self) {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(0)
        };
        println!(
            "{:<34} {:>9} requests in {:>5.2} s = {:>9.0} req/s   p50 {:>6} us   p99 {:>6} us   {:>6.1} MiB/s   non-200: {}",
            self.name,
            self.requests,
            self.elapsed.as_secs_f64(),
            self.requests as f64 / self.elapsed.as_secs_f64(),
            at(0.50),
            at(0.99),
            self.bytes as f64 / self.elapsed.as_secs_f64() / (1024.0 * 1024.0),
            self.non_200,
        );
    }
}

/// Runs `connections` keep-alive connections for `seconds`, each sending the paths `path_for`
/// gives it one after another.
async fn drive(
    name: &'static str,
    addr: std::net::SocketAddr,
    connections: usize,
    seconds: u64,
    path_for: Arc<dyn Fn(u64) -> String + Send + Sync>,
) -> anyhow::Result<Phase> {
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"))
    );
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (path_for, authorization) = (path_for.clone(), authorization.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            let (mut bytes, mut non_200) = (0u64, 0u64);
            let mut n = connection as u64;
            while Instant::now() < deadline {
                let request = Request::get(path_for(n))
                    .header("host", addr.to_string())
                    .header("authorization", &authorization)
                    .header("user-agent", USER_AGENT)
                    .header("accept", "application/json")
                    .body(Empty::<Bytes>::new())?;
                let sent = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                if response.status() != 200 {
                    non_200 += 1;
                }
                bytes += response.into_body().collect().await?.to_bytes().len() as u64;
                latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                n += connections as u64;
            }
            anyhow::Ok((latencies, bytes, non_200))
        }));
    }
    let mut phase = Phase {
        name,
        requests: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        bytes: 0,
        non_200: 0,
    };
    for task in tasks {
        let (latencies, bytes, non_200) = task.await??;
        phase.requests += latencies.len() as u64;
        phase.latencies_us.extend(latencies);
        phase.bytes += bytes;
        phase.non_200 += non_200;
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
}

/// A fixed-step scrambler, so each connection asks for different attendees and pages.
fn scramble(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17
}

async fn run() -> anyhow::Result<()> {
    let seconds = env_or("LOAD_SECONDS", 5u64);
    let connections = env_or("LOAD_CONNECTIONS", 32usize);
    let attendees = env_or("LOAD_ATTENDEES", 1_000_000usize);
    let before = resident_mib().unwrap_or(0.0);
    let seeding = Instant::now();
    let server = FakeCliniko::builder()
        .api_key(KEY)
        .seed(1)
        .attendees(attendees)
        .rate_limit_per_minute(None)
        .start()
        .await?;
    let seeded_in = seeding.elapsed();
    let after_seed = resident_mib().unwrap_or(0.0);
    println!(
        "seeded {} attendees in {:.2} s; resident memory {:.1} MiB (before seeding {:.1} MiB)",
        server.attendee_count(),
        seeded_in.as_secs_f64(),
        after_seed,
        before
    );
    let addr = server.local_addr();
    let ids: Arc<Vec<i64>> = Arc::new(
        server
            .fixtures()
            .attendees
            .iter()
            .map(|id| id.get())
            .collect(),
    );
    // Random seeded attendees, cancelled and archived ones too, so every get answers 200.
    let get_one: Arc<dyn Fn(u64) -> String + Send + Sync> = {
        let ids = ids.clone();
        Arc::new(move |n| {
            let id = ids[(scramble(n) % ids.len() as u64) as usize];
            format!("/v1/attendees/{id}?q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*")
        })
    };
    let plain_get: Arc<dyn Fn(u64) -> String + Send + Sync> = {
        let ids = ids.clone();
        Arc::new(move |n| {
            format!(
                "/v1/attendees/{}",
                ids[(scramble(n) % ids.len() as u64) as usize]
            )
        })
    };
    let pages = (attendees as u64 * 9 / 10 / 100).max(1);
    let list_page: Arc<dyn Fn(u64) -> String + Send + Sync> = Arc::new(move |n| {
        format!(
            "/v1/attendees?per_page=100&page={}",
            scramble(n) % pages + 1
        )
    });

    println!(
        "{connections} keep-alive connections, {seconds} s a phase, server and load generator on one 2-worker runtime"
    );
    drive("warm-up", addr, connections, 1, plain_get.clone()).await?;
    for (name, paths) in [
        ("GET /v1/attendees/{id}", plain_get),
        ("GET /v1/attendees/{id}?q[]=..:*", get_one),
        ("GET /v1/attendees?per_page=100", list_page),
    ] {
        let phase = drive(name, addr, connections, seconds, paths).await?;
        phase.print();
        if phase.requests == 0 {
            bail!("{name}: no request completed");
        }
    }
    println!(
        "resident memory after load: {:.1} MiB; requests served: {}",
        resident_mib().unwrap_or(0.0),
        server.requests_received()
    );
    server.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a filter argument is ignored, there is one benchmark.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(run())
}
