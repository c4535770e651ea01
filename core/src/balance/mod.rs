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
    /// The endpoint's load, divided by its weight.
    fn of<E: Load>(self, e: &E, now: Option<Instant>) -> f64 {
        let load = match (self, now) {
            (Metric::Ewma, Some(now)) => e.load().ewma_cost(now),
            _ => e.load().outstanding() as f64,
        };
        load / e.load().weight()
    }
}

/// Picks the endpoint for each request: what every load balancer kind implements.
///
/// `pick` is called on every request with the current endpoint set, which changes as
/// service discovery updates it; it must not allocate or lock. Balancers keep whatever
/// state they need (a cursor, an aperture) behind interior mutability.
pub trait Balancer: Send + Sync {
    /// The index of the endpoint for the next request; `None` when there is none or none
    /// is available.
    fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize>;

    /// The kind, as configured (`p2c`, `ewma`, ...).
    fn kind(&self) -> &'static str;
}

/// `p2c`, Finagle's default: the less loaded of two random picks ("the power of two
/// choices"), which avoids the herding of always choosing the least loaded.
#[derive(Debug)]
pub struct P2c {
    /// Draws tried to find an available endpoint.
    pub max_effort: u32,
    /// The random source.
    pub rng: Rng,
}

impl Balancer for P2c {
    fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        let n = endpoints.len();
        p2c(
            endpoints,
            0,
            n,
            self.max_effort,
            &self.rng,
            Metric::Outstanding,
        )
    }

    fn kind(&self) -> &'static str {
        "p2c"
    }
}

/// `ewma`: p2c over peak-EWMA latency times outstanding requests.
#[derive(Debug)]
pub struct Ewma {
    /// Draws tried to find an available endpoint.
    pub max_effort: u32,
    /// The latency average's time constant.
    pub decay: Duration,
    /// The random source.
    pub rng: Rng,
}

impl Balancer for Ewma {
    fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        let n = endpoints.len();
        p2c(endpoints, 0, n, self.max_effort, &self.rng, Metric::Ewma)
    }

    fn kind(&self) -> &'static str {
        "ewma"
    }
}

/// `heap`: the least loaded endpoint, always.
#[derive(Debug, Default)]
pub struct Heap;

impl Balancer for Heap {
    fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        least_loaded(endpoints)
    }

    fn kind(&self) -> &'static str {
        "heap"
    }
}

/// `roundRobin`: each endpoint in turn.
#[derive(Debug, Default)]
pub struct RoundRobin {
    /// The next turn.
    pub cursor: AtomicUsize,
}

impl Balancer for RoundRobin {
    fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        round_robin(endpoints, &self.cursor)
    }

    fn kind(&self) -> &'static str {
        "roundRobin"
    }
}

impl Balancer for Aperture {
    fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        Aperture::pick(self, endpoints)
    }

    fn kind(&self) -> &'static str {
        "aperture"
    }
}

/// The balancer a client's `loadBalancer` config names, dispatched without boxing.
#[derive(Debug)]
pub enum AnyBalancer {
    /// `p2c`.
    P2c(P2c),
    /// `ewma`.
    Ewma(Ewma),
    /// `aperture`.
    Aperture(Aperture),
    /// `heap`.
    Heap(Heap),
    /// `roundRobin`.
    RoundRobin(RoundRobin),
}

impl AnyBalancer {
    /// The balancer `config` describes.
    pub fn from_config(config: &LoadBalancer) -> AnyBalancer {
        let rng = Rng::from_entropy();
        match config {
            LoadBalancer::P2c(c) => AnyBalancer::P2c(P2c {
                max_effort: c.max_effort,
                rng,
            }),
            LoadBalancer::Ewma(c) => AnyBalancer::Ewma(Ewma {
                max_effort: c.max_effort,
                decay: Duration::from_millis(c.decay_time_ms),
                rng,
            }),
            LoadBalancer::Aperture(c) => AnyBalancer::Aperture(Aperture::new(
                c.max_effort,
                Duration::from_millis(c.smooth_window_ms),
                c.low_load,
                c.high_load,
                c.min_aperture as usize,
                rng,
            )),
            LoadBalancer::Heap(_) => AnyBalancer::Heap(Heap),
            LoadBalancer::RoundRobin(_) => AnyBalancer::RoundRobin(RoundRobin::default()),
        }
    }

    /// The time constant endpoints' latency averages decay with (`ewma.decayTimeMs`;
    /// Finagle's 10 s for the other kinds, which do not read it).
    pub fn decay(&self) -> Duration {
        match self {
            AnyBalancer::Ewma(e) => e.decay,
            _ => Duration::from_secs(10),
        }
    }
}

impl Balancer for AnyBalancer {
    fn pick<E: Load>(&self, endpoints: &[E]) -> Option<usize> {
        match self {
            AnyBalancer::P2c(b) => b.pick(endpoints),
            AnyBalancer::Ewma(b) => b.pick(endpoints),
            AnyBalancer::Aperture(b) => Balancer::pick(b, endpoints),
            AnyBalancer::Heap(b) => b.pick(endpoints),
            AnyBalancer::RoundRobin(b) => b.pick(endpoints),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            AnyBalancer::P2c(b) => b.kind(),
            AnyBalancer::Ewma(b) => b.kind(),
            AnyBalancer::Aperture(b) => Balancer::kind(b),
            AnyBalancer::Heap(b) => b.kind(),
            AnyBalancer::RoundRobin(b) => b.kind(),
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
    let mut best: Option<(usize, f64)> = None;
    for (i, e) in endpoints.iter().enumerate() {
        if !e.is_available() {
            continue;
        }
        let load = e.load().outstanding() as f64 / e.load().weight();
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
