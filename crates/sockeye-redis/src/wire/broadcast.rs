//! Broadcast messages: msgpack `[uid, packet, opts]`, as published by the Node.js
//! adapter on `<key>#<nsp>#` (or `<key>#<nsp>#<room>#`).
//!
//! `packet` is the socket.io packet object before encoding: `{type, data, nsp, id?}`
//! with `data = [event, ...args]` and type 2 (EVENT) even when arguments hold binary
//! data (the Node.js encoder picks BINARY_EVENT later). `opts` is
//! `{rooms: [...], except: [...], flags: {...}}`.
//!
//! Emitters (the Node.js `@socket.io/redis-emitter` and its ports to PHP, Python, Go,
//! Java...) publish the same message with uid `"emitter"`, but the older ones are
//! looser, so decoding accepts, besides the Node.js layout:
//! - a missing `opts` (a broadcast to everyone), or one that is not a map;
//! - `rooms`/`except` missing, `nil`, an empty string (no room), a single string (one
//!   room), or a map (a PHP array whose keys are no longer `0..n`);
//! - `flags` missing, `nil`, or a list (an empty PHP array); flag values read the way
//!   JavaScript tests them (`1` is true, `0`, `""` and `nil` are false);
//! - a `nil`, missing or non-string uid (a sender that is never this node);
//! - a packet without `nsp` (the main namespace) or with one lacking its leading `/`,
//!   and type 5 (BINARY_EVENT) as well as 2.

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
        encode_broadcast(&self.uid, &self.packet, opts_to_msgpack(&self.opts, true))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, RedisAdapterError> {
        let value = decode_msgpack(bytes)?;
        let Mp::Array(parts) = value else {
            return Err(malformed("broadcast is not an array"));
        };
        let mut parts = parts.into_iter();
        let (Some(uid), Some(packet)) = (parts.next(), parts.next()) else {
            return Err(malformed("broadcast has fewer than 2 parts"));
        };
        // A sender without a usable uid is some emitter: never this node.
        let uid = match uid {
            Mp::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            _ => String::new(),
        };
        let opts = parts.next().unwrap_or(Mp::Nil);
        Ok(BroadcastMessage {
            uid,
            packet: packet_from_msgpack(packet)?,
            opts: opts_from_msgpack(&opts),
        })
    }
}

