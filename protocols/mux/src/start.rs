//! Turning `protocol: mux` and `protocol: thriftmux` router configs into running routers.
//!
//! A thriftmux router routes each dispatch's Thrift call as the thrift router does (by
//! `dstPrefix` and method; the dispatch's dtab is the call's local dtab, its `dst` is
//! ignored, as in Linkerd 1) and speaks plain Thrift to backends. Clients that send plain
//! framed Thrift (or TTwitter) to a thriftmux port are served by the thrift router's own
//! connection handling, as Finagle's ThriftMux servers downgrade them.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use l5d_core::binding::NameInterpreter;
use l5d_core::config::RouterConfig;
use l5d_core::naming::Path;
use l5d_core::router::settings::{ClientKeys, Layered};
use l5d_core::router::stats::ServerStats;
use l5d_core::router::Open;
use l5d_core::shutdown::Drain;
use l5d_thrift::codec::Encoding;
use l5d_thrift::config::ThriftProtocol;
use l5d_thrift::router::{Call, CallRouter, ThriftRouter};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use crate::codec::{split_frame, Rdispatch, Status, Tdispatch};
use crate::config::{ClientProtocol, ThriftMuxRouterConfig};
use crate::router::{read_dtab, MuxRouter, Naming, RouterHandler};
use crate::server::{error, is_thrift, serve, Handler, SessionSettings};

/// A started router's admin view and where its servers listen.
pub struct Started {
    /// Its clients' states, as `/client_state.json` shows them.
    pub client_state: Arc<dyn Fn() -> Vec<(String, serde_json::Value)> + Send + Sync>,
    /// Where its servers listen.
    pub addrs: Vec<SocketAddr>,
}

/// Records each dispatch in the server's metrics.
struct Counted<H> {
    inner: H,
    stats: Arc<ServerStats>,
}

impl<H: Handler> Handler for Arc<H> {
    fn dispatch(
        &self,
        req: Tdispatch,
    ) -> impl std::future::Future<Output = Rdispatch> + Send + 'static {
        (**self).dispatch(req)
    }
}

impl<H: Handler> Handler for Counted<H> {
    fn dispatch(
        &self,
        req: Tdispatch,
    ) -> impl std::future::Future<Output = Rdispatch> + Send + 'static {
        let start = Instant::now();
        let stats = self.stats.clone();
        let fut = self.inner.dispatch(req);
        async move {
            let rsp = fut.await;
            stats
                .requests
                .record(rsp.status == Status::Ok, start.elapsed());
            rsp
        }
    }
}

/// Serves ThriftMux dispatches with a thrift router.
struct ThriftMuxHandler(Arc<ThriftRouter>);

impl Handler for ThriftMuxHandler {
    fn dispatch(
        &self,
        req: Tdispatch,
    ) -> impl std::future::Future<Output = Rdispatch> + Send + 'static {
        let router = self.0.clone();
        async move {
            let header = match l5d_thrift::codec::header(&req.body) {
                Ok(h) => h,
                Err(e) => return error(format!("linkerd: not a Thrift call: {e}")),
            };
            let local_dtab = match read_dtab(&req.dtab) {
                Ok(d) => d,
                Err(e) => return error(format!("linkerd: {e}")),
            };
            let call = Call {
                header,
                message: req.body,
                ttwitter: None,
                local_dtab,
            };
            match router.route(&call).await {
                Ok(reply) => Rdispatch {
                    status: Status::Ok,
                    contexts: Vec::new(),
                    body: reply.unwrap_or_else(Bytes::new),
                },
                Err(e) => error(format!(
                    "linkerd could not route {}: {}",
                    call.header.name, e.0
                )),
            }
        }
    }
}

fn timeouts(cfg: &RouterConfig) -> impl Fn(&Path) -> Option<Duration> + Send + Sync {
    let services = Layered::services(&cfg.service, |p| p.total_timeout_ms);
    move |name: &Path| {
        services
            .applying(name)
            .fold(None, |t, l| l.or(t))
            .map(Duration::from_millis)
    }
}

