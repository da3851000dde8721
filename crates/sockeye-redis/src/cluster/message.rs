//! The messages of `socket.io-adapter`'s cluster adapter, as the streams adapter
//! (`@socket.io/redis-streams-adapter` 0.3) and the sharded adapter
//! (`createShardedAdapter` of `@socket.io/redis-adapter` 8.3) carry them.
//!
//! A message is `{uid, nsp, type, data}`. It travels:
//! - (streams) as a stream entry (XADD) with the fields `uid`, `nsp`, `type` (the number
//!   in decimal) and `data`: the JSON text of `data`, or, when `data` holds binary and
//!   the type may carry some, the base64 of its msgpack encoding (JSON text always
//!   starts with `{`, which base64 of a msgpack map never does);
//! - (streams) for messages nobody needs to read back (requests expecting answers and
//!   their answers), as one msgpack map published on a pub/sub channel, `type` a number;
//! - (sharded) as the JSON text of the whole message, or its msgpack encoding when its
//!   data holds binary.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use rmpv::Value as Mp;
use serde_json::Value as Json;
use sockeye::adapter::{BroadcastOptions, Room};
use sockeye::{Packet, SocketDescription, Value};

use crate::wire::broadcast::{
    decode_msgpack, field, opts_from_msgpack, opts_to_msgpack, packet_from_msgpack,
    packet_to_msgpack,
};
use crate::wire::value::{from_msgpack, key_string, room_name, to_msgpack};
use crate::RedisAdapterError;

/// `MessageType` of socket.io-adapter's cluster adapter.
pub(crate) mod kind {
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
}

/// The id of a stream entry, `<milliseconds>-<sequence>`; entries are ordered by it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// Parses `<ms>-<seq>` (both decimal); anything else is `None`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(StreamId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One cluster message; `data` is `Nil` when the message has none.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Message {
    pub uid: String,
    pub nsp: String,
    pub kind: u64,
    pub data: Mp,
}

fn malformed(why: impl Into<String>) -> RedisAdapterError {
    RedisAdapterError::Malformed(why.into())
}

/// Types whose data may hold binary (and is then sent as base64 msgpack).
fn may_contain_binary(kind: u64) -> bool {
    matches!(
        kind,
        kind::BROADCAST
            | kind::FETCH_SOCKETS_RESPONSE
            | kind::SERVER_SIDE_EMIT
            | kind::SERVER_SIDE_EMIT_RESPONSE
            | kind::BROADCAST_ACK
    )
}

impl Message {
    /// The fields of the stream entry carrying this message.
    pub(crate) fn to_stream_fields(
        &self,
    ) -> Result<Vec<(&'static str, Vec<u8>)>, RedisAdapterError> {
        let mut fields = vec![
            ("uid", self.uid.clone().into_bytes()),
            ("nsp", self.nsp.clone().into_bytes()),
            ("type", self.kind.to_string().into_bytes()),
        ];
        if !self.data.is_nil() {
            let data = if may_contain_binary(self.kind) && has_binary(&self.data) {
                let mut bytes = Vec::new();
                rmpv::encode::write_value(&mut bytes, &self.data)
                    .map_err(|e| malformed(format!("cannot encode: {e}")))?;
                base64::engine::general_purpose::STANDARD.encode(bytes)
            } else {
                mp_to_json(&self.data).to_string()
            };
            fields.push(("data", data.into_bytes()));
        }
        Ok(fields)
    }

