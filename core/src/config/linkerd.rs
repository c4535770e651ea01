//! The linkerd config: `admin`, `namers`, `routers`, `telemetry`, `usage`; and the checks
//! that span routers (unique labels, no two servers on one address).

use std::collections::HashMap;
use std::net::SocketAddr;

use serde_json::Value;

use super::admin::{admin, telemetry, AdminConfig, TelemeterEntry, UsageConfig};
use super::de::decode;
use super::error::ConfigError;
use super::keypath::KeyPath;
use super::kind::{partition, sequence};
use super::namer::{namers, NamerEntry};
use super::router::{router, RouterConfig};
use super::slot::Cx;

/// Linkerd's admin port when the config names none.
pub const LINKERD_ADMIN_PORT: u16 = 9990;

const KEYS: &[&str] = &["admin", "namers", "routers", "telemetry", "usage"];

/// A loaded linkerd config.
#[derive(Debug)]
pub struct LinkerdConfig {
    /// The admin server.
    pub admin: AdminConfig,
    /// Namers, in configuration order.
    pub namers: Vec<NamerEntry>,
    /// Routers, in configuration order.
    pub routers: Vec<RouterConfig>,
    /// Telemeters.
    pub telemetry: Vec<TelemeterEntry>,
    /// Usage reporting (accepted, not acted on).
    pub usage: UsageConfig,
    /// The config as written, as JSON (what `/config.json` serves).
    pub source: Value,
}

pub(crate) fn linkerd(cx: &mut Cx<'_>, value: Value) -> Result<LinkerdConfig, ConfigError> {
    let source = value.clone();
    let map = super::top_level(value, "linkerd", "routers", KEYS)?;
    let root = KeyPath::root();
    let mut map = partition(map, &root, "linkerd", None, &[Some(KEYS)], &mut cx.warnings)?
        .pop()
        .unwrap_or_default();
    let admin = admin(
        map.shift_remove("admin"),
        &root.key("admin"),
        LINKERD_ADMIN_PORT,
    )?;
    let namers = match map.shift_remove("namers") {
        Some(v) => namers(cx, v, &root.key("namers"))?,
        None => Vec::new(),
    };
    let telemetry = match map.shift_remove("telemetry") {
        Some(v) => telemetry(cx, v, &root.key("telemetry"))?,
        None => Vec::new(),
    };
    let usage = match map.shift_remove("usage") {
        Some(Value::Null) | None => UsageConfig::default(),
        Some(v) => decode(v, &root.key("usage"), None)?,
    };
    let routers_path = root.key("routers");
    let Some(routers_value) = map.shift_remove("routers") else {
        return Err(ConfigError::new(root, "missing required key 'routers'"));
    };
    let mut routers = Vec::new();
    for (i, item) in sequence(routers_value, &routers_path)?
        .into_iter()
        .enumerate()
    {
        routers.push(router(cx, item, &routers_path.index(i))?);
    }
    if routers.is_empty() {
        return Err(ConfigError::new(
            routers_path,
            "at least one router is required",
        ));
    }
    check_labels(cx, &routers)?;
    check_addresses(&routers)?;
    Ok(LinkerdConfig {
        admin,
        namers,
        routers,
        telemetry,
        usage,
        source,
    })
}

/// Router labels name metrics scopes and admin pages, so they must be unique.
fn check_labels(cx: &Cx<'_>, routers: &[RouterConfig]) -> Result<(), ConfigError> {
    let mut seen: HashMap<&str, &KeyPath> = HashMap::new();
    for r in routers {
        if let Some(first) = seen.insert(&r.label, &r.path) {
            let label_key = r.path.key("label");
            let focus = if cx.locator.locate(&label_key) == cx.locator.locate(&r.path) {
                r.path.clone()
            } else {
                label_key
            };
            return Err(ConfigError::new(
                r.path.clone(),
                format!(
                    "router label '{}' is already used by {first}: give each router a unique \
                     'label' (it defaults to the protocol name)",
                    r.label
                ),
            )
            .focus(focus));
        }
    }
    Ok(())
}

/// No two servers may listen on the same address. Port 0 (any free port) never collides.
fn check_addresses(routers: &[RouterConfig]) -> Result<(), ConfigError> {
    let mut seen: HashMap<SocketAddr, &KeyPath> = HashMap::new();
    for s in routers.iter().flat_map(|r| r.servers.iter()) {
        if s.port == 0 {
            continue;
        }
        if let Some(first) = seen.insert(s.addr(), &s.path) {
            return Err(ConfigError::new(
                s.path.clone(),
                format!("server address {} is already used by {first}", s.addr()),
            )
            .focus(s.path.key("port")));
        }
    }
    Ok(())
}
