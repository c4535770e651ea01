//! `routers[].interpreter`, and the `default` interpreter the core provides: the router's
//! dtab over the configured namers, then the system namers (Linkerd 1's
//! `ConfiguredNamersInterpreter`).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::error::{BuildError, ConfigError};
use super::keypath::KeyPath;
use super::namer::{transformers, TransformerEntry};
use super::plugin::{InterpreterConfig, InterpreterContext, Kind};
use super::slot::{plugin, Configured, Cx};
use crate::binding::{ConfiguredNamers, NameInterpreter, TransformedInterpreter};

/// The `default` interpreter's own keys (none; `transformers` is common to interpreters).
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DefaultInterpreter {}

impl Kind for DefaultInterpreter {
    const KIND: &'static str = "default";
}

impl InterpreterConfig for DefaultInterpreter {
    fn build(&self, ctx: &InterpreterContext<'_>) -> Result<Arc<dyn NameInterpreter>, BuildError> {
        Ok(Arc::new(ConfiguredNamers::new(ctx.namers.to_vec())))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InterpreterCommon {
    #[serde(default)]
    experimental: bool,
}

/// A router's configured interpreter.
#[derive(Debug)]
pub struct InterpreterEntry {
    /// The plugin.
    pub interpreter: Configured<dyn InterpreterConfig>,
    /// Whether the config said `experimental: true`.
    pub experimental: bool,
    /// Transformers applied to what it binds, in order.
    pub transformers: Vec<TransformerEntry>,
}

impl InterpreterEntry {
    /// Builds the interpreter with its transformers applied to what it binds, in
    /// configuration order (the last one outermost, its prefix first in the ids).
    pub fn build(
        &self,
        ctx: &InterpreterContext<'_>,
    ) -> Result<Arc<dyn NameInterpreter>, ConfigError> {
        let mut interpreter = self
            .interpreter
            .config
            .build(ctx)
            .map_err(|e| self.interpreter.error(e.message()))?;
        for t in &self.transformers {
            let transformer = t.build(ctx.build)?;
            interpreter = Arc::new(TransformedInterpreter::new(interpreter, transformer));
        }
        Ok(interpreter)
    }
}

/// Decodes the interpreter at `path`; absent, it is `{kind: default}`.
pub(crate) fn interpreter(
    cx: &mut Cx<'_>,
    value: Option<Value>,
    path: &KeyPath,
) -> Result<InterpreterEntry, ConfigError> {
    let value = value.unwrap_or_else(|| serde_json::json!({"kind": DefaultInterpreter::KIND}));
    let slot = plugin::<InterpreterCommon, dyn InterpreterConfig>(
        cx,
        &cx.registry.interpreters,
        value,
        path,
        None,
        &["transformers"],
    )?;
    let transformers = match slot.extra.get("transformers") {
        Some(v) => transformers(cx, v.clone(), &path.key("transformers"))?,
        None => Vec::new(),
    };
    Ok(InterpreterEntry {
        interpreter: slot.plugin,
        experimental: slot.common.experimental,
        transformers,
    })
}
