//! Retry policy: exponential backoff with jitter, honouring `Retry-After`, bounded in
//! attempts and in total time. Pure arithmetic plus a sleep; it does no I/O of its own.

use std::time::{Duration, Instant};

/// How transient failures are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Upper bound of a single backoff (and of an honoured `Retry-After`).
    pub max_delay: Duration,
    /// No new attempt starts after this much time since the first.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            // 7 waits of 0.25 s doubling (each half to all of it): 16–32 s in all, so a
            // registry restarting for a few seconds is waited for.
            max_attempts: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_total: Duration::from_secs(120),
        }
    }
}

/// Progress of one retried operation.
pub struct Backoff<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    attempt: u32,
}

impl RetryPolicy {
    pub fn start(&self) -> Backoff<'_> {
        Backoff {
            policy: self,
            started: Instant::now(),
            attempt: 1,
        }
    }

    /// The delay before attempt `attempt + 1` (1-based `attempt`), before jitter; a
    /// `Retry-After` wins over the computed backoff but is capped by `max_delay`.
    pub fn delay(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        if let Some(s) = retry_after {
            return Duration::from_secs(s).min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        exp.min(self.max_delay)
    }
}

impl Backoff<'_> {
    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Seconds since the first attempt.
    pub fn elapsed_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Sleeps before the next attempt and returns true, or returns false when the budget is
    /// spent. Jitter: a uniformly random delay in [d/2, d] (a `Retry-After` is not shortened).
    pub async fn wait(&mut self, retry_after: Option<u64>) -> bool {
        match self.next_delay(retry_after) {
            Some(d) => {
                tokio::time::sleep(d).await;
                true
            }
            None => false,
        }
    }

    /// [`Self::wait`] for blocking code (the update-graph and signature-store client).
    pub fn wait_blocking(&mut self, retry_after: Option<u64>) -> bool {
        match self.next_delay(retry_after) {
            Some(d) => {
                std::thread::sleep(d);
                true
            }
            None => false,
        }
    }

    /// The wait before the next attempt (counting it), or `None` when the budget is spent.
    fn next_delay(&mut self, retry_after: Option<u64>) -> Option<Duration> {
        if self.attempt >= self.policy.max_attempts {
            return None;
        }
        let d = self.policy.delay(self.attempt, retry_after);
        let d = if retry_after.is_some() {
            d
        } else {
            let half = d / 2;
            half + Duration::from_nanos(fastrand::u64(0..=half.as_nanos() as u64))
        };
        if self.started.elapsed() + d > self.policy.max_total {
            return None;
        }
        self.attempt += 1;
        Some(d)
    }
}

/// Parses a `Retry-After` header given in seconds (the HTTP-date form is ignored).
pub fn parse_retry_after(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            max_total: Duration::from_secs(60),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(400));
        assert_eq!(p.delay(4, None), Duration::from_millis(500));
        assert_eq!(p.delay(1, Some(3)), Duration::from_millis(500));
    }

    #[test]
    fn retry_after_seconds_only() {
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(7));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let p = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_total: Duration::from_secs(5),
        };
        let mut b = p.start();
        assert!(b.wait(None).await);
        assert!(b.wait(None).await);
        assert!(!b.wait(None).await);
        assert_eq!(b.attempts(), 3);
    }
}
