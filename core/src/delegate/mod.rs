//! The delegation explanation: how a path was rewritten step by step, which dentry matched
//! at each step, every alternative and every failure. This is what Linkerd 1's admin
//! `/delegator.json` and namerd's `/api/1/delegate` return, and what `linkerd dtab
//! delegate` prints.
//!
//! It follows linkerd's `DelegateTree` and `ConfiguredNamersInterpreter.delegate`, which
//! differ from binding on purpose: every alternative is expanded, not only the first that
//! binds (`../shared/spec/dtab.md` §8).

mod eval;
mod json;
#[cfg(test)]
mod tests;

pub use eval::{DelegateError, DELEGATE_TIMEOUT};

use crate::naming::{Dentry, Path};

/// One step of a delegation: the path explained here, the dentry that produced it
/// ([`Dentry::nop`] at the root), and what it became.
#[derive(Clone, Debug, PartialEq)]
pub struct DelegateTree<T> {
    /// The path being explained at this step.
    pub path: Path,
    /// The dentry that produced this step.
    pub dentry: Dentry,
    /// What the path became.
    pub node: Node<T>,
}

/// What a step of a delegation became.
#[derive(Clone, Debug, PartialEq)]
pub enum Node<T> {
    /// A namer failed (or a loop ran past the depth limit inside an alternative).
    Exception(String),
    /// `$`: the name exists with no endpoints.
    Empty,
    /// `!`: binding fails here.
    Fail,
    /// `~`: nothing here.
    Neg,
    /// Rewritten by one dentry into the child.
    Delegate(Box<DelegateTree<T>>),
    /// A name (bound, once delegation is complete).
    Leaf(T),
    /// Several alternatives, latest dentry first; all of them are explained.
    Alt(Vec<DelegateTree<T>>),
    /// A weighted union.
    Union(Vec<(f64, DelegateTree<T>)>),
}

impl<T> DelegateTree<T> {
    /// A step.
    pub fn new(path: Path, dentry: Dentry, node: Node<T>) -> DelegateTree<T> {
        DelegateTree { path, dentry, node }
    }

    /// The same explanation with each leaf mapped by `f`.
    pub fn map_leaves<U>(self, f: &mut impl FnMut(T) -> U) -> DelegateTree<U> {
        let node = match self.node {
            Node::Exception(e) => Node::Exception(e),
            Node::Empty => Node::Empty,
            Node::Fail => Node::Fail,
            Node::Neg => Node::Neg,
            Node::Delegate(d) => Node::Delegate(Box::new(d.map_leaves(f))),
            Node::Leaf(t) => Node::Leaf(f(t)),
            Node::Alt(ts) => Node::Alt(ts.into_iter().map(|t| t.map_leaves(f)).collect()),
            Node::Union(ws) => {
                Node::Union(ws.into_iter().map(|(w, t)| (w, t.map_leaves(f))).collect())
            }
        };
        DelegateTree {
            path: self.path,
            dentry: self.dentry,
            node,
        }
    }

    fn is_terminal_negative(&self) -> bool {
        matches!(self.node, Node::Neg | Node::Fail | Node::Empty)
    }

    /// linkerd's `DelegateTree.simplified`: a `Delegate` whose child explains the same path
    /// collapses into the child (which takes the `Delegate`'s dentry); single-child
    /// alternatives and unions become `Delegate`s, empty ones `Neg`; an `Alt` child of an
    /// `Alt` with the same path is spliced into it.
    pub fn simplify(self) -> DelegateTree<T> {
        crate::recursion::grow(|| self.simplify_step())
    }

    fn simplify_step(self) -> DelegateTree<T> {
        let DelegateTree { path, dentry, node } = self;
        match node {
            Node::Delegate(child) => {
                let child = child.simplify();
                if !child.is_terminal_negative() && child.path == path {
                    DelegateTree { dentry, ..child }
                } else {
                    DelegateTree::new(path, dentry, Node::Delegate(Box::new(child)))
                }
            }
            Node::Alt(ts) if ts.is_empty() => DelegateTree::new(path, dentry, Node::Neg),
            Node::Alt(mut ts) if ts.len() == 1 => {
                let only = ts.pop().expect("one child");
                DelegateTree::new(path, dentry, Node::Delegate(Box::new(only))).simplify()
            }
            Node::Alt(ts) => {
                let mut out = Vec::with_capacity(ts.len());
                for t in ts {
                    match t.simplify() {
                        DelegateTree {
                            path: p,
                            node: Node::Alt(children),
                            ..
                        } if p == path => out.extend(children),
                        t => out.push(t),
                    }
                }
                DelegateTree::new(path, dentry, Node::Alt(out))
            }
            Node::Union(ws) if ws.is_empty() => DelegateTree::new(path, dentry, Node::Neg),
            Node::Union(mut ws) if ws.len() == 1 => {
                let (_, only) = ws.pop().expect("one member");
                DelegateTree::new(path, dentry, Node::Delegate(Box::new(only))).simplify()
            }
            Node::Union(ws) => DelegateTree::new(
                path,
                dentry,
                Node::Union(ws.into_iter().map(|(w, t)| (w, t.simplify())).collect()),
            ),
            node => DelegateTree::new(path, dentry, node),
        }
    }
}

impl DelegateTree<crate::binding::Bound> {
    /// What each branch of the delegation came to, one line each, as Linkerd 1 lists them
    /// under "resolutions considered" when a request cannot be routed:
    /// `/$/inet/127.1/8080 (bound)`, `/svc/x (neg)`, `/#/io.l5d.fs/x (exception: ...)`.
    pub fn resolutions(&self) -> Vec<String> {
        use crate::addr::Addr;
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(t) = stack.pop() {
            let path = t.path.show();
            match &t.node {
                Node::Leaf(b) => out.push(match b.addr_now() {
                    Addr::Bound(..) => format!("{path} (bound)"),
                    Addr::Failed(e) => format!("{path} (exception: {e})"),
                    Addr::Neg => format!("{path} (neg)"),
                    Addr::Pending => format!("{path} (pending)"),
                }),
                Node::Exception(e) => out.push(format!("{path} (exception: {e})")),
                Node::Empty => out.push(format!("{path} (empty)")),
                Node::Fail => out.push(format!("{path} (fail)")),
                Node::Neg => out.push(format!("{path} (neg)")),
                Node::Delegate(child) => stack.push(child),
                // Pushed in reverse so they come out in order.
                Node::Alt(ts) => stack.extend(ts.iter().rev()),
                Node::Union(ws) => stack.extend(ws.iter().rev().map(|(_, t)| t)),
            }
        }
        out
    }
}
