//! A server's metrics, in Linkerd 1's names under `rt/<router>/server/<ip>/<port>/`:
//! `requests`, `success`, `failures` (5XX answers, linkerd's own errors included, as the
//! default `nonRetryable5XX` classifier counts them), `status/<code>` and `status/<N>XX`,
//! `connections` and `request_latency_ms`. Handles are made once per server, so recording
//! a request costs a few atomic increments and no lookup.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use l5d_core::metrics::{Counter, Gauge, Registry, Scope, Stat};

/// The metrics of one server.
pub struct ServerStats {
    scope: Scope,
    requests: Counter,
    success: Counter,
    failures: Counter,
    /// `status/<code>` for 100..=599, made on first use.
    codes: Vec<OnceLock<Counter>>,
    /// `status/1XX` .. `status/5XX`.
    classes: [Counter; 5],
    /// Open connections.
    pub connections: Gauge,
    latency: Stat,
}

impl ServerStats {
    /// The stats of router `label`'s server on `addr`.
    pub fn new(registry: &Registry, label: &str, addr: SocketAddr) -> ServerStats {
        let scope = registry.scope([
            "rt",
            label,
            "server",
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ]);
        ServerStats {
            requests: scope.counter("requests"),
            success: scope.counter("success"),
            failures: scope.counter("failures"),
            codes: (100..600).map(|_| OnceLock::new()).collect(),
            classes: [1, 2, 3, 4, 5].map(|c| scope.counter(&format!("status/{c}XX"))),
            connections: scope.gauge("connections"),
            latency: scope.stat("request_latency_ms"),
            scope,
        }
    }

    /// Records one answered request, started at `start`.
    pub fn record(&self, status: u16, start: Instant) {
        self.requests.incr();
        if status >= 500 {
            self.failures.incr();
        } else {
            self.success.incr();
        }
        if (100..600).contains(&status) {
            let code = self.codes[usize::from(status - 100)]
                .get_or_init(|| self.scope.counter(&format!("status/{status}")));
            code.incr();
            self.classes[usize::from(status / 100 - 1)].incr();
        }
        self.latency.record(start.elapsed().as_millis() as u64);
    }
}
