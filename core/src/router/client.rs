//! A client: what requests bound to one id (`/#/io.l5d.fs/users`) are sent through — its
//! live endpoint set, its load balancer, its failure accrual policy and its metrics —
//! whatever the protocol its endpoints speak.
//!
//! The endpoint set follows the bound name's address: when service discovery changes it,
//! endpoints still present keep their load, accrual state and pooled connections, new ones
//! are added and removed ones are dropped from the set, while requests already sent to them
//! finish on the connections they hold.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::accrual::{Accrual, Policy, Transition};
use crate::addr::{Addr, Address, ENDPOINT_WEIGHT_META_KEY};
use crate::balance::{AnyBalancer, Balancer, Load, Rng};
use crate::naming::Path;
use crate::retry::RetryBudget;
use crate::router::stats::ClientStats;
use crate::sync::lock;
use crate::var::Var;

/// Finagle's limit on requeues of one request.
const MAX_REQUEUES: usize = 25;

/// How long a request waits for an address that is still pending (Linkerd 1's default
/// `bindingTimeoutMs`); the service's own timeouts apply too.
const PENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One endpoint of a client, as the protocol implements it (its connections, its pool).
pub trait Endpoint: Load + Send + Sync + 'static {
    /// Where it is.
    fn addr(&self) -> SocketAddr;

    /// Its failure accrual state.
    fn accrual(&self) -> &Accrual;

    /// Closes connections idle past their time.
    fn sweep(&self, _now: Instant) {}
}

/// Makes the endpoint at an address, given the client's stats and the balancer's decay.
pub type NewEndpoint<E> = Box<dyn Fn(SocketAddr, &Arc<ClientStats>, Duration) -> E + Send + Sync>;

/// How a client balances and ejects (the protocol-independent part of `routers[].client`).
pub struct ClientSettings {
    /// The load balancer.
    pub balancer: AnyBalancer,
    /// The failure accrual policy.
    pub accrual: Policy,
    /// `requestAttemptTimeoutMs`: the most one attempt may take to its response.
    pub attempt_timeout: Option<Duration>,
    /// `requeueBudget`: how many requests may be sent again after a failed connect.
    pub requeue_budget: RetryBudget,
}

/// Why no connection to an endpoint could be had, as the protocol reports it.
#[derive(Debug)]
pub enum ConnectFailure {
    /// The endpoint has as many connections and waiters as it may.
    Overloaded,
    /// The connect failed (refused, timed out, a failed handshake): the request may go
    /// to another endpoint.
    Failed(String),
}

/// Why a request found no endpoint to go to.
#[derive(Debug)]
pub enum Unroutable {
    /// The bound address has no endpoints.
    NoEndpoints(String),
    /// The chosen endpoint is overloaded.
    Overloaded(String),
    /// Every endpoint tried refused the connection; the request was never sent.
    Refused(String),
}

struct EndpointSet<E> {
    /// The address the set was last built from.
    addr: Var<Addr>,
    /// The address list the endpoints were built from (compared by pointer: a new list
    /// from service discovery is a new allocation).
    built_from: Option<Arc<[Address]>>,
    endpoints: Arc<[Arc<E>]>,
    /// The authority the address set names (its `authority` metadata: Consul's
    /// `setHost`), for protocols that carry one.
    authority: Option<Arc<str>>,
}

/// The client of one bound id.
pub struct Client<E> {
    /// The bound id.
    pub id: Path,
    /// How it balances and ejects.
    pub settings: ClientSettings,
    /// Its metrics.
    pub stats: Arc<ClientStats>,
    set: Mutex<EndpointSet<E>>,
    new_endpoint: NewEndpoint<E>,
}

