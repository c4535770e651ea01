//! Delegation explanation.
