//! The `mux` router: a dispatch's name is `dstPrefix` followed by its destination, bound
//! with the router's dtab and the dispatch's own; the bound name's residual becomes the
//! forwarded dispatch's destination, and contexts, dtab and payload pass through
//! untouched. Each endpoint is one multiplexed session, as Finagle's Mux clients keep.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use l5d_core::accrual::Accrual;
use l5d_core::balance::{EndpointLoad, Load, Rng};
use l5d_core::binding::{Bound, NameInterpreter};
use l5d_core::identifier::Dst;
use l5d_core::metrics::Registry;
use l5d_core::naming::{Dentry, Dtab, Path};
use l5d_core::router::settings::ClientSetup;
use l5d_core::router::stats::{ClientStats, ServiceStats};
use l5d_core::router::{
    pick, BindError, Bindings, Client, ConnectFailure, Factories, Pending, Unroutable,
};

use l5d_thrift::router::{Call, CallRouter, RouteError};

use crate::client::{Session, SessionError};
use crate::codec::{Rdispatch, Status, Tdispatch};
use crate::server::{error, Handler};

/// Makes the setup of the client for a bound id.
pub type ClientSetupFn = Box<dyn Fn(&Path) -> ClientSetup + Send + Sync>;

/// Makes the total timeout of the service for a logical name.
pub type ServiceTimeoutFn = Box<dyn Fn(&Path) -> Option<Duration> + Send + Sync>;

/// One endpoint: its session (made on first use, and again once it has ended).
pub struct Endpoint {
    addr: SocketAddr,
    load: EndpointLoad,
    accrual: Accrual,
    connect_timeout: Duration,
    stats: Arc<ClientStats>,
    session: tokio::sync::Mutex<Option<Session>>,
}

impl Load for Endpoint {
    fn load(&self) -> &EndpointLoad {
        &self.load
    }

    /// Available unless failure accrual marked it dead or its server's lease ran out.
    fn is_available(&self) -> bool {
        let leased_out = self
            .session
            .try_lock()
            .is_ok_and(|s| s.as_ref().is_some_and(Session::is_lease_expired));
        self.accrual.is_available() && !leased_out
    }
}

impl l5d_core::router::Endpoint for Endpoint {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn accrual(&self) -> &Accrual {
        &self.accrual
    }
}

impl Endpoint {
    /// The endpoint's session, connecting one if it has none that takes dispatches.
    pub async fn session(&self) -> Result<Session, ConnectFailure> {
        let mut s = self.session.lock().await;
        if let Some(session) = s.as_ref().filter(|s| s.is_available()) {
            return Ok(session.clone());
        }
        if s.take().is_some() {
            self.stats.connections.decr();
        }
        let start = Instant::now();
        match Session::connect(self.addr, self.connect_timeout).await {
            Ok(session) => {
                self.stats.connects.incr();
                self.stats.connections.incr();
                self.stats
                    .connect_latency
                    .record(start.elapsed().as_millis() as u64);
                *s = Some(session.clone());
                Ok(session)
            }
            Err(e) => {
                self.stats.connect_failed(e.contains("timed out"));
                Err(ConnectFailure::Failed(e))
            }
        }
    }
}

/// A service (a logical name).
pub struct Service {
    stats: ServiceStats,
    total_timeout: Option<Duration>,
}

/// A leaf of a resolved binding: the client and the residual forwarded as the new
/// destination.
pub struct Leaf {
    client: Arc<Client<Endpoint>>,
    residual: Bytes,
}

/// How a mux router names and binds dispatches.
pub struct Naming {
    /// `dstPrefix`.
    pub dst_prefix: Path,
    /// The router's `dtab`.
    pub dtab: Dtab,
    /// `bindingTimeoutMs`.
    pub binding_timeout: Duration,
    /// `bindingCache.idleTtlSecs`.
    pub binding_idle_ttl: Duration,
    /// Name dispatches by their Thrift call instead of their dst (a thriftmux router
    /// speaking ThriftMux to backends), with `thriftMethodInDst` as given.
    pub thrift: Option<bool>,
}

/// A Mux router (one `routers[]` entry of protocol `mux`).
pub struct MuxRouter {
    label: String,
    dst_prefix: Path,
    dtab: Dtab,
    thrift: Option<bool>,
    bindings: Bindings<Service, Leaf, Endpoint>,
    rng: Rng,
}

