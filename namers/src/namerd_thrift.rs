//! `io.l5d.namerd`: binding through namerd's `Namer` service over ThriftMux, as Linkerd 1's
//! `ThriftNamerClient` does: each (dtab, name) a router binds is a long poll of `bind`
//! with the stamp of the last answer (namerd holds it until the binding changes), and each
//! bound id in the answers a long poll of `addr`, shared by every tree that holds it.
//!
//! A poll nobody watches any more is discarded (the dropped call sends Tdiscarded). When
//! namerd fails or cannot be reached, the last state received stays in force and the poll
//! is retried with jittered backoff on a new session; a declared failure (`BindFailure`)
//! is published as the binding's failure and retried with the same stamp.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use l5d_core::addr::Addr;
use l5d_core::balance::Rng;
use l5d_core::binding::{Bound, NameInterpreter};
use l5d_core::naming::{Dtab, NameTree, Path};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, Error, State, Updater, Var};
use l5d_mux::thriftmux::ThriftMuxClient;
use l5d_thrift::value::Message;

use crate::namer_idl as idl;
use crate::namerd::Backoff;

/// How long connecting to namerd may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound tree's publisher.
type TreeUpdater = Arc<Updater<State<NameTree<Bound>>>>;

struct Inner {
    addr: SocketAddr,
    namespace: String,
    backoff: Backoff,
    session: tokio::sync::Mutex<Option<ThriftMuxClient>>,
    binds: Mutex<HashMap<(String, Path), TreeUpdater>>,
    addrs: Mutex<HashMap<Path, Arc<Updater<Addr>>>>,
    seqid: AtomicI32,
    rng: Rng,
}

/// A name interpreter backed by namerd's ThriftMux interface.
pub struct NamerdThrift {
    inner: Arc<Inner>,
}

impl NamerdThrift {
    /// An interpreter for namespace `namespace` of the namerd at `addr`.
    pub fn new(addr: SocketAddr, namespace: &str, backoff: Backoff) -> NamerdThrift {
        NamerdThrift {
            inner: Arc::new(Inner {
                addr,
                namespace: namespace.to_string(),
                backoff,
                session: tokio::sync::Mutex::new(None),
                binds: Mutex::new(HashMap::new()),
                addrs: Mutex::new(HashMap::new()),
                seqid: AtomicI32::new(1),
                rng: Rng::from_entropy(),
            }),
        }
    }
}

impl NameInterpreter for NamerdThrift {
    fn bind(&self, dtab: &Dtab, path: &Path) -> Activity<NameTree<Bound>> {
        let key = (dtab.show(), path.clone());
        let mut binds = lock(&self.inner.binds);
        if let Some(tx) = binds.get(&key).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, var) = Var::new(State::Pending);
        let tx = Arc::new(tx);
        binds.insert(key.clone(), tx.clone());
        tokio::spawn(poll_bind(Arc::downgrade(&self.inner), tx, key));
        var
    }
}

impl Inner {
    fn wait(&self, attempt: u32) -> Duration {
        let exp = self.backoff.base.saturating_mul(1 << attempt.min(16));
        let cap = exp.min(self.backoff.max);
        cap / 2 + cap.mul_f64(self.rng.unit() / 2.0)
    }

    fn next_seqid(&self) -> i32 {
        self.seqid.fetch_add(1, Ordering::Relaxed)
    }

    /// The session to namerd, made anew when there is none that works.
    async fn session(&self) -> Result<ThriftMuxClient, String> {
        let mut s = self.session.lock().await;
        if let Some(c) = s.as_ref().filter(|c| c.is_available()) {
            return Ok(c.clone());
        }
        let c = ThriftMuxClient::connect(self.addr, CONNECT_TIMEOUT).await?;
        *s = Some(c.clone());
        Ok(c)
    }

    /// One call: the reply message, or why there is none.
    async fn call(&self, m: Message) -> Result<Message, String> {
        let client = self.session().await?;
        let reply = client.call(m.encode()).await?;
        Message::decode(&reply).map_err(|e| format!("namerd's reply: {e}"))
    }

    /// The live address of bound id `id`, one poll per id.
    fn addr(self: &Arc<Self>, id: &Path) -> Var<Addr> {
        let mut addrs = lock(&self.addrs);
        if let Some(tx) = addrs.get(id).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, var) = Var::new(Addr::Pending);
        let tx = Arc::new(tx);
        addrs.insert(id.clone(), tx.clone());
        tokio::spawn(poll_addr(Arc::downgrade(self), tx, id.clone()));
        var
    }
}

