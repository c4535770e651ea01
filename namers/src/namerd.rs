//! `io.l5d.namerd.http`: binding through namerd's streaming HTTP API, as Linkerd 1's
//! `StreamingNamerClient` does: each (dtab, name) a router binds is one
//! `GET /api/1/bind/<ns>?path=..&dtab=..&watch=1` stream of bound trees, and each bound id
//! in them one `GET /api/1/addr/<ns>?path=<id>&watch=1` stream of addresses, shared by
//! every tree that holds it.
//!
//! When namerd cannot be reached or a stream ends, the last state received stays in force
//! (linkerd keeps routing on it) and the stream is opened again with jittered backoff;
//! a stream nobody watches any more is closed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use l5d_core::addr::{Addr, Address, Meta};
use l5d_core::balance::Rng;
use l5d_core::binding::{Bound, NameInterpreter};
use l5d_core::http_client::{encode, stream};
use l5d_core::naming::{Dtab, NameTree, Path, Weighted};
use l5d_core::sync::lock;
use l5d_core::var::{Activity, Error, State, Updater, Var};
use serde_json::Value;

/// How long opening a stream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Reconnect backoff: jittered, doubling from `base` up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first wait.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// A bound tree's publisher.
type TreeUpdater = Arc<Updater<State<NameTree<Bound>>>>;

struct Inner {
    addr: SocketAddr,
    namespace: String,
    backoff: Backoff,
    binds: Mutex<HashMap<(String, Path), TreeUpdater>>,
    addrs: Mutex<HashMap<Path, Arc<Updater<Addr>>>>,
    rng: Rng,
}

/// A name interpreter backed by namerd's HTTP API.
pub struct NamerdHttp {
    inner: Arc<Inner>,
}

impl NamerdHttp {
    /// An interpreter for namespace `namespace` of the namerd at `addr`.
    pub fn new(addr: SocketAddr, namespace: &str, backoff: Backoff) -> NamerdHttp {
        NamerdHttp {
            inner: Arc::new(Inner {
                addr,
                namespace: namespace.to_string(),
                backoff,
                binds: Mutex::new(HashMap::new()),
                addrs: Mutex::new(HashMap::new()),
                rng: Rng::from_entropy(),
            }),
        }
    }
}

impl NameInterpreter for NamerdHttp {
    fn bind(&self, dtab: &Dtab, path: &Path) -> Activity<NameTree<Bound>> {
        let key = (dtab.show(), path.clone());
        let mut binds = lock(&self.inner.binds);
        if let Some(tx) = binds.get(&key).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, var) = Var::new(State::Pending);
        let tx = Arc::new(tx);
        binds.insert(key.clone(), tx.clone());
        let target = format!(
            "/api/1/bind/{}?path={}&dtab={}&watch=1",
            encode(&self.inner.namespace),
            encode(&path.show()),
            encode(&key.0)
        );
        tokio::spawn(follow_bind(Arc::downgrade(&self.inner), target, tx, key));
        var
    }
}

impl Inner {
    fn wait(&self, attempt: u32) -> Duration {
        let exp = self.backoff.base.saturating_mul(1 << attempt.min(16));
        let cap = exp.min(self.backoff.max);
        // Equal jitter: half fixed, half random, so a fleet does not reconnect at once.
        cap / 2 + cap.mul_f64(self.rng.unit() / 2.0)
    }

    /// The live address of bound id `id`, one stream per id.
    fn addr(self: &Arc<Self>, id: &Path) -> Var<Addr> {
        let mut addrs = lock(&self.addrs);
        if let Some(tx) = addrs.get(id).filter(|tx| !tx.is_closed()) {
            return tx.subscribe();
        }
        let (tx, var) = Var::new(Addr::Pending);
        let tx = Arc::new(tx);
        addrs.insert(id.clone(), tx.clone());
        let target = format!(
            "/api/1/addr/{}?path={}&watch=1",
            encode(&self.namespace),
            encode(&id.show())
        );
        tokio::spawn(follow_addr(Arc::downgrade(self), target, tx, id.clone()));
        var
    }

