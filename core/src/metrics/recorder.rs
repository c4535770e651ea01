//! The `metrics` crate facade over a [`Registry`].
//!
//! A metric's name is its full slash-separated path (`rt/http/server/0.0.0.0/4140/requests`),
//! split at `/` into scope elements; the facade's labels, which Finagle metrics do not
//! have, are appended as `<key>/<value>` path elements so nothing is lost. Because the
//! name is split at every `/`, a client id with slashes cannot become one Prometheus
//! label through the facade: code that wants that uses [`Registry::scope`].

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use metrics::{HistogramFn, Key, KeyName, Metadata, SharedString, Unit};

use super::{Registry, StatInner};

/// A `metrics::Recorder` that records into a [`Registry`] (see [`Registry::recorder`]).
#[derive(Debug, Clone)]
pub struct Recorder(Registry);

impl Registry {
    /// A `metrics::Recorder` over this registry; install it with
    /// `metrics::set_global_recorder`.
    pub fn recorder(&self) -> Recorder {
        Recorder(self.clone())
    }

    /// Installs [`Registry::recorder`] as the process's `metrics` recorder; false when one
    /// was installed before (the first one stays).
    pub fn install_global(&self) -> bool {
        metrics::set_global_recorder(self.recorder()).is_ok()
    }
}

impl Recorder {
    /// The scope and metric name for `key`.
    fn split(&self, key: &Key) -> (super::Scope, String) {
        let mut elements: Vec<String> = key
            .name()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for label in key.labels() {
            elements.push(label.key().to_string());
            elements.push(label.value().to_string());
        }
        let name = elements.pop().unwrap_or_default();
        (self.0.scope(elements), name)
    }
}

impl HistogramFn for StatInner {
    fn record(&self, value: f64) {
        // Stats hold whole non-negative numbers (milliseconds, bytes); `as` saturates.
        self.hist.record(value.round().max(0.0) as u64);
    }
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        let (scope, name) = self.split(key);
        let c: Arc<AtomicU64> = scope.counter(&name).0;
        metrics::Counter::from_arc(c)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        // `metrics` implements `GaugeFn` for `AtomicU64` as `f64` bits, our layout too.
        let (scope, name) = self.split(key);
        metrics::Gauge::from_arc(scope.gauge(&name).0)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        let (scope, name) = self.split(key);
        metrics::Histogram::from_arc(scope.stat(&name).0)
    }
}
