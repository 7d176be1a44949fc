//! What a long command shows while it waits: the client's waits as a countdown, on a progress
//! bar or as log lines, shared by `sync` and `list --all`.

use std::time::{Duration, Instant};

use cliniko_client::{Client, Waiting};
use indicatif::ProgressBar;

/// How often a log line is written when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(2);
/// How often the client's waits are looked at, for the countdown.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// What the client waits for, as a countdown: `rate limit: cliniko resets in 42s`.
pub fn describe_wait(waiting: &Waiting, now: std::time::Instant) -> String {
    let left = waiting.until().saturating_duration_since(now);
    // Rounded up, so that the countdown reaches 1s, not 0s, in its last second.
    let seconds = left.as_millis().div_ceil(1000);
    match waiting {
        Waiting::RateLimitReset { .. } => {
            format!("rate limited: cliniko's limit resets in {seconds}s")
        }
        Waiting::Pacing { .. } => {
            format!("pacing to 200 requests a minute: next request in {seconds}s")
        }
        Waiting::Retry { retry, .. } => format!("retry {retry} in {seconds}s"),
        _ => format!("waiting {seconds}s"),
    }
}

/// Shows the client's waits on the bar (as its prefix) while they last.
pub async fn watch_bar(client: Client, bar: ProgressBar) {
    let mut shown = false;
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        match client.waiting() {
            Some(waiting) => {
                bar.set_prefix(format!(
                    "; {}",
                    describe_wait(&waiting, std::time::Instant::now())
                ));
                shown = true;
            }
            None if shown => {
                bar.set_prefix("");
                shown = false;
            }
            None => {}
        }
    }
}

/// Writes a log line when a wait starts, and every few seconds while it lasts.
pub async fn watch_log(client: Client) {
    let mut last: Option<(Waiting, Instant)> = None;
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(waiting) = client.waiting() else {
            last = None;
            continue;
        };
        let due = match &last {
            Some((previous, at)) => *previous != waiting || at.elapsed() >= LOG_EVERY,
            None => true,
        };
        if due {
            eprintln!(
                "sync: {}",
                describe_wait(&waiting, std::time::Instant::now())
            );
            last = Some((waiting, Instant::now()));
        }
    }
}

/// `1 page`, `2 pages`.
pub fn plural(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}
