//! The HTTP/1.1 router's protocol pieces: its config schema (`config`), Linkerd 1's
//! identifiers and per-request dtab headers (`identify`), the header rules applied to every
//! forwarded message (`headers`), linkerd's own error responses (`error`), and the router
//! itself (`router`, `server`, `start`): identify, bind, balance, forward — over the
//! core's bindings, clients and metrics, with its own per-endpoint connection pools
//! (`pool`).

#![warn(missing_docs)]

pub mod classify;
pub mod config;
pub mod deadline;
pub mod error;
pub mod forwarded;
pub mod headers;
pub mod identify;
pub mod pool;
pub mod router;
pub mod server;
pub mod start;
pub mod trace;
