//! The Thrift router: name each call (`dstPrefix`, then the TTwitter `dest`, then the
//! method or the multiplexed service), bind the name through the router's dtab and the
//! call's TTwitter delegations, balance over the bound endpoints and forward the call,
//! unchanged, on a pooled connection; its reply comes back unchanged too.
//!
//! A call that cannot be routed, or whose backend fails, is answered with a
//! `TApplicationException` carrying the call's method name and seqid, so the client's
//! connection stays usable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use l5d_core::balance::Rng;
use l5d_core::binding::{Bound, NameInterpreter};
use l5d_core::identifier::Dst;
use l5d_core::metrics::Registry;
use l5d_core::naming::{Dentry, Dtab, Path};
use l5d_core::router::settings::ClientSetup;
use l5d_core::router::stats::{ClientStats, ServiceStats};
use l5d_core::router::{pick, BindError, Bindings, Client, Factories, Pending, Unroutable};

use crate::codec::{Header, MessageType};
use crate::endpoint::{CallError, ConnSettings, Endpoint};
use crate::ttwitter::{self, RequestHeader};

/// Makes the setup of the client for a bound id: the core's and the Thrift keys.
pub type ClientSetupFn = Box<dyn Fn(&Path) -> (ClientSetup, ThriftClientKeys) + Send + Sync>;

/// Makes the total timeout of the service for a logical name.
pub type ServiceTimeoutFn = Box<dyn Fn(&Path) -> Option<Duration> + Send + Sync>;

/// The Thrift client keys of a bound id.
#[derive(Debug, Clone, Copy)]
pub struct ThriftClientKeys {
    /// `thriftFramed`.
    pub framed: bool,
    /// `attemptTTwitterUpgrade`.
    pub attempt_upgrade: bool,
}

/// How the router names and binds calls, and what it writes itself.
#[derive(Debug, Clone)]
pub struct Naming {
    /// `bindingTimeoutMs`.
    pub binding_timeout: Duration,
    /// `bindingCache.idleTtlSecs`.
    pub binding_idle_ttl: Duration,
    /// `thriftProtocol`: how linkerd writes the TTwitter upgrade to backends.
    pub encoding: crate::codec::Encoding,
    /// `dstPrefix`.
    pub dst_prefix: Path,
    /// The router's `dtab`.
    pub dtab: Dtab,
    /// `thriftMethodInDst`.
    pub method_in_dst: bool,
}

/// One call as the server read it.
pub struct Call {
    /// Its message header.
    pub header: Header,
    /// The whole message (header and args), as the client wrote it.
    pub message: Bytes,
    /// The TTwitter request header, on an upgraded connection.
    pub ttwitter: Option<RequestHeader>,
    /// Dtab entries the call carries otherwise (a ThriftMux dispatch's dtab), applied
    /// after the TTwitter delegations.
    pub local_dtab: Dtab,
}

/// What a Thrift server hands its calls to.
pub trait CallRouter: Send + Sync + 'static {
    /// The router's label (for logs).
    fn label(&self) -> &str;

    /// The reply to one call (none for a oneway call), or why there is none.
    fn route(
        &self,
        call: &Call,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, RouteError>> + Send;
}

impl CallRouter for ThriftRouter {
    fn label(&self) -> &str {
        &self.label
    }

