//! The HTTP/1.1 router: name each request, bind the name, balance over the bound
//! endpoints and forward, streaming bodies both ways.
//!
//! Bindings are cached per (request dtab, name) and stay live: a namer update or a dtab
//! change reaches the next request without a restart. A binding is resolved to the clients
//! of its bound ids once per change, not per request; each client balances over its
//! endpoints with its configured balancer, marks failing ones dead (failure accrual) and
//! pools connections per endpoint. A request whose connection cannot be made is requeued
//! to another endpoint of the same client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, HOST};
use http::{Request, Response, Version};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use l5d_core::balance::Rng;
use l5d_core::binding::{Bound, NameInterpreter};
use l5d_core::config::Retries;
use l5d_core::identifier::{Dst, Identifier};
use l5d_core::metrics::Registry;
use l5d_core::naming::{Dtab, Path};
use l5d_core::retry::{Backoffs, RetryBudget};
use l5d_core::router::settings::ClientSetup;
use l5d_core::router::stats::{ClientStats, ServiceStats};
use l5d_core::router::{
    pick, BindError, Bindings, Client, ConnectFailure, Factories, Pending, Unroutable,
};

use crate::classify::{self, Class};
use crate::config::{StatusClassifier, TracePropagator};
use crate::deadline;
use crate::error::{no_route_message, respond, RouteError};
use crate::headers::{
    append_via, call_depth, strip_hop_by_hop, L5D_DST_CLIENT, L5D_DST_RESIDUAL, L5D_DST_SERVICE,
};
use crate::identify::{forward_dtab, HttpIdentifier};
use crate::pool::{Endpoint, PoolSettings, PooledBody, ReqBody};

/// A response body: the backend's, streamed, or linkerd's own.
pub type Body = Either<PooledBody, Full<Bytes>>;

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
    /// Bindings unused this long are forgotten (`bindingCache.idleTtlSecs`).
    pub binding_idle_ttl: Duration,
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

/// Makes the setup of the client for a bound id (from `routers[].client`).
pub type ClientSettingsFn = Box<dyn Fn(&Path) -> ClientSetup + Send + Sync>;

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
    client: Arc<Client<Endpoint>>,
    /// The bound id, as `l5d-dst-client` carries it.
    id_header: Option<HeaderValue>,
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

/// An HTTP router (one `routers[]` entry of protocol `http`).
pub struct HttpRouter {
    label: String,
    identifier: HttpIdentifier,
    limits: Limits,
    bindings: Bindings<Service, Leaf, Endpoint>,
    rng: Rng,
}

/// A cached binding of this router.
type Binding = l5d_core::router::Binding<Service, Leaf>;

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
        let make = Factories {
            service: {
                let (registry, label) = (registry.clone(), label.clone());
                Box::new(move |name: &Path| {
                    let settings = service_settings(name);
                    Service {
                        header: HeaderValue::try_from(name.show()).ok(),
                        stats: ServiceStats::new(&registry, &label, name),
                        total_timeout: settings.total_timeout,
                        classifier: settings.classifier,
                        budget: RetryBudget::new(&settings.retries.budget),
                        backoffs: Backoffs::new(&settings.retries.backoff),
                    }
                })
            },
            client: {
                let (registry, label) = (registry.clone(), label.clone());
                Box::new(move |b: &Bound| {
                    let setup = client_settings(&b.id);
                    let stats = Arc::new(ClientStats::new(&registry, &label, &b.id));
                    let pool = Arc::new(PoolSettings::new(&setup.pool, setup.connect_timeout));
                    Client::new(
                        b.id.clone(),
                        b.addr.clone(),
                        setup.settings,
                        stats,
                        Box::new(move |addr, stats, decay| {
                            Endpoint::new(addr, pool.clone(), stats.clone(), decay)
                        }),
                    )
                })
            },
            leaf: Box::new(|b: &Bound, client: Arc<Client<Endpoint>>| Leaf {
                id_header: HeaderValue::try_from(client.id.show()).ok(),
                client,
                residual: if b.residual.is_empty() {
                    None
                } else {
                    HeaderValue::try_from(b.residual.show()).ok()
                },
            }),
        };
        let binding_timeout = limits.binding_timeout;
        HttpRouter {
            bindings: Bindings::new(&label, interpreter, registry, binding_timeout, make)
                .with_idle_ttl(limits.binding_idle_ttl),
            label,
            identifier,
            limits,
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
        let binding = self.bindings.binding(&dst);
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
            .record_status(status.as_u16(), success, start.elapsed());
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
        let tree = self
            .bindings
            .resolve(dst, binding)
            .await
            .map_err(|e| match e {
                BindError::Failed(e) => RouteError::NoRoute(e),
                BindError::TimedOut(e) => RouteError::Timeout(e),
            })?;
        let Some(leaf) = pick(&tree, &self.rng) else {
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
        if let Some(v) = &leaf.id_header {
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
        if let Some(authority) = client.authority() {
            // Discovery named the service's authority (Consul's setHost): requests say it.
            if let Ok(v) = HeaderValue::try_from(&*authority) {
                headers.insert(HOST, v);
            }
        } else if !headers.contains_key(HOST) {
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
            .record_status(status.as_u16(), class.is_success(), start.elapsed());
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
        client: &Client<Endpoint>,
    ) -> Result<(Arc<Endpoint>, crate::pool::Conn), RouteError> {
        let connect = |e: Arc<Endpoint>| async move {
            e.connection().await.map_err(|e| match e {
                crate::pool::ConnectError::Overloaded => ConnectFailure::Overloaded,
                e => ConnectFailure::Failed(e.to_string()),
            })
        };
        client
            .connect(&dst.path, &self.rng, connect)
            .await
            .map_err(|e| match e {
                Unroutable::NoEndpoints(m) => RouteError::NoEndpoints(m),
                Unroutable::Overloaded(m) => RouteError::Overloaded(m),
                Unroutable::Refused(m) => RouteError::Refused(m),
            })
    }

    /// Linkerd 1's report for a name that bound to nothing routable.
    async fn no_route(&self, dst: &Dst) -> RouteError {
        let resolutions = self.bindings.resolutions(dst).await;
        RouteError::NoRoute(no_route_message(dst, &Dtab::empty(), &resolutions))
    }

    /// Closes pooled connections idle past their clients' `idleTimeMs`.
    pub fn sweep(&self) {
        self.bindings.sweep();
    }

    /// Each client's state, by bound id, as `/client_state.json` shows it.
    pub fn client_state(&self) -> Vec<(String, serde_json::Value)> {
        self.bindings.client_state()
    }
}