/// Reads a dispatch's dtab entries into a dtab.
pub fn read_dtab(entries: &[(Bytes, Bytes)]) -> Result<Dtab, String> {
    let mut dentries = Vec::with_capacity(entries.len());
    for (src, dst) in entries {
        let text = format!(
            "{}=>{}",
            String::from_utf8_lossy(src),
            String::from_utf8_lossy(dst)
        );
        dentries.push(Dentry::read(&text).map_err(|e| format!("dtab entry {text}: {e}"))?);
    }
    Ok(Dtab::new(dentries))
}

impl MuxRouter {
    /// A router named `label`, naming as `naming` says, binding with `interpreter`.
    pub fn new(
        label: String,
        naming: Naming,
        interpreter: Arc<dyn NameInterpreter>,
        client_setup: ClientSetupFn,
        service_timeout: ServiceTimeoutFn,
        registry: Registry,
    ) -> MuxRouter {
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
                    let setup = client_setup(&b.id);
                    let stats = Arc::new(ClientStats::new(&registry, &label, &b.id));
                    let connect_timeout = setup.connect_timeout;
                    Client::new(
                        b.id.clone(),
                        b.addr.clone(),
                        setup.settings,
                        stats,
                        Box::new(move |addr, stats, decay| Endpoint {
                            addr,
                            load: EndpointLoad::new(decay),
                            accrual: Accrual::new(),
                            connect_timeout,
                            stats: stats.clone(),
                            session: tokio::sync::Mutex::new(None),
                        }),
                    )
                })
            },
            leaf: Box::new(|b: &Bound, client| Leaf {
                client,
                residual: if b.residual.is_empty() {
                    Bytes::new()
                } else {
                    Bytes::from(b.residual.show())
                },
            }),
        };
        MuxRouter {
            bindings: Bindings::new(&label, interpreter, registry, naming.binding_timeout, make)
                .with_idle_ttl(naming.binding_idle_ttl),
            label,
            dst_prefix: naming.dst_prefix,
            dtab: naming.dtab,
            thrift: naming.thrift,
            rng: Rng::from_entropy(),
        }
    }

    /// The router's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The name of a dispatch: `dstPrefix ++ dst` (or, naming Thrift calls, the thrift
    /// router's name of its call), with its dtab as the local dtab.
    pub fn identify(&self, req: &Tdispatch) -> Result<Dst, String> {
        if let Some(method_in_dst) = self.thrift {
            let header = l5d_thrift::codec::header(&req.body)
                .map_err(|e| format!("not a Thrift call: {e}"))?;
            let call = Call {
                header,
                message: req.body.clone(),
                ttwitter: None,
                local_dtab: read_dtab(&req.dtab)?,
            };
            return l5d_thrift::router::identify(
                &self.dst_prefix,
                &self.dtab,
                method_in_dst,
                &call,
            )
            .map_err(|e| e.0);
        }
        let dst = std::str::from_utf8(&req.dst).map_err(|_| "a dst that is not UTF-8")?;
        let path = if dst.is_empty() || dst == "/" {
            self.dst_prefix.clone()
        } else {
            let p = Path::read(dst).map_err(|e| format!("dst '{dst}': {e}"))?;
            self.dst_prefix.concat(&p)
        };
        Ok(Dst {
            path,
            base_dtab: self.dtab.clone(),
            local_dtab: read_dtab(&req.dtab)?,
        })
    }

    /// Routes one dispatch; linkerd's failures are ERROR replies saying what failed.
    pub async fn route(&self, req: Tdispatch) -> Rdispatch {
        match self.identify(&req) {
            Ok(dst) => self.route_as(dst, req).await,
            Err(e) => error(format!("linkerd: {e}")),
        }
    }

    /// Routes one dispatch named `dst`.
    pub async fn route_as(&self, dst: Dst, req: Tdispatch) -> Rdispatch {
        let start = Instant::now();
        let binding = self.bindings.binding(&dst);
        let service = &binding.service;
        let _pending = Pending::new(&service.stats.pending);
        let forward = self.forward(&dst, &binding, req, start);
        let result = match service.total_timeout {
            None => forward.await,
            Some(t) => match tokio::time::timeout(t, forward).await {
                Ok(r) => r,
                Err(_) => {
                    service.stats.timeout();
                    Err(format!(
                        "exceeded {}ms (totalTimeoutMs) to {} while waiting for a reply",
                        t.as_millis(),
                        dst.path
                    ))
                }
            },
        };
        let rsp = result.unwrap_or_else(|e| error(format!("linkerd: {e}")));
        service
            .stats
            .requests
            .record(rsp.status == Status::Ok, start.elapsed());
        rsp
    }

    async fn forward(
        &self,
        dst: &Dst,
        binding: &l5d_core::router::Binding<Service, Leaf>,
        req: Tdispatch,
        start: Instant,
    ) -> Result<Rdispatch, String> {
        let tree = self
            .bindings
            .resolve(dst, binding)
            .await
            .map_err(|e| match e {
                BindError::Failed(e) | BindError::TimedOut(e) => e,
            })?;
        let Some(leaf) = pick(&tree, &self.rng) else {
            let resolutions = self.bindings.resolutions(dst).await;
            return Err(format!(
                "no route to {} with dtab {} (it resolves to {})",
                dst.path,
                dst.dtab(),
                resolutions.join(", ")
            ));
        };
        let client = &leaf.client;
        let connect = |e: Arc<Endpoint>| async move { e.session().await };
        let (endpoint, session) = client
            .connect(&dst.path, &self.rng, connect)
            .await
            .map_err(|e| match e {
                Unroutable::NoEndpoints(m) | Unroutable::Overloaded(m) | Unroutable::Refused(m) => {
                    m.trim_end().replace('\n', " ")
                }
            })?;
        let stats = &client.stats;
        let _pending = Pending::new(&stats.pending);
        let load = endpoint.load.start();
        let fwd = Tdispatch {
            contexts: req.contexts,
            dst: leaf.residual.clone(),
            dtab: req.dtab,
            body: req.body,
        };
        let sent = session.dispatch(fwd);
        let result = match client.settings.attempt_timeout {
            None => sent.await,
            Some(t) => match tokio::time::timeout(t, sent).await {
                Ok(r) => r,
                Err(_) => {
                    drop(load);
                    stats.attempt_timed_out();
                    stats.requests.record_failure(start.elapsed());
                    client.record(&endpoint, false);
                    return Err(format!(
                        "exceeded {}ms (requestAttemptTimeoutMs) to {} ({}) while waiting for a reply",
                        t.as_millis(),
                        client.id,
                        endpoint.addr
                    ));
                }
            },
        };
        match result {
            Ok(rsp) => {
                load.finish();
                let ok = rsp.status != Status::Error;
                stats
                    .requests
                    .record(rsp.status == Status::Ok, start.elapsed());
                client.record(&endpoint, ok);
                Ok(rsp)
            }
            Err(e) => {
                drop(load);
                if matches!(e, SessionError::Closed(_)) {
                    stats.channel_closed();
                }
                stats.requests.record_failure(start.elapsed());
                client.record(&endpoint, false);
                Err(format!("{} ({}): {e}", client.id, endpoint.addr))
            }
        }
    }

    /// Forgets idle bindings (and closes what only they used).
    pub fn sweep(&self) {
        self.bindings.sweep();
    }

    /// Each client's state, by bound id, as `/client_state.json` shows it.
    pub fn client_state(&self) -> Vec<(String, serde_json::Value)> {
        self.bindings.client_state()
    }
}

