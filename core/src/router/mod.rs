//! The protocol-independent router: a request's name is bound through the dtabs
//! ([`bindings`]), a bound id's client balances over its endpoints and ejects failing ones
//! ([`client`]), and servers, services and clients record Linkerd 1's metrics
//! ([`stats`]). Protocol crates supply the endpoints (their connections) and what a
//! request carries.

pub mod bindings;
pub mod client;
pub mod settings;
pub mod stats;

pub use bindings::{pick, BindError, Binding, Bindings, Factories};
pub use client::{Client, ClientSettings, ConnectFailure, Endpoint, Unroutable};

/// Counts a request in a gauge (`pending`) for as long as it is in flight, however it
/// ends.
pub struct Pending<'a>(&'a crate::metrics::Gauge);

impl<'a> Pending<'a> {
    /// Counts one more in `g` until dropped.
    pub fn new(g: &'a crate::metrics::Gauge) -> Pending<'a> {
        g.incr();
        Pending(g)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.decr();
    }
}

/// A request admitted under `maxConcurrentRequests`, counted while it is in flight.
pub struct Admitted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Admitted {
    /// Admits a request unless `max` are in flight already.
    pub fn new(
        in_flight: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
        max: Option<usize>,
    ) -> Option<Admitted> {
        use std::sync::atomic::Ordering::Relaxed;
        let admitted = match max {
            None => {
                in_flight.fetch_add(1, Relaxed);
                true
            }
            Some(max) => in_flight
                .fetch_update(Relaxed, Relaxed, |n| (n < max).then_some(n + 1))
                .is_ok(),
        };
        admitted.then(|| Admitted(in_flight.clone()))
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Counts a connection open for as long as it lives.
pub struct Open(std::sync::Arc<stats::ServerStats>);

impl Open {
    /// Counts one more open connection in `stats` until dropped.
    pub fn new(stats: std::sync::Arc<stats::ServerStats>) -> Open {
        stats.connections.incr();
        Open(stats)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections.decr();
    }
}

/// Calls `sweep` on `router` once a second (closing idle pooled connections), for as
/// long as the router lives.
pub fn spawn_sweeper<T: Send + Sync + 'static>(router: &std::sync::Arc<T>, sweep: fn(&T)) {
    let weak = std::sync::Arc::downgrade(router);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match weak.upgrade() {
                Some(r) => sweep(&r),
                None => return,
            }
        }
    });
}
