//! Deep recursion, kept safe.
//!
//! Binding and delegation recurse once per lookup and once per nested alternative or
//! union. Each dentry nests at most [`crate::naming::MAX_NESTING`] levels and a branch makes
//! at most 100 lookups, so a crafted dtab could still ask for thousands of levels, more than
//! a worker thread's stack holds in a debug build. So the total is bounded ([`MAX_LEVELS`],
//! an error beyond it) and each recursive step runs on a stack that `stacker` extends on
//! the heap when the thread's own runs low.

/// The deepest binding or delegation recursion allowed, lookups and nesting together.
pub const MAX_LEVELS: usize = 1000;

/// The message when a binding or delegation recurses past [`MAX_LEVELS`].
pub(crate) fn too_deep() -> crate::var::Error {
    crate::var::Error::new(format!(
        "name tree nested more than {MAX_LEVELS} levels deep"
    ))
}

/// Runs `f` with at least 64 KiB of stack left, moving to a fresh 1 MiB segment if needed.
pub(crate) fn grow<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}
