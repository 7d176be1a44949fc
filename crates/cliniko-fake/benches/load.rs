//! Load benchmark (not a test): this build's `cliniko-fake` binary side by side with a baseline
//! binary (today's fake, built from another commit), in one run, each in its own process, driven
//! by keep-alive HTTP/1.1 over loopback. Printed per phase: requests per second of each, p50/p99
//! latency, the ratio and the target, with the load average of the machine while it ran.
//!
//! - `GET /v1/attendees/{id}` and `GET /v1/attendees?per_page=100` against servers seeded with
//!   `LOAD_ATTENDEES` (default 1,000,000) attendees, and each server's resident memory (VmRSS);
//! - a sync-shaped walk: `LOAD_SYNC_ATTENDEES` (default 100,000) attendees read as
//!   `cliniko_client`'s sync reads them (one connection, `q[]=cancelled_at:*`,
//!   `q[]=archived_at:*`, `q[]=updated_at:>=T`, `sort=updated_at:asc,id:asc`, 100 a page, each
//!   page starting from the last `updated_at` seen), in attendees per second.
//!
//! `CLINIKO_FAKE_BASELINE` names the baseline binary (for example one built from commit 7474475:
//! `git worktree add /tmp/base 7474475 && cargo build --release -p cliniko-fake` there). Without
//! it, the bench says so and measures this build alone. `LOAD_SECONDS` (default 5) sets each
//! phase's length and `LOAD_CONNECTIONS` (default 32) the concurrent connections.
//!
//! `LOAD_CALLGRIND=1` instead counts instructions, which a loaded machine does not disturb: each
//! binary runs under `valgrind --tool=callgrind` with instrumentation off while it seeds, then a
//! fixed number of requests of each kind is sent on one connection between `callgrind_control`'s
//! zero and dump, and the instructions per request are printed with their ratio.
//!
//! Run with `cargo bench -p cliniko-fake --bench load`.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;

const KEY: &str = "bench-key";
const USER_AGENT: &str = "cliniko-fake load bench (bench@cliniko-fake.example)";
/// The binary this bench measures: this package's, built with the bench.
const CURRENT: &str = env!("CARGO_BIN_EXE_cliniko-fake");

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// A fake running in its own process.
struct Server {
    label: &'static str,
    child: Child,
    addr: SocketAddr,
    seeded_in: Duration,
}

impl Server {
    /// Starts `binary` (under `wrapper`, such as valgrind, when given) and waits for its
    /// start-up line, which names the address.
    fn start(
        label: &'static str,
        binary: &str,
        attendees: usize,
        wrapper: &[String],
    ) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args([
                "--listen",
                "127.0.0.1:0",
                "--random-seed",
                "1",
                "--rate-limit",
                "0",
            ])
            .args(["--seed", &attendees.to_string(), "--api-key", KEY])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let Some(line) = lines.next() else {
                bail!("{binary} exited before saying where it listens");
            };
            let line = line?;
            if let Some(rest) = line.split("at http://").nth(1)
                && let Some(addr) = rest.split('/').next()
            {
                break addr.parse().with_context(|| format!("reading {line:?}"))?;
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            label,
            child,
            addr,
            seeded_in: started.elapsed(),
        })
    }

    fn resident_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
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

    fn stop(mut self) {
        // SIGINT, as Ctrl-C: the fake shuts down cleanly (and callgrind writes its last dump).
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Phase {
    requests: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    non_200: u64,
    load: String,
}

impl Phase {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, q: f64) -> u32 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        sorted
            .get(((sorted.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    }
}

fn authorization() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"))
    )
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One GET; the status and the body.
async fn get(sender: &mut Sender, addr: SocketAddr, path: &str) -> anyhow::Result<(u16, Bytes)> {
    let request = Request::get(path)
        .header("host", addr.to_string())
        .header("authorization", authorization())
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json")
        .body(Empty::<Bytes>::new())?;
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

type Paths = Arc<dyn Fn(u64) -> String + Send + Sync>;

/// Runs `connections` keep-alive connections for `seconds`, each sending the paths `path_for`
/// gives it one after another.
async fn drive(
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    path_for: Paths,
) -> anyhow::Result<Phase> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let path_for = path_for.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            let mut latencies = Vec::new();
            let mut non_200 = 0u64;
            let mut n = connection as u64;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let (status, _) = get(&mut sender, addr, &path_for(n)).await?;
                if status != 200 {
                    non_200 += 1;
                }
                latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                n += connections as u64;
            }
            anyhow::Ok((latencies, non_200))
        }));
    }
    let mut phase = Phase {
        requests: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        non_200: 0,
        load: String::new(),
    };
    for task in tasks {
        let (latencies, non_200) = task.await??;
        phase.requests += latencies.len() as u64;
        phase.latencies_us.extend(latencies);
        phase.non_200 += non_200;
    }
    phase.elapsed = started.elapsed();
    phase.load = load_average();
    Ok(phase)
}

