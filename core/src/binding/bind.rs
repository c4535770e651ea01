//! Finagle's `Namer.bind`, evaluated over the current state of every lookup it needs.
//!
//! Finagle composes `Activity`s; here the same algorithm runs as a pure function over a
//! [`Lookup`] that answers with the *current* state of each namer's answer. The live
//! binder ([`super::live`]) re-runs it whenever one of the answers it read changes, which
//! gives the same sequence of settled results without an activity combinator library.

use crate::naming::{NameTree, Path, Weighted};
use crate::var::{Error, State};

use super::{Bound, Name};

/// Finagle's default `namerMaxDepth`: lookups allowed along one branch.
pub const MAX_DEPTH: usize = 100;

/// The message of Finagle's `NamerExceededMaxDepthException`.
pub fn max_depth_error(max: usize) -> Error {
    Error::new(format!(
        "Max recursion level: {max} reached in Namer lookup"
    ))
}

/// One rewriting step: the dtab, then namers, then the system namers.
pub trait Lookup {
    /// The current state of the tree `path` rewrites to.
    fn lookup(&mut self, path: &Path) -> State<NameTree<Name>>;
}

impl<F: FnMut(&Path) -> State<NameTree<Name>>> Lookup for F {
    fn lookup(&mut self, path: &Path) -> State<NameTree<Name>> {
        self(path)
    }
}

/// Binds `path` through `lookup` down to bound names.
///
/// Alternatives are tried lazily in order and fall through only on `Neg`; a `Fail`
/// anywhere in a chosen branch is final; an error (a loop past `max_depth` lookups, a
/// failing namer) in an evaluated alternative fails the whole bind. Union members are all
/// bound and the failed or pending ones are dropped while any member is settled.
pub fn bind_path(lookup: &mut dyn Lookup, path: &Path, max_depth: usize) -> State<NameTree<Bound>> {
    Binder {
        lookup,
        max_depth,
        levels: 0,
    }
    .bind(0, None, &NameTree::Leaf(Name::Path(path.clone())))
}

struct Binder<'a> {
    lookup: &'a mut dyn Lookup,
    max_depth: usize,
    /// Recursion in progress, lookups and nesting together.
    levels: usize,
}

impl Binder<'_> {
    fn bind(
        &mut self,
        depth: usize,
        weight: Option<f64>,
        tree: &NameTree<Name>,
    ) -> State<NameTree<Bound>> {
        if self.levels == crate::recursion::MAX_LEVELS {
            return State::Failed(crate::recursion::too_deep());
        }
        self.levels += 1;
        let out = crate::recursion::grow(|| self.bind_step(depth, weight, tree));
        self.levels -= 1;
        out
    }

    fn bind_step(
        &mut self,
        depth: usize,
        weight: Option<f64>,
        tree: &NameTree<Name>,
    ) -> State<NameTree<Bound>> {
        if depth > self.max_depth {
            return State::Failed(max_depth_error(self.max_depth));
        }
        match tree {
            NameTree::Leaf(Name::Path(p)) => match self.lookup.lookup(p) {
                State::Ok(next) => self.bind(depth + 1, weight, &next),
                State::Pending => State::Pending,
                State::Failed(e) => State::Failed(e),
            },
            NameTree::Leaf(Name::Bound(b)) => {
                let mut b = b.clone();
                if weight.is_some() {
                    b.weight = weight;
                }
                State::Ok(NameTree::Leaf(b))
            }
            NameTree::Neg => State::Ok(NameTree::Neg),
            NameTree::Fail => State::Ok(NameTree::Fail),
            NameTree::Empty => State::Ok(NameTree::Empty),
            NameTree::Alt(ts) => {
                for t in ts {
                    match self.bind(depth, weight, t) {
                        State::Ok(NameTree::Neg) => continue,
                        State::Ok(NameTree::Fail) => return State::Ok(NameTree::Fail),
                        settled => return settled,
                    }
                }
                State::Ok(NameTree::Neg)
            }
            NameTree::Union(ws) if ws.is_empty() => State::Ok(NameTree::Neg),
            NameTree::Union(ws) if ws.len() == 1 => {
                self.bind(depth, Some(ws[0].weight), &ws[0].tree)
            }
            NameTree::Union(ws) => self.bind_union(depth, ws),
        }
    }

    fn bind_union(&mut self, depth: usize, ws: &[Weighted<Name>]) -> State<NameTree<Bound>> {
        let mut oks = Vec::with_capacity(ws.len());
        let mut first_failure = None;
        for w in ws {
            match self.bind(depth, Some(w.weight), &w.tree) {
                State::Ok(t) => oks.push(Weighted::new(w.weight, t)),
                State::Failed(e) => {
                    first_failure.get_or_insert(e);
                }
                State::Pending => {}
            }
        }
        if !oks.is_empty() {
            // Ok(Neg) and Ok(Fail) members count as settled, then simplify drops them.
            State::Ok(NameTree::Union(oks).simplify())
        } else if let Some(e) = first_failure {
            State::Failed(e)
        } else {
            State::Pending
        }
    }
}
