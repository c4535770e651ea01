//! YAML text to a JSON-shaped value: the one module that knows serde_yaml.
//!
//! The rest of the config system works on `serde_json::Value` (ordered mappings, string
//! keys), which is also what `/config.json` serves, so swapping the YAML crate touches only
//! this file. Linkerd 1 read its config with Jackson's YAML module, whose tree has string
//! keys too; scalar keys are turned into their text the same way.

use serde_json::{Map, Number, Value};
use serde_yaml::Value as Yaml;

use super::error::{ConfigError, Location};
use super::keypath::KeyPath;
use super::locate::Locator;

/// A parsed config text: its value and where each key was written.
pub(crate) struct Document {
    pub(crate) value: Value,
    pub(crate) locator: Locator,
}

/// Parses `text` as one YAML (or JSON) document.
pub(crate) fn parse(text: &str) -> Result<Document, ConfigError> {
    // serde_yaml first: it bounds nesting (128 levels), and the event parser behind the
    // locator recurses without a bound on some deeply nested documents.
    let yaml: Yaml = serde_yaml::from_str(text).map_err(syntax_error)?;
    let locator = Locator::new(text);
    let value = to_json(yaml, &mut KeyPath::root()).map_err(|e| e.located(&locator))?;
    Ok(Document { value, locator })
}

fn syntax_error(e: serde_yaml::Error) -> ConfigError {
    let location = e.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    });
    let text = e.to_string();
    // serde_yaml appends the position to its message; the error carries it separately.
    let message = match text.rsplit_once(" at line ") {
        Some((m, _)) if location.is_some() => m.to_owned(),
        _ => text,
    };
    ConfigError::new(KeyPath::root(), format!("invalid YAML: {message}")).at(location)
}

fn to_json(yaml: Yaml, path: &mut KeyPath) -> Result<Value, ConfigError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => Value::Number(number(&n, path)?),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(super::keypath::Seg::Index(i));
                let v = to_json(item, path);
                path.pop();
                out.push(v?);
            }
            Value::Array(out)
        }
        Yaml::Mapping(entries) => {
            let mut out = Map::new();
            for (k, v) in entries {
                let key = key_text(k, path)?;
                if out.contains_key(&key) {
                    return Err(ConfigError::new(
                        path.key(key.clone()),
                        format!("duplicate key '{key}'"),
                    ));
                }
                path.push(super::keypath::Seg::Key(key.clone()));
                let v = to_json(v, path);
                path.pop();
                out.insert(key, v?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(t) => {
            return Err(ConfigError::new(
                path.clone(),
                format!("YAML tags are not supported here (found '{}')", t.tag),
            ))
        }
    })
}

fn number(n: &serde_yaml::Number, path: &KeyPath) -> Result<Number, ConfigError> {
    if let Some(u) = n.as_u64() {
        Ok(u.into())
    } else if let Some(i) = n.as_i64() {
        Ok(i.into())
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .ok_or_else(|| ConfigError::new(path.clone(), format!("unsupported number {n}")))
    }
}

fn key_text(key: Yaml, path: &KeyPath) -> Result<String, ConfigError> {
    match key {
        Yaml::String(s) => Ok(s),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Null => Ok("null".into()),
        _ => Err(ConfigError::new(
            path.clone(),
            "mapping keys must be plain scalars",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_yaml_into_ordered_json() {
        let doc = parse("b: 1\na: [x, 2.5, true, ~]\n1: one\n").unwrap();
        assert_eq!(
            serde_json::to_string(&doc.value).unwrap(),
            r#"{"b":1,"a":["x",2.5,true,null],"1":"one"}"#
        );
    }

    #[test]
    fn reports_syntax_errors_with_their_line() {
        let e = parse("a: 1\nb: [\n").err().unwrap();
        assert!(e.message().starts_with("invalid YAML: "), "{e}");
        assert!(e.location().is_some(), "{e}");
        assert!(!e.message().contains(" at line "), "{e}");
    }

    #[test]
    fn refuses_duplicate_keys() {
        let e = parse("a: 1\na: 2\n").err().unwrap();
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn refuses_tags_and_complex_keys() {
        let e = parse("a: !foo 1\n").err().unwrap();
        assert_eq!(e.path().to_string(), "a");
        assert!(parse("? [a]\n: 1\n").is_err());
    }

    #[test]
    fn empty_text_is_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert_eq!(parse("# only a comment\n").unwrap().value, Value::Null);
    }
}
