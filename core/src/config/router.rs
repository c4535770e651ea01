//! `routers[]`: one router per `protocol`, with Linkerd 1's router keys (`Router.scala`),
//! the protocol's own keys, its servers, client, service, interpreter and identifiers.

use serde::Deserialize;
use serde_json::Value;

use super::client::{client, ClientConfig};
use super::de::{decode, fields_of};
use super::error::{ConfigError, Location};
use super::interpreter::{interpreter, InterpreterEntry};
use super::keypath::KeyPath;
use super::kind::{gate, partition, select, sequence, unknown_kind_message};
use super::namer::kind_prefix;
use super::plugin::{AnnouncerConfig, ClassifierConfig, IdentifierConfig, ProtocolRouterConfig};
use super::registry::Protocol;
use super::server::{servers, ServerConfig};
use super::service::{default_classifier, service, ServiceConfig};
use super::slot::{bare, plugin, Configured, Cx};
use super::types::DtabValue;
use crate::naming::{Dtab, Path};

fn ten_secs_ms() -> u64 {
    10_000
}
fn thousand() -> u32 {
    1000
}
fn ten_minutes() -> u64 {
    600
}

/// `bindingCache`: how many names, trees, bound names and clients a router keeps, and
/// how long an idle one lives.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BindingCache {
    /// Logical names (default 1000).
    #[serde(default = "thousand")]
    pub paths: u32,
    /// Bound trees (default 1000).
    #[serde(default = "thousand")]
    pub trees: u32,
    /// Bound names (default 1000).
    #[serde(default = "thousand")]
    pub bounds: u32,
    /// Clients (default 1000).
    #[serde(default = "thousand")]
    pub clients: u32,
    /// Seconds an unused service or client lives (default 600).
    #[serde(default = "ten_minutes")]
    pub idle_ttl_secs: u64,
}

