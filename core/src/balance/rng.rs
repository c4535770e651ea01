//! The random source balancers draw from.

/// A small, lock-free pseudo-random source (xorshift64*), enough to spread load; not for
/// anything that needs unpredictability. Seedable, so tests are deterministic.
#[derive(Debug)]
pub struct Rng(std::sync::atomic::AtomicU64);

impl Rng {
    /// A generator seeded with `seed` (0 is replaced, xorshift cannot leave it).
    pub fn seeded(seed: u64) -> Rng {
        Rng(std::sync::atomic::AtomicU64::new(seed.max(1)))
    }

    /// A generator seeded from the clock and the process.
    pub fn from_entropy() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::seeded(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// The next value. Concurrent callers may see the same value now and then, which
    /// costs a little spread, never correctness.
    pub fn next_u64(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let mut x = self.0.load(Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.store(x, Relaxed);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// A value in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