/// Accepts connections on `listener` and hands each to `serve_one`, until drained.
async fn accept<F, Fut>(listener: TcpListener, label: String, drain: Arc<Drain>, serve_one: F)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = drain.started() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_one(stream));
            }
            Err(e) => {
                tracing::warn!("router {label}: accept failed: {e}");
                tokio::task::yield_now().await;
            }
        }
    }
}

/// The mux router `cfg` describes; with `thrift`, naming dispatches by their Thrift
/// calls (`thriftMethodInDst` as given).
fn mux_router(
    cfg: &RouterConfig,
    interpreter: Arc<dyn NameInterpreter>,
    registry: &l5d_core::metrics::Registry,
    thrift: Option<bool>,
) -> MuxRouter {
    let clients = Layered::clients(&cfg.client, ClientKeys::of);
    MuxRouter::new(
        cfg.label.clone(),
        Naming {
            dst_prefix: cfg.dst_prefix.clone(),
            dtab: cfg.dtab.clone(),
            binding_timeout: Duration::from_millis(cfg.binding_timeout_ms),
            binding_idle_ttl: Duration::from_secs(cfg.binding_cache.idle_ttl_secs),
            thrift,
        },
        interpreter,
        Box::new(move |id: &Path| ClientKeys::setup(clients.applying(id))),
        Box::new(timeouts(cfg)),
        registry.clone(),
    )
}

/// Starts a `mux` router and its servers.
pub async fn start_mux(
    cfg: &RouterConfig,
    interpreter: Arc<dyn NameInterpreter>,
    registry: &l5d_core::metrics::Registry,
    drain: &Arc<Drain>,
) -> Result<Started, String> {
    let router = Arc::new(mux_router(cfg, interpreter, registry, None));
    l5d_core::router::spawn_sweeper(&router, MuxRouter::sweep);
    let mut addrs = Vec::new();
    for s in &cfg.servers {
        let listener = TcpListener::bind(s.addr())
            .await
            .map_err(|e| format!("router '{}': cannot listen on {}: {e}", cfg.label, s.addr()))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let stats = Arc::new(ServerStats::new(registry, &cfg.label, local));
        let handler = Arc::new(Counted {
            inner: RouterHandler(router.clone()),
            stats: stats.clone(),
        });
        let settings = SessionSettings {
            admission: s
                .max_concurrent_requests
                .map(|n| (Arc::new(AtomicUsize::new(0)), n as usize)),
            drain: drain.clone(),
        };
        let d = drain.clone();
        let label = cfg.label.clone();
        tokio::spawn(accept(
            listener,
            cfg.label.clone(),
            drain.clone(),
            move |stream| {
                let (handler, settings, stats, d, label) = (
                    handler.clone(),
                    settings.clone(),
                    stats.clone(),
                    d.clone(),
                    label.clone(),
                );
                async move {
                    let _tracked = d.track();
                    let _open = Open::new(stats);
                    if let Err(e) = serve(stream, BytesMut::new(), handler, settings).await {
                        tracing::info!("router {label}: mux session ended: {e}");
                    }
                }
            },
        ));
        addrs.push(local);
    }
    let r = router.clone();
    Ok(Started {
        client_state: Arc::new(move || r.client_state()),
        addrs,
    })
}

