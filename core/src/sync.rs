//! Locking shared state that stays usable after a panic.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning: the state behind linkerd's locks is changed by single
/// inserts, removals and replacements, so a panic elsewhere while holding one cannot
/// leave it half-updated, and serving must go on.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
