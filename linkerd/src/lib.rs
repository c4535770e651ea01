//! The linkerd binary's wiring, kept in a library so that integration tests start the same
//! code the binary runs: loading a config and starting what it names, and the offline
//! `linkerd dtab` tools.

#![warn(missing_docs)]

pub mod dtab;
pub mod memory;
pub mod plugins;
pub mod run;
