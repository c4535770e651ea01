//! `kind` dispatch: reading a plugin slot's tag, finding its variant, and splitting the
//! slot's keys between the core's common keys and the plugin's own.
//!
//! serde's internally tagged enums lose key paths and lines and cannot describe open sets,
//! so slots are decoded in steps: [`select`] reads the tag from the mapping (any key
//! order), [`lookup`] finds the variant (or says which kinds exist, or what an old kind
//! became), and [`partition`] hands each key to the structs that declare it, refusing a
//! key that none declares with the full list of allowed keys.

use serde_json::{Map, Value};

use super::error::{unknown_key_message, ConfigError, ConfigWarning};
use super::keypath::KeyPath;
use super::registry::{Family, Variant};
use super::renamed::{self, Renamed};

/// The name of a value's YAML type, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// The mapping at `path`, or an error saying a mapping was expected. Nothing (a key with no
/// value) reads as an empty mapping.
pub(crate) fn mapping(value: Value, path: &KeyPath) -> Result<Map<String, Value>, ConfigError> {
    match value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(ConfigError::new(
            path.clone(),
            format!("expected a mapping, found {}", type_name(&other)),
        )),
    }
}

/// The sequence at `path` (nothing reads as empty).
pub(crate) fn sequence(value: Value, path: &KeyPath) -> Result<Vec<Value>, ConfigError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        other => Err(ConfigError::new(
            path.clone(),
            format!("expected a sequence, found {}", type_name(&other)),
        )),
    }
}

/// Reads the tag (`kind`, or `protocol` for routers) of the slot at `path` and returns it
/// with the other keys. A missing tag takes `default`, or is an error without one.
pub(crate) fn select(
    value: Value,
    path: &KeyPath,
    tag: &str,
    default: Option<&str>,
) -> Result<(String, Map<String, Value>), ConfigError> {
    let mut map = match value {
        Value::Object(m) => m,
        Value::Null if default.is_some() => Map::new(),
        other => {
            return Err(ConfigError::new(
                path.clone(),
                format!(
                    "expected a mapping with a '{tag}' key, found {}",
                    type_name(&other)
                ),
            ))
        }
    };
    let kind = match (map.shift_remove(tag), default) {
        (Some(Value::String(s)), _) => s,
        (Some(other), _) => {
            return Err(ConfigError::new(
                path.key(tag),
                format!("expected a string, found {}", type_name(&other)),
            ))
        }
        (None, Some(d)) => d.to_owned(),
        (None, None) => {
            return Err(ConfigError::new(
                path.clone(),
                format!("missing required key '{tag}'"),
            ))
        }
    };
    Ok((kind, map))
}

/// The variant for `kind`, or an error listing the known kinds (or naming the kind's
/// replacement, for a kind Linkerd 1 renamed or removed).
pub(crate) fn lookup<'f, T>(
    family: &'f Family<T>,
    kind: &str,
    path: &KeyPath,
    tag: &str,
) -> Result<&'f Variant<T>, ConfigError> {
    family.get(kind).ok_or_else(|| {
        let message = match renamed::kind(family.name(), kind) {
            Some(m) => m.to_owned(),
            None => unknown_kind_message(family.name(), tag, kind, family.kinds()),
        };
        ConfigError::new(path.clone(), message).focus(path.key(tag))
    })
}

/// `unknown namer kind 'x', known kinds: a, b`.
pub(crate) fn unknown_kind_message<'a>(
    family: &str,
    tag: &str,
    kind: &str,
    known: impl Iterator<Item = &'a str>,
) -> String {
    let known: Vec<&str> = known.collect();
    if known.is_empty() {
        format!("unknown {family} {tag} '{kind}': no {family} kinds are registered")
    } else {
        format!(
            "unknown {family} {tag} '{kind}', known {tag}s: {}",
            known.join(", ")
        )
    }
}

/// Refuses an experimental kind unless the slot says `experimental: true`.
pub(crate) fn gate(
    experimental: bool,
    map: &Map<String, Value>,
    path: &KeyPath,
    what: &str,
) -> Result<(), ConfigError> {
    if experimental && map.get("experimental") != Some(&Value::Bool(true)) {
        return Err(ConfigError::new(
            path.clone(),
            format!(
                "{what} is experimental and must be enabled explicitly with \
                 'experimental: true'"
            ),
        ));
    }
    Ok(())
}

