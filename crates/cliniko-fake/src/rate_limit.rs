//! The per-key rate limit: a fixed window of one minute that starts with its first request.

use std::sync::Mutex;

/// How many requests the key has made in the current window.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_minute: Option<u32>,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    started_at: u64,
    used: u32,
}

impl RateLimiter {
    pub(crate) fn new(per_minute: Option<u32>) -> Self {
        Self {
            per_minute,
            window: Mutex::new(Window::default()),
        }
    }

    /// Counts one request made at `now` (UNIX seconds); over the limit, the UNIX time at which
    /// the window resets.
    pub(crate) fn admit(&self, now: u64) -> Result<(), u64> {
        let Some(limit) = self.per_minute else {
            return Ok(());
        };
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now >= window.started_at + 60 {
            *window = Window {
                started_at: now,
                used: 0,
            };
        }
        if window.used >= limit {
            return Err(window.started_at + 60);
        }
        window.used += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_resets_after_a_minute() {
        let limiter = RateLimiter::new(Some(2));
        assert_eq!(limiter.admit(1_000), Ok(()));
        assert_eq!(limiter.admit(1_010), Ok(()));
        assert_eq!(limiter.admit(1_059), Err(1_060));
        assert_eq!(limiter.admit(1_060), Ok(()));
    }

    #[test]
    fn none_is_unlimited() {
        let limiter = RateLimiter::new(None);
        assert!((0..10_000).all(|_| limiter.admit(5).is_ok()));
    }
}
