//! The messages an emitter publishes, in the format of `@socket.io/redis-emitter` 5:
//! broadcasts are msgpack (shared with the adapter, see `wire::broadcast`), room
//! changes, disconnects and server-side emits are JSON requests.

use rmpv::Value as Mp;
use serde_json::{json, Value as Json};
use sockeye::adapter::Room;
use sockeye::{Packet, Value};

use super::EmitterError;
use crate::wire::broadcast::encode_broadcast;

/// The uid emitters write on broadcasts and server-side emits (room and disconnect
/// requests carry none): no node has it, so every node applies the message.
pub(crate) const EMITTER_UID: &str = "emitter";

/// `RequestType` numbers of the Node.js adapter used by emitters.
pub(crate) const REMOTE_JOIN: u8 = 2;
pub(crate) const REMOTE_LEAVE: u8 = 3;
pub(crate) const REMOTE_DISCONNECT: u8 = 4;
pub(crate) const SERVER_SIDE_EMIT: u8 = 6;

/// Event names Socket.IO keeps for itself (`RESERVED_EVENTS` of socket.io).
pub(crate) const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Which sockets an emitter addresses, and how.
#[derive(Clone, Debug, Default)]
pub(crate) struct Target {
    pub rooms: Vec<Room>,
    pub except: Vec<Room>,
    pub volatile: bool,
    pub compress: Option<bool>,
}

impl Target {
    fn rooms_msgpack(list: &[Room]) -> Mp {
        Mp::Array(list.iter().map(|r| Mp::from(&**r)).collect())
    }

    /// `{rooms, except, flags}` with only the flags that were set, as Node.js writes them.
    fn opts_msgpack(&self) -> Mp {
        let mut flags = Vec::new();
        if self.volatile {
            flags.push((Mp::from("volatile"), Mp::Boolean(true)));
        }
        if let Some(compress) = self.compress {
            flags.push((Mp::from("compress"), Mp::Boolean(compress)));
        }
        Mp::Map(vec![
            (Mp::from("rooms"), Self::rooms_msgpack(&self.rooms)),
            (Mp::from("flags"), Mp::Map(flags)),
            (Mp::from("except"), Self::rooms_msgpack(&self.except)),
        ])
    }

    fn opts_json(&self) -> Json {
        let list = |rooms: &[Room]| rooms.iter().map(|r| Json::from(&**r)).collect::<Vec<_>>();
        json!({ "rooms": list(&self.rooms), "except": list(&self.except) })
    }
}

pub(crate) fn check_event(event: &str) -> Result<(), EmitterError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitterError::ReservedEvent(event.to_string()));
    }
    Ok(())
}

/// The broadcast of `event` to the target's sockets of `nsp`.
pub(crate) fn broadcast(
    nsp: &str,
    target: &Target,
    event: &str,
    args: Vec<Value>,
) -> Result<Vec<u8>, EmitterError> {
    let packet = Packet::event(nsp, event, args);
    encode_broadcast(EMITTER_UID, &packet, target.opts_msgpack())
        .ok_or_else(|| EmitterError::Encode("event packet".into()))
}

/// REMOTE_JOIN or REMOTE_LEAVE of the target's sockets.
pub(crate) fn rooms_request(kind: u8, target: &Target, rooms: &[Room]) -> String {
    let rooms: Vec<Json> = rooms.iter().map(|r| Json::from(&**r)).collect();
    json!({ "type": kind, "opts": target.opts_json(), "rooms": rooms }).to_string()
}

/// REMOTE_DISCONNECT of the target's sockets.
pub(crate) fn disconnect_request(target: &Target, close: bool) -> String {
    json!({
        "type": REMOTE_DISCONNECT,
        "opts": target.opts_json(),
        "close": close,
    })
    .to_string()
}

/// SERVER_SIDE_EMIT: `data` is `[event, ...args]`, without an ack.
pub(crate) fn server_side_emit(event: &str, args: Vec<Value>) -> Result<String, EmitterError> {
    if let Some(index) = args.iter().position(contains_binary) {
        return Err(EmitterError::BinaryInServerSideEmit { index });
    }
    let mut data = vec![Json::from(event)];
    data.extend(args.into_iter().map(Json::from));
    Ok(json!({ "uid": EMITTER_UID, "type": SERVER_SIDE_EMIT, "data": data }).to_string())
}

fn contains_binary(value: &Value) -> bool {
    match value {
        Value::Binary(_) => true,
        Value::Array(items) => items.iter().any(contains_binary),
        Value::Object(map) => map.values().any(contains_binary),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::broadcast::BroadcastMessage;
    use sockeye::adapter::{BroadcastFlags, BroadcastOptions};

    #[test]
    fn broadcast_decodes_as_the_adapter_reads_it() {
        let target = Target {
            rooms: vec![Room::from("r1")],
            except: vec![Room::from("r2")],
            volatile: true,
            compress: Some(false),
        };
        let bytes =
            broadcast("/chat", &target, "ev", vec![Value::from(vec![1u8])]).expect("encodable");
        let decoded = BroadcastMessage::decode(&bytes).expect("decodable");
        assert_eq!(decoded.uid, "emitter");
        assert_eq!(
            decoded.packet,
            Packet::event("/chat", "ev", vec![Value::from(vec![1u8])])
        );
        assert_eq!(
            decoded.opts,
            BroadcastOptions {
                rooms: vec![Room::from("r1")],
                except: vec![Room::from("r2")],
                flags: BroadcastFlags {
                    volatile: true,
                    local: false
                },
            }
        );
    }

    #[test]
    fn requests_are_the_node_emitter_json() {
        let target = Target {
            rooms: vec![Room::from("a")],
            ..Default::default()
        };
        let join: Json =
            serde_json::from_str(&rooms_request(REMOTE_JOIN, &target, &[Room::from("b")]))
                .expect("json");
        assert_eq!(
            join,
            json!({"type": 2, "opts": {"rooms": ["a"], "except": []}, "rooms": ["b"]})
        );
        let close: Json =
            serde_json::from_str(&disconnect_request(&Target::default(), true)).expect("json");
        assert_eq!(close["type"], 4);
        assert_eq!(close["close"], true);
        let sse: Json =
            serde_json::from_str(&server_side_emit("hi", vec![Value::from(1u64)]).expect("json"))
                .expect("json");
        assert_eq!(sse, json!({"uid": "emitter", "type": 6, "data": ["hi", 1]}));
    }

    #[test]
    fn binary_cannot_go_into_json() {
        let args = vec![
            Value::from(1u64),
            Value::Array(vec![Value::from(vec![0u8])]),
        ];
        assert!(matches!(
            server_side_emit("x", args),
            Err(EmitterError::BinaryInServerSideEmit { index: 1 })
        ));
    }
}
