//! The `mux` and `thriftmux` protocols' config. A mux router has only the common router
//! keys (its name is `dstPrefix` followed by the Tdispatch destination); `thriftmux`
//! takes the `thrift` keys and, as in Linkerd 1, requires `experimental: true`; its
//! `clientProtocol: thriftmux` (our addition) speaks ThriftMux to backends.

use l5d_core::config::{Protocol, ProtocolRouterConfig, Registry, RegistryError};
use l5d_thrift::config::{
    ThriftClientConfig, ThriftProtocol, ThriftRouterConfig, ThriftServerConfig,
};
use serde::Deserialize;

/// The default port of `mux` routers' servers.
pub const MUX_PORT: u16 = 4141;
/// The default port of `thriftmux` routers' servers (Linkerd 1's code; its docs name none).
pub const THRIFTMUX_PORT: u16 = 4144;

/// What a thriftmux router speaks to its backends (`clientProtocol`, our addition:
/// Linkerd 1's thriftmux routers always spoke plain Thrift).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientProtocol {
    /// Plain Thrift (framed by default, `client.thriftFramed`), as Linkerd 1 does.
    #[default]
    Thrift,
    /// ThriftMux: one multiplexed Mux session per backend.
    Thriftmux,
}

/// Router keys of `thriftmux`: the `thrift` keys, and what backends are spoken to in.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ThriftMuxRouterConfig {
    /// Append the method name to the name (default false).
    #[serde(default)]
    pub thrift_method_in_dst: bool,
    /// The encoding of calls linkerd writes itself (default binary).
    #[serde(default)]
    pub thrift_protocol: ThriftProtocol,
    /// What backends are spoken to in (default `thrift`).
    #[serde(default)]
    pub client_protocol: ClientProtocol,
}
impl ProtocolRouterConfig for ThriftMuxRouterConfig {}

impl ThriftMuxRouterConfig {
    /// The thrift router keys among these.
    pub fn thrift(&self) -> ThriftRouterConfig {
        ThriftRouterConfig {
            thrift_method_in_dst: self.thrift_method_in_dst,
            thrift_protocol: self.thrift_protocol,
        }
    }
}

/// Adds the `mux` and `thriftmux` protocols.
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    reg.add_protocol(Protocol::new("mux", MUX_PORT))?;
    let mut thriftmux = Protocol::new("thriftmux", THRIFTMUX_PORT);
    thriftmux
        .set_experimental()
        .set_router::<ThriftMuxRouterConfig>()
        .set_server::<ThriftServerConfig>()
        .set_client::<ThriftClientConfig>();
    reg.add_protocol(thriftmux)
}
