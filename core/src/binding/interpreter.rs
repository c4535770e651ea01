//! Linkerd 1's default interpreter (`ConfiguredNamersInterpreter`): a path is rewritten by
//! the dtab; when no dentry matches, the configured namers mounted under `/#/` are asked
//! in configuration order, then the system namers under `/$/`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::naming::{Dtab, NameTree, Path};
use crate::var::{Activity, State, Var};

use super::bind::{bind_path, MAX_DEPTH};
use super::live;
use super::system::SystemNamer;
use super::{Bound, Name, NameInterpreter, SharedNamer};

/// The default interpreter: a dtab, configured namers and the system namers.
#[derive(Clone)]
pub struct ConfiguredNamers {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    namers: Vec<(Path, SharedNamer)>,
    system: SystemNamer,
    /// A dtab that precedes the caller's (an `io.l5d.fs` dtab file, a namerd namespace).
    base: Option<Var<Dtab>>,
    pub(crate) max_depth: usize,
}

/// Namer answers already asked for, keyed by namer and path, so that re-evaluating a
/// binding reuses the watches it holds instead of asking the namer again.
#[derive(Default)]
pub(crate) struct Memo {
    pub(crate) lookups: HashMap<(usize, Path), Activity<NameTree<Name>>>,
    pub(crate) base: Option<Var<Dtab>>,
}

impl ConfiguredNamers {
    /// An interpreter over `namers`, each mounted at its full prefix (`/#/io.l5d.fs`).
    pub fn new(namers: Vec<(Path, SharedNamer)>) -> ConfiguredNamers {
        ConfiguredNamers {
            inner: Arc::new(Inner {
                namers,
                system: SystemNamer,
                base: None,
                max_depth: MAX_DEPTH,
            }),
        }
    }

    /// An interpreter that knows only the system namers.
    pub fn system_only() -> ConfiguredNamers {
        ConfiguredNamers::new(Vec::new())
    }

    /// The same interpreter with `dtab` (which may change) placed before every caller's dtab.
    pub fn with_base_dtab(self, dtab: Var<Dtab>) -> ConfiguredNamers {
        let inner = Inner {
            namers: self.inner.namers.clone(),
            system: self.inner.system,
            base: Some(dtab),
            max_depth: self.inner.max_depth,
        };
        ConfiguredNamers {
            inner: Arc::new(inner),
        }
    }

    /// The same interpreter with another lookup depth limit (Finagle's `namerMaxDepth`).
    pub fn with_max_depth(self, max_depth: usize) -> ConfiguredNamers {
        let inner = Inner {
            namers: self.inner.namers.clone(),
            system: self.inner.system,
            base: self.inner.base.clone(),
            max_depth,
        };
        ConfiguredNamers {
            inner: Arc::new(inner),
        }
    }

    /// The configured namers and their prefixes.
    pub fn namers(&self) -> &[(Path, SharedNamer)] {
        &self.inner.namers
    }

    /// Binds `path` under `dtab` with the namers' current answers, once.
    pub fn bind_now(&self, dtab: &Dtab, path: &Path) -> State<NameTree<Bound>> {
        self.inner
            .evaluate(&mut Memo::default(), &mut Memo::default(), dtab, path)
    }

    /// The tree a path rewrites to when no dentry matches: the first configured namer whose
    /// prefix matches and does not answer `Neg`, else the system namers.
    pub fn namers_lookup(&self, path: &Path) -> State<NameTree<Name>> {
        self.inner
            .namers_lookup(&mut Memo::default(), &mut Memo::default(), path)
    }
}

impl Inner {
    /// The effective dtab: the base (if any) followed by the caller's.
    pub(crate) fn dtab(&self, old: &mut Memo, new: &mut Memo, dtab: &Dtab) -> Dtab {
        match &self.base {
            None => dtab.clone(),
            Some(base) => {
                let mut var = old.base.take().unwrap_or_else(|| base.clone());
                let effective = var.get_and_mark_seen().concat(dtab);
                new.base = Some(var);
                effective
            }
        }
    }

    pub(crate) fn namers_lookup(
        &self,
        old: &mut Memo,
        new: &mut Memo,
        path: &Path,
    ) -> State<NameTree<Name>> {
        for (i, (prefix, namer)) in self.namers.iter().enumerate() {
            if !path.starts_with(prefix) {
                continue;
            }
            let key = (i, path.clone());
            let mut act = match old
                .lookups
                .remove(&key)
                .or_else(|| new.lookups.remove(&key))
            {
                Some(act) => act,
                None => namer.lookup(&path.drop(prefix.len())),
            };
            let state = act.get_and_mark_seen().clone();
            new.lookups.insert(key, act);
            match state {
                State::Ok(NameTree::Neg) => continue,
                other => return other,
            }
        }
        self.system.lookup(path)
    }

    /// One evaluation of the whole binding; the namer answers it read end up in `new`.
    pub(crate) fn evaluate(
        &self,
        old: &mut Memo,
        new: &mut Memo,
        dtab: &Dtab,
        path: &Path,
    ) -> State<NameTree<Bound>> {
        let dtab = self.dtab(old, new, dtab);
        let mut lookup = |p: &Path| match dtab.lookup(p) {
            NameTree::Neg => self.namers_lookup(old, new, p),
            tree => State::Ok(tree.map(&mut Name::Path)),
        };
        bind_path(&mut lookup, path, self.max_depth)
    }
}

impl NameInterpreter for ConfiguredNamers {
    fn bind(&self, dtab: &Dtab, path: &Path) -> Activity<NameTree<Bound>> {
        live::bind(self.inner.clone(), dtab.clone(), path.clone())
    }

    fn delegator(&self) -> Option<&dyn super::Delegator> {
        Some(self)
    }
}

impl super::Delegator for ConfiguredNamers {
    fn delegate<'a>(
        &'a self,
        dtab: &'a Dtab,
        path: &'a Path,
        timeout: std::time::Duration,
    ) -> futures::future::BoxFuture<
        'a,
        Result<crate::delegate::DelegateTree<Bound>, crate::delegate::DelegateError>,
    > {
        Box::pin(ConfiguredNamers::delegate(self, dtab, path, timeout))
    }
}
