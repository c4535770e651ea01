//! linkerd's `delegateBind` and `delegateLookup` over the interpreter's namers.

use std::time::Duration;

use crate::binding::interpreter::{Inner, Memo};
use crate::binding::{Bound, ConfiguredNamers, Name};
use crate::naming::{Dentry, Dtab, NameTree, Path};
use crate::var::{Error, State};

use super::{DelegateTree, Node};

/// How long `/delegator.json` waits for namers and addresses to answer (linkerd's 2 s).
pub const DELEGATE_TIMEOUT: Duration = Duration::from_secs(2);

/// linkerd's delegator depth limit (its own, with its own message).
const MAX_DEPTH: usize = 100;

/// Why a delegation produced no tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DelegateError {
    /// The whole delegation failed (a loop outside any alternative, a failing namer).
    #[error("{0}")]
    Failed(String),
    /// Namers or addresses did not answer in time; linkerd answers 503 with this text.
    #[error("Request timed out.")]
    Timeout,
}

/// Turns a dst tree into delegate nodes that all explain `path` under `dentry`.
fn from_name_tree(path: &Path, dentry: &Dentry, tree: NameTree<Name>) -> DelegateTree<Name> {
    let node = |n| DelegateTree::new(path.clone(), dentry.clone(), n);
    match tree {
        NameTree::Empty => node(Node::Empty),
        NameTree::Fail => node(Node::Fail),
        // An explicit `~` in a dst has no path of its own; it shows as "~".
        NameTree::Neg => DelegateTree::new(Path::empty(), dentry.clone(), Node::Neg),
        NameTree::Leaf(v) => node(Node::Leaf(v)),
        NameTree::Alt(ts) => node(Node::Alt(
            ts.into_iter()
                .map(|t| from_name_tree(path, dentry, t))
                .collect(),
        )),
        NameTree::Union(ws) => node(Node::Union(
            ws.into_iter()
                .map(|w| (w.weight, from_name_tree(path, dentry, w.tree)))
                .collect(),
        )),
    }
}

struct Delegator<'a> {
    /// Recursion in progress, lookups and nesting together.
    levels: usize,
    inner: &'a Inner,
    dtab: Dtab,
    old: &'a mut Memo,
    new: &'a mut Memo,
}

impl Delegator<'_> {
    fn lookup(&mut self, dentry: &Dentry, path: &Path) -> State<DelegateTree<Name>> {
        let mut matches: Vec<DelegateTree<Name>> = self
            .dtab
            .dentries()
            .iter()
            .rev()
            .filter(|d| d.prefix.matches(path))
            .map(|d| {
                let suffix = path.drop(d.prefix.len());
                let dst = d.dst.map_ref(&mut |p: &Path| Name::Path(p.concat(&suffix)));
                from_name_tree(path, d, dst)
            })
            .collect();
        let node = match matches.len() {
            0 => Node::Neg,
            1 => Node::Delegate(Box::new(matches.pop().expect("one match"))),
            _ => Node::Alt(matches),
        };
        if !matches!(node, Node::Neg) {
            return State::Ok(DelegateTree::new(path.clone(), dentry.clone(), node));
        }
        match self.inner.namers_lookup(self.old, self.new, path) {
            State::Pending => State::Pending,
            State::Failed(e) => State::Ok(DelegateTree::new(
                path.clone(),
                dentry.clone(),
                Node::Exception(e.to_string()),
            )),
            State::Ok(NameTree::Neg) => {
                State::Ok(DelegateTree::new(path.clone(), dentry.clone(), Node::Neg))
            }
            State::Ok(tree) => State::Ok(from_name_tree(path, dentry, tree)),
        }
    }

    /// Expands every leaf that is still a path; `Failed` fails the whole delegation.
    fn bind(&mut self, depth: usize, t: DelegateTree<Name>) -> State<DelegateTree<Bound>> {
        if self.levels == crate::recursion::MAX_LEVELS {
            return State::Failed(crate::recursion::too_deep());
        }
        self.levels += 1;
        let out = crate::recursion::grow(|| self.bind_step(depth, t));
        self.levels -= 1;
        out
    }

    fn bind_step(&mut self, depth: usize, t: DelegateTree<Name>) -> State<DelegateTree<Bound>> {
        if depth > MAX_DEPTH {
            return State::Failed(Error::new("Max recursion level reached."));
        }
        let DelegateTree { path, dentry, node } = t;
        let done = |node| State::Ok(DelegateTree::new(path.clone(), dentry.clone(), node));
        match node {
            Node::Exception(e) => done(Node::Exception(e)),
            Node::Empty => done(Node::Empty),
            Node::Fail => done(Node::Fail),
            Node::Neg => done(Node::Neg),
            Node::Leaf(Name::Bound(b)) => done(Node::Leaf(b)),
            Node::Leaf(Name::Path(p)) => match self.lookup(&dentry, &p) {
                State::Ok(next) => self.bind(depth + 1, next),
                State::Pending => State::Pending,
                State::Failed(e) => State::Failed(e),
            },
            Node::Delegate(child) => self
                .bind(depth, *child)
                .map(|c| DelegateTree::new(path, dentry, Node::Delegate(Box::new(c)))),
            Node::Alt(ts) if ts.is_empty() => done(Node::Neg),
            Node::Alt(mut ts) if ts.len() == 1 => {
                let only = ts.pop().expect("one child");
                self.bind(depth, only)
                    .map(|c| DelegateTree::new(path, dentry, Node::Delegate(Box::new(c))))
            }
            Node::Alt(ts) => {
                let mut out = Vec::with_capacity(ts.len());
                for t in ts {
                    match self.bind(depth, t) {
                        State::Ok(t) => out.push(t),
                        State::Pending => return State::Pending,
                        State::Failed(e) => out.push(DelegateTree::new(
                            path.clone(),
                            dentry.clone(),
                            Node::Exception(e.to_string()),
                        )),
                    }
                }
                done(Node::Alt(out))
            }
            Node::Union(ws) if ws.is_empty() => done(Node::Neg),
            Node::Union(mut ws) if ws.len() == 1 => {
                let (_, only) = ws.pop().expect("one member");
                self.bind(depth, only)
                    .map(|c| DelegateTree::new(path, dentry, Node::Delegate(Box::new(c))))
            }
            Node::Union(ws) => {
                let mut out = Vec::with_capacity(ws.len());
                for (w, t) in ws {
                    match self.bind(depth, t) {
                        State::Ok(t) => out.push((w, t)),
                        State::Pending => return State::Pending,
                        State::Failed(e) => out.push((
                            w,
                            DelegateTree::new(
                                path.clone(),
                                dentry.clone(),
                                Node::Exception(e.to_string()),
                            ),
                        )),
                    }
                }
                done(Node::Union(out))
            }
        }
    }
}

