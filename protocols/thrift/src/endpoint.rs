//! One backend endpoint of a Thrift client and its pool of connections
//! (`client.hostConnectionPool`): a connection carries one call at a time, as Thrift
//! servers expect; idle connections are reused most recent first, at most `maxSize` are
//! open, at most `maxWaiters` calls wait for one, and those idle longer than
//! `idleTimeMs` are closed down to `minSize`.
//!
//! A new connection attempts the TTwitter upgrade when `attemptTTwitterUpgrade` is set;
//! a backend that refuses it (any Apache server) is spoken to plainly.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use l5d_core::accrual::Accrual;
use l5d_core::balance::{EndpointLoad, Load};
use l5d_core::config::HostConnectionPool;
use l5d_core::router::stats::ClientStats;
use l5d_core::router::ConnectFailure;
use l5d_core::sync::lock;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::codec::{self, Encoding, MessageType};
use crate::transport::{write_message, MessageReader};
use crate::ttwitter;

/// How a client's connections are made and kept.
#[derive(Debug, Clone)]
pub struct ConnSettings {
    /// `thriftFramed`.
    pub framed: bool,
    /// `attemptTTwitterUpgrade`.
    pub attempt_upgrade: bool,
    /// `thriftProtocol`: what linkerd writes itself (the upgrade call, headers).
    pub encoding: Encoding,
    /// Connections kept open however long they idle.
    pub min_size: usize,
    /// The most connections open (or opening) at once.
    pub max_size: usize,
    /// Idle connections above `min_size` are closed after this long.
    pub idle_time: Option<Duration>,
    /// The most calls waiting for a connection.
    pub max_waiters: usize,
    /// How long a connect may take.
    pub connect_timeout: Duration,
}

impl ConnSettings {
    /// The settings for `pool` (Finagle's defaults for what it leaves out).
    pub fn new(
        framed: bool,
        attempt_upgrade: bool,
        encoding: Encoding,
        pool: &HostConnectionPool,
        connect_timeout: Duration,
    ) -> ConnSettings {
        ConnSettings {
            framed,
            attempt_upgrade,
            encoding,
            min_size: pool.min_size.unwrap_or(0) as usize,
            max_size: pool.max_size.map_or(usize::MAX, |n| n.max(1) as usize),
            idle_time: pool.idle_time_ms.map(Duration::from_millis),
            max_waiters: pool.max_waiters.map_or(usize::MAX, |n| n as usize),
            connect_timeout,
        }
    }
}

/// One connection to a backend.
pub struct Conn {
    stream: TcpStream,
    reader: MessageReader,
    /// Whether the backend accepted the TTwitter upgrade.
    pub upgraded: bool,
    since: Instant,
    framed: bool,
}

/// Why a call on a connection failed.
#[derive(Debug)]
pub enum CallError {
    /// The connection failed while the call was written: it may not have been read.
    Write(std::io::Error),
    /// The call was written and no whole reply came back.
    Reply(String),
}

impl Conn {
    /// Sends `call` (after `header`, on an upgraded connection) and, unless it is
    /// oneway, reads its reply, without the backend's TTwitter response header.
    pub async fn call(
        &mut self,
        header: &[u8],
        call: &[u8],
        oneway: bool,
    ) -> Result<Option<bytes::Bytes>, CallError> {
        let parts: &[&[u8]] = if self.upgraded {
            &[header, call]
        } else {
            &[call]
        };
        write_message(&mut self.stream, self.framed, parts)
            .await
            .map_err(CallError::Write)?;
        if oneway {
            return Ok(None);
        }
        let reply = match self.reader.read(&mut self.stream).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(CallError::Reply(
                    "the backend closed the connection before replying".into(),
                ))
            }
            Err(e) => return Err(CallError::Reply(e.to_string())),
        };
        if !self.upgraded {
            return Ok(Some(reply));
        }
        let encoding = codec::header(call).map_or(Encoding::StrictBinary, |h| h.encoding);
        match codec::struct_len(&reply, encoding) {
            Ok(n) => Ok(Some(reply.slice(n..))),
            Err(e) => Err(CallError::Reply(format!(
                "a reply without a TTwitter response header: {e}"
            ))),
        }
    }

    /// Whether the backend closed the connection (or sent something unasked) while it
    /// was idle; checked without blocking before the connection is reused.
    fn is_stale(&self) -> bool {
        if self.reader.has_buffered() {
            return true;
        }
        let mut byte = [0u8; 1];
        !matches!(self.stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

/// What connections of one endpoint share with their lenders.
struct Shared {
    /// Connections open or being opened.
    open: AtomicUsize,
    /// Woken when a connection is released or closes.
    released: Notify,
    stats: Arc<ClientStats>,
}

/// One endpoint of a Thrift client.
pub struct Endpoint {
    /// Where it is.
    pub addr: SocketAddr,
    /// Its live load, for the balancer.
    pub load: EndpointLoad,
    /// Whether failure accrual has marked it dead.
    pub accrual: Accrual,
    settings: Arc<ConnSettings>,
    idle: Mutex<Vec<Conn>>,
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
        let Some(idle_time) = self.settings.idle_time else {
            return;
        };
        let mut closable = self
            .shared
            .open
            .load(Relaxed)
            .saturating_sub(self.settings.min_size);
        let mut closed = 0;
        // Oldest first: the list is in release order.
        lock(&self.idle).retain(|c| {
            let expired = now.saturating_duration_since(c.since) >= idle_time;
            if expired && closable > 0 {
                closable -= 1;
                closed += 1;
                false
            } else {
                true
            }
        });
        for _ in 0..closed {
            self.closed();
        }
    }
}

/// A connection lent to one call: back to the pool with [`Lent::release`], closed if
/// dropped (a call that failed or was abandoned half way leaves it unusable).
pub struct Lent {
    conn: Option<Conn>,
    endpoint: Arc<Endpoint>,
}

impl Lent {
    /// The connection.
    pub fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a lent connection is present")
    }

    /// Returns the connection to the pool for the next call.
    pub fn release(mut self) {
        if let Some(mut c) = self.conn.take() {
            c.since = Instant::now();
            lock(&self.endpoint.idle).push(c);
            self.endpoint.shared.released.notify_one();
        }
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.endpoint.closed();
        }
    }
}

