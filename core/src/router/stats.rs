//! A router's metrics, in Linkerd 1's names, whatever its protocol:
//!
//! * `rt/<router>/server/<ip>/<port>/`: `requests`, `success`, `failures`,
//!   `request_latency_ms` (and for HTTP `status/<code>`, `status/<N>XX`), `connections`,
//!   `rejected` (`maxConcurrentRequests`);
//! * `rt/<router>/service/<name>/` (the logical name, `svc/users`): the same request
//!   counters and latency, `pending`, and
//!   `failures/com.twitter.finagle.GlobalRequestTimeoutException` for timeouts;
//! * `rt/<router>/client/<id>/` (the bound id, `#/io.l5d.fs/users`): the same, plus
//!   `connects`, `connections`, `connect_latency_ms`, `failures/<exception>`,
//!   `loadbalancer/size`, `loadbalancer/available`, `retries/requeues`,
//!   `failures/com.twitter.finagle.IndividualRequestTimeoutException` and
//!   `failure_accrual/removals`, `failure_accrual/revivals`.
//!
//! Whether a request succeeded is the protocol's call (for HTTP, its response
//! classifier's; for Thrift, whether a reply came). Handles are made once per server,
//! service and client, so recording a request costs a few atomic increments and no lookup.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use crate::metrics::{Counter, Gauge, Registry, Scope, Stat};
use crate::naming::Path;

/// Request counters and latency, as every server, service and client has them.
pub struct RequestStats {
    scope: Scope,
    requests: Counter,
    success: Counter,
    failures: Counter,
    /// `status/<code>` for 100..=599 and `status/1XX` .. `status/5XX`, made on first
    /// use (only HTTP routers have them).
    statuses: OnceLock<Statuses>,
    latency: Stat,
}

struct Statuses {
    codes: Box<[OnceLock<Counter>]>,
    classes: [OnceLock<Counter>; 5],
}

impl RequestStats {
    fn new(scope: Scope) -> RequestStats {
        RequestStats {
            requests: scope.counter("requests"),
            success: scope.counter("success"),
            failures: scope.counter("failures"),
            statuses: OnceLock::new(),
            latency: scope.stat("request_latency_ms"),
            scope,
        }
    }

    /// Records one answered request that took `elapsed`, a success or a failure as the
    /// protocol decided.
    pub fn record(&self, success: bool, elapsed: Duration) {
        self.requests.incr();
        if success {
            self.success.incr();
        } else {
            self.failures.incr();
        }
        self.latency.record(elapsed.as_millis() as u64);
    }

    /// Records one HTTP request answered with `status`, as [`RequestStats::record`]
    /// does, and counts its status code and class.
    pub fn record_status(&self, status: u16, success: bool, elapsed: Duration) {
        self.record(success, elapsed);
        if (100..600).contains(&status) {
            let s = self.statuses.get_or_init(|| Statuses {
                codes: (100..600).map(|_| OnceLock::new()).collect(),
                classes: Default::default(),
            });
            s.codes[usize::from(status - 100)]
                .get_or_init(|| self.scope.counter(&format!("status/{status}")))
                .incr();
            let class = usize::from(status / 100 - 1);
            s.classes[class]
                .get_or_init(|| self.scope.counter(&format!("status/{}XX", class + 1)))
                .incr();
        }
    }

    /// Records one request that failed without a response (a connection failure).
    pub fn record_failure(&self, elapsed: Duration) {
        self.record(false, elapsed);
    }

    /// The scope the counters live in.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

/// The metrics of one server.
pub struct ServerStats {
    /// Requests answered.
    pub requests: RequestStats,
    /// Open connections.
    pub connections: Gauge,
    /// Requests refused by `maxConcurrentRequests`.
    pub rejected: Counter,
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
            connections: scope.gauge("connections"),
            rejected: scope.counter(REJECTED),
            requests: RequestStats::new(scope),
        }
    }
}

/// A path as one metric scope element: its text without the leading `/`.
pub fn scope_name(path: &Path) -> String {
    let shown = path.show();
    match shown.strip_prefix('/') {
        Some(rest) => rest.to_string(),
        None => shown,
    }
}

/// The metrics of one service (a logical name).
pub struct ServiceStats {
    /// Requests answered.
    pub requests: RequestStats,
    /// Requests in flight.
    pub pending: Gauge,
    timeouts: Counter,
    retries: Counter,
    budget_exhausted: Counter,
    per_request: Stat,
}

