//! Watchable values.
