//! Turning a `protocol: http` router config into a running router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::HOST;
use l5d_core::binding::NameInterpreter;
use l5d_core::config::RouterConfig;

use l5d_core::config::{
    ClassifierConfig, ClientConfig, Configured, Retries, ServiceConfig, ServiceParams,
};
use l5d_core::naming::Path;
use l5d_core::router::settings::{ClientKeys, Layered};

use crate::config::{HttpRouterConfig, HttpServerConfig, StatusClassifier, TracePropagator};
use crate::forwarded::Additions;
use crate::identify::{build, HeaderToken, HttpIdentifier, NameReader};
use crate::router::{ClientSettingsFn, HttpRouter, Limits, ServiceSettings, ServiceSettingsFn};
use crate::server::{self, ServerSettings};

/// The most a message is buffered when streaming is off (Finagle's `maxRequestSize` and
/// `maxResponseSize` defaults).
const BUFFER_LIMIT: usize = 5 << 20;

/// The client settings for each bound id.
fn client_settings(cfg: &ClientConfig) -> ClientSettingsFn {
    let layers = Layered::clients(cfg, ClientKeys::of);
    Box::new(move |id: &Path| ClientKeys::setup(layers.applying(id)))
}

/// One `service` entry's keys the router uses.
#[derive(Clone)]
struct ServiceLayer {
    total_timeout_ms: Option<u64>,
    classifier: Option<StatusClassifier>,
    retries: Option<Retries>,
}

/// The classifier a config names, if it is one of the HTTP status classifiers.
fn status_classifier(c: &Configured<dyn ClassifierConfig>) -> Option<StatusClassifier> {
    c.config.downcast_ref::<StatusClassifier>().copied()
}

/// The service settings for each logical name: `io.l5d.static` entries apply in order to
/// the names their prefix matches, each overriding what the earlier ones set.
fn service_settings(
    cfg: &ServiceConfig,
    default_classifier: Option<StatusClassifier>,
) -> ServiceSettingsFn {
    let layer = |p: &ServiceParams| ServiceLayer {
        total_timeout_ms: p.total_timeout_ms,
        classifier: p.response_classifier.as_ref().and_then(status_classifier),
        retries: p.retries.clone(),
    };
    let layers = Layered::services(cfg, layer);
    Box::new(move |name: &Path| {
        let mut settings = ServiceSettings {
            total_timeout: None,
            classifier: default_classifier.unwrap_or(StatusClassifier::NonRetryable5XX),
            retries: Retries::default(),
        };
        for l in layers.applying(name) {
            if let Some(t) = l.total_timeout_ms {
                settings.total_timeout = Some(Duration::from_millis(t));
            }
            if let Some(c) = l.classifier {
                settings.classifier = c;
            }
            if let Some(r) = &l.retries {
                settings.retries = r.clone();
            }
        }
        settings
    })
}

/// A started router and the addresses its servers listen on.
pub struct Started {
    /// The router (for the admin server's views of it).
    pub router: Arc<HttpRouter>,
    /// Where its servers listen.
    pub addrs: Vec<SocketAddr>,
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
        binding_idle_ttl: Duration::from_secs(cfg.binding_cache.idle_ttl_secs),
        max_headers: own.max_headers_kb as usize * 1024,
        max_err_body: own.max_err_response_kb as usize * 1024,
        buffer_limit: (!own.streaming_enabled).then_some(BUFFER_LIMIT),
        propagator: own.trace_propagator.unwrap_or(TracePropagator::Linkerd),
    };
    let router = Arc::new(HttpRouter::new(
        cfg.label.clone(),
        identifier,
        interpreter,
        limits,
        client_settings(&cfg.client),
        service_settings(
            &cfg.service,
            cfg.default_classifier.as_ref().and_then(status_classifier),
        ),
        registry.clone(),
    ));
    l5d_core::router::spawn_sweeper(&router, HttpRouter::sweep);
    let mut bound = Vec::new();
    for s in &cfg.servers {
        let own_server = s.protocol.downcast_ref::<HttpServerConfig>();
        let max_call_depth = own_server.map_or(1000, |h| h.max_call_depth as usize);
        let timestamp =
            match own_server.and_then(|h| h.timestamp_header.as_deref()) {
                Some(name) => Some(http::HeaderName::try_from(name).map_err(|e| {
                    format!("router '{}': timestampHeader '{name}': {e}", cfg.label)
                })?),
                None => None,
            };
        let additions = Arc::new(Additions {
            forwarded: own_server.and_then(|h| h.add_forwarded_header.clone()),
            timestamp,
            router: cfg.label.clone(),
            clear_context: s.clear_context,
        });
        let settings = ServerSettings {
            addr: s.addr(),
            max_call_depth,
            max_head_bytes: (own.max_headers_kb as usize + own.max_initial_line_kb as usize) * 1024,
            additions,
            max_concurrent: s.max_concurrent_requests.map(|n| n as usize),
            timeout: s.timeout_ms.map(Duration::from_millis),
            drain: drain.clone(),
        };
        let local = server::start(router.clone(), settings, registry)
            .await
            .map_err(|e| format!("router '{}': cannot listen on {}: {e}", cfg.label, s.addr()))?;
        bound.push(local);
    }
    Ok(Started {
        router,
        addrs: bound,
    })
}
