//! Watchable values: the latest value of something that changes, and a way to await the
//! next change (Finagle's `Var` and `Activity`), on top of `tokio::sync::watch`.
//!
//! Dtabs, namer answers, bound trees and address sets all flow through these, pushed by
//! whoever owns the source, so a router sees a change without polling and without a
//! restart. A `Var` whose source is gone keeps its last value forever.

use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

/// The latest value of something that changes over time.
pub struct Var<T>(watch::Receiver<T>);

/// The writing side of a [`Var`].
pub struct Updater<T>(watch::Sender<T>);

impl<T> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var(self.0.clone())
    }
}

impl<T: fmt::Debug> fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Var({:?})", &*self.0.borrow())
    }
}

impl<T> Var<T> {
    /// A value that never changes.
    pub fn constant(value: T) -> Var<T> {
        // Dropping the sender leaves the receiver with its value and no further change.
        Var(watch::channel(value).1)
    }

    /// A value and the handle that updates it.
    pub fn new(initial: T) -> (Updater<T>, Var<T>) {
        let (tx, rx) = watch::channel(initial);
        (Updater(tx), Var(rx))
    }

    /// Reads the current value; keep the guard short, it blocks the writer.
    pub fn get(&self) -> watch::Ref<'_, T> {
        self.0.borrow()
    }

    /// Reads the current value and marks it seen, so [`Var::changed`] waits for a newer one.
    pub fn get_and_mark_seen(&mut self) -> watch::Ref<'_, T> {
        self.0.borrow_and_update()
    }

    /// Waits until the value changes after it was last marked seen; `false` if it never
    /// will again because its source is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }

    /// Whether the value can never change again (its source is gone).
    pub fn is_final(&self) -> bool {
        self.0.has_changed().is_err()
    }

    /// Whether the value changed since it was last marked seen (false once its source is
    /// gone and the last value was seen).
    pub fn has_changed(&self) -> bool {
        self.0.has_changed().unwrap_or(false)
    }

    /// Whether two handles watch the same source.
    pub fn same_source(&self, other: &Var<T>) -> bool {
        self.0.same_channel(&other.0)
    }
}

impl<T: Clone> Var<T> {
    /// A copy of the current value.
    pub fn sample(&self) -> T {
        self.0.borrow().clone()
    }
}

impl<T> From<watch::Receiver<T>> for Var<T> {
    fn from(rx: watch::Receiver<T>) -> Self {
        Var(rx)
    }
}

impl<T> Updater<T> {
    /// Publishes a new value to every reader.
    pub fn set(&self, value: T) {
        self.0.send_replace(value);
    }

    /// Publishes `value` only if it differs from the current one, so readers are not woken
    /// for nothing; returns whether it was published.
    pub fn set_if_changed(&self, value: T) -> bool
    where
        T: PartialEq,
    {
        self.0.send_if_modified(|cur| {
            if *cur == value {
                false
            } else {
                *cur = value;
                true
            }
        })
    }

    /// Modifies the value in place; `f` returns whether readers should be woken.
    pub fn modify(&self, f: impl FnOnce(&mut T) -> bool) -> bool {
        self.0.send_if_modified(f)
    }

    /// A new reader of this value.
    pub fn subscribe(&self) -> Var<T> {
        Var(self.0.subscribe())
    }

    /// Whether every reader is gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Waits until every reader is gone.
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

/// The state of an asynchronous, changing computation (Finagle's `Activity.State`).
#[derive(Clone, Debug, PartialEq)]
pub enum State<T> {
    /// No answer yet.
    Pending,
    /// The current answer.
    Ok(T),
    /// The computation failed; it may recover later.
    Failed(Error),
}

/// Why a watched computation failed; cheap to clone into every reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Arc<str>);

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<Arc<str>>) -> Error {
        Error(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A changing computation that may be pending or failed (Finagle's `Activity`).
pub type Activity<T> = Var<State<T>>;

impl<T> State<T> {
    /// Maps the value of an `Ok` state.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> State<U> {
        match self {
            State::Pending => State::Pending,
            State::Ok(v) => State::Ok(f(v)),
            State::Failed(e) => State::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_see_updates_and_constants_never_change() {
        let (tx, mut rx) = Var::new(1);
        assert_eq!(*rx.get_and_mark_seen(), 1);
        tx.set(2);
        assert!(rx.changed().await);
        assert_eq!(rx.sample(), 2);
        assert!(!tx.set_if_changed(2), "an equal value wakes nobody");
        drop(tx);
        assert!(!rx.changed().await, "a dropped source never changes again");
        assert_eq!(rx.sample(), 2, "and keeps its last value");
        let mut c = Var::constant("x");
        assert!(!c.changed().await);
    }
}
