//! The linkerd binary's wiring.

#![warn(missing_docs)]
