//! The HTTP/1.1 router: codec, identifiers and the glue to the core router. Filled in by the HTTP router issue.

#![warn(missing_docs)]

pub mod config;
pub mod identify;
