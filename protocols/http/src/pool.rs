//! One endpoint and its pool of HTTP/1.1 connections (`client.hostConnectionPool`).
//!
//! hyper-util's pooled client keys its pool by URI authority, cannot bound connections
//! or waiters per host and has no low watermark, so the pool is ours: idle connections are
//! reused most recent first, at most `maxSize` are open, at most `maxWaiters` requests
//! wait for one, and connections idle longer than `idleTimeMs` are closed down to
//! `minSize` (Finagle's watermark pool). A connection goes back to the pool when its
//! response body has been read to the end; one whose response was abandoned is closed.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use l5d_core::accrual::Accrual;
use l5d_core::balance::{EndpointLoad, Load};
use l5d_core::config::HostConnectionPool;
use l5d_core::sync::lock;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use l5d_core::router::stats::ClientStats;

/// A request body on its way to an endpoint: the client's, streamed, or buffered whole
/// (`streamingEnabled: false`).
pub type ReqBody = http_body_util::Either<Incoming, http_body_util::Full<Bytes>>;

/// How a client's connections are made and kept.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Connections kept open however long they idle.
    pub min_size: usize,
    /// The most connections open (or opening) at once.
    pub max_size: usize,
    /// Idle connections above `min_size` are closed after this long.
    pub idle_time: Option<Duration>,
    /// The most requests waiting for a connection.
    pub max_waiters: usize,
    /// How long a connect may take.
    pub connect_timeout: Duration,
}

impl PoolSettings {
    /// The settings `hostConnectionPool` and the connect timeout describe (Finagle's
    /// defaults for what they leave out: no bound, no idle timeout).
    pub fn new(pool: &HostConnectionPool, connect_timeout: Duration) -> PoolSettings {
        PoolSettings {
            min_size: pool.min_size.unwrap_or(0) as usize,
            max_size: pool.max_size.map_or(usize::MAX, |n| n.max(1) as usize),
            idle_time: pool.idle_time_ms.map(Duration::from_millis),
            max_waiters: pool.max_waiters.map_or(usize::MAX, |n| n as usize),
            connect_timeout,
        }
    }
}

/// Why no connection could be had.
#[derive(Debug)]
pub enum ConnectError {
    /// The endpoint refused or could not be reached.
    Failed(std::io::Error),
    /// The connect timed out.
    TimedOut(Duration),
    /// The HTTP/1.1 handshake failed.
    Handshake(hyper::Error),
    /// `maxSize` connections are busy and `maxWaiters` requests already wait.
    Overloaded,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Failed(e) => write!(f, "connection failed: {e}"),
            ConnectError::TimedOut(d) => write!(f, "connect timed out after {d:?}"),
            ConnectError::Handshake(e) => write!(f, "connection failed: {e}"),
            ConnectError::Overloaded => write!(f, "too many requests waiting for a connection"),
        }
    }
}

/// What connections of one endpoint share with their background tasks (not the endpoint
/// itself, so that a connection task never keeps its endpoint alive).
struct Shared {
    /// Connections open or being opened.
    open: AtomicUsize,
    /// Woken when a connection is released or closes.
    released: Notify,
    stats: Arc<ClientStats>,
}

struct Idle {
    tx: SendRequest<ReqBody>,
    since: Instant,
}

/// One endpoint of a client: its address, load, failure accrual state and connections.
pub struct Endpoint {
    /// Where it is.
    pub addr: SocketAddr,
    /// `ip:port`, the `Host` of requests that came without one.
    pub host: HeaderValue,
    /// Its live load, for the balancer.
    pub load: EndpointLoad,
    /// Whether failure accrual has marked it dead.
    pub accrual: Accrual,
    settings: Arc<PoolSettings>,
    idle: Mutex<Vec<Idle>>,
    waiters: AtomicUsize,
    shared: Arc<Shared>,
}

impl Load for Endpoint {
    fn load(&self) -> &EndpointLoad {
        &self.load
    }

    fn is_available(&self) -> bool {
        self.accrual.is_available()
    }
}

impl l5d_core::router::Endpoint for Endpoint {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn accrual(&self) -> &Accrual {
        &self.accrual
    }

    fn sweep(&self, now: Instant) {
        Endpoint::sweep(self, now);
    }
}

impl Endpoint {
    /// An endpoint at `addr` with no connection yet, whose latency average decays with
    /// `decay`.
    pub fn new(
        addr: SocketAddr,
        settings: Arc<PoolSettings>,
        stats: Arc<ClientStats>,
        decay: Duration,
    ) -> Endpoint {
        Endpoint {
            addr,
            host: HeaderValue::try_from(addr.to_string())
                .unwrap_or(HeaderValue::from_static("localhost")),
            load: EndpointLoad::new(decay),
            accrual: Accrual::new(),
            settings,
            idle: Mutex::new(Vec::new()),
            waiters: AtomicUsize::new(0),
            shared: Arc::new(Shared {
                open: AtomicUsize::new(0),
                released: Notify::new(),
                stats,
            }),
        }
    }

