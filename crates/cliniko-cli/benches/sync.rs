//! `cargo bench -p cliniko-cli`: `cliniko attendee sync` of 100,000 attendees from an in-process
//! fake (no rate limit), with and without the progress bar, side by side.
//!
//! The bar draws to a terminal stand-in that counts what it is sent instead of a hidden target
//! (which indicatif skips drawing for), at the 20 Hz a real terminal gets, so it does all of its
//! work: formatting the template, the ETA and the message on every redraw.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cliniko_cli::export::{self, ExportFormat, ExportOptions, ExportOutcome, Progress, Since};
use cliniko_client::Client;
use cliniko_fake::FakeCliniko;
use indicatif::{ProgressDrawTarget, TermLike};

/// How many attendees (`SYNC_BENCH_ATTENDEES`, default 100,000; fewer for a run under callgrind).
fn attendees() -> usize {
    std::env::var("SYNC_BENCH_ATTENDEES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// How many rounds (`SYNC_BENCH_ROUNDS`, default 3).
fn rounds() -> usize {
    std::env::var("SYNC_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// A terminal that keeps nothing but a count of the bytes drawn.
#[derive(Debug, Default, Clone)]
struct CountingTerminal(Arc<AtomicU64>);

impl TermLike for CountingTerminal {
    fn width(&self) -> u16 {
        120
    }
    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, line: &str) -> io::Result<()> {
        self.0.fetch_add(line.len() as u64 + 1, Ordering::Relaxed);
        Ok(())
    }
    fn write_str(&self, text: &str) -> io::Result<()> {
        self.0.fetch_add(text.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

/// The run's wall time, and the time its progress reporter spent drawing.
async fn run(client: &Client, dir: &std::path::Path, progress: Progress) -> (Duration, Duration) {
    let out = dir.join("attendees.jsonl");
    let _ = std::fs::remove_file(dir.join("attendees.jsonl.checkpoint.json"));
    let options = ExportOptions {
        since: Some(Since::Everything),
        // Each round replaces the last round's file, as a fresh export.
        overwrite: true,
        out,
        format: ExportFormat::Jsonl,
        checkpoint: None,
        per_page: 100,
        progress,
    };
    let start = Instant::now();
    let outcome =
        export::export::<cliniko_types::AttendeeList>(client, options, std::future::pending())
            .await
            .expect("the sync finishes");
    let took = start.elapsed();
    match outcome {
        ExportOutcome::Finished {
            records,
            progress_time,
            ..
        } => {
            assert_eq!(records, attendees() as u64);
            (took, progress_time)
        }
        other => panic!("the sync did not finish: {other:?}"),
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    let fake = FakeCliniko::builder()
        .seed(7)
        .attendees(attendees())
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("the fake starts");
    let client = Client::builder(
        cliniko_fake::DEFAULT_API_KEY,
        "cliniko-cli bench (bench@example.com)",
    )
    .base_url(fake.base_url())
    .build()
    .expect("a client");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let drawn = CountingTerminal::default();
    let (mut plain, mut with_bar, mut drawing) = (Vec::new(), Vec::new(), Vec::new());
    // Alternated, so that a warming cache or a busy neighbour weighs on both alike.
    for _ in 0..rounds() {
        plain.push(run(&client, dir.path(), Progress::Off).await.0);
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(drawn.clone()), 20);
        let (took, bar_time) = run(&client, dir.path(), Progress::Bar(target)).await;
        with_bar.push(took);
        drawing.push(bar_time.as_secs_f64() / took.as_secs_f64());
    }
    drawing.sort_by(f64::total_cmp);
    let bar_share = drawing[drawing.len() / 2];
    let (plain, with_bar) = (median(plain), median(with_bar));
    let overhead = with_bar.as_secs_f64() / plain.as_secs_f64() - 1.0;
    let bytes_drawn = drawn.0.load(Ordering::Relaxed);
    // An overhead is only a figure for the bar if the bar drew.
    assert!(
        bytes_drawn > 0,
        "the progress bar drew nothing in {} runs",
        rounds()
    );
    println!(
        "sync of {} attendees from the in-process fake, median of {} runs each:",
        attendees(),
        rounds()
    );
    println!("  without a progress bar  {:>8.3} s", plain.as_secs_f64());
    println!(
        "  with the progress bar   {:>8.3} s",
        with_bar.as_secs_f64()
    );
    println!(
        "  overhead                {:>+8.2} % ({} bytes drawn over {} runs)",
        overhead * 100.0,
        bytes_drawn,
        rounds()
    );
    // Wall times of separate runs differ by more than the bar costs on a shared machine; the
    // time measured around the bar's own calls is the direct figure.
    println!(
        "  time inside the bar     {:>8.3} % of the run (median; measured around its calls)",
        bar_share * 100.0
    );
    println!(
        "  throughput              {:>8.0} attendees/s",
        attendees() as f64 / plain.as_secs_f64()
    );
    fake.shutdown().await;
}
