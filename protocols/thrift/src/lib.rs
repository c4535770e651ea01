//! The Thrift router: framed and buffered transports, binary and compact headers. Filled in by the Thrift issue.

#![warn(missing_docs)]

pub mod config;
