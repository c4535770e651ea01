//! The namerd binary's wiring, kept in a library so that integration tests start the same
//! code the binary runs.

#![warn(missing_docs)]

pub mod http;
pub mod plugins;
pub mod run;
pub mod store;
pub mod thrift;
