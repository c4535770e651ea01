//! `io.l5d.thriftNameInterpreter`: namerd's `Namer` service over ThriftMux, the interface
//! linkerd's `io.l5d.namerd` interpreter long-polls.
//!
//! Each distinct value a watched key takes (a binding, an address, a dtab) gets a new
//! stamp from a process-wide counter seeded at random (so two namerds behind one address
//! do not hand out the same stamps). A request whose stamp differs from the current one
//! is answered at once; one that holds the current stamp waits until the value changes
//! (or until the client discards the call). `delegate` is not served here yet: it answers
//! with a `DelegationFailure` pointing at the HTTP API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use l5d_core::addr::Addr;
use l5d_core::binding::{Bound, ConfiguredNamers, NameInterpreter, SharedNamer};
use l5d_core::naming::{Dtab, NameTree, Path};
use l5d_core::shutdown::Drain;
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Var};
use l5d_mux::server::{serve, SessionSettings};
use l5d_mux::thriftmux::ThriftMuxService;
use l5d_namers::namer_idl::{self as idl, BoundName, Request};
use l5d_thrift::value::Message;
use tokio::net::TcpListener;

use crate::store::{dtab_var, DtabStore, Versioned};

/// Bound on the watched keys kept (Linkerd 1's observer caches hold 1000 active ones).
const MAX_OBSERVED: usize = 1000;

/// A watched value's last distinct value and its stamp.
type Stamped<T> = Mutex<Option<(T, Bytes)>>;

struct BindObserver {
    act: Activity<NameTree<Bound>>,
    stamp: Stamped<NameTree<BoundName>>,
}

struct AddrObserver {
    /// The binding of the id, held so its namer keeps watching.
    _binding: Activity<NameTree<Bound>>,
    addr: Var<Addr>,
    stamp: Stamped<Addr>,
}

struct DtabObserver {
    observed: Activity<Option<Versioned>>,
    stamp: Stamped<String>,
}

/// The Namer service.
pub struct NamerService {
    store: Arc<dyn DtabStore>,
    namers: Vec<(Path, SharedNamer)>,
    next_stamp: AtomicU64,
    binds: Mutex<HashMap<(String, String, Path), Arc<BindObserver>>>,
    addrs: Mutex<HashMap<Path, Arc<AddrObserver>>>,
    dtabs: Mutex<HashMap<String, Arc<DtabObserver>>>,
}

fn cached<K: std::hash::Hash + Eq, V>(
    map: &Mutex<HashMap<K, Arc<V>>>,
    key: K,
    make: impl FnOnce() -> V,
) -> Arc<V> {
    let mut m = lock(map);
    if let Some(v) = m.get(&key) {
        return v.clone();
    }
    if m.len() >= MAX_OBSERVED {
        // Forget those nobody is waiting on.
        m.retain(|_, v| Arc::strong_count(v) > 1);
    }
    let v = Arc::new(make());
    m.insert(key, v.clone());
    v
}

impl NamerService {
    /// The service over `store`, binding with `namers`.
    pub fn new(store: Arc<dyn DtabStore>, namers: Vec<(Path, SharedNamer)>) -> NamerService {
        let seed = l5d_core::balance::Rng::from_entropy().next_u64();
        NamerService {
            store,
            namers,
            next_stamp: AtomicU64::new(seed),
            binds: Mutex::new(HashMap::new()),
            addrs: Mutex::new(HashMap::new()),
            dtabs: Mutex::new(HashMap::new()),
        }
    }

    /// The stamp of `value`: the last one if it has not changed, else a new one.
    fn stamp<T: PartialEq + Clone>(&self, cell: &Stamped<T>, value: &T) -> Bytes {
        let mut c = lock(cell);
        if let Some((v, s)) = &*c {
            if v == value {
                return s.clone();
            }
        }
        let s = Bytes::copy_from_slice(
            &self
                .next_stamp
                .fetch_add(1, Ordering::Relaxed)
                .to_be_bytes(),
        );
        *c = Some((value.clone(), s.clone()));
        s
    }

    /// Serves one call (a binary-protocol Thrift message); its reply.
    pub async fn call(&self, message: Bytes) -> Result<Bytes, String> {
        let m = Message::decode(&message).map_err(|e| format!("not a Thrift call: {e}"))?;
        let seqid = m.seqid;
        // Per method: calls, and long polls held now.
        let method = match m.name.as_str() {
            "bind" | "addr" | "dtab" | "delegate" => m.name.clone(),
            _ => "unknown".to_string(),
        };
        metrics::counter!(format!("namerd/thrift/{method}/requests")).increment(1);
        let held = metrics::gauge!(format!("namerd/thrift/{method}/pending"));
        held.increment(1.0);
        let _held = Held(held);
        let reply = match idl::read_request(&m)? {
            Request::Bind {
                dtab,
                stamp,
                name,
                ns,
            } => self.bind(seqid, dtab, stamp, name, ns).await,
            Request::Addr { stamp, id } => self.addr(seqid, stamp, id).await,
            Request::Dtab { stamp, ns } => self.dtab(seqid, stamp, ns).await,
            Request::Delegate {
                dtab,
                name,
                ns,
                stamp,
            } => {
                if !stamp.is_empty() {
                    // Delegations are not long polls: old clients that send a stamp are
                    // left waiting, as Linkerd 1 leaves them.
                    std::future::pending::<()>().await;
                }
                self.delegate(seqid, dtab, name, ns).await
            }
        };
        Ok(reply.encode())
    }

