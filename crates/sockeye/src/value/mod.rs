//! The dynamic value carried by event arguments, acks and connection payloads.
//!
//! Socket.IO payloads are JSON plus one extra kind, binary data, which the default
//! parser moves into separate attachments and the msgpack parser writes inline. A
//! [`Value`] is therefore a JSON value with a `Binary` variant, so a packet can be
//! decoded once and re-encoded for either parser without losing where binary data sat.
//!
//! Objects keep their key order ([`Map`] is an `IndexMap`): JavaScript objects do, and
//! a client that relies on the order of keys it sent gets them back unchanged.
//!
//! [`to_value`] and [`from_value`] are a serde serializer and deserializer over
//! [`Value`], so typed arguments work directly; fields serialized with
//! `serialize_bytes` (`serde_bytes::ByteBuf`, `bytes::Bytes` with its `serde` feature)
//! become binary attachments.
//!
//! Map keys must be strings. When a deserializer hands out other scalar keys (a
//! msgpack map keyed by numbers, say) they are turned into strings the way JavaScript
//! turns property keys into strings (`1` → `"1"`, `true` → `"true"`, nil → `"null"`);
//! keys that are arrays, maps or binary are an error, since JavaScript would turn them
//! into useless strings like `"[object Object]"`.

use std::fmt;

use bytes::Bytes;
use serde_json::Number;

pub use de::from_value;
pub use ser::to_value;

/// A JSON object with string keys, in insertion order. Hashed with foldhash, seeded
/// per process: fast for the small objects events carry, and keys from clients
/// cannot be chosen to collide. Make one with `Map::default()`.
pub type Map = indexmap::IndexMap<String, Value, foldhash::fast::RandomState>;

/// A Socket.IO value: JSON extended with binary data.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// Binary data: an attachment with the default parser, `bin` with msgpack.
    Binary(Bytes),
    Array(Vec<Value>),
    Object(Map),
}

/// Why a value could not be converted to or from a Rust type.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// An error reported by a `Serialize` or `Deserialize` implementation.
    #[error("{0}")]
    Custom(String),
    /// A map key that cannot be a JSON object key.
    #[error("map key must be a string, a number, a char or a bool, not {0}")]
    InvalidKey(&'static str),
    /// An integer that does not fit in 64 bits (from `i128`/`u128`).
    #[error("integer {0} does not fit in 64 bits")]
    IntegerOutOfRange(String),
}

impl serde::ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::Custom(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::Custom(msg.to_string())
    }
}

impl Value {
    /// `true` for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `u64`, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number as `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// Any number as `f64` (large integers lose precision).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The value under `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// Replaces the value with `Null` and returns it.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// Whether binary data appears anywhere in the value. The default parser must
    /// know this before writing the packet type (`EVENT` or `BINARY_EVENT`).
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(a) => a.iter().any(Value::has_binary),
            Value::Object(m) => m.values().any(Value::has_binary),
            _ => false,
        }
    }

    /// Deserializes a typed value from a copy of this one. Use [`from_value`] when
    /// you own the value, to avoid the clone.
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(&self) -> Result<T, ValueError> {
        from_value(self.clone())
    }

    /// A short name of the variant, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a bool",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Binary(_) => "binary data",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Compact JSON, binary data written as an array of byte values; `{:#}` pretty-prints.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        // Serializing a `Value` to JSON cannot fail: keys are strings and numbers finite.
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Binary(b) => serializer.serialize_bytes(b),
            Value::Array(a) => a.serialize(serializer),
            Value::Object(m) => m.serialize(serializer),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(de::ValueVisitor)
    }
}

mod convert;

mod ser;

mod de;

#[cfg(test)]
mod tests;
