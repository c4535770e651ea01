//! Service-discovery namers (fs, consul, k8s, zk serversets, dns-srv, ...) behind
//! `l5d_core::naming::Namer`. Filled in by the HTTP router and service-discovery issues;
//! the system namers (`/$/inet`, `/$/fail`, `/$/nil`) live in `l5d-core`.

#![warn(missing_docs)]

pub mod config;
pub mod consul;
pub mod dnssrv;
pub mod fs;
pub mod fs_dtab;
pub mod k8s;
pub mod marathon;
pub mod namer_idl;
pub mod namerd;
pub mod namerd_thrift;
pub mod rewrite;
pub mod transform;
pub mod zk;
