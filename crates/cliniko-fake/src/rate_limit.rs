//! The per-key rate limit: a sliding window. A request is admitted when fewer than the limit were
//! admitted in the window before it; the window's length is configurable so that tests can run a
//! scaled-down minute.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The times of the requests admitted in the last window.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: Option<u32>,
    window: Duration,
    admitted: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: Option<u32>, window: Duration) -> Self {
        Self {
            limit,
            window: window.max(Duration::from_millis(1)),
            admitted: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts one request made at `now`; over the limit, how long until a request would be
    /// admitted (when the oldest request in the window leaves it).
    pub(crate) fn admit(&self, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let mut admitted = self
            .admitted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while admitted
            .front()
            .is_some_and(|oldest| now.saturating_duration_since(*oldest) >= self.window)
        {
            admitted.pop_front();
        }
        if admitted.len() >= limit as usize {
            let oldest = admitted.front().copied().unwrap_or(now);
            return Err((oldest + self.window).saturating_duration_since(now));
        }
        admitted.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_instead_of_resetting() {
        let limiter = RateLimiter::new(Some(2), Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |seconds| t0 + Duration::from_secs(seconds);
        assert_eq!(limiter.admit(at(0)), Ok(()));
        assert_eq!(limiter.admit(at(50)), Ok(()));
        assert_eq!(limiter.admit(at(59)), Err(Duration::from_secs(1)));
        // A fixed window would start afresh at 60 and admit two; the sliding one admits only the
        // request at 0's replacement until 110.
        assert_eq!(limiter.admit(at(60)), Ok(()));
        assert_eq!(limiter.admit(at(61)), Err(Duration::from_secs(49)));
        assert_eq!(limiter.admit(at(110)), Ok(()));
    }

    #[test]
    fn the_window_length_is_configurable() {
        let limiter = RateLimiter::new(Some(1), Duration::from_millis(500));
        let t0 = Instant::now();
        assert_eq!(limiter.admit(t0), Ok(()));
        assert!(limiter.admit(t0 + Duration::from_millis(499)).is_err());
        assert_eq!(limiter.admit(t0 + Duration::from_millis(500)), Ok(()));
    }

    #[test]
    fn none_is_unlimited() {
        let limiter = RateLimiter::new(None, Duration::from_secs(60));
        let now = Instant::now();
        assert!((0..10_000).all(|_| limiter.admit(now).is_ok()));
    }
}