impl<E: Endpoint> Client<E> {
    /// A client for `id` whose endpoints follow `addr`, each made by `new_endpoint`.
    pub fn new(
        id: Path,
        addr: Var<Addr>,
        settings: ClientSettings,
        stats: Arc<ClientStats>,
        new_endpoint: NewEndpoint<E>,
    ) -> Client<E> {
        Client {
            id,
            settings,
            stats,
            set: Mutex::new(EndpointSet {
                addr,
                built_from: None,
                endpoints: Arc::from(Vec::new()),
                authority: None,
            }),
            new_endpoint,
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
    pub fn endpoints(&self) -> Arc<[Arc<E>]> {
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
            set.authority = match &*set.addr.get() {
                Addr::Bound(_, meta) => meta
                    .get("authority")
                    .and_then(|v| v.as_str())
                    .map(Arc::from),
                _ => None,
            };
            self.rebuild(set, current);
        }
        set.endpoints.clone()
    }

    /// The authority requests to these endpoints should name, if their discovery gave
    /// one (Consul's `setHost`).
    pub fn authority(&self) -> Option<Arc<str>> {
        lock(&self.set).authority.clone()
    }

    fn rebuild(&self, set: &mut EndpointSet<E>, current: Option<Arc<[Address]>>) {
        let mut old: HashMap<SocketAddr, Arc<E>> = set
            .endpoints
            .iter()
            .map(|e| (e.addr(), e.clone()))
            .collect();
        let decay = self.settings.balancer.decay();
        let endpoints: Vec<Arc<E>> = current
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                let e = old
                    .remove(&a.addr)
                    .unwrap_or_else(|| Arc::new((self.new_endpoint)(a.addr, &self.stats, decay)));
                // Discovery may weigh endpoints (`endpoint_addr_weight`: Consul's
                // `weights`, ...); balancers divide load by it.
                let weight = a
                    .meta
                    .get(ENDPOINT_WEIGHT_META_KEY)
                    .and_then(|w| w.as_f64())
                    .unwrap_or(1.0);
                e.load().set_weight(weight);
                e
            })
            .collect();
        self.stats.size.set(endpoints.len() as f64);
        let available = endpoints
            .iter()
            .filter(|e| !e.accrual().is_removed())
            .count();
        self.stats.available.set(available as f64);
        set.endpoints = endpoints.into();
        set.built_from = current;
    }

    /// Records an endpoint's answer with failure accrual.
    pub fn record(&self, endpoint: &E, success: bool) {
        let policy = &self.settings.accrual;
        let t = if success {
            endpoint.accrual().success(policy)
        } else {
            endpoint.accrual().failure(policy)
        };
        match t {
            Transition::None | Transition::StillDead(_) => {}
            Transition::Removed(wait) => {
                self.stats.removals.incr();
                self.stats.available.decr();
                tracing::info!(
                    "client {}: endpoint {} marked dead for {wait:?}",
                    self.id,
                    endpoint.addr()
                );
            }
            Transition::Revived => {
                self.stats.revivals.incr();
                self.stats.available.incr();
                tracing::info!("client {}: endpoint {} revived", self.id, endpoint.addr());
            }
        }
    }

    /// An endpoint for a request to `name` and what `connect` made of it; a connection
    /// that cannot be made counts against its endpoint and the request goes to another
    /// one, within the requeue budget.
    pub async fn connect<C, F, Fut>(
        &self,
        name: &Path,
        rng: &Rng,
        mut connect: F,
    ) -> Result<(Arc<E>, C), Unroutable>
    where
        F: FnMut(Arc<E>) -> Fut,
        Fut: Future<Output = Result<C, ConnectFailure>>,
    {
        let mut requeues = 0;
        self.settings.requeue_budget.deposit();
        // Endpoints this request could not connect to: a requeue goes elsewhere while
        // another endpoint is left (allocated only once a connect has failed).
        let mut failed: Vec<SocketAddr> = Vec::new();
        loop {
            let endpoints = self.endpoints();
            if endpoints.is_empty() {
                // An address not known yet (a remote namer's first answer on its way):
                // the request waits for it rather than failing.
                let mut addr = lock(&self.set).addr.clone();
                if matches!(&*addr.get_and_mark_seen(), Addr::Pending)
                    && matches!(
                        tokio::time::timeout(PENDING_WAIT, addr.changed()).await,
                        Ok(true)
                    )
                {
                    continue;
                }
                return Err(Unroutable::NoEndpoints(format!(
                    "Unable to route request!\n\nservice name: {name}\nno endpoints are available for {}\n",
                    self.id
                )));
            }
            // With every endpoint marked dead, one is tried anyway (as Finagle's
            // balancers do): a dead endpoint may have come back.
            let mut i = self
                .settings
                .balancer
                .pick(&endpoints)
                .unwrap_or_else(|| rng.below(endpoints.len()));
            if failed.contains(&endpoints[i].addr()) {
                let untried = |e: &Arc<E>| !failed.contains(&e.addr());
                i = endpoints
                    .iter()
                    .position(|e| untried(e) && e.accrual().is_available())
                    .or_else(|| endpoints.iter().position(untried))
                    .unwrap_or(i);
            }
            let endpoint = endpoints[i].clone();
            match connect(endpoint.clone()).await {
                Ok(conn) => return Ok((endpoint, conn)),
                Err(ConnectFailure::Overloaded) => {
                    return Err(Unroutable::Overloaded(format!(
                        "{} ({}): too many requests waiting for a connection",
                        self.id,
                        endpoint.addr()
                    )))
                }
                Err(ConnectFailure::Failed(e)) => {
                    self.record(&endpoint, false);
                    failed.push(endpoint.addr());
                    let exhausted = requeues >= MAX_REQUEUES.min(endpoints.len().saturating_mul(2));
                    if exhausted || !self.settings.requeue_budget.try_withdraw() {
                        if !exhausted {
                            self.stats.requeue_budget_exhausted();
                        }
                        return Err(Unroutable::Refused(format!(
                            "{} ({}): {e}",
                            self.id,
                            endpoint.addr()
                        )));
                    }
                    requeues += 1;
                    self.stats.requeues.incr();
                }
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