/// Reads from `stream` until `buf` holds a whole first frame (or cannot be Mux).
async fn first_frame(stream: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<bool> {
    loop {
        let mut probe = buf.clone();
        match split_frame(&mut probe) {
            Ok(Some(f)) => return Ok(is_thrift(&f)),
            Err(_) => return Ok(true),
            Ok(None) => {}
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Starts a `thriftmux` router and its servers.
pub async fn start_thriftmux(
    cfg: &RouterConfig,
    interpreter: Arc<dyn NameInterpreter>,
    registry: &l5d_core::metrics::Registry,
    drain: &Arc<Drain>,
) -> Result<Started, String> {
    let own = cfg
        .protocol_config
        .downcast_ref::<ThriftMuxRouterConfig>()
        .ok_or_else(|| format!("router '{}' is not a thriftmux router", cfg.label))?;
    let encoding = match own.thrift_protocol {
        ThriftProtocol::Binary => Encoding::StrictBinary,
        ThriftProtocol::Compact => Encoding::Compact,
    };
    match own.client_protocol {
        ClientProtocol::Thrift => {
            let (router, _) = l5d_thrift::start::router(cfg, &own.thrift(), interpreter, registry)?;
            let handler = ThriftMuxHandler(router.clone());
            let addrs = serve_thriftmux(cfg, registry, drain, encoding, &router, handler).await?;
            Ok(Started {
                client_state: Arc::new(move || router.client_state()),
                addrs,
            })
        }
        ClientProtocol::Thriftmux => {
            let thrift = Some(own.thrift_method_in_dst);
            let router = Arc::new(mux_router(cfg, interpreter, registry, thrift));
            l5d_core::router::spawn_sweeper(&router, MuxRouter::sweep);
            let handler = RouterHandler(router.clone());
            let addrs = serve_thriftmux(cfg, registry, drain, encoding, &router, handler).await?;
            Ok(Started {
                client_state: Arc::new(move || router.client_state()),
                addrs,
            })
        }
    }
}

/// Serves a thriftmux router's servers: Mux sessions go to `handler`, plain Thrift
/// clients to `router`.
async fn serve_thriftmux<R: CallRouter, H: Handler>(
    cfg: &RouterConfig,
    registry: &l5d_core::metrics::Registry,
    drain: &Arc<Drain>,
    encoding: Encoding,
    router: &Arc<R>,
    handler: H,
) -> Result<Vec<SocketAddr>, String> {
    let handler = Arc::new(handler);
    let mut addrs = Vec::new();
    for s in &cfg.servers {
        let listener = TcpListener::bind(s.addr())
            .await
            .map_err(|e| format!("router '{}': cannot listen on {}: {e}", cfg.label, s.addr()))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let stats = Arc::new(ServerStats::new(registry, &cfg.label, local));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max = s.max_concurrent_requests.map(|n| n as usize);
        let counted = Arc::new(Counted {
            inner: handler.clone(),
            stats: stats.clone(),
        });
        let settings = SessionSettings {
            admission: max.map(|n| (in_flight.clone(), n)),
            drain: drain.clone(),
        };
        // Plain Thrift clients are served as the thrift router serves them: framed,
        // which is all a ThriftMux port can tell from Mux.
        let vanilla = Arc::new(l5d_thrift::server::ServerSettings {
            addr: local,
            framed: true,
            encoding,
            max_concurrent: max,
            timeout: s.timeout_ms.map(Duration::from_millis),
            drain: drain.clone(),
        });
        let (d, label, router) = (drain.clone(), cfg.label.clone(), router.clone());
        tokio::spawn(accept(
            listener,
            cfg.label.clone(),
            drain.clone(),
            move |mut stream| {
                let (counted, settings, stats, d, label) = (
                    counted.clone(),
                    settings.clone(),
                    stats.clone(),
                    d.clone(),
                    label.clone(),
                );
                let vanilla = l5d_thrift::server::Connection {
                    router: router.clone(),
                    settings: vanilla.clone(),
                    stats: stats.clone(),
                    in_flight: in_flight.clone(),
                };
                async move {
                    let _tracked = d.track();
                    let _open = Open::new(stats);
                    let mut buf = BytesMut::with_capacity(4096);
                    match first_frame(&mut stream, &mut buf).await {
                        Ok(true) => vanilla.run(stream, buf).await,
                        Ok(false) => {
                            if let Err(e) = serve(stream, buf, counted, settings).await {
                                tracing::info!("router {label}: thriftmux session ended: {e}");
                            }
                        }
                        Err(_) => {}
                    }
                }
            },
        ));
        addrs.push(local);
    }
    Ok(addrs)
}
