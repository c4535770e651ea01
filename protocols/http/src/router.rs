//! The HTTP/1.1 router: name each request, bind the name, balance over the bound
//! endpoints and forward, streaming bodies both ways.
//!
//! Bindings are cached per (request dtab, name) and stay live: a namer update or a dtab
//! change reaches the next request without a restart. A binding is resolved to the clients
//! of its bound ids once per change, not per request; each client balances over its
//! endpoints with its configured balancer, marks failing ones dead (failure accrual) and
//! pools connections per endpoint. A request whose connection cannot be made is requeued
//! to another endpoint of the same client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use l5d_core::balance::{Balancer, Rng};
use l5d_core::binding::{Bound, NameInterpreter};
use l5d_core::config::Retries;
use l5d_core::identifier::{Dst, Identifier};
use l5d_core::metrics::Registry;
use l5d_core::naming::{Dtab, NameTree, Path};
use l5d_core::retry::{Backoffs, RetryBudget};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State};

use crate::classify::{self, Class};
use crate::client::{Client, ClientSettings};
use crate::config::{StatusClassifier, TracePropagator};
use crate::deadline;
use crate::error::{no_route_message, respond, RouteError};
use crate::headers::{
    append_via, call_depth, strip_hop_by_hop, L5D_DST_CLIENT, L5D_DST_RESIDUAL, L5D_DST_SERVICE,
};
use crate::identify::{forward_dtab, HttpIdentifier};
use crate::pool::{ConnectError, Endpoint, PooledBody, ReqBody};
use crate::stats::{scope_name, ClientStats, ServiceStats};

/// A response body: the backend's, streamed, or linkerd's own.
pub type Body = Either<PooledBody, Full<Bytes>>;

/// Bound on cached bindings before the cache is emptied and refilled (Linkerd 1's
/// `bindingCache.paths` default).
const MAX_BINDINGS: usize = 1000;

/// Bound on services and clients kept (Linkerd 1's `bindingCache` defaults); past it,
/// those no binding uses are forgotten with their metrics, so names from requests cannot
/// grow memory without bound.
const MAX_CLIENTS: usize = 1000;

/// Finagle's limit on requeues of one request.
const MAX_REQUEUES: usize = 25;

/// How many pooled connections a request tries when each turns out closed before it
/// could be written; then it is answered as unsent (and retryable).
const MAX_STALE: usize = 3;

/// The most retries of one request, whatever the budget holds.
const MAX_RETRIES: u32 = 25;

/// The router's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// How long a request waits for its name to bind (`bindingTimeoutMs`).
    pub binding_timeout: Duration,
    /// `maxHeadersKB`, in bytes: bounds `l5d-err`.
    pub max_headers: usize,
    /// `maxErrResponseKB`, in bytes: bounds error bodies.
    pub max_err_body: usize,
    /// With `streamingEnabled: false`, messages are buffered whole, up to this many
    /// bytes (Finagle's 5 MiB); `None` streams them.
    pub buffer_limit: Option<usize>,
    /// `tracePropagator`: the headers trace context travels in.
    pub propagator: TracePropagator,
}

/// Makes the settings of the client for a bound id (from `routers[].client`).
pub type ClientSettingsFn = Box<dyn Fn(&Path) -> ClientSettings + Send + Sync>;

/// A service's settings (from `routers[].service`).
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// `totalTimeoutMs`: the most a request may take, retries included, to its response.
    pub total_timeout: Option<Duration>,
    /// `responseClassifier` (the router's default when unset: `nonRetryable5XX`).
    pub classifier: StatusClassifier,
    /// `retries`: the budget and backoff (Linkerd 1's defaults when unset).
    pub retries: Retries,
}

/// Request bodies up to this size are kept so that the request can be retried (Linkerd
/// 1's retry buffer); larger ones stream and are not retried.
const RETRY_BUFFER: usize = 8 << 10;

/// Whether a request's body is known to fit the retry buffer: a `Content-Length` within
/// it, or no body at all (no length and not chunked).
fn fits_retry_buffer(headers: &http::HeaderMap) -> bool {
    match headers.get(http::header::CONTENT_LENGTH) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n <= RETRY_BUFFER),
        None => !headers.contains_key(http::header::TRANSFER_ENCODING),
    }
}

/// A copy of a request head for another attempt (extensions are not carried).
fn copy_head(head: &http::request::Parts) -> http::request::Parts {
    let (mut p, ()) = Request::new(()).into_parts();
    p.method = head.method.clone();
    p.uri = head.uri.clone();
    p.version = head.version;
    p.headers = head.headers.clone();
    p
}