    async fn bind(
        &self,
        seqid: i32,
        dtab: String,
        stamp: Bytes,
        name: Path,
        ns: String,
    ) -> Message {
        if name.is_empty() {
            return idl::bound_reply(seqid, &ns, Err("empty path".into()));
        }
        let local = match Dtab::read(&dtab) {
            Ok(d) => d,
            Err(e) => return idl::bound_reply(seqid, &ns, Err(format!("invalid dtab: {e}"))),
        };
        let obs = cached(&self.binds, (ns.clone(), dtab, name.clone()), || {
            let interpreter = ConfiguredNamers::new(self.namers.clone())
                .with_base_dtab(dtab_var(&*self.store, &ns));
            BindObserver {
                act: interpreter.bind(&local, &name),
                stamp: Mutex::new(None),
            }
        });
        let mut act = obs.act.clone();
        loop {
            let state = act.get_and_mark_seen().clone();
            match state {
                State::Ok(tree) => {
                    let ids = tree.map(&mut |b: Bound| (b.id, b.residual));
                    let current = self.stamp(&obs.stamp, &ids);
                    if current != stamp {
                        return idl::bound_reply(seqid, &ns, Ok((&current, &ids)));
                    }
                }
                State::Failed(e) => return idl::bound_reply(seqid, &ns, Err(e.to_string())),
                State::Pending => {}
            }
            if !act.changed().await {
                // A binding that can never change again: the poll waits until the
                // client gives up on it.
                std::future::pending::<()>().await;
            }
        }
    }

    async fn delegate(&self, seqid: i32, dtab: String, name: Path, ns: String) -> Message {
        let local = match Dtab::read(&dtab) {
            Ok(d) => d,
            Err(e) => return idl::delegation_reply(seqid, &ns, Err(format!("invalid dtab: {e}"))),
        };
        let interpreter =
            ConfiguredNamers::new(self.namers.clone()).with_base_dtab(dtab_var(&*self.store, &ns));
        let timeout = Duration::from_secs(2);
        match interpreter.delegate(&local, &name, timeout).await {
            Ok(tree) => {
                let tree = tree.map_leaves(&mut |b: Bound| (b.id, b.residual));
                idl::delegation_reply(seqid, &ns, Ok(&tree))
            }
            Err(e) => idl::delegation_reply(seqid, &ns, Err(e.to_string())),
        }
    }

    async fn addr(&self, seqid: i32, stamp: Bytes, mut id: Path) -> Message {
        if id.is_empty() {
            return idl::addr_reply(seqid, Err("empty path".into()));
        }
        // Transformers' ids start with /%/<prefix>; the namers know the id without it.
        if id.elems().first().is_some_and(|e| &e[..] == b"%") && id.len() > 1 {
            id = id.drop(2);
        }
        let mut binding = ConfiguredNamers::new(self.namers.clone()).bind(&Dtab::empty(), &id);
        // The id's own binding must settle to one leaf before its address can be watched.
        let leaf = loop {
            let state = binding.get_and_mark_seen().clone();
            match state {
                State::Ok(NameTree::Leaf(b)) => break b,
                State::Ok(NameTree::Neg) => {
                    return idl::addr_reply(seqid, Ok((b"neg", &Addr::Neg)));
                }
                State::Ok(_) => {
                    return idl::addr_reply(
                        seqid,
                        Err(format!("{} is not a concrete bound id", id.show())),
                    )
                }
                State::Failed(e) => return idl::addr_reply(seqid, Err(e.to_string())),
                State::Pending => {
                    if !binding.changed().await {
                        return idl::addr_reply(seqid, Err("the binding ended".into()));
                    }
                }
            }
        };
        let obs = cached(&self.addrs, id.clone(), || AddrObserver {
            _binding: binding,
            addr: leaf.addr.clone(),
            stamp: Mutex::new(None),
        });
        let mut addr = obs.addr.clone();
        loop {
            let current = addr.get_and_mark_seen().clone();
            match &current {
                Addr::Pending => {}
                Addr::Failed(e) => return idl::addr_reply(seqid, Err(e.to_string())),
                _ => {
                    let s = self.stamp(&obs.stamp, &current);
                    if s != stamp {
                        return idl::addr_reply(seqid, Ok((&s, &current)));
                    }
                }
            }
            if !addr.changed().await {
                // A constant address (`/$/inet`): the poll waits until discarded.
                std::future::pending::<()>().await;
            }
        }
    }

    async fn dtab(&self, seqid: i32, stamp: Bytes, ns: String) -> Message {
        let obs = cached(&self.dtabs, ns.clone(), || DtabObserver {
            observed: self.store.observe(&ns),
            stamp: Mutex::new(None),
        });
        let mut observed = obs.observed.clone();
        loop {
            let state = observed.get_and_mark_seen().clone();
            match state {
                State::Ok(v) => {
                    // A namespace that does not exist has the empty dtab.
                    let text = v.map(|v| v.dtab.show()).unwrap_or_default();
                    let s = self.stamp(&obs.stamp, &text);
                    if s != stamp {
                        return idl::dtab_reply(seqid, Ok((&s, &text)));
                    }
                }
                State::Failed(e) => return idl::dtab_reply(seqid, Err(e.to_string())),
                State::Pending => {}
            }
            if !observed.changed().await {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Counts a call as pending until it is answered or discarded.
struct Held(metrics::Gauge);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Serves the Namer service over ThriftMux on `addr`; the address bound.
pub async fn start(
    service: Arc<NamerService>,
    addr: SocketAddr,
    drain: Arc<Drain>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let handler = Arc::new(ThriftMuxService(Arc::new(move |call: Bytes| {
        let service = service.clone();
        async move { service.call(call).await }
    })));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let settings = SessionSettings {
                admission: None,
                drain: drain.clone(),
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, BytesMut::new(), handler, settings).await {
                    tracing::info!("thrift name interpreter session ended: {e}");
                }
            });
        }
    });
    Ok(local)
}
