//! The default parser's text packets: `<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]`.
//!
//! The namespace `/` is omitted; other namespaces are followed by `,`. Binary data in
//! event and ack arguments turns the packet into BINARY_EVENT / BINARY_ACK, with
//! numbered placeholders in the JSON and the data in the binary messages that follow.

use std::iter;

use bytes::Bytes;
use sockeye_engine::{Message, Outgoing};

use super::attachments::Pending;
use super::json::{self, AckPayload, EventPayload};
use super::validate::{self, MAX_SAFE_INTEGER};
use super::{DecodeLimits, ParseError};
use crate::{Map, Packet, PacketData, ProtocolRevision, Value};

#[cfg(test)]
mod tests;

/// Packet type digits.
const CONNECT: u8 = 0;
const DISCONNECT: u8 = 1;
const EVENT: u8 = 2;
const ACK: u8 = 3;
const CONNECT_ERROR: u8 = 4;
const BINARY_EVENT: u8 = 5;
const BINARY_ACK: u8 = 6;

/// Longest ack id accepted, in digits: 2^53 - 1 has 16.
const MAX_ACK_ID_DIGITS: usize = 16;

pub(super) fn encode(rev: ProtocolRevision, packet: &Packet) -> Outgoing {
    match &packet.data {
        PacketData::Connect(data) => {
            // v4 clients expect no payload; v5 clients get `{"sid": …}`.
            let data = match rev {
                ProtocolRevision::V5 => data.as_ref(),
                ProtocolRevision::V4 => None,
            };
            Outgoing::One(plain(CONNECT, packet, data))
        }
        PacketData::Disconnect => Outgoing::One(plain(DISCONNECT, packet, None)),
        PacketData::ConnectError(value) => {
            // Written as given: the server decides the form each revision gets.
            Outgoing::One(plain(CONNECT_ERROR, packet, Some(value)))
        }
        PacketData::Event { name, args } => {
            let attachments = binaries(args);
            let packet_type = if attachments.is_empty() {
                EVENT
            } else {
                BINARY_EVENT
            };
            let bound = 2 + json::str_bound(name) + args_bound(args);
            let text = frame(packet_type, attachments.len(), packet, bound, |buf| {
                json::write_json(buf, &EventPayload { name, args })
            });
            with_attachments(text, attachments)
        }
        PacketData::Ack(args) => {
            let attachments = binaries(args);
            let packet_type = if attachments.is_empty() {
                ACK
            } else {
                BINARY_ACK
            };
            let bound = 2 + args_bound(args);
            let text = frame(packet_type, attachments.len(), packet, bound, |buf| {
                json::write_json(buf, &AckPayload(args))
            });
            with_attachments(text, attachments)
        }
    }
}

/// A packet without attachments; binary data in its payload (not expected there)
/// is written as arrays of byte values.
fn plain(packet_type: u8, packet: &Packet, payload: Option<&Value>) -> Message {
    let bound = payload.map_or(0, |p| json::len_bound(p, false));
    frame(packet_type, 0, packet, bound, |buf| {
        if let Some(payload) = payload {
            json::write_json(buf, payload);
        }
    })
}

fn binaries(args: &[Value]) -> Vec<Bytes> {
    let mut out = Vec::new();
    for arg in args {
        json::collect_binaries(arg, &mut out);
    }
    out
}

/// Bound of the arguments' JSON, each with its separating comma.
fn args_bound(args: &[Value]) -> usize {
    args.iter().map(|a| 1 + json::len_bound(a, true)).sum()
}

