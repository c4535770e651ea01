//! Load balancers and failure accrual (`client.loadBalancer`, `client.failureAccrual`):
//! closed sets of kinds, decoded with the same dispatch as plugins so that errors keep
//! their paths and lines.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::error::ConfigError;
use super::keypath::KeyPath;
use super::registry::{Family, Variant};
use super::retry::{backoff, Backoff, JitteredBackoff};
use super::slot::{closed, Cx};

fn five() -> u32 {
    5
}
fn ten_secs_ms() -> u64 {
    10_000
}
fn five_secs_ms() -> u64 {
    5_000
}
fn half() -> f64 {
    0.5
}
fn two() -> f64 {
    2.0
}
fn one() -> u32 {
    1
}

/// `loadBalancer: {kind: p2c}`: power of two choices over least loaded.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct P2c {
    /// Picks tried before giving up on finding a live endpoint (default 5).
    #[serde(default = "five")]
    pub max_effort: u32,
    /// Keep failed endpoints out until they are probed successfully (default false).
    #[serde(default)]
    pub enable_probation: bool,
}

/// `loadBalancer: {kind: ewma}`: power of two choices over peak EWMA latency.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Ewma {
    /// Picks tried before giving up (default 5).
    #[serde(default = "five")]
    pub max_effort: u32,
    /// The EWMA decay time in milliseconds (default 10000).
    #[serde(default = "ten_secs_ms")]
    pub decay_time_ms: u64,
    /// Probation for failed endpoints (default false).
    #[serde(default)]
    pub enable_probation: bool,
}

/// `loadBalancer: {kind: aperture}`: a window of endpoints sized by load.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Aperture {
    /// Picks tried before giving up (default 5).
    #[serde(default = "five")]
    pub max_effort: u32,
    /// The load smoothing window in milliseconds (default 5000).
    #[serde(default = "five_secs_ms")]
    pub smooth_window_ms: u64,
    /// Shrink the window below this load (default 0.5).
    #[serde(default = "half")]
    pub low_load: f64,
    /// Grow the window above this load (default 2).
    #[serde(default = "two")]
    pub high_load: f64,
    /// The smallest window (default 1).
    #[serde(default = "one")]
    pub min_aperture: u32,
    /// Probation for failed endpoints (default false).
    #[serde(default)]
    pub enable_probation: bool,
}

/// `loadBalancer: {kind: heap}`: least loaded by a heap.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Heap {
    /// Probation for failed endpoints (default false).
    #[serde(default)]
    pub enable_probation: bool,
}

/// `loadBalancer: {kind: roundRobin}`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoundRobin {
    /// Picks tried before giving up (default 5).
    #[serde(default = "five")]
    pub max_effort: u32,
    /// Probation for failed endpoints (default false).
    #[serde(default)]
    pub enable_probation: bool,
}

/// A load balancer (`client.loadBalancer`); the default is `p2c`.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadBalancer {
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

impl Default for LoadBalancer {
    fn default() -> LoadBalancer {
        LoadBalancer::P2c(P2c {
            max_effort: five(),
            enable_probation: false,
        })
    }
}

fn balancers() -> &'static Family<LoadBalancer> {
    static FAMILY: OnceLock<Family<LoadBalancer>> = OnceLock::new();
    FAMILY.get_or_init(|| {
        let mut f = Family::new("load balancer");
        let _ = f.add(
            "p2c",
            Variant::new::<P2c>(false, |c| Ok(LoadBalancer::P2c(c))),
        );
        let _ = f.add(
            "ewma",
            Variant::new::<Ewma>(false, |c| Ok(LoadBalancer::Ewma(c))),
        );
        let _ = f.add(
            "aperture",
            Variant::new::<Aperture>(false, |c| Ok(LoadBalancer::Aperture(c))),
        );
        let _ = f.add(
            "heap",
            Variant::new::<Heap>(false, |c| Ok(LoadBalancer::Heap(c))),
        );
        let _ = f.add(
            "roundRobin",
            Variant::new::<RoundRobin>(false, |c| Ok(LoadBalancer::RoundRobin(c))),
        );
        f
    })
}

