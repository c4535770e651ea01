//! The metrics registry: Finagle-style flat metrics, served at `/admin/metrics.json` and,
//! in Prometheus text form, at `/admin/metrics/prometheus`.
//!
//! Components ask a [`Registry`] for a [`Scope`] (`rt/http/server/127.0.0.1/4140`) and take
//! handles from it once: a [`Counter`] (`requests`), a [`Gauge`] (`connections`), a
//! [`Stat`] (`request_latency_ms`). Creating a handle takes the registry's lock; using one
//! never does and never allocates: counters and gauges are one atomic each, and a stat is
//! a fixed array of atomic log-linear buckets (see `histogram.rs` for the layout, the
//! error bound and why it is not `hdrhistogram` behind a mutex). Asking twice for the same
//! name gives handles on the same value.
//!
//! **Stats are interval snapshots**, as in Finagle (`histogramSnapshotInterval`, one
//! minute): counters and gauges are read live, but a stat shows the values recorded over
//! the last interval. [`Registry::snapshot`] rolls the stats when an interval has passed
//! since the last roll (the roll happens on read, so the window reported is the one that
//! ended at that roll; with a scraper polling more often than the interval it is exactly
//! the last interval) and otherwise returns the summaries of the last roll.
//!
//! **Removal**: [`Registry::remove`] drops a scope's metrics from the exported set (linkerd
//! expires idle clients). Handles already taken keep working but are no longer read;
//! asking for the name again registers a fresh value.
//!
//! The `metrics` crate facade lands here too: [`Registry::recorder`] is a
//! `metrics::Recorder`, so `metrics::counter!("rt/http/requests")` counts into the same
//! registry, the name being the full slash-separated path.

mod admin;
mod handles;
mod histogram;
mod json;
mod prometheus;
mod recorder;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use admin::register_admin;
pub use handles::{Counter, Gauge, Stat};
pub use histogram::Summary;
pub use json::{render_json, JsonError};
pub use prometheus::render_prometheus;
pub use recorder::Recorder;

use handles::StatInner;
use histogram::Histogram;

/// Finagle's default `histogramSnapshotInterval`.
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(60);

/// One registered metric.
#[derive(Debug, Clone)]
enum Metric {
    Counter(Counter),
    Gauge(Gauge),
    Stat(Stat),
}

impl Metric {
    fn kind(&self) -> &'static str {
        match self {
            Metric::Counter(_) => "counter",
            Metric::Gauge(_) => "gauge",
            Metric::Stat(_) => "stat",
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// The scope's elements as given (an element may hold `/`, e.g. a client id); the
    /// Prometheus rendering reads labels from them.
    scope: Arc<[String]>,
    name: String,
    metric: Metric,
}

#[derive(Debug)]
struct Inner {
    metrics: Mutex<BTreeMap<String, Entry>>,
    interval: Duration,
    last_roll: Mutex<Instant>,
}

/// All of a process's metrics; cheap to clone (an `Arc` inside).
#[derive(Debug, Clone)]
pub struct Registry(Arc<Inner>);

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

/// A value read from the registry.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter's count.
    Counter(u64),
    /// A gauge's value.
    Gauge(f64),
    /// A stat's summary over the last interval.
    Stat(Summary),
}

/// One metric in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The scope's elements as registered.
    pub scope: Arc<[String]>,
    /// The metric's name within its scope (may hold `/`, e.g. `status/200`).
    pub name: String,
    /// The value.
    pub value: Value,
}

/// Every metric's value at one moment, by flat name (`rt/http/server/.../requests`).
pub type Snapshot = BTreeMap<String, Sample>;

use crate::sync::lock;

impl Registry {
    /// An empty registry with Finagle's one-minute snapshot interval.
    pub fn new() -> Registry {
        Registry::with_interval(DEFAULT_SNAPSHOT_INTERVAL)
    }

    /// An empty registry whose stats roll every `interval` (`Duration::ZERO`: at every
    /// snapshot).
    pub fn with_interval(interval: Duration) -> Registry {
        Registry(Arc::new(Inner {
            metrics: Mutex::new(BTreeMap::new()),
            interval,
            last_roll: Mutex::new(Instant::now()),
        }))
    }

    /// The scope under `elements` (joined with `/` in flat names).
    pub fn scope<I, S>(&self, elements: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Scope {
            registry: self.clone(),
            elements: elements
                .into_iter()
                .map(|s| s.as_ref().to_string())
                .collect(),
        }
    }