    /// A message out of the fields of a stream entry.
    pub(crate) fn from_stream_fields(
        fields: &[(String, Vec<u8>)],
    ) -> Result<Self, RedisAdapterError> {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let nsp = get("nsp").ok_or_else(|| malformed("entry without nsp"))?;
        let uid = get("uid").unwrap_or_default();
        let kind = get("type")
            .and_then(|t| t.trim().parse::<u64>().ok())
            .ok_or_else(|| malformed("entry without a numeric type"))?;
        let data = match get("data") {
            None => Mp::Nil,
            Some(text) if text.is_empty() => Mp::Nil,
            Some(text) if text.starts_with('{') => {
                let json: Json = serde_json::from_str(&text)
                    .map_err(|e| malformed(format!("entry data is not JSON: {e}")))?;
                json_to_mp(json)
            }
            Some(text) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|e| malformed(format!("entry data is not base64: {e}")))?;
                decode_msgpack(&bytes)?
            }
        };
        let absent = fields.iter().all(|(k, v)| k != "data" || v.is_empty());
        let valid = match data {
            Mp::Map(_) => true,
            Mp::Nil => absent,
            _ => false,
        };
        if !valid {
            return Err(malformed("entry data is not an object"));
        }
        Ok(Message {
            uid,
            nsp,
            kind,
            data,
        })
    }

    /// The msgpack bytes published on a pub/sub channel.
    pub(crate) fn to_pubsub(&self) -> Result<Vec<u8>, RedisAdapterError> {
        let mut map = vec![
            (Mp::from("uid"), Mp::from(self.uid.as_str())),
            (Mp::from("nsp"), Mp::from(self.nsp.as_str())),
            (Mp::from("type"), Mp::from(self.kind)),
        ];
        if !self.data.is_nil() {
            map.push((Mp::from("data"), self.data.clone()));
        }
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &Mp::Map(map))
            .map_err(|e| malformed(format!("cannot encode: {e}")))?;
        Ok(out)
    }

    /// A message out of a pub/sub payload.
    pub(crate) fn from_pubsub(bytes: &[u8]) -> Result<Self, RedisAdapterError> {
        Self::from_value(decode_msgpack(bytes)?)
    }

    /// The payload of the sharded adapter (`@socket.io/redis-adapter`'s
    /// `createShardedAdapter`): the JSON text of the whole message, or its msgpack
    /// encoding when its data holds binary.
    pub(crate) fn to_sharded(&self) -> Result<Vec<u8>, RedisAdapterError> {
        if may_contain_binary(self.kind) && has_binary(&self.data) {
            return self.to_pubsub();
        }
        let mut map = serde_json::Map::new();
        map.insert("uid".into(), Json::from(self.uid.as_str()));
        map.insert("nsp".into(), Json::from(self.nsp.as_str()));
        map.insert("type".into(), Json::from(self.kind));
        if !self.data.is_nil() {
            map.insert("data".into(), mp_to_json(&self.data));
        }
        Ok(Json::Object(map).to_string().into_bytes())
    }

    /// A message out of a sharded adapter payload: JSON text (starting with `{`) or msgpack.
    pub(crate) fn from_sharded(bytes: &[u8]) -> Result<Self, RedisAdapterError> {
        if bytes.first() == Some(&b'{') {
            let json: Json = serde_json::from_slice(bytes)
                .map_err(|e| malformed(format!("message is not JSON: {e}")))?;
            return Self::from_value(json_to_mp(json));
        }
        Self::from_pubsub(bytes)
    }

    fn from_value(value: Mp) -> Result<Self, RedisAdapterError> {
        if !matches!(value, Mp::Map(_)) {
            return Err(malformed("pub/sub message is not a map"));
        }
        let text = |name: &str| field(&value, name).and_then(Mp::as_str).map(str::to_string);
        let kind = match field(&value, "type") {
            Some(Mp::String(s)) => s.as_str().and_then(|s| s.parse().ok()),
            Some(other) => other.as_u64(),
            None => None,
        }
        .ok_or_else(|| malformed("pub/sub message without a numeric type"))?;
        Ok(Message {
            uid: text("uid").unwrap_or_default(),
            nsp: text("nsp").ok_or_else(|| malformed("pub/sub message without nsp"))?,
            kind,
            data: field(&value, "data").cloned().unwrap_or(Mp::Nil),
        })
    }

    // ---- builders ----

    fn new(uid: &str, nsp: &str, kind: u64, data: Vec<(&str, Mp)>) -> Self {
        Message {
            uid: uid.to_string(),
            nsp: nsp.to_string(),
            kind,
            data: Mp::Map(data.into_iter().map(|(k, v)| (Mp::from(k), v)).collect()),
        }
    }

    /// BROADCAST `{packet, opts}`; `None` for a packet kind that is never broadcast.
    pub(crate) fn broadcast(uid: &str, packet: &Packet, opts: &BroadcastOptions) -> Option<Self> {
        let packet = packet_to_msgpack(packet)?;
        Some(Self::new(
            uid,
            &packet_nsp(&packet),
            kind::BROADCAST,
            vec![("packet", packet), ("opts", opts_to_msgpack(opts, true))],
        ))
    }

    /// BROADCAST with acknowledgements `{packet, requestId, opts}` (sent on pub/sub), the
    /// timeout in `opts.flags.timeout` (milliseconds) as Node.js sends it.
    pub(crate) fn broadcast_with_ack(
        uid: &str,
        packet: &Packet,
        opts: &BroadcastOptions,
        request_id: &str,
        timeout: Duration,
    ) -> Option<Self> {
        let packet = packet_to_msgpack(packet)?;
        let mut opts = opts_to_msgpack(opts, true);
        if let Mp::Map(entries) = &mut opts {
            for (k, v) in entries.iter_mut() {
                if let (Some("flags"), Mp::Map(flags)) = (k.as_str(), v) {
                    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                    flags.push((Mp::from("timeout"), Mp::from(ms)));
                }
            }
        }
        Some(Self::new(
            uid,
            &packet_nsp(&packet),
            kind::BROADCAST,
            vec![
                ("packet", packet),
                ("requestId", Mp::from(request_id)),
                ("opts", opts),
            ],
        ))
    }

    /// BROADCAST_CLIENT_COUNT `{requestId, clientCount}`: how many clients of a node were
    /// sent a broadcast with acknowledgements.
    pub(crate) fn client_count(uid: &str, nsp: &str, request_id: &str, count: usize) -> Self {
        Self::new(
            uid,
            nsp,
            kind::BROADCAST_CLIENT_COUNT,
            vec![
                ("requestId", Mp::from(request_id)),
                ("clientCount", Mp::from(count as u64)),
            ],
        )
    }

    /// BROADCAST_ACK `{requestId, packet}`: one client's acknowledgement (its first argument).
    pub(crate) fn broadcast_ack(uid: &str, nsp: &str, request_id: &str, arg: &Value) -> Self {
        Self::new(
            uid,
            nsp,
            kind::BROADCAST_ACK,
            vec![
                ("requestId", Mp::from(request_id)),
                ("packet", to_msgpack(arg)),
            ],
        )
    }

    /// SERVER_SIDE_EMIT `{packet: [event, ...args], requestId?}`; the request id is set
    /// when the emitter waits for one answer per node.
    pub(crate) fn server_side_emit(
        uid: &str,
        nsp: &str,
        request_id: Option<&str>,
        event: &str,
        args: &[Value],
    ) -> Self {
        let mut packet = Vec::with_capacity(args.len() + 1);
        packet.push(Mp::from(event));
        packet.extend(args.iter().map(to_msgpack));
        let mut data = vec![("packet", Mp::Array(packet))];
        if let Some(id) = request_id {
            data.push(("requestId", Mp::from(id)));
        }
        Self::new(uid, nsp, kind::SERVER_SIDE_EMIT, data)
    }

    /// SERVER_SIDE_EMIT_RESPONSE `{requestId, packet}`: one node's answer.
    pub(crate) fn server_side_emit_response(
        uid: &str,
        nsp: &str,
        request_id: &str,
        answer: &Value,
    ) -> Self {
        Self::new(
            uid,
            nsp,
            kind::SERVER_SIDE_EMIT_RESPONSE,
            vec![
                ("requestId", Mp::from(request_id)),
                ("packet", to_msgpack(answer)),
            ],
        )
    }

    /// SOCKETS_JOIN / SOCKETS_LEAVE `{opts, rooms}`.
    pub(crate) fn rooms(
        uid: &str,
        nsp: &str,
        kind: u64,
        opts: &BroadcastOptions,
        rooms: &[Room],
    ) -> Self {
        let rooms = Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect());
        Self::new(
            uid,
            nsp,
            kind,
            vec![("opts", opts_to_msgpack(opts, true)), ("rooms", rooms)],
        )
    }

    /// DISCONNECT_SOCKETS `{opts, close}`.
    pub(crate) fn disconnect(uid: &str, nsp: &str, opts: &BroadcastOptions, close: bool) -> Self {
        Self::new(
            uid,
            nsp,
            kind::DISCONNECT_SOCKETS,
            vec![
                ("opts", opts_to_msgpack(opts, true)),
                ("close", Mp::Boolean(close)),
            ],
        )
    }

    /// FETCH_SOCKETS `{opts, requestId}`.
    pub(crate) fn fetch(uid: &str, nsp: &str, opts: &BroadcastOptions, request_id: &str) -> Self {
        Self::new(
            uid,
            nsp,
            kind::FETCH_SOCKETS,
            vec![
                ("opts", opts_to_msgpack(opts, true)),
                ("requestId", Mp::from(request_id)),
            ],
        )
    }

    /// FETCH_SOCKETS_RESPONSE `{requestId, sockets: [{id, handshake, rooms, data}]}`,
    /// with `handshake` shaped like the Node.js one.
    pub(crate) fn fetch_response(
        uid: &str,
        nsp: &str,
        request_id: &str,
        sockets: &[SocketDescription],
    ) -> Self {
        let sockets = sockets
            .iter()
            .map(|s| {
                let headers = s
                    .headers
                    .iter()
                    .map(|(k, v)| (Mp::from(k.as_str()), Mp::from(v.as_str())))
                    .collect();
                let handshake = Mp::Map(vec![
                    (Mp::from("headers"), Mp::Map(headers)),
                    (
                        Mp::from("address"),
                        Mp::from(s.address.clone().unwrap_or_default()),
                    ),
                    (Mp::from("xdomain"), Mp::Boolean(false)),
                    (Mp::from("secure"), Mp::Boolean(false)),
                    (Mp::from("query"), Mp::Map(Vec::new())),
                    (Mp::from("auth"), to_msgpack(&s.auth)),
                ]);
                Mp::Map(vec![
                    (Mp::from("id"), Mp::from(s.id.as_str())),
                    (Mp::from("handshake"), handshake),
                    (
                        Mp::from("rooms"),
                        Mp::Array(s.rooms.iter().map(|r| Mp::from(r.as_str())).collect()),
                    ),
                    (Mp::from("data"), to_msgpack(&s.data)),
                ])
            })
            .collect();
        Self::new(
            uid,
            nsp,
            kind::FETCH_SOCKETS_RESPONSE,
            vec![
                ("requestId", Mp::from(request_id)),
                ("sockets", Mp::Array(sockets)),
            ],
        )
    }

    // ---- accessors ----

    /// The packet and options of a BROADCAST.
    pub(crate) fn broadcast_parts(&self) -> Result<(Packet, BroadcastOptions), RedisAdapterError> {
        let packet = field(&self.data, "packet")
            .cloned()
            .ok_or_else(|| malformed("broadcast without a packet"))?;
        let packet = packet_from_msgpack(packet)?;
        Ok((packet, self.opts()))
    }

    /// `data.opts` (every socket when absent).
    pub(crate) fn opts(&self) -> BroadcastOptions {
        field(&self.data, "opts")
            .map(opts_from_msgpack)
            .unwrap_or_default()
    }

    /// `data.rooms` of SOCKETS_JOIN / SOCKETS_LEAVE.
    pub(crate) fn room_list(&self) -> Vec<Room> {
        match field(&self.data, "rooms") {
            Some(Mp::Array(items)) => items.iter().filter_map(room_name).map(Room::from).collect(),
            _ => Vec::new(),
        }
    }

    /// `data.close` of DISCONNECT_SOCKETS.
    pub(crate) fn close(&self) -> bool {
        field(&self.data, "close")
            .and_then(Mp::as_bool)
            .unwrap_or(false)
    }

    /// `data.opts.flags.timeout` (milliseconds) of a broadcast with acknowledgements.
    pub(crate) fn flag_timeout(&self) -> Option<Duration> {
        field(&self.data, "opts")
            .and_then(|o| field(o, "flags"))
            .and_then(|f| field(f, "timeout"))
            .and_then(|t| t.as_u64().or_else(|| t.as_f64().map(|f| f.max(0.0) as u64)))
            .map(Duration::from_millis)
    }

    /// `data.clientCount` of BROADCAST_CLIENT_COUNT.
    pub(crate) fn client_count_value(&self) -> Option<usize> {
        field(&self.data, "clientCount")
            .and_then(Mp::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    }

    /// `data.packet` of BROADCAST_ACK (the acknowledging client's first argument) and of
    /// SERVER_SIDE_EMIT_RESPONSE (the answering node's value).
    pub(crate) fn ack_value(&self) -> Value {
        field(&self.data, "packet")
            .cloned()
            .map(from_msgpack)
            .unwrap_or_default()
    }

    /// The event name and arguments of a SERVER_SIDE_EMIT (`data.packet`); `None` when
    /// the packet is not an array starting with a string.
    pub(crate) fn server_event(&self) -> Option<(String, Vec<Value>)> {
        let Some(Mp::Array(items)) = field(&self.data, "packet") else {
            return None;
        };
        let (name, args) = items.split_first()?;
        let name = name.as_str()?.to_string();
        Some((name, args.iter().cloned().map(from_msgpack).collect()))
    }

    /// `data.requestId`, as a string.
    pub(crate) fn request_id(&self) -> Option<String> {
        field(&self.data, "requestId").and_then(|v| key_string(v.clone()))
    }

    /// The sockets of a FETCH_SOCKETS_RESPONSE; entries without an id are skipped.
    pub(crate) fn sockets(&self) -> Vec<SocketDescription> {
        let Some(Mp::Array(items)) = field(&self.data, "sockets") else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|s| socket_description(&self.nsp, s))
            .collect()
    }
}

