//! `cargo bench -p cliniko-client --bench stream`: the cost of the client's sync and stream.
//!
//! 1. Sync at the limit: [`Client::sync_attendees`] of 100,000 attendees (1,000 pages of 100)
//!    from the fake, whose per-key sliding-window limit is Cliniko's 200 requests scaled from a
//!    minute to 9 s (a ceiling of 22.2 pages/s, so the run takes about 45 s), by a client given the same
//!    [`RateLimit`]. Reported: pages/s achieved over the ceiling (target: at least 0.98), and the
//!    429 answers, counted both from the sync's progress and from the fake's request count
//!    (target: 0).
//! 2. Throughput: 10,000 attendees, 100 to a page, from the fake server on loopback, through
//!    [`Client::stream_attendees`] and through a hand-written loop of plain reqwest and serde that
//!    sends the same requests (it follows the same `links.next`), twice: parsing each page with
//!    `serde_json::from_slice` (what `reqwest::Response::json` does, which checks UTF-8 string by
//!    string) and with `std::str::from_utf8` then `serde_json::from_str` (what the client does).
//!    The three take turns, round after round, and the medians are compared. Target: the client at
//!    least 0.97 of each plain loop. The client's thread is pinned to CPU 0 and the fake's to CPU 1.
//! 3. Peak memory: the same stream over 10,000 and over 100,000 attendees, each in a child process
//!    of its own (the fake, with its 100,000 attendees, stays in this one), which reports its
//!    `VmHWM` from `/proc/self/status` and the peak of live heap bytes counted by a global
//!    allocator. Target: 100,000 no more than 1.02 times 10,000.
//!
//! It prints figures and ratios; it asserts nothing about time. `STREAM_BENCH_ONLY=throughput`
//! (or `sync`, or `memory`) runs one part alone, for profiling. `STREAM_BENCH_ONLY=throughput`
//! (or `sync`, or `memory`) runs one part alone, for profiling.

use std::alloc::{GlobalAlloc, Layout, System};
use std::num::NonZeroU32;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cliniko_client::{AttendeeQuery, Client, RateLimit, SyncCheckpoint, SyncEvent};
use cliniko_fake::FakeCliniko;
use cliniko_types::AttendeeList;
use futures::TryStreamExt as _;

const API_KEY: &str = "fake-api-key";
const USER_AGENT: &str = "Cliniko client benchmark (bench@example.com)";
const PER_PAGE: i64 = 100;
const THROUGHPUT_ATTENDEES: u64 = 10_000;
const ROUNDS: usize = 41;
const WARM_UP_ROUNDS: usize = 3;
const MEMORY_SIZES: [u64; 2] = [10_000, 100_000];
const SYNC_ATTENDEES: usize = 100_000;
/// The scaled limit of the sync run: this many requests in any `SYNC_WINDOW`.
const SYNC_LIMIT: u32 = 200;
const SYNC_WINDOW: Duration = Duration::from_secs(9);
/// Set in a child process: `BASE_URL COUNT`, the stream to run and measure.
const CHILD_ENV: &str = "CLINIKO_STREAM_BENCH_CHILD";

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract, which `System` shares.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract, which `System` shares.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BenchResult<()> {
    if let Ok(child) = std::env::var(CHILD_ENV) {
        return run_child(&child);
    }
    // `STREAM_BENCH_ONLY=sync|throughput|memory` runs one part (for profiling); all by default.
    let only = std::env::var("STREAM_BENCH_ONLY").ok();
    let runs = |part: &str| only.as_deref().is_none_or(|only| only == part);
    if runs("sync") {
        sync_at_the_limit()?;
    }
    if runs("throughput") {
        throughput()?;
    }
    if runs("memory") {
        memory()?;
    }
    Ok(())
}

fn client(base_url: &str) -> BenchResult<Client> {
    Ok(Client::builder(API_KEY, USER_AGENT)
        .base_url(base_url)
        .build()?)
}

/// Starts a fake with at least `plain` attendees on its plain list, on a runtime of its own.
fn start_fake(plain: u64) -> BenchResult<(FakeCliniko, tokio::runtime::Runtime)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(|| pin_to_cpu(1))
        .enable_all()
        .build()?;
    // About one seeded attendee in ten is cancelled or archived; seed enough to leave `plain`.
    let seeded = usize::try_from(plain + plain / 5)?;
    let fake = runtime.block_on(
        FakeCliniko::builder()
            .api_key(API_KEY)
            .seed(7)
            .attendees(seeded)
            .rate_limit_per_minute(None)
            .start(),
    )?;
    Ok((fake, runtime))
}

