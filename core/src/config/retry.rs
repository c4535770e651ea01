//! Backoffs and retry budgets, shared by `service.retries`, `client.requeueBudget` and
//! `client.failureAccrual`.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::de::decode;
use super::error::ConfigError;
use super::keypath::KeyPath;
use super::kind::{mapping, partition};
use super::registry::{Family, Variant};
use super::slot::{closed, Cx};

/// A backoff schedule: `{kind: constant, ms}` or `{kind: jittered, minMs, maxMs}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Backoff {
    /// The same wait every time.
    Constant(ConstantBackoff),
    /// Decorrelated jitter between two bounds.
    Jittered(JitteredBackoff),
}

/// `kind: constant`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConstantBackoff {
    /// The wait in milliseconds (default 0).
    #[serde(default)]
    pub ms: u64,
}

/// `kind: jittered`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JitteredBackoff {
    /// The shortest wait in milliseconds.
    pub min_ms: u64,
    /// The longest wait in milliseconds.
    pub max_ms: u64,
}

/// Decodes through serde, for plugin structs that hold a backoff (`io.l5d.consul`'s).
impl<'de> serde::Deserialize<'de> for Backoff {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Backoff, D::Error> {
        let v = Value::deserialize(d)?;
        super::kind::decode_kind(v, backoffs()).map_err(serde::de::Error::custom)
    }
}

impl Backoff {
    /// No wait: the default for retries.
    pub fn none() -> Backoff {
        Backoff::Constant(ConstantBackoff { ms: 0 })
    }
}

fn backoffs() -> &'static Family<Backoff> {
    static FAMILY: OnceLock<Family<Backoff>> = OnceLock::new();
    FAMILY.get_or_init(|| {
        let mut f = Family::new("backoff");
        let _ = f.add(
            "constant",
            Variant::new::<ConstantBackoff>(false, |b| Ok(Backoff::Constant(b))),
        );
        let _ = f.add(
            "jittered",
            Variant::new::<JitteredBackoff>(false, |b| {
                if b.min_ms > b.max_ms {
                    return Err(format!(
                        "minMs ({}) must not exceed maxMs ({})",
                        b.min_ms, b.max_ms
                    ));
                }
                Ok(Backoff::Jittered(b))
            }),
        );
        f
    })
}

/// Decodes the backoff at `path`.
pub(crate) fn backoff(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<Backoff, ConfigError> {
    closed(cx, backoffs(), value, path, None, &[]).map(|(b, _)| b)
}

fn ten() -> u32 {
    10
}
fn ten_secs() -> u64 {
    10
}
fn one_fifth() -> f64 {
    0.2
}

/// A retry budget (Finagle's `RetryBudget`): `minRetriesPerSec` plus `percentCanRetry` of
/// the requests of the last `ttlSecs`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Budget {
    /// Retries always allowed per second (default 10).
    #[serde(default = "ten")]
    pub min_retries_per_sec: u32,
    /// The fraction of requests that may be retried, 0 to 1000 (default 0.2).
    #[serde(default = "one_fifth")]
    pub percent_can_retry: f64,
    /// The window requests are counted over, in seconds (default 10).
    #[serde(default = "ten_secs")]
    pub ttl_secs: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            min_retries_per_sec: ten(),
            percent_can_retry: one_fifth(),
            ttl_secs: ten_secs(),
        }
    }
}

/// Decodes a budget, checking Finagle's bound on `percentCanRetry`.
pub(crate) fn budget(value: Value, path: &KeyPath) -> Result<Budget, ConfigError> {
    let b: Budget = decode(value, path, None)?;
    if !(0.0..=1000.0).contains(&b.percent_can_retry) {
        return Err(ConfigError::new(
            path.key("percentCanRetry"),
            format!(
                "percentCanRetry must be between 0 and 1000, found {}",
                b.percent_can_retry
            ),
        ));
    }
    Ok(b)
}

/// `service.retries`.
#[derive(Debug, Clone, PartialEq)]
pub struct Retries {
    /// The retry budget (default 10/s plus 20%, over 10 s).
    pub budget: Budget,
    /// The wait between retries (default none).
    pub backoff: Backoff,
}

impl Default for Retries {
    /// Linkerd 1's: the default budget, no wait between retries.
    fn default() -> Retries {
        Retries {
            budget: Budget::default(),
            backoff: Backoff::none(),
        }
    }
}

pub(crate) fn retries(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<Retries, ConfigError> {
    let map = mapping(value, path)?;
    let mut parts = partition(
        map,
        path,
        "retries",
        None,
        &[Some(&["budget", "backoff"])],
        &mut cx.warnings,
    )?
    .into_iter();
    let mut map = parts.next().unwrap_or_default();
    let budget = match map.shift_remove("budget") {
        Some(v) => budget(v, &path.key("budget"))?,
        None => Budget::default(),
    };
    let backoff = match map.shift_remove("backoff") {
        Some(v) => backoff(cx, v, &path.key("backoff"))?,
        None => Backoff::none(),
    };
    Ok(Retries { budget, backoff })
}
