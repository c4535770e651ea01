//! Transformers: post-processing of bound trees (Linkerd 1's `NameTreeTransformer`).
//!
//! A transformer configured on an interpreter or a namer (`transformers: [{kind: ...}]`)
//! rewrites every bound leaf of what it produces: the leaf's id gains the transformer's
//! prefix (`/%/io.l5d.port/4141/#/io.l5d.fs/web`), so clients built for the transformed
//! name are distinct from the untransformed one, and its address set is passed through a
//! function (replace the port, keep only some hosts). Transformers are applied in
//! configuration order, the last one outermost, as Linkerd 1's `foldLeft` wraps them.
//!
//! Everything stays live: a transformed tree follows the tree it came from, and a
//! transformed address set follows the namer's address set, each through a small task
//! that ends when its last reader goes away.
//!
//! Delegations (`/delegator.json`) through a transformed interpreter are the inner
//! interpreter's, with each bound leaf replaced by its transformed form. Linkerd 1 also
//! inserts a `transformation` node above each leaf showing the leaf before the transform;
//! this build does not (the delegate tree has no such node), so the explanation shows the
//! path's rewrites and the final, transformed, bound name.

use std::sync::Arc;

use crate::addr::{Addr, Address};
use crate::delegate::{DelegateError, DelegateTree, Node};
use crate::naming::{Dtab, NameTree, Path};
use crate::var::{Activity, State, Var};

use super::{Bound, Delegator, Name, NameInterpreter, Namer, SharedNamer};

/// A transformer of bound names.
pub trait Transformer: Send + Sync + 'static {
    /// A short name for logs and explanations (`PortTransformer`, as Linkerd 1's class).
    fn name(&self) -> &str;

    /// The transformed form of one bound name. The returned address set must follow
    /// `bound.addr` as it changes (see [`map_addr`]).
    fn transform(&self, bound: &Bound) -> Bound;
}

/// A transformer that prefixes ids and maps address sets with a function: the shape of
/// every per-host transformer Linkerd 1 ships (port, localhost, specificHost).
pub struct AddrTransformer {
    name: &'static str,
    prefix: Path,
    map: Arc<dyn Fn(&Addr) -> Addr + Send + Sync>,
}

impl AddrTransformer {
    /// A transformer named `name` that puts `prefix` (a full `/%/...` path) before every
    /// id and passes every address set through `map`.
    pub fn new(
        name: &'static str,
        prefix: Path,
        map: impl Fn(&Addr) -> Addr + Send + Sync + 'static,
    ) -> AddrTransformer {
        AddrTransformer {
            name,
            prefix,
            map: Arc::new(map),
        }
    }

    /// `io.l5d.port`: every address gets `port` (linker-to-linker: send to the linkerd on
    /// the destination's host instead of to the destination).
    pub fn port(prefix: Path, port: u16) -> AddrTransformer {
        AddrTransformer::new("PortTransformer", prefix, move |addr| match addr {
            Addr::Bound(addrs, meta) => {
                let moved = addrs.iter().map(|a| {
                    let mut a = a.clone();
                    a.addr.set_port(port);
                    a
                });
                // Several ports of one host become one address; the set's metadata stays.
                match Addr::bound(moved) {
                    Addr::Bound(addrs, _) => Addr::Bound(addrs, meta.clone()),
                    other => other,
                }
            }
            other => other.clone(),
        })
    }

    /// A filtering transformer (Linkerd 1's `FilteringNameTreeTransformer`): only the
    /// addresses `keep` accepts remain, and a set left empty becomes `Neg`, so that an
    /// alternative can take over; pending, negative and failed sets pass unchanged.
    pub fn filter(
        name: &'static str,
        prefix: Path,
        keep: impl Fn(&Address) -> bool + Send + Sync + 'static,
    ) -> AddrTransformer {
        AddrTransformer::new(name, prefix, move |addr| match addr {
            Addr::Bound(addrs, meta) => {
                let kept: Vec<Address> = addrs.iter().filter(|a| keep(a)).cloned().collect();
                if kept.is_empty() {
                    Addr::Neg
                } else {
                    Addr::Bound(kept.into(), meta.clone())
                }
            }
            other => other.clone(),
        })
    }
}