impl Default for BindingCache {
    fn default() -> BindingCache {
        BindingCache {
            paths: thousand(),
            trees: thousand(),
            bounds: thousand(),
            clients: thousand(),
            idle_ttl_secs: ten_minutes(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RouterCommon {
    label: Option<String>,
    dtab: Option<DtabValue>,
    dst_prefix: Option<Path>,
    #[serde(default = "ten_secs_ms")]
    binding_timeout_ms: u64,
    #[serde(default)]
    binding_cache: BindingCache,
    #[serde(default)]
    originator: bool,
    #[serde(default)]
    experimental: bool,
}

/// A configured announcer.
#[derive(Debug)]
pub struct AnnouncerEntry {
    /// The plugin.
    pub announcer: Configured<dyn AnnouncerConfig>,
    /// Names under `/#` followed by this prefix are announced through it (default
    /// `/<kind>`).
    pub prefix: Path,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AnnouncerCommon {
    prefix: Option<Path>,
}

/// A router.
#[derive(Debug)]
pub struct RouterConfig {
    /// The protocol, e.g. `http`.
    pub protocol: String,
    /// The router's name (default: the protocol's); metrics live under `rt/<label>`.
    pub label: String,
    /// The base dtab (default empty).
    pub dtab: Dtab,
    /// The prefix identifiers put before names (default `/svc`).
    pub dst_prefix: Path,
    /// How long binding a name may take, in milliseconds (default 10000).
    pub binding_timeout_ms: u64,
    /// Cache sizes.
    pub binding_cache: BindingCache,
    /// Whether this router is the first hop (default false).
    pub originator: bool,
    /// Whether the config said `experimental: true`.
    pub experimental: bool,
    /// The name interpreter (default `default`).
    pub interpreter: InterpreterEntry,
    /// Identifiers, tried in order (empty for protocols without identifier kinds).
    pub identifiers: Vec<Configured<dyn IdentifierConfig>>,
    /// The listeners.
    pub servers: Vec<ServerConfig>,
    /// Per-client parameters.
    pub client: ClientConfig,
    /// Per-service parameters.
    pub service: ServiceConfig,
    /// The classifier services use when their config names none.
    pub default_classifier: Option<Configured<dyn ClassifierConfig>>,
    /// Announcers.
    pub announcers: Vec<AnnouncerEntry>,
    /// The protocol's own router keys.
    pub protocol_config: Box<dyn ProtocolRouterConfig>,
    /// Where it sits in the config.
    pub path: KeyPath,
    /// Its line, when known.
    pub location: Option<Location>,
}

const SLOTS: &[&str] = &["servers", "interpreter", "client", "service", "announcers"];
const SLOTS_WITH_IDENTIFIER: &[&str] = &[
    "servers",
    "interpreter",
    "client",
    "service",
    "announcers",
    "identifier",
];

pub(crate) fn router(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<RouterConfig, ConfigError> {
    let registry = cx.registry;
    let (name, map) = select(value, path, "protocol", None)?;
    let protocol = registry.protocol(&name).ok_or_else(|| {
        ConfigError::new(
            path.clone(),
            unknown_kind_message("router", "protocol", &name, registry.protocols()),
        )
        .focus(path.key("protocol"))
    })?;
    gate(
        protocol.is_experimental(),
        &map,
        path,
        &format!("protocol '{name}'"),
    )
    .map_err(|e| e.focus(path.key("protocol")))?;
    let context = format!("protocol {name}");
    let slots = if protocol.identifiers.is_some() {
        SLOTS_WITH_IDENTIFIER
    } else {
        SLOTS
    };
    let mut parts = partition(
        map,
        path,
        "router",
        Some(&context),
        &[
            protocol.router.fields(),
            fields_of::<RouterCommon>(),
            Some(slots),
        ],
        &mut cx.warnings,
    )?
    .into_iter();
    let own = parts.next().unwrap_or_default();
    let common = parts.next().unwrap_or_default();
    let mut slots = parts.next().unwrap_or_default();
    let common: RouterCommon = decode(Value::Object(common), path, Some(&context))?;
    let protocol_config = protocol
        .router
        .parse(Value::Object(own), path, Some(&context))?;

    let servers = match slots.shift_remove("servers") {
        Some(v) => servers(cx, protocol, v, &path.key("servers"))?,
        None => {
            return Err(
                ConfigError::new(path.clone(), "missing required key 'servers'")
                    .in_context(Some(&context)),
            )
        }
    };
    let identifiers = identifiers(cx, protocol, slots.shift_remove("identifier"), path)?;
    let interpreter = interpreter(
        cx,
        slots.shift_remove("interpreter"),
        &path.key("interpreter"),
    )?;
    let client = client(
        cx,
        protocol,
        slots.shift_remove("client"),
        &path.key("client"),
    )?;
    let service = service(
        cx,
        protocol,
        slots.shift_remove("service"),
        &path.key("service"),
    )?;
    let default_classifier = default_classifier(cx, protocol, &path.key("service"))?;
    let announcers = match slots.shift_remove("announcers") {
        Some(v) => announcers(cx, v, &path.key("announcers"))?,
        None => Vec::new(),
    };
    Ok(RouterConfig {
        label: common.label.unwrap_or_else(|| name.clone()),
        protocol: name,
        dtab: common.dtab.map(|d| d.0).unwrap_or_default(),
        dst_prefix: match common.dst_prefix {
            Some(p) => p,
            None => Path::from_elems(["svc"]),
        },
        binding_timeout_ms: common.binding_timeout_ms,
        binding_cache: common.binding_cache,
        originator: common.originator,
        experimental: common.experimental,
        interpreter,
        identifiers,
        servers,
        client,
        service,
        default_classifier,
        announcers,
        protocol_config,
        location: cx.locate(path),
        path: path.clone(),
    })
}

/// `identifier`: one identifier or a list; absent, the protocol's default.
fn identifiers(
    cx: &mut Cx<'_>,
    protocol: &Protocol,
    value: Option<Value>,
    router: &KeyPath,
) -> Result<Vec<Configured<dyn IdentifierConfig>>, ConfigError> {
    let Some(family) = &protocol.identifiers else {
        return Ok(Vec::new());
    };
    let path = router.key("identifier");
    match value {
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| bare(cx, family, item, &path.index(i), None))
            .collect(),
        Some(v) => Ok(vec![bare(cx, family, v, &path, None)?]),
        None => match &protocol.default_identifier {
            Some(kind) => Ok(vec![bare(
                cx,
                family,
                serde_json::json!({ "kind": kind }),
                &path,
                None,
            )?]),
            None => Ok(Vec::new()),
        },
    }
}

fn announcers(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<Vec<AnnouncerEntry>, ConfigError> {
    let registry = cx.registry;
    let mut out = Vec::new();
    for (i, item) in sequence(value, path)?.into_iter().enumerate() {
        let at = path.index(i);
        let slot = plugin::<AnnouncerCommon, dyn AnnouncerConfig>(
            cx,
            &registry.announcers,
            item,
            &at,
            None,
            &[],
        )?;
        let prefix = match slot.common.prefix {
            Some(p) => p,
            None => kind_prefix(&slot.plugin.kind, &at)?,
        };
        out.push(AnnouncerEntry {
            announcer: slot.plugin,
            prefix,
        });
    }
    Ok(out)
}
