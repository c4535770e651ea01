//! Load balancers: choose an endpoint for the next request given live load.
//!
//! Linkerd 1's `loadBalancer.kind`s, with Finagle's semantics: `p2c` (least outstanding
//! of two random picks), `ewma` (the same over peak-EWMA latency), `aperture` (p2c inside
//! a window of endpoints sized by load), `heap` (least outstanding) and `roundRobin`.
//! Every protocol's client uses them over its endpoints, which implement [`Load`];
//! picking takes no lock and allocates nothing.

mod aperture;
mod load;
mod rng;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

pub use aperture::Aperture;
pub use load::{EndpointLoad, Started};
pub use rng::Rng;

use crate::config::LoadBalancer;

/// An endpoint as a balancer sees it.
pub trait Load {
    /// Its live load.
    fn load(&self) -> &EndpointLoad;

    /// Whether it may take requests now (false while failure accrual has marked it dead).
    fn is_available(&self) -> bool {
        true
    }
}

/// A shared endpoint loads as the endpoint does.
impl<T: Load + ?Sized> Load for std::sync::Arc<T> {
    fn load(&self) -> &EndpointLoad {
        (**self).load()
    }

    fn is_available(&self) -> bool {
        (**self).is_available()
    }
}

/// What a p2c balancer compares.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Metric {
    Outstanding,
    Ewma,
}

impl Metric {
    fn of<E: Load>(self, e: &E, now: Option<Instant>) -> f64 {
        match (self, now) {
            (Metric::Ewma, Some(now)) => e.load().ewma_cost(now),
            _ => e.load().outstanding() as f64,
        }
    }
}

/// A client's load balancer (`client.loadBalancer`).
#[derive(Debug)]
pub enum Balancer {
    /// `p2c`, Finagle's default: the less loaded of two random picks ("the power of two
    /// choices"), which avoids the herding of always choosing the least loaded.
    P2c {
        /// Draws tried to find an available endpoint.
        max_effort: u32,
        /// The random source.
        rng: Rng,
    },
    /// `ewma`: p2c over peak-EWMA latency times outstanding requests.
    Ewma {
        /// Draws tried to find an available endpoint.
        max_effort: u32,
        /// The latency average's time constant.
        decay: Duration,
        /// The random source.
        rng: Rng,
    },
    /// `aperture`: p2c within a window of the endpoints sized by load.
    Aperture(Aperture),
    /// `heap`: the least loaded endpoint, always.
    Heap,
    /// `roundRobin`: each endpoint in turn.
    RoundRobin {
        /// The next turn.
        cursor: AtomicUsize,
    },
}

impl Balancer {
    /// The balancer `config` describes.
    pub fn from_config(config: &LoadBalancer) -> Balancer {
        let rng = Rng::from_entropy();
        match config {
            LoadBalancer::P2c(c) => Balancer::P2c {
                max_effort: c.max_effort,
                rng,
            },
            LoadBalancer::Ewma(c) => Balancer::Ewma {
                max_effort: c.max_effort,
                decay: Duration::from_millis(c.decay_time_ms),
                rng,
            },
            LoadBalancer::Aperture(c) => Balancer::Aperture(Aperture::new(
                c.max_effort,
                Duration::from_millis(c.smooth_window_ms),
                c.low_load,
                c.high_load,
                c.min_aperture as usize,
                rng,
            )),
            LoadBalancer::Heap(_) => Balancer::Heap,
            LoadBalancer::RoundRobin(_) => Balancer::RoundRobin {
                cursor: AtomicUsize::new(0),
            },
        }
    }

    /// The kind, as configured (`p2c`, `ewma`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Balancer::P2c { .. } => "p2c",
            Balancer::Ewma { .. } => "ewma",
            Balancer::Aperture(_) => "aperture",
            Balancer::Heap => "heap",
            Balancer::RoundRobin { .. } => "roundRobin",
        }
    }

    /// The index of the endpoint for the next request; `None` when there is none or none
    /// is available.
    pub fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        match self {
            Balancer::P2c { max_effort, rng } => p2c(
                endpoints,
                0,
                endpoints.len(),
                *max_effort,
                rng,
                Metric::Outstanding,
            ),
            Balancer::Ewma {
                max_effort, rng, ..
            } => p2c(
                endpoints,
                0,
                endpoints.len(),
                *max_effort,
                rng,
                Metric::Ewma,
            ),
            Balancer::Aperture(a) => a.pick(endpoints),
            Balancer::Heap => least_loaded(endpoints),
            Balancer::RoundRobin { cursor } => round_robin(endpoints, cursor),
        }
    }

    /// The time constant endpoints' latency averages decay with (`ewma.decayTimeMs`;
    /// Finagle's 10 s for the other kinds, which do not read it).
    pub fn decay(&self) -> Duration {
        match self {
            Balancer::Ewma { decay, .. } => *decay,
            _ => Duration::from_secs(10),
        }
    }
}

/// p2c over the `size` endpoints starting at `offset` (wrapping), comparing `metric`.
pub(crate) fn p2c<E: Load>(
    endpoints: &[E],
    offset: usize,
    size: usize,
    max_effort: u32,
    rng: &Rng,
    metric: Metric,
) -> Option<usize> {
    let n = endpoints.len();
    let size = size.min(n);
    if size == 0 {
        return None;
    }
    let at = |i: usize| (offset + i) % n;
    if size == 1 {
        let i = at(0);
        return if endpoints[i].is_available() {
            Some(i)
        } else {
            any_available(endpoints, i)
        };
    }
    let now = matches!(metric, Metric::Ewma).then(Instant::now);
    for _ in 0..max_effort.max(1) {
        let ia = rng.below(size);
        let ib = (ia + 1 + rng.below(size - 1)) % size;
        let (a, b) = (at(ia), at(ib));
        let (ea, eb) = (&endpoints[a], &endpoints[b]);
        match (ea.is_available(), eb.is_available()) {
            (true, true) => {
                return Some(if metric.of(eb, now) < metric.of(ea, now) {
                    b
                } else {
                    a
                })
            }
            (true, false) => return Some(a),
            (false, true) => return Some(b),
            (false, false) => {}
        }
    }
    // Every draw found dead endpoints: look for any live one before giving up.
    any_available(endpoints, at(0))
}

fn any_available<E: Load>(endpoints: &[E], from: usize) -> Option<usize> {
    let n = endpoints.len();
    (0..n)
        .map(|i| (from + i) % n)
        .find(|&i| endpoints[i].is_available())
}

/// The available endpoint with the fewest outstanding requests, the first on ties.
///
/// Finagle keeps a heap because its endpoints are long-lived objects updated in place;
/// here the set arrives as a slice that changes with discovery, and a scan over it is the
/// same choice without the bookkeeping (sets are tens of endpoints, not thousands).
fn least_loaded<E: Load>(endpoints: &[E]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, e) in endpoints.iter().enumerate() {
        if !e.is_available() {
            continue;
        }
        let load = e.load().outstanding();
        if best.is_none_or(|(_, b)| load < b) {
            best = Some((i, load));
        }
    }
    best.map(|(i, _)| i)
}

fn round_robin<E: Load>(endpoints: &[E], cursor: &AtomicUsize) -> Option<usize> {
    let n = endpoints.len();
    for _ in 0..n {
        let i = cursor.fetch_add(1, Relaxed) % n;
        if endpoints[i].is_available() {
            return Some(i);
        }
    }
    None
}
