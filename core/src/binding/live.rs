//! Live binding: evaluate once, then re-evaluate whenever an input that was read changes.
//!
//! An evaluation records every watched input it read (namer answers, a changing base
//! dtab). A task waits for any of them to change, re-evaluates with the same watches
//! (new ones are asked for only when the rewrite now reaches new names; ones no longer
//! reached are dropped, which closes them upstream), and publishes the result if it
//! differs. The task ends when the last reader of the result goes away. A binding whose
//! inputs can never change needs no task at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::future::select_all;

use crate::naming::{Dtab, NameTree, Path};
use crate::var::{Activity, Var};

use super::interpreter::{Inner, Memo};
use super::Bound;

type Changed<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// Whether every input read is final, so the result can never change.
fn settled(memo: &Memo) -> bool {
    memo.lookups.values().all(Var::is_final) && memo.base.as_ref().is_none_or(Var::is_final)
}

/// Waits until one of the inputs in `memo` changes; never returns if none ever will.
pub(crate) async fn any_changed(memo: &mut Memo) {
    let mut futs: Vec<Changed<'_>> = memo
        .lookups
        .values_mut()
        .map(|v| Box::pin(v.changed()) as Changed<'_>)
        .collect();
    if let Some(base) = memo.base.as_mut() {
        futs.push(Box::pin(base.changed()));
    }
    while !futs.is_empty() {
        let (changed, _, rest) = select_all(futs).await;
        if changed {
            return;
        }
        // That input's source is gone: it keeps its value; keep waiting on the others.
        futs = rest;
    }
    std::future::pending::<()>().await
}

pub(crate) fn bind(inner: Arc<Inner>, dtab: Dtab, path: Path) -> Activity<NameTree<Bound>> {
    let mut memo = Memo::default();
    let state = inner.evaluate(&mut Memo::default(), &mut memo, &dtab, &path);
    if settled(&memo) {
        return Var::constant(state);
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        // No runtime (the offline tools): the current answer is all there will be.
        return Var::constant(state);
    };
    let (tx, var) = Var::new(state);
    rt.spawn(async move {
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                _ = any_changed(&mut memo) => {}
            }
            let mut next = Memo::default();
            let state = inner.evaluate(&mut memo, &mut next, &dtab, &path);
            memo = next;
            tx.set_if_changed(state);
        }
    });
    var
}
