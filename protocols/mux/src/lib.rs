//! Finagle Mux and ThriftMux sessions and routers. Filled in by the Mux issue.

#![warn(missing_docs)]

pub mod config;
