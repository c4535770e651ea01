//! The Thrift router: Linkerd 1's `protocol: thrift`. Calls are framed without decoding
//! their bodies (`codec`, `transport`: framed and buffered transports, binary and compact
//! encodings), named by `dstPrefix`, the TTwitter `dest` and the method, bound and
//! balanced by the core router, and forwarded on pooled backend connections (`endpoint`,
//! `router`, `server`, `start`); TTwitter upgrades are accepted and, when configured,
//! attempted (`ttwitter`).

#![warn(missing_docs)]

pub mod codec;
pub mod config;
pub mod endpoint;
pub mod router;
pub mod server;
pub mod start;
pub mod transport;
pub mod ttwitter;
pub mod value;