/// The keys one struct accepts: a list, or any key (a type whose fields are unknown).
pub(crate) type Fields<'a> = Option<&'a [&'a str]>;

/// Splits `map` between `groups` (one mapping per group; a key several groups declare goes
/// to each). A key that no group declares is refused, unless Linkerd 1 renamed it (it is
/// then moved, with a warning) or removed it (the error names the replacement).
pub(crate) fn partition(
    map: Map<String, Value>,
    path: &KeyPath,
    family: &str,
    context: Option<&str>,
    groups: &[Fields<'_>],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Vec<Map<String, Value>>, ConfigError> {
    let mut out = vec![Map::new(); groups.len()];
    let declares = |key: &str| -> Vec<usize> {
        let named: Vec<usize> = (0..groups.len())
            .filter(|&i| groups[i].is_some_and(|f| f.contains(&key)))
            .collect();
        if named.is_empty() {
            // A group of unknown shape takes what nobody else declares.
            groups
                .iter()
                .position(Option::is_none)
                .into_iter()
                .collect()
        } else {
            named
        }
    };
    let present: Vec<String> = map.keys().cloned().collect();
    for (key, value) in map {
        let mut to = declares(&key);
        let mut key = key;
        if to.is_empty() {
            match renamed::key(family, &key) {
                Some(Renamed::Moved { to: new, message }) => {
                    if present.iter().any(|k| k == new) {
                        return Err(ConfigError::new(
                            path.clone(),
                            format!("both '{key}' and '{new}' are set: {message}"),
                        )
                        .in_context(context)
                        .focus(path.key(key)));
                    }
                    warnings.push(ConfigWarning::new(path.key(key.as_str()), message));
                    key = new.to_owned();
                    to = declares(&key);
                }
                Some(Renamed::Removed(message)) => {
                    return Err(ConfigError::new(path.clone(), message)
                        .in_context(context)
                        .focus(path.key(key)));
                }
                None => {}
            }
        }
        if to.is_empty() {
            let mut expected: Vec<&str> = Vec::new();
            for f in groups.iter().flatten().flat_map(|f| f.iter()) {
                if !expected.contains(f) {
                    expected.push(f);
                }
            }
            return Err(
                ConfigError::new(path.clone(), unknown_key_message(&key, &expected))
                    .in_context(context)
                    .focus(path.key(key)),
            );
        }
        for i in to {
            out[i].insert(key.clone(), value.clone());
        }
    }
    Ok(out)
}

/// Decodes a `{kind: ..., ...}` value of a closed set outside a config load: for plugin
/// structs whose own keys hold a closed set (a labeler, a backoff) and decode through
/// serde. The message names the kind, the known kinds, or the unknown key.
pub fn decode_kind<T>(value: Value, family: &Family<T>) -> Result<T, String> {
    let root = KeyPath::root();
    let (kind, map) = select(value, &root, "kind", None).map_err(|e| e.to_string())?;
    let variant = lookup(family, &kind, &root, "kind").map_err(|e| e.to_string())?;
    let context = format!("kind {kind}");
    let own = partition(
        map,
        &root,
        family.name(),
        Some(&context),
        &[variant.fields()],
        &mut Vec::new(),
    )
    .map_err(|e| e.to_string())?
    .pop()
    .unwrap_or_default();
    variant
        .parse(Value::Object(own), &root, Some(&context))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn select_reads_the_tag_in_any_position() {
        let (kind, rest) = select(
            json!({"rootDir": "/x", "kind": "io.l5d.fs"}),
            &KeyPath::root(),
            "kind",
            None,
        )
        .unwrap();
        assert_eq!(kind, "io.l5d.fs");
        assert_eq!(Value::Object(rest), json!({"rootDir": "/x"}));
    }

    #[test]
    fn select_takes_the_default_or_requires_the_tag() {
        let (kind, _) = select(json!({}), &KeyPath::root(), "kind", Some("p2c")).unwrap();
        assert_eq!(kind, "p2c");
        let e = select(json!({"a": 1}), &KeyPath::root().key("x"), "kind", None).unwrap_err();
        assert_eq!(e.to_string(), "x: missing required key 'kind'");
        let e = select(json!("p2c"), &KeyPath::root().key("x"), "kind", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x: expected a mapping with a 'kind' key, found a string"
        );
    }

    #[test]
    fn partition_lists_every_allowed_key_for_an_unknown_one() {
        let mut w = Vec::new();
        let e = partition(
            map(json!({"segmnts": 2})),
            &KeyPath::root().key("identifier"),
            "identifier",
            Some("kind io.l5d.path"),
            &[Some(&["segments", "consume"]), Some(&["consume", "other"])],
            &mut w,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "identifier (kind io.l5d.path): unknown field 'segmnts', expected one of \
             segments, consume, other"
        );
    }

    #[test]
    fn partition_gives_a_shared_key_to_each_group() {
        let mut w = Vec::new();
        let parts = partition(
            map(json!({"prefix": "/p", "a": 1})),
            &KeyPath::root(),
            "namer",
            None,
            &[Some(&["prefix", "a"]), Some(&["prefix"])],
            &mut w,
        )
        .unwrap();
        assert_eq!(
            Value::Object(parts[0].clone()),
            json!({"prefix": "/p", "a": 1})
        );
        assert_eq!(Value::Object(parts[1].clone()), json!({"prefix": "/p"}));
    }

    #[test]
    fn partition_moves_a_renamed_key_with_a_warning() {
        let mut w = Vec::new();
        let parts = partition(
            map(json!({"baseDtab": "/a=>/b"})),
            &KeyPath::root().key("routers").index(0),
            "router",
            None,
            &[Some(&["dtab"])],
            &mut w,
        )
        .unwrap();
        assert_eq!(Value::Object(parts[0].clone()), json!({"dtab": "/a=>/b"}));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].path().to_string(), "routers[0].baseDtab");
    }
}
