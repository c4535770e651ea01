//! `aperture`: p2c within a window (the aperture) of the endpoints, grown when the load
//! per endpoint inside it is high and shrunk when it is low (Finagle's
//! `ApertureLeastLoaded`). A small window keeps few connections open when traffic is
//! light; under load it widens toward every endpoint.
//!
//! The window starts at a random offset chosen once per balancer, so that many linkerds
//! spread over different endpoints, and runs over the endpoint slice in its given order;
//! namers publish address sets sorted by address, so a set that changes by one endpoint
//! moves the window by at most one place rather than reshuffling it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use super::{p2c, Load, Metric, Rng};

/// The aperture balancer's state.
#[derive(Debug)]
pub struct Aperture {
    max_effort: u32,
    smooth_ns: f64,
    low_load: f64,
    high_load: f64,
    min_aperture: usize,
    rng: Rng,
    offset: usize,
    /// The window's size; 0 until the first pick sets it to the minimum.
    size: AtomicUsize,
    /// The smoothed load per endpoint in the window, as f64 bits.
    smoothed: AtomicU64,
    /// When `smoothed` was last updated, in nanoseconds since the process epoch.
    stamp: AtomicU64,
}

fn now_ns() -> u64 {
    crate::clock::now().as_nanos() as u64
}

impl Aperture {
    /// A balancer with `aperture`'s settings.
    pub fn new(
        max_effort: u32,
        smooth_window: Duration,
        low_load: f64,
        high_load: f64,
        min_aperture: usize,
        rng: Rng,
    ) -> Aperture {
        let offset = rng.below(1 << 16);
        Aperture {
            max_effort,
            smooth_ns: (smooth_window.as_nanos() as f64).max(1.0),
            low_load,
            high_load,
            min_aperture: min_aperture.max(1),
            rng,
            offset,
            size: AtomicUsize::new(0),
            smoothed: AtomicU64::new(0f64.to_bits()),
            stamp: AtomicU64::new(0),
        }
    }

    /// The current window size (for tests and metrics).
    pub fn size(&self) -> usize {
        self.size.load(Relaxed)
    }

    /// Picks within the window after adjusting it to the load.
    pub fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        self.pick_at(endpoints, now_ns())
    }

    pub(crate) fn pick_at<E: Load>(&self, endpoints: &[E], now: u64) -> Option<usize> {
        let n = endpoints.len();
        if n == 0 {
            return None;
        }
        let min = self.min_aperture.min(n);
        let mut size = self.size.load(Relaxed).clamp(min, n);
        let offset = self.offset % n;
        let outstanding: usize = (0..size)
            .map(|i| endpoints[(offset + i) % n].load().outstanding())
            .sum();
        let sample = outstanding as f64 / size as f64;
        let last = self.stamp.swap(now, Relaxed);
        let w = (-(now.saturating_sub(last) as f64) / self.smooth_ns).exp();
        let smoothed = f64::from_bits(self.smoothed.load(Relaxed)) * w + sample * (1.0 - w);
        self.smoothed.store(smoothed.to_bits(), Relaxed);
        if smoothed > self.high_load && size < n {
            size += 1;
        } else if smoothed < self.low_load && size > min {
            size -= 1;
        }
        self.size.store(size, Relaxed);
        p2c(
            endpoints,
            offset,
            size,
            self.max_effort,
            &self.rng,
            Metric::Outstanding,
        )
    }
}