/// Makes the settings of the service for a logical name.
pub type ServiceSettingsFn = Box<dyn Fn(&Path) -> ServiceSettings + Send + Sync>;

/// A leaf of a resolved binding: a client and what the request carries for it.
struct Leaf {
    client: Arc<Client>,
    residual: Option<HeaderValue>,
}

/// A service (a logical name) and its metrics.
struct Service {
    header: Option<HeaderValue>,
    stats: ServiceStats,
    /// `service.totalTimeoutMs`.
    total_timeout: Option<Duration>,
    /// `service.responseClassifier`.
    classifier: StatusClassifier,
    /// `service.retries.budget`.
    budget: RetryBudget,
    /// `service.retries.backoff`.
    backoffs: Backoffs,
}

/// A live binding and its last resolution to clients (none until first resolved).
type BindingState = (Activity<NameTree<Bound>>, Option<Arc<NameTree<Leaf>>>);

/// A cached binding and its last resolution to clients.
struct Binding {
    service: Arc<Service>,
    state: Mutex<BindingState>,
}

#[derive(Default)]
struct Caches {
    /// Bindings of requests without a local dtab, by name.
    plain: HashMap<Path, Arc<Binding>>,
    /// Bindings of requests with one, by (local dtab as text, name).
    local: HashMap<(String, Path), Arc<Binding>>,
    services: HashMap<Path, Arc<Service>>,
    clients: HashMap<Path, Arc<Client>>,
}

/// An HTTP router (one `routers[]` entry of protocol `http`).
pub struct HttpRouter {
    label: String,
    identifier: HttpIdentifier,
    interpreter: Arc<dyn NameInterpreter>,
    limits: Limits,
    caches: Mutex<Caches>,
    client_settings: ClientSettingsFn,
    service_settings: ServiceSettingsFn,
    registry: Registry,
    rng: Rng,
}

