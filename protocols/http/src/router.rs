//! The HTTP/1.1 router: name each request, bind the name, balance over the bound
//! endpoints and forward, streaming bodies both ways.
//!
//! Bindings are cached per (request dtab, name) and stay live: a namer update or a dtab
//! change reaches the next request without a restart. Endpoints are chosen with `p2c` over
//! the requests each one has outstanding. Connections to endpoints are pooled and kept
//! alive by hyper's client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri, Version};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use l5d_core::addr::Addr;
use l5d_core::balance::{Balancer, Load, P2c, Rng};
use l5d_core::binding::{Bound, NameInterpreter};
use l5d_core::identifier::{Dst, Identifier};
use l5d_core::naming::{Dtab, NameTree, Path};
use l5d_core::var::{Activity, State};

use crate::error::{no_route_message, respond, RouteError};
use crate::headers::{append_via, call_depth, set_dst, strip_hop_by_hop};
use crate::identify::{forward_dtab, HttpIdentifier};

/// A response body: the backend's, streamed, or linkerd's own.
pub type Body = Either<Incoming, Full<Bytes>>;

/// Bound on cached bindings before the cache is emptied and refilled (Linkerd 1's
/// `bindingCache.paths` default).
const MAX_BINDINGS: usize = 1000;

/// Bound on remembered endpoints; past it, endpoints with no request in flight are
/// forgotten (their load is zero anyway), so churn in service discovery cannot grow it.
const MAX_ENDPOINTS: usize = 4096;

/// Live bindings by (request dtab as text, name).
type Bindings = HashMap<(String, Path), Activity<NameTree<Bound>>>;

/// The router's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// How long a request waits for its name to bind (`bindingTimeoutMs`).
    pub binding_timeout: Duration,
    /// `maxHeadersKB`, in bytes: bounds `l5d-err`.
    pub max_headers: usize,
    /// `maxErrResponseKB`, in bytes: bounds error bodies.
    pub max_err_body: usize,
}

/// One endpoint and the requests it has outstanding.
struct Endpoint {
    addr: SocketAddr,
    outstanding: AtomicUsize,
}

impl Load for Endpoint {
    fn load(&self) -> f64 {
        self.outstanding.load(Ordering::Relaxed) as f64
    }
}