impl Transformer for AddrTransformer {
    fn name(&self) -> &str {
        self.name
    }

    fn transform(&self, bound: &Bound) -> Bound {
        let map = self.map.clone();
        Bound {
            id: self.prefix.concat(&bound.id),
            residual: bound.residual.clone(),
            addr: map_addr(bound.addr.clone(), move |a| map(a)),
            weight: bound.weight,
        }
    }
}

/// A live view of `src` through `f`: it changes when `src` does (unless `same` says the
/// new view is the old one) and stops following when its last reader is gone.
fn follow<T, U>(
    mut src: Var<T>,
    mut f: impl FnMut(&T) -> U + Send + 'static,
    same: fn(&U, &U) -> bool,
) -> Var<U>
where
    T: Clone + Send + Sync + 'static,
    U: Send + Sync + 'static,
{
    // Clone out of the source so that `f` (which may read other vars) holds no lock.
    let value = src.get_and_mark_seen().clone();
    let first = f(&value);
    if src.is_final() {
        return Var::constant(first);
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        // No runtime (the offline tools): the current answer is all there will be.
        return Var::constant(first);
    };
    let (tx, var) = Var::new(first);
    rt.spawn(async move {
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                changed = src.changed() => {
                    if !changed {
                        return;
                    }
                }
            }
            let value = src.get_and_mark_seen().clone();
            let next = f(&value);
            tx.modify(|cur| {
                if same(cur, &next) {
                    false
                } else {
                    *cur = next;
                    true
                }
            });
        }
    });
    var
}

/// A live address set: `f` applied to every value of `src`.
pub fn map_addr(src: Var<Addr>, f: impl Fn(&Addr) -> Addr + Send + 'static) -> Var<Addr> {
    follow(src, f, |a, b| a == b)
}

/// Transforms bound leaves, reusing the transformed leaf of the previous round for a leaf
/// whose name and address source are unchanged, so that re-evaluating an unchanged tree
/// starts no new address task and wakes no reader.
struct LeafCache {
    transformer: Arc<dyn Transformer>,
    previous: Vec<(Bound, Bound)>,
    current: Vec<(Bound, Bound)>,
}

impl LeafCache {
    fn new(transformer: Arc<dyn Transformer>) -> LeafCache {
        LeafCache {
            transformer,
            previous: Vec::new(),
            current: Vec::new(),
        }
    }

    fn leaf(&mut self, b: &Bound) -> Bound {
        let reused = self
            .previous
            .iter()
            .find(|(src, _)| src == b && src.addr.same_source(&b.addr))
            .map(|(_, out)| out.clone());
        let mut out = reused.unwrap_or_else(|| self.transformer.transform(b));
        out.weight = b.weight;
        self.current.push((b.clone(), out.clone()));
        out
    }