/// Writes the whole Engine.IO message (`4`, header, payload) into one buffer of
/// `payload_bound` plus the header's length, so it is never reallocated.
fn frame(
    packet_type: u8,
    attachments: usize,
    packet: &Packet,
    payload_bound: usize,
    write_payload: impl FnOnce(&mut Vec<u8>),
) -> Message {
    let nsp = (!packet.nsp.is_empty() && packet.nsp != "/").then_some(packet.nsp.as_str());
    let capacity =
        2 + if attachments > 0 {
            json::decimal_len(attachments as u64) + 1
        } else {
            0
        } + nsp.map_or(0, |n| n.len() + 1)
            + packet.id.map_or(0, json::decimal_len)
            + payload_bound;
    // A Vec rather than a BytesMut: serde_json writes in many small pieces, which a
    // Vec takes with less work; it becomes the shared buffer without a copy.
    let mut buf = Vec::with_capacity(capacity);
    buf.push(b'4');
    buf.push(b'0' + packet_type);
    if attachments > 0 {
        put_decimal(&mut buf, attachments as u64);
        buf.push(b'-');
    }
    if let Some(nsp) = nsp {
        buf.extend_from_slice(nsp.as_bytes());
        buf.push(b',');
    }
    if let Some(id) = packet.id {
        put_decimal(&mut buf, id);
    }
    write_payload(&mut buf);
    debug_assert!(
        buf.len() <= capacity,
        "frame bound {capacity} < {}",
        buf.len()
    );
    Message::from_text_packet(Bytes::from(buf))
}

fn put_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

/// The text message followed by its attachments, in one group so no other message
/// can come between them.
fn with_attachments(text: Message, attachments: Vec<Bytes>) -> Outgoing {
    if attachments.is_empty() {
        Outgoing::One(text)
    } else {
        Outgoing::Group(
            iter::once(text)
                .chain(attachments.into_iter().map(Message::Binary))
                .collect(),
        )
    }
}

/// A decoded text message: a whole packet, or a binary packet waiting for its
/// attachments.
#[derive(Debug)]
pub(super) enum Decoded {
    Complete(Packet),
    Partial(Pending),
}

/// The parts of a text packet before its JSON payload.
#[derive(Debug, PartialEq)]
struct Header<'a> {
    packet_type: u8,
    attachments: usize,
    nsp: &'a str,
    id: Option<u64>,
    payload: Option<&'a str>,
}

pub(super) fn decode(
    text: &str,
    rev: ProtocolRevision,
    limits: &DecodeLimits,
) -> Result<Decoded, ParseError> {
    let header = parse_header(text, limits)?;
    let name = validate::type_name(header.packet_type);
    let mut nsp = header.nsp;
    let data = match header.packet_type {
        CONNECT => {
            // socket.io-client 2.x appends the handshake query to the namespace it
            // connects to; a socket.io 4 server hands it to the app as auth data.
            let mut query = None;
            if rev == ProtocolRevision::V4 {
                if let Some((path, q)) = nsp.split_once('?') {
                    nsp = if path.is_empty() { "/" } else { path };
                    query = Some(q);
                }
            }
            // A JSON payload (never sent by 2.x clients) takes precedence over the query.
            match (header.payload, query) {
                (Some(payload), _) => {
                    PacketData::Connect(Some(validate::connect_payload(parse_json(payload)?)?))
                }
                (None, Some(query)) => PacketData::Connect(Some(parse_query(query))),
                (None, None) => PacketData::Connect(None),
            }
        }
        DISCONNECT => match header.payload {
            None => PacketData::Disconnect,
            Some(_) => {
                return Err(ParseError::InvalidPayload {
                    packet: name,
                    reason: "DISCONNECT carries no payload",
                })
            }
        },
        EVENT | BINARY_EVENT => {
            let payload = parse_json(required(name, header.payload)?)?;
            let (event, args) = validate::split_event(name, payload, limits)?;
            PacketData::Event { name: event, args }
        }
        ACK | BINARY_ACK => {
            if header.id.is_none() {
                return Err(ParseError::InvalidAckId("missing in ACK packet".into()));
            }
            let payload = parse_json(required(name, header.payload)?)?;
            PacketData::Ack(validate::ack_args(name, payload)?)
        }
        CONNECT_ERROR => return Err(ParseError::UnexpectedPacketType(name)),
        other => return Err(ParseError::InvalidPacketType(other.to_string())),
    };
    let packet = Packet {
        nsp: nsp.to_owned(),
        id: header.id,
        data,
    };
    Ok(if header.attachments > 0 {
        Decoded::Partial(Pending::new(packet, header.attachments))
    } else {
        Decoded::Complete(packet)
    })
}

