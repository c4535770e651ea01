//! The namerd binary's wiring.

#![warn(missing_docs)]

pub mod plugins;
