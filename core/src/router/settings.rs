//! The settings of each client and service, from `routers[].client` and
//! `routers[].service`: `io.l5d.static` entries apply in order to the names their prefix
//! matches, each overriding what the earlier ones set.
//!
//! Routers make clients and services while they serve, long after the config was read,
//! so the keys they use are copied out of the config into [`Layered`] values they own.

use std::time::Duration;

use crate::accrual::Policy;
use crate::balance::AnyBalancer;
use crate::config::{
    Budget, ClientConfig, ClientParams, FailureAccrual, HostConnectionPool, LoadBalancer,
    PathPattern, ServiceConfig, ServiceParams,
};
use crate::naming::Path;
use crate::retry::RetryBudget;
use crate::router::client::ClientSettings;

/// Finagle's default connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Values taken from each `client` or `service` entry, with the prefix it applies to.
pub struct Layered<T> {
    layers: Vec<(Option<PathPattern>, T)>,
}

impl<T> Layered<T> {
    /// What `take` reads from each entry of `routers[].client`.
    pub fn clients(cfg: &ClientConfig, take: impl Fn(&ClientParams) -> T) -> Layered<T> {
        let layers = match cfg {
            ClientConfig::Global(p) => vec![(None, take(p))],
            ClientConfig::Static(entries) => entries
                .iter()
                .map(|e| (Some(e.prefix.clone()), take(&e.params)))
                .collect(),
        };
        Layered { layers }
    }

    /// What `take` reads from each entry of `routers[].service`.
    pub fn services(cfg: &ServiceConfig, take: impl Fn(&ServiceParams) -> T) -> Layered<T> {
        let layers = match cfg {
            ServiceConfig::Global(p) => vec![(None, take(p))],
            ServiceConfig::Static(entries) => entries
                .iter()
                .map(|e| (Some(e.prefix.clone()), take(&e.params)))
                .collect(),
        };
        Layered { layers }
    }

    /// The entries that apply to `name`, in the order they apply.
    pub fn applying<'a>(&'a self, name: &'a Path) -> impl Iterator<Item = &'a T> + 'a {
        self.layers
            .iter()
            .filter(|(prefix, _)| prefix.as_ref().is_none_or(|p| p.matches(name).is_some()))
            .map(|(_, t)| t)
    }
}

/// The protocol-independent client keys of one `client` entry.
#[derive(Clone, Default)]
pub struct ClientKeys {
    balancer: Option<LoadBalancer>,
    accrual: Option<FailureAccrual>,
    pool: Option<HostConnectionPool>,
    connect_timeout_ms: Option<u64>,
    attempt_timeout_ms: Option<u64>,
    requeue_budget: Option<Budget>,
}

/// What a client of one bound id is set up with.
pub struct ClientSetup {
    /// How it balances and ejects.
    pub settings: ClientSettings,
    /// `hostConnectionPool`.
    pub pool: HostConnectionPool,
    /// `connectTimeoutMs` (Finagle's 1 s by default).
    pub connect_timeout: Duration,
}

impl ClientKeys {
    /// The keys `p` sets.
    pub fn of(p: &ClientParams) -> ClientKeys {
        ClientKeys {
            balancer: p.load_balancer.clone(),
            accrual: p.failure_accrual.clone(),
            pool: p.host_connection_pool.clone(),
            connect_timeout_ms: p.connect_timeout_ms,
            attempt_timeout_ms: p.request_attempt_timeout_ms,
            requeue_budget: p.requeue_budget.clone(),
        }
    }

    /// The setup of the client for `id`: each applying entry's keys override the
    /// earlier ones', and defaults fill what none sets.
    pub fn setup<'a>(layers: impl Iterator<Item = &'a ClientKeys>) -> ClientSetup {
        let mut merged = ClientKeys::default();
        for l in layers {
            fn over<T: Clone>(to: &mut Option<T>, from: &Option<T>) {
                if from.is_some() {
                    to.clone_from(from);
                }
            }
            over(&mut merged.balancer, &l.balancer);
            over(&mut merged.accrual, &l.accrual);
            over(&mut merged.pool, &l.pool);
            over(&mut merged.connect_timeout_ms, &l.connect_timeout_ms);
            over(&mut merged.attempt_timeout_ms, &l.attempt_timeout_ms);
            over(&mut merged.requeue_budget, &l.requeue_budget);
        }
        ClientSetup {
            settings: ClientSettings {
                balancer: AnyBalancer::from_config(&merged.balancer.unwrap_or_default()),
                accrual: Policy::new(&merged.accrual.unwrap_or_default()),
                attempt_timeout: merged.attempt_timeout_ms.map(Duration::from_millis),
                requeue_budget: RetryBudget::new(&merged.requeue_budget.unwrap_or_default()),
            },
            pool: merged.pool.unwrap_or_default(),
            connect_timeout: merged
                .connect_timeout_ms
                .map_or(CONNECT_TIMEOUT, Duration::from_millis),
        }
    }
}