/// Decrements an endpoint's outstanding count when the request is done, however it ends.
struct InFlight(Arc<Endpoint>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An HTTP router (one `routers[]` entry of protocol `http`).
pub struct HttpRouter {
    label: String,
    identifier: HttpIdentifier,
    interpreter: Arc<dyn NameInterpreter>,
    limits: Limits,
    bindings: Mutex<Bindings>,
    endpoints: Mutex<HashMap<SocketAddr, Arc<Endpoint>>>,
    balancer: P2c,
    rng: Rng,
    client: Client<HttpConnector, Incoming>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl HttpRouter {
    /// A router named `label` that identifies with `identifier` and binds with `interpreter`.
    pub fn new(
        label: String,
        identifier: HttpIdentifier,
        interpreter: Arc<dyn NameInterpreter>,
        limits: Limits,
    ) -> HttpRouter {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        HttpRouter {
            label,
            identifier,
            interpreter,
            limits,
            bindings: Mutex::new(HashMap::new()),
            endpoints: Mutex::new(HashMap::new()),
            balancer: P2c::new(Rng::from_entropy()),
            rng: Rng::from_entropy(),
            client,
        }
    }

    /// The router's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Routes one request; every failure becomes linkerd's error response.
    pub async fn route(&self, req: Request<Incoming>, max_call_depth: usize) -> Response<Body> {
        match self.forward(req, max_call_depth).await {
            Ok(rsp) => rsp,
            Err(e) => respond(&e, self.limits.max_headers, self.limits.max_err_body)
                .map(|b| Either::Right(Full::new(b))),
        }
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        max_call_depth: usize,
    ) -> Result<Response<Body>, RouteError> {
        let (mut parts, body) = req.into_parts();
        if call_depth(&parts.headers) > max_call_depth {
            return Err(RouteError::CallDepth(max_call_depth));
        }
        let dst = self
            .identifier
            .identify(&mut parts)
            .map_err(|e| RouteError::BadRequest(e.0))?;
        let tree = self.bind(&dst).await?;
        let Some(bound) = self.pick(&tree) else {
            return Err(self.no_route(&dst).await);
        };
        let endpoint = self.endpoint(&bound).ok_or_else(|| {
            RouteError::NoRoute(format!(
                "Unable to route request!\n\nservice name: {}\nno endpoints are available for {}\n",
                dst.path, bound.id
            ))
        })?;

        let version = parts.version;
        strip_hop_by_hop(&mut parts.headers);
        append_via(&mut parts.headers, version);
        set_dst(&mut parts.headers, &dst.path, &bound.id, &bound.residual);
        forward_dtab(&mut parts.headers, &dst.local_dtab).map_err(RouteError::BadRequest)?;
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = Uri::try_from(format!("http://{}{path}", endpoint.addr))
            .map_err(|e| RouteError::BadRequest(format!("invalid request target: {e}")))?;
        parts.version = Version::HTTP_11;

        endpoint.outstanding.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(endpoint.clone());
        let rsp = self
            .client
            .request(Request::from_parts(parts, body))
            .await
            .map_err(|e| RouteError::Backend(format!("{} ({}): {e}", bound.id, endpoint.addr)))?;
        let (mut rparts, rbody) = rsp.into_parts();
        strip_hop_by_hop(&mut rparts.headers);
        append_via(&mut rparts.headers, rparts.version);
        // As Linkerd 1 does, the hop's own version is recorded in Via; the client is
        // answered in HTTP/1.1 so its connection can stay open.
        rparts.version = Version::HTTP_11;
        Ok(Response::from_parts(rparts, Either::Left(rbody)))
    }

    /// The live binding for `dst`, once it is not pending.
    async fn bind(&self, dst: &Dst) -> Result<NameTree<Bound>, RouteError> {
        let key = (dst.local_dtab.show(), dst.path.clone());
        let mut var = {
            let mut bindings = lock(&self.bindings);
            if let Some(v) = bindings.get(&key) {
                v.clone()
            } else {
                if bindings.len() >= MAX_BINDINGS {
                    bindings.clear();
                }
                let v = self.interpreter.bind(&dst.dtab(), &dst.path);
                bindings.insert(key, v.clone());
                v
            }
        };
        let deadline = tokio::time::Instant::now() + self.limits.binding_timeout;
        loop {
            let state = var.get_and_mark_seen().clone();
            match state {
                State::Ok(tree) => return Ok(tree),
                State::Failed(e) => {
                    return Err(RouteError::NoRoute(format!(
                        "binding {} failed: {e}",
                        dst.path
                    )))
                }
                State::Pending => match tokio::time::timeout_at(deadline, var.changed()).await {
                    Ok(true) => {}
                    _ => {
                        return Err(RouteError::Timeout(format!(
                            "binding {} timed out after {:?}",
                            dst.path, self.limits.binding_timeout
                        )))
                    }
                },
            }
        }
    }

    /// One leaf of a bound tree: unions split traffic by weight.
    fn pick(&self, tree: &NameTree<Bound>) -> Option<Bound> {
        match tree {
            NameTree::Leaf(b) => Some(b.clone()),
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

    /// Chooses an endpoint of `bound` by p2c over outstanding requests.
    fn endpoint(&self, bound: &Bound) -> Option<Arc<Endpoint>> {
        let Addr::Bound(addrs, _) = bound.addr_now() else {
            return None;
        };
        if addrs.is_empty() {
            return None;
        }
        let candidates: Vec<Arc<Endpoint>> = {
            let mut eps = lock(&self.endpoints);
            if eps.len() > MAX_ENDPOINTS {
                eps.retain(|_, e| Arc::strong_count(e) > 1);
            }
            addrs
                .iter()
                .map(|a| {
                    eps.entry(a.addr)
                        .or_insert_with(|| {
                            Arc::new(Endpoint {
                                addr: a.addr,
                                outstanding: AtomicUsize::new(0),
                            })
                        })
                        .clone()
                })
                .collect()
        };
        self.balancer
            .pick(&candidates)
            .map(|i| candidates[i].clone())
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
}
