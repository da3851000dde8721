//! Conversions between sockeye's [`Value`] and msgpack values as `notepack.io` (the
//! Node.js adapter's encoder) writes and reads them.
//!
//! Going through `rmpv` rather than serde lets us accept what notepack produces but
//! serde has no notion of: `undefined` (fixext 1 of type 0) and `ArrayBuffer`s (ext of
//! type 0). Both decode to what JavaScript would send over JSON or msgpack to a
//! client: `undefined` becomes `null`, an `ArrayBuffer` becomes binary data.

use rmpv::Value as Mp;
use sockeye::{Map, Value};

/// Nesting limit when decoding, so a hostile message cannot exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// A sockeye value as msgpack; binary data becomes `bin`, which notepack decodes to a
/// Node.js `Buffer`.
pub(crate) fn to_msgpack(value: &Value) -> Mp {
    match value {
        Value::Null => Mp::Nil,
        Value::Bool(b) => Mp::Boolean(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Mp::from(u)
            } else if let Some(i) = n.as_i64() {
                Mp::from(i)
            } else {
                Mp::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Mp::from(s.as_str()),
        Value::Binary(b) => Mp::Binary(b.to_vec()),
        Value::Array(a) => Mp::Array(a.iter().map(to_msgpack).collect()),
        Value::Object(m) => Mp::Map(
            m.iter()
                .map(|(k, v)| (Mp::from(k.as_str()), to_msgpack(v)))
                .collect(),
        ),
    }
}

/// A msgpack value as a sockeye value. Map keys that are not strings are turned
/// into strings the way JavaScript would; keys that cannot be (arrays, maps) are dropped.
pub(crate) fn from_msgpack(value: Mp) -> Value {
    match value {
        Mp::Nil => Value::Null,
        Mp::Boolean(b) => Value::Bool(b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(s)) => Value::from(s),
            _ => Value::from(i.as_f64().unwrap_or(0.0)),
        },
        Mp::F32(f) => Value::from(f64::from(f)),
        Mp::F64(f) => Value::from(f),
        Mp::String(s) => Value::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Mp::Binary(b) => Value::from(b),
        Mp::Array(a) => Value::Array(a.into_iter().map(from_msgpack).collect()),
        Mp::Map(entries) => {
            let mut map = Map::default();
            for (k, v) in entries {
                if let Some(key) = key_string(k) {
                    map.insert(key, from_msgpack(v));
                }
            }
            Value::Object(map)
        }
        // notepack writes `undefined` as fixext 1 of type 0 holding a zero byte.
        Mp::Ext(0, data) if data == [0] => Value::Null,
        Mp::Ext(_, data) => Value::from(data),
    }
}

/// A map key as JavaScript would see it (object keys are strings).
pub(crate) fn key_string(key: Mp) -> Option<String> {
    match key {
        Mp::String(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Mp::Integer(i) => Some(i.to_string()),
        Mp::Boolean(b) => Some(b.to_string()),
        Mp::Nil => Some("null".to_string()),
        Mp::F64(f) => Some(f.to_string()),
        Mp::F32(f) => Some(f.to_string()),
        _ => None,
    }
}

/// A room or socket id as a string: JavaScript rooms are strings, but a numeric room
/// can slip through `Set` serialization.
pub(crate) fn room_name(value: &Mp) -> Option<String> {
    key_string(value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_json_and_binary() {
        let value = Value::Array(vec![
            Value::from("a"),
            Value::from(-3i64),
            Value::from(2.5),
            Value::from(vec![1u8, 2, 3]),
            Value::Null,
        ]);
        assert_eq!(from_msgpack(to_msgpack(&value)), value);
    }

    #[test]
    fn undefined_and_array_buffers() {
        assert_eq!(from_msgpack(Mp::Ext(0, vec![0])), Value::Null);
        assert_eq!(
            from_msgpack(Mp::Ext(0, vec![7, 8])),
            Value::from(vec![7u8, 8])
        );
    }
}
