//! `routers[].service`: per-service (per logical name) parameters: total timeout, retries
//! and the response classifier, for every service (`io.l5d.global`) or layered by prefix
//! (`io.l5d.static`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::static_configs;
use super::de::{decode, fields_of};
use super::error::{ConfigError, Location};
use super::keypath::KeyPath;
use super::kind::{mapping, partition, select, unknown_kind_message};
use super::pattern::PathPattern;
use super::plugin::{ClassifierConfig, ProtocolServiceConfig};
use super::registry::Protocol;
use super::retry::{retries, Retries};
use super::slot::{bare, Configured, Cx};
use crate::naming::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ServiceCommon {
    total_timeout_ms: Option<u64>,
}

/// One set of service parameters; unset keys inherit.
#[derive(Debug)]
pub struct ServiceParams {
    /// The time a request may take, retries included, in milliseconds (default none).
    pub total_timeout_ms: Option<u64>,
    /// Retry budget and backoff.
    pub retries: Option<Retries>,
    /// Which responses are failures and which may be retried (default: the protocol's).
    pub response_classifier: Option<Configured<dyn ClassifierConfig>>,
    /// The protocol's own service keys.
    pub protocol: Box<dyn ProtocolServiceConfig>,
    /// Where it sits in the config.
    pub path: KeyPath,
    /// Its line, when known.
    pub location: Option<Location>,
}

/// An `io.l5d.static` entry.
#[derive(Debug)]
pub struct StaticService {
    /// The logical names it applies to.
    pub prefix: PathPattern,
    /// Its parameters.
    pub params: ServiceParams,
}

/// `routers[].service`.
#[derive(Debug)]
pub enum ServiceConfig {
    /// `io.l5d.global` (the default).
    Global(ServiceParams),
    /// `io.l5d.static`: entries applied in order, later ones overriding.
    Static(Vec<StaticService>),
}

impl ServiceConfig {
    /// The parameter sets that apply to the service `name`, in the order they apply.
    pub fn params_for(&self, name: &Path) -> Vec<(&ServiceParams, Vec<(String, String)>)> {
        match self {
            ServiceConfig::Global(p) => vec![(p, Vec::new())],
            ServiceConfig::Static(entries) => entries
                .iter()
                .filter_map(|e| e.prefix.matches(name).map(|caps| (&e.params, caps)))
                .collect(),
        }
    }
}

const GLOBAL: &str = "io.l5d.global";
const STATIC: &str = "io.l5d.static";

pub(crate) fn service(
    cx: &mut Cx<'_>,
    protocol: &Protocol,
    value: Option<Value>,
    path: &KeyPath,
) -> Result<ServiceConfig, ConfigError> {
    let (kind, map) = select(value.unwrap_or(Value::Null), path, "kind", Some(GLOBAL))?;
    match kind.as_str() {
        GLOBAL => Ok(ServiceConfig::Global(
            params(cx, protocol, map, path, false)?.1,
        )),
        STATIC => {
            let configs = static_configs(cx, map, path, "service")?;
            let mut out = Vec::new();
            for (i, item) in configs.into_iter().enumerate() {
                let at = path.key("configs").index(i);
                let map = mapping(item, &at)?;
                let (prefix, params) = params(cx, protocol, map, &at, true)?;
                out.push(StaticService {
                    prefix: prefix.ok_or_else(|| {
                        ConfigError::new(at.clone(), "missing required key 'prefix'")
                    })?,
                    params,
                });
            }
            Ok(ServiceConfig::Static(out))
        }
        other => Err(ConfigError::new(
            path.clone(),
            unknown_kind_message("service", "kind", other, [GLOBAL, STATIC].into_iter()),
        )
        .focus(path.key("kind"))),
    }
}

/// The protocol's default classifier, decoded from `{kind: <default>}`.
pub(crate) fn default_classifier(
    cx: &mut Cx<'_>,
    protocol: &Protocol,
    path: &KeyPath,
) -> Result<Option<Configured<dyn ClassifierConfig>>, ConfigError> {
    match &protocol.default_classifier {
        Some(kind) => bare(
            cx,
            &protocol.classifiers,
            serde_json::json!({ "kind": kind }),
            path,
            None,
        )
        .map(Some),
        None => Ok(None),
    }
}

fn params(
    cx: &mut Cx<'_>,
    protocol: &Protocol,
    map: Map<String, Value>,
    path: &KeyPath,
    prefixed: bool,
) -> Result<(Option<PathPattern>, ServiceParams), ConfigError> {
    let context = format!("protocol {}", protocol.name());
    let extra: &[&str] = if prefixed {
        &["retries", "responseClassifier", "prefix"]
    } else {
        &["retries", "responseClassifier"]
    };
    let mut parts = partition(
        map,
        path,
        "service",
        Some(&context),
        &[
            protocol.service.fields(),
            fields_of::<ServiceCommon>(),
            Some(extra),
        ],
        &mut cx.warnings,
    )?
    .into_iter();
    let own = parts.next().unwrap_or_default();
    let common = parts.next().unwrap_or_default();
    let mut extra = parts.next().unwrap_or_default();
    let common: ServiceCommon = decode(Value::Object(common), path, Some(&context))?;
    let prefix = match extra.shift_remove("prefix") {
        Some(v) => Some(decode::<PathPattern>(v, &path.key("prefix"), None)?),
        None => None,
    };
    let retries = match extra.shift_remove("retries") {
        Some(v) => Some(retries(cx, v, &path.key("retries"))?),
        None => None,
    };
    let response_classifier = match extra.shift_remove("responseClassifier") {
        Some(v) => Some(bare(
            cx,
            &protocol.classifiers,
            v,
            &path.key("responseClassifier"),
            None,
        )?),
        None => None,
    };
    let own = protocol
        .service
        .parse(Value::Object(own), path, Some(&context))?;
    Ok((
        prefix,
        ServiceParams {
            total_timeout_ms: common.total_timeout_ms,
            retries,
            response_classifier,
            protocol: own,
            path: path.clone(),
            location: cx.locate(path),
        },
    ))
}
