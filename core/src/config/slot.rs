//! Decoding one plugin slot (`{kind: ..., <common keys>, <plugin keys>}`) and the load
//! context it runs in.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::de::{decode, fields_of};
use super::error::{ConfigError, ConfigWarning, Location};
use super::keypath::KeyPath;
use super::kind::{gate, lookup, partition, select};
use super::locate::Locator;
use super::registry::{Family, Registry};

/// What loading needs besides the text: the plugins, where keys are, and the warnings so
/// far.
pub(crate) struct Cx<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) locator: &'a Locator,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl Cx<'_> {
    pub(crate) fn locate(&self, path: &KeyPath) -> Option<Location> {
        self.locator.locate(path)
    }
}

/// A decoded plugin: its kind, where it was configured, and its config.
#[derive(Debug)]
pub struct Configured<T: ?Sized> {
    /// The `kind` id.
    pub kind: String,
    /// Where it sits in the config, e.g. `routers[0].identifier`.
    pub path: KeyPath,
    /// Its line, when known.
    pub location: Option<Location>,
    /// The plugin's own config.
    pub config: Box<T>,
}

impl<T: ?Sized> Configured<T> {
    /// An error about this plugin, naming its path, kind and line.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.path.clone(), message)
            .in_context(Some(&format!("kind {}", self.kind)))
            .at(self.location)
    }
}

/// A decoded slot: the plugin, the family's common keys, and keys the caller handles.
pub(crate) struct Slot<C, T: ?Sized> {
    pub(crate) plugin: Configured<T>,
    pub(crate) common: C,
    pub(crate) extra: Map<String, Value>,
}

/// Decodes the slot at `path` from `family`: `C` takes the family's common keys, `extra`
/// names keys the caller decodes itself (such as nested plugin lists), and the plugin
/// takes the rest.
pub(crate) fn plugin<C: DeserializeOwned, T: ?Sized>(
    cx: &mut Cx<'_>,
    family: &Family<Box<T>>,
    value: Value,
    path: &KeyPath,
    default: Option<&str>,
    extra: &[&str],
) -> Result<Slot<C, T>, ConfigError> {
    let (kind, map) = select(value, path, "kind", default)?;
    let variant = lookup(family, &kind, path, "kind")?;
    let context = format!("kind {kind}");
    gate(
        variant.is_experimental(),
        &map,
        path,
        &format!("{} kind '{kind}'", family.name()),
    )
    .map_err(|e| e.focus(path.key("kind")))?;
    let mut parts = partition(
        map,
        path,
        family.name(),
        Some(&context),
        &[variant.fields(), fields_of::<C>(), Some(extra)],
        &mut cx.warnings,
    )?
    .into_iter();
    let own = parts.next().unwrap_or_default();
    let common = parts.next().unwrap_or_default();
    let extra = parts.next().unwrap_or_default();
    let common = decode::<C>(Value::Object(common), path, Some(&context))?;
    let config = variant.parse(Value::Object(own), path, Some(&context))?;
    Ok(Slot {
        plugin: Configured {
            kind,
            path: path.clone(),
            location: cx.locate(path),
            config,
        },
        common,
        extra,
    })
}

/// The common keys of a family that has none.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoCommon {}

/// Decodes a plugin with no common keys.
pub(crate) fn bare<T: ?Sized>(
    cx: &mut Cx<'_>,
    family: &Family<Box<T>>,
    value: Value,
    path: &KeyPath,
    default: Option<&str>,
) -> Result<Configured<T>, ConfigError> {
    plugin::<NoCommon, T>(cx, family, value, path, default, &[]).map(|s| s.plugin)
}

/// Decodes a slot of a closed set (load balancers, backoffs, ...): like [`plugin`], with
/// the variant's keys and `extra` keys only.
pub(crate) fn closed<T>(
    cx: &mut Cx<'_>,
    family: &Family<T>,
    value: Value,
    path: &KeyPath,
    default: Option<&str>,
    extra: &[&str],
) -> Result<(T, Map<String, Value>), ConfigError> {
    let (kind, map) = select(value, path, "kind", default)?;
    let variant = lookup(family, &kind, path, "kind")?;
    let context = format!("kind {kind}");
    let mut parts = partition(
        map,
        path,
        family.name(),
        Some(&context),
        &[variant.fields(), Some(extra)],
        &mut cx.warnings,
    )?
    .into_iter();
    let own = parts.next().unwrap_or_default();
    let extra = parts.next().unwrap_or_default();
    let config = variant.parse(Value::Object(own), path, Some(&context))?;
    Ok((config, extra))
}
