//! A router's live bindings: each request's name bound through the router's dtab (and
//! the request's own), cached per (local dtab, name) and kept live, and resolved to the
//! clients of its bound ids once per change rather than per request.
//!
//! The services (logical names) and clients (bound ids) the bindings use are cached too,
//! within Linkerd 1's `bindingCache` bounds: past them, those no binding uses are
//! forgotten with their metrics, so names taken from requests cannot grow memory without
//! bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::balance::Rng;
use crate::binding::{Bound, NameInterpreter};
use crate::identifier::Dst;
use crate::metrics::Registry;
use crate::naming::{NameTree, Path};
use crate::router::client::{Client, Endpoint};
use crate::router::stats::scope_name;
use crate::sync::lock;
use crate::var::{Activity, State};

/// Bound on cached bindings before the cache is emptied and refilled (Linkerd 1's
/// `bindingCache.paths` default).
const MAX_BINDINGS: usize = 1000;

/// Bound on services and clients kept (Linkerd 1's `bindingCache` defaults).
const MAX_CLIENTS: usize = 1000;

/// Why a binding did not resolve.
#[derive(Debug)]
pub enum BindError {
    /// The name's binding failed.
    Failed(String),
    /// The name did not bind within `bindingTimeoutMs`.
    TimedOut(String),
}

/// Makes the client of a bound id.
pub type NewClient<E> = Box<dyn Fn(&Bound) -> Client<E> + Send + Sync>;

/// Makes a leaf of a resolved binding from the bound name and its client.
pub type NewLeaf<L, E> = Box<dyn Fn(&Bound, Arc<Client<E>>) -> L + Send + Sync>;

/// What a router makes of names and bound ids: its services, clients and leaves.
pub struct Factories<S, L, E> {
    /// The service of a logical name.
    pub service: Box<dyn Fn(&Path) -> S + Send + Sync>,
    /// The client of a bound id.
    pub client: NewClient<E>,
    /// A leaf of a resolved binding: the client of the bound id and what requests carry
    /// for it.
    pub leaf: NewLeaf<L, E>,
}

/// A live binding and its last resolution to leaves (none until first resolved).
type BindingState<L> = (Activity<NameTree<Bound>>, Option<Arc<NameTree<L>>>);

/// A cached binding of one name, with its service.
pub struct Binding<S, L> {
    /// The service of the name.
    pub service: Arc<S>,
    state: Mutex<BindingState<L>>,
    /// When a request last used it, in ms of the process clock.
    last_used: std::sync::atomic::AtomicU64,
}

fn now_ms() -> u64 {
    crate::clock::now().as_millis() as u64
}

struct Caches<S, L, E> {
    /// Bindings of requests without a local dtab, by name.
    plain: HashMap<Path, Arc<Binding<S, L>>>,
    /// Bindings of requests with one, by (local dtab as text, name).
    local: HashMap<(String, Path), Arc<Binding<S, L>>>,
    services: HashMap<Path, Arc<S>>,
    clients: HashMap<Path, Arc<Client<E>>>,
}

/// The bindings, services and clients of one router.
pub struct Bindings<S, L, E> {
    label: String,
    interpreter: Arc<dyn NameInterpreter>,
    registry: Registry,
    binding_timeout: Duration,
    /// Bindings unused this long are forgotten (`bindingCache.idleTtlSecs`), with the
    /// services and clients only they used, so their watches close.
    idle_ttl: Duration,
    caches: Mutex<Caches<S, L, E>>,
    make: Factories<S, L, E>,
}

impl<S, L, E: Endpoint> Bindings<S, L, E> {
    /// The bindings of router `label`, bound with `interpreter`, waiting at most
    /// `binding_timeout` for a name to bind, with metrics in `registry`.
    pub fn new(
        label: &str,
        interpreter: Arc<dyn NameInterpreter>,
        registry: Registry,
        binding_timeout: Duration,
        make: Factories<S, L, E>,
    ) -> Bindings<S, L, E> {
        Bindings {
            label: label.to_string(),
            interpreter,
            registry,
            binding_timeout,
            idle_ttl: Duration::from_secs(600),
            caches: Mutex::new(Caches {
                plain: HashMap::new(),
                local: HashMap::new(),
                services: HashMap::new(),
                clients: HashMap::new(),
            }),
            make,
        }
    }