    /// Drops every metric whose flat name is `prefix` or starts with `prefix/`.
    pub fn remove(&self, prefix: &str) {
        let prefix = prefix.trim_matches('/');
        let under = format!("{prefix}/");
        lock(&self.0.metrics).retain(|k, _| k != prefix && !k.starts_with(&under));
    }

    /// Rolls every stat now, starting a new interval.
    pub fn roll(&self) {
        *lock(&self.0.last_roll) = Instant::now();
        let stats: Vec<Stat> = lock(&self.0.metrics)
            .values()
            .filter_map(|e| match &e.metric {
                Metric::Stat(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        for s in stats {
            s.roll();
        }
    }

    /// Every metric's value, rolling the stats first if an interval has passed.
    pub fn snapshot(&self) -> Snapshot {
        let due = lock(&self.0.last_roll).elapsed() >= self.0.interval;
        if due {
            self.roll();
        }
        lock(&self.0.metrics)
            .iter()
            .map(|(k, e)| {
                let value = match &e.metric {
                    Metric::Counter(c) => Value::Counter(c.get()),
                    Metric::Gauge(g) => Value::Gauge(g.get()),
                    Metric::Stat(s) => Value::Stat(s.summary()),
                };
                let sample = Sample {
                    scope: e.scope.clone(),
                    name: e.name.clone(),
                    value,
                };
                (k.clone(), sample)
            })
            .collect()
    }

    /// The registered metric at `scope`/`name`, made by `make` if absent. A name already
    /// taken by a metric of another kind gets a detached metric (counted, never shown)
    /// and a warning, rather than a panic.
    fn get_or_insert(
        &self,
        scope: &Arc<[String]>,
        name: &str,
        kind: &'static str,
        make: fn() -> Metric,
    ) -> Metric {
        let mut key = scope.join("/");
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str(name);
        let mut map = lock(&self.0.metrics);
        match map.get(&key) {
            Some(e) if e.metric.kind() == kind => e.metric.clone(),
            Some(_) => {
                tracing::warn!("metric {key} is registered with another kind; not exported");
                make()
            }
            None => {
                let want = make();
                map.insert(
                    key,
                    Entry {
                        scope: scope.clone(),
                        name: name.to_string(),
                        metric: want.clone(),
                    },
                );
                want
            }
        }
    }
}

/// A place in the metrics tree, from which handles are taken.
#[derive(Debug, Clone)]
pub struct Scope {
    registry: Registry,
    elements: Vec<String>,
}

impl Scope {
    /// The scope `elements` below this one.
    pub fn scope<I, S>(&self, elements: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut all = self.elements.clone();
        all.extend(elements.into_iter().map(|s| s.as_ref().to_string()));
        Scope {
            registry: self.registry.clone(),
            elements: all,
        }
    }

    /// The counter `name` in this scope.
    pub fn counter(&self, name: &str) -> Counter {
        let make = || Metric::Counter(Counter(Arc::new(AtomicU64::new(0))));
        match self
            .registry
            .get_or_insert(&self.arc(), name, "counter", make)
        {
            Metric::Counter(c) => c,
            _ => Counter(Arc::new(AtomicU64::new(0))),
        }
    }

    /// The gauge `name` in this scope.
    pub fn gauge(&self, name: &str) -> Gauge {
        let make = || Metric::Gauge(Gauge(Arc::new(AtomicU64::new(0f64.to_bits()))));
        match self
            .registry
            .get_or_insert(&self.arc(), name, "gauge", make)
        {
            Metric::Gauge(g) => g,
            _ => Gauge(Arc::new(AtomicU64::new(0f64.to_bits()))),
        }
    }

    /// The stat `name` in this scope.
    pub fn stat(&self, name: &str) -> Stat {
        match self
            .registry
            .get_or_insert(&self.arc(), name, "stat", new_stat)
        {
            Metric::Stat(s) => s,
            _ => new_stat_handle(),
        }
    }

    fn arc(&self) -> Arc<[String]> {
        self.elements.clone().into()
    }
}

fn new_stat_handle() -> Stat {
    Stat(Arc::new(StatInner {
        hist: Histogram::new(),
        last: Mutex::new(Summary::default()),
    }))
}

fn new_stat() -> Metric {
    Metric::Stat(new_stat_handle())
}
