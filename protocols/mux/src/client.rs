//! The client side of a Mux session, as Finagle's servers expect it: the `tinit check`
//! probe and Tinit/Rinit when the server negotiates (plain sessions when it does not),
//! dispatch tags from 2 up with the lowest free one reused, any number of dispatches in
//! flight answered in any order, a dispatch dropped before its reply sending Tdiscarded
//! (its tag stays reserved until the server answers it), pings answered and sent (a
//! server that stops answering them is taken for dead), Tdrain honoured (no new
//! dispatches; the session ends when the last one is answered).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use l5d_core::sync::lock;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::codec::{split_frame, Message, Rdispatch, Reassembly, Tdispatch, CONTROL_TAG, MAX_TAG};
use crate::server::{default_headers, framer, PROBE};

/// How often a session pings its server, and how long it waits for the answer.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_WITHIN: Duration = Duration::from_secs(4);

/// Why a dispatch got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The session ended (closed, failed, or its server stopped answering pings).
    Closed(String),
    /// The server asked the session to drain; it takes no new dispatches.
    Draining,
    /// The server answered the dispatch with Rerr.
    Rerr(String),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::Closed(why) => write!(f, "the mux session closed: {why}"),
            SessionError::Draining => f.write_str("the mux session is draining"),
            SessionError::Rerr(why) => write!(f, "the server answered Rerr: {why}"),
        }
    }
}

enum Waiter {
    /// A dispatch waiting for its reply.
    Waiting(oneshot::Sender<Result<Rdispatch, SessionError>>),
    /// A discarded dispatch whose tag stays taken until the server answers it.
    Discarded,
}

struct State {
    waiters: HashMap<u32, Waiter>,
    free: BTreeSet<u32>,
    next: u32,
    closed: Option<String>,
}

impl State {
    fn take_tag(&mut self) -> Option<u32> {
        if let Some(t) = self.free.pop_first() {
            return Some(t);
        }
        if self.next > MAX_TAG {
            return None;
        }
        self.next += 1;
        Some(self.next - 1)
    }

    fn answer(&mut self, tag: u32, r: Result<Rdispatch, SessionError>) {
        match self.waiters.remove(&tag) {
            Some(Waiter::Waiting(tx)) => {
                let _ = tx.send(r);
                self.free.insert(tag);
            }
            Some(Waiter::Discarded) => {
                self.free.insert(tag);
            }
            None => {}
        }
    }

    fn close(&mut self, why: &str) {
        if self.closed.is_none() {
            self.closed = Some(why.to_string());
        }
        for (_, w) in self.waiters.drain() {
            if let Waiter::Waiting(tx) = w {
                let _ = tx.send(Err(SessionError::Closed(why.to_string())));
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
    tx: mpsc::UnboundedSender<(u32, Message)>,
    draining: AtomicBool,
    /// Whether an Rping came since the last Tping.
    ponged: AtomicBool,
    /// When the server's last lease ends, in ms of the process clock (0: no lease
    /// given, so none to run out).
    lease_until: AtomicU64,
}

/// One Mux session to a server; cheap to clone, shared by every dispatch to it.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
}

impl Session {
    /// Connects to `addr` and negotiates (Finagle's probe, then Tinit/Rinit), within
    /// `timeout`.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Session, String> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connect timed out after {timeout:?}"))?
            .map_err(|e| format!("connection failed: {e}"))?;
        let _ = stream.set_nodelay(true);
        tokio::time::timeout(timeout, Session::negotiate(stream))
            .await
            .map_err(|_| format!("no handshake within {timeout:?}"))?
    }

    async fn negotiate(mut stream: TcpStream) -> Result<Session, String> {
        use tokio::io::AsyncWriteExt;
        let mut out = BytesMut::new();
        Message::Rerr(Bytes::from_static(PROBE)).encode(CONTROL_TAG, usize::MAX, &mut out);
        stream.write_all(&out).await.map_err(|e| e.to_string())?;
        let mut buf = BytesMut::with_capacity(4096);
        let first = read_message(&mut stream, &mut buf).await?;
        let mut max_fragment = usize::MAX;
        if matches!(&first, (_, Message::Rerr(why)) if &why[..] == PROBE) {
            out.clear();
            Message::Tinit {
                version: 1,
                headers: default_headers(),
            }
            .encode(CONTROL_TAG, usize::MAX, &mut out);
            stream.write_all(&out).await.map_err(|e| e.to_string())?;
            match read_message(&mut stream, &mut buf).await? {
                (
                    _,
                    Message::Rinit {
                        version: 1,
                        headers,
                    },
                ) => {
                    max_fragment = framer(&headers).unwrap_or(usize::MAX);
                }
                (_, other) => return Err(format!("the server answered Tinit with {other:?}")),
            }
        }
        // Anything else: an old server that does not negotiate; its answer is dropped.
        Ok(Session::start(stream, buf, max_fragment))
    }

    fn start(stream: TcpStream, buf: BytesMut, max_fragment: usize) -> Session {
        let (rd, wr) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                waiters: HashMap::new(),
                free: BTreeSet::new(),
                next: 2,
                closed: None,
            }),
            tx,
            draining: AtomicBool::new(false),
            ponged: AtomicBool::new(true),
            lease_until: AtomicU64::new(0),
        });
        let framer = Arc::new(std::sync::atomic::AtomicUsize::new(max_fragment));
        tokio::spawn(crate::server::write_frames(wr, rx, framer));
        tokio::spawn(read_loop(rd, buf, Arc::downgrade(&shared)));
        tokio::spawn(ping_loop(Arc::downgrade(&shared)));
        Session { shared }
    }

    /// Whether the session can take new dispatches.
    pub fn is_available(&self) -> bool {
        !self.shared.draining.load(Ordering::Relaxed) && lock(&self.shared.state).closed.is_none()
    }

    /// Whether the server's lease has run out (Finagle calls such a session busy: it
    /// still works, but balancers should prefer others).
    pub fn is_lease_expired(&self) -> bool {
        let until = self.shared.lease_until.load(Ordering::Relaxed);
        until != 0 && (l5d_core::clock::now().as_millis() as u64) >= until
    }

    /// Sends `req` and waits for its reply; dropping the future discards the dispatch.
    pub async fn dispatch(&self, req: Tdispatch) -> Result<Rdispatch, SessionError> {
        if self.shared.draining.load(Ordering::Relaxed) {
            return Err(SessionError::Draining);
        }
        let (tx, rx) = oneshot::channel();
        let tag = {
            let mut state = lock(&self.shared.state);
            if let Some(why) = &state.closed {
                return Err(SessionError::Closed(why.clone()));
            }
            let tag = state
                .take_tag()
                .ok_or_else(|| SessionError::Closed("out of tags".into()))?;
            state.waiters.insert(tag, Waiter::Waiting(tx));
            tag
        };
        let _ = self.shared.tx.send((tag, Message::Tdispatch(req)));
        let mut pending = Discard {
            shared: &self.shared,
            tag: Some(tag),
        };
        let r = rx
            .await
            .unwrap_or_else(|_| Err(SessionError::Closed("the session ended".into())));
        pending.tag = None;
        r
    }
}

