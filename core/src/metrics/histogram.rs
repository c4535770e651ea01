//! The stat structure: a fixed array of atomic log-linear buckets.
//!
//! Finagle's stats keep a bucketed histogram (`BucketedHistogram`, with buckets growing
//! by about 1% each). We keep the same idea with the HdrHistogram layout: values below
//! 64 have a bucket each, and each power of two above is cut into 32 equal buckets, so a
//! reported percentile is within 1/32 (about 3%) of the true value, over the whole `u64`
//! range, in 1920 buckets. We write it ourselves rather than put `hdrhistogram` behind a
//! mutex because recording here is one relaxed `fetch_add` on the bucket plus one on the
//! sum and, rarely, a `fetch_min`/`fetch_max`: no lock, no allocation, and several
//! threads can record into one stat without waiting on each other.
//!
//! Reading rolls the histogram: the buckets are drained (`swap(0)`) into a [`Summary`].
//! A record racing with a roll lands in this interval or the next, never in both.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Values below this have a bucket each.
const LINEAR: u64 = 64;
/// Buckets per power of two above [`LINEAR`] (a power of two itself).
const SUB: u64 = 32;
/// The number of buckets covering all of `u64`.
const BUCKETS: usize = (LINEAR + (64 - 6) * SUB) as usize;

/// The bucket that holds `v`.
fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let bits = 64 - u64::from(v.leading_zeros()); // >= 7
    let shift = bits - 6; // >= 1, so v >> shift is in [32, 64)
    let m = v >> shift;
    (LINEAR + (shift - 1) * SUB + (m - SUB)) as usize
}

/// The value reported for bucket `i`: its midpoint.
fn value(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let shift = (i - LINEAR) / SUB + 1;
    let m = (i - LINEAR) % SUB + SUB;
    let low = m << shift;
    low.saturating_add((1u64 << shift) / 2)
}

/// The summary of one interval's values, as `/admin/metrics.json` shows a stat.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// How many values were recorded.
    pub count: u64,
    /// Their sum (wrapping).
    pub sum: u64,
    /// The smallest (0 when empty).
    pub min: u64,
    /// The largest (0 when empty).
    pub max: u64,
    /// The 50th percentile.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 95th percentile.
    pub p95: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p9990: u64,
    /// The 99.99th percentile.
    pub p9999: u64,
}

impl Summary {
    /// The mean (0 when empty).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }
}

/// A histogram of `u64` values that many threads record into without a lock.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

impl Histogram {
    pub(crate) fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }

    /// Records `v`: no lock, no allocation.
    #[inline]
    pub(crate) fn record(&self, v: u64) {
        self.buckets[index(v)].fetch_add(1, Relaxed);
        self.sum.fetch_add(v, Relaxed);
        // Loads first: after the first few values min and max rarely change, and a load
        // does not take the cache line exclusively.
        if v < self.min.load(Relaxed) {
            self.min.fetch_min(v, Relaxed);
        }
        if v > self.max.load(Relaxed) {
            self.max.fetch_max(v, Relaxed);
        }
    }

    /// Drains the values recorded since the last roll into a summary.
    pub(crate) fn roll(&self) -> Summary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.swap(0, Relaxed)).collect();
        let sum = self.sum.swap(0, Relaxed);
        let min = self.min.swap(u64::MAX, Relaxed);
        let max = self.max.swap(0, Relaxed);
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return Summary::default();
        }
        // A record racing with the drain may leave min/max from the other interval;
        // clamping keeps the summary self-consistent.
        let min = min.min(max);
        let at = |q: f64| quantile(&counts, count, q).clamp(min, max);
        Summary {
            count,
            sum,
            min,
            max,
            p50: at(0.5),
            p90: at(0.9),
            p95: at(0.95),
            p99: at(0.99),
            p9990: at(0.999),
            p9999: at(0.9999),
        }
    }
}

/// The value at quantile `q` (0..=1): the bucket holding the `ceil(q * count)`th value.
fn quantile(counts: &[u64], count: u64, q: f64) -> u64 {
    let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
    let mut seen = 0u64;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return value(i);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_u64_and_stay_within_three_percent() {
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        for v in [0u64, 1, 63, 64, 65, 100, 1000, 12345, 1 << 40, u64::MAX / 3] {
            let got = value(index(v));
            let err = got.abs_diff(v) as f64 / (v.max(1)) as f64;
            assert!(err <= 1.0 / 32.0, "{v} reported as {got}");
        }
        for i in 1..BUCKETS {
            assert!(value(i) > value(i - 1));
            assert_eq!(index(value(i)), i);
        }
    }

    #[test]
    fn roll_summarises_then_empties() {
        let h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        let s = h.roll();
        assert_eq!((s.count, s.sum, s.min, s.max), (100, 5050, 1, 100));
        // 90 shares the bucket [90, 91], reported by its midpoint.
        assert_eq!((s.p50, s.p90, s.p99), (50, 91, 99));
        assert_eq!(s.p9999, 100);
        assert_eq!(h.roll(), Summary::default());
    }
}
