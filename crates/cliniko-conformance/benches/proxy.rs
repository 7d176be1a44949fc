//! The latency the proxy adds: `GET /attendees?per_page=100` (100-attendee pages) from the
//! in-process fake, paced at 1,000 requests a second, directly and through the proxy in
//! alternating rounds, so that both paths see the same machine at the same moments.
//!
//! Each latency runs from the moment a request was due to the last byte of its answer, so a
//! request held up behind a slow one counts the wait. The proxy checks every exchange as it
//! would in use (on its checker threads); how long it takes to finish those checks after the
//! last request is printed too. Targets: median added < 1 ms, p99 added < 5 ms.
//!
//! `cargo bench -p cliniko-conformance --bench proxy`

use std::time::Duration;

use cliniko_conformance::proxy::{Proxy, ProxyEvent, ProxyOptions};
use cliniko_conformance::{CheckOptions, Checker};
use cliniko_fake::FakeCliniko;
use tokio::time::Instant;

const API_KEY: &str = "proxy-bench-key-au1";
const USER_AGENT: &str = "Proxy benchmark (bench@example.com)";
/// Requests per second, on each path.
const RATE: u64 = 1_000;
/// Requests per round.
const ROUND: usize = 500;
/// Measured rounds per path.
const ROUNDS: usize = 10;
/// Unmeasured requests per path first, to open connections and warm caches.
const WARM_UP: usize = 300;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the runtime starts");
    runtime.block_on(run());
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
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()
        .expect("a client");
    let direct_url = format!("{}/attendees?per_page=100", fake.base_url());
    let proxied_url = format!("{}/attendees?per_page=100", proxy.base_url());

    round(&client, &direct_url, WARM_UP).await;
    let (_, page_bytes) = round(&client, &proxied_url, WARM_UP).await;
    let mut direct = Vec::with_capacity(ROUND * ROUNDS);
    let mut proxied = Vec::with_capacity(ROUND * ROUNDS);
    for n in 0..ROUNDS {
        // Alternate which path goes first, so neither always follows the other's load.
        if n % 2 == 0 {
            direct.extend(round(&client, &direct_url, ROUND).await.0);
            proxied.extend(round(&client, &proxied_url, ROUND).await.0);
        } else {
            proxied.extend(round(&client, &proxied_url, ROUND).await.0);
            direct.extend(round(&client, &direct_url, ROUND).await.0);
        }
    }

    let draining = Instant::now();
    let finished = proxy.shutdown().await;
    let drained = draining.elapsed();
    fake.shutdown().await;

    let summary = finished.report.summary();
    let (direct_median, direct_p99) = percentiles(&mut direct);
    let (proxied_median, proxied_p99) = percentiles(&mut proxied);
    println!(
        "proxy: GET /attendees?per_page=100 ({page_bytes} bytes a page) paced at {RATE} requests/s, \
         {ROUNDS} alternating rounds of {ROUND} requests per path after {WARM_UP} warm-up requests each"
    );
    println!("                    median        p99");
    println!(
        "direct          {:>9.3} ms {:>9.3} ms",
        ms(direct_median),
        ms(direct_p99)
    );
    println!(
        "through proxy   {:>9.3} ms {:>9.3} ms",
        ms(proxied_median),
        ms(proxied_p99)
    );
    println!(
        "added           {:>9.3} ms {:>9.3} ms   (targets: median < 1 ms, p99 < 5 ms)",
        ms(proxied_median) - ms(direct_median),
        ms(proxied_p99) - ms(direct_p99)
    );
    println!(
        "the proxy checked {} exchanges ({} conform, {} failures); finishing its checks after the last request took {:.0} ms",
        summary.exchanges,
        summary.conforming,
        finished.failures,
        drained.as_secs_f64() * 1e3
    );
}

/// Sends `count` requests paced at [`RATE`], each on its own task, and returns each one's
/// latency (from when it was due to its last byte) and the size of an answer.
async fn round(client: &reqwest::Client, url: &str, count: usize) -> (Vec<Duration>, usize) {
    let start = Instant::now() + Duration::from_millis(1);
    let mut tasks = Vec::with_capacity(count);
    for n in 0..count {
        let due = start + Duration::from_micros(n as u64 * 1_000_000 / RATE);
        tokio::time::sleep_until(due).await;
        let client = client.clone();
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
            let body = response.bytes().await.expect("the body arrives");
            (due.elapsed(), body.len())
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    let mut size = 0;
    for task in tasks {
        let (latency, bytes) = task.await.expect("the request task ends");
        latencies.push(latency);
        size = bytes;
    }
    (latencies, size)
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