    fn tree(self: &Arc<Self>, v: &Value) -> Result<NameTree<Bound>, String> {
        Ok(match v["type"].as_str() {
            Some("leaf") => {
                let b = &v["bound"];
                let id = Path::read(b["id"].as_str().ok_or("a leaf without an id")?)
                    .map_err(|e| e.to_string())?;
                let residual =
                    Path::read(b["path"].as_str().unwrap_or("/")).map_err(|e| e.to_string())?;
                NameTree::Leaf(Bound {
                    addr: self.addr(&id),
                    id,
                    residual,
                    weight: None,
                })
            }
            Some("alt") => NameTree::Alt(
                v["alt"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| self.tree(t))
                    .collect::<Result<_, _>>()?,
            ),
            Some("union") => NameTree::Union(
                v["union"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|w| {
                        Ok(Weighted {
                            weight: w["weight"].as_f64().unwrap_or(1.0),
                            tree: self.tree(&w["tree"])?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            ),
            Some("neg") => NameTree::Neg,
            Some("fail") => NameTree::Fail,
            Some("empty") => NameTree::Empty,
            other => return Err(format!("a bound tree of type {other:?}")),
        })
    }
}

/// An address from namerd's JSON.
pub fn parse_addr(v: &Value) -> Result<Addr, String> {
    Ok(match v["type"].as_str() {
        Some("bound") => {
            let mut out = Vec::new();
            for a in v["addrs"].as_array().into_iter().flatten() {
                let ip: std::net::IpAddr = a["ip"]
                    .as_str()
                    .ok_or("an address without an ip")?
                    .parse()
                    .map_err(|e| format!("ip: {e}"))?;
                let port = a["port"].as_u64().ok_or("an address without a port")? as u16;
                let meta: Meta = a["meta"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                out.push(Address {
                    addr: SocketAddr::new(ip, port),
                    meta,
                });
            }
            let meta: Meta = v["meta"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            match Addr::bound(out) {
                Addr::Bound(a, _) => Addr::Bound(a, meta),
                other => other,
            }
        }
        Some("neg") => Addr::Neg,
        Some("failed") => Addr::Failed(v["cause"].as_str().unwrap_or("failed").into()),
        Some("pending") => Addr::Pending,
        other => return Err(format!("an address of type {other:?}")),
    })
}

/// Reads a stream of JSON documents into `apply` until it ends, reopening it with
/// backoff, for as long as `watched` says someone listens.
async fn follow<F>(inner: Weak<Inner>, target: String, watched: impl Fn() -> bool, mut apply: F)
where
    F: FnMut(&Arc<Inner>, Value),
{
    let mut attempt = 0u32;
    loop {
        let Some(i) = inner.upgrade() else { return };
        let addr = i.addr;
        drop(i);
        match stream(addr, &target, CONNECT_TIMEOUT).await {
            Ok((200, mut lines)) => loop {
                let line = tokio::select! {
                    l = lines.next_line() => l,
                    _ = wait_unwatched(&watched) => return,
                };
                match line {
                    Ok(Some(l)) if l.trim().is_empty() => {}
                    Ok(Some(l)) => match serde_json::from_str::<Value>(&l) {
                        Ok(v) => {
                            attempt = 0;
                            let Some(i) = inner.upgrade() else { return };
                            apply(&i, v);
                        }
                        Err(e) => tracing::warn!("namerd {addr}{target}: not JSON ({e}): {l}"),
                    },
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!("namerd {addr}{target}: {e}");
                        break;
                    }
                }
            },
            Ok((status, _)) => tracing::warn!("namerd {addr}{target}: answered {status}"),
            Err(e) => tracing::info!("namerd {addr}{target}: {e}"),
        }
        if !watched() {
            return;
        }
        let Some(i) = inner.upgrade() else { return };
        let wait = i.wait(attempt);
        drop(i);
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wait_unwatched(&watched) => return,
        }
    }
}

/// Resolves once nobody watches (checked every second; a closed stream is cheap to keep
/// that long).
async fn wait_unwatched(watched: &impl Fn() -> bool) {
    while watched() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn follow_bind(inner: Weak<Inner>, target: String, tx: TreeUpdater, key: (String, Path)) {
    let watched = {
        let tx = tx.clone();
        move || !tx.is_closed()
    };
    follow(inner.clone(), target, watched, |i, v| {
        let state = if let Some(e) = v["error"].as_str() {
            State::Failed(Error::new(e))
        } else {
            match i.tree(&v) {
                Ok(t) => State::Ok(t),
                Err(e) => {
                    tracing::warn!("namerd: {e}");
                    return;
                }
            }
        };
        tx.set(state);
    })
    .await;
    if let Some(i) = inner.upgrade() {
        let mut binds = lock(&i.binds);
        if binds.get(&key).is_some_and(|t| Arc::ptr_eq(t, &tx)) {
            binds.remove(&key);
        }
    }
}

async fn follow_addr(inner: Weak<Inner>, target: String, tx: Arc<Updater<Addr>>, id: Path) {
    let watched = {
        let tx = tx.clone();
        move || !tx.is_closed()
    };
    follow(inner.clone(), target, watched, |_, v| {
        match parse_addr(&v) {
            Ok(a) => {
                tx.set_if_changed(a);
            }
            Err(e) => tracing::warn!("namerd: {e}"),
        }
    })
    .await;
    if let Some(i) = inner.upgrade() {
        let mut addrs = lock(&i.addrs);
        if addrs.get(&id).is_some_and(|t| Arc::ptr_eq(t, &tx)) {
            addrs.remove(&id);
        }
    }
}
