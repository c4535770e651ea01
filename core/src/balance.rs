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

/// Picks the endpoint for the next request.
///
/// `pick` is called on every request with the current endpoint set, which changes as
/// service discovery updates it; it must not allocate or lock. Balancers keep whatever
/// state they need (a cursor, an aperture) behind interior mutability.
pub trait Balancer<E: Load>: Send + Sync {
    /// The index of the chosen endpoint, or `None` when no endpoint is available.
    fn pick(&self, endpoints: &[E]) -> Option<usize>;
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