    /// The same bindings, forgetting those unused for `ttl` (Linkerd 1's
    /// `bindingCache.idleTtlSecs`, 600 s by default).
    pub fn with_idle_ttl(mut self, ttl: Duration) -> Bindings<S, L, E> {
        self.idle_ttl = ttl;
        self
    }

    /// The interpreter names are bound with.
    pub fn interpreter(&self) -> &Arc<dyn NameInterpreter> {
        &self.interpreter
    }

    /// The cached binding for `dst`, made on first use.
    pub fn binding(&self, dst: &Dst) -> Arc<Binding<S, L>> {
        let mut caches = lock(&self.caches);
        let found = if dst.local_dtab.is_empty() {
            caches.plain.get(&dst.path).cloned()
        } else {
            caches
                .local
                .get(&(dst.local_dtab.show(), dst.path.clone()))
                .cloned()
        };
        if let Some(b) = found {
            b.last_used
                .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
            return b;
        }
        if caches.plain.len() + caches.local.len() >= MAX_BINDINGS {
            caches.plain.clear();
            caches.local.clear();
        }
        let service = self.service(&mut caches, &dst.path);
        let binding = Arc::new(Binding {
            service,
            state: Mutex::new((self.interpreter.bind(&dst.dtab(), &dst.path), None)),
            last_used: std::sync::atomic::AtomicU64::new(now_ms()),
        });
        if dst.local_dtab.is_empty() {
            caches.plain.insert(dst.path.clone(), binding.clone());
        } else {
            caches
                .local
                .insert((dst.local_dtab.show(), dst.path.clone()), binding.clone());
        }
        binding
    }

    fn service(&self, caches: &mut Caches<S, L, E>, name: &Path) -> Arc<S> {
        if let Some(s) = caches.services.get(name) {
            return s.clone();
        }
        self.evict_unused(&mut caches.services, "service");
        let s = Arc::new((self.make.service)(name));
        caches.services.insert(name.clone(), s.clone());
        s
    }

    /// Once `cache` is full, forgets the entries no binding uses any more, with their
    /// metrics (`rt/<label>/<kind>/<name>`).
    fn evict_unused<T>(&self, cache: &mut HashMap<Path, Arc<T>>, kind: &str) {
        if cache.len() < MAX_CLIENTS {
            return;
        }
        cache.retain(|name, entry| {
            let keep = Arc::strong_count(entry) > 1;
            if !keep {
                let scope = format!("rt/{}/{kind}/{}", self.label, scope_name(name));
                self.registry.remove(&scope);
            }
            keep
        });
    }

    fn client(&self, bound: &Bound) -> Arc<Client<E>> {
        let mut caches = lock(&self.caches);
        if let Some(c) = caches.clients.get(&bound.id) {
            c.follow(&bound.addr);
            return c.clone();
        }
        self.evict_unused(&mut caches.clients, "client");
        let c = Arc::new((self.make.client)(bound));
        caches.clients.insert(bound.id.clone(), c.clone());
        c
    }

    /// The binding's current tree of leaves, once it is not pending.
    pub async fn resolve(
        &self,
        dst: &Dst,
        binding: &Binding<S, L>,
    ) -> Result<Arc<NameTree<L>>, BindError> {
        let deadline = tokio::time::Instant::now() + self.binding_timeout;
        loop {
            let mut waiting = {
                let mut state = lock(&binding.state);
                let (act, resolved) = &mut *state;
                if !act.has_changed() {
                    if let Some(tree) = resolved {
                        return Ok(tree.clone());
                    }
                }
                let current = act.get_and_mark_seen().clone();
                match current {
                    State::Ok(tree) => {
                        let tree = Arc::new(
                            tree.map(&mut |b: Bound| (self.make.leaf)(&b, self.client(&b))),
                        );
                        *resolved = Some(tree.clone());
                        return Ok(tree);
                    }
                    State::Failed(e) => {
                        return Err(BindError::Failed(format!(
                            "binding {} failed: {e}",
                            dst.path
                        )))
                    }
                    State::Pending => act.clone(),
                }
            };
            match tokio::time::timeout_at(deadline, waiting.changed()).await {
                Ok(true) => {}
                _ => {
                    return Err(BindError::TimedOut(format!(
                        "binding {} timed out after {:?}",
                        dst.path, self.binding_timeout
                    )))
                }
            }
        }
    }