/// What one poll came back with.
enum Polled<T> {
    /// A new value at a new stamp.
    Value(Bytes, T),
    /// namerd's declared failure.
    Failed(String),
    /// No answer: namerd is down, or the session broke.
    Unreachable(String),
}

/// Long-polls with `ask` until nobody watches: each answer goes to `publish` and the next
/// poll carries its stamp; failures back off.
async fn poll<T, A, Fut>(
    inner: Weak<Inner>,
    watched: impl Fn() -> bool,
    closed: impl Fn() -> futures::future::BoxFuture<'static, ()>,
    mut ask: A,
    mut publish: impl FnMut(&Arc<Inner>, Result<T, String>),
) where
    A: FnMut(Arc<Inner>, Bytes) -> Fut,
    Fut: std::future::Future<Output = Polled<T>>,
{
    let mut stamp = Bytes::new();
    let mut attempt = 0u32;
    while watched() {
        let Some(i) = inner.upgrade() else { return };
        let polled = tokio::select! {
            p = ask(i.clone(), stamp.clone()) => p,
            // Dropping the poll discards the call at namerd.
            _ = closed() => return,
        };
        match polled {
            Polled::Value(s, v) => {
                stamp = s;
                attempt = 0;
                publish(&i, Ok(v));
                continue;
            }
            Polled::Failed(reason) => {
                tracing::info!("namerd at {}: {reason}", i.addr);
                publish(&i, Err(reason));
            }
            Polled::Unreachable(e) => {
                tracing::info!("namerd at {}: {e}", i.addr);
                stamp = Bytes::new();
            }
        }
        let wait = i.wait(attempt);
        drop(i);
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = closed() => return,
        }
    }
}

async fn poll_bind(inner: Weak<Inner>, tx: TreeUpdater, key: (String, Path)) {
    let (dtab, path) = key.clone();
    let watched = {
        let tx = tx.clone();
        move || !tx.is_closed()
    };
    let closed = {
        let tx = tx.clone();
        move || -> futures::future::BoxFuture<'static, ()> {
            let tx = tx.clone();
            Box::pin(async move { tx.closed().await })
        }
    };
    let ask = |i: Arc<Inner>, stamp: Bytes| {
        let (dtab, path) = (dtab.clone(), path.clone());
        async move {
            let m = idl::bind_call(i.next_seqid(), &dtab, &stamp, &path, &i.namespace);
            match i.call(m).await {
                Err(e) => Polled::Unreachable(e),
                Ok(reply) => match idl::read_bound(&reply) {
                    Ok((s, tree)) => Polled::Value(s, tree),
                    Err(reason) => Polled::Failed(reason),
                },
            }
        }
    };
    poll(inner.clone(), watched, closed, ask, |i, r| {
        tx.set(match r {
            Ok(tree) => State::Ok(tree.map(&mut |(id, residual): idl::BoundName| Bound {
                addr: i.addr(&id),
                id,
                residual,
                weight: None,
            })),
            Err(reason) => State::Failed(Error::new(reason)),
        });
    })
    .await;
    if let Some(i) = inner.upgrade() {
        let mut binds = lock(&i.binds);
        if binds.get(&key).is_some_and(|t| Arc::ptr_eq(t, &tx)) {
            binds.remove(&key);
        }
    }
}

async fn poll_addr(inner: Weak<Inner>, tx: Arc<Updater<Addr>>, id: Path) {
    let watched = {
        let tx = tx.clone();
        move || !tx.is_closed()
    };
    let closed = {
        let tx = tx.clone();
        move || -> futures::future::BoxFuture<'static, ()> {
            let tx = tx.clone();
            Box::pin(async move { tx.closed().await })
        }
    };
    let ask = |i: Arc<Inner>, stamp: Bytes| {
        let id = id.clone();
        async move {
            let m = idl::addr_call(i.next_seqid(), &stamp, &id, &i.namespace);
            match i.call(m).await {
                Err(e) => Polled::Unreachable(e),
                Ok(reply) => match idl::read_addr(&reply) {
                    Ok((s, addr)) => Polled::Value(s, addr),
                    Err(reason) => Polled::Failed(reason),
                },
            }
        }
    };
    poll(inner.clone(), watched, closed, ask, |_, r| {
        let addr = match r {
            Ok(a) => a,
            Err(reason) => Addr::Failed(reason.into()),
        };
        tx.set_if_changed(addr);
    })
    .await;
    if let Some(i) = inner.upgrade() {
        let mut addrs = lock(&i.addrs);
        if addrs.get(&id).is_some_and(|t| Arc::ptr_eq(t, &tx)) {
            addrs.remove(&id);
        }
    }
}
