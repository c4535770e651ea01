//! Dtab storage: namespaces and their dtabs, each with an opaque version, watchable, and
//! changed only with the version its writer last read (compare-and-set), so that two
//! operators never overwrite each other.
//!
//! `io.l5d.inMemory` keeps them in this process; `io.l5d.etcd` in etcd (the v2 keys API
//! Linkerd 1 uses), where a fleet of namerds shares them and they outlive any one.

pub mod etcd;
pub mod memory;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures::future::BoxFuture;
use l5d_core::naming::Dtab;
use l5d_core::sync::lock;
use l5d_core::var::{Activity, State, Updater, Var};

/// A dtab and the version it was stored as.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    /// The dtab.
    pub dtab: Dtab,
    /// Its version: opaque bytes (the `ETag`, base64-encoded).
    pub version: Vec<u8>,
}

/// Why a store refused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The namespace does not exist.
    NotFound,
    /// The namespace exists already.
    Exists,
    /// The namespace's version is no longer the one given.
    VersionMismatch,
    /// The store failed.
    Other(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("no such namespace"),
            StoreError::Exists => f.write_str("the namespace exists already"),
            StoreError::VersionMismatch => {
                f.write_str("the namespace changed since the version given")
            }
            StoreError::Other(e) => f.write_str(e),
        }
    }
}

/// A store's result.
pub type StoreResult = Result<(), StoreError>;

/// Namespaces and their versioned dtabs.
pub trait DtabStore: Send + Sync + 'static {
    /// The namespaces, as they change.
    fn list(&self) -> Activity<BTreeSet<String>>;

    /// One namespace's dtab (`None` while it does not exist), as it changes.
    fn observe(&self, ns: &str) -> Activity<Option<Versioned>>;

    /// Creates a namespace; `Exists` if it does.
    fn create(&self, ns: &str, dtab: Dtab) -> BoxFuture<'_, StoreResult>;

    /// Replaces a namespace's dtab if it is still at `version`.
    fn update(&self, ns: &str, dtab: Dtab, version: Vec<u8>) -> BoxFuture<'_, StoreResult>;

    /// Creates or replaces a namespace's dtab, whatever its version.
    fn put(&self, ns: &str, dtab: Dtab) -> BoxFuture<'_, StoreResult>;

    /// Deletes a namespace.
    fn delete(&self, ns: &str) -> BoxFuture<'_, StoreResult>;
}

/// The watchable values a store publishes: the namespace list and, for each namespace
/// anyone asked about, its dtab.
pub struct Published {
    list: Updater<State<BTreeSet<String>>>,
    list_var: Var<State<BTreeSet<String>>>,
    namespaces: Mutex<Namespaces>,
}

/// The namespaces' current values (once the store answered) and their watchers.
#[derive(Default)]
struct Namespaces {
    current: Option<HashMap<String, Versioned>>,
    vars: HashMap<String, NsVar>,
}

type NsVar = (
    Updater<State<Option<Versioned>>>,
    Var<State<Option<Versioned>>>,
);

impl Published {
    /// Nothing known yet: every value pending.
    pub fn pending() -> Published {
        let (list, list_var) = Var::new(State::Pending);
        Published {
            list,
            list_var,
            namespaces: Mutex::new(Namespaces::default()),
        }
    }

    /// The namespace list.
    pub fn list(&self) -> Activity<BTreeSet<String>> {
        self.list_var.clone()
    }

    /// A namespace's dtab: pending until the store first answers, then `None` while the
    /// namespace does not exist.
    pub fn observe(&self, ns: &str) -> Activity<Option<Versioned>> {
        let mut m = lock(&self.namespaces);
        if let Some((_, var)) = m.vars.get(ns) {
            return var.clone();
        }
        let initial = match &m.current {
            Some(all) => State::Ok(all.get(ns).cloned()),
            None => State::Pending,
        };
        let (tx, var) = Var::new(initial);
        m.vars.insert(ns.to_string(), (tx, var.clone()));
        var
    }

    /// Publishes every namespace's current dtab (those absent from `all` do not exist).
    pub fn publish_all(&self, all: &HashMap<String, Versioned>) {
        let mut m = lock(&self.namespaces);
        m.current = Some(all.clone());
        for (ns, (tx, _)) in m.vars.iter() {
            tx.set_if_changed(State::Ok(all.get(ns).cloned()));
        }
        let names: BTreeSet<String> = all.keys().cloned().collect();
        self.list.set_if_changed(State::Ok(names));
    }

    /// Publishes one namespace's dtab, and the namespace list with it.
    pub fn publish(&self, ns: &str, value: Option<Versioned>) {
        let mut m = lock(&self.namespaces);
        let current = m.current.get_or_insert_with(HashMap::new);
        match &value {
            Some(v) => current.insert(ns.to_string(), v.clone()),
            None => current.remove(ns),
        };
        let names: BTreeSet<String> = current.keys().cloned().collect();
        match m.vars.get(ns) {
            Some((tx, _)) => {
                tx.set_if_changed(State::Ok(value));
            }
            None => {
                let (tx, var) = Var::new(State::Ok(value));
                m.vars.insert(ns.to_string(), (tx, var));
            }
        }
        self.list.set_if_changed(State::Ok(names));
    }
}

/// A namespace's dtab as a live value for binding: empty while it does not exist or
/// the store has not answered (a namespace without a dtab binds with an empty one, as in
/// Linkerd 1).
pub fn dtab_var(store: &dyn DtabStore, ns: &str) -> Var<Dtab> {
    let mut observed = store.observe(ns);
    let current = |s: &State<Option<Versioned>>| match s {
        State::Ok(Some(v)) => v.dtab.clone(),
        _ => Dtab::empty(),
    };
    let (tx, var) = Var::new(current(&observed.get_and_mark_seen()));
    tokio::spawn(async move {
        while observed.changed().await {
            let state = observed.get_and_mark_seen().clone();
            // A failed store keeps the last dtab rather than routing with none.
            if !matches!(state, State::Failed(_)) {
                tx.set_if_changed(current(&state));
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    var
}
