//! A client: what requests bound to one id (`/#/io.l5d.fs/users`) are sent through — its
//! live endpoint set, its load balancer, its failure accrual policy and its metrics.
//!
//! The endpoint set follows the bound name's address: when service discovery changes it,
//! endpoints still present keep their load, accrual state and pooled connections, new ones
//! are added and removed ones are dropped from the set, while requests already sent to them
//! finish on the connections they hold.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::HeaderValue;
use l5d_core::accrual::{Policy, Transition};
use l5d_core::addr::{Addr, Address};
use l5d_core::balance::AnyBalancer;
use l5d_core::naming::Path;
use l5d_core::sync::lock;
use l5d_core::var::Var;

use crate::pool::{Endpoint, PoolSettings};
use crate::stats::ClientStats;

/// How a client is set up: its balancer, accrual policy and pool.
pub struct ClientSettings {
    /// The load balancer.
    pub balancer: AnyBalancer,
    /// The failure accrual policy.
    pub accrual: Policy,
    /// The connection pool of each endpoint.
    pub pool: Arc<PoolSettings>,
    /// `requestAttemptTimeoutMs`: the most one attempt may take to its response.
    pub attempt_timeout: Option<std::time::Duration>,
    /// `requeueBudget`: how many requests may be sent again after a failed connect.
    pub requeue_budget: l5d_core::retry::RetryBudget,
}

struct EndpointSet {
    /// The address the set was last built from.
    addr: Var<Addr>,
    /// The address list the endpoints were built from (compared by pointer: a new list
    /// from service discovery is a new allocation).
    built_from: Option<Arc<[Address]>>,
    endpoints: Arc<[Arc<Endpoint>]>,
}

/// The client of one bound id.
pub struct Client {
    /// The bound id.
    pub id: Path,
    /// The id as `l5d-dst-client` carries it.
    pub id_header: Option<HeaderValue>,
    /// How it balances, ejects and pools.
    pub settings: ClientSettings,
    /// Its metrics.
    pub stats: Arc<ClientStats>,
    set: Mutex<EndpointSet>,
}

impl Client {
    /// A client for `id` whose endpoints follow `addr`.
    pub fn new(
        id: Path,
        addr: Var<Addr>,
        settings: ClientSettings,
        stats: Arc<ClientStats>,
    ) -> Client {
        Client {
            id_header: HeaderValue::try_from(id.show()).ok(),
            id,
            settings,
            stats,
            set: Mutex::new(EndpointSet {
                addr,
                built_from: None,
                endpoints: Arc::from(Vec::new()),
            }),
        }
    }

    /// Follows `addr` from now on if it is another source than the one followed (a newer
    /// binding of the same id).
    pub fn follow(&self, addr: &Var<Addr>) {
        let mut set = lock(&self.set);
        if !set.addr.same_source(addr) {
            set.addr = addr.clone();
        }
    }

    /// The current endpoints; empty when the address is not bound or has none.
    pub fn endpoints(&self) -> Arc<[Arc<Endpoint>]> {
        let mut set = lock(&self.set);
        let set = &mut *set;
        let current = match &*set.addr.get() {
            Addr::Bound(addrs, _) => Some(addrs.clone()),
            _ => None,
        };
        let unchanged = match (&current, &set.built_from) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !unchanged {
            self.rebuild(set, current);
        }
        set.endpoints.clone()
    }

    fn rebuild(&self, set: &mut EndpointSet, current: Option<Arc<[Address]>>) {
        let mut old: HashMap<SocketAddr, Arc<Endpoint>> =
            set.endpoints.iter().map(|e| (e.addr, e.clone())).collect();
        let endpoints: Vec<Arc<Endpoint>> = current
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                old.remove(&a.addr).unwrap_or_else(|| {
                    Arc::new(Endpoint::new(
                        a.addr,
                        self.settings.pool.clone(),
                        self.stats.clone(),
                        self.settings.balancer.decay(),
                    ))
                })
            })
            .collect();
        self.stats.size.set(endpoints.len() as f64);
        let available = endpoints.iter().filter(|e| !e.accrual.is_removed()).count();
        self.stats.available.set(available as f64);
        set.endpoints = endpoints.into();
        set.built_from = current;
    }

    /// Records an endpoint's answer with failure accrual.
    pub fn record(&self, endpoint: &Endpoint, success: bool) {
        let policy = &self.settings.accrual;
        let t = if success {
            endpoint.accrual.success(policy)
        } else {
            endpoint.accrual.failure(policy)
        };
        match t {
            Transition::None | Transition::StillDead(_) => {}
            Transition::Removed(wait) => {
                self.stats.removals.incr();
                self.stats.available.decr();
                tracing::info!(
                    "client {}: endpoint {} marked dead for {wait:?}",
                    self.id,
                    endpoint.addr
                );
            }
            Transition::Revived => {
                self.stats.revivals.incr();
                self.stats.available.incr();
                tracing::info!("client {}: endpoint {} revived", self.id, endpoint.addr);
            }
        }
    }

    /// Closes idle connections past their time.
    pub fn sweep(&self, now: Instant) {
        for e in self.endpoints().iter() {
            e.sweep(now);
        }
    }

    /// Linkerd 1's `/client_state.json` entry: `{"state": "bound", "addresses": [...]}`.
    pub fn state_json(&self) -> serde_json::Value {
        let addr = lock(&self.set).addr.sample();
        match addr {
            Addr::Bound(addrs, _) => serde_json::json!({
                "state": "bound",
                "addresses": addrs.iter().map(|a| a.addr.to_string()).collect::<Vec<_>>(),
            }),
            Addr::Neg => serde_json::json!({"state": "Neg"}),
            Addr::Pending => serde_json::json!({"state": "Pending"}),
            Addr::Failed(e) => serde_json::json!({"state": format!("Failed: {e}")}),
        }
    }
}
