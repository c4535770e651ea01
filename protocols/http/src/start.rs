//! Turning a `protocol: http` router config into a running router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::HOST;
use l5d_core::binding::NameInterpreter;
use l5d_core::config::RouterConfig;

use crate::config::{HttpRouterConfig, HttpServerConfig};
use crate::identify::{build, HeaderToken, HttpIdentifier, NameReader};
use crate::router::{HttpRouter, Limits};
use crate::server::{self, ServerSettings};

/// Starts the router `cfg` describes, binding with `interpreter`, and every one of its
/// servers, recording into `registry`; returns the addresses they listen on.
pub async fn start(
    cfg: &RouterConfig,
    interpreter: Arc<dyn NameInterpreter>,
    registry: &l5d_core::metrics::Registry,
) -> Result<Vec<SocketAddr>, String> {
    let own = cfg
        .protocol_config
        .downcast_ref::<HttpRouterConfig>()
        .ok_or_else(|| format!("router '{}' is not an http router", cfg.label))?;
    let mut readers: Vec<Box<dyn NameReader>> = Vec::new();
    for id in &cfg.identifiers {
        readers.push(build(id).map_err(|e| format!("router '{}': {e}", cfg.label))?);
    }
    if readers.is_empty() {
        readers.push(Box::new(HeaderToken::new(HOST)));
    }
    let identifier = HttpIdentifier::new(cfg.dst_prefix.clone(), cfg.dtab.clone(), readers);
    let limits = Limits {
        binding_timeout: Duration::from_millis(cfg.binding_timeout_ms),
        max_headers: own.max_headers_kb as usize * 1024,
        max_err_body: own.max_err_response_kb as usize * 1024,
    };
    let router = Arc::new(HttpRouter::new(
        cfg.label.clone(),
        identifier,
        interpreter,
        limits,
    ));
    let mut bound = Vec::new();
    for s in &cfg.servers {
        let max_call_depth = s
            .protocol
            .downcast_ref::<HttpServerConfig>()
            .map_or(1000, |h| h.max_call_depth as usize);
        let settings = ServerSettings {
            addr: s.addr(),
            max_call_depth,
            max_head_bytes: (own.max_headers_kb as usize + own.max_initial_line_kb as usize) * 1024,
        };
        let local = server::start(router.clone(), settings, registry)
            .await
            .map_err(|e| format!("router '{}': cannot listen on {}: {e}", cfg.label, s.addr()))?;
        bound.push(local);
    }
    Ok(bound)
}
