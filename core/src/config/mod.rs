//! Linkerd 1's configuration system: the YAML (or JSON) config files of linkerd and namerd
//! with Linkerd 1.7.5's keys, `kind` ids and defaults, and the plugin registry through
//! which protocol, namer and other plugin crates add kinds.
//!
//! Loading is [`load_linkerd`] or [`load_namerd`] with a [`Registry`] holding every plugin
//! the binary knows; the result is a typed config with defaults applied, the config as
//! written (for `/config.json`), and warnings about deprecated keys. Errors name the key
//! path, the plugin and the line: `routers[0].identifier (kind io.l5d.path): unknown field
//! 'segmnts', expected one of segments, consume at line 7, column 5`.
//!
//! How it works: `yaml.rs` turns the text into a JSON-shaped value (the only module
//! that knows the YAML crate) and a locator of key positions; plugin slots are dispatched
//! on their `kind` (`kind.rs`, `slot.rs`) so that open sets of kinds, key paths and lines
//! survive, which serde's tagged enums would lose; each plugin's own keys decode into its
//! derived struct. The config types here are wire types with defaults; runtime objects come
//! from each plugin's `build`. This module does not start anything.

mod admin;
mod balancer;
mod client;
mod de;
pub mod defaults;
mod error;
mod interpreter;
mod keypath;
mod kind;
mod lenient;
mod linkerd;
mod locate;
mod namer;
mod namerd;
mod pattern;
mod plugin;
mod registry;
mod renamed;
mod retry;
mod router;
mod server;
mod service;
mod slot;
pub mod telemeters;
mod types;
mod yaml;

#[cfg(test)]
mod tests;

pub use admin::{AdminConfig, AdminSecurity, TelemeterEntry, UsageConfig};
pub use balancer::{
    AccrualPolicy, Aperture, ConsecutiveFailures, Ewma, FailureAccrual, Heap, LoadBalancer,
    NoAccrual, P2c, RoundRobin, SuccessRate, SuccessRateWindowed,
};
pub use client::{ClientConfig, ClientParams, HostConnectionPool, StaticClient};
pub use de::{decode, fields_of};
pub use error::{BuildError, ConfigError, ConfigWarning, Location};
pub use interpreter::{DefaultInterpreter, InterpreterEntry};
pub use keypath::{KeyPath, Seg};
pub use kind::decode_kind;
pub use linkerd::{LinkerdConfig, LINKERD_ADMIN_PORT};
pub use namer::{build_namers, NamerEntry, TransformerEntry};
pub use namerd::{InterfaceEntry, NamerdConfig, StorageEntry, NAMERD_ADMIN_PORT};
pub use pattern::PathPattern;
pub use plugin::{
    AnnouncerConfig, BuildContext, ClassifierConfig, IdentifierConfig, InterfaceConfig,
    InterpreterConfig, InterpreterContext, Kind, NamerConfig, NoKeys, PluginConfig,
    ProtocolClientConfig, ProtocolRouterConfig, ProtocolServerConfig, ProtocolServiceConfig,
    StorageConfig, TelemeterConfig, TransformerConfig,
};
pub use registry::{Family, Protocol, Registry, RegistryError, Variant};
pub use retry::{Backoff, Budget, ConstantBackoff, JitteredBackoff, Retries};
pub use router::{AnnouncerEntry, BindingCache, RouterConfig};
pub use server::{ServerConfig, SessionConfig};
pub use service::{ServiceConfig, ServiceParams, StaticService};
pub use slot::Configured;
pub use types::{
    BackendTls, ClientAuth, DtabValue, SocketOptions, TlsClientConfig, TlsServerConfig, ZkAddr,
};

use serde_json::{Map, Value};

use kind::type_name;
use slot::Cx;

/// A loaded config and the warnings loading it produced (deprecated keys, for instance),
/// which the binary logs.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The config.
    pub config: T,
    /// Warnings, in the order found.
    pub warnings: Vec<ConfigWarning>,
}

/// Reads a config file's text, or standard input when `path` is `-` (as Linkerd 1 did).
pub fn read_source(path: &str) -> Result<String, String> {
    use std::io::Read;
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the config from standard input: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read the config file {path}: {e}"))
}

/// Loads a linkerd config from YAML or JSON text.
pub fn load_linkerd(text: &str, registry: &Registry) -> Result<Loaded<LinkerdConfig>, ConfigError> {
    load(text, registry, linkerd::linkerd)
}

/// Loads a namerd config from YAML or JSON text.
pub fn load_namerd(text: &str, registry: &Registry) -> Result<Loaded<NamerdConfig>, ConfigError> {
    load(text, registry, namerd::namerd)
}

fn load<T>(
    text: &str,
    registry: &Registry,
    decode: fn(&mut Cx<'_>, Value) -> Result<T, ConfigError>,
) -> Result<Loaded<T>, ConfigError> {
    let doc = yaml::parse(text)?;
    let mut cx = Cx {
        registry,
        locator: &doc.locator,
        warnings: Vec::new(),
    };
    let config = decode(&mut cx, doc.value).map_err(|e| e.located(&doc.locator))?;
    let warnings = cx
        .warnings
        .into_iter()
        .map(|w| w.located(&doc.locator))
        .collect();
    Ok(Loaded { config, warnings })
}

/// The top-level mapping of a `what` (linkerd, namerd) config, or why there is none.
fn top_level(
    value: Value,
    what: &str,
    required: &str,
    keys: &[&str],
) -> Result<Map<String, Value>, ConfigError> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Err(ConfigError::new(
            KeyPath::root(),
            format!(
                "the {what} config is empty: it needs at least '{required}' (keys: {})",
                keys.join(", ")
            ),
        )),
        other => Err(ConfigError::new(
            KeyPath::root(),
            format!(
                "a {what} config must be a mapping with keys {}, found {}",
                keys.join(", "),
                type_name(&other)
            ),
        )),
    }
}
