//! Retry budgets and backoffs (Finagle's `RetryBudget` and `Backoff`, Linkerd 1's
//! `service.retries` and `client.requeueBudget`).
//!
//! A budget lets retries be at most `percentCanRetry` of the requests seen over the last
//! `ttlSecs`, plus a floor of `minRetriesPerSec` so that a service with little traffic can
//! still retry. Requests deposit a fraction of a token, each retry withdraws a whole one;
//! both are counted in one-second buckets over the window, without locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::balance::Rng;
use crate::config::{Backoff, Budget};

/// Seconds on the process clock.
fn now_secs() -> u64 {
    crate::clock::now().as_secs()
}

/// One second's deposits and withdrawals, tagged with the second they belong to.
#[derive(Debug, Default)]
struct Bucket {
    second: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

/// A retry budget.
#[derive(Debug)]
pub struct RetryBudget {
    percent: f64,
    reserve: f64,
    buckets: Box<[Bucket]>,
}

impl RetryBudget {
    /// The budget `config` describes.
    pub fn new(config: &Budget) -> RetryBudget {
        let ttl = config.ttl_secs.clamp(1, 3600);
        RetryBudget {
            percent: config.percent_can_retry,
            reserve: f64::from(config.min_retries_per_sec) * ttl as f64,
            buckets: (0..ttl).map(|_| Bucket::default()).collect(),
        }
    }

    /// The bucket for `second`, emptied first if it still holds an older second.
    fn bucket(&self, second: u64) -> &Bucket {
        let b = &self.buckets[(second % self.buckets.len() as u64) as usize];
        let old = b.second.load(Relaxed);
        if old != second
            && b.second
                .compare_exchange(old, second, Relaxed, Relaxed)
                .is_ok()
        {
            b.requests.store(0, Relaxed);
            b.retries.store(0, Relaxed);
        }
        b
    }

    /// Counts a request (each one earns `percentCanRetry` of a retry).
    pub fn deposit(&self) {
        self.bucket(now_secs()).requests.fetch_add(1, Relaxed);
    }

    /// The retries available now.
    pub fn balance(&self) -> f64 {
        let now = now_secs();
        let window = self.buckets.len() as u64;
        let (mut requests, mut retries) = (0u64, 0u64);
        for b in self.buckets.iter() {
            let second = b.second.load(Relaxed);
            if now.saturating_sub(second) < window {
                requests += b.requests.load(Relaxed);
                retries += b.retries.load(Relaxed);
            }
        }
        self.reserve + requests as f64 * self.percent - retries as f64
    }

    /// Takes one retry from the budget; false (and nothing taken) when it is spent.
    pub fn try_withdraw(&self) -> bool {
        if self.balance() < 1.0 {
            return false;
        }
        self.bucket(now_secs()).retries.fetch_add(1, Relaxed);
        true
    }
}

/// The waits between retries.
#[derive(Debug)]
pub struct Backoffs {
    backoff: Backoff,
    rng: Rng,
}

impl Backoffs {
    /// The waits `backoff` describes.
    pub fn new(backoff: &Backoff) -> Backoffs {
        Backoffs {
            backoff: backoff.clone(),
            rng: Rng::from_entropy(),
        }
    }

    /// The wait before retry number `n` (0 for the first).
    pub fn wait(&self, n: u32) -> Duration {
        let ms = match &self.backoff {
            Backoff::Constant(c) => c.ms,
            Backoff::Jittered(j) => {
                // Decorrelated jitter from min, doubling up to max.
                let max = j.max_ms.max(j.min_ms);
                let base = j.min_ms.saturating_mul(1u64 << n.min(32)).min(max);
                if n == 0 {
                    j.min_ms
                } else {
                    j.min_ms + (self.rng.unit() * base.saturating_sub(j.min_ms) as f64) as u64
                }
            }
        };
        Duration::from_millis(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConstantBackoff, JitteredBackoff};

    #[test]
    fn the_reserve_allows_min_retries_per_second_over_the_window() {
        let b = RetryBudget::new(&Budget {
            min_retries_per_sec: 2,
            percent_can_retry: 0.0,
            ttl_secs: 3,
        });
        let granted = (0..20).filter(|_| b.try_withdraw()).count();
        assert_eq!(granted, 6);
    }

    #[test]
    fn requests_earn_their_percentage_of_retries() {
        let b = RetryBudget::new(&Budget {
            min_retries_per_sec: 0,
            percent_can_retry: 0.2,
            ttl_secs: 10,
        });
        assert!(!b.try_withdraw(), "nothing earned yet");
        for _ in 0..100 {
            b.deposit();
        }
        let granted = (0..100).filter(|_| b.try_withdraw()).count();
        assert_eq!(granted, 20);
        assert!(b.balance() < 1.0);
    }

    #[test]
    fn backoffs_wait_as_configured() {
        let c = Backoffs::new(&Backoff::Constant(ConstantBackoff { ms: 7 }));
        assert_eq!(c.wait(0), Duration::from_millis(7));
        assert_eq!(c.wait(5), Duration::from_millis(7));
        let j = Backoffs::new(&Backoff::Jittered(JitteredBackoff {
            min_ms: 10,
            max_ms: 100,
        }));
        assert_eq!(j.wait(0), Duration::from_millis(10));
        for n in 1..20 {
            let w = j.wait(n);
            assert!(
                w >= Duration::from_millis(10) && w <= Duration::from_millis(100),
                "{w:?}"
            );
        }
    }
}