fn packet_nsp(packet: &Mp) -> String {
    field(packet, "nsp")
        .and_then(Mp::as_str)
        .unwrap_or("/")
        .to_string()
}

fn socket_description(nsp: &str, socket: &Mp) -> Option<SocketDescription> {
    let id = field(socket, "id")?.as_str()?.to_string();
    let handshake = field(socket, "handshake");
    let from_handshake = |name: &str| handshake.and_then(|h| field(h, name));
    let headers = match from_handshake("headers") {
        Some(Mp::Map(entries)) => entries
            .iter()
            .filter_map(|(k, v)| {
                let value = match v {
                    Mp::String(s) => s.as_str().unwrap_or_default().to_string(),
                    other => mp_to_json(other).to_string(),
                };
                Some((key_string(k.clone())?, value))
            })
            .collect(),
        _ => Vec::new(),
    };
    let rooms = match field(socket, "rooms") {
        Some(Mp::Array(items)) => items.iter().filter_map(room_name).collect(),
        _ => Vec::new(),
    };
    Some(SocketDescription {
        id,
        nsp: nsp.to_string(),
        rooms,
        data: field(socket, "data")
            .cloned()
            .map(from_msgpack)
            .unwrap_or_default(),
        auth: from_handshake("auth")
            .cloned()
            .map(from_msgpack)
            .unwrap_or_default(),
        address: from_handshake("address")
            .and_then(Mp::as_str)
            .map(str::to_string),
        headers,
    })
}

