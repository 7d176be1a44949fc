//! The latency the proxy adds: `GET /attendees?per_page=100` (100-attendee pages) from the
//! in-process fake, directly and through the proxy, with the same client on the same runtime.
//!
//! First one request at a time (what a request costs with nothing queued), then the most
//! requests a second eight clients get through each path, then requests paced at fixed rates
//! (1,000 a second, the target, and rates the machine can sustain), in alternating rounds so
//! that both paths see the same machine at the same moments. Every round starts once the proxy
//! has checked every exchange before it, so that no round pays for another's checks; a proxied
//! round's CPU time runs until its own checks are done.
//!
//! Each paced latency runs from the moment a request was due to the last byte of its answer, so
//! a request held up behind a slow one counts the wait (no coordinated omission), and each
//! request is sent on its own task so that none waits for another to be sent. Nothing is pinned
//! to a core: the fake, the client and the proxy's forwarding share the runtime's worker
//! threads on both paths, and the proxy's checker threads take what CPU is left.
//! Targets at 1,000 requests a second: median added < 1 ms, p99 added < 5 ms.
//!
//! `cargo bench -p cliniko-conformance --bench proxy`; `PROXY_BENCH_RATES=1000,200` picks the
//! paced rates.

use std::time::Duration;

use cliniko_conformance::proxy::{Proxy, ProxyEvent, ProxyOptions};
use cliniko_conformance::{CheckOptions, Checker};
use cliniko_fake::FakeCliniko;
use tokio::time::Instant;

const API_KEY: &str = "proxy-bench-key-au1";
const USER_AGENT: &str = "Proxy benchmark (bench@example.com)";
/// Paced rates, in requests per second on each path, unless `PROXY_BENCH_RATES` says otherwise.
const RATES: [u64; 3] = [1_000, 500, 200];
/// How long a paced round lasts.
const ROUND: Duration = Duration::from_millis(500);
/// Measured rounds per path and rate.
const ROUNDS: usize = 10;
/// Unmeasured requests per path first, to open connections and warm caches.
const WARM_UP: usize = 300;
/// Requests per path sent one at a time.
const SEQUENTIAL: usize = 300;
/// Clients, and how long each path is driven as hard as they can.
const CLIENTS: usize = 8;
const FLAT_OUT: Duration = Duration::from_secs(2);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the runtime starts");
    runtime.block_on(run());
}

struct Bench {
    client: reqwest::Client,
    direct_url: String,
    proxied_url: String,
    proxy: Proxy,
}

/// What a run of requests on one path took.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    /// The process's CPU time, and the checker threads' part of it.
    cpu: Duration,
    checker_cpu: Duration,
    requests: usize,
}

impl Sample {
    fn add(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.cpu += other.cpu;
        self.checker_cpu += other.checker_cpu;
        self.requests += other.requests;
    }

    fn cpu_per_request(&self) -> f64 {
        ms(self.cpu) / self.requests.max(1) as f64
    }

    fn checker_cpu_per_request(&self) -> f64 {
        ms(self.checker_cpu) / self.requests.max(1) as f64
    }
}