fn required<'a>(packet: &'static str, payload: Option<&'a str>) -> Result<&'a str, ParseError> {
    payload.ok_or(ParseError::InvalidPayload {
        packet,
        reason: "missing payload",
    })
}

/// serde_json refuses nesting deeper than 128 levels with an error, so a flood of
/// `[` cannot overflow the stack here or in the code that walks the value later.
fn parse_json(payload: &str) -> Result<Value, ParseError> {
    Ok(serde_json::from_str(payload)?)
}

/// A short, printable excerpt of client input for error messages.
fn excerpt(text: &str, start: usize) -> String {
    text.get(start..)
        .unwrap_or_default()
        .chars()
        .take(24)
        .collect()
}

fn leading_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Reads the header the way socket.io-parser 4.x does, but stricter where it is
/// loose: the type must be a digit (it reads `""` and `" "` as type 0), the
/// attachment count and ack id must be plain ASCII digits (it accepts `1e1` or a
/// space through `Number()`), and the ack id must be an exact JavaScript integer.
fn parse_header<'a>(text: &'a str, limits: &DecodeLimits) -> Result<Header<'a>, ParseError> {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(ParseError::Empty);
    };
    if !(b'0'..=b'6').contains(&first) {
        return Err(ParseError::InvalidPacketType(format!(
            "{:?}",
            excerpt(text, 0)
        )));
    }
    let packet_type = first - b'0';
    let mut pos = 1;

    let mut attachments = 0;
    if packet_type == BINARY_EVENT || packet_type == BINARY_ACK {
        let digits = leading_digits(&bytes[pos..]);
        let end = pos + digits;
        if digits == 0 || bytes.get(end) != Some(&b'-') {
            return Err(ParseError::InvalidAttachmentCount(excerpt(text, pos)));
        }
        // All digits: parsing fails only on overflow, which is "too many" anyway.
        let count = text
            .get(pos..end)
            .and_then(|d| d.parse::<usize>().ok())
            .unwrap_or(usize::MAX);
        if count == 0 {
            return Err(ParseError::InvalidAttachmentCount(excerpt(text, pos)));
        }
        if count > limits.max_attachments {
            return Err(ParseError::TooManyAttachments {
                count,
                max: limits.max_attachments,
            });
        }
        attachments = count;
        pos = end + 1;
    }

    let mut nsp = "/";
    if bytes.get(pos) == Some(&b'/') {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b',')
            .map_or(bytes.len(), |i| pos + i);
        nsp = text.get(pos..end).ok_or(ParseError::InvalidUtf8)?;
        pos = (end + 1).min(bytes.len());
    }

    let digits = leading_digits(&bytes[pos..]);
    let mut id = None;
    if digits > 0 {
        let end = pos + digits;
        let parsed = text
            .get(pos..end)
            .filter(|_| digits <= MAX_ACK_ID_DIGITS)
            .and_then(|d| d.parse::<u64>().ok())
            .filter(|&n| n <= MAX_SAFE_INTEGER);
        match parsed {
            Some(n) => id = Some(n),
            None => {
                return Err(ParseError::InvalidAckId(format!(
                    "{:?} is not an integer below 2^53",
                    excerpt(text, pos)
                )))
            }
        }
        pos = end;
    }

    let payload = text.get(pos..).filter(|p| !p.is_empty());
    Ok(Header {
        packet_type,
        attachments,
        nsp,
        id,
        payload,
    })
}

/// Parses a URL query string (`a=1&b=x%20y`) into an object of strings, as Node's
/// `querystring.parse` does: `+` is a space, a repeated key collects its values in
/// an array, invalid percent escapes stay as they are.
fn parse_query(query: &str) -> Value {
    let mut map = Map::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (percent_decode(key), Value::String(percent_decode(value)));
        match map.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(key, value);
            }
        }
    }
    Value::Object(map)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|&c| (c as char).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
