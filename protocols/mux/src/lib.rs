//! Finagle Mux and ThriftMux: the codec for every message type with fragments (`codec`),
//! the server and client sides of a session (`server`, `client`: the handshake, pings,
//! concurrent dispatches, discards, drains), and Linkerd 1's `mux` and `thriftmux`
//! routers (`router`, `start`). The session layer is also the ThriftMux client and server
//! API other crates build on (namerd's thrift interface and linkerd's namerd
//! interpreter).

#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod config;
pub mod router;
pub mod server;
pub mod start;
pub mod thriftmux;