/// Whether a msgpack value holds binary data anywhere.
pub(crate) fn has_binary(value: &Mp) -> bool {
    match value {
        Mp::Binary(_) | Mp::Ext(..) => true,
        Mp::Array(items) => items.iter().any(has_binary),
        Mp::Map(entries) => entries.iter().any(|(k, v)| has_binary(k) || has_binary(v)),
        _ => false,
    }
}

/// JSON as msgpack (what `JSON.parse` then `@msgpack/msgpack` would agree on).
pub(crate) fn json_to_mp(json: Json) -> Mp {
    match json {
        Json::Null => Mp::Nil,
        Json::Bool(b) => Mp::Boolean(b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Mp::from(u)
            } else if let Some(i) = n.as_i64() {
                Mp::from(i)
            } else {
                Mp::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Mp::from(s),
        Json::Array(items) => Mp::Array(items.into_iter().map(json_to_mp).collect()),
        Json::Object(map) => Mp::Map(
            map.into_iter()
                .map(|(k, v)| (Mp::from(k), json_to_mp(v)))
                .collect(),
        ),
    }
}

/// Msgpack as JSON, for data without binary (binary would become `null`).
pub(crate) fn mp_to_json(value: &Mp) -> Json {
    match value {
        Mp::Nil => Json::Null,
        Mp::Boolean(b) => Json::Bool(*b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Json::from(u),
            (_, Some(s)) => Json::from(s),
            _ => Json::Null,
        },
        Mp::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number),
        Mp::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Mp::String(s) => Json::String(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Mp::Array(items) => Json::Array(items.iter().map(mp_to_json).collect()),
        Mp::Map(entries) => Json::Object(
            entries
                .iter()
                .filter_map(|(k, v)| Some((key_string(k.clone())?, mp_to_json(v))))
                .collect(),
        ),
        Mp::Binary(_) | Mp::Ext(..) => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn stream_ids_parse_and_order() {
        let a = StreamId::parse("1700000000000-0").expect("valid");
        let b = StreamId::parse("1700000000000-12").expect("valid");
        assert!(a < b);
        assert_eq!(b.to_string(), "1700000000000-12");
        for bad in ["", "-", "1-", "-1", "1-2-3", "a-1", "1", "+", "$", "1 -2"] {
            assert_eq!(StreamId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_a_node_broadcast_entry_in_json() {
        let entry = fields(&[
            ("uid", "abc"),
            ("nsp", "/"),
            ("type", "3"),
            (
                "data",
                r#"{"packet":{"type":2,"data":["ev",1,"x"],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{"volatile":true}}}"#,
            ),
        ]);
        let message = Message::from_stream_fields(&entry).expect("valid");
        assert_eq!(
            (message.uid.as_str(), message.kind),
            ("abc", kind::BROADCAST)
        );
        let (packet, opts) = message.broadcast_parts().expect("a broadcast");
        assert_eq!(
            packet,
            Packet::event("/", "ev", vec![Value::from(1u64), Value::from("x")])
        );
        assert_eq!(opts.rooms, vec![Room::from("r")]);
        assert!(opts.flags.volatile);
    }

    #[test]
    fn broadcasts_round_trip_through_stream_fields_with_and_without_binary() {
        for args in [
            vec![Value::from("text"), Value::from(2.5)],
            vec![Value::from(vec![1u8, 2, 3]), Value::Null],
        ] {
            let packet = Packet::event("/chat", "ev", args.clone());
            let opts = BroadcastOptions {
                except: vec![Room::from("x")],
                ..Default::default()
            };
            let message = Message::broadcast("me", &packet, &opts).expect("an event");
            let fields: Vec<(String, Vec<u8>)> = message
                .to_stream_fields()
                .expect("encodable")
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let data = &fields.iter().find(|(k, _)| k == "data").expect("data").1;
            let binary = matches!(args[0], Value::Binary(_));
            assert_eq!(data.first() == Some(&b'{'), !binary);
            let back = Message::from_stream_fields(&fields).expect("decodable");
            assert_eq!(back.nsp, "/chat");
            assert_eq!(back.broadcast_parts().expect("broadcast"), (packet, opts));
        }
    }

    #[test]
    fn malformed_entries_are_errors_not_panics() {
        let cases = [
            fields(&[]),
            fields(&[("uid", "a"), ("type", "3")]),
            fields(&[("nsp", "/"), ("type", "three")]),
            fields(&[("nsp", "/"), ("type", "3"), ("data", "{not json")]),
            fields(&[("nsp", "/"), ("type", "3"), ("data", "!!not base64!!")]),
            fields(&[("nsp", "/"), ("type", "3"), ("data", "wf8=")]),
        ];
        for entry in &cases {
            assert!(Message::from_stream_fields(entry).is_err(), "{entry:?}");
        }
        // Well-formed entries whose data is not a broadcast are refused when read as one.
        for data in [
            r#"{"packet":{"type":99}}"#,
            r#"{"opts":{}}"#,
            r#"{"packet":{"type":2,"data":[]}}"#,
        ] {
            let entry = fields(&[("nsp", "/"), ("type", "3"), ("data", data)]);
            let message = Message::from_stream_fields(&entry).expect("decodable");
            assert!(message.broadcast_parts().is_err(), "{data}");
        }
        // Invalid UTF-8 is decoded lossily rather than refused.
        let entry = vec![
            ("nsp".to_string(), b"/".to_vec()),
            ("type".to_string(), b"4".to_vec()),
            ("uid".to_string(), vec![0xff, 0xfe]),
        ];
        assert!(Message::from_stream_fields(&entry).is_ok());
    }

    #[test]
    fn pubsub_messages_round_trip_and_garbage_is_refused() {
        let opts = BroadcastOptions::default();
        let message = Message::fetch("me", "/", &opts, "req1");
        let back = Message::from_pubsub(&message.to_pubsub().expect("encodable")).expect("valid");
        assert_eq!(back, message);
        assert_eq!(back.request_id().as_deref(), Some("req1"));
        assert!(Message::from_pubsub(&[0xc1]).is_err());
        assert!(Message::from_pubsub(&[0x91, 0x01]).is_err());
        assert!(Message::from_pubsub(&[0x81, 0xa3, b'n', b's', b'p', 0xa1, b'/']).is_err());
    }

    #[test]
    fn server_side_emits_round_trip_and_bad_packets_are_refused() {
        let args = vec![Value::from("a"), Value::from(2u64)];
        let message = Message::server_side_emit("me", "/", Some("r1"), "hello", &args);
        let back = Message::from_pubsub(&message.to_pubsub().expect("encodable")).expect("valid");
        assert_eq!(back.kind, kind::SERVER_SIDE_EMIT);
        assert_eq!(back.request_id().as_deref(), Some("r1"));
        assert_eq!(back.server_event(), Some(("hello".to_string(), args)));
        let plain = Message::server_side_emit("me", "/", None, "hi", &[]);
        assert_eq!(plain.request_id(), None);
        let answer = Message::server_side_emit_response("me", "/", "r1", &Value::from("ok"));
        assert_eq!(answer.ack_value(), Value::from("ok"));
        for bad in [Mp::Nil, Mp::Array(vec![]), Mp::Array(vec![Mp::from(1u64)])] {
            let message = Message {
                uid: "x".into(),
                nsp: "/".into(),
                kind: kind::SERVER_SIDE_EMIT,
                data: Mp::Map(vec![(Mp::from("packet"), bad)]),
            };
            assert_eq!(message.server_event(), None);
        }
    }

    #[test]
    fn sharded_payloads_are_json_unless_binary_and_round_trip() {
        for args in [vec![Value::from("t")], vec![Value::from(vec![7u8])]] {
            let packet = Packet::event("/", "ev", args.clone());
            let message =
                Message::broadcast("me", &packet, &BroadcastOptions::default()).expect("event");
            let bytes = message.to_sharded().expect("encodable");
            let binary = matches!(args[0], Value::Binary(_));
            assert_eq!(bytes.first() == Some(&b'{'), !binary);
            let back = Message::from_sharded(&bytes).expect("decodable");
            assert_eq!(back.kind, kind::BROADCAST);
            assert_eq!(back.broadcast_parts().expect("broadcast").0, packet);
        }
        let node = br#"{"uid":"n","nsp":"/","type":7,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"requestId":"x"}}"#;
        let message = Message::from_sharded(node).expect("valid");
        assert_eq!(
            (message.kind, message.request_id().as_deref()),
            (kind::FETCH_SOCKETS, Some("x"))
        );
        for bad in [&b"{oops"[..], b"[1]", b"\xc1", b""] {
            assert!(Message::from_sharded(bad).is_err());
        }
    }

    #[test]
    fn fetch_answers_round_trip() {
        let socket = SocketDescription {
            id: "s1".into(),
            nsp: "/".into(),
            rooms: vec!["s1".into(), "r".into()],
            data: Value::from("d"),
            auth: Value::Null,
            address: Some("127.0.0.1".into()),
            headers: vec![("host".into(), "h".into())],
        };
        let message = Message::fetch_response("me", "/", "req", std::slice::from_ref(&socket));
        let back = Message::from_pubsub(&message.to_pubsub().expect("encodable")).expect("valid");
        assert_eq!(back.kind, kind::FETCH_SOCKETS_RESPONSE);
        assert_eq!(back.sockets(), vec![socket]);
    }
}
