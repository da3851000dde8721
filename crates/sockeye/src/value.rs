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

/// A JSON object with string keys, in insertion order.
pub type Map = indexmap::IndexMap<String, Value>;

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

/// `From` conversions, so handlers can write `vec!["hi".into(), 3.into()]`.
mod convert {
    use bytes::Bytes;
    use serde_json::Number;

    use super::{Map, Value};

    macro_rules! from_integer {
        ($($t:ty),*) => {$(
            impl From<$t> for Value {
                fn from(n: $t) -> Self {
                    Value::Number(Number::from(n))
                }
            }
        )*};
    }
    from_integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

    /// Non-finite floats become `Null`, as `JSON.stringify` writes them.
    impl From<f64> for Value {
        fn from(n: f64) -> Self {
            Number::from_f64(n).map_or(Value::Null, Value::Number)
        }
    }

    impl From<f32> for Value {
        fn from(n: f32) -> Self {
            Value::from(f64::from(n))
        }
    }

    impl From<bool> for Value {
        fn from(b: bool) -> Self {
            Value::Bool(b)
        }
    }

    impl From<&str> for Value {
        fn from(s: &str) -> Self {
            Value::String(s.to_owned())
        }
    }

    impl From<String> for Value {
        fn from(s: String) -> Self {
            Value::String(s)
        }
    }

    impl From<Number> for Value {
        fn from(n: Number) -> Self {
            Value::Number(n)
        }
    }

    impl From<Bytes> for Value {
        fn from(b: Bytes) -> Self {
            Value::Binary(b)
        }
    }

    /// Bytes become binary data (not an array of numbers, which `to_value` gives
    /// for a `Vec<u8>` field, following serde's data model).
    impl From<Vec<u8>> for Value {
        fn from(b: Vec<u8>) -> Self {
            Value::Binary(Bytes::from(b))
        }
    }

    impl From<Vec<Value>> for Value {
        fn from(a: Vec<Value>) -> Self {
            Value::Array(a)
        }
    }

    impl From<Map> for Value {
        fn from(m: Map) -> Self {
            Value::Object(m)
        }
    }

    impl From<()> for Value {
        fn from(_: ()) -> Self {
            Value::Null
        }
    }

    /// `None` is `Null`.
    impl<T: Into<Value>> From<Option<T>> for Value {
        fn from(o: Option<T>) -> Self {
            o.map_or(Value::Null, Into::into)
        }
    }

    impl FromIterator<Value> for Value {
        fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
            Value::Array(iter.into_iter().collect())
        }
    }

    impl<K: Into<String>> FromIterator<(K, Value)> for Value {
        fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
            Value::Object(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
        }
    }

    impl From<serde_json::Value> for Value {
        fn from(v: serde_json::Value) -> Self {
            match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => Value::Number(n),
                serde_json::Value::String(s) => Value::String(s),
                serde_json::Value::Array(a) => {
                    Value::Array(a.into_iter().map(Value::from).collect())
                }
                serde_json::Value::Object(m) => {
                    Value::Object(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
                }
            }
        }
    }

    /// Binary data becomes an array of byte values, as serde_json writes bytes.
    impl From<Value> for serde_json::Value {
        fn from(v: Value) -> Self {
            match v {
                Value::Null => serde_json::Value::Null,
                Value::Bool(b) => serde_json::Value::Bool(b),
                Value::Number(n) => serde_json::Value::Number(n),
                Value::String(s) => serde_json::Value::String(s),
                Value::Binary(b) => serde_json::Value::Array(
                    b.iter()
                        .map(|&byte| serde_json::Value::from(byte))
                        .collect(),
                ),
                Value::Array(a) => {
                    serde_json::Value::Array(a.into_iter().map(serde_json::Value::from).collect())
                }
                Value::Object(m) => serde_json::Value::Object(
                    m.into_iter()
                        .map(|(k, v)| (k, serde_json::Value::from(v)))
                        .collect(),
                ),
            }
        }
    }
}

/// A serde `Serializer` that builds a [`Value`]. Enums are externally tagged, as in
/// serde_json: `{"Variant": content}`, unit variants as their name.
mod ser {
    use bytes::Bytes;
    use serde::ser::{self, Serialize};

    use super::{Map, Value, ValueError};
    use crate::parser::jsnum;