    fn route(
        &self,
        call: &Call,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, RouteError>> + Send {
        ThriftRouter::route(self, call)
    }
}

/// Why a call got no reply from a backend.
#[derive(Debug)]
pub struct RouteError(pub String);

/// A service (a logical name).
pub struct Service {
    stats: ServiceStats,
    total_timeout: Option<Duration>,
}

/// A Thrift router (one `routers[]` entry of protocol `thrift`).
pub struct ThriftRouter {
    label: String,
    naming: Naming,
    bindings: Bindings<Service, Arc<Client<Endpoint>>, Endpoint>,
    rng: Rng,
}

impl ThriftRouter {
    /// A router named `label`, binding with `interpreter`, with metrics in `registry`.
    pub fn new(
        label: String,
        naming: Naming,
        interpreter: Arc<dyn NameInterpreter>,
        client_setup: ClientSetupFn,
        service_timeout: ServiceTimeoutFn,
        registry: Registry,
    ) -> ThriftRouter {
        let make = Factories {
            service: {
                let (registry, label) = (registry.clone(), label.clone());
                Box::new(move |name: &Path| Service {
                    stats: ServiceStats::new(&registry, &label, name),
                    total_timeout: service_timeout(name),
                })
            },
            client: {
                let (registry, label) = (registry.clone(), label.clone());
                Box::new(move |b: &Bound| {
                    let (setup, keys) = client_setup(&b.id);
                    let stats = Arc::new(ClientStats::new(&registry, &label, &b.id));
                    let conn = Arc::new(ConnSettings::new(
                        keys.framed,
                        keys.attempt_upgrade,
                        naming.encoding,
                        &setup.pool,
                        setup.connect_timeout,
                    ));
                    Client::new(
                        b.id.clone(),
                        b.addr.clone(),
                        setup.settings,
                        stats,
                        Box::new(move |addr, stats, decay| {
                            Endpoint::new(addr, conn.clone(), stats.clone(), decay)
                        }),
                    )
                })
            },
            leaf: Box::new(|_: &Bound, client| client),
        };
        ThriftRouter {
            bindings: Bindings::new(&label, interpreter, registry, naming.binding_timeout, make)
                .with_idle_ttl(naming.binding_idle_ttl),
            label,
            naming,
            rng: Rng::from_entropy(),
        }
    }

    /// The router's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The name of `call`: `dstPrefix ++ dest ++ (/service[/method] | /method)`, with
    /// the TTwitter delegations as its local dtab.
    pub fn identify(&self, call: &Call) -> Result<Dst, RouteError> {
        identify(
            &self.naming.dst_prefix,
            &self.naming.dtab,
            self.naming.method_in_dst,
            call,
        )
    }

    /// Routes one call; the backend's reply (none for a oneway call), or why there is
    /// none.
    pub async fn route(&self, call: &Call) -> Result<Option<Bytes>, RouteError> {
        let start = Instant::now();
        let dst = self.identify(call)?;
        let binding = self.bindings.binding(&dst);
        let service = &binding.service;
        let _pending = Pending::new(&service.stats.pending);
        let forward = self.forward(&dst, &binding, call, start);
        let result = match service.total_timeout {
            None => forward.await,
            Some(t) => match tokio::time::timeout(t, forward).await {
                Ok(r) => r,
                Err(_) => {
                    service.stats.timeout();
                    Err(RouteError(format!(
                        "exceeded {}ms (totalTimeoutMs) to {} while waiting for a reply",
                        t.as_millis(),
                        dst.path
                    )))
                }
            },
        };
        service
            .stats
            .requests
            .record(result.is_ok(), start.elapsed());
        result
    }

    async fn forward(
        &self,
        dst: &Dst,
        binding: &l5d_core::router::Binding<Service, Arc<Client<Endpoint>>>,
        call: &Call,
        start: Instant,
    ) -> Result<Option<Bytes>, RouteError> {
        let tree = self
            .bindings
            .resolve(dst, binding)
            .await
            .map_err(|e| match e {
                BindError::Failed(e) | BindError::TimedOut(e) => RouteError(e),
            })?;
        let Some(client) = pick(&tree, &self.rng) else {
            let resolutions = self.bindings.resolutions(dst).await;
            return Err(RouteError(format!(
                "no route to {} with dtab {} (it resolves to {})",
                dst.path,
                dst.dtab(),
                resolutions.join(", ")
            )));
        };
        let connect = |e: Arc<Endpoint>| async move { e.connection().await };
        let (endpoint, mut lent) = client
            .connect(&dst.path, &self.rng, connect)
            .await
            .map_err(|e| match e {
                Unroutable::NoEndpoints(m) | Unroutable::Overloaded(m) | Unroutable::Refused(m) => {
                    RouteError(m.trim_end().replace('\n', " "))
                }
            })?;
        let stats = &client.stats;
        let _pending = Pending::new(&stats.pending);
        let load = endpoint.load.start();
        let mut header = BytesMut::new();
        if lent.conn().upgraded {
            ttwitter::write_request_header(
                &self.next_header(call, dst),
                call.header.encoding,
                &mut header,
            );
        }
        let oneway = call.header.kind == MessageType::Oneway;
        let sent = lent.conn().call(&header, &call.message, oneway);
        let result = match client.settings.attempt_timeout {
            None => sent.await,
            Some(t) => match tokio::time::timeout(t, sent).await {
                Ok(r) => r,
                Err(_) => {
                    drop(load);
                    stats.attempt_timed_out();
                    stats.requests.record_failure(start.elapsed());
                    client.record(&endpoint, false);
                    return Err(RouteError(format!(
                        "exceeded {}ms (requestAttemptTimeoutMs) to {} ({}) while waiting for a reply",
                        t.as_millis(),
                        client.id,
                        endpoint.addr
                    )));
                }
            },
        };
        match result {
            Ok(reply) => {
                load.finish();
                lent.release();
                stats.requests.record(true, start.elapsed());
                client.record(&endpoint, true);
                Ok(reply)
            }
            Err(e) => {
                drop(load);
                drop(lent);
                stats.channel_closed();
                stats.requests.record_failure(start.elapsed());
                client.record(&endpoint, false);
                let why = match e {
                    CallError::Write(e) => format!("writing the call: {e}"),
                    CallError::Reply(e) => e,
                };
                Err(RouteError(format!(
                    "{} ({}): {why}",
                    client.id, endpoint.addr
                )))
            }
        }
    }