impl Endpoint {
    /// An endpoint at `addr` with no connection yet.
    pub fn new(
        addr: SocketAddr,
        settings: Arc<ConnSettings>,
        stats: Arc<ClientStats>,
        decay: Duration,
    ) -> Endpoint {
        Endpoint {
            addr,
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

    fn closed(&self) {
        self.shared.open.fetch_sub(1, Relaxed);
        self.shared.stats.connections.decr();
        self.shared.released.notify_one();
    }

    /// A connection for one call: an idle one, a new one, or (at `maxSize`) the next
    /// one released.
    pub async fn connection(self: &Arc<Self>) -> Result<Lent, ConnectFailure> {
        loop {
            loop {
                let next = lock(&self.idle).pop();
                match next {
                    Some(c) if c.is_stale() => {
                        drop(c);
                        self.closed();
                    }
                    Some(c) => return Ok(self.lend(c)),
                    None => break,
                }
            }
            let open = &self.shared.open;
            if open
                .fetch_update(Relaxed, Relaxed, |n| {
                    (n < self.settings.max_size).then_some(n + 1)
                })
                .is_ok()
            {
                let slot = Slot(Some(&self.shared));
                let conn = Box::pin(self.connect()).await?;
                slot.disarm();
                return Ok(self.lend(conn));
            }
            if self.waiters.load(Relaxed) >= self.settings.max_waiters {
                return Err(ConnectFailure::Overloaded);
            }
            let _waiting = Waiting::new(&self.waiters);
            self.shared.released.notified().await;
        }
    }

    fn lend(self: &Arc<Self>, conn: Conn) -> Lent {
        Lent {
            conn: Some(conn),
            endpoint: self.clone(),
        }
    }

    async fn connect(&self) -> Result<Conn, ConnectFailure> {
        let stats = &self.shared.stats;
        let start = Instant::now();
        let timeout = self.settings.connect_timeout;
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(self.addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                stats.connect_failed(false);
                return Err(ConnectFailure::Failed(format!("connection failed: {e}")));
            }
            Err(_) => {
                stats.connect_failed(true);
                return Err(ConnectFailure::Failed(format!(
                    "connect timed out after {timeout:?}"
                )));
            }
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            reader: MessageReader::new(self.settings.framed),
            upgraded: false,
            since: Instant::now(),
            framed: self.settings.framed,
        };
        if self.settings.attempt_upgrade {
            conn.upgraded = self
                .upgrade(&mut conn)
                .await
                .map_err(|e| ConnectFailure::Failed(format!("TTwitter upgrade: {e}")))?;
        }
        stats.connects.incr();
        stats.connections.incr();
        stats
            .connect_latency
            .record(start.elapsed().as_millis() as u64);
        Ok(conn)
    }

    /// Asks the backend to upgrade the connection; true when it accepted (any reply
    /// but an exception, as Finagle's client decides).
    async fn upgrade(&self, conn: &mut Conn) -> Result<bool, String> {
        let call = ttwitter::upgrade_call(self.settings.encoding);
        let reply =
            tokio::time::timeout(self.settings.connect_timeout, conn.call(&[], &call, false))
                .await
                .map_err(|_| format!("no reply within {:?}", self.settings.connect_timeout))?
                .map_err(|e| format!("{e:?}"))?
                .unwrap_or_default();
        let accepted = codec::header(&reply).is_ok_and(|h| h.kind != MessageType::Exception);
        if accepted && !self.settings.framed {
            conn.reader.prefixed = Some(self.settings.encoding);
        }
        Ok(accepted)
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

/// Counts a call waiting for a connection for as long as it waits.
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
