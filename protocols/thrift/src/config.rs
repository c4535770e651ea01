//! The `thrift` protocol's config: router, server and client keys with Linkerd 1.7.5's
//! names and defaults. Thrift routers have no identifier kinds: the name is `dstPrefix`,
//! then the TTwitter destination, then (with `thriftMethodInDst`) the method.

use l5d_core::config::{
    Protocol, ProtocolClientConfig, ProtocolRouterConfig, ProtocolServerConfig, Registry,
    RegistryError,
};
use serde::Deserialize;

/// The default port of `thrift` routers' servers.
pub const THRIFT_PORT: u16 = 4114;

fn yes() -> bool {
    true
}

/// The Thrift protocol encoding (`thriftProtocol`).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ThriftProtocol {
    /// TBinaryProtocol (the default).
    #[default]
    Binary,
    /// TCompactProtocol.
    Compact,
}

/// Router keys of `thrift` (and `thriftmux`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThriftRouterConfig {
    /// Append the method name to the name (default false).
    #[serde(default)]
    pub thrift_method_in_dst: bool,
    /// The encoding of requests and replies, on servers and clients (default binary).
    #[serde(default)]
    pub thrift_protocol: ThriftProtocol,
}
impl ProtocolRouterConfig for ThriftRouterConfig {}

/// Server keys of `thrift` (and `thriftmux`).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThriftServerConfig {
    /// Framed transport; false for buffered (default true).
    #[serde(default = "yes")]
    pub thrift_framed: bool,
}
impl ProtocolServerConfig for ThriftServerConfig {}

/// Client keys of `thrift` (and `thriftmux`); unset keys inherit, then default.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThriftClientConfig {
    /// Framed transport (default true).
    pub thrift_framed: Option<bool>,
    /// Try the TTwitter upgrade to carry trace and dtab context (default false).
    #[serde(rename = "attemptTTwitterUpgrade")]
    pub attempt_ttwitter_upgrade: Option<bool>,
}
impl ProtocolClientConfig for ThriftClientConfig {}

/// Adds the `thrift` protocol.
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    let mut thrift = Protocol::new("thrift", THRIFT_PORT);
    thrift
        .set_router::<ThriftRouterConfig>()
        .set_server::<ThriftServerConfig>()
        .set_client::<ThriftClientConfig>();
    reg.add_protocol(thrift)
}
