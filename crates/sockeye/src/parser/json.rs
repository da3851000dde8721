//! JSON payloads of the default parser, written straight into the frame buffer.
//!
//! serde_json escapes strings exactly like `JSON.stringify`; the [`JsFormatter`]
//! makes floats match too. Binary data in event and ack arguments is written as
//! `{"_placeholder":true,"num":N}`, numbered depth-first, array elements and object
//! entries in order — the same order [`collect_binaries`] gathers the attachments in.

use std::cell::Cell;
use std::io;

use bytes::Bytes;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::Serialize;
use serde_json::ser::Formatter;

use super::jsnum::JsNumber;
use crate::Value;

/// serde_json's compact output with numbers written as JavaScript writes them.
pub(super) struct JsFormatter;

impl Formatter for JsFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(JsNumber::new(value).as_str().as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// Appends `value` as JSON. Serializing our payload types cannot fail (keys are
/// strings, numbers finite, the buffer grows), so a failure is a bug: it is logged
/// and the frame is left with whatever was written.
pub(super) fn write_json<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    let mut ser = serde_json::Serializer::with_formatter(buf, JsFormatter);
    if let Err(error) = value.serialize(&mut ser) {
        debug_assert!(false, "JSON serialization failed: {error}");
        tracing::error!(%error, "JSON serialization of a packet failed");
    }
}

/// Event arguments as sent: `[name, ...args]`, binary data as placeholders.
pub(super) struct EventPayload<'a> {
    pub name: &'a str,
    pub args: &'a [Value],
}

impl Serialize for EventPayload<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let counter = Cell::new(0);
        let mut seq = serializer.serialize_seq(Some(self.args.len() + 1))?;
        seq.serialize_element(self.name)?;
        for arg in self.args {
            seq.serialize_element(&WithPlaceholders {
                value: arg,
                counter: &counter,
            })?;
        }
        seq.end()
    }
}

/// Ack arguments as sent: a JSON array, binary data as placeholders.
pub(super) struct AckPayload<'a>(pub &'a [Value]);

impl Serialize for AckPayload<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let counter = Cell::new(0);
        serializer.collect_seq(self.0.iter().map(|value| WithPlaceholders {
            value,
            counter: &counter,
        }))
    }
}

/// A value whose binary parts are written as numbered placeholders.
struct WithPlaceholders<'a> {
    value: &'a Value,
    counter: &'a Cell<usize>,
}

impl Serialize for WithPlaceholders<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wrap = |value| WithPlaceholders {
            value,
            counter: self.counter,
        };
        match self.value {
            Value::Binary(_) => {
                let num = self.counter.get();
                self.counter.set(num + 1);
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("_placeholder", &true)?;
                map.serialize_entry("num", &num)?;
                map.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(wrap)),
            Value::Object(map) => serializer.collect_map(map.iter().map(|(k, v)| (k, wrap(v)))),
            other => other.serialize(serializer),
        }
    }
}

/// Gathers the binary parts of `value` in placeholder order.
pub(super) fn collect_binaries(value: &Value, out: &mut Vec<Bytes>) {
    match value {
        Value::Binary(b) => out.push(b.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_binaries(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_binaries(v, out)),
        _ => {}
    }
}

/// Longest a placeholder can be: `{"_placeholder":true,"num":` + 20 digits + `}`.
const PLACEHOLDER_BOUND: usize = 28 + 20;
/// Longest a float can be written (see `JsNumber`).
const FLOAT_BOUND: usize = 26;

/// An upper bound of the JSON length of `value`, close to exact, so the frame buffer
/// is allocated once. `placeholders`: binary data written as placeholders (events,
/// acks) or as arrays of byte values (serde_json's default, other payloads).
pub(super) fn len_bound(value: &Value, placeholders: bool) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(_) => 5,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => decimal_len(u),
            (_, Some(i)) => 1 + decimal_len(i.unsigned_abs()),
            _ => FLOAT_BOUND,
        },
        Value::String(s) => str_bound(s),
        Value::Binary(_) if placeholders => PLACEHOLDER_BOUND,
        Value::Binary(b) => 2 + 4 * b.len(),
        Value::Array(items) => {
            2 + items.len()
                + items
                    .iter()
                    .map(|v| len_bound(v, placeholders))
                    .sum::<usize>()
        }
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| str_bound(k) + 2 + len_bound(v, placeholders))
                .sum::<usize>()
        }
    }
}

/// Quotes plus every byte, with room for its escape: `\"` and `\\` take two bytes,
/// control characters at most six (`\u001f`).
pub(super) fn str_bound(s: &str) -> usize {
    let extra: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    2 + s.len() + extra
}

/// Number of decimal digits of `n`.
pub(super) fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}
