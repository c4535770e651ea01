//! The HTTP/1.1 router's protocol pieces: its config schema (`config`), Linkerd 1's
//! identifiers and per-request dtab headers (`identify`), the header rules applied to every
//! forwarded message (`headers`), linkerd's own error responses (`error`), and the router
//! itself (`router`, `server`, `start`): identify, bind, balance, forward — with its
//! clients (`client`), per-endpoint connection pools (`pool`) and metrics (`stats`).

#![warn(missing_docs)]

pub mod classify;
pub mod client;
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
pub mod stats;
pub mod trace;
