//! Broadcasts with acknowledgements across nodes, as `@socket.io/redis-adapter` 8
//! exchanges them:
//!
//! 1. the emitting node publishes a BROADCAST request (msgpack) on the request
//!    channel: `{uid, requestId, type: 7, packet, opts: {rooms, except, flags}}`,
//!    `flags.timeout` being how long the emitter waits, in milliseconds;
//! 2. every other node sends the packet to its matching sockets, answers with
//!    BROADCAST_CLIENT_COUNT (JSON) `{type: 8, requestId, clientCount}`,
//! 3. then with one BROADCAST_ACK (msgpack) `{type: 9, requestId, packet}` per
//!    client acknowledgement, `packet` being its first argument (what Node.js keeps).
//!    Sockeye adds `args`, every argument, which Node.js ignores and Sockeye nodes
//!    prefer, so that a Sockeye-only cluster keeps whole acknowledgements.

use std::time::Duration;

use rmpv::Value as Mp;
use sockeye::adapter::BroadcastOptions;
use sockeye::{Packet, Value};

use super::broadcast::{
    decode_msgpack, field, opts_from_msgpack, opts_to_msgpack, packet_from_msgpack,
    packet_to_msgpack,
};
use super::request::RequestType;
use super::value::{from_msgpack, to_msgpack};
use crate::RedisAdapterError;

/// A BROADCAST request from another node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AckBroadcast {
    pub uid: String,
    pub request_id: String,
    pub packet: Packet,
    pub opts: BroadcastOptions,
    /// How long the emitter waits for acknowledgements, when it says.
    pub timeout: Option<Duration>,
}

impl AckBroadcast {
    /// The msgpack bytes; `None` for a packet kind that is never broadcast.
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let mut opts = opts_to_msgpack(&self.opts, true);
        if let (Some(timeout), Mp::Map(entries)) = (self.timeout, &mut opts) {
            for (key, flags) in entries.iter_mut() {
                if let (Some("flags"), Mp::Map(flags)) = (key.as_str(), flags) {
                    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
                    flags.push((Mp::from("timeout"), Mp::from(ms)));
                }
            }
        }
        let message = Mp::Map(vec![
            (Mp::from("uid"), Mp::from(self.uid.as_str())),
            (Mp::from("requestId"), Mp::from(self.request_id.as_str())),
            (Mp::from("type"), Mp::from(RequestType::Broadcast as u8)),
            (Mp::from("packet"), packet_to_msgpack(&self.packet)?),
            (Mp::from("opts"), opts),
        ]);
        write(&message)
    }

    /// A msgpack request whose `type` is BROADCAST.
    pub(crate) fn decode(request: &Mp) -> Result<Self, RedisAdapterError> {
        let text = |name: &str| -> Result<String, RedisAdapterError> {
            field(request, name)
                .and_then(Mp::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    RedisAdapterError::Malformed(format!("broadcast request without {name}"))
                })
        };
        let packet = field(request, "packet").cloned().ok_or_else(|| {
            RedisAdapterError::Malformed("broadcast request without packet".into())
        })?;
        let opts = field(request, "opts").cloned().unwrap_or(Mp::Nil);
        let timeout = field(&opts, "flags")
            .and_then(|f| field(f, "timeout"))
            .and_then(|t| t.as_u64().or_else(|| t.as_f64().map(|f| f.max(0.0) as u64)))
            .map(Duration::from_millis);
        Ok(AckBroadcast {
            uid: text("uid")?,
            request_id: text("requestId")?,
            packet: packet_from_msgpack(packet)?,
            opts: opts_from_msgpack(&opts),
            timeout,
        })
    }
}

/// A msgpack request or response: its `type`, if any.
pub(crate) fn kind_of(message: &Mp) -> Option<u64> {
    field(message, "type").and_then(Mp::as_u64)
}

/// Decodes a msgpack request or response (a map).
pub(crate) fn decode(bytes: &[u8]) -> Result<Mp, RedisAdapterError> {
    decode_msgpack(bytes)
}

/// The BROADCAST_ACK answer carrying one client's acknowledgement.
pub(crate) fn ack_response(request_id: &str, args: &[Value]) -> Option<Vec<u8>> {
    let first = args.first().map(to_msgpack).unwrap_or(Mp::Nil);
    let message = Mp::Map(vec![
        (Mp::from("type"), Mp::from(RequestType::BroadcastAck as u8)),
        (Mp::from("requestId"), Mp::from(request_id)),
        (Mp::from("packet"), first),
        (
            Mp::from("args"),
            Mp::Array(args.iter().map(to_msgpack).collect()),
        ),
    ]);
    write(&message)
}

/// The request id and acknowledgement arguments of a BROADCAST_ACK answer: `args`
/// from a Sockeye node, else Node.js's single `packet`.
pub(crate) fn parse_ack_response(message: &Mp) -> Option<(String, Vec<Value>)> {
    let request_id = request_id_of(message)?;
    let args = match field(message, "args") {
        Some(Mp::Array(items)) => items.iter().cloned().map(from_msgpack).collect(),
        _ => vec![field(message, "packet")
            .cloned()
            .map(from_msgpack)
            .unwrap_or(Value::Null)],
    };
    Some((request_id, args))
}

/// A request id as a string, whether written as a string or a number.
pub(crate) fn request_id_of(message: &Mp) -> Option<String> {
    match field(message, "requestId")? {
        Mp::String(s) => s.as_str().map(str::to_string),
        Mp::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn write(message: &Mp) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, message).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye::adapter::Room;

    #[test]
    fn broadcast_request_round_trips_with_its_timeout() {
        let request = AckBroadcast {
            uid: "n1".into(),
            request_id: "r1".into(),
            packet: Packet::event("/", "ping", vec![Value::from(1u64)]),
            opts: BroadcastOptions {
                rooms: vec![Room::from("a")],
                ..Default::default()
            },
            timeout: Some(Duration::from_millis(1500)),
        };
        let bytes = request.encode().expect("encodable");
        let decoded = decode(&bytes).expect("msgpack");
        assert_eq!(kind_of(&decoded), Some(RequestType::Broadcast as u64));
        assert_eq!(AckBroadcast::decode(&decoded).expect("valid"), request);
    }

    #[test]
    fn ack_answers_carry_every_argument_and_the_first_for_node() {
        let bytes = ack_response("r1", &[Value::from("a"), Value::from(2u64)]).expect("encodable");
        let message = decode(&bytes).expect("msgpack");
        assert_eq!(field(&message, "packet").and_then(Mp::as_str), Some("a"));
        assert_eq!(
            parse_ack_response(&message),
            Some(("r1".to_string(), vec![Value::from("a"), Value::from(2u64)]))
        );
        // What Node.js sends: only `packet`.
        let node = Mp::Map(vec![
            (Mp::from("type"), Mp::from(9u8)),
            (Mp::from("requestId"), Mp::from("r2")),
            (Mp::from("packet"), Mp::from("b")),
        ]);
        assert_eq!(
            parse_ack_response(&node),
            Some(("r2".to_string(), vec![Value::from("b")]))
        );
    }
}
