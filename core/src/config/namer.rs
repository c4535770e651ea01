//! `namers:` entries and the `transformers:` lists namers and interpreters carry.
//!
//! Every namer accepts `prefix` (default: its kind, so `io.l5d.fs` mounts at
//! `/#/io.l5d.fs`), `experimental` and `transformers`; a configured `prefix: /apiToSrv`
//! mounts at `/#/apiToSrv`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::error::{ConfigError, Location};
use super::keypath::KeyPath;
use super::kind::sequence;
use super::plugin::{BuildContext, NamerConfig, TransformerConfig};
use super::slot::{plugin, Configured, Cx};
use crate::binding::{SharedNamer, TransformedNamer, Transformer};
use crate::naming::Path;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NamerCommon {
    prefix: Option<Path>,
    #[serde(default)]
    experimental: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TransformerCommon {
    prefix: Option<Path>,
}

/// A configured namer.
#[derive(Debug)]
pub struct NamerEntry {
    /// The plugin.
    pub namer: Configured<dyn NamerConfig>,
    /// The prefix under `/#` (default `/<kind>`).
    pub prefix: Path,
    /// Whether the config said `experimental: true`.
    pub experimental: bool,
    /// Transformers applied to what the namer binds, in order.
    pub transformers: Vec<TransformerEntry>,
}

impl NamerEntry {
    /// Where the namer is mounted: `/#` followed by its prefix.
    pub fn mount(&self) -> Path {
        Path::from_elems(["#"]).concat(&self.prefix)
    }

    /// Builds the namer mounted at [`NamerEntry::mount`], with its transformers applied
    /// to what it binds, in configuration order.
    pub fn build(&self, ctx: &BuildContext) -> Result<SharedNamer, ConfigError> {
        let mut namer = self
            .namer
            .config
            .build(&self.mount(), ctx)
            .map_err(|e| self.namer.error(e.message()))?;
        for t in &self.transformers {
            namer = Arc::new(TransformedNamer::new(namer, t.build(ctx)?));
        }
        Ok(namer)
    }
}

/// A configured transformer.
#[derive(Debug)]
pub struct TransformerEntry {
    /// The plugin.
    pub transformer: Configured<dyn TransformerConfig>,
    /// The prefix its bound ids get under `/%` (default `/<kind>`, or what the plugin's
    /// [`TransformerConfig::default_prefix`] says).
    pub prefix: Path,
}

impl TransformerEntry {
    /// The path its bound ids start with: `/%` followed by its prefix.
    pub fn id_prefix(&self) -> Path {
        Path::from_elems(["%"]).concat(&self.prefix)
    }

    /// Builds the transformer.
    pub fn build(&self, ctx: &BuildContext) -> Result<Arc<dyn Transformer>, ConfigError> {
        self.transformer
            .config
            .build(&self.id_prefix(), ctx)
            .map_err(|e| self.transformer.error(e.message()))
    }
}

/// The default prefix of a plugin: its kind as a one-element path.
pub(crate) fn kind_prefix(kind: &str, path: &KeyPath) -> Result<Path, ConfigError> {
    Path::try_from_elems([kind])
        .ok_or_else(|| ConfigError::new(path.key("kind"), "a kind must not be empty"))
}

pub(crate) fn namers(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<Vec<NamerEntry>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in sequence(value, path)?.into_iter().enumerate() {
        let at = path.index(i);
        let slot = plugin::<NamerCommon, dyn NamerConfig>(
            cx,
            &cx.registry.namers,
            item,
            &at,
            None,
            &["transformers"],
        )?;
        let prefix = match slot.common.prefix {
            Some(p) => p,
            None => kind_prefix(&slot.plugin.kind, &at)?,
        };
        let transformers = match slot.extra.get("transformers") {
            Some(v) => transformers(cx, v.clone(), &at.key("transformers"))?,
            None => Vec::new(),
        };
        out.push(NamerEntry {
            namer: slot.plugin,
            prefix,
            experimental: slot.common.experimental,
            transformers,
        });
    }
    Ok(out)
}

pub(crate) fn transformers(
    cx: &mut Cx<'_>,
    value: Value,
    path: &KeyPath,
) -> Result<Vec<TransformerEntry>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in sequence(value, path)?.into_iter().enumerate() {
        let at = path.index(i);
        let slot = plugin::<TransformerCommon, dyn TransformerConfig>(
            cx,
            &cx.registry.transformers,
            item,
            &at,
            None,
            &[],
        )?;
        let prefix = match (slot.common.prefix, slot.plugin.config.default_prefix()) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => kind_prefix(&slot.plugin.kind, &at)?,
        };
        out.push(TransformerEntry {
            transformer: slot.plugin,
            prefix,
        });
    }
    Ok(out)
}

/// Builds every namer with its transformers, each paired with its mount path, in
/// configuration order (what the default interpreter is given).
pub fn build_namers(
    namers: &[NamerEntry],
    ctx: &BuildContext,
) -> Result<Vec<(Path, SharedNamer)>, ConfigError> {
    namers
        .iter()
        .map(|n| Ok((n.mount(), n.build(ctx)?)))
        .collect()
}

/// The location of a namer's `prefix` key, or of the namer.
pub(crate) fn prefix_location(cx: &Cx<'_>, n: &NamerEntry) -> Option<Location> {
    cx.locate(&n.namer.path.key("prefix"))
}
