//! Binding: turning a path into a tree of bound names by rewriting it through a dtab,
//! configured namers (`/#/<prefix>/...`) and the system namers (`/$/...`).
//!
//! The algorithm is Finagle's `Namer.bind` with linkerd's `ConfiguredNamersInterpreter`
//! lookup order; `../shared/spec/dtab.md` §5 records its semantics, which users' dtabs
//! depend on to the corner case.

mod bind;
mod inet;
pub(crate) mod interpreter;
pub(crate) mod live;
mod system;
#[cfg(test)]
mod tests;
pub mod transform;

pub use bind::{bind_path, max_depth_error, Lookup, MAX_DEPTH};
pub use inet::{parse_ip, resolve_inet};
pub use interpreter::ConfiguredNamers;
pub use system::SystemNamer;
pub use transform::{AddrTransformer, TransformedInterpreter, TransformedNamer, Transformer};

use std::fmt;
use std::sync::Arc;

use crate::addr::Addr;
use crate::naming::{Dtab, NameTree, Path};
use crate::var::{Activity, Var};

/// A name in a tree a namer returns: either a path still to be bound, or a bound name.
#[derive(Clone, Debug, PartialEq)]
pub enum Name {
    /// A path to look up further (a rewrite, as the rewrite namer returns).
    Path(Path),
    /// A bound name.
    Bound(Bound),
}

/// A bound name: what a client is built for (Finagle's `Name.Bound`).
#[derive(Clone)]
pub struct Bound {
    /// The bound id, a path that binds back to this name (`/$/inet/127.0.0.1/8080`,
    /// `/#/io.l5d.fs/users`); clients and metrics are keyed by it.
    pub id: Path,
    /// The part of the original path the namer did not consume.
    pub residual: Path,
    /// The endpoints, updated live.
    pub addr: Var<Addr>,
    /// The weight of the union member this name was bound under, if any; Finagle adds it
    /// to the address set's metadata as `namer_nametree_weight` ([`Bound::addr_now`]).
    pub weight: Option<f64>,
}

impl Bound {
    /// A bound name.
    pub fn new(id: Path, residual: Path, addr: Var<Addr>) -> Bound {
        Bound {
            id,
            residual,
            addr,
            weight: None,
        }
    }

    /// The current address set, with the union weight in its metadata when there is one.
    pub fn addr_now(&self) -> Addr {
        let addr = self.addr.sample();
        match (addr, self.weight) {
            (Addr::Bound(addrs, mut meta), Some(w)) => {
                meta.insert(crate::addr::WEIGHT_META_KEY.into(), w.into());
                Addr::Bound(addrs, meta)
            }
            (addr, _) => addr,
        }
    }
}

/// Equality is by id and residual; the address is a live view of the same thing.
impl PartialEq for Bound {
    fn eq(&self, other: &Bound) -> bool {
        self.id == other.id && self.residual == other.residual
    }
}

impl fmt::Debug for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bound({}, residual {})", self.id, self.residual)
    }
}

/// Prints the id immediately followed by the residual, as `linkerd dtab bind` shows leaves.
impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.residual.is_empty() {
            write!(f, "{}", self.id)
        } else {
            write!(f, "{}{}", self.id, self.residual)
        }
    }
}

/// Service discovery: resolves the part of a path after the namer's prefix to a live tree.
///
/// A namer mounted as `/#/io.l5d.fs` receives `/users/v1` for `/#/io.l5d.fs/users/v1`
/// and answers, for instance, `Leaf(Bound(id=/#/io.l5d.fs/users, residual=/v1))`. `Neg`
/// means "not here" (binding falls through to the next alternative); a failed state is an
/// error. Lookups must return at once: a namer that has to ask a backend returns a
/// pending activity and updates it when the answer comes.
pub trait Namer: Send + Sync + 'static {
    /// Looks up `path`, relative to the namer's prefix.
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>>;

    /// What the namer watches now, for `/namer_state/<prefix>.json` (`None`: nothing
    /// worth showing).
    fn state(&self) -> Option<serde_json::Value> {
        None
    }
}

/// Binds names for a router: Linkerd 1's `interpreter` (`default`, `io.l5d.namerd`, ...).
pub trait NameInterpreter: Send + Sync + 'static {
    /// Binds `path` under `dtab` (the router's dtab followed by any per-request dtab),
    /// as a tree that updates when the dtab or discovery changes.
    fn bind(&self, dtab: &Dtab, path: &Path) -> Activity<NameTree<Bound>>;

    /// The interpreter's delegation explainer, if it can explain (`/delegator.json` answers
    /// 501 for one that cannot).
    fn delegator(&self) -> Option<&dyn Delegator> {
        None
    }
}

/// Explains delegations: Linkerd 1's `Delegator`, behind `/delegator.json`.
pub trait Delegator: Send + Sync {
    /// How `path` delegates under `dtab`, waiting up to `timeout` for namers and
    /// addresses to answer.
    fn delegate<'a>(
        &'a self,
        dtab: &'a Dtab,
        path: &'a Path,
        timeout: std::time::Duration,
    ) -> futures::future::BoxFuture<
        'a,
        Result<crate::delegate::DelegateTree<Bound>, crate::delegate::DelegateError>,
    >;
}

/// A shared namer.
pub type SharedNamer = Arc<dyn Namer>;