/// A full sync of `SYNC_ATTENDEES` against a fake limited to `SYNC_LIMIT` requests in any
/// `SYNC_WINDOW`, by a client paced to the same limit.
fn sync_at_the_limit() -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let fake = runtime.block_on(
        FakeCliniko::builder()
            .api_key(API_KEY)
            .seed(11)
            .attendees(SYNC_ATTENDEES)
            .rate_limit_per_minute(Some(SYNC_LIMIT))
            .rate_limit_window(SYNC_WINDOW)
            .start(),
    )?;
    let limit = RateLimit::new(
        NonZeroU32::new(SYNC_LIMIT).ok_or("the limit is not zero")?,
        SYNC_WINDOW,
    );
    let client = Client::builder(API_KEY, USER_AGENT)
        .base_url(fake.base_url())
        .rate_limit(limit)
        .build()?;
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let requests_before = fake.requests_received();
    let started = Instant::now();
    let (attendees, progress) = client_runtime.block_on(async {
        let mut sync = client.sync_attendees(SyncCheckpoint::everything());
        let (mut attendees, mut last_progress) = (0_u64, None);
        while let Some(event) = sync.try_next().await? {
            match event {
                SyncEvent::Attendee(attendee) => {
                    std::hint::black_box(&attendee);
                    attendees += 1;
                }
                SyncEvent::Progress(progress) => last_progress = Some(progress),
                SyncEvent::Finished(_) => break,
                _ => {}
            }
        }
        BenchResult::Ok((attendees, last_progress.ok_or("the sync read no page")?))
    })?;
    let took = started.elapsed();
    if attendees != SYNC_ATTENDEES as u64 {
        return Err(format!("synced {attendees} attendees, not {SYNC_ATTENDEES}").into());
    }
    let requests = fake.requests_received() - requests_before;
    let ceiling = f64::from(SYNC_LIMIT) / SYNC_WINDOW.as_secs_f64();
    let pages = progress.pages_read;
    let achieved = pages as f64 / took.as_secs_f64();
    println!(
        "sync at the limit: {attendees} attendees (of {SYNC_ATTENDEES}), {pages} pages of 100, \
         {} requests in any {} ms on both sides",
        SYNC_LIMIT,
        SYNC_WINDOW.as_millis()
    );
    println!(
        "  took {:.1} s; {achieved:.2} pages/s against a ceiling of {ceiling:.2} pages/s",
        took.as_secs_f64()
    );
    println!(
        "  achieved / ceiling   {:>9.3}  (target: at least 0.980)",
        achieved / ceiling
    );
    println!(
        "  429 answers          {:>9}  (sync's progress: {} waited out, {:.1} s waiting; fake: {requests} requests for {pages} pages; target: 0)",
        requests.saturating_sub(pages),
        progress.rate_limit_waits,
        progress.rate_limit_waited.as_secs_f64()
    );
    println!(
        "  paced by the client  {:.1} s; retries {}",
        progress.paced.as_secs_f64(),
        progress.retries
    );
    drop(client);
    runtime.block_on(fake.shutdown());
    Ok(())
}

/// The client's stream: `count` attendees, `PER_PAGE` to a page.
async fn through_client(client: &Client, count: u64) -> BenchResult<u64> {
    let mut attendees = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(PER_PAGE))
        .limit(count);
    let mut seen = 0;
    while let Some(attendee) = attendees.try_next().await? {
        std::hint::black_box(&attendee);
        seen += 1;
    }
    Ok(seen)
}

/// How the plain loop parses a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parse {
    /// `serde_json::from_slice`, as `reqwest::Response::json` does.
    Slice,
    /// `std::str::from_utf8` once, then `serde_json::from_str`, as the client does.
    Str,
}

/// The same requests by hand: reqwest, serde, and `links.next`.
async fn through_plain_loop(
    http: &reqwest::Client,
    base_url: &str,
    count: u64,
    parse: Parse,
) -> BenchResult<u64> {
    let mut url = format!("{base_url}/attendees?per_page={PER_PAGE}");
    let mut seen = 0;
    loop {
        let response = http.get(&url).send().await?.error_for_status()?;
        let body = response.bytes().await?;
        let page: AttendeeList = match parse {
            Parse::Slice => serde_json::from_slice(&body)?,
            Parse::Str => serde_json::from_str(std::str::from_utf8(&body)?)?,
        };
        for attendee in page.attendees {
            if seen == count {
                return Ok(seen);
            }
            std::hint::black_box(&attendee);
            seen += 1;
        }
        match page.links.next {
            Some(next) if seen < count => url = next,
            _ => return Ok(seen),
        }
    }
}

