//! Typed decoding of config values: serde with key paths, and the field names of a
//! derived struct.

use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::Value;

use super::error::{reword, ConfigError};
use super::keypath::{KeyPath, Seg};

/// Decodes `value` (found at `path`) as `T`; an error names the full key path, the plugin
/// (`context`) and, for an unknown key, points at that key.
pub fn decode<T: DeserializeOwned>(
    value: Value,
    path: &KeyPath,
    context: Option<&str>,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(super::lenient::Lenient(value)).map_err(|e| {
        let mut at = path.join(&KeyPath::from(e.path()));
        let r = reword(&e.inner().to_string());
        let mut focus = None;
        if let Some(key) = &r.unknown_key {
            // Name the mapping (whose keys the message lists) and point at the key.
            if matches!(at.segments().last(), Some(Seg::Key(k)) if k == key) {
                focus = Some(at.clone());
                at = at.parent();
            } else {
                focus = Some(at.key(key.as_str()));
            }
        }
        let mut err = ConfigError::new(at, r.message).in_context(context);
        if let Some(focus) = focus {
            err = err.focus(focus);
        }
        if let Some(offset) = r.offset {
            err = err.at_offset(offset);
        }
        err
    })
}

/// The serialized field names of a struct that derives `Deserialize`, or `None` for a type
/// that is not a struct with named fields.
///
/// Derived impls call `deserialize_struct(name, FIELDS, visitor)`; a deserializer that
/// records `FIELDS` and fails finds them without a value to decode.
pub fn fields_of<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut probe = FieldsProbe(None);
    let _ = T::deserialize(&mut probe);
    probe.0
}

struct FieldsProbe(Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Stop {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for &mut FieldsProbe {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Ident {
        #[serde(default)]
        segments: u32,
        #[serde(default)]
        consume: bool,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Outer {
        #[allow(dead_code)]
        inner_thing: Vec<Ident>,
    }

    #[test]
    fn finds_the_fields_of_a_derived_struct() {
        assert_eq!(fields_of::<Ident>(), Some(&["segments", "consume"][..]));
        assert_eq!(fields_of::<String>(), None);
    }

    #[test]
    fn an_unknown_key_error_points_at_the_key() {
        let v = serde_json::json!({"innerThing": [{"segmnts": 1}]});
        let e = decode::<Outer>(v, &KeyPath::root().key("x"), Some("kind k")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.innerThing[0] (kind k): unknown field 'segmnts', expected one of segments, consume"
        );
    }

    #[test]
    fn a_bad_value_names_its_path_and_what_was_expected() {
        let v = serde_json::json!({"innerThing": [{"segments": "two"}]});
        let e = decode::<Outer>(v, &KeyPath::root(), None).unwrap_err();
        assert_eq!(e.path().to_string(), "innerThing[0].segments");
        assert!(e.message().contains("expected u32"), "{e}");
    }
}