/// Reads a whole request body of at most `limit` bytes.
async fn buffer_request(
    parts: &http::request::Parts,
    body: Incoming,
    limit: usize,
) -> Result<Bytes, RouteError> {
    let too_large = || {
        RouteError::TooLarge(format!(
            "request body is larger than {limit} bytes, the most linkerd buffers with streaming disabled"
        ))
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(RouteError::BadRequest(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// Decrements a gauge when the request is done, however it ends.
struct Pending<'a>(&'a l5d_core::metrics::Gauge);

impl<'a> Pending<'a> {
    fn new(g: &'a l5d_core::metrics::Gauge) -> Pending<'a> {
        g.incr();
        Pending(g)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.decr();
    }
}

impl HttpRouter {
    /// A router named `label` that identifies with `identifier`, binds with
    /// `interpreter`, sets up clients with `client_settings` and records into `registry`.
    pub fn new(
        label: String,
        identifier: HttpIdentifier,
        interpreter: Arc<dyn NameInterpreter>,
        limits: Limits,
        client_settings: ClientSettingsFn,
        service_settings: ServiceSettingsFn,
        registry: Registry,
    ) -> HttpRouter {
        HttpRouter {
            label,
            identifier,
            interpreter,
            limits,
            caches: Mutex::new(Caches::default()),
            client_settings,
            service_settings,
            registry,
            rng: Rng::from_entropy(),
        }
    }

    /// The router's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The router's random source.
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    /// Routes one request; every failure becomes linkerd's error response.
    pub async fn route(&self, req: Request<Incoming>, max_call_depth: usize) -> Response<Body> {
        match self.forward(req, max_call_depth).await {
            Ok(rsp) => rsp,
            Err(e) => self.error(&e),
        }
    }

    /// linkerd's own answer for `e`.
    pub fn error(&self, e: &RouteError) -> Response<Body> {
        respond(e, self.limits.max_headers, self.limits.max_err_body)
            .map(|b| Either::Right(Full::new(b)))
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        max_call_depth: usize,
    ) -> Result<Response<Body>, RouteError> {
        let start = Instant::now();
        let (mut parts, body) = req.into_parts();
        if call_depth(&parts.headers) > max_call_depth {
            return Err(RouteError::CallDepth(max_call_depth));
        }
        let dst = self
            .identifier
            .identify(&mut parts)
            .map_err(|e| RouteError::BadRequest(e.0))?;
        let binding = self.binding(&dst);
        let service = &binding.service;
        let _pending = Pending::new(&service.stats.pending);
        // The request's deadline: the strictest of the one it came with and the
        // service's total timeout; the next hop is told it.
        let incoming = deadline::take(&mut parts.headers);
        let total = service.total_timeout.map(deadline::after);
        let limit = match (incoming, total) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(d) = limit {
            deadline::set(&mut parts.headers, d);
        }
        let attempts = self.attempts(&dst, &binding, parts, body, start);
        let result = match limit {
            None => attempts.await,
            Some(d) => match tokio::time::timeout(deadline::remaining(d), attempts).await {
                Ok(result) => result,
                Err(_) => {
                    service.stats.timeout();
                    Err(RouteError::Timeout(match (total, service.total_timeout) {
                        (Some(t), Some(ms)) if Some(t) == limit => format!(
                            "exceeded {}ms (totalTimeoutMs) to {} while waiting for a response",
                            ms.as_millis(),
                            dst.path
                        ),
                        _ => format!(
                            "exceeded the request's deadline (l5d-ctx-deadline) to {} while waiting for a response",
                            dst.path
                        ),
                    }))
                }
            },
        };
        let (status, success) = match &result {
            Ok((rsp, class)) => (rsp.status(), class.is_success()),
            Err(e) => (e.status(), false),
        };
        service
            .stats
            .requests
            .record(status.as_u16(), success, start.elapsed());
        result.map(|(mut rsp, class)| {
            classify::mark(rsp.headers_mut(), class);
            rsp
        })
    }

    /// Sends the request, and again while the classifier calls the failure retryable,
    /// the body can be sent again and the service's retry budget allows.
    async fn attempts(
        &self,
        dst: &Dst,
        binding: &Binding,
        parts: http::request::Parts,
        body: Incoming,
        start: Instant,
    ) -> Result<(Response<Body>, Class), RouteError> {
        let service = &binding.service;
        service.budget.deposit();
        // Bodies are buffered whole when streaming is off, and when small enough to be
        // sent again; larger ones stream and their requests are never retried.
        // Bodies are buffered whole when streaming is off, and when the classifier may
        // retry the request and the body is small enough to be sent again; otherwise they
        // stream and the request is sent once.
        let may_retry = classify::may_retry(service.classifier, &parts.method);
        let buffer = match self.limits.buffer_limit {
            Some(limit) => Some(limit),
            None => (may_retry && fits_retry_buffer(&parts.headers)).then_some(RETRY_BUFFER),
        };
        let (mut first, replay) = match buffer {
            None => (Some((parts, Either::Left(body))), None),
            Some(limit) => {
                // Buffered before a connection is taken, so a refused body costs none.
                let bytes = Box::pin(buffer_request(&parts, body, limit)).await?;
                if may_retry {
                    (None, Some((parts, bytes)))
                } else {
                    (Some((parts, Either::Right(Full::new(bytes)))), None)
                }
            }
        };
        let mut retries = 0u32;
        loop {
            let (p, b) = match (&replay, first.take()) {
                (Some((head, bytes)), _) => {
                    (copy_head(head), Either::Right(Full::new(bytes.clone())))
                }
                (None, Some(first)) => first,
                (None, None) => unreachable!("a streamed request is sent once"),
            };
            let method = p.method.clone();
            let result = self.dispatch(dst, binding, p, b, start).await;
            let class = match &result {
                Ok(rsp) => {
                    classify::classify(service.classifier, &method, rsp.status(), rsp.headers())
                }
                Err(e) => classify::classify_error(service.classifier, &method, e),
            };
            // A request every endpoint refused has been requeued already; retrying it
            // would only spend the budget on the same refusals.
            let requeued = matches!(result, Err(RouteError::Refused(_)));
            if let Class::Failure { retryable: true } = class {
                if replay.is_some() && !requeued && retries < MAX_RETRIES {
                    if service.budget.try_withdraw() {
                        service.stats.retried();
                        tokio::time::sleep(service.backoffs.wait(retries)).await;
                        retries += 1;
                        continue;
                    }
                    service.stats.budget_exhausted();
                }
            }
            service.stats.retries_per_request(retries);
            return result.map(|rsp| (rsp, class));
        }
    }

    async fn dispatch(
        &self,
        dst: &Dst,
        binding: &Binding,
        mut parts: http::request::Parts,
        body: ReqBody,
        start: Instant,
    ) -> Result<Response<Body>, RouteError> {
        let tree = self.resolve(dst, binding).await?;
        let Some(leaf) = self.pick(&tree) else {
            return Err(Box::pin(self.no_route(dst)).await);
        };
        let client = &leaf.client;
        let (endpoint, mut conn) = self.connect(dst, client).await?;

        let version = parts.version;
        strip_hop_by_hop(&mut parts.headers);
        append_via(&mut parts.headers, version);
        let headers = &mut parts.headers;
        if let Some(v) = &binding.service.header {
            headers.insert(L5D_DST_SERVICE, v.clone());
        }
        if let Some(v) = &client.id_header {
            headers.insert(L5D_DST_CLIENT, v.clone());
        }
        match &leaf.residual {
            Some(v) => headers.insert(L5D_DST_RESIDUAL, v.clone()),
            None => headers.remove(L5D_DST_RESIDUAL),
        };
        forward_dtab(headers, &dst.local_dtab).map_err(RouteError::BadRequest)?;
        match self.limits.propagator {
            TracePropagator::Linkerd => crate::trace::forward(headers, &self.rng),
            TracePropagator::Zipkin => crate::trace::forward_b3(headers, &self.rng),
        }
        if !headers.contains_key(HOST) {
            // An HTTP/1.0 request may come without a Host; it leaves as HTTP/1.1, which
            // requires one.
            headers.insert(HOST, endpoint.host.clone());
        }
        parts.version = Version::HTTP_11;

        let stats = &client.stats;
        let _pending = Pending::new(&stats.pending);
        let load = endpoint.load.start();
        let method = parts.method.clone();
        let mut req = Request::from_parts(parts, body);
        // A pooled connection the backend closed while it idled fails before the
        // request is written; hyper hands the request back, and it goes on another.
        let send = async {
            let mut attempts = 0;
            loop {
                match conn.sender().try_send_request(req).await {
                    Ok(rsp) => break Ok(rsp),
                    Err(mut e) => match e.take_message() {
                        Some(unsent) if attempts < MAX_STALE => {
                            attempts += 1;
                            req = unsent;
                            conn = match endpoint.connection().await {
                                Ok(c) => c,
                                Err(e) => break Err((e.to_string(), true)),
                            };
                        }
                        Some(_) => break Err((e.into_error().to_string(), true)),
                        None => break Err((e.into_error().to_string(), false)),
                    },
                }
            }
        };
        let sent = match client.settings.attempt_timeout {
            None => send.await,
            Some(t) => match tokio::time::timeout(t, send).await {
                Ok(sent) => sent,
                Err(_) => {
                    drop(load);
                    stats.attempt_timed_out();
                    stats.requests.record_failure(start.elapsed());
                    client.record(&endpoint, false);
                    return Err(RouteError::Timeout(format!(
                        "exceeded {}ms (requestAttemptTimeoutMs) to {} ({}) while waiting for a response",
                        t.as_millis(),
                        client.id,
                        endpoint.addr
                    )));
                }
            },
        };
        let rsp = match sent {
            Ok(rsp) => rsp,
            Err((e, unsent)) => {
                drop(load);
                stats.channel_closed();
                stats.requests.record_failure(start.elapsed());
                client.record(&endpoint, false);
                let message = format!("{} ({}): {e}", client.id, endpoint.addr);
                return Err(if unsent {
                    RouteError::Unsent(message)
                } else {
                    RouteError::Backend(message)
                });
            }
        };
        load.finish();
        let status = rsp.status();
        let class = classify::classify(binding.service.classifier, &method, status, rsp.headers());
        stats
            .requests
            .record(status.as_u16(), class.is_success(), start.elapsed());
        client.record(&endpoint, class.is_success());

        let (mut rparts, rbody) = rsp.into_parts();
        strip_hop_by_hop(&mut rparts.headers);
        append_via(&mut rparts.headers, rparts.version);
        // As Linkerd 1 does, the hop's own version is recorded in Via; the client is
        // answered in HTTP/1.1 so its connection can stay open.
        rparts.version = Version::HTTP_11;
        let body = conn.body(rbody);
        let body = match self.limits.buffer_limit {
            None => Either::Left(body),
            Some(limit) => {
                let bytes = Box::pin(http_body_util::Limited::new(body, limit).collect())
                    .await
                    .map_err(|e| {
                        RouteError::Backend(format!(
                            "{} ({}): response body: {e} (more than {limit} bytes are not buffered)",
                            client.id, endpoint.addr
                        ))
                    })?
                    .to_bytes();
                Either::Right(Full::new(bytes))
            }
        };
        Ok(Response::from_parts(rparts, body))
    }

    /// An endpoint of `client` and a connection to it; a connection that cannot be made
    /// counts against the endpoint and the request goes to another one.
    async fn connect(
        &self,
        dst: &Dst,
        client: &Client,
    ) -> Result<(Arc<Endpoint>, crate::pool::Conn), RouteError> {
        let mut requeues = 0;
        client.settings.requeue_budget.deposit();
        // Endpoints this request could not connect to: a requeue goes elsewhere while
        // another endpoint is left (allocated only once a connect has failed).
        let mut failed: Vec<std::net::SocketAddr> = Vec::new();
        loop {
            let endpoints = client.endpoints();
            if endpoints.is_empty() {
                return Err(RouteError::NoEndpoints(format!(
                    "Unable to route request!\n\nservice name: {}\nno endpoints are available for {}\n",
                    dst.path, client.id
                )));
            }
            // With every endpoint marked dead, one is tried anyway (as Finagle's
            // balancers do): a dead endpoint may have come back.
            let mut i = client
                .settings
                .balancer
                .pick(&endpoints)
                .unwrap_or_else(|| self.rng.below(endpoints.len()));
            if failed.contains(&endpoints[i].addr) {
                let untried = |e: &Arc<Endpoint>| !failed.contains(&e.addr);
                i = endpoints
                    .iter()
                    .position(|e| untried(e) && e.accrual.is_available())
                    .or_else(|| endpoints.iter().position(untried))
                    .unwrap_or(i);
            }
            let endpoint = endpoints[i].clone();
            match endpoint.connection().await {
                Ok(conn) => return Ok((endpoint, conn)),
                Err(ConnectError::Overloaded) => {
                    return Err(RouteError::Overloaded(format!(
                        "{} ({}): too many requests waiting for a connection",
                        client.id, endpoint.addr
                    )))
                }
                Err(e) => {
                    client.record(&endpoint, false);
                    failed.push(endpoint.addr);
                    let exhausted = requeues >= MAX_REQUEUES.min(endpoints.len().saturating_mul(2));
                    if exhausted || !client.settings.requeue_budget.try_withdraw() {
                        if !exhausted {
                            client.stats.requeue_budget_exhausted();
                        }
                        return Err(RouteError::Refused(format!(
                            "{} ({}): {e}",
                            client.id, endpoint.addr
                        )));
                    }
                    requeues += 1;
                    client.stats.requeues.incr();
                }
            }
        }
    }

    /// The cached binding for `dst`, made on first use.
    fn binding(&self, dst: &Dst) -> Arc<Binding> {
        let mut caches = lock(&self.caches);
        let found = if dst.local_dtab.is_empty() {
            caches.plain.get(&dst.path).cloned()
        } else {
            caches
                .local
                .get(&(dst.local_dtab.show(), dst.path.clone()))
                .cloned()
        };
        if let Some(b) = found {
            return b;
        }
        if caches.plain.len() + caches.local.len() >= MAX_BINDINGS {
            caches.plain.clear();
            caches.local.clear();
        }
        let service = self.service(&mut caches, &dst.path);
        let binding = Arc::new(Binding {
            service,
            state: Mutex::new((self.interpreter.bind(&dst.dtab(), &dst.path), None)),
        });
        if dst.local_dtab.is_empty() {
            caches.plain.insert(dst.path.clone(), binding.clone());
        } else {
            caches
                .local
                .insert((dst.local_dtab.show(), dst.path.clone()), binding.clone());
        }
        binding
    }

    fn service(&self, caches: &mut Caches, name: &Path) -> Arc<Service> {
        if let Some(s) = caches.services.get(name) {
            return s.clone();
        }
        self.evict_unused(&mut caches.services, "service");
        let settings = (self.service_settings)(name);
        let s = Arc::new(Service {
            header: HeaderValue::try_from(name.show()).ok(),
            stats: ServiceStats::new(&self.registry, &self.label, name),
            total_timeout: settings.total_timeout,
            classifier: settings.classifier,
            budget: RetryBudget::new(&settings.retries.budget),
            backoffs: Backoffs::new(&settings.retries.backoff),
        });
        caches.services.insert(name.clone(), s.clone());
        s
    }

    /// Once `cache` is full, forgets the entries no binding uses any more, with their
    /// metrics (`rt/<label>/<kind>/<name>`).
    fn evict_unused<T>(&self, cache: &mut HashMap<Path, Arc<T>>, kind: &str) {
        if cache.len() < MAX_CLIENTS {
            return;
        }
        cache.retain(|name, entry| {
            let keep = Arc::strong_count(entry) > 1;
            if !keep {
                let scope = format!("rt/{}/{kind}/{}", self.label, scope_name(name));
                self.registry.remove(&scope);
            }
            keep
        });
    }

    fn client(&self, bound: &Bound) -> Arc<Client> {
        let mut caches = lock(&self.caches);
        if let Some(c) = caches.clients.get(&bound.id) {
            c.follow(&bound.addr);
            return c.clone();
        }
        self.evict_unused(&mut caches.clients, "client");
        let stats = Arc::new(ClientStats::new(&self.registry, &self.label, &bound.id));
        let c = Arc::new(Client::new(
            bound.id.clone(),
            bound.addr.clone(),
            (self.client_settings)(&bound.id),
            stats,
        ));
        caches.clients.insert(bound.id.clone(), c.clone());
        c
    }

    /// The binding's current tree of clients, once it is not pending.
    async fn resolve(
        &self,
        dst: &Dst,
        binding: &Binding,
    ) -> Result<Arc<NameTree<Leaf>>, RouteError> {
        let deadline = tokio::time::Instant::now() + self.limits.binding_timeout;
        loop {
            let mut waiting = {
                let mut state = lock(&binding.state);
                let (act, resolved) = &mut *state;
                if !act.has_changed() {
                    if let Some(tree) = resolved {
                        return Ok(tree.clone());
                    }
                }
                let current = act.get_and_mark_seen().clone();
                match current {
                    State::Ok(tree) => {
                        let tree = Arc::new(tree.map(&mut |b: Bound| Leaf {
                            client: self.client(&b),
                            residual: if b.residual.is_empty() {
                                None
                            } else {
                                HeaderValue::try_from(b.residual.show()).ok()
                            },
                        }));
                        *resolved = Some(tree.clone());
                        return Ok(tree);
                    }
                    State::Failed(e) => {
                        return Err(RouteError::NoRoute(format!(
                            "binding {} failed: {e}",
                            dst.path
                        )))
                    }
                    State::Pending => act.clone(),
                }
            };
            match tokio::time::timeout_at(deadline, waiting.changed()).await {
                Ok(true) => {}
                _ => {
                    return Err(RouteError::Timeout(format!(
                        "binding {} timed out after {:?}",
                        dst.path, self.limits.binding_timeout
                    )))
                }
            }
        }
    }

    /// One leaf of a resolved tree: unions split traffic by weight, alternatives take
    /// their first routable branch (binding has already dropped the negative ones).
    fn pick<'t>(&self, tree: &'t NameTree<Leaf>) -> Option<&'t Leaf> {
        match tree {
            NameTree::Leaf(l) => Some(l),
            NameTree::Union(ws) => {
                let total: f64 = ws.iter().map(|w| w.weight.max(0.0)).sum();
                let mut x = self.rng.unit() * total;
                for w in ws {
                    x -= w.weight.max(0.0);
                    if x < 0.0 {
                        return self.pick(&w.tree);
                    }
                }
                ws.last().and_then(|w| self.pick(&w.tree))
            }
            NameTree::Alt(ts) => ts.iter().find_map(|t| self.pick(t)),
            NameTree::Neg | NameTree::Fail | NameTree::Empty => None,
        }
    }

    /// Linkerd 1's report for a name that bound to nothing routable.
    async fn no_route(&self, dst: &Dst) -> RouteError {
        let resolutions = match self.interpreter.delegator() {
            Some(d) => match d
                .delegate(&dst.dtab(), &dst.path, Duration::from_millis(500))
                .await
            {
                Ok(tree) => tree.resolutions(),
                Err(e) => vec![format!("unknown ({e})")],
            },
            None => vec!["unknown".into()],
        };
        RouteError::NoRoute(no_route_message(dst, &Dtab::empty(), &resolutions))
    }

    /// Closes pooled connections idle past their clients' `idleTimeMs`.
    pub fn sweep(&self) {
        let clients: Vec<Arc<Client>> = lock(&self.caches).clients.values().cloned().collect();
        let now = Instant::now();
        for c in clients {
            c.sweep(now);
        }
    }

    /// Each client's state, by bound id, as `/client_state.json` shows it.
    pub fn client_state(&self) -> Vec<(String, serde_json::Value)> {
        let clients: Vec<Arc<Client>> = lock(&self.caches).clients.values().cloned().collect();
        clients
            .iter()
            .map(|c| (c.id.show(), c.state_json()))
            .collect()
    }
}