    /// The TTwitter header for the next hop: the caller's trace as the parent of a new
    /// span, its client id, the name it was routed by and its delegations (as Linkerd's
    /// client filter writes them).
    fn next_header(&self, call: &Call, dst: &Dst) -> RequestHeader {
        let span_id = self.rng.next_u64() as i64;
        let from = call.ttwitter.as_ref();
        RequestHeader {
            trace_id: from.map_or(span_id, |h| h.trace_id),
            span_id,
            sampled: from.and_then(|h| h.sampled),
            flags: from.and_then(|h| h.flags),
            trace_id_high: from.and_then(|h| h.trace_id_high),
            client_id: from.and_then(|h| h.client_id.clone()),
            dest: from.and_then(|h| h.dest.clone()),
            delegations: dst
                .local_dtab
                .dentries()
                .iter()
                .map(|d| (d.prefix.to_string(), d.dst.to_string()))
                .collect(),
        }
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

/// The name of `call` in a router with `dst_prefix` and `dtab`: `dstPrefix ++ dest ++
/// (/service[/method] | /method)` (the method with `method_in_dst`), with the TTwitter
/// delegations and the call's own dtab as its local dtab (Linkerd 1's thrift
/// `Identifier`).
pub fn identify(
    dst_prefix: &Path,
    dtab: &Dtab,
    method_in_dst: bool,
    call: &Call,
) -> Result<Dst, RouteError> {
    let mut path = dst_prefix.clone();
    let mut local = Dtab::empty();
    if let Some(h) = &call.ttwitter {
        if let Some(dest) = h.dest.as_deref().filter(|d| !d.is_empty()) {
            let dest =
                Path::read(dest).map_err(|e| RouteError(format!("TTwitter dest '{dest}': {e}")))?;
            path = path.concat(&dest);
        }
        if !h.delegations.is_empty() {
            let mut dentries = Vec::with_capacity(h.delegations.len());
            for (src, dst) in &h.delegations {
                let d = Dentry::read(&format!("{src}=>{dst}"))
                    .map_err(|e| RouteError(format!("TTwitter delegation {src}=>{dst}: {e}")))?;
                dentries.push(d);
            }
            local = Dtab::new(dentries);
        }
    }
    local = local.concat(&call.local_dtab);
    let name = &call.header.name;
    let suffix: Vec<&str> = match name.split_once(':') {
        Some((service, method)) if method_in_dst => vec![service, method],
        Some((service, _)) => vec![service],
        None if method_in_dst => vec![name.as_str()],
        None => vec![],
    };
    for s in suffix {
        path = path.concat(
            &Path::read(&format!("/{s}"))
                .map_err(|e| RouteError(format!("method name '{name}': {e}")))?,
        );
    }
    Ok(Dst {
        path,
        base_dtab: dtab.clone(),
        local_dtab: local,
    })
}
