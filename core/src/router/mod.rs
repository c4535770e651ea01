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