    /// Connections open or being opened.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Relaxed)
    }

    /// A connection ready for a request: an idle one, a new one, or (at `maxSize`) the
    /// next one released.
    pub async fn connection(self: &Arc<Self>) -> Result<Conn, ConnectError> {
        loop {
            while let Some(mut idle) = self.pop_idle() {
                if idle.tx.ready().await.is_ok() {
                    return Ok(self.conn(idle.tx));
                }
            }
            let open = &self.shared.open;
            if open
                .fetch_update(Relaxed, Relaxed, |n| {
                    (n < self.settings.max_size).then_some(n + 1)
                })
                .is_ok()
            {
                // Until the connection's task owns the slot, a failed or abandoned
                // connect gives it back.
                let slot = Slot(Some(&self.shared));
                // Boxed: connecting is the rare path, and its future is large; every request's
                // future would otherwise carry its size.
                let tx = Box::pin(self.connect()).await?;
                slot.disarm();
                return Ok(self.conn(tx));
            }
            if self.waiters.load(Relaxed) >= self.settings.max_waiters {
                return Err(ConnectError::Overloaded);
            }
            // Counted through a guard: a request abandoned while it waits stops counting.
            let _waiting = Waiting::new(&self.waiters);
            self.shared.released.notified().await;
        }
    }

    fn conn(self: &Arc<Self>, tx: SendRequest<ReqBody>) -> Conn {
        Conn {
            tx: Some(tx),
            endpoint: self.clone(),
        }
    }

    /// The most recently released idle connection that is still open.
    fn pop_idle(&self) -> Option<Idle> {
        let mut idle = lock(&self.idle);
        while let Some(i) = idle.pop() {
            if !i.tx.is_closed() {
                return Some(i);
            }
        }
        None
    }

    async fn connect(&self) -> Result<SendRequest<ReqBody>, ConnectError> {
        let stats = &self.shared.stats;
        let start = Instant::now();
        let timeout = self.settings.connect_timeout;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(self.addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                stats.connect_failed(false);
                return Err(ConnectError::Failed(e));
            }
            Err(_) => {
                stats.connect_failed(true);
                return Err(ConnectError::TimedOut(timeout));
            }
        };
        let _ = stream.set_nodelay(true);
        let (tx, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(ConnectError::Handshake)?;
        stats.connects.incr();
        stats.connections.incr();
        stats
            .connect_latency
            .record(start.elapsed().as_millis() as u64);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("client connection: {e}");
            }
            shared.open.fetch_sub(1, Relaxed);
            shared.stats.connections.decr();
            shared.released.notify_one();
        });
        Ok(tx)
    }

    fn release(&self, tx: SendRequest<ReqBody>) {
        if tx.is_closed() {
            return;
        }
        lock(&self.idle).push(Idle {
            tx,
            since: Instant::now(),
        });
        self.shared.released.notify_one();
    }

    /// Closes connections idle longer than `idleTimeMs`, keeping `minSize` open.
    pub fn sweep(&self, now: Instant) {
        let Some(idle_time) = self.settings.idle_time else {
            return;
        };
        let mut closable = self
            .shared
            .open
            .load(Relaxed)
            .saturating_sub(self.settings.min_size);
        // Oldest first: the list is in release order.
        lock(&self.idle).retain(|i| {
            let expired = now.saturating_duration_since(i.since) >= idle_time;
            if (expired && closable > 0) || i.tx.is_closed() {
                closable = closable.saturating_sub(1);
                false
            } else {
                true
            }
        });
    }
}

/// A connection slot (`maxSize`) taken for a connect in progress; released on drop.
struct Slot<'a>(Option<&'a Shared>);

impl Slot<'_> {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            shared.open.fetch_sub(1, Relaxed);
            shared.released.notify_one();
        }
    }
}

/// Counts a request waiting for a connection for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Waiting<'a> {
        n.fetch_add(1, Relaxed);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// A connection lent to one request; it goes back to its endpoint's pool with the
/// response body ([`PooledBody`]).
pub struct Conn {
    tx: Option<SendRequest<ReqBody>>,
    endpoint: Arc<Endpoint>,
}

impl Conn {
    /// The connection's sender.
    pub fn sender(&mut self) -> &mut SendRequest<ReqBody> {
        self.tx.as_mut().expect("a lent connection has its sender")
    }

    /// The response body, which returns the connection when read to the end.
    pub fn body(mut self, body: Incoming) -> PooledBody {
        PooledBody {
            inner: body,
            conn: self.tx.take().map(|tx| (tx, self.endpoint.clone())),
        }
    }
}

/// A response body that returns its connection to the pool once read to the end.
pub struct PooledBody {
    inner: Incoming,
    conn: Option<(SendRequest<ReqBody>, Arc<Endpoint>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((tx, ep)) = self.conn.take() {
            ep.release(tx);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.release(),
            Poll::Ready(Some(Err(_))) => self.conn = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // A body read to its end (or empty) leaves the connection reusable; one abandoned
        // half way would need draining, so its connection is closed instead.
        if self.inner.is_end_stream() {
            self.release();
        }
    }
}
