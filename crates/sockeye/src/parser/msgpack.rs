//! The msgpack parser, wire-compatible with `socket.io-msgpack-parser` 3.x (which
//! encodes with notepack.io).
//!
//! Every packet is one binary message: a msgpack map with the keys `type`, `data`
//! (absent when there is none), `nsp` and `id` (absent when there is none). Binary
//! data is msgpack `bin` inside the payload, so there are no attachments and event
//! packets keep types 2 and 3.
//!
//! Decoding accepts what the reference decoder accepts — unknown keys are ignored
//! (socket.io-client sends an `options` key), integral floats count as integers — and
//! additionally rejects what our [`Packet`] cannot hold or should not trust: event
//! names that are not strings or numbers, reserved event names, negative or inexact
//! ack ids, ACK without an id, and CONNECT_ERROR from a client.

mod read;
mod write;

#[cfg(test)]
mod tests;

use bytes::{Bytes, BytesMut};
use sockeye_engine::{Message, Outgoing};

use super::validate::{self, integral_u64, MAX_SAFE_INTEGER};
use super::{DecodeLimits, ParseError};
use crate::{Packet, PacketData, ProtocolRevision, Value};

/// The packet's `data` as it is written.
enum Data<'a> {
    Value(&'a Value),
    Event(&'a str, &'a [Value]),
    Args(&'a [Value]),
}

impl Data<'_> {
    fn len(&self) -> usize {
        match self {
            Data::Value(v) => write::value_len(v),
            Data::Event(name, args) => {
                write::array_header_len(args.len() + 1)
                    + write::str_len(name)
                    + args.iter().map(write::value_len).sum::<usize>()
            }
            Data::Args(args) => {
                write::array_header_len(args.len())
                    + args.iter().map(write::value_len).sum::<usize>()
            }
        }
    }

    fn write(&self, buf: &mut BytesMut) {
        match self {
            Data::Value(v) => write::value(buf, v),
            Data::Event(name, args) => {
                write::array_header(buf, args.len() + 1);
                write::str(buf, name);
                args.iter().for_each(|v| write::value(buf, v));
            }
            Data::Args(args) => {
                write::array_header(buf, args.len());
                args.iter().for_each(|v| write::value(buf, v));
            }
        }
    }
}

/// Encodes into one buffer whose exact size is computed first.
pub(super) fn encode(rev: ProtocolRevision, packet: &Packet) -> Outgoing {
    let (packet_type, data) = match &packet.data {
        PacketData::Connect(data) => match rev {
            ProtocolRevision::V5 => (0, data.as_ref().map(Data::Value)),
            ProtocolRevision::V4 => (0, None),
        },
        PacketData::Disconnect => (1, None),
        PacketData::Event { name, args } => (2, Some(Data::Event(name, args))),
        PacketData::Ack(args) => (3, Some(Data::Args(args))),
        PacketData::ConnectError(value) => (4, Some(Data::Value(value))),
    };
    let nsp = if packet.nsp.is_empty() {
        "/"
    } else {
        &packet.nsp
    };
    let entries = 2 + usize::from(data.is_some()) + usize::from(packet.id.is_some());
    let len = write::map_header_len(entries)
        + write::str_len("type")
        + write::uint_len(packet_type)
        + data
            .as_ref()
            .map_or(0, |d| write::str_len("data") + d.len())
        + write::str_len("nsp")
        + write::str_len(nsp)
        + packet
            .id
            .map_or(0, |id| write::str_len("id") + write::uint_len(id));

    let mut buf = BytesMut::with_capacity(len);
    write::map_header(&mut buf, entries);
    write::str(&mut buf, "type");
    write::uint(&mut buf, packet_type);
    if let Some(data) = &data {
        write::str(&mut buf, "data");
        data.write(&mut buf);
    }
    write::str(&mut buf, "nsp");
    write::str(&mut buf, nsp);
    if let Some(id) = packet.id {
        write::str(&mut buf, "id");
        write::uint(&mut buf, id);
    }
    debug_assert_eq!(buf.len(), len);
    Outgoing::One(Message::Binary(buf.freeze()))
}

pub(super) fn decode(
    input: &Bytes,
    _rev: ProtocolRevision,
    limits: &DecodeLimits,
) -> Result<Packet, ParseError> {
    let fields = read::packet(input)?;

    let packet_type = match &fields.packet_type {
        Some(Value::Number(n)) => integral_u64(n).filter(|&t| t <= 4),
        _ => None,
    };
    let Some(packet_type) = packet_type else {
        return Err(ParseError::InvalidPacketType(describe(
            fields.packet_type.as_ref(),
        )));
    };
    let name = validate::type_name(packet_type as u8);

    let Some(Value::String(nsp)) = fields.nsp else {
        return Err(ParseError::InvalidNamespace("missing or not a string"));
    };

    let required = |data: Option<Value>| {
        data.ok_or(ParseError::InvalidPayload {
            packet: name,
            reason: "missing payload",
        })
    };
    let data = match packet_type {
        0 => PacketData::Connect(fields.data.map(validate::connect_payload).transpose()?),
        1 => match fields.data {
            None => PacketData::Disconnect,
            Some(_) => {
                return Err(ParseError::InvalidPayload {
                    packet: name,
                    reason: "DISCONNECT carries no payload",
                })
            }
        },
        2 => {
            let (event, args) = validate::split_event(name, required(fields.data)?, limits)?;
            PacketData::Event { name: event, args }
        }
        3 => PacketData::Ack(validate::ack_args(name, required(fields.data)?)?),
        _ => return Err(ParseError::UnexpectedPacketType(name)),
    };

    let id = match fields.id {
        None => None,
        Some(Value::Number(n)) => match integral_u64(&n).filter(|&i| i <= MAX_SAFE_INTEGER) {
            Some(id) => Some(id),
            None => {
                return Err(ParseError::InvalidAckId(format!(
                    "{n} is not an integer below 2^53"
                )))
            }
        },
        Some(other) => {
            return Err(ParseError::InvalidAckId(format!(
                "{} is not a number",
                other.kind()
            )))
        }
    };
    if packet_type == 3 && id.is_none() {
        return Err(ParseError::InvalidAckId("missing in ACK packet".into()));
    }

    Ok(Packet { nsp, id, data })
}

/// Names a field's value in an error without echoing client data at length.
fn describe(value: Option<&Value>) -> String {
    match value {
        None => "missing".to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.kind().to_owned(),
    }
}