/// A fixed-step scrambler, so each connection asks for different attendees and pages.
fn scramble(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17
}

/// IDs of attendees the plain get answers (neither cancelled nor archived), from pages spread
/// over the whole list.
async fn sample_ids(addr: SocketAddr) -> anyhow::Result<(Vec<String>, u64)> {
    let mut sender = connect(addr).await?;
    // Each server's own plain list: how many pages it has (the share of cancelled and archived
    // attendees, which it leaves out, is its own), and IDs spread over them.
    let (status, body) = get(&mut sender, addr, "/v1/attendees?per_page=100&page=1").await?;
    if status != 200 {
        bail!("listing page 1 answered {status}");
    }
    let body: serde_json::Value = serde_json::from_slice(&body)?;
    let total = body["total_entries"].as_u64().context("a total")?;
    let pages = total.div_ceil(100).max(1);
    let mut ids = Vec::new();
    for k in 0..100u64 {
        let page = k * pages / 100 + 1;
        let (status, body) = get(
            &mut sender,
            addr,
            &format!("/v1/attendees?per_page=100&page={page}"),
        )
        .await?;
        if status != 200 {
            bail!("listing page {page} answered {status}");
        }
        let body: serde_json::Value = serde_json::from_slice(&body)?;
        for attendee in body["attendees"].as_array().into_iter().flatten() {
            ids.push(attendee["id"].as_str().context("an id")?.to_owned());
        }
    }
    if ids.is_empty() {
        bail!("no attendee listed");
    }
    Ok((ids, pages))
}

