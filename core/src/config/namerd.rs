//! The namerd config: `admin`, `storage`, `namers`, `interfaces`, `telemetry`; namer
//! prefixes must not overlap and interfaces must not share an address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;
use serde_json::Value;

use super::admin::{admin, telemetry, AdminConfig, TelemeterEntry};
use super::error::ConfigError;
use super::keypath::KeyPath;
use super::kind::{partition, sequence};
use super::namer::{namers, prefix_location, NamerEntry};
use super::plugin::{InterfaceConfig, StorageConfig};
use super::slot::{plugin, Configured, Cx};
use super::types::{ip, SocketOptions, TlsServerConfig, LOOPBACK};

/// Namerd's admin port when the config names none (the code's 9991; its docs say 9990).
pub const NAMERD_ADMIN_PORT: u16 = 9991;

const KEYS: &[&str] = &["admin", "storage", "namers", "interfaces", "telemetry"];

/// A loaded namerd config.
#[derive(Debug)]
pub struct NamerdConfig {
    /// The admin server.
    pub admin: AdminConfig,
    /// Where dtabs are stored.
    pub storage: StorageEntry,
    /// Namers, in configuration order.
    pub namers: Vec<NamerEntry>,
    /// The interfaces namerd serves.
    pub interfaces: Vec<InterfaceEntry>,
    /// Telemeters.
    pub telemetry: Vec<TelemeterEntry>,
    /// The config as written, as JSON (what `/config.json` serves).
    pub source: Value,
}

/// The configured dtab store.
#[derive(Debug)]
pub struct StorageEntry {
    /// The plugin.
    pub storage: Configured<dyn StorageConfig>,
    /// Whether the config said `experimental: true`.
    pub experimental: bool,
}

/// A configured interface.
#[derive(Debug)]
pub struct InterfaceEntry {
    /// The plugin.
    pub interface: Configured<dyn InterfaceConfig>,
    /// Listen IP (default loopback).
    pub ip: IpAddr,
    /// Listen port (default: the interface's own, e.g. 4100).
    pub port: u16,
    /// Socket options.
    pub socket_options: Option<SocketOptions>,
    /// Server TLS.
    pub tls: Option<TlsServerConfig>,
}

impl InterfaceEntry {
    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StorageCommon {
    #[serde(default)]
    experimental: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InterfaceCommon {
    #[serde(default, deserialize_with = "opt_ip")]
    ip: Option<IpAddr>,
    port: Option<u16>,
    socket_options: Option<SocketOptions>,
    tls: Option<TlsServerConfig>,
}

fn opt_ip<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
    ip(d).map(Some)
}

pub(crate) fn namerd(cx: &mut Cx<'_>, value: Value) -> Result<NamerdConfig, ConfigError> {
    let registry = cx.registry;
    let source = value.clone();
    let map = super::top_level(value, "namerd", "storage' and 'interfaces", KEYS)?;
    let root = KeyPath::root();
    let mut map = partition(map, &root, "namerd", None, &[Some(KEYS)], &mut cx.warnings)?
        .pop()
        .unwrap_or_default();
    let admin = admin(
        map.shift_remove("admin"),
        &root.key("admin"),
        NAMERD_ADMIN_PORT,
    )?;
    let namers = match map.shift_remove("namers") {
        Some(v) => namers(cx, v, &root.key("namers"))?,
        None => Vec::new(),
    };
    check_prefixes(cx, &namers)?;
    let Some(storage) = map.shift_remove("storage") else {
        return Err(ConfigError::new(root, "missing required key 'storage'"));
    };
    let slot = plugin::<StorageCommon, dyn StorageConfig>(
        cx,
        &registry.storage,
        storage,
        &root.key("storage"),
        None,
        &[],
    )?;
    let storage = StorageEntry {
        storage: slot.plugin,
        experimental: slot.common.experimental,
    };
    let Some(interfaces_value) = map.shift_remove("interfaces") else {
        return Err(ConfigError::new(root, "missing required key 'interfaces'"));
    };
    let path = root.key("interfaces");
    let mut interfaces = Vec::new();
    for (i, item) in sequence(interfaces_value, &path)?.into_iter().enumerate() {
        let at = path.index(i);
        let slot = plugin::<InterfaceCommon, dyn InterfaceConfig>(
            cx,
            &registry.interfaces,
            item,
            &at,
            None,
            &[],
        )?;
        if let Some(tls) = &slot.common.tls {
            tls.validate()
                .map_err(|m| ConfigError::new(at.key("tls"), m))?;
        }
        let port = slot
            .common
            .port
            .unwrap_or_else(|| slot.plugin.config.default_port());
        interfaces.push(InterfaceEntry {
            ip: slot.common.ip.unwrap_or(LOOPBACK),
            port,
            socket_options: slot.common.socket_options,
            tls: slot.common.tls,
            interface: slot.plugin,
        });
    }
    check_addresses(&interfaces)?;
    let telemetry = match map.shift_remove("telemetry") {
        Some(v) => telemetry(cx, v, &root.key("telemetry"))?,
        None => Vec::new(),
    };
    Ok(NamerdConfig {
        admin,
        storage,
        namers,
        interfaces,
        telemetry,
        source,
    })
}

/// Namerd refuses namers whose prefixes overlap (one a prefix of the other): a name under
/// both could not say which namer it belongs to.
fn check_prefixes(cx: &Cx<'_>, namers: &[NamerEntry]) -> Result<(), ConfigError> {
    for (j, b) in namers.iter().enumerate() {
        let path = &b.namer.path;
        if b.prefix.is_empty() {
            return Err(
                ConfigError::new(path.clone(), "a namer prefix must not be empty")
                    .at(prefix_location(cx, b)),
            );
        }
        for a in &namers[..j] {
            if a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix) {
                return Err(ConfigError::new(
                    path.clone(),
                    format!(
                        "namer prefix {} overlaps the prefix {} of {}: namerd's namers must \
                         not have overlapping prefixes",
                        b.prefix, a.prefix, a.namer.path
                    ),
                )
                .in_context(Some(&format!("kind {}", b.namer.kind)))
                .at(prefix_location(cx, b)));
            }
        }
    }
    Ok(())
}

fn check_addresses(interfaces: &[InterfaceEntry]) -> Result<(), ConfigError> {
    let mut seen: HashMap<SocketAddr, &KeyPath> = HashMap::new();
    for i in interfaces {
        if i.port == 0 {
            continue;
        }
        if let Some(first) = seen.insert(i.addr(), &i.interface.path) {
            return Err(ConfigError::new(
                i.interface.path.clone(),
                format!("interface address {} is already used by {first}", i.addr()),
            )
            .at(i.interface.location));
        }
    }
    Ok(())
}
