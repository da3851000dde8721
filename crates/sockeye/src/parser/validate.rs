//! Rules shared by both parsers: what a client's packet may contain, and how
//! the server's CONNECT_ERROR payload is shaped for each protocol revision.

use serde_json::Number;

use super::{jsnum, DecodeLimits, ParseError};
use crate::Value;

/// Event names with a meaning of their own on the client or server side; a client
/// emitting them could fake connection lifecycle events (socket.io-parser 4.x list).
pub(super) const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Largest integer JavaScript represents exactly: ack ids above it would not survive
/// a round trip through a JavaScript client.
pub(super) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Packet type names, for error messages.
pub(super) const TYPE_NAMES: [&str; 7] = [
    "CONNECT",
    "DISCONNECT",
    "EVENT",
    "ACK",
    "CONNECT_ERROR",
    "BINARY_EVENT",
    "BINARY_ACK",
];

pub(super) fn type_name(packet_type: u8) -> &'static str {
    TYPE_NAMES
        .get(usize::from(packet_type))
        .copied()
        .unwrap_or("UNKNOWN")
}

/// Splits an event payload `[name, ...args]`. The name must be a string, or a number
/// (turned into the string JavaScript would use as the event name), not reserved,
/// and not longer than the limit.
pub(super) fn split_event(
    packet: &'static str,
    payload: Value,
    limits: &DecodeLimits,
) -> Result<(String, Vec<Value>), ParseError> {
    let Value::Array(mut items) = payload else {
        return Err(ParseError::InvalidPayload {
            packet,
            reason: "expected an array",
        });
    };
    if items.is_empty() {
        return Err(ParseError::InvalidPayload {
            packet,
            reason: "missing event name",
        });
    }
    let name = match items.remove(0) {
        Value::String(s) => s,
        Value::Number(n) => jsnum::number_to_js_string(&n),
        _ => {
            return Err(ParseError::InvalidPayload {
                packet,
                reason: "event name must be a string or a number",
            })
        }
    };
    if name.len() > limits.max_event_name_len {
        return Err(ParseError::EventNameTooLong {
            len: name.len(),
            max: limits.max_event_name_len,
        });
    }
    if RESERVED_EVENTS.contains(&name.as_str()) {
        return Err(ParseError::ReservedEventName(name));
    }
    Ok((name, items))
}

/// Ack arguments: any array.
pub(super) fn ack_args(packet: &'static str, payload: Value) -> Result<Vec<Value>, ParseError> {
    match payload {
        Value::Array(items) => Ok(items),
        _ => Err(ParseError::InvalidPayload {
            packet,
            reason: "expected an array",
        }),
    }
}

/// CONNECT auth payload: an object.
pub(super) fn connect_payload(payload: Value) -> Result<Value, ParseError> {
    match payload {
        Value::Object(_) => Ok(payload),
        _ => Err(ParseError::InvalidPayload {
            packet: "CONNECT",
            reason: "expected an object",
        }),
    }
}

/// A JSON number that is an integer (possibly written as an integral float, as a
/// JavaScript `Number.isInteger` check accepts) and fits in `u64`.
pub(super) fn integral_u64(n: &Number) -> Option<u64> {
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    let f = n.as_f64()?;
    // Floats at or above 2^64 do not fit; the cast saturates, so check first.
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}
