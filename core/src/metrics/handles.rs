//! The handles components record with: one atomic per counter or gauge, one lock-free
//! histogram per stat.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use super::histogram::{Histogram, Summary};
use super::lock;

/// A monotonically increasing count.
#[derive(Debug, Clone)]
pub struct Counter(pub(super) Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A value that goes up and down; an `f64` stored as bits in one atomic.
#[derive(Debug, Clone)]
pub struct Gauge(pub(super) Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Relaxed);
    }

    /// Adds `d` (a compare-and-swap loop: uncontended, one round).
    #[inline]
    pub fn add(&self, d: f64) {
        let _ = self.0.fetch_update(Relaxed, Relaxed, |b| {
            Some((f64::from_bits(b) + d).to_bits())
        });
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    #[inline]
    pub fn decr(&self) {
        self.add(-1.0);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Relaxed))
    }
}

/// A distribution of values (latencies, sizes), reported per snapshot interval.
#[derive(Debug, Clone)]
pub struct Stat(pub(super) Arc<StatInner>);

#[derive(Debug)]
pub(crate) struct StatInner {
    pub(super) hist: Histogram,
    // The summary of the last roll; only the admin reader takes this lock.
    pub(super) last: Mutex<Summary>,
}

impl Stat {
    /// Records one value: no lock, no allocation.
    #[inline]
    pub fn record(&self, v: u64) {
        self.0.hist.record(v);
    }

    pub(super) fn roll(&self) {
        let s = self.0.hist.roll();
        *lock(&self.0.last) = s;
    }

    pub(super) fn summary(&self) -> Summary {
        *lock(&self.0.last)
    }
}
