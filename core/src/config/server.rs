//! `routers[].servers[]`: where a router listens (Linkerd 1's `Server.scala` keys, plus
//! the protocol's own server keys).

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use serde_json::Value;

use super::de::{decode, fields_of};
use super::error::{ConfigError, Location};
use super::keypath::KeyPath;
use super::kind::{partition, sequence};
use super::plugin::ProtocolServerConfig;
use super::registry::Protocol;
use super::slot::Cx;
use super::types::{ip, loopback, SocketOptions, TlsServerConfig};
use crate::naming::Path;

/// Connection lifetime limits (`serverSession`, `clientSession`).
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionConfig {
    /// Close a connection idle this long (milliseconds; default forever).
    pub idle_time_ms: Option<u64>,
    /// Close a connection this old (milliseconds; default forever).
    pub life_time_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ServerCommon {
    port: Option<u16>,
    #[serde(default = "loopback", deserialize_with = "ip")]
    ip: IpAddr,
    tls: Option<TlsServerConfig>,
    max_concurrent_requests: Option<u32>,
    timeout_ms: Option<u64>,
    #[serde(default)]
    clear_context: bool,
    #[serde(default)]
    announce: Vec<Path>,
    server_session: Option<SessionConfig>,
    socket_options: Option<SocketOptions>,
    label: Option<String>,
}

/// A server of a router.
#[derive(Debug)]
pub struct ServerConfig {
    /// Listen IP (default loopback).
    pub ip: IpAddr,
    /// Listen port (default: the protocol's port, e.g. 4140 for http).
    pub port: u16,
    /// Server TLS.
    pub tls: Option<TlsServerConfig>,
    /// Admission control: the most requests served at once (default unlimited).
    pub max_concurrent_requests: Option<u32>,
    /// Server-side request timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Strip linkerd context headers from requests and error details from responses.
    pub clear_context: bool,
    /// Names to announce this server under, through the router's announcers.
    pub announce: Vec<Path>,
    /// Connection lifetime limits.
    pub server_session: Option<SessionConfig>,
    /// Socket options.
    pub socket_options: Option<SocketOptions>,
    /// A label for the server's metrics.
    pub label: Option<String>,
    /// The protocol's own server keys.
    pub protocol: Box<dyn ProtocolServerConfig>,
    /// Where it sits in the config.
    pub path: KeyPath,
    /// Its line, when known.
    pub location: Option<Location>,
}

impl ServerConfig {
    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

pub(crate) fn servers(
    cx: &mut Cx<'_>,
    protocol: &Protocol,
    value: Value,
    path: &KeyPath,
) -> Result<Vec<ServerConfig>, ConfigError> {
    let context = format!("protocol {}", protocol.name());
    let mut out = Vec::new();
    for (i, item) in sequence(value, path)?.into_iter().enumerate() {
        let at = path.index(i);
        let map = super::kind::mapping(item, &at)?;
        let mut parts = partition(
            map,
            &at,
            "server",
            Some(&context),
            &[protocol.server.fields(), fields_of::<ServerCommon>()],
            &mut cx.warnings,
        )?
        .into_iter();
        let own = parts.next().unwrap_or_default();
        let common = parts.next().unwrap_or_default();
        let common: ServerCommon = decode(Value::Object(common), &at, Some(&context))?;
        if let Some(tls) = &common.tls {
            tls.validate()
                .map_err(|m| ConfigError::new(at.key("tls"), m).in_context(Some(&context)))?;
        }
        let own = protocol
            .server
            .parse(Value::Object(own), &at, Some(&context))?;
        out.push(ServerConfig {
            ip: common.ip,
            port: common.port.unwrap_or(protocol.default_port()),
            tls: common.tls,
            max_concurrent_requests: common.max_concurrent_requests,
            timeout_ms: common.timeout_ms,
            clear_context: common.clear_context,
            announce: common.announce,
            server_session: common.server_session,
            socket_options: common.socket_options,
            label: common.label,
            protocol: own,
            location: cx.locate(&at),
            path: at,
        });
    }
    Ok(out)
}