/// Discards a dispatch abandoned before its reply: Tdiscarded, and the tag kept until
/// the server answers.
struct Discard<'a> {
    shared: &'a Arc<Shared>,
    tag: Option<u32>,
}

impl Drop for Discard<'_> {
    fn drop(&mut self) {
        let Some(tag) = self.tag else { return };
        let mut state = lock(&self.shared.state);
        if let Some(w) = state.waiters.get_mut(&tag) {
            *w = Waiter::Discarded;
            let _ = self.shared.tx.send((
                0,
                Message::Tdiscarded {
                    tag,
                    why: Bytes::from_static(b"Future cancelled"),
                },
            ));
        }
    }
}

async fn read_message(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Result<(u32, Message), String> {
    let mut r = Reassembly::default();
    loop {
        while let Some(f) = split_frame(buf).map_err(|e| e.0)? {
            if let Some((typ, tag, body)) = r.push(f).map_err(|e| e.0)? {
                return Message::decode(typ, body)
                    .map(|m| (tag, m))
                    .map_err(|e| e.0);
            }
        }
        if stream.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("the server closed the connection during the handshake".into());
        }
    }
}

async fn read_loop(
    mut rd: tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
    shared: std::sync::Weak<Shared>,
) {
    let mut r = Reassembly::default();
    let why = 'session: loop {
        loop {
            let f = match split_frame(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => break 'session e.0,
            };
            let (typ, tag, body) = match r.push(f) {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => break 'session e.0,
            };
            let m = match Message::decode(typ, body) {
                Ok(m) => m,
                Err(e) => break 'session e.0,
            };
            let Some(shared) = shared.upgrade() else {
                return;
            };
            match m {
                Message::Rdispatch(rd) => lock(&shared.state).answer(tag, Ok(rd)),
                Message::Rdiscarded => {
                    lock(&shared.state).answer(tag, Err(SessionError::Closed("discarded".into())))
                }
                Message::Rerr(why) => lock(&shared.state).answer(
                    tag,
                    Err(SessionError::Rerr(
                        String::from_utf8_lossy(&why).into_owned(),
                    )),
                ),
                Message::Tping => {
                    let _ = shared.tx.send((tag, Message::Rping));
                }
                Message::Rping => shared.ponged.store(true, Ordering::Relaxed),
                Message::Tdrain => {
                    shared.draining.store(true, Ordering::Relaxed);
                    let _ = shared.tx.send((tag, Message::Rdrain));
                }
                // A lease in milliseconds (the only unit Finagle's clients know): the
                // session is busy once it ends, until the next one.
                Message::Tlease { unit: 0, howmuch } => {
                    let now = l5d_core::clock::now().as_millis() as u64;
                    let until = now.saturating_add(howmuch.max(0) as u64).max(1);
                    shared.lease_until.store(until, Ordering::Relaxed);
                }
                Message::Tlease { .. } => {}
                other => {
                    tracing::debug!("mux client: ignoring unexpected {other:?} on tag {tag}");
                }
            }
            if shared.draining.load(Ordering::Relaxed) && lock(&shared.state).waiters.is_empty() {
                break 'session "the server drained the session".to_string();
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 << 10);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => break "the server closed the connection".to_string(),
            Err(e) => break e.to_string(),
            Ok(_) => {}
        }
    };
    if let Some(shared) = shared.upgrade() {
        lock(&shared.state).close(&why);
        shared.draining.store(true, Ordering::Relaxed);
    }
}

/// Pings the server every few seconds; one that has not answered the last ping by the
/// next is taken for dead and the session closed.
async fn ping_loop(shared: std::sync::Weak<Shared>) {
    loop {
        tokio::time::sleep(PING_EVERY - PING_WITHIN).await;
        {
            let Some(s) = shared.upgrade() else { return };
            if lock(&s.state).closed.is_some() {
                return;
            }
            s.ponged.store(false, Ordering::Relaxed);
            let _ = s.tx.send((CONTROL_TAG, Message::Tping));
        }
        tokio::time::sleep(PING_WITHIN).await;
        let Some(s) = shared.upgrade() else { return };
        if !s.ponged.load(Ordering::Relaxed) {
            lock(&s.state).close("the server stopped answering pings");
            s.draining.store(true, Ordering::Relaxed);
            return;
        }
    }
}
