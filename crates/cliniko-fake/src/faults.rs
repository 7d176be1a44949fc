//! Fault injection: added latency, a share of 5xx answers, bursts of 429, truncated bodies and
//! dropped connections, all off by default and drawn from a seeded generator.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use crate::rng::SplitMix64;

/// The faults the server injects; the default injects none.
///
/// Shares are probabilities from 0.0 to 1.0 (values outside are clamped, NaN counts as 0.0),
/// drawn per request in this order: drop the connection, answer 5xx, truncate the body.
///
/// ```
/// use std::time::Duration;
/// use cliniko_fake::Faults;
///
/// let flaky = Faults { server_error_rate: 0.2, latency: Duration::from_millis(5), ..Faults::default() };
/// assert_eq!(flaky.drop_rate, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Added to every request before it is answered.
    pub latency: Duration,
    /// The share of requests answered 500 or 503 (with the spec's error body).
    pub server_error_rate: f64,
    /// The next this many requests are answered 429 with `X-RateLimit-Reset`, whatever the rate
    /// limit says; setting faults again restarts the count.
    pub rate_limit_burst: u32,
    /// The share of answers whose body is cut short mid-JSON, while `Content-Length` still
    /// announces the full length.
    pub truncate_rate: f64,
    /// The share of requests whose connection is closed without any answer.
    pub drop_rate: f64,
}

impl Faults {
    fn clamped(mut self) -> Self {
        for share in [
            &mut self.server_error_rate,
            &mut self.truncate_rate,
            &mut self.drop_rate,
        ] {
            *share = if share.is_nan() {
                0.0
            } else {
                share.clamp(0.0, 1.0)
            };
        }
        self
    }

    fn any_random(&self) -> bool {
        self.server_error_rate > 0.0 || self.truncate_rate > 0.0 || self.drop_rate > 0.0
    }
}

/// What the fault layer decided for one request, before it is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Handle the request; `truncate` says whether to cut its answer's body.
    Handle { truncate: bool },
    /// Close the connection without answering.
    Drop,
    /// Answer 429, as a burst asked.
    RateLimited,
    /// Answer this 5xx status.
    ServerError(u16),
}

/// The faults in force and the seeded generator they draw from.
#[derive(Debug)]
pub(crate) struct FaultState {
    faults: RwLock<Faults>,
    burst_left: AtomicU32,
    rng: Mutex<SplitMix64>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults, seed: u64) -> Self {
        let faults = faults.clamped();
        Self {
            burst_left: AtomicU32::new(faults.rate_limit_burst),
            faults: RwLock::new(faults),
            // A different stream from the seed data's, so turning faults on does not change it.
            rng: Mutex::new(SplitMix64::new(seed ^ 0xFA17_FA17_FA17_FA17)),
        }
    }

    pub(crate) fn set(&self, faults: Faults) {
        let faults = faults.clamped();
        let mut current = self
            .faults
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = faults;
        self.burst_left
            .store(faults.rate_limit_burst, Ordering::SeqCst);
    }

    pub(crate) fn current(&self) -> Faults {
        *self
            .faults
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides what happens to one request under `faults`.
    pub(crate) fn verdict(&self, faults: &Faults) -> Verdict {
        let in_burst = self
            .burst_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if !faults.any_random() {
            return if in_burst {
                Verdict::RateLimited
            } else {
                Verdict::Handle { truncate: false }
            };
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if rng.chance(faults.drop_rate) {
            return Verdict::Drop;
        }
        if in_burst {
            return Verdict::RateLimited;
        }
        if rng.chance(faults.server_error_rate) {
            return Verdict::ServerError(if rng.chance(0.5) { 500 } else { 503 });
        }
        Verdict::Handle {
            truncate: rng.chance(faults.truncate_rate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_faults_means_every_request_is_handled_whole() {
        let state = FaultState::new(Faults::default(), 1);
        let faults = state.current();
        assert!((0..1_000).all(|_| state.verdict(&faults) == Verdict::Handle { truncate: false }));
    }

    #[test]
    fn a_burst_answers_exactly_that_many_429s() {
        let state = FaultState::new(
            Faults {
                rate_limit_burst: 3,
                ..Faults::default()
            },
            1,
        );
        let faults = state.current();
        let verdicts: Vec<_> = (0..5).map(|_| state.verdict(&faults)).collect();
        assert_eq!(
            verdicts
                .iter()
                .filter(|v| **v == Verdict::RateLimited)
                .count(),
            3
        );
        assert_eq!(verdicts[3], Verdict::Handle { truncate: false });
    }

    #[test]
    fn shares_are_clamped() {
        let state = FaultState::new(
            Faults {
                drop_rate: f64::NAN,
                server_error_rate: 7.0,
                ..Faults::default()
            },
            1,
        );
        let faults = state.current();
        assert_eq!(faults.drop_rate, 0.0);
        assert!(matches!(
            state.verdict(&faults),
            Verdict::ServerError(500 | 503)
        ));
    }
}