/// The msgpack bytes of a broadcast whose `opts` the caller built (the emitter, which
/// sets flags a node never forwards, such as `compress`).
pub(crate) fn encode_broadcast(uid: &str, packet: &Packet, opts: Mp) -> Option<Vec<u8>> {
    let message = Mp::Array(vec![Mp::from(uid), packet_to_msgpack(packet)?, opts]);
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &message).ok()?;
    Some(out)
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
    let nsp = match field(&packet, "nsp").and_then(Mp::as_str) {
        None | Some("") => "/".to_string(),
        Some(nsp) if nsp.starts_with('/') => nsp.to_string(),
        Some(nsp) => format!("/{nsp}"),
    };
    let id = field(&packet, "id").and_then(Mp::as_u64);
    let data = field(&packet, "data").cloned().and_then(list_items);
    let data = match kind {
        EVENT | BINARY_EVENT => {
            let Some(mut items) = data else {
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
        ACK | BINARY_ACK => PacketData::Ack(
            data.unwrap_or_default()
                .into_iter()
                .map(from_msgpack)
                .collect(),
        ),
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

/// The options of a broadcast; anything missing or of an unexpected kind means "no
/// restriction" (see the module docs for the forms older emitters publish).
pub(crate) fn opts_from_msgpack(opts: &Mp) -> BroadcastOptions {
    let rooms = |name: &str| -> Vec<Room> {
        match field(opts, name) {
            // An empty string is how some emitters write "no room".
            Some(Mp::String(s)) if s.as_bytes().is_empty() => Vec::new(),
            Some(Mp::Nil) | None => Vec::new(),
            Some(list @ (Mp::Array(_) | Mp::Map(_))) => list_items(list.clone())
                .unwrap_or_default()
                .iter()
                .filter_map(room_name)
                .map(Room::from)
                .collect(),
            Some(one) => room_name(one).map(Room::from).into_iter().collect(),
        }
    };
    // `field` finds nothing in a flags list (an empty PHP array) or nil.
    let flag = |name: &str| {
        field(opts, "flags")
            .and_then(|f| field(f, name))
            .is_some_and(truthy)
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

/// The items of a msgpack list. A map stands for a list when it comes from a PHP array
/// whose keys are no longer `0..n`: its values, in the order of their integer keys
/// (other keys after them, in the order written).
fn list_items(value: Mp) -> Option<Vec<Mp>> {
    match value {
        Mp::Array(items) => Some(items),
        Mp::Map(entries) => {
            let mut entries: Vec<(Option<i64>, Mp)> = entries
                .into_iter()
                .map(|(k, v)| (index_of(&k), v))
                .collect();
            // Stable: non-integer keys keep their order, after the integer ones.
            entries.sort_by_key(|(index, _)| index.map_or((1, 0), |i| (0, i)));
            Some(entries.into_iter().map(|(_, v)| v).collect())
        }
        _ => None,
    }
}

/// A map key as a list index: an integer, or a string of one (PHP writes both).
fn index_of(key: &Mp) -> Option<i64> {
    match key {
        Mp::Integer(i) => i.as_i64(),
        Mp::String(s) => s.as_str().and_then(|s| s.parse().ok()),
        _ => None,
    }
}

/// Whether JavaScript would take the value as true in `if (flags.volatile)`.
fn truthy(value: &Mp) -> bool {
    match value {
        Mp::Nil => false,
        Mp::Boolean(b) => *b,
        Mp::Integer(i) => i.as_i64() != Some(0) && i.as_u64() != Some(0),
        Mp::F32(f) => *f != 0.0 && !f.is_nan(),
        Mp::F64(f) => *f != 0.0 && !f.is_nan(),
        Mp::String(s) => !s.as_bytes().is_empty(),
        // `undefined` as notepack writes it.
        Mp::Ext(0, data) if data == &[0] => false,
        Mp::Binary(_) | Mp::Array(_) | Mp::Map(_) | Mp::Ext(..) => true,
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

    // Hand-built msgpack, written from the spec, for what older emitters publish.

    /// A fixstr.
    fn s(text: &str) -> Vec<u8> {
        assert!(text.len() < 32);
        let mut out = vec![0xa0 | text.len() as u8];
        out.extend(text.as_bytes());
        out
    }

    /// `{type: 2, data: ["ev", 1], nsp: "/"}`.
    fn event_packet() -> Vec<u8> {
        let mut out = vec![0x83];
        out.extend(s("type"));
        out.push(0x02);
        out.extend(s("data"));
        out.push(0x92);
        out.extend(s("ev"));
        out.push(0x01);
        out.extend(s("nsp"));
        out.extend(s("/"));
        out
    }

    /// `["emitter", <event_packet>, <opts>]`, or without opts when `opts` is `None`.
    fn message(opts: Option<Vec<u8>>) -> Vec<u8> {
        let mut out = vec![if opts.is_some() { 0x93 } else { 0x92 }];
        out.extend(s("emitter"));
        out.extend(event_packet());
        out.extend(opts.unwrap_or_default());
        out
    }

    /// A map of `entries` (key, already encoded value).
    fn map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0x80 | entries.len() as u8];
        for (key, value) in entries {
            out.extend(s(key));
            out.extend(value);
        }
        out
    }

    fn decode_opts(opts: Option<Vec<u8>>) -> BroadcastOptions {
        let decoded = BroadcastMessage::decode(&message(opts)).expect("decodable");
        assert_eq!(
            decoded.packet,
            Packet::event("/", "ev", vec![Value::from(1u64)])
        );
        decoded.opts
    }

    fn rooms(names: &[&str]) -> Vec<Room> {
        names.iter().map(|n| Room::from(*n)).collect()
    }

    #[test]
    fn empty_strings_for_rooms_and_except_mean_no_room() {
        let opts = map(&[("rooms", s("")), ("except", s("")), ("flags", vec![0x80])]);
        assert_eq!(decode_opts(Some(opts)), BroadcastOptions::default());
    }

    #[test]
    fn nil_rooms_except_and_flags_mean_everyone() {
        // What a pydantic model with unset optional fields writes (the Python port).
        let opts = map(&[
            ("rooms", vec![0xc0]),
            ("flags", vec![0xc0]),
            ("except", vec![0xc0]),
        ]);
        assert_eq!(decode_opts(Some(opts)), BroadcastOptions::default());
    }

    #[test]
    fn a_single_string_is_one_room() {
        let opts = map(&[("rooms", s("r1")), ("except", s("sid9"))]);
        let decoded = decode_opts(Some(opts));
        assert_eq!(decoded.rooms, rooms(&["r1"]));
        assert_eq!(decoded.except, rooms(&["sid9"]));
    }

    #[test]
    fn rooms_as_a_php_map_with_holes() {
        // {2: "b", 0: "a", "5": "c"} after PHP's array_unique or unset.
        let mut list = vec![0x83, 0x02];
        list.extend(s("b"));
        list.push(0x00);
        list.extend(s("a"));
        list.extend(s("5"));
        list.extend(s("c"));
        let decoded = decode_opts(Some(map(&[("rooms", list)])));
        assert_eq!(decoded.rooms, rooms(&["a", "b", "c"]));
        assert!(decoded.except.is_empty());
    }

    #[test]
    fn missing_nil_or_list_flags_mean_no_flag() {
        let no_rooms = || vec![("rooms", vec![0x90]), ("except", vec![0x90])];
        let without = map(&no_rooms());
        let mut nil = no_rooms();
        nil.push(("flags", vec![0xc0]));
        let mut php_empty_array = no_rooms();
        php_empty_array.push(("flags", vec![0x90]));
        for opts in [without, map(&nil), map(&php_empty_array)] {
            assert_eq!(decode_opts(Some(opts)), BroadcastOptions::default());
        }
    }

    #[test]
    fn missing_or_odd_opts_mean_everyone() {
        assert_eq!(decode_opts(None), BroadcastOptions::default());
        assert_eq!(decode_opts(Some(vec![0xc0])), BroadcastOptions::default());
        assert_eq!(decode_opts(Some(vec![0x90])), BroadcastOptions::default());
        assert_eq!(decode_opts(Some(vec![0x80])), BroadcastOptions::default());
        // Only `rooms`: `except` and `flags` default.
        let decoded = decode_opts(Some(map(&[("rooms", vec![0x91, 0xa1, b'x'])])));
        assert_eq!(decoded.rooms, rooms(&["x"]));
        assert!(decoded.except.is_empty() && !decoded.flags.volatile);
    }

    #[test]
    fn flag_values_read_as_javascript_does() {
        let with_volatile = |value: Vec<u8>| {
            let flags = map(&[("volatile", value), ("compress", vec![0xc3])]);
            decode_opts(Some(map(&[("flags", flags)]))).flags.volatile
        };
        assert!(with_volatile(vec![0xc3])); // true
        assert!(with_volatile(vec![0x01])); // 1
        assert!(with_volatile(s("yes")));
        assert!(!with_volatile(vec![0xc2])); // false
        assert!(!with_volatile(vec![0x00])); // 0
        assert!(!with_volatile(vec![0xc0])); // nil
        assert!(!with_volatile(s("")));
        assert!(!with_volatile(vec![0xd4, 0x00, 0x00])); // notepack's undefined
    }

    #[test]
    fn a_nil_or_missing_uid_is_a_foreign_sender() {
        for uid in [vec![0xc0], vec![0x07]] {
            let mut bytes = vec![0x93];
            bytes.extend(uid);
            bytes.extend(event_packet());
            bytes.push(0x80);
            let decoded = BroadcastMessage::decode(&bytes).expect("decodable");
            assert_eq!(decoded.uid, "");
            assert_eq!(decoded.opts, BroadcastOptions::default());
        }
    }

    #[test]
    fn binary_event_without_namespace() {
        // ["emitter", {type: 5, data: ["bin", <bin8 01 02>]}, {rooms: [], flags: {}}]
        let mut bytes = vec![0x93];
        bytes.extend(s("emitter"));
        bytes.push(0x82);
        bytes.extend(s("type"));
        bytes.push(0x05);
        bytes.extend(s("data"));
        bytes.push(0x92);
        bytes.extend(s("bin"));
        bytes.extend([0xc4, 0x02, 0x01, 0x02]);
        bytes.extend(map(&[("rooms", vec![0x90]), ("flags", vec![0x80])]));
        let decoded = BroadcastMessage::decode(&bytes).expect("decodable");
        assert_eq!(
            decoded.packet,
            Packet::event("/", "bin", vec![Value::from(vec![1u8, 2])])
        );
    }

    #[test]
    fn namespace_without_its_slash_and_data_as_a_php_map() {
        // {type: 2, data: {1: 7, 0: "ev"}, nsp: "chat"}
        let mut packet = vec![0x83];
        packet.extend(s("type"));
        packet.push(0x02);
        packet.extend(s("data"));
        packet.extend([0x82, 0x01, 0x07, 0x00]);
        packet.extend(s("ev"));
        packet.extend(s("nsp"));
        packet.extend(s("chat"));
        let mut bytes = vec![0x93];
        bytes.extend(s("emitter"));
        bytes.extend(packet);
        bytes.push(0x80);
        let decoded = BroadcastMessage::decode(&bytes).expect("decodable");
        assert_eq!(
            decoded.packet,
            Packet::event("/chat", "ev", vec![Value::from(7u64)])
        );
    }
}
