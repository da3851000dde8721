//! msgpack output with notepack.io's choices of format, so our bytes equal the
//! reference encoder's: the smallest int format for integers (including integral
//! floats, which JavaScript cannot tell from integers), float 64 for other numbers
//! (deviation: integral floats outside the 64-bit integer range are float 64 too, where
//! notepack.io writes a uint 64 wrapped modulo 2^64, corrupting the value),
//! `str 8` for strings of 32 to 255 bytes, `bin` for binary data.
//!
//! Every writer has a `*_len` twin giving its exact size, so the packet buffer is
//! allocated once at the right size. Lengths above 2^32 - 1 cannot be represented in
//! msgpack; Engine.IO message limits keep packets far below that.

use bytes::{BufMut, BytesMut};
use serde_json::Number;

use crate::Value;

/// A number as notepack.io would see it.
enum Num {
    Unsigned(u64),
    Negative(i64),
    Float(f64),
}

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

fn classify(n: &Number) -> Num {
    if let Some(u) = n.as_u64() {
        return Num::Unsigned(u);
    }
    if let Some(i) = n.as_i64() {
        return Num::Negative(i);
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() == 0.0 && (0.0..TWO_POW_64).contains(&f) {
        Num::Unsigned(f as u64)
    } else if f.fract() == 0.0 && (-TWO_POW_63..0.0).contains(&f) {
        Num::Negative(f as i64)
    } else {
        Num::Float(f)
    }
}

pub(super) fn value_len(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) => match classify(n) {
            Num::Unsigned(u) => uint_len(u),
            Num::Negative(i) => int_len(i),
            Num::Float(_) => 9,
        },
        Value::String(s) => str_len(s),
        Value::Binary(b) => bin_header_len(b.len()) + b.len(),
        Value::Array(items) => {
            array_header_len(items.len()) + items.iter().map(value_len).sum::<usize>()
        }
        Value::Object(map) => {
            map_header_len(map.len())
                + map
                    .iter()
                    .map(|(k, v)| str_len(k) + value_len(v))
                    .sum::<usize>()
        }
    }
}

pub(super) fn value(buf: &mut BytesMut, v: &Value) {
    match v {
        Value::Null => buf.put_u8(0xc0),
        Value::Bool(false) => buf.put_u8(0xc2),
        Value::Bool(true) => buf.put_u8(0xc3),
        Value::Number(n) => match classify(n) {
            Num::Unsigned(u) => uint(buf, u),
            Num::Negative(i) => int(buf, i),
            Num::Float(f) => {
                buf.put_u8(0xcb);
                buf.put_f64(f);
            }
        },
        Value::String(s) => str(buf, s),
        Value::Binary(b) => {
            let len = b.len();
            if len < 0x100 {
                buf.put_u8(0xc4);
                buf.put_u8(len as u8);
            } else if len < 0x1_0000 {
                buf.put_u8(0xc5);
                buf.put_u16(len as u16);
            } else {
                buf.put_u8(0xc6);
                buf.put_u32(len as u32);
            }
            buf.put_slice(b);
        }
        Value::Array(items) => {
            array_header(buf, items.len());
            items.iter().for_each(|item| value(buf, item));
        }
        Value::Object(map) => {
            map_header(buf, map.len());
            for (key, item) in map {
                str(buf, key);
                value(buf, item);
            }
        }
    }
}

pub(super) fn uint_len(u: u64) -> usize {
    match u {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

pub(super) fn uint(buf: &mut BytesMut, u: u64) {
    match u {
        0..=0x7f => buf.put_u8(u as u8),
        0x80..=0xff => {
            buf.put_u8(0xcc);
            buf.put_u8(u as u8);
        }
        0x100..=0xffff => {
            buf.put_u8(0xcd);
            buf.put_u16(u as u16);
        }
        0x1_0000..=0xffff_ffff => {
            buf.put_u8(0xce);
            buf.put_u32(u as u32);
        }
        _ => {
            buf.put_u8(0xcf);
            buf.put_u64(u);
        }
    }
}

/// Negative integers only (non-negative ones use [`uint`], as notepack.io does).
fn int_len(i: i64) -> usize {
    match i {
        -0x20..=-1 => 1,
        -0x80..=-0x21 => 2,
        -0x8000..=-0x81 => 3,
        -0x8000_0000..=-0x8001 => 5,
        _ => 9,
    }
}

fn int(buf: &mut BytesMut, i: i64) {
    match i {
        -0x20..=-1 => buf.put_i8(i as i8),
        -0x80..=-0x21 => {
            buf.put_u8(0xd0);
            buf.put_i8(i as i8);
        }
        -0x8000..=-0x81 => {
            buf.put_u8(0xd1);
            buf.put_i16(i as i16);
        }
        -0x8000_0000..=-0x8001 => {
            buf.put_u8(0xd2);
            buf.put_i32(i as i32);
        }
        _ => {
            buf.put_u8(0xd3);
            buf.put_i64(i);
        }
    }
}

pub(super) fn str_len(s: &str) -> usize {
    let len = s.len();
    len + match len {
        0..=0x1f => 1,
        0x20..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

pub(super) fn str(buf: &mut BytesMut, s: &str) {
    let len = s.len();
    match len {
        0..=0x1f => buf.put_u8(0xa0 | len as u8),
        0x20..=0xff => {
            buf.put_u8(0xd9);
            buf.put_u8(len as u8);
        }
        0x100..=0xffff => {
            buf.put_u8(0xda);
            buf.put_u16(len as u16);
        }
        _ => {
            buf.put_u8(0xdb);
            buf.put_u32(len as u32);
        }
    }
    buf.put_slice(s.as_bytes());
}

fn bin_header_len(len: usize) -> usize {
    match len {
        0..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

pub(super) fn array_header_len(len: usize) -> usize {
    match len {
        0..=0xf => 1,
        0x10..=0xffff => 3,
        _ => 5,
    }
}

pub(super) fn array_header(buf: &mut BytesMut, len: usize) {
    match len {
        0..=0xf => buf.put_u8(0x90 | len as u8),
        0x10..=0xffff => {
            buf.put_u8(0xdc);
            buf.put_u16(len as u16);
        }
        _ => {
            buf.put_u8(0xdd);
            buf.put_u32(len as u32);
        }
    }
}

pub(super) fn map_header_len(len: usize) -> usize {
    array_header_len(len)
}

pub(super) fn map_header(buf: &mut BytesMut, len: usize) {
    match len {
        0..=0xf => buf.put_u8(0x80 | len as u8),
        0x10..=0xffff => {
            buf.put_u8(0xde);
            buf.put_u16(len as u16);
        }
        _ => {
            buf.put_u8(0xdf);
            buf.put_u32(len as u32);
        }
    }
}