    /// Converts any serializable value into a [`Value`]. Byte strings (fields
    /// serialized with `serialize_bytes`) become [`Value::Binary`].
    pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
        value.serialize(ValueSerializer)
    }

    pub(super) struct ValueSerializer;

    fn out_of_range(n: impl ToString) -> ValueError {
        ValueError::IntegerOutOfRange(n.to_string())
    }

    impl ser::Serializer for ValueSerializer {
        type Ok = Value;
        type Error = ValueError;
        type SerializeSeq = SeqBuilder;
        type SerializeTuple = SeqBuilder;
        type SerializeTupleStruct = SeqBuilder;
        type SerializeTupleVariant = TaggedSeqBuilder;
        type SerializeMap = MapBuilder;
        type SerializeStruct = MapBuilder;
        type SerializeStructVariant = TaggedMapBuilder;

        fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
            Ok(Value::Bool(v))
        }
        fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
            if let Ok(n) = u64::try_from(v) {
                Ok(Value::from(n))
            } else {
                i64::try_from(v)
                    .map(Value::from)
                    .map_err(|_| out_of_range(v))
            }
        }
        fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
            u64::try_from(v)
                .map(Value::from)
                .map_err(|_| out_of_range(v))
        }
        /// Non-finite floats become `Null`, as in `JSON.stringify`.
        fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_char(self, v: char) -> Result<Value, ValueError> {
            Ok(Value::String(v.to_string()))
        }
        fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
            Ok(Value::from(v))
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
            Ok(Value::Binary(Bytes::copy_from_slice(v)))
        }
        fn serialize_none(self) -> Result<Value, ValueError> {
            Ok(Value::Null)
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<Value, ValueError> {
            Ok(Value::Null)
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
            Ok(Value::Null)
        }
        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
        ) -> Result<Value, ValueError> {
            Ok(Value::from(variant))
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            value: &T,
        ) -> Result<Value, ValueError> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            value: &T,
        ) -> Result<Value, ValueError> {
            let mut map = Map::with_capacity(1);
            map.insert(variant.to_owned(), to_value(value)?);
            Ok(Value::Object(map))
        }
        fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, ValueError> {
            Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
        }
        fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, ValueError> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_struct(
            self,
            _name: &'static str,
            len: usize,
        ) -> Result<SeqBuilder, ValueError> {
            self.serialize_seq(Some(len))
        }
        fn serialize_tuple_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            len: usize,
        ) -> Result<TaggedSeqBuilder, ValueError> {
            Ok(TaggedSeqBuilder {
                variant,
                items: Vec::with_capacity(len),
            })
        }
        fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, ValueError> {
            Ok(MapBuilder {
                map: Map::with_capacity(len.unwrap_or(0)),
                key: None,
            })
        }
        fn serialize_struct(
            self,
            _name: &'static str,
            len: usize,
        ) -> Result<MapBuilder, ValueError> {
            self.serialize_map(Some(len))
        }
        fn serialize_struct_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
            len: usize,
        ) -> Result<TaggedMapBuilder, ValueError> {
            Ok(TaggedMapBuilder {
                variant,
                map: Map::with_capacity(len),
            })
        }
    }

    pub(super) struct SeqBuilder(Vec<Value>);

    impl ser::SerializeSeq for SeqBuilder {
        type Ok = Value;
        type Error = ValueError;
        fn serialize_element<T: Serialize + ?Sized>(
            &mut self,
            value: &T,
        ) -> Result<(), ValueError> {
            self.0.push(to_value(value)?);
            Ok(())
        }
        fn end(self) -> Result<Value, ValueError> {
            Ok(Value::Array(self.0))
        }
    }

    impl ser::SerializeTuple for SeqBuilder {
        type Ok = Value;
        type Error = ValueError;
        fn serialize_element<T: Serialize + ?Sized>(
            &mut self,
            value: &T,
        ) -> Result<(), ValueError> {
            ser::SerializeSeq::serialize_element(self, value)
        }
        fn end(self) -> Result<Value, ValueError> {
            ser::SerializeSeq::end(self)
        }
    }

    impl ser::SerializeTupleStruct for SeqBuilder {
        type Ok = Value;
        type Error = ValueError;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
            ser::SerializeSeq::serialize_element(self, value)
        }
        fn end(self) -> Result<Value, ValueError> {
            ser::SerializeSeq::end(self)
        }
    }

    pub(super) struct TaggedSeqBuilder {
        variant: &'static str,
        items: Vec<Value>,
    }

    impl ser::SerializeTupleVariant for TaggedSeqBuilder {
        type Ok = Value;
        type Error = ValueError;
        fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
            self.items.push(to_value(value)?);
            Ok(())
        }
        fn end(self) -> Result<Value, ValueError> {
            let mut map = Map::with_capacity(1);
            map.insert(self.variant.to_owned(), Value::Array(self.items));
            Ok(Value::Object(map))
        }
    }

    pub(super) struct MapBuilder {
        map: Map,
        key: Option<String>,
    }

    impl ser::SerializeMap for MapBuilder {
        type Ok = Value;
        type Error = ValueError;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
            self.key = Some(key.serialize(KeySerializer)?);
            Ok(())
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
            let key = self
                .key
                .take()
                .ok_or_else(|| ValueError::Custom("map value serialized before its key".into()))?;
            self.map.insert(key, to_value(value)?);
            Ok(())
        }
        fn end(self) -> Result<Value, ValueError> {
            Ok(Value::Object(self.map))
        }
    }

    impl ser::SerializeStruct for MapBuilder {
        type Ok = Value;
        type Error = ValueError;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), ValueError> {
            self.map.insert(key.to_owned(), to_value(value)?);
            Ok(())
        }
        fn end(self) -> Result<Value, ValueError> {
            Ok(Value::Object(self.map))
        }
    }

    pub(super) struct TaggedMapBuilder {
        variant: &'static str,
        map: Map,
    }

    impl ser::SerializeStructVariant for TaggedMapBuilder {
        type Ok = Value;
        type Error = ValueError;
        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), ValueError> {
            self.map.insert(key.to_owned(), to_value(value)?);
            Ok(())
        }
        fn end(self) -> Result<Value, ValueError> {
            let mut outer = Map::with_capacity(1);
            outer.insert(self.variant.to_owned(), Value::Object(self.map));
            Ok(Value::Object(outer))
        }
    }

    /// Serializes map keys: strings as they are, other scalars turned into strings
    /// the way JavaScript turns property keys into strings.
    struct KeySerializer;

    fn bad_key(kind: &'static str) -> Result<String, ValueError> {
        Err(ValueError::InvalidKey(kind))
    }

    impl ser::Serializer for KeySerializer {
        type Ok = String;
        type Error = ValueError;
        type SerializeSeq = ser::Impossible<String, ValueError>;
        type SerializeTuple = ser::Impossible<String, ValueError>;
        type SerializeTupleStruct = ser::Impossible<String, ValueError>;
        type SerializeTupleVariant = ser::Impossible<String, ValueError>;
        type SerializeMap = ser::Impossible<String, ValueError>;
        type SerializeStruct = ser::Impossible<String, ValueError>;
        type SerializeStructVariant = ser::Impossible<String, ValueError>;

        fn serialize_bool(self, v: bool) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_i8(self, v: i8) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_i16(self, v: i16) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_i32(self, v: i32) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_i64(self, v: i64) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_i128(self, v: i128) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_u8(self, v: u8) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_u16(self, v: u16) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_u32(self, v: u32) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_u64(self, v: u64) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_u128(self, v: u128) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_f32(self, v: f32) -> Result<String, ValueError> {
            self.serialize_f64(f64::from(v))
        }
        fn serialize_f64(self, v: f64) -> Result<String, ValueError> {
            Ok(jsnum::f64_to_js_string(v))
        }
        fn serialize_char(self, v: char) -> Result<String, ValueError> {
            Ok(v.to_string())
        }
        fn serialize_str(self, v: &str) -> Result<String, ValueError> {
            Ok(v.to_owned())
        }
        fn serialize_bytes(self, _v: &[u8]) -> Result<String, ValueError> {
            bad_key("binary data")
        }
        fn serialize_none(self) -> Result<String, ValueError> {
            bad_key("None")
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, ValueError> {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Result<String, ValueError> {
            bad_key("()")
        }
        fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ValueError> {
            bad_key("a unit struct")
        }
        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
        ) -> Result<String, ValueError> {
            Ok(variant.to_owned())
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            value: &T,
        ) -> Result<String, ValueError> {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _value: &T,
        ) -> Result<String, ValueError> {
            bad_key("an enum variant with data")
        }
        fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
            Err(ValueError::InvalidKey("a sequence"))
        }
        fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
            Err(ValueError::InvalidKey("a tuple"))
        }
        fn serialize_tuple_struct(
            self,
            _name: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeTupleStruct, ValueError> {
            Err(ValueError::InvalidKey("a tuple struct"))
        }
        fn serialize_tuple_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeTupleVariant, ValueError> {
            Err(ValueError::InvalidKey("an enum variant with data"))
        }
        fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
            Err(ValueError::InvalidKey("a map"))
        }
        fn serialize_struct(
            self,
            _name: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeStruct, ValueError> {
            Err(ValueError::InvalidKey("a struct"))
        }
        fn serialize_struct_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeStructVariant, ValueError> {
            Err(ValueError::InvalidKey("an enum variant with data"))
        }
    }
}

