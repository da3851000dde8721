//! A msgpack reader that accepts what notepack.io's decoder accepts and maps it to
//! [`Value`]s, with bounds checks on every read and a nesting limit.
//!
//! JavaScript-specific values notepack.io produces are mapped as follows:
//! - `undefined` (fixext 1, type 0): an absent packet field; `Null` inside data.
//! - `ArrayBuffer` (ext 8/16/32, type 0) and `bin`: [`Value::Binary`], sharing the
//!   input buffer (no copy).
//! - `Date` (fixext 8, type 0): the ISO 8601 string `JSON.stringify` would produce
//!   (so the default and msgpack parsers deliver the same value); `Null` for dates
//!   outside JavaScript's range, like an invalid `Date` in JSON.
//! - other ext types: `[type, <binary data>]`, as notepack.io returns them.
//! - NaN and infinite floats: `Null` (what JSON makes of them).
//! - strings with invalid UTF-8: decoded lossily, as Node's `Buffer#toString` does.
//! - map keys: strings; numbers, bools, nil and undefined are turned into strings as
//!   JavaScript property keys; arrays, maps and binary keys are rejected.
//! - 64-bit integers: kept exact (JavaScript would round them to a double).

use bytes::Bytes;

use super::super::jsnum;
use super::super::MsgPackError;
use crate::{Map, Value};

/// Deepest nesting of arrays and maps, the same as serde_json's JSON limit.
pub(super) const MAX_DEPTH: usize = 128;

/// The fields of a packet map that matter; `None` when absent or `undefined`.
#[derive(Debug, Default)]
pub(super) struct Fields {
    pub packet_type: Option<Value>,
    pub nsp: Option<Value>,
    pub data: Option<Value>,
    pub id: Option<Value>,
}

/// Reads a whole message as a packet map. Other keys are read (they must be valid
/// msgpack) and ignored; a repeated key keeps its last value.
pub(super) fn packet(input: &Bytes) -> Result<Fields, MsgPackError> {
    let mut reader = Reader { input, pos: 0 };
    let len = match reader.byte()? {
        marker @ 0x80..=0x8f => usize::from(marker & 0x0f),
        0xde => usize::from(reader.u16()?),
        0xdf => reader.u32()? as usize,
        _ => return Err(MsgPackError::NotAMap),
    };
    let mut fields = Fields::default();
    for _ in 0..len {
        let key = reader.key(1)?;
        let value = reader.read(1)?;
        match key.as_str() {
            "type" => fields.packet_type = value,
            "nsp" => fields.nsp = value,
            "data" => fields.data = value,
            "id" => fields.id = value,
            _ => {}
        }
    }
    let count = input.len() - reader.pos;
    if count > 0 {
        return Err(MsgPackError::TrailingBytes { count });
    }
    Ok(fields)
}

