//! Monotonic time as a plain number since a process-wide epoch, for state kept in atomics
//! (an `Instant` cannot be stored in one): accrual deadlines, latency averages, budget
//! buckets.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The instant the process's counters count from, fixed on first use.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// How long after the epoch `at` is (zero for an earlier instant).
pub fn since_epoch(at: Instant) -> Duration {
    at.saturating_duration_since(epoch())
}

/// How long after the epoch it is now.
pub fn now() -> Duration {
    epoch().elapsed()
}