/// `io.l5d.consecutiveFailures`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConsecutiveFailures {
    /// Failures in a row that mark an endpoint dead.
    pub failures: u32,
}

/// `io.l5d.successRate`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuccessRate {
    /// The success rate (0 to 1) below which an endpoint is marked dead.
    pub success_rate: f64,
    /// The number of requests the rate is computed over.
    pub requests: u32,
}

/// `io.l5d.successRateWindowed`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuccessRateWindowed {
    /// The success rate (0 to 1) below which an endpoint is marked dead.
    pub success_rate: f64,
    /// The window the rate is computed over, in seconds.
    pub window: u64,
}

/// `kind: none`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NoAccrual {}

/// When an endpoint is marked dead.
#[derive(Debug, Clone, PartialEq)]
pub enum AccrualPolicy {
    /// `io.l5d.consecutiveFailures`.
    ConsecutiveFailures(ConsecutiveFailures),
    /// `io.l5d.successRate`.
    SuccessRate(SuccessRate),
    /// `io.l5d.successRateWindowed`.
    SuccessRateWindowed(SuccessRateWindowed),
    /// `none`: never.
    None,
}

/// `client.failureAccrual`: the policy and how long a dead endpoint is left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureAccrual {
    /// When an endpoint is marked dead.
    pub policy: AccrualPolicy,
    /// How long it stays dead.
    pub backoff: Backoff,
}

impl Default for FailureAccrual {
    /// Five consecutive failures, then an equal-jittered 5 s to 300 s.
    fn default() -> FailureAccrual {
        FailureAccrual {
            policy: AccrualPolicy::ConsecutiveFailures(ConsecutiveFailures { failures: 5 }),
            backoff: default_accrual_backoff(),
        }
    }
}

fn default_accrual_backoff() -> Backoff {
    Backoff::Jittered(JitteredBackoff {
        min_ms: 5_000,
        max_ms: 300_000,
    })
}

fn check_rate(rate: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("successRate must be between 0 and 1, found {rate}"))
    }
}

fn accruals() -> &'static Family<AccrualPolicy> {
    static FAMILY: OnceLock<Family<AccrualPolicy>> = OnceLock::new();
    FAMILY.get_or_init(|| {
        let mut f = Family::new("failure accrual");
        let _ = f.add(
            "io.l5d.consecutiveFailures",
            Variant::new::<ConsecutiveFailures>(false, |c| {
                Ok(AccrualPolicy::ConsecutiveFailures(c))
            }),
        );
        let _ = f.add(
            "io.l5d.successRate",
            Variant::new::<SuccessRate>(false, |c| {
                check_rate(c.success_rate)?;
                Ok(AccrualPolicy::SuccessRate(c))
            }),
        );
        let _ = f.add(
            "io.l5d.successRateWindowed",
            Variant::new::<SuccessRateWindowed>(false, |c| {
                check_rate(c.success_rate)?;
                Ok(AccrualPolicy::SuccessRateWindowed(c))
            }),
        );
        let _ = f.add(
            "none",
            Variant::new::<NoAccrual>(false, |_| Ok(AccrualPolicy::None)),
        );
        f
    })
}

/// Decodes the load balancer at `path`.
pub(crate) fn load_balancer(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<LoadBalancer, ConfigError> {
    closed(cx, balancers(), value, path, None, &[]).map(|(b, _)| b)
}

/// Decodes the failure accrual policy at `path`.
pub(crate) fn failure_accrual(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<FailureAccrual, ConfigError> {
    let (policy, mut extra) = closed(cx, accruals(), value, path, None, &["backoff"])?;
    let backoff = match extra.shift_remove("backoff") {
        Some(v) => backoff(cx, v, &path.key("backoff"))?,
        None => default_accrual_backoff(),
    };
    Ok(FailureAccrual { policy, backoff })
}