/// The pages of a sync-shaped walk: keyset paging on (`updated_at`, `id`) as
/// `cliniko_client::Client::sync` pages, until `wanted` distinct attendees were read or the list
/// ended. `pages` caps the requests. Returns the attendees read and the requests sent.
async fn sync_walk(addr: SocketAddr, wanted: usize, pages: usize) -> anyhow::Result<(usize, u64)> {
    let mut sender = connect(addr).await?;
    let encode = |text: &str| text.replace(':', "%3A");
    let list = "/v1/attendees?per_page=100&q%5B%5D=cancelled_at%3A*&q%5B%5D=archived_at%3A*";
    let mut seen = std::collections::HashSet::new();
    // The position: from a time (`>=`, or `>` once an instant was read whole), or within one
    // instant after an ID, when a whole page shares one `updated_at`.
    let (mut at, mut strict, mut after): (Option<String>, bool, Option<String>) =
        (None, false, None);
    let mut requests = 0u64;
    while seen.len() < wanted && (requests as usize) < pages {
        let path = match (&at, &after) {
            (None, _) => format!("{list}&sort=updated_at%3Aasc%2Cid%3Aasc"),
            (Some(at), None) => format!(
                "{list}&q%5B%5D=updated_at%3A{}{}&sort=updated_at%3Aasc%2Cid%3Aasc",
                if strict { "%3E" } else { "%3E%3D" },
                encode(at)
            ),
            (Some(at), Some(id)) => format!(
                "{list}&q%5B%5D=updated_at%3A%3E%3D{0}&q%5B%5D=updated_at%3A%3C%3D{0}&q%5B%5D=id%3A%3E{id}&sort=id%3Aasc",
                encode(at)
            ),
        };
        let (status, body) = get(&mut sender, addr, &path).await?;
        requests += 1;
        if status != 200 {
            bail!(
                "sync page answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let body: serde_json::Value = serde_json::from_slice(&body)?;
        let versions: Vec<(String, String)> = body["attendees"]
            .as_array()
            .context("attendees")?
            .iter()
            .map(|a| {
                let id = a["id"].as_str().unwrap_or_default().to_owned();
                (id, a["updated_at"].as_str().unwrap_or_default().to_owned())
            })
            .collect();
        seen.extend(versions.iter().map(|(id, _)| id.clone()));
        let full = versions.len() == 100;
        if after.is_some() {
            match versions.last() {
                Some((id, _)) if full => after = Some(id.clone()),
                _ => (after, strict) = (None, true),
            }
            continue;
        }
        let Some((last_id, last_at)) = versions.last().cloned() else {
            break;
        };
        if !full {
            break;
        }
        if at.as_deref() == Some(last_at.as_str()) && versions.iter().all(|(_, t)| *t == last_at) {
            after = Some(last_id);
        } else {
            (at, strict) = (Some(last_at), false);
        }
    }
    Ok((seen.len(), requests))
}

fn ratio(current: f64, baseline: Option<f64>) -> String {
    match baseline {
        Some(b) if b > 0.0 => format!("{:.2}x", current / b),
        _ => "no baseline".to_owned(),
    }
}

async fn wall_clock(baseline: Option<&str>) -> anyhow::Result<()> {
    let seconds = env_or("LOAD_SECONDS", 5u64);
    let connections = env_or("LOAD_CONNECTIONS", 32usize);
    let attendees = env_or("LOAD_ATTENDEES", 1_000_000usize);
    let sync_attendees = env_or("LOAD_SYNC_ATTENDEES", 100_000usize);
    println!("load average at start: {}", load_average());
    println!(
        "{connections} keep-alive connections, {seconds} s a phase; each server a process of its own, the load generator a 2-worker runtime"
    );

    // Big servers: gets, list pages and memory. Each phase runs on one, then the other.
    let mut servers = vec![Server::start("current", CURRENT, attendees, &[])?];
    if let Some(binary) = baseline {
        servers.push(Server::start("baseline", binary, attendees, &[])?);
    }
    let mut rss = Vec::new();
    for server in &servers {
        let mib = server.resident_mib().unwrap_or(f64::NAN);
        println!(
            "{:<8} seeded {attendees} attendees in {:.2} s; resident memory {mib:.1} MiB",
            server.label,
            server.seeded_in.as_secs_f64()
        );
        rss.push(mib);
    }
    // Each server is driven with IDs and pages from its own list.
    let mut workloads: Vec<(Paths, Paths)> = Vec::new();
    for server in &servers {
        let (ids, pages) = sample_ids(server.addr).await?;
        let ids = Arc::new(ids);
        let get_one: Paths = Arc::new(move |n| {
            format!(
                "/v1/attendees/{}",
                ids[(scramble(n) % ids.len() as u64) as usize]
            )
        });
        let list_page: Paths = Arc::new(move |n| {
            format!(
                "/v1/attendees?per_page=100&page={}",
                scramble(n) % pages + 1
            )
        });
        drive(server.addr, connections, 1, get_one.clone()).await?; // warm-up
        workloads.push((get_one, list_page));
    }
    let mut rows = Vec::new();
    for (kind, name, target) in [
        (0, "GET /v1/attendees/{id}  req/s", 50_000.0),
        (1, "GET /v1/attendees?per_page=100  pages/s", 20_000.0),
    ] {
        let mut figures = Vec::new();
        for (server, (get_one, list_page)) in servers.iter().zip(&workloads) {
            let paths = if kind == 0 { get_one } else { list_page };
            let phase = drive(server.addr, connections, seconds, paths.clone()).await?;
            println!(
                "  {:<8} {name:<42} {:>9.0}   p50 {:>6} us  p99 {:>7} us  non-200 {}  ({} requests in {:.2} s; load {})",
                server.label,
                phase.per_second(),
                phase.quantile(0.5),
                phase.quantile(0.99),
                phase.non_200,
                phase.requests,
                phase.elapsed.as_secs_f64(),
                phase.load,
            );
            if phase.non_200 > 0 || phase.requests == 0 {
                bail!(
                    "{}: {name}: {} answers were not 200",
                    server.label,
                    phase.non_200
                );
            }
            figures.push(phase.per_second());
        }
        rows.push((
            name,
            figures[0],
            figures.get(1).copied(),
            format!(">= {target:.0}"),
            figures[0] >= target,
        ));
    }
    let after: Vec<f64> = servers
        .iter()
        .map(|s| s.resident_mib().unwrap_or(f64::NAN))
        .collect();
    rows.push((
        "resident memory after load, MiB",
        after[0],
        after.get(1).copied(),
        "< 400".to_owned(),
        after[0] < 400.0,
    ));
    for server in servers {
        server.stop();
    }

    // Sync-shaped walk, on servers seeded with the sync's count.
    let mut sync_servers = vec![Server::start("current", CURRENT, sync_attendees, &[])?];
    if let Some(binary) = baseline {
        sync_servers.push(Server::start("baseline", binary, sync_attendees, &[])?);
    }
    let mut figures = Vec::new();
    for server in &sync_servers {
        let started = Instant::now();
        let (read, requests) = sync_walk(server.addr, sync_attendees, usize::MAX).await?;
        let elapsed = started.elapsed();
        println!(
            "  {:<8} sync walk: {read} attendees in {requests} pages, {:.2} s = {:.0} attendees/s (load {})",
            server.label,
            elapsed.as_secs_f64(),
            read as f64 / elapsed.as_secs_f64(),
            load_average()
        );
        if read < sync_attendees {
            bail!(
                "{}: the sync walk read {read} of {sync_attendees} attendees",
                server.label
            );
        }
        figures.push(read as f64 / elapsed.as_secs_f64());
    }
    rows.push((
        "sync walk, attendees/s",
        figures[0],
        figures.get(1).copied(),
        "(was 3,100)".to_owned(),
        true,
    ));
    for server in sync_servers {
        server.stop();
    }

    println!();
    println!(
        "{:<42} {:>12} {:>12} {:>12}  {:<10}",
        "figure", "current", "baseline", "ratio", "target"
    );
    for (name, current, baseline, target, met) in rows {
        println!(
            "{name:<42} {current:>12.1} {:>12} {:>12}  {target} {}",
            baseline.map_or("-".to_owned(), |b| format!("{b:.1}")),
            ratio(current, baseline),
            if met { "" } else { "(not met)" }
        );
    }
    let _ = rss;
    println!("load average at end: {}", load_average());
    Ok(())
}

/// The instructions callgrind counted since its last zeroing, from the dump it writes.
fn callgrind_dump(pid: u32, out: &std::path::Path, dumps: &mut usize) -> anyhow::Result<u64> {
    let status = Command::new("callgrind_control")
        .args(["-d", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("callgrind_control -d failed");
    }
    *dumps += 1;
    // Callgrind names the n-th dump `FILE.n`; wait for it to be written.
    let file = out.with_file_name(format!(
        "{}.{}",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("cg"),
        dumps
    ));
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(total) = text.lines().find_map(|l| {
                l.strip_prefix("totals:")
                    .or_else(|| l.strip_prefix("summary:"))
            })
        {
            return total
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .context("callgrind totals");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("callgrind wrote no {}", file.display())
}

async fn instructions(baseline: Option<&str>) -> anyhow::Result<()> {
    let attendees = env_or("LOAD_CALLGRIND_ATTENDEES", 100_000usize);
    let dir = std::env::temp_dir().join(format!("cliniko-fake-callgrind-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut binaries = vec![("current", CURRENT.to_owned())];
    if let Some(binary) = baseline {
        binaries.push(("baseline", binary.to_owned()));
    }
    println!(
        "callgrind: {attendees} attendees seeded, instructions per request (load {})",
        load_average()
    );
    let mut table: Vec<(String, Vec<f64>)> = Vec::new();
    for (label, binary) in &binaries {
        let out = dir.join(format!("{label}.cg"));
        let wrapper = vec![
            "valgrind".to_owned(),
            "--tool=callgrind".to_owned(),
            "--instr-atstart=no".to_owned(),
            format!("--callgrind-out-file={}", out.display()),
        ];
        let server = Server::start(label, binary, attendees, &wrapper)?;
        let pid = server.child.id();
        let control = |args: &[&str]| {
            Command::new("callgrind_control")
                .args(args)
                .arg(pid.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        };
        control(&["-i", "on"])?;
        let (ids, pages) = sample_ids(server.addr).await?;
        let mut dumps = 0;
        let mut sender = connect(server.addr).await?;
        let kinds: [(&str, u64); 3] = [
            ("GET by id", 400),
            ("list page of 100", 40),
            ("sync page of 100", 40),
        ];
        for (k, (kind, count)) in kinds.iter().enumerate() {
            control(&["-z"])?;
            let sent = match k {
                0 => {
                    for n in 0..*count {
                        let id = &ids[(scramble(n) % ids.len() as u64) as usize];
                        get(&mut sender, server.addr, &format!("/v1/attendees/{id}")).await?;
                    }
                    *count
                }
                1 => {
                    for n in 0..*count {
                        let path = format!(
                            "/v1/attendees?per_page=100&page={}",
                            scramble(n) % pages + 1
                        );
                        get(&mut sender, server.addr, &path).await?;
                    }
                    *count
                }
                _ => sync_walk(server.addr, usize::MAX, *count as usize).await?.1,
            };
            let total = callgrind_dump(pid, &out, &mut dumps)?;
            let per = total as f64 / sent as f64;
            println!("  {label:<8} {kind:<18} {per:>14.0} instructions/request ({sent} requests)");
            match table.iter_mut().find(|(name, _)| name == kind) {
                Some((_, row)) => row.push(per),
                None => table.push(((*kind).to_owned(), vec![per])),
            }
        }
        server.stop();
    }
    println!();
    println!(
        "{:<20} {:>16} {:>16} {:>10}",
        "instructions/request", "current", "baseline", "ratio"
    );
    for (kind, row) in table {
        println!(
            "{kind:<20} {:>16.0} {:>16} {:>10}",
            row[0],
            row.get(1).map_or("-".to_owned(), |b| format!("{b:.0}")),
            row.get(1)
                .map_or("no baseline".to_owned(), |b| format!("{:.3}x", row[0] / b)),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; a filter argument is ignored, there is one benchmark.
    let baseline = std::env::var("CLINIKO_FAKE_BASELINE")
        .ok()
        .filter(|p| !p.is_empty());
    match &baseline {
        Some(path) if std::path::Path::new(path).is_file() => {
            println!("baseline: {path}");
        }
        Some(path) => bail!("CLINIKO_FAKE_BASELINE={path} is not a file"),
        None => println!(
            "NO BASELINE: CLINIKO_FAKE_BASELINE is not set, so this run measures the current build alone \
             and prints no ratio (set it to a cliniko-fake binary built from the commit to compare with)"
        ),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    if std::env::var("LOAD_CALLGRIND").is_ok_and(|v| v == "1") {
        runtime.block_on(instructions(baseline.as_deref()))
    } else {
        runtime.block_on(wall_clock(baseline.as_deref()))
    }
}
