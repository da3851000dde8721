//! Broadcast messages: msgpack `[uid, packet, opts]`, as published by the Node.js
//! adapter on `<key>#<nsp>#` (or `<key>#<nsp>#<room>#`).
//!
//! `packet` is the socket.io packet object before encoding: `{type, data, nsp, id?}`
//! with `data = [event, ...args]` and type 2 (EVENT) even when arguments hold binary
//! data (the Node.js encoder picks BINARY_EVENT later). `opts` is
//! `{rooms: [...], except: [...], flags: {...}}`.

use rmpv::Value as Mp;
use sockeye::adapter::{BroadcastFlags, BroadcastOptions, Room};
use sockeye::{Packet, PacketData};

use super::value::{from_msgpack, key_string, room_name, to_msgpack, MAX_DEPTH};
use crate::RedisAdapterError;

/// Socket.IO packet types, as numbered by socket.io-parser.
const DISCONNECT: u64 = 1;
const EVENT: u64 = 2;
const ACK: u64 = 3;
const BINARY_EVENT: u64 = 5;
const BINARY_ACK: u64 = 6;

/// One broadcast travelling between nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BroadcastMessage {
    /// The publishing node, so it can ignore its own message.
    pub uid: String,
    pub packet: Packet,
    pub opts: BroadcastOptions,
}

impl BroadcastMessage {
    /// The msgpack bytes; `None` for a packet kind that is never broadcast.
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let message = Mp::Array(vec![
            Mp::from(self.uid.as_str()),
            packet_to_msgpack(&self.packet)?,
            opts_to_msgpack(&self.opts, true),
        ]);
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &message).ok()?;
        Some(out)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, RedisAdapterError> {
        let value = decode_msgpack(bytes)?;
        let Mp::Array(mut parts) = value else {
            return Err(malformed("broadcast is not an array"));
        };
        if parts.len() < 3 {
            return Err(malformed("broadcast has fewer than 3 parts"));
        }
        let opts = parts.swap_remove(2);
        let packet = parts.swap_remove(1);
        let uid = match &parts[0] {
            Mp::String(s) => s.as_str().unwrap_or_default().to_string(),
            _ => return Err(malformed("broadcast uid is not a string")),
        };
        Ok(BroadcastMessage {
            uid,
            packet: packet_from_msgpack(packet)?,
            opts: opts_from_msgpack(&opts),
        })
    }
}

pub(crate) fn decode_msgpack(bytes: &[u8]) -> Result<Mp, RedisAdapterError> {
    let mut reader = bytes;
    rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH)
        .map_err(|e| malformed(&format!("invalid msgpack: {e}")))
}

fn malformed(why: &str) -> RedisAdapterError {
    RedisAdapterError::Malformed(why.to_string())
}