    /// The clients made so far.
    pub fn clients(&self) -> Vec<Arc<Client<E>>> {
        lock(&self.caches).clients.values().cloned().collect()
    }

    /// Closes pooled connections idle past their clients' `idleTimeMs`, and forgets
    /// bindings idle past `idleTtlSecs` with the services and clients no other binding
    /// uses (and their metrics).
    pub fn sweep(&self) {
        self.forget_idle();
        let now = std::time::Instant::now();
        for c in self.clients() {
            c.sweep(now);
        }
    }

    fn forget_idle(&self) {
        let cutoff = now_ms().saturating_sub(self.idle_ttl.as_millis() as u64);
        let idle = |b: &Arc<Binding<S, L>>| {
            b.last_used.load(std::sync::atomic::Ordering::Relaxed) < cutoff
                && Arc::strong_count(b) == 1
        };
        let mut caches = lock(&self.caches);
        let before = caches.plain.len() + caches.local.len();
        caches.plain.retain(|_, b| !idle(b));
        caches.local.retain(|_, b| !idle(b));
        if caches.plain.len() + caches.local.len() == before {
            return;
        }
        // What only the forgotten bindings used goes too.
        let label = &self.label;
        let registry = &self.registry;
        let drop_unused = |kind: &str, name: &Path| {
            registry.remove(&format!("rt/{label}/{kind}/{}", scope_name(name)));
        };
        caches.services.retain(|name, s| {
            let keep = Arc::strong_count(s) > 1;
            if !keep {
                drop_unused("service", name);
            }
            keep
        });
        // A client is held by resolved trees; once their bindings are gone, only the
        // cache holds it.
        caches.clients.retain(|id, c| {
            let keep = Arc::strong_count(c) > 1;
            if !keep {
                drop_unused("client", id);
            }
            keep
        });
    }

    /// Each client's state, by bound id, as `/client_state.json` shows it.
    pub fn client_state(&self) -> Vec<(String, serde_json::Value)> {
        self.clients()
            .iter()
            .map(|c| (c.id.show(), c.state_json()))
            .collect()
    }

    /// How the name of `dst` resolves, as Linkerd 1's "no route" errors list it.
    pub async fn resolutions(&self, dst: &Dst) -> Vec<String> {
        match self.interpreter.delegator() {
            Some(d) => match d
                .delegate(&dst.dtab(), &dst.path, Duration::from_millis(500))
                .await
            {
                Ok(tree) => tree.resolutions(),
                Err(e) => vec![format!("unknown ({e})")],
            },
            None => vec!["unknown".into()],
        }
    }
}

/// One leaf of a resolved tree: unions split traffic by weight, alternatives take their
/// first routable branch (binding has already dropped the negative ones).
pub fn pick<'t, L>(tree: &'t NameTree<L>, rng: &Rng) -> Option<&'t L> {
    match tree {
        NameTree::Leaf(l) => Some(l),
        NameTree::Union(ws) => {
            let total: f64 = ws.iter().map(|w| w.weight.max(0.0)).sum();
            let mut x = rng.unit() * total;
            for w in ws {
                x -= w.weight.max(0.0);
                if x < 0.0 {
                    return pick(&w.tree, rng);
                }
            }
            ws.last().and_then(|w| pick(&w.tree, rng))
        }
        NameTree::Alt(ts) => ts.iter().find_map(|t| pick(t, rng)),
        NameTree::Neg | NameTree::Fail | NameTree::Empty => None,
    }
}