async fn run() {
    let fake = FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(1)
        .attendees(1_000)
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("the fake starts");
    let spec = cliniko_spec::Spec::embedded().expect("the embedded spec loads");
    let checker = Checker::new(&spec, CheckOptions::default()).expect("the spec compiles");
    let options = ProxyOptions {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ProxyOptions::new(fake.base_url())
    };
    let proxy = Proxy::start(options, checker, |event| {
        if !matches!(event, ProxyEvent::Listening { .. }) {
            eprintln!("{event}");
        }
    })
    .await
    .expect("the proxy starts");
    let bench = Bench {
        client: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(256)
            .build()
            .expect("a client"),
        direct_url: format!("{}/attendees?per_page=100", fake.base_url()),
        proxied_url: format!("{}/attendees?per_page=100", proxy.base_url()),
        proxy,
    };
    let rates = std::env::var("PROXY_BENCH_RATES")
        .ok()
        .map(|rates| {
            rates
                .split(',')
                .map(|rate| rate.trim().parse().expect("PROXY_BENCH_RATES: numbers"))
                .collect()
        })
        .unwrap_or_else(|| RATES.to_vec());

    bench.paced(&bench.direct_url, WARM_UP, 1_000).await;
    let page_bytes = bench.fetch(&bench.proxied_url).await;
    bench.paced(&bench.proxied_url, WARM_UP, 1_000).await;
    bench.proxy.checks_done().await;
    println!(
        "proxy: GET /attendees?per_page=100 ({page_bytes} bytes a page), direct and through the proxy, \
         after {WARM_UP} warm-up requests each; {} cores",
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    let (direct, proxied) = bench.sequential().await;
    println!("\none request at a time, {SEQUENTIAL} per path:");
    print_table(direct, proxied);

    println!("\nflat out, {CLIENTS} clients for {FLAT_OUT:?} per path:");
    for (path, url) in [
        ("direct", &bench.direct_url),
        ("through proxy", &bench.proxied_url),
    ] {
        let (requests, elapsed, checks) = bench.flat_out(url).await;
        println!(
            "{path:<15} {:>7.0} requests/s ({:.0} MB/s){}",
            requests as f64 / elapsed.as_secs_f64(),
            (requests * page_bytes) as f64 / elapsed.as_secs_f64() / 1e6,
            match checks {
                Some(checks) => format!(
                    "; its checks were done {:.0} ms after the last answer",
                    ms(checks)
                ),
                None => String::new(),
            }
        );
    }

    for rate in rates {
        let per_round = (rate as f64 * ROUND.as_secs_f64()).round() as usize;
        let mut direct = Sample::default();
        let mut proxied = Sample::default();
        let mut behind = Vec::with_capacity(ROUNDS);
        for n in 0..ROUNDS {
            // Alternate which path goes first, so neither always follows the other's load.
            for path in if n % 2 == 0 { [0, 1] } else { [1, 0] } {
                if path == 0 {
                    direct.add(bench.measured(&bench.direct_url, per_round, rate).await.0);
                } else {
                    let (sample, checks) =
                        bench.measured(&bench.proxied_url, per_round, rate).await;
                    proxied.add(sample);
                    behind.push(checks);
                }
            }
        }
        behind.sort_unstable();
        let label = if rate == RATES[0] {
            "the target"
        } else {
            "below the target"
        };
        println!(
            "\npaced at {rate} requests/s ({label}): {ROUNDS} alternating rounds of {per_round} requests per path:"
        );
        let targets = rate == RATES[0];
        print_table_with_targets(direct, proxied, targets);
        println!(
            "the proxy's checks were done {:.0} ms (median round), {:.0} ms (worst round) after a round's last answer",
            ms(behind[behind.len() / 2]),
            ms(behind[behind.len() - 1])
        );
    }

    let draining = Instant::now();
    let finished = bench.proxy.shutdown().await;
    let drained = draining.elapsed();
    fake.shutdown().await;
    let summary = finished.report.summary();
    println!(
        "\nthe proxy checked {} exchanges ({} conform, {} failures); shutting it down took {:.0} ms",
        summary.exchanges,
        summary.conforming,
        finished.failures,
        ms(drained)
    );
    // A failed exchange was never checked: the figures above would leave its work out.
    assert_eq!(
        finished.failures, 0,
        "the proxy could not forward, check or record {} exchanges",
        finished.failures
    );
}

impl Bench {
    async fn fetch(&self, url: &str) -> usize {
        let response = self
            .client
            .get(url)
            .basic_auth(API_KEY, Some(""))
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json")
            .send()
            .await
            .expect("the request is answered");
        assert_eq!(response.status(), 200, "{url}");
        response.bytes().await.expect("the body arrives").len()
    }

    /// One request at a time on each path, alternating in blocks.
    async fn sequential(&self) -> (Sample, Sample) {
        let mut direct = Sample::default();
        let mut proxied = Sample::default();
        for block in 0..6 {
            for path in if block % 2 == 0 { [0, 1] } else { [1, 0] } {
                let url = if path == 0 {
                    &self.direct_url
                } else {
                    &self.proxied_url
                };
                let cpu = Cpu::now();
                let mut sample = Sample::default();
                for _ in 0..SEQUENTIAL / 6 {
                    let started = Instant::now();
                    self.fetch(url).await;
                    sample.latencies.push(started.elapsed());
                }
                self.proxy.checks_done().await;
                cpu.charge(&mut sample);
                sample.requests = sample.latencies.len();
                if path == 0 {
                    direct.add(sample);
                } else {
                    proxied.add(sample);
                }
            }
        }
        (direct, proxied)
    }

    /// Requests from [`CLIENTS`] clients back to back for [`FLAT_OUT`]: how many got through,
    /// in how long, and (through the proxy) how long its checks took to catch up after.
    async fn flat_out(&self, url: &str) -> (usize, Duration, Option<Duration>) {
        let started = Instant::now();
        let deadline = started + FLAT_OUT;
        let mut tasks = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            let client = self.client.clone();
            let url = url.to_owned();
            tasks.push(tokio::spawn(async move {
                let mut requests = 0;
                while Instant::now() < deadline {
                    let body = client
                        .get(&url)
                        .basic_auth(API_KEY, Some(""))
                        .header("user-agent", USER_AGENT)
                        .send()
                        .await
                        .expect("the request is answered")
                        .bytes()
                        .await
                        .expect("the body arrives");
                    assert!(!body.is_empty());
                    requests += 1;
                }
                requests
            }));
        }
        let mut requests = 0;
        for task in tasks {
            requests += task.await.expect("the client task ends");
        }
        let elapsed = started.elapsed();
        let checks = Instant::now();
        self.proxy.checks_done().await;
        let checks = (url == self.proxied_url).then(|| checks.elapsed());
        (requests, elapsed, checks)
    }

    /// A paced round, started once every earlier exchange was checked; its CPU time runs until
    /// its own exchanges are checked too. Also how long those checks took after its last answer.
    async fn measured(&self, url: &str, count: usize, rate: u64) -> (Sample, Duration) {
        self.proxy.checks_done().await;
        let cpu = Cpu::now();
        let latencies = self.paced(url, count, rate).await;
        let answered = Instant::now();
        self.proxy.checks_done().await;
        let behind = answered.elapsed();
        let mut sample = Sample {
            requests: latencies.len(),
            latencies,
            ..Sample::default()
        };
        cpu.charge(&mut sample);
        (sample, behind)
    }

    /// Sends `count` requests paced at `rate`, each on its own task, and returns each one's
    /// latency, from when it was due to its last byte.
    async fn paced(&self, url: &str, count: usize, rate: u64) -> Vec<Duration> {
        let start = Instant::now() + Duration::from_millis(1);
        let mut tasks = Vec::with_capacity(count);
        for n in 0..count {
            let due = start + Duration::from_micros(n as u64 * 1_000_000 / rate);
            tokio::time::sleep_until(due).await;
            let client = self.client.clone();
            let url = url.to_owned();
            tasks.push(tokio::spawn(async move {
                let response = client
                    .get(&url)
                    .basic_auth(API_KEY, Some(""))
                    .header("user-agent", USER_AGENT)
                    .header("accept", "application/json")
                    .send()
                    .await
                    .expect("the request is answered");
                assert_eq!(response.status(), 200, "{url}");
                response.bytes().await.expect("the body arrives");
                due.elapsed()
            }));
        }
        let mut latencies = Vec::with_capacity(count);
        for task in tasks {
            latencies.push(task.await.expect("the request task ends"));
        }
        latencies
    }
}