/// `Deserialize for Value` (its visitor) and a serde `Deserializer` over an owned
/// [`Value`], so typed arguments can be read out of a decoded packet.
mod de {
    use std::fmt;

    use bytes::Bytes;
    use serde::de::{
        self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess,
        SeqAccess, Unexpected, VariantAccess, Visitor,
    };
    use serde::forward_to_deserialize_any;
    use serde_json::Number;

    use super::{Map, Value, ValueError};
    use crate::parser::jsnum;

    /// Converts a [`Value`] into any deserializable type. Binary data can be read
    /// as a byte buffer (`serde_bytes::ByteBuf`, `bytes::Bytes`) or as a `Vec<u8>`.
    pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
        T::deserialize(value)
    }

    /// Upper bound on what a size hint from the input may make us preallocate, so a
    /// lying length prefix cannot reserve gigabytes.
    fn cautious(hint: Option<usize>) -> usize {
        hint.unwrap_or(0).min(4096)
    }

    /// Builds a [`Value`] from any self-describing format.
    pub(super) struct ValueVisitor;

    impl<'de> Visitor<'de> for ValueVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value or binary data")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        /// Beyond 64 bits a number keeps the precision JavaScript would give it.
        fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
            Ok(match (u64::try_from(v), i64::try_from(v)) {
                (Ok(n), _) => Value::from(n),
                (_, Ok(n)) => Value::from(n),
                _ => Value::from(v as f64),
            })
        }
        fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
            Ok(u64::try_from(v).map_or_else(|_| Value::from(v as f64), Value::from))
        }
        /// NaN and infinities become `Null`, which is what JSON can carry of them.
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
            Ok(Value::Binary(Bytes::copy_from_slice(v)))
        }
        fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
            Ok(Value::Binary(Bytes::from(v)))
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(ValueVisitor)
        }
        fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(ValueVisitor)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::with_capacity(cautious(seq.size_hint()));
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        /// Duplicate keys: the last value wins, at the position of the first, as in
        /// `JSON.parse`.
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
            let mut map = Map::with_capacity(cautious(access.size_hint()));
            while let Some(key) = access.next_key_seed(KeySeed)? {
                let value = access.next_value()?;
                map.insert(key, value);
            }
            Ok(Value::Object(map))
        }
    }

    /// Reads a map key, turning scalar keys into strings like JavaScript does.
    struct KeySeed;

    impl<'de> DeserializeSeed<'de> for KeySeed {
        type Value = String;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_any(KeyVisitor)
        }
    }

    struct KeyVisitor;

    impl Visitor<'_> for KeyVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, number, bool or null map key")
        }
        fn visit_str<E>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_char<E>(self, v: char) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E>(self, v: f64) -> Result<String, E> {
            Ok(jsnum::f64_to_js_string(v))
        }
        fn visit_unit<E>(self) -> Result<String, E> {
            Ok("null".to_owned())
        }
        fn visit_none<E>(self) -> Result<String, E> {
            Ok("null".to_owned())
        }
    }

    fn unexpected(v: &Value) -> Unexpected<'_> {
        match v {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Unexpected::Unsigned(u),
                (_, Some(i)) => Unexpected::Signed(i),
                _ => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Unexpected::Str(s),
            Value::Binary(b) => Unexpected::Bytes(b),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }

    fn visit_number<'de, V: Visitor<'de>>(n: &Number, visitor: V) -> Result<V::Value, ValueError> {
        if let Some(u) = n.as_u64() {
            visitor.visit_u64(u)
        } else if let Some(i) = n.as_i64() {
            visitor.visit_i64(i)
        } else {
            visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// Binary data offered as a sequence of bytes, for targets like `Vec<u8>`.
    fn visit_bytes_as_seq<'de, V: Visitor<'de>>(
        b: Bytes,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        let mut seq = de::value::SeqDeserializer::<_, ValueError>::new(b.into_iter());
        let out = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(out)
    }

    fn visit_array<'de, V: Visitor<'de>>(
        a: Vec<Value>,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        let len = a.len();
        let mut seq = SeqDeserializer(a.into_iter());
        let out = visitor.visit_seq(&mut seq)?;
        if seq.0.len() == 0 {
            Ok(out)
        } else {
            Err(de::Error::invalid_length(
                len,
                &"fewer elements in the array",
            ))
        }
    }

    fn visit_object<'de, V: Visitor<'de>>(m: Map, visitor: V) -> Result<V::Value, ValueError> {
        let len = m.len();
        let mut access = MapDeserializer {
            iter: m.into_iter(),
            value: None,
        };
        let out = visitor.visit_map(&mut access)?;
        if access.iter.len() == 0 {
            Ok(out)
        } else {
            Err(de::Error::invalid_length(len, &"fewer entries in the map"))
        }
    }

    impl<'de> de::Deserializer<'de> for Value {
        type Error = ValueError;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self {
                Value::Null => visitor.visit_unit(),
                Value::Bool(b) => visitor.visit_bool(b),
                Value::Number(n) => visit_number(&n, visitor),
                Value::String(s) => visitor.visit_string(s),
                Value::Binary(b) => visitor.visit_byte_buf(Vec::from(b)),
                Value::Array(a) => visit_array(a, visitor),
                Value::Object(m) => visit_object(m, visitor),
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self {
                Value::Null => visitor.visit_none(),
                other => visitor.visit_some(other),
            }
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self {
                Value::Binary(b) => visit_bytes_as_seq(b, visitor),
                other => other.deserialize_any(visitor),
            }
        }

        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            _len: usize,
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            self.deserialize_seq(visitor)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            match self {
                Value::String(variant) => visitor.visit_enum(EnumDeserializer {
                    variant,
                    value: None,
                }),
                Value::Object(m) if m.len() == 1 => match m.into_iter().next() {
                    Some((variant, value)) => visitor.visit_enum(EnumDeserializer {
                        variant,
                        value: Some(value),
                    }),
                    None => Err(de::Error::invalid_length(0, &"a map with a single key")),
                },
                other => Err(de::Error::invalid_type(
                    unexpected(&other),
                    &"a string or a map with a single key",
                )),
            }
        }

        fn deserialize_ignored_any<V: Visitor<'de>>(
            self,
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            drop(self);
            visitor.visit_unit()
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf unit unit_struct tuple_struct map struct identifier
        }
    }

    impl IntoDeserializer<'_, ValueError> for Value {
        type Deserializer = Value;
        fn into_deserializer(self) -> Value {
            self
        }
    }

    struct SeqDeserializer(std::vec::IntoIter<Value>);

    impl<'de> SeqAccess<'de> for SeqDeserializer {
        type Error = ValueError;

        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, ValueError> {
            self.0.next().map(|v| seed.deserialize(v)).transpose()
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.0.len())
        }
    }

    struct MapDeserializer {
        iter: indexmap::map::IntoIter<String, Value>,
        value: Option<Value>,
    }

    impl<'de> MapAccess<'de> for MapDeserializer {
        type Error = ValueError;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, ValueError> {
            match self.iter.next() {
                Some((key, value)) => {
                    self.value = Some(value);
                    seed.deserialize(KeyDeserializer(key)).map(Some)
                }
                None => Ok(None),
            }
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, ValueError> {
            match self.value.take() {
                Some(value) => seed.deserialize(value),
                None => Err(de::Error::custom("map value requested before its key")),
            }
        }

        fn size_hint(&self) -> Option<usize> {
            Some(self.iter.len())
        }
    }

    /// A map key. Keys are strings, but a typed map may want numbers or bools
    /// (`HashMap<u32, _>`), so those parse the string.
    struct KeyDeserializer(String);

    macro_rules! parse_key {
        ($($method:ident => $visit:ident($t:ty)),* $(,)?) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
                match self.0.parse::<$t>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => visitor.visit_string(self.0),
                }
            }
        )*};
    }

    impl<'de> de::Deserializer<'de> for KeyDeserializer {
        type Error = ValueError;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            visitor.visit_string(self.0)
        }

        parse_key! {
            deserialize_bool => visit_bool(bool),
            deserialize_i8 => visit_i8(i8),
            deserialize_i16 => visit_i16(i16),
            deserialize_i32 => visit_i32(i32),
            deserialize_i64 => visit_i64(i64),
            deserialize_u8 => visit_u8(u8),
            deserialize_u16 => visit_u16(u16),
            deserialize_u32 => visit_u32(u32),
            deserialize_u64 => visit_u64(u64),
            deserialize_f32 => visit_f32(f32),
            deserialize_f64 => visit_f64(f64),
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            visitor.visit_some(self)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            visitor.visit_enum(IntoDeserializer::<ValueError>::into_deserializer(self.0))
        }

        forward_to_deserialize_any! {
            i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }

    struct EnumDeserializer {
        variant: String,
        value: Option<Value>,
    }

    impl<'de> EnumAccess<'de> for EnumDeserializer {
        type Error = ValueError;
        type Variant = VariantDeserializer;

        fn variant_seed<V: DeserializeSeed<'de>>(
            self,
            seed: V,
        ) -> Result<(V::Value, VariantDeserializer), ValueError> {
            let variant = seed.deserialize(KeyDeserializer(self.variant))?;
            Ok((variant, VariantDeserializer(self.value)))
        }
    }

    struct VariantDeserializer(Option<Value>);

    impl<'de> VariantAccess<'de> for VariantDeserializer {
        type Error = ValueError;

        fn unit_variant(self) -> Result<(), ValueError> {
            match self.0 {
                None | Some(Value::Null) => Ok(()),
                Some(other) => Err(de::Error::invalid_type(
                    unexpected(&other),
                    &"a unit variant",
                )),
            }
        }

        fn newtype_variant_seed<T: DeserializeSeed<'de>>(
            self,
            seed: T,
        ) -> Result<T::Value, ValueError> {
            match self.0 {
                Some(value) => seed.deserialize(value),
                None => Err(de::Error::invalid_type(
                    Unexpected::UnitVariant,
                    &"a newtype variant",
                )),
            }
        }

        fn tuple_variant<V: Visitor<'de>>(
            self,
            _len: usize,
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            match self.0 {
                Some(Value::Array(a)) => visit_array(a, visitor),
                Some(other) => Err(de::Error::invalid_type(
                    unexpected(&other),
                    &"a tuple variant",
                )),
                None => Err(de::Error::invalid_type(
                    Unexpected::UnitVariant,
                    &"a tuple variant",
                )),
            }
        }

        fn struct_variant<V: Visitor<'de>>(
            self,
            _fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, ValueError> {
            match self.0 {
                Some(Value::Object(m)) => visit_object(m, visitor),
                Some(Value::Array(a)) => visit_array(a, visitor),
                Some(other) => Err(de::Error::invalid_type(
                    unexpected(&other),
                    &"a struct variant",
                )),
                None => Err(de::Error::invalid_type(
                    Unexpected::UnitVariant,
                    &"a struct variant",
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use bytes::Bytes;
    use serde::{Deserialize, Serialize};

    use super::*;

    /// A byte buffer serialized with `serialize_bytes`, like `serde_bytes::ByteBuf`.
    #[derive(Debug, PartialEq)]
    struct Blob(Vec<u8>);

    impl Serialize for Blob {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Blob {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Blob;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                    Ok(Blob(v.to_vec()))
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Blob, E> {
                    Ok(Blob(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Upload {
        name: String,
        size: u64,
        data: Blob,
        thumbs: Vec<Blob>,
        raw: Vec<u8>,
        meta: Option<BTreeMap<String, i32>>,
        kind: Kind,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Kind {
        Plain,
        Tagged(String),
        Pair(u8, bool),
        Rich { level: i8 },
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn json_round_trip_keeps_key_order() {
        let text = r#"{"z":1,"a":[true,null,"x",-2,0.5],"m":{"b":{},"a":[]}}"#;
        let v = json(text);
        assert_eq!(v.to_string(), text);
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        assert_eq!(v.get("a").and_then(Value::as_array).map(Vec::len), Some(5));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn typed_struct_with_binary_fields_round_trips() {
        let upload = Upload {
            name: "photo.png".into(),
            size: u64::MAX,
            data: Blob(vec![1, 2, 3]),
            thumbs: vec![Blob(vec![]), Blob(vec![0xff])],
            raw: vec![9, 8],
            meta: Some(BTreeMap::from([("w".to_owned(), -640)])),
            kind: Kind::Rich { level: -3 },
        };
        let v = to_value(&upload).unwrap();
        assert_eq!(
            v.get("data"),
            Some(&Value::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(
            v.get("thumbs").unwrap().as_array().unwrap()[1],
            Value::from(vec![0xffu8])
        );
        // A plain `Vec<u8>` follows serde's model: a sequence of numbers.
        assert_eq!(v.get("raw"), Some(&json("[9,8]")));
        assert!(v.has_binary());
        assert_eq!(v.get("size").and_then(Value::as_u64), Some(u64::MAX));
        let back: Upload = from_value(v.clone()).unwrap();
        assert_eq!(back, upload);
        assert_eq!(v.deserialize_into::<Upload>().unwrap(), upload);
    }

    #[test]
    fn binary_reads_as_vec_u8_and_arrays_as_bytes() {
        let v = Value::Binary(Bytes::from_static(b"abc"));
        assert_eq!(from_value::<Vec<u8>>(v.clone()).unwrap(), b"abc");
        assert_eq!(from_value::<[u8; 3]>(v.clone()).unwrap(), *b"abc");
        assert_eq!(from_value::<Blob>(v).unwrap(), Blob(b"abc".to_vec()));
        // Serde's byte-buffer visitors also accept a sequence; ours does not.
        assert!(from_value::<Blob>(json("[1,2]")).is_err());
        assert!(from_value::<[u8; 2]>(Value::from(vec![1u8, 2, 3])).is_err());
    }

    #[test]
    fn enums_are_externally_tagged() {
        for (kind, text) in [
            (Kind::Plain, r#""Plain""#),
            (Kind::Tagged("x".into()), r#"{"Tagged":"x"}"#),
            (Kind::Pair(7, true), r#"{"Pair":[7,true]}"#),
            (Kind::Rich { level: 1 }, r#"{"Rich":{"level":1}}"#),
        ] {
            let v = to_value(&kind).unwrap();
            assert_eq!(v, json(text));
            assert_eq!(from_value::<Kind>(v).unwrap(), kind);
        }
        assert!(from_value::<Kind>(json(r#"{"Plain":1}"#)).is_err());
        assert!(from_value::<Kind>(json(r#"{"Tagged":"x","Pair":[1,true]}"#)).is_err());
        assert!(from_value::<Kind>(json(r#""Nope""#)).is_err());
        assert!(from_value::<Kind>(json("3")).is_err());
    }

    #[test]
    fn number_edge_cases() {
        assert_eq!(to_value(&u64::MAX).unwrap().as_u64(), Some(u64::MAX));
        assert_eq!(to_value(&i64::MIN).unwrap().as_i64(), Some(i64::MIN));
        assert_eq!(to_value(&-1i8).unwrap().as_i64(), Some(-1));
        assert_eq!(to_value(&1.5f32).unwrap().as_f64(), Some(1.5));
        assert_eq!(to_value(&f64::NAN).unwrap(), Value::Null);
        assert_eq!(to_value(&f64::INFINITY).unwrap(), Value::Null);
        assert_eq!(
            to_value(&(u64::MAX as u128)).unwrap().as_u64(),
            Some(u64::MAX)
        );
        assert_eq!(to_value(&(-5i128)).unwrap().as_i64(), Some(-5));
        assert!(matches!(
            to_value(&(u128::MAX)),
            Err(ValueError::IntegerOutOfRange(_))
        ));
        assert!(matches!(
            to_value(&i128::MIN),
            Err(ValueError::IntegerOutOfRange(_))
        ));

        assert_eq!(from_value::<u64>(Value::from(u64::MAX)).unwrap(), u64::MAX);
        assert_eq!(from_value::<i64>(Value::from(i64::MIN)).unwrap(), i64::MIN);
        assert_eq!(from_value::<f64>(Value::from(3)).unwrap(), 3.0);
        assert_eq!(from_value::<f32>(Value::from(0.25)).unwrap(), 0.25);
        assert!(from_value::<u8>(Value::from(256)).is_err());
        assert!(from_value::<u32>(Value::from(-1)).is_err());
        assert!(from_value::<i64>(Value::from(u64::MAX)).is_err());
        assert!(from_value::<u64>(Value::from(1.5)).is_err());
        assert_eq!(json("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(json("-9223372036854775808").as_i64(), Some(i64::MIN));
        // Beyond 64 bits JSON numbers become floats, as in JavaScript.
        assert_eq!(
            json("18446744073709551616").as_f64(),
            Some(18446744073709551616.0)
        );
        assert_eq!(Value::from(-0.5).as_f64(), Some(-0.5));
        assert_eq!(Value::from(f64::NEG_INFINITY), Value::Null);
        assert_eq!(Value::from(7u32).as_u64(), Some(7));
        assert_eq!(Value::from(7usize).as_i64(), Some(7));
        assert_eq!(Value::from(-7i32).as_u64(), None);
    }

    #[test]
    fn typed_containers() {
        let v = json(r#"{"1":"a","20":"b"}"#);
        let m: HashMap<u32, String> = from_value(v.clone()).unwrap();
        assert_eq!(m[&20], "b");
        let m: BTreeMap<u32, String> = from_value(v).unwrap();
        assert_eq!(to_value(&m).unwrap(), json(r#"{"1":"a","20":"b"}"#));
        assert_eq!(
            to_value(&HashMap::from([(true, 1)])).unwrap(),
            json(r#"{"true":1}"#)
        );
        assert_eq!(
            to_value(&BTreeMap::from([('c', 1)])).unwrap(),
            json(r#"{"c":1}"#)
        );
        assert!(matches!(
            to_value(&HashMap::from([((1, 2), 3)])),
            Err(ValueError::InvalidKey(_))
        ));
        let t: (u8, String, Option<bool>, ()) = from_value(json(r#"[1,"x",null,null]"#)).unwrap();
        assert_eq!(t, (1, "x".into(), None, ()));
        assert!(from_value::<(u8, u8)>(json("[1,2,3]")).is_err());
        assert_eq!(to_value(&(1, "x")).unwrap(), json(r#"[1,"x"]"#));
        assert_eq!(to_value(&Some(())).unwrap(), Value::Null);
        assert_eq!(
            from_value::<Value>(json(r#"{"a":[1]}"#)).unwrap(),
            json(r#"{"a":[1]}"#)
        );
        let b = Value::Binary(Bytes::from_static(&[1]));
        assert_eq!(from_value::<Value>(b.clone()).unwrap(), b);
        assert_eq!(to_value(&b).unwrap(), b);
        assert_eq!(
            from_value::<serde_json::Value>(json(r#"{"a":[1,"x"]}"#)).unwrap(),
            serde_json::json!({"a": [1, "x"]})
        );
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        a: u8,
        #[serde(default)]
        b: Option<String>,
    }

    #[test]
    fn typed_errors_are_reported() {
        assert!(from_value::<Strict>(json(r#"{"b":"x"}"#)).is_err());
        assert!(from_value::<Strict>(json(r#"{"a":1,"c":2}"#)).is_err());
        assert_eq!(
            from_value::<Strict>(json(r#"{"a":1}"#)).unwrap(),
            Strict { a: 1, b: None }
        );
        assert_eq!(
            from_value::<Strict>(json("[2]")).unwrap(),
            Strict { a: 2, b: None }
        );
        let err = from_value::<String>(json("1")).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn msgpack_via_serde_gives_binary_and_stringified_keys() {
        // bin 8 [5] → Binary; {1: true, nil: 2} → {"1": true, "null": 2}
        let v: Value = rmp_serde::from_slice(&[0xc4, 0x01, 0x05]).unwrap();
        assert_eq!(v, Value::Binary(Bytes::from_static(&[5])));
        let v: Value = rmp_serde::from_slice(&[0x82, 0x01, 0xc3, 0xc0, 0x02]).unwrap();
        assert_eq!(v, json(r#"{"1":true,"null":2}"#));
        assert!(rmp_serde::from_slice::<Value>(&[0x81, 0x90, 0x01]).is_err());
        let bytes = rmp_serde::to_vec(&Value::Binary(Bytes::from_static(&[7]))).unwrap();
        assert_eq!(bytes, [0xc4, 0x01, 0x07]);
    }

    #[test]
    fn conveniences() {
        let mut v = json(r#"{"s":"x","b":true,"n":-2,"f":2.5,"a":[1],"o":{"k":null}}"#);
        assert_eq!(v.get("s").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("b").and_then(Value::as_bool), Some(true));
        assert_eq!(v.get("n").and_then(Value::as_i64), Some(-2));
        assert_eq!(v.get("n").and_then(Value::as_u64), None);
        assert_eq!(v.get("f").and_then(Value::as_f64), Some(2.5));
        assert_eq!(
            v.get("o").and_then(|o| o.get("k")).map(Value::is_null),
            Some(true)
        );
        assert_eq!(v.get("missing"), None);
        assert_eq!(Value::from("x").get("s"), None);
        assert!(!v.has_binary());
        v.as_object_mut().unwrap()["o"].as_object_mut().unwrap()["k"] =
            Bytes::from_static(b"z").into();
        assert!(v.has_binary());
        v.as_object_mut().unwrap()["a"]
            .as_array_mut()
            .unwrap()
            .push(Value::from(vec![0u8]));
        assert_eq!(v.get("a").unwrap().as_array().unwrap().len(), 2);
        let taken = v.get("a").cloned().map(|mut a| a.take());
        assert!(taken.is_some());

        assert_eq!(Value::from(String::from("s")), Value::String("s".into()));
        assert_eq!(Value::from(Some(1)), Value::from(1));
        assert_eq!(Value::from(None::<i32>), Value::Null);
        assert_eq!(Value::from(vec![Value::Null]), json("[null]"));
        assert_eq!(Value::from(Map::new()), json("{}"));
        let collected: Value = vec![("a", Value::from(1))].into_iter().collect();
        assert_eq!(collected, json(r#"{"a":1}"#));
        assert_eq!(
            Value::from(serde_json::json!({"x": [1, null]})),
            json(r#"{"x":[1,null]}"#)
        );

        // Binary as JSON: an array of byte values.
        let with_bin = Value::Array(vec![Bytes::from_static(&[1, 255]).into(), "é".into()]);
        assert_eq!(
            serde_json::Value::from(with_bin.clone()),
            serde_json::json!([[1, 255], "é"])
        );
        assert_eq!(with_bin.to_string(), r#"[[1,255],"é"]"#);
        assert_eq!(format!("{:#}", json("[1]")), "[\n  1\n]");
    }
}