/// The looked-up entry of a msgpack map with string keys.
pub(crate) fn field<'a>(map: &'a Mp, name: &str) -> Option<&'a Mp> {
    match map {
        Mp::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A packet as the Node.js adapter carries it.
pub(crate) fn packet_to_msgpack(packet: &Packet) -> Option<Mp> {
    let (kind, data) = match &packet.data {
        PacketData::Event { name, args } => {
            let mut data = Vec::with_capacity(args.len() + 1);
            data.push(Mp::from(name.as_str()));
            data.extend(args.iter().map(to_msgpack));
            (EVENT, Some(Mp::Array(data)))
        }
        PacketData::Ack(args) => (ACK, Some(Mp::Array(args.iter().map(to_msgpack).collect()))),
        PacketData::Disconnect => (DISCONNECT, None),
        PacketData::Connect(_) | PacketData::ConnectError(_) => return None,
    };
    let mut map = vec![(Mp::from("type"), Mp::from(kind))];
    if let Some(data) = data {
        map.push((Mp::from("data"), data));
    }
    map.push((Mp::from("nsp"), Mp::from(packet.nsp.as_str())));
    if let Some(id) = packet.id {
        map.push((Mp::from("id"), Mp::from(id)));
    }
    Some(Mp::Map(map))
}

pub(crate) fn packet_from_msgpack(packet: Mp) -> Result<Packet, RedisAdapterError> {
    let kind = field(&packet, "type")
        .and_then(Mp::as_u64)
        .ok_or_else(|| malformed("packet without a type"))?;
    // The Node.js adapter fills in "/" when a packet has no namespace.
    let nsp = field(&packet, "nsp")
        .and_then(Mp::as_str)
        .unwrap_or("/")
        .to_string();
    let id = field(&packet, "id").and_then(Mp::as_u64);
    let data = field(&packet, "data").cloned();
    let data = match kind {
        EVENT | BINARY_EVENT => {
            let Some(Mp::Array(mut items)) = data else {
                return Err(malformed("event without data"));
            };
            if items.is_empty() {
                return Err(malformed("event without a name"));
            }
            let name = key_string(items.remove(0)).ok_or_else(|| malformed("bad event name"))?;
            PacketData::Event {
                name,
                args: items.into_iter().map(from_msgpack).collect(),
            }
        }
        ACK | BINARY_ACK => match data {
            Some(Mp::Array(items)) => {
                PacketData::Ack(items.into_iter().map(from_msgpack).collect())
            }
            _ => PacketData::Ack(Vec::new()),
        },
        DISCONNECT => PacketData::Disconnect,
        other => return Err(malformed(&format!("unexpected packet type {other}"))),
    };
    Ok(Packet { nsp, id, data })
}

/// `{rooms, except, flags}`; `flags` only with the set flags, as Node.js sends
/// them (`{}` for a plain broadcast).
pub(crate) fn opts_to_msgpack(opts: &BroadcastOptions, with_flags: bool) -> Mp {
    let rooms = |list: &[Room]| Mp::Array(list.iter().map(|r| Mp::from(&**r)).collect());
    let mut map = vec![
        (Mp::from("rooms"), rooms(&opts.rooms)),
        (Mp::from("except"), rooms(&opts.except)),
    ];
    if with_flags {
        let mut flags = Vec::new();
        if opts.flags.volatile {
            flags.push((Mp::from("volatile"), Mp::Boolean(true)));
        }
        if opts.flags.local {
            flags.push((Mp::from("local"), Mp::Boolean(true)));
        }
        map.push((Mp::from("flags"), Mp::Map(flags)));
    }
    Mp::Map(map)
}

pub(crate) fn opts_from_msgpack(opts: &Mp) -> BroadcastOptions {
    let rooms = |name: &str| -> Vec<Room> {
        match field(opts, name) {
            Some(Mp::Array(items)) => items.iter().filter_map(room_name).map(Room::from).collect(),
            _ => Vec::new(),
        }
    };
    let flag = |name: &str| {
        field(opts, "flags")
            .and_then(|f| field(f, name))
            .and_then(Mp::as_bool)
            .unwrap_or(false)
    };
    BroadcastOptions {
        rooms: rooms("rooms"),
        except: rooms("except"),
        flags: BroadcastFlags {
            volatile: flag("volatile"),
            local: flag("local"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye::Value;

    #[test]
    fn round_trip() {
        let message = BroadcastMessage {
            uid: "abc".into(),
            packet: Packet::event(
                "/",
                "hello",
                vec![Value::from(1u64), Value::from(vec![9u8])],
            ),
            opts: BroadcastOptions {
                rooms: vec![Room::from("r1")],
                except: vec![Room::from("sid1")],
                flags: BroadcastFlags {
                    volatile: true,
                    local: false,
                },
            },
        };
        let bytes = message.encode().expect("encodable");
        assert_eq!(
            BroadcastMessage::decode(&bytes).expect("decodable"),
            message
        );
    }

    /// Bytes as notepack.io encodes `["uid", {type: 2, data: ["ev", 1], nsp: "/"},
    /// {rooms: [], except: [], flags: {}}]`, written out by hand from the msgpack spec.
    #[test]
    fn decodes_node_layout() {
        let mut bytes = vec![0x93, 0xa3, b'u', b'i', b'd'];
        bytes.extend([0x83, 0xa4, b't', b'y', b'p', b'e', 0x02]);
        bytes.extend([0xa4, b'd', b'a', b't', b'a', 0x92, 0xa2, b'e', b'v', 0x01]);
        bytes.extend([0xa3, b'n', b's', b'p', 0xa1, b'/']);
        bytes.extend([0x83, 0xa5, b'r', b'o', b'o', b'm', b's', 0x90]);
        bytes.extend([0xa6, b'e', b'x', b'c', b'e', b'p', b't', 0x90]);
        bytes.extend([0xa5, b'f', b'l', b'a', b'g', b's', 0x80]);
        let message = BroadcastMessage::decode(&bytes).expect("decodable");
        assert_eq!(message.uid, "uid");
        assert_eq!(
            message.packet,
            Packet::event("/", "ev", vec![Value::from(1u64)])
        );
        assert_eq!(message.opts, BroadcastOptions::default());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(BroadcastMessage::decode(&[0xc1, 0xff]).is_err());
        assert!(BroadcastMessage::decode(&[0x91, 0x01]).is_err());
    }
}