impl ServiceStats {
    /// The stats of service `name` of router `label`.
    pub fn new(registry: &Registry, label: &str, name: &Path) -> ServiceStats {
        let scope = registry.scope(["rt", label, "service", &scope_name(name)]);
        ServiceStats {
            pending: scope.gauge("pending"),
            timeouts: scope.counter(TOTAL_TIMEOUT),
            retries: scope.counter("retries/total"),
            budget_exhausted: scope.counter("retries/budget_exhausted"),
            per_request: scope.stat("retries/per_request"),
            requests: RequestStats::new(scope),
        }
    }

    /// Counts a retry.
    pub fn retried(&self) {
        self.retries.incr();
    }

    /// Counts a retryable failure the budget had no retry left for.
    pub fn budget_exhausted(&self) {
        self.budget_exhausted.incr();
    }

    /// Records how many retries a request took.
    pub fn retries_per_request(&self, n: u32) {
        self.per_request.record(u64::from(n));
    }

    /// Counts a request that ran out of time (`totalTimeoutMs` or its deadline).
    pub fn timeout(&self) {
        self.timeouts.incr();
    }
}

/// Requests refused by admission control (our name; they also count as `status/503`).
const REJECTED: &str = "rejected";

/// Finagle's name for a request that exceeded its total timeout.
const TOTAL_TIMEOUT: &str = "failures/com.twitter.finagle.GlobalRequestTimeoutException";
/// Finagle's name for an attempt that exceeded `requestAttemptTimeoutMs`.
const ATTEMPT_TIMEOUT: &str = "failures/com.twitter.finagle.IndividualRequestTimeoutException";

/// The metrics of one client (a bound id).
pub struct ClientStats {
    /// Requests answered by the client's endpoints.
    pub requests: RequestStats,
    /// Requests in flight.
    pub pending: Gauge,
    /// Connections opened.
    pub connects: Counter,
    /// Connections open.
    pub connections: Gauge,
    /// Time to connect.
    pub connect_latency: Stat,
    /// Requests sent again because a connection could not be made.
    pub requeues: Counter,
    /// Endpoints marked dead by failure accrual.
    pub removals: Counter,
    /// Endpoints revived after a successful probe.
    pub revivals: Counter,
    /// Endpoints in the set.
    pub size: Gauge,
    /// Endpoints not marked dead.
    pub available: Gauge,
    connect_failures: Counter,
    timeouts: Counter,
    closed: Counter,
    attempt_timeouts: Counter,
    requeue_budget_exhausted: Counter,
}

/// Finagle's exception names, kept so that dashboards built for Linkerd 1 keep working.
const CONNECTION_FAILED: &str = "failures/com.twitter.finagle.ConnectionFailedException";
const CONNECT_TIMEOUT: &str = "failures/com.twitter.finagle.ConnectionFailedException/com.twitter.finagle.ConnectTimeoutException";
const CHANNEL_CLOSED: &str = "failures/com.twitter.finagle.ChannelClosedException";

impl ClientStats {
    /// The stats of client `id` of router `label`.
    pub fn new(registry: &Registry, label: &str, id: &Path) -> ClientStats {
        let scope = registry.scope(["rt", label, "client", &scope_name(id)]);
        ClientStats {
            pending: scope.gauge("pending"),
            connects: scope.counter("connects"),
            connections: scope.gauge("connections"),
            connect_latency: scope.stat("connect_latency_ms"),
            requeues: scope.counter("retries/requeues"),
            removals: scope.counter("failure_accrual/removals"),
            revivals: scope.counter("failure_accrual/revivals"),
            size: scope.gauge("loadbalancer/size"),
            available: scope.gauge("loadbalancer/available"),
            connect_failures: scope.counter(CONNECTION_FAILED),
            timeouts: scope.counter(CONNECT_TIMEOUT),
            closed: scope.counter(CHANNEL_CLOSED),
            attempt_timeouts: scope.counter(ATTEMPT_TIMEOUT),
            requeue_budget_exhausted: scope.counter("retries/budget_exhausted"),
            requests: RequestStats::new(scope),
        }
    }

    /// Counts a connection that could not be made (`timed_out` when it took too long).
    pub fn connect_failed(&self, timed_out: bool) {
        if timed_out {
            self.timeouts.incr();
        } else {
            self.connect_failures.incr();
        }
    }

    /// Counts a failed connect the requeue budget could not send elsewhere.
    pub fn requeue_budget_exhausted(&self) {
        self.requeue_budget_exhausted.incr();
    }

    /// Counts an attempt that exceeded `requestAttemptTimeoutMs`.
    pub fn attempt_timed_out(&self) {
        self.attempt_timeouts.incr();
    }

    /// Counts a request whose connection broke before the response arrived.
    pub fn channel_closed(&self) {
        self.closed.incr();
    }
}
