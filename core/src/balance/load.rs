//! What a balancer knows of an endpoint: requests outstanding and a peak-EWMA latency.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The cost of an endpoint that has requests outstanding but no latency observed yet:
/// high, so that a new endpoint is tried by few requests until one answers (Finagle's
/// `PeakEwma` penalty), in nanoseconds.
const PENALTY_NS: f64 = 1e12;

/// `at` in nanoseconds on the process clock.
fn now_ns(at: Instant) -> u64 {
    crate::clock::since_epoch(at).as_nanos() as u64
}

/// One endpoint's live load, updated without locks as requests start and finish.
#[derive(Debug)]
pub struct EndpointLoad {
    outstanding: AtomicUsize,
    /// The peak-EWMA round trip in nanoseconds, as f64 bits.
    cost: AtomicU64,
    /// When `cost` was last updated ([`now_ns`]).
    stamp: AtomicU64,
    /// The EWMA's time constant in nanoseconds.
    decay_ns: f64,
    /// The endpoint's weight (`endpoint_addr_weight`), as f64 bits: balancers compare
    /// load divided by it, so a weight of 2 takes twice the traffic.
    weight: AtomicU64,
}

impl Default for EndpointLoad {
    fn default() -> EndpointLoad {
        EndpointLoad::new(Duration::from_secs(10))
    }
}

impl EndpointLoad {
    /// An idle endpoint whose latency average decays with time constant `decay`
    /// (`ewma.decayTimeMs`, 10 s by default).
    pub fn new(decay: Duration) -> EndpointLoad {
        EndpointLoad {
            outstanding: AtomicUsize::new(0),
            cost: AtomicU64::new(0f64.to_bits()),
            stamp: AtomicU64::new(0),
            decay_ns: (decay.as_nanos() as f64).max(1.0),
            weight: AtomicU64::new(1f64.to_bits()),
        }
    }

    /// Sets the endpoint's weight (non-positive or non-finite weights count as 1).
    pub fn set_weight(&self, weight: f64) {
        let w = if weight.is_finite() && weight > 0.0 {
            weight
        } else {
            1.0
        };
        self.weight.store(w.to_bits(), Relaxed);
    }

    /// The endpoint's weight.
    pub fn weight(&self) -> f64 {
        f64::from_bits(self.weight.load(Relaxed))
    }

    /// Counts a request as outstanding until the returned guard finishes or drops.
    pub fn start(&self) -> Started<'_> {
        self.outstanding.fetch_add(1, Relaxed);
        Started {
            load: self,
            at: Instant::now(),
        }
    }

    /// Requests outstanding.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Relaxed)
    }

    /// The peak-EWMA latency decayed to `now`, times the requests outstanding plus one
    /// (Finagle's `P2CPeakEwma` load).
    pub fn ewma_cost(&self, now: Instant) -> f64 {
        let outstanding = self.outstanding() as f64;
        let cost = self.decayed(now_ns(now), 0.0);
        if cost == 0.0 && outstanding != 0.0 {
            PENALTY_NS + outstanding
        } else {
            cost * (outstanding + 1.0)
        }
    }

    /// The average decayed toward `rtt` as of `now`, peaking at once to a larger `rtt`.
    fn decayed(&self, now: u64, rtt: f64) -> f64 {
        let cost = f64::from_bits(self.cost.load(Relaxed));
        if rtt > cost {
            return rtt;
        }
        let elapsed = now.saturating_sub(self.stamp.load(Relaxed)) as f64;
        let w = (-elapsed / self.decay_ns).exp();
        cost * w + rtt * (1.0 - w)
    }

    /// Folds one observed round trip into the average.
    pub fn observe(&self, rtt: Duration, now: Instant) {
        let now = now_ns(now);
        let cost = self.decayed(now, rtt.as_nanos() as f64);
        self.cost.store(cost.to_bits(), Relaxed);
        self.stamp.store(now, Relaxed);
    }
}

/// A request outstanding on an endpoint.
#[must_use = "the request stops counting as outstanding when this drops"]
pub struct Started<'a> {
    load: &'a EndpointLoad,
    at: Instant,
}

impl Started<'_> {
    /// The request was answered: its round trip feeds the latency average.
    pub fn finish(self) {
        let now = Instant::now();
        self.load
            .observe(now.saturating_duration_since(self.at), now);
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        self.load.outstanding.fetch_sub(1, Relaxed);
    }
}