/// CPU time used so far: the process's, and its checker threads'.
struct Cpu {
    process: Duration,
    checker: Duration,
}

impl Cpu {
    fn now() -> Self {
        Self {
            process: process_cpu(),
            checker: checker_cpu(),
        }
    }

    fn charge(self, sample: &mut Sample) {
        sample.cpu += process_cpu().saturating_sub(self.process);
        sample.checker_cpu += checker_cpu().saturating_sub(self.checker);
    }
}

fn process_cpu() -> Duration {
    // SAFETY: getrusage writes one plain struct, which is ours.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The CPU time of the threads named `proxy-checker-*` (Linux; in clock ticks).
fn checker_cpu() -> Duration {
    // SAFETY: sysconf reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut total = 0.0;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("proxy-checker") {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the command in parentheses: state is field 3, utime 14 and stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        for index in [11, 12] {
            total += fields
                .get(index)
                .and_then(|field| field.parse::<f64>().ok())
                .unwrap_or(0.0);
        }
    }
    Duration::from_secs_f64(total / ticks)
}

fn print_table(direct: Sample, proxied: Sample) {
    print_table_with_targets(direct, proxied, false);
}

fn print_table_with_targets(mut direct: Sample, mut proxied: Sample, targets: bool) {
    let (direct_median, direct_p99) = percentiles(&mut direct.latencies);
    let (proxied_median, proxied_p99) = percentiles(&mut proxied.latencies);
    println!("                    median        p99    CPU per request");
    println!(
        "direct          {:>9.3} ms {:>9.3} ms   {:>6.3} ms",
        ms(direct_median),
        ms(direct_p99),
        direct.cpu_per_request()
    );
    println!(
        "through proxy   {:>9.3} ms {:>9.3} ms   {:>6.3} ms, of which checks {:.3} ms",
        ms(proxied_median),
        ms(proxied_p99),
        proxied.cpu_per_request(),
        proxied.checker_cpu_per_request()
    );
    println!(
        "added           {:>9.3} ms {:>9.3} ms   {:>6.3} ms{}",
        ms(proxied_median) - ms(direct_median),
        ms(proxied_p99) - ms(direct_p99),
        proxied.cpu_per_request() - direct.cpu_per_request(),
        if targets {
            "   (targets: median < 1 ms, p99 < 5 ms)"
        } else {
            ""
        }
    );
}

fn percentiles(latencies: &mut [Duration]) -> (Duration, Duration) {
    latencies.sort_unstable();
    let at = |fraction: f64| {
        let index = ((latencies.len() as f64 - 1.0) * fraction).round() as usize;
        latencies[index]
    };
    (at(0.5), at(0.99))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