struct Reader<'a> {
    input: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], MsgPackError> {
        let eof = || MsgPackError::UnexpectedEof {
            offset: self.input.len(),
        };
        let end = self.pos.checked_add(n).ok_or_else(eof)?;
        let bytes = self.input.get(self.pos..end).ok_or_else(eof)?;
        self.pos = end;
        Ok(bytes)
    }

    /// `n` bytes as a slice of the input (a reference count, not a copy).
    fn slice(&mut self, n: usize) -> Result<Bytes, MsgPackError> {
        let start = self.pos;
        self.take(n)?;
        Ok(self.input.slice(start..self.pos))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MsgPackError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, MsgPackError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, MsgPackError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, MsgPackError> {
        self.array().map(u32::from_be_bytes)
    }

    fn ext_type(&mut self) -> Result<i8, MsgPackError> {
        self.array().map(i8::from_be_bytes)
    }

    /// A map key, stringified as JavaScript does.
    fn key(&mut self, depth: usize) -> Result<String, MsgPackError> {
        let offset = self.pos;
        Ok(match self.read(depth)? {
            None => "undefined".to_owned(),
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) => jsnum::number_to_js_string(&n),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Null) => "null".to_owned(),
            Some(_) => return Err(MsgPackError::InvalidKey { offset }),
        })
    }

    /// One value; `None` for `undefined`.
    fn read(&mut self, depth: usize) -> Result<Option<Value>, MsgPackError> {
        let offset = self.pos;
        let marker = self.byte()?;
        let value = match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.seq(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => self.string(usize::from(marker & 0x1f))?,
            0xc0 => Value::Null,
            0xc1 => {
                return Err(MsgPackError::InvalidMarker {
                    byte: marker,
                    offset,
                })
            }
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let len = self.byte()?;
                Value::Binary(self.slice(usize::from(len))?)
            }
            0xc5 => {
                let len = self.u16()?;
                Value::Binary(self.slice(usize::from(len))?)
            }
            0xc6 => {
                let len = self.u32()?;
                Value::Binary(self.slice(len as usize)?)
            }
            0xc7 => {
                let len = self.byte()?;
                self.ext(usize::from(len))?
            }
            0xc8 => {
                let len = self.u16()?;
                self.ext(usize::from(len))?
            }
            0xc9 => {
                let len = self.u32()?;
                self.ext(len as usize)?
            }
            0xca => Value::from(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => Value::from(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(self.byte()?),
            0xcd => Value::from(self.u16()?),
            0xce => Value::from(self.u32()?),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(i8::from_be_bytes(self.array()?)),
            0xd1 => Value::from(i16::from_be_bytes(self.array()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.array()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4 => {
                let ext_type = self.ext_type()?;
                if ext_type == 0 {
                    self.take(1)?;
                    return Ok(None);
                }
                self.ext_pair(ext_type, 1)?
            }
            0xd5 => {
                let ext_type = self.ext_type()?;
                self.ext_pair(ext_type, 2)?
            }
            0xd6 => {
                let ext_type = self.ext_type()?;
                self.ext_pair(ext_type, 4)?
            }
            0xd7 => {
                let ext_type = self.ext_type()?;
                if ext_type == 0 {
                    let millis = i64::from_be_bytes(self.array()?);
                    date_to_iso(millis).map_or(Value::Null, Value::String)
                } else {
                    self.ext_pair(ext_type, 8)?
                }
            }
            0xd8 => {
                let ext_type = self.ext_type()?;
                self.ext_pair(ext_type, 16)?
            }
            0xd9 => {
                let len = self.byte()?;
                self.string(usize::from(len))?
            }
            0xda => {
                let len = self.u16()?;
                self.string(usize::from(len))?
            }
            0xdb => {
                let len = self.u32()?;
                self.string(len as usize)?
            }
            0xdc => {
                let len = self.u16()?;
                self.seq(usize::from(len), depth)?
            }
            0xdd => {
                let len = self.u32()?;
                self.seq(len as usize, depth)?
            }
            0xde => {
                let len = self.u16()?;
                self.map(usize::from(len), depth)?
            }
            0xdf => {
                let len = self.u32()?;
                self.map(len as usize, depth)?
            }
            0xe0..=0xff => Value::from(marker as i8),
        };
        Ok(Some(value))
    }

    fn string(&mut self, len: usize) -> Result<Value, MsgPackError> {
        let bytes = self.take(len)?;
        Ok(Value::String(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// ext 8/16/32: type 0 is an `ArrayBuffer`.
    fn ext(&mut self, len: usize) -> Result<Value, MsgPackError> {
        let ext_type = self.ext_type()?;
        if ext_type == 0 {
            Ok(Value::Binary(self.slice(len)?))
        } else {
            self.ext_pair(ext_type, len)
        }
    }

    fn ext_pair(&mut self, ext_type: i8, len: usize) -> Result<Value, MsgPackError> {
        let data = self.slice(len)?;
        Ok(Value::Array(vec![
            Value::from(ext_type),
            Value::Binary(data),
        ]))
    }

    fn seq(&mut self, len: usize, depth: usize) -> Result<Value, MsgPackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgPackError::TooDeep { max: MAX_DEPTH });
        }
        // Every element takes at least one byte: a lying length cannot make us
        // reserve more than the input's size.
        let mut items = Vec::with_capacity(len.min(self.remaining()));
        for _ in 0..len {
            items.push(self.read(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, MsgPackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgPackError::TooDeep { max: MAX_DEPTH });
        }
        let mut map =
            Map::with_capacity_and_hasher(len.min(self.remaining() / 2), Default::default());
        for _ in 0..len {
            let key = self.key(depth + 1)?;
            let value = self.read(depth + 1)?.unwrap_or(Value::Null);
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Milliseconds either side of the epoch a JavaScript `Date` can hold.
const MAX_DATE_MILLIS: i64 = 8_640_000_000_000_000;

/// `Date.prototype.toISOString` (`2024-05-01T12:00:00.000Z`; six-digit signed years
/// outside 0..=9999), or `None` for an out-of-range (invalid) date.
fn date_to_iso(millis: i64) -> Option<String> {
    if !(-MAX_DATE_MILLIS..=MAX_DATE_MILLIS).contains(&millis) {
        return None;
    }
    const DAY: i64 = 86_400_000;
    let (days, time) = (millis.div_euclid(DAY), millis.rem_euclid(DAY));
    let (year, month, day) = civil_date(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!(
            "{}{:06}",
            if year < 0 { '-' } else { '+' },
            year.unsigned_abs()
        )
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        time / 3_600_000,
        time / 60_000 % 60,
        time / 1000 % 60,
        time % 1000
    ))
}

/// The proleptic Gregorian date `days` after 1970-01-01, computed in 400-year cycles
/// (146 097 days each) of years starting on March 1st, so leap days fall at the end.
fn civil_date(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let cycle = shifted.div_euclid(146_097);
    let day_of_cycle = shifted.rem_euclid(146_097);
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings from node: `new Date(ms).toISOString()`.
    #[test]
    fn dates_match_javascript() {
        let cases: &[(i64, &str)] = &[
            (0, "1970-01-01T00:00:00.000Z"),
            (1_714_564_800_123, "2024-05-01T12:00:00.123Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-62_198_755_200_000, "-000001-01-01T00:00:00.000Z"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
            (MAX_DATE_MILLIS, "+275760-09-13T00:00:00.000Z"),
            (-MAX_DATE_MILLIS, "-271821-04-20T00:00:00.000Z"),
        ];
        for &(ms, want) in cases {
            assert_eq!(date_to_iso(ms).as_deref(), Some(want), "{ms}");
        }
        assert_eq!(date_to_iso(MAX_DATE_MILLIS + 1), None);
    }
}
