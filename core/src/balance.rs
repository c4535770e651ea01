//! The load-balancer trait: choose an endpoint for the next request given live load.
//!
//! Implementations (`p2c`, `ewma`, `aperture`, `heap`, `roundRobin`, Linkerd 1's
//! `loadBalancer.kind`s) come with the HTTP router; they share this contract so that every
//! protocol's client can use any of them.

/// An endpoint as a balancer sees it.
pub trait Load {
    /// The endpoint's current load; lower is better. What it measures is up to the
    /// balancer it is built for (outstanding requests for `p2c`, peak EWMA latency times
    /// outstanding requests for `ewma`).
    fn load(&self) -> f64;

    /// Whether the endpoint may take requests now (false while failure accrual has ejected
    /// it or its connection is closed).
    fn is_available(&self) -> bool {
        true
    }
}

/// A shared endpoint loads as the endpoint does.
impl<T: Load + ?Sized> Load for std::sync::Arc<T> {
    fn load(&self) -> f64 {
        (**self).load()
    }

    fn is_available(&self) -> bool {
        (**self).is_available()
    }
}

/// Picks the endpoint for the next request.
///
/// `pick` is called on every request with the current endpoint set, which changes as
/// service discovery updates it; it must not allocate or lock. Balancers keep whatever
/// state they need (a cursor, an aperture) behind interior mutability.
pub trait Balancer<E: Load>: Send + Sync {
    /// The index of the chosen endpoint, or `None` when no endpoint is available.
    fn pick(&self, endpoints: &[E]) -> Option<usize>;
}

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

/// Finagle's default balancer, `p2c`: pick two endpoints at random and send to the less
/// loaded one ("the power of two choices", Mitzenmacher 2001), which avoids the herd
/// behaviour of always choosing the least loaded while staying O(1). Unavailable endpoints
/// are skipped when any is available.
#[derive(Debug)]
pub struct P2c {
    rng: Rng,
}

impl P2c {
    /// A balancer drawing from `rng`.
    pub fn new(rng: Rng) -> P2c {
        P2c { rng }
    }
}

impl<E: Load> Balancer<E> for P2c {
    fn pick(&self, endpoints: &[E]) -> Option<usize> {
        let n = endpoints.len();
        match n {
            0 => return None,
            1 => return endpoints[0].is_available().then_some(0),
            _ => {}
        }
        let a = self.rng.below(n);
        let b = (a + 1 + self.rng.below(n - 1)) % n;
        let (ea, eb) = (&endpoints[a], &endpoints[b]);
        match (ea.is_available(), eb.is_available()) {
            (true, true) => Some(if eb.load() < ea.load() { b } else { a }),
            (true, false) => Some(a),
            (false, true) => Some(b),
            // Both drawn were down: look for any that is up before giving up.
            (false, false) => (0..n)
                .map(|i| (a + i) % n)
                .find(|&i| endpoints[i].is_available()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Outstanding(f64, bool);

    impl Load for Outstanding {
        fn load(&self) -> f64 {
            self.0
        }
        fn is_available(&self) -> bool {
            self.1
        }
    }

    /// The simplest balancer the contract allows: least loaded available endpoint.
    struct LeastLoaded;

    impl<E: Load> Balancer<E> for LeastLoaded {
        fn pick(&self, endpoints: &[E]) -> Option<usize> {
            (0..endpoints.len())
                .filter(|&i| endpoints[i].is_available())
                .min_by(|&a, &b| endpoints[a].load().total_cmp(&endpoints[b].load()))
        }
    }

    #[test]
    fn p2c_prefers_the_less_loaded_of_two_and_skips_dead_endpoints() {
        let p2c = P2c::new(Rng::seeded(7));
        let eps = [
            Outstanding(5.0, true),
            Outstanding(0.0, true),
            Outstanding(9.0, true),
        ];
        let mut counts = [0; 3];
        for _ in 0..3000 {
            counts[p2c.pick(&eps).unwrap()] += 1;
        }
        // Endpoint 1 wins every draw it is in (2/3 of draws); 2 never beats anyone.
        assert!(counts[1] > 1800 && counts[2] == 0, "{counts:?}");
        let dead = [
            Outstanding(0.0, false),
            Outstanding(0.0, false),
            Outstanding(3.0, true),
        ];
        assert!((0..100).all(|_| p2c.pick(&dead) == Some(2)));
        assert_eq!(p2c.pick(&[Outstanding(0.0, false)]), None);
        assert_eq!(p2c.pick(&[] as &[Outstanding]), None);
    }

    #[test]
    fn rng_draws_cover_their_range() {
        let rng = Rng::seeded(1);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            seen[rng.below(5)] = true;
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn a_balancer_skips_unavailable_endpoints() {
        let eps = [
            Outstanding(0.0, false),
            Outstanding(3.0, true),
            Outstanding(1.0, true),
        ];
        assert_eq!(LeastLoaded.pick(&eps), Some(2));
        assert_eq!(LeastLoaded.pick(&[Outstanding(0.0, false)]), None);
        assert_eq!(LeastLoaded.pick(&[] as &[Outstanding]), None);
    }
}
