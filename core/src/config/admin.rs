//! `admin:` (the admin HTTP server), `usage:` and `telemetry:`, shared by linkerd and
//! namerd.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use serde_json::Value;

use super::de::decode;
use super::error::ConfigError;
use super::keypath::KeyPath;
use super::kind::sequence;
use super::plugin::TelemeterConfig;
use super::slot::{plugin, Configured, Cx};
use super::types::{ip, loopback, SocketOptions, TlsServerConfig};

fn yes() -> bool {
    true
}
fn ten_secs_ms() -> u64 {
    10_000
}
fn two() -> u32 {
    2
}

/// `admin.security`: which admin endpoints are served (a refused one answers 404).
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdminSecurity {
    /// The dashboard and its assets (default true).
    #[serde(default = "yes")]
    pub ui_enabled: bool,
    /// Endpoints that change state, such as shutdown and log levels (default true).
    #[serde(default = "yes")]
    pub control_enabled: bool,
    /// Diagnostics such as threads and profiles (default true).
    #[serde(default = "yes")]
    pub diagnostics_enabled: bool,
    /// Path regexes always served.
    #[serde(default)]
    pub path_whitelist: Vec<String>,
    /// Path regexes never served.
    #[serde(default)]
    pub path_blacklist: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AdminWire {
    #[serde(default = "loopback", deserialize_with = "ip")]
    ip: IpAddr,
    port: Option<u16>,
    socket_options: Option<SocketOptions>,
    http_identifier_port: Option<u16>,
    #[serde(default = "ten_secs_ms")]
    shutdown_grace_ms: u64,
    tls: Option<TlsServerConfig>,
    security: Option<AdminSecurity>,
    #[serde(default = "two")]
    worker_threads: u32,
}

/// The admin server.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    /// Listen IP (default loopback).
    pub ip: IpAddr,
    /// Listen port (default 9990 for linkerd, 9991 for namerd).
    pub port: u16,
    /// Socket options.
    pub socket_options: Option<SocketOptions>,
    /// A port that answers which router would identify a request as what.
    pub http_identifier_port: Option<u16>,
    /// How long a shutdown waits for requests in flight, in milliseconds (default 10000).
    pub shutdown_grace_ms: u64,
    /// Admin TLS.
    pub tls: Option<TlsServerConfig>,
    /// Which endpoints are served (default all).
    pub security: Option<AdminSecurity>,
    /// Threads serving admin requests (default 2).
    pub worker_threads: u32,
}

impl AdminConfig {
    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

pub(crate) fn admin(
    value: Option<Value>,
    path: &KeyPath,
    default_port: u16,
) -> Result<AdminConfig, ConfigError> {
    let value = match value {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v,
    };
    let w: AdminWire = decode(value, path, None)?;
    if let Some(tls) = &w.tls {
        tls.validate()
            .map_err(|m| ConfigError::new(path.key("tls"), m))?;
    }
    Ok(AdminConfig {
        ip: w.ip,
        port: w.port.unwrap_or(default_port),
        socket_options: w.socket_options,
        http_identifier_port: w.http_identifier_port,
        shutdown_grace_ms: w.shutdown_grace_ms,
        tls: w.tls,
        security: w.security,
        worker_threads: w.worker_threads,
    })
}

/// `usage:`: anonymous usage reporting. Accepted for compatibility; nothing is reported.
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageConfig {
    /// An organization id to report under.
    pub org_id: Option<String>,
    /// Whether reporting is on (Linkerd 1's default: true).
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TelemeterCommon {
    #[serde(default)]
    experimental: bool,
}

/// A configured telemeter.
#[derive(Debug)]
pub struct TelemeterEntry {
    /// The plugin.
    pub telemeter: Configured<dyn TelemeterConfig>,
    /// Whether the config said `experimental: true`.
    pub experimental: bool,
}

pub(crate) fn telemetry(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<Vec<TelemeterEntry>, ConfigError> {
    let registry = cx.registry;
    let mut out = Vec::new();
    for (i, item) in sequence(value, path)?.into_iter().enumerate() {
        let at = path.index(i);
        let slot = plugin::<TelemeterCommon, dyn TelemeterConfig>(
            cx,
            &registry.telemeters,
            item,
            &at,
            None,
            &[],
        )?;
        out.push(TelemeterEntry {
            telemeter: slot.plugin,
            experimental: slot.common.experimental,
        });
    }
    Ok(out)
}