/// Plain Thrift calls (a vanilla or TTwitter client on a thriftmux port) go to backends
/// as ThriftMux dispatches, named as the thrift router names them, their delegations
/// carried as the dispatch's dtab.
impl CallRouter for MuxRouter {
    fn label(&self) -> &str {
        &self.label
    }

    async fn route(&self, call: &Call) -> Result<Option<Bytes>, RouteError> {
        let dst = l5d_thrift::router::identify(
            &self.dst_prefix,
            &self.dtab,
            self.thrift.unwrap_or(false),
            call,
        )?;
        let dtab = dst
            .local_dtab
            .dentries()
            .iter()
            .map(|d| {
                (
                    Bytes::from(d.prefix.to_string()),
                    Bytes::from(d.dst.to_string()),
                )
            })
            .collect();
        let req = Tdispatch {
            contexts: Vec::new(),
            dst: Bytes::new(),
            dtab,
            body: call.message.clone(),
        };
        let rsp = self.route_as(dst, req).await;
        match rsp.status {
            Status::Ok if rsp.body.is_empty() => Ok(None),
            Status::Ok => Ok(Some(rsp.body)),
            Status::Error => Err(RouteError(String::from_utf8_lossy(&rsp.body).into_owned())),
            Status::Nack => Err(RouteError("the backend refused the call (NACK)".into())),
        }
    }
}

/// Serves dispatches with a router.
pub struct RouterHandler(pub Arc<MuxRouter>);

impl Handler for RouterHandler {
    fn dispatch(
        &self,
        req: Tdispatch,
    ) -> impl std::future::Future<Output = Rdispatch> + Send + 'static {
        let router = self.0.clone();
        async move { router.route(req).await }
    }
}
