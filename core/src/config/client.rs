//! `routers[].client`: per-client (per bound name) parameters, one set for every client
//! (`io.l5d.global`) or layered by prefix (`io.l5d.static`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::balancer::{failure_accrual, load_balancer, FailureAccrual, LoadBalancer};
use super::de::{decode, fields_of};
use super::error::{ConfigError, Location};
use super::keypath::KeyPath;
use super::kind::{partition, select, sequence, unknown_kind_message};
use super::pattern::PathPattern;
use super::plugin::ProtocolClientConfig;
use super::registry::Protocol;
use super::retry::{budget, Budget};
use super::server::SessionConfig;
use super::slot::Cx;
use super::types::{SocketOptions, TlsClientConfig};
use crate::naming::Path;

/// `hostConnectionPool`: the per-endpoint connection pool (HTTP/1).
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostConnectionPool {
    /// Connections kept open (default 0).
    pub min_size: Option<u32>,
    /// The most connections (default unlimited).
    pub max_size: Option<u32>,
    /// Close connections idle this long (milliseconds; default forever).
    pub idle_time_ms: Option<u64>,
    /// The most requests waiting for a connection (default unlimited).
    pub max_waiters: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ClientCommon {
    request_attempt_timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    requeue_budget: Option<Value>,
    tls: Option<TlsClientConfig>,
    host_connection_pool: Option<HostConnectionPool>,
    fail_fast: Option<bool>,
    client_session: Option<SessionConfig>,
    socket_options: Option<SocketOptions>,
    label: Option<String>,
}

/// One set of client parameters; unset keys inherit (from earlier static entries, then the
/// defaults).
#[derive(Debug)]
pub struct ClientParams {
    /// The load balancer (default `p2c`).
    pub load_balancer: Option<LoadBalancer>,
    /// Failure accrual (default five consecutive failures).
    pub failure_accrual: Option<FailureAccrual>,
    /// The timeout of one request attempt, in milliseconds (default none).
    pub request_attempt_timeout_ms: Option<u64>,
    /// How long connecting to an endpoint may take, in milliseconds (default 1000, as
    /// Finagle's `Transporter.ConnectTimeout`). Not a Linkerd 1.7.5 key: an addition for
    /// users who need a shorter or longer one.
    pub connect_timeout_ms: Option<u64>,
    /// The budget for connection-level requeues (default 10/s plus 20%, over 10 s).
    pub requeue_budget: Option<Budget>,
    /// Client TLS.
    pub tls: Option<TlsClientConfig>,
    /// The connection pool.
    pub host_connection_pool: Option<HostConnectionPool>,
    /// Finagle's fail-fast (default false).
    pub fail_fast: Option<bool>,
    /// Connection lifetime limits.
    pub client_session: Option<SessionConfig>,
    /// Socket options.
    pub socket_options: Option<SocketOptions>,
    /// A label for the client's metrics.
    pub label: Option<String>,
    /// The protocol's own client keys.
    pub protocol: Box<dyn ProtocolClientConfig>,
    /// Where it sits in the config.
    pub path: KeyPath,
    /// Its line, when known.
    pub location: Option<Location>,
}

/// An `io.l5d.static` entry.
#[derive(Debug)]
pub struct StaticClient {
    /// The bound ids it applies to.
    pub prefix: PathPattern,
    /// Its parameters.
    pub params: ClientParams,
}

/// `routers[].client`.
#[derive(Debug)]
pub enum ClientConfig {
    /// `io.l5d.global` (the default): one set for every client.
    Global(Box<ClientParams>),
    /// `io.l5d.static`: entries applied in order to the clients their prefix matches, a
    /// later entry overriding what an earlier one set.
    Static(Vec<StaticClient>),
}

impl ClientConfig {
    /// The parameter sets that apply to the client for `id`, in the order they apply,
    /// each with the prefix captures it matched with.
    pub fn params_for(&self, id: &Path) -> Vec<(&ClientParams, Vec<(String, String)>)> {
        match self {
            ClientConfig::Global(p) => vec![(p, Vec::new())],
            ClientConfig::Static(entries) => entries
                .iter()
                .filter_map(|e| e.prefix.matches(id).map(|caps| (&e.params, caps)))
                .collect(),
        }
    }
}

const GLOBAL: &str = "io.l5d.global";
const STATIC: &str = "io.l5d.static";

pub(crate) fn client(
    cx: &mut Cx<'_>,
    protocol: &Protocol,
    value: Option<Value>,
    path: &KeyPath,
) -> Result<ClientConfig, ConfigError> {
    let (kind, map) = select(value.unwrap_or(Value::Null), path, "kind", Some(GLOBAL))?;
    match kind.as_str() {
        GLOBAL => Ok(ClientConfig::Global(Box::new(
            params(cx, protocol, map, path, false)?.1,
        ))),
        STATIC => {
            let configs = static_configs(cx, map, path, "client")?;
            let mut out = Vec::new();
            for (i, item) in configs.into_iter().enumerate() {
                let at = path.key("configs").index(i);
                let map = super::kind::mapping(item, &at)?;
                let (prefix, params) = params(cx, protocol, map, &at, true)?;
                out.push(StaticClient {
                    prefix: prefix.ok_or_else(|| {
                        ConfigError::new(at.clone(), "missing required key 'prefix'")
                    })?,
                    params,
                });
            }
            Ok(ClientConfig::Static(out))
        }
        other => Err(ConfigError::new(
            path.clone(),
            unknown_kind_message("client", "kind", other, [GLOBAL, STATIC].into_iter()),
        )
        .focus(path.key("kind"))),
    }
}

/// The `configs` list of an `io.l5d.static` client or service.
pub(crate) fn static_configs(
    cx: &mut Cx<'_>,
    map: Map<String, Value>,
    path: &KeyPath,
    family: &str,
) -> Result<Vec<Value>, ConfigError> {
    let context = format!("kind {STATIC}");
    let mut parts = partition(
        map,
        path,
        family,
        Some(&context),
        &[Some(&["configs"])],
        &mut cx.warnings,
    )?
    .into_iter();
    let mut map = parts.next().unwrap_or_default();
    match map.shift_remove("configs") {
        Some(v) => sequence(v, &path.key("configs")),
        None => Err(
            ConfigError::new(path.clone(), "missing required key 'configs'")
                .in_context(Some(&context)),
        ),
    }
}

/// Decodes one parameter set; with `prefixed`, also its `prefix`.
fn params(
    cx: &mut Cx<'_>,
    protocol: &Protocol,
    map: Map<String, Value>,
    path: &KeyPath,
    prefixed: bool,
) -> Result<(Option<PathPattern>, ClientParams), ConfigError> {
    let context = format!("protocol {}", protocol.name());
    let extra: &[&str] = if prefixed {
        &["loadBalancer", "failureAccrual", "prefix"]
    } else {
        &["loadBalancer", "failureAccrual"]
    };
    let mut parts = partition(
        map,
        path,
        "client",
        Some(&context),
        &[
            protocol.client.fields(),
            fields_of::<ClientCommon>(),
            Some(extra),
        ],
        &mut cx.warnings,
    )?
    .into_iter();
    let own = parts.next().unwrap_or_default();
    let common = parts.next().unwrap_or_default();
    let mut extra = parts.next().unwrap_or_default();
    let common: ClientCommon = decode(Value::Object(common), path, Some(&context))?;
    if let Some(tls) = &common.tls {
        tls.validate()
            .map_err(|m| ConfigError::new(path.key("tls"), m).in_context(Some(&context)))?;
    }
    let prefix = match extra.shift_remove("prefix") {
        Some(v) => Some(decode::<PathPattern>(v, &path.key("prefix"), None)?),
        None => None,
    };
    let load_balancer = match extra.shift_remove("loadBalancer") {
        Some(v) => Some(load_balancer(cx, v, &path.key("loadBalancer"))?),
        None => None,
    };
    let failure_accrual = match extra.shift_remove("failureAccrual") {
        Some(v) => Some(failure_accrual(cx, v, &path.key("failureAccrual"))?),
        None => None,
    };
    let requeue_budget = match common.requeue_budget {
        Some(v) => Some(budget(v, &path.key("requeueBudget"))?),
        None => None,
    };
    let own = protocol
        .client
        .parse(Value::Object(own), path, Some(&context))?;
    Ok((
        prefix,
        ClientParams {
            load_balancer,
            failure_accrual,
            request_attempt_timeout_ms: common.request_attempt_timeout_ms,
            connect_timeout_ms: common.connect_timeout_ms,
            requeue_budget,
            tls: common.tls,
            host_connection_pool: common.host_connection_pool,
            fail_fast: common.fail_fast,
            client_session: common.client_session,
            socket_options: common.socket_options,
            label: common.label,
            protocol: own,
            path: path.clone(),
            location: cx.locate(path),
        },
    ))
}
