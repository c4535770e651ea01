//! Accepting HTTP/1.1 connections for a router.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::error::RouteError;
use crate::forwarded::Additions;
use crate::router::HttpRouter;
use l5d_core::router::stats::ServerStats;
use l5d_core::router::{Admitted, Open};

/// One `servers[]` entry's settings.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `maxCallDepth`: more `Via` hops than this is a proxy loop (400).
    pub max_call_depth: usize,
    /// The largest request head accepted, `maxHeadersKB` plus `maxInitialLineKB`.
    pub max_head_bytes: usize,
    /// Headers added to every request (`addForwardedHeader`, `timestampHeader`).
    pub additions: Arc<Additions>,
    /// `maxConcurrentRequests`: requests beyond it are answered 503 at once.
    pub max_concurrent: Option<usize>,
    /// `timeoutMs`: the most a request may take here to its response (504 beyond).
    pub timeout: Option<std::time::Duration>,
    /// Graceful shutdown: when it starts, the server stops accepting and its connections
    /// close after the request each is serving.
    pub drain: Arc<l5d_core::shutdown::Drain>,
}

/// Binds the server's address and serves `router` on it in the background, recording into
/// `registry`; returns the address bound (the port is chosen when it is 0).
pub async fn start(
    router: Arc<HttpRouter>,
    settings: ServerSettings,
    registry: &l5d_core::metrics::Registry,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(settings.addr).await?;
    let local = listener.local_addr()?;
    let stats = Arc::new(ServerStats::new(registry, router.label(), local));
    tokio::spawn(accept(listener, router, settings, stats));
    Ok(local)
}

async fn accept(
    listener: TcpListener,
    router: Arc<HttpRouter>,
    settings: ServerSettings,
    stats: Arc<ServerStats>,
) {
    let drain = settings.drain.clone();
    // Requests in flight on this server, for maxConcurrentRequests.
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = drain.started() => {
                tracing::info!("router {}: server {} stops accepting", router.label(), settings.addr);
                return;
            }
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: keep serving the connections we have.
                tracing::warn!("router {}: accept failed: {e}", router.label());
                tokio::task::yield_now().await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stats = stats.clone();
        let depth = settings.max_call_depth;
        let in_flight = in_flight.clone();
        let max_concurrent = settings.max_concurrent;
        let timeout = settings.timeout;
        let additions = settings.additions.clone();
        let labels = (!additions.is_empty()).then(|| {
            let local = stream.local_addr().unwrap_or(settings.addr);
            Arc::new(additions.connection(local, peer, router.rng()))
        });
        // hyper needs at least 8 KiB of read buffer.
        let max_buf = settings.max_head_bytes.max(8192);
        let drain = drain.clone();
        tokio::spawn(async move {
            let _tracked = drain.track();
            let _open = Open::new(stats.clone());
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let router = router.clone();
                let stats = stats.clone();
                let admitted = Admitted::new(&in_flight, max_concurrent);
                let req = match &labels {
                    None => req,
                    Some(labels) => {
                        let (mut parts, body) = req.into_parts();
                        additions.apply(&mut parts.headers, &parts.uri, labels, router.rng());
                        hyper::Request::from_parts(parts, body)
                    }
                };
                async move {
                    let start = std::time::Instant::now();
                    let rsp = match admitted {
                        None => {
                            stats.rejected.incr();
                            router.error(&RouteError::Overloaded(format!(
                                "rejected: {} requests in flight (maxConcurrentRequests)",
                                max_concurrent.unwrap_or(0)
                            )))
                        }
                        Some(_admitted) => match timeout {
                            None => router.route(req, depth).await,
                            Some(t) => {
                                match tokio::time::timeout(t, router.route(req, depth)).await {
                                    Ok(rsp) => rsp,
                                    Err(_) => router.error(&RouteError::Timeout(format!(
                                        "exceeded {}ms (server timeoutMs) while waiting for a response",
                                        t.as_millis()
                                    ))),
                                }
                            }
                        },
                    };
                    // The router marks its answers with their classification; linkerd's
                    // own refusals carry none and are failures when they are 5XX.
                    let success = rsp
                        .headers()
                        .get(&crate::classify::L5D_SUCCESS_CLASS)
                        .map_or(!rsp.status().is_server_error(), |v| v.as_bytes() != b"0.0");
                    stats
                        .requests
                        .record_status(rsp.status().as_u16(), success, start.elapsed());
                    Ok::<_, Infallible>(rsp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .max_buf_size(max_buf)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = drain.started() => {
                    // Finish the request in flight (if any), then close.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!("http connection: {e}");
            }
        });
    }
}