fn plain_http() -> BenchResult<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:"));
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Basic {credentials}").parse()?,
    );
    headers.insert(reqwest::header::USER_AGENT, USER_AGENT.parse()?);
    headers.insert(reqwest::header::ACCEPT, "application/json".parse()?);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn per_second(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

/// Keeps the calling thread on one CPU (when the machine has it), so that the client and the
/// fake neither share a core nor trade cores between rounds. It narrows the spread of the ratios
/// between runs; it does not remove it (on a 2-core VM, runs still differ by several percent).
fn pin_to_cpu(cpu: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: `set` is a zeroed `cpu_set_t` that CPU_SET fills in; `sched_setaffinity` only reads
    // it. A failure (fewer CPUs than `cpu + 1`) leaves the thread unpinned, which is harmless.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

fn throughput() -> BenchResult<()> {
    // The client on CPU 0, the fake's threads on CPU 1.
    pin_to_cpu(0);
    let (fake, _fake_runtime) = start_fake(THROUGHPUT_ATTENDEES)?;
    let base_url = fake.base_url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = client(&base_url)?;
    let http = plain_http()?;
    let requests_before = fake.requests_to("GET", "/v1/attendees");
    // `STREAM_BENCH_ROUNDS` overrides the rounds (fewer, to run under a profiler).
    let rounds = std::env::var("STREAM_BENCH_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(ROUNDS);
    // The client, the plain loop parsing as `Response::json` does, and the plain loop parsing as
    // the client does.
    let mut samples: [Vec<Duration>; 3] = Default::default();
    runtime.block_on(async {
        for round in 0..WARM_UP_ROUNDS + rounds {
            // Rotate which goes first, so that none always meets a warmer server.
            for turn in 0..3 {
                let which = (round + turn) % 3;
                let start = Instant::now();
                let seen = match which {
                    0 => through_client(&client, THROUGHPUT_ATTENDEES).await?,
                    1 => {
                        through_plain_loop(&http, &base_url, THROUGHPUT_ATTENDEES, Parse::Slice)
                            .await?
                    }
                    _ => {
                        through_plain_loop(&http, &base_url, THROUGHPUT_ATTENDEES, Parse::Str)
                            .await?
                    }
                };
                if seen != THROUGHPUT_ATTENDEES {
                    return Err(
                        format!("fetched {seen} attendees, not {THROUGHPUT_ATTENDEES}").into(),
                    );
                }
                if round >= WARM_UP_ROUNDS {
                    samples[which].push(start.elapsed());
                }
            }
        }
        BenchResult::Ok(())
    })?;
    let requests = fake.requests_to("GET", "/v1/attendees") - requests_before;
    let per_run = requests / ((WARM_UP_ROUNDS + rounds) as u64 * 3);
    let [by_client, by_slice, by_str] = samples.map(median);
    let rate = |took: Duration| per_second(THROUGHPUT_ATTENDEES, took);
    println!(
        "throughput: {THROUGHPUT_ATTENDEES} attendees, per_page {PER_PAGE}, {per_run} requests a run, \
         median of {rounds} rotating rounds"
    );
    for (name, took) in [
        ("client stream", by_client),
        ("plain, from_slice", by_slice),
        ("plain, from_str", by_str),
    ] {
        println!(
            "  {name:<20} {:>9.0} attendees/s  ({:.1} ms a run)",
            rate(took),
            took.as_secs_f64() * 1e3
        );
    }
    println!(
        "  client / plain (from_slice, as Response::json)  {:>6.3}  (target: at least 0.970)",
        rate(by_client) / rate(by_slice)
    );
    println!(
        "  client / plain (from_str, as the client parses) {:>6.3}  (target: at least 0.970)",
        rate(by_client) / rate(by_str)
    );
    runtime.block_on(fake.shutdown());
    Ok(())
}

fn memory() -> BenchResult<()> {
    let largest = MEMORY_SIZES.iter().copied().max().unwrap_or_default();
    let (fake, fake_runtime) = start_fake(largest)?;
    let base_url = fake.base_url();
    let exe = std::env::current_exe()?;
    println!("peak memory of a child process streaming N attendees, per_page {PER_PAGE}:");
    let mut peaks = Vec::new();
    for count in MEMORY_SIZES {
        let output = Command::new(&exe)
            .env(CHILD_ENV, format!("{base_url} {count}"))
            .output()?;
        if !output.status.success() {
            return Err(format!(
                "the child for {count} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let report = String::from_utf8(output.stdout)?;
        let mut fields = report.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(seen)), Some(Ok(hwm_kib)), Some(Ok(heap_peak))) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("the child for {count} reported {report:?}").into());
        };
        if seen != count {
            return Err(format!("the child streamed {seen} attendees, not {count}").into());
        }
        println!(
            "  {count:>7}: VmHWM {:>6.1} MiB, heap peak {:>6.2} MiB",
            hwm_kib as f64 / 1024.0,
            heap_peak as f64 / (1024.0 * 1024.0)
        );
        peaks.push((hwm_kib as f64, heap_peak as f64));
    }
    if let [(small_hwm, small_heap), (large_hwm, large_heap)] = peaks[..] {
        println!(
            "  {} / {}: VmHWM {:.3}, heap peak {:.3}  (target: VmHWM at most 1.020)",
            MEMORY_SIZES[1],
            MEMORY_SIZES[0],
            large_hwm / small_hwm,
            large_heap / small_heap
        );
    }
    fake_runtime.block_on(fake.shutdown());
    Ok(())
}

/// In the child: stream, then report `SEEN VMHWM_KIB HEAP_PEAK_BYTES` on stdout.
fn run_child(spec: &str) -> BenchResult<()> {
    let (base_url, count) = spec.split_once(' ').ok_or("expected `BASE_URL COUNT`")?;
    let count: u64 = count.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = client(base_url)?;
    let seen = runtime.block_on(through_client(&client, count))?;
    let status = std::fs::read_to_string("/proc/self/status")?;
    let hwm_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .ok_or("no VmHWM in /proc/self/status")?;
    println!("{seen} {hwm_kib} {}", PEAK.load(Ordering::Relaxed));
    Ok(())
}
