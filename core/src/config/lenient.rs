//! Scalar coercion the way Linkerd 1's config reader (Jackson) did it, so users' configs
//! load unchanged: a quoted number where a number is expected (`port: "4140"`, common in
//! templated configs), a number or boolean where text is expected (`label: 2`), and a
//! quoted or YAML 1.1 boolean (`"true"`, `yes`, `off`) where a boolean is expected.
//!
//! It wraps the JSON-shaped value the YAML module produces and otherwise behaves exactly
//! like `serde_json::Value`'s own deserializer, so strict types still refuse a map where a
//! number belongs, and errors still carry their key path.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

/// A config value that coerces scalars as Jackson does.
pub(crate) struct Lenient(pub(crate) Value);

type Error = serde_json::Error;

impl<'de> IntoDeserializer<'de, Error> for Lenient {
    type Deserializer = Lenient;
    fn into_deserializer(self) -> Lenient {
        self
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

macro_rules! number {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            if let Value::String(s) = &self.0 {
                if let Ok(n) = s.trim().parse::<$ty>() {
                    return visitor.$visit(n);
                }
            }
            self.deserialize_any(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Lenient {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(Lenient));
                let v = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(v)
            }
            Value::Object(map) => {
                let mut entries =
                    MapDeserializer::new(map.into_iter().map(|(k, v)| (k, Lenient(v))));
                let v = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(v)
            }
            scalar => de::Deserializer::deserialize_any(scalar, visitor),
        }
    }

    number! {
        deserialize_i8 => visit_i64: i64, deserialize_i16 => visit_i64: i64,
        deserialize_i32 => visit_i64: i64, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u64: u64, deserialize_u16 => visit_u64: u64,
        deserialize_u32 => visit_u64: u64, deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f64: f64, deserialize_f64 => visit_f64: f64,
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0 {
            Value::String(s) => match parse_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            other => Lenient(other).deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Lenient(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_enum(self.0, name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Server {
        port: u16,
        ip: Option<String>,
        label: Option<String>,
        clear_context: Option<bool>,
        weight: Option<f64>,
        ports: Option<Vec<u16>>,
    }

    fn decode(v: Value) -> Result<Server, String> {
        Server::deserialize(Lenient(v)).map_err(|e| e.to_string())
    }

    #[test]
    fn quoted_scalars_coerce_like_jackson() {
        let s = decode(json!({"port": "4140", "label": 7, "clearContext": "yes", "weight": "0.5", "ports": ["1", 2]}))
            .unwrap();
        assert_eq!(s.port, 4140);
        assert_eq!(s.label.as_deref(), Some("7"));
        assert_eq!(s.clear_context, Some(true));
        assert_eq!(s.weight, Some(0.5));
        assert_eq!(s.ports, Some(vec![1, 2]));
        assert_eq!(
            decode(json!({"port": 80, "clearContext": "off"}))
                .unwrap()
                .clear_context,
            Some(false)
        );
    }

    #[test]
    fn wrong_shapes_are_still_refused() {
        assert!(decode(json!({"port": "http"}))
            .unwrap_err()
            .contains("expected u16"));
        assert!(decode(json!({"port": "70000"})).is_err(), "out of range");
        assert!(decode(json!({"port": {"a": 1}})).is_err());
        assert!(decode(json!({"port": 1, "clearContext": "maybe"})).is_err());
        assert!(decode(json!({"port": 1, "ip": ["a"]})).is_err());
        assert!(decode(json!({"port": 1, "bogus": 1}))
            .unwrap_err()
            .contains("unknown field"));
    }
}
