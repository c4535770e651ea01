//! The `mux` and `thriftmux` protocols' config. A mux router has only the common router
//! keys (its name is `dstPrefix` followed by the Tdispatch destination); `thriftmux`
//! takes the `thrift` keys and, as in Linkerd 1, requires `experimental: true`.

use l5d_core::config::{Protocol, Registry, RegistryError};
use l5d_thrift::config::{ThriftClientConfig, ThriftRouterConfig, ThriftServerConfig};

/// The default port of `mux` routers' servers.
pub const MUX_PORT: u16 = 4141;
/// The default port of `thriftmux` routers' servers (Linkerd 1's code; its docs name none).
pub const THRIFTMUX_PORT: u16 = 4144;

/// Adds the `mux` and `thriftmux` protocols.
pub fn register(reg: &mut Registry) -> Result<(), RegistryError> {
    reg.add_protocol(Protocol::new("mux", MUX_PORT))?;
    let mut thriftmux = Protocol::new("thriftmux", THRIFTMUX_PORT);
    thriftmux
        .set_experimental()
        .set_router::<ThriftRouterConfig>()
        .set_server::<ThriftServerConfig>()
        .set_client::<ThriftClientConfig>();
    reg.add_protocol(thriftmux)
}