impl Inner {
    fn delegate_eval(
        &self,
        old: &mut Memo,
        new: &mut Memo,
        dtab: &Dtab,
        path: &Path,
    ) -> State<DelegateTree<Bound>> {
        let dtab = self.dtab(old, new, dtab);
        let root = DelegateTree::new(
            path.clone(),
            Dentry::nop(),
            Node::Leaf(Name::Path(path.clone())),
        );
        Delegator {
            levels: 0,
            inner: self,
            dtab,
            old,
            new,
        }
        .bind(0, root)
        .map(DelegateTree::simplify)
    }
}

impl ConfiguredNamers {
    /// Explains how `path` delegates under `dtab`, with the namers' current answers.
    pub fn delegate_now(&self, dtab: &Dtab, path: &Path) -> State<DelegateTree<Bound>> {
        self.inner
            .delegate_eval(&mut Memo::default(), &mut Memo::default(), dtab, path)
    }

    /// Explains how `path` delegates under `dtab`, waiting up to `timeout` for pending
    /// namers and for every bound leaf's address to be known, as `/delegator.json` does.
    pub async fn delegate(
        &self,
        dtab: &Dtab,
        path: &Path,
        timeout: Duration,
    ) -> Result<DelegateTree<Bound>, DelegateError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut memo = Memo::default();
        let tree = loop {
            let mut next = Memo::default();
            let state = self.inner.delegate_eval(&mut memo, &mut next, dtab, path);
            memo = next;
            match state {
                State::Ok(tree) => break tree,
                State::Failed(e) => return Err(DelegateError::Failed(e.to_string())),
                State::Pending => {
                    tokio::time::timeout_at(deadline, crate::binding::live::any_changed(&mut memo))
                        .await
                        .map_err(|_| DelegateError::Timeout)?;
                }
            }
        };
        for leaf in leaves(&tree) {
            let mut addr = leaf.addr.clone();
            while addr.get_and_mark_seen().is_pending() {
                match tokio::time::timeout_at(deadline, addr.changed()).await {
                    Ok(true) => {}
                    Ok(false) | Err(_) => return Err(DelegateError::Timeout),
                }
            }
        }
        Ok(tree)
    }
}

/// Every bound leaf of a delegation.
pub(crate) fn leaves<T>(t: &DelegateTree<T>) -> Vec<&T> {
    let mut out = Vec::new();
    fn walk<'a, T>(t: &'a DelegateTree<T>, out: &mut Vec<&'a T>) {
        match &t.node {
            Node::Leaf(v) => out.push(v),
            Node::Delegate(c) => walk(c, out),
            Node::Alt(ts) => ts.iter().for_each(|t| walk(t, out)),
            Node::Union(ws) => ws.iter().for_each(|(_, t)| walk(t, out)),
            Node::Exception(_) | Node::Empty | Node::Fail | Node::Neg => {}
        }
    }
    walk(t, &mut out);
    out
}
