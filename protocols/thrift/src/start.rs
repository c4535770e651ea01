//! Turning a `protocol: thrift` router config into a running router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use l5d_core::binding::NameInterpreter;
use l5d_core::config::RouterConfig;
use l5d_core::naming::Path;
use l5d_core::router::settings::{ClientKeys, Layered};

use crate::codec::Encoding;
use crate::config::{ThriftClientConfig, ThriftProtocol, ThriftRouterConfig, ThriftServerConfig};
use crate::router::{Naming, ThriftClientKeys, ThriftRouter};
use crate::server::{self, ServerSettings};

/// A started router and the addresses its servers listen on.
pub struct Started {
    /// The router (for the admin server's views of it).
    pub router: Arc<ThriftRouter>,
    /// Where its servers listen.
    pub addrs: Vec<SocketAddr>,
}

/// The router `cfg` describes, with its Thrift keys `own` (a `thrift` or `thriftmux`
/// router's), binding with `interpreter` and recording into `registry`, and its encoding.
pub fn router(
    cfg: &RouterConfig,
    own: &ThriftRouterConfig,
    interpreter: Arc<dyn NameInterpreter>,
    registry: &l5d_core::metrics::Registry,
) -> Result<(Arc<ThriftRouter>, Encoding), String> {
    let encoding = match own.thrift_protocol {
        ThriftProtocol::Binary => Encoding::StrictBinary,
        ThriftProtocol::Compact => Encoding::Compact,
    };
    let clients = Layered::clients(&cfg.client, |p| {
        let own = p.protocol.downcast_ref::<ThriftClientConfig>();
        (
            ClientKeys::of(p),
            own.and_then(|c| c.thrift_framed),
            own.and_then(|c| c.attempt_ttwitter_upgrade),
        )
    });
    let client_setup = Box::new(move |id: &Path| {
        let mut keys = ThriftClientKeys {
            framed: true,
            attempt_upgrade: false,
        };
        for (_, framed, upgrade) in clients.applying(id) {
            keys.framed = framed.unwrap_or(keys.framed);
            keys.attempt_upgrade = upgrade.unwrap_or(keys.attempt_upgrade);
        }
        (ClientKeys::setup(clients.applying(id).map(|l| &l.0)), keys)
    });
    let services = Layered::services(&cfg.service, |p| p.total_timeout_ms);
    let service_timeout = Box::new(move |name: &Path| {
        services
            .applying(name)
            .fold(None, |t, l| l.or(t))
            .map(Duration::from_millis)
    });
    let router = Arc::new(ThriftRouter::new(
        cfg.label.clone(),
        Naming {
            binding_timeout: Duration::from_millis(cfg.binding_timeout_ms),
            binding_idle_ttl: Duration::from_secs(cfg.binding_cache.idle_ttl_secs),
            encoding,
            dst_prefix: cfg.dst_prefix.clone(),
            dtab: cfg.dtab.clone(),
            method_in_dst: own.thrift_method_in_dst,
        },
        interpreter,
        client_setup,
        service_timeout,
        registry.clone(),
    ));
    l5d_core::router::spawn_sweeper(&router, ThriftRouter::sweep);
    Ok((router, encoding))
}

/// Starts the router `cfg` describes, binding with `interpreter`, and every one of its
/// servers, recording into `registry`; its servers stop gracefully with `drain`.
pub async fn start(
    cfg: &RouterConfig,
    interpreter: Arc<dyn NameInterpreter>,
    registry: &l5d_core::metrics::Registry,
    drain: &Arc<l5d_core::shutdown::Drain>,
) -> Result<Started, String> {
    let own = cfg
        .protocol_config
        .downcast_ref::<ThriftRouterConfig>()
        .ok_or_else(|| format!("router '{}' is not a thrift router", cfg.label))?;
    let (router, encoding) = router(cfg, own, interpreter, registry)?;
    let mut addrs = Vec::new();
    for s in &cfg.servers {
        let framed = s
            .protocol
            .downcast_ref::<ThriftServerConfig>()
            .is_none_or(|t| t.thrift_framed);
        let settings = ServerSettings {
            addr: s.addr(),
            framed,
            encoding,
            max_concurrent: s.max_concurrent_requests.map(|n| n as usize),
            timeout: s.timeout_ms.map(Duration::from_millis),
            drain: drain.clone(),
        };
        let local = server::start(router.clone(), settings, registry)
            .await
            .map_err(|e| format!("router '{}': cannot listen on {}: {e}", cfg.label, s.addr()))?;
        addrs.push(local);
    }
    Ok(Started { router, addrs })
}