    /// Ends a round: what this round produced is what the next one may reuse.
    fn finish(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

/// Whether two trees are the same names over the same address sources.
fn same_bound_tree(a: &State<NameTree<Bound>>, b: &State<NameTree<Bound>>) -> bool {
    if a != b {
        return false;
    }
    match (a, b) {
        (State::Ok(a), State::Ok(b)) => a
            .leaves()
            .iter()
            .zip(b.leaves())
            .all(|(x, y)| x.addr.same_source(&y.addr)),
        _ => true,
    }
}

fn same_name_tree(a: &State<NameTree<Name>>, b: &State<NameTree<Name>>) -> bool {
    if a != b {
        return false;
    }
    match (a, b) {
        (State::Ok(a), State::Ok(b)) => {
            a.leaves()
                .iter()
                .zip(b.leaves())
                .all(|(x, y)| match (x, y) {
                    (Name::Bound(x), Name::Bound(y)) => x.addr.same_source(&y.addr),
                    _ => true,
                })
        }
        _ => true,
    }
}

/// A live bound tree with every leaf transformed.
pub fn transform_tree(
    src: Activity<NameTree<Bound>>,
    transformer: Arc<dyn Transformer>,
) -> Activity<NameTree<Bound>> {
    let mut cache = LeafCache::new(transformer);
    follow(
        src,
        move |state: &State<NameTree<Bound>>| {
            let out = state.clone().map(|t| t.map(&mut |b| cache.leaf(&b)));
            cache.finish();
            out
        },
        same_bound_tree,
    )
}

/// An interpreter whose bindings pass through a transformer.
pub struct TransformedInterpreter {
    inner: Arc<dyn NameInterpreter>,
    transformer: Arc<dyn Transformer>,
}

impl TransformedInterpreter {
    /// `inner`, with every tree it binds transformed by `transformer`.
    pub fn new(
        inner: Arc<dyn NameInterpreter>,
        transformer: Arc<dyn Transformer>,
    ) -> TransformedInterpreter {
        TransformedInterpreter { inner, transformer }
    }
}

impl NameInterpreter for TransformedInterpreter {
    fn bind(&self, dtab: &Dtab, path: &Path) -> Activity<NameTree<Bound>> {
        transform_tree(self.inner.bind(dtab, path), self.transformer.clone())
    }

    fn delegator(&self) -> Option<&dyn Delegator> {
        self.inner.delegator().map(|_| self as &dyn Delegator)
    }
}

impl Delegator for TransformedInterpreter {
    fn delegate<'a>(
        &'a self,
        dtab: &'a Dtab,
        path: &'a Path,
        timeout: std::time::Duration,
    ) -> futures::future::BoxFuture<'a, Result<DelegateTree<Bound>, DelegateError>> {
        Box::pin(async move {
            let inner = self
                .inner
                .delegator()
                .ok_or_else(|| DelegateError::Failed("the interpreter cannot delegate".into()))?;
            let tree = inner.delegate(dtab, path, timeout).await?;
            Ok(transform_delegation(tree, &*self.transformer))
        })
    }
}

/// A delegation with every bound leaf transformed.
fn transform_delegation(t: DelegateTree<Bound>, tr: &dyn Transformer) -> DelegateTree<Bound> {
    let DelegateTree { path, dentry, node } = t;
    let node = match node {
        Node::Leaf(b) => Node::Leaf(tr.transform(&b)),
        Node::Delegate(c) => Node::Delegate(Box::new(transform_delegation(*c, tr))),
        Node::Alt(ts) => Node::Alt(
            ts.into_iter()
                .map(|t| transform_delegation(t, tr))
                .collect(),
        ),
        Node::Union(ws) => Node::Union(
            ws.into_iter()
                .map(|(w, t)| (w, transform_delegation(t, tr)))
                .collect(),
        ),
        other @ (Node::Exception(_) | Node::Empty | Node::Fail | Node::Neg) => other,
    };
    DelegateTree::new(path, dentry, node)
}

/// A namer whose answers pass through a transformer once they are fully bound (a tree
/// that still holds paths to look up is passed on as it is, as in Linkerd 1).
pub struct TransformedNamer {
    inner: SharedNamer,
    transformer: Arc<dyn Transformer>,
}

impl TransformedNamer {
    /// `inner`, with its bound answers transformed by `transformer`.
    pub fn new(inner: SharedNamer, transformer: Arc<dyn Transformer>) -> TransformedNamer {
        TransformedNamer { inner, transformer }
    }
}

impl Namer for TransformedNamer {
    fn lookup(&self, path: &Path) -> Activity<NameTree<Name>> {
        let mut cache = LeafCache::new(self.transformer.clone());
        follow(
            self.inner.lookup(path),
            move |state: &State<NameTree<Name>>| {
                let out = match state {
                    State::Ok(t) if t.leaves().iter().all(|n| matches!(n, Name::Bound(_))) => {
                        State::Ok(t.clone().map(&mut |n| match n {
                            Name::Bound(b) => Name::Bound(cache.leaf(&b)),
                            path => path,
                        }))
                    }
                    other => other.clone(),
                };
                cache.finish();
                out
            },
            same_name_tree,
        )
    }
}

#[cfg(test)]
mod tests;
