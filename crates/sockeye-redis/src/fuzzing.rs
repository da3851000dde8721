//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, not a public API):
//! decode what another node (or an emitter in any language) publishes, the way the
//! dispatchers do before acting on it, and encode for the local clients whatever
//! broadcast comes out of it.

use sockeye::{Packet, ParserKind, ProtocolRevision};

use crate::cluster::message::{kind, Message};
use crate::wire::ack::{self, AckBroadcast};
use crate::wire::broadcast::BroadcastMessage;
use crate::wire::request::{is_json, rooms_of, Request, Response};

/// Decodes `bytes` as a message of the classic adapter's broadcast channel (`channel`
/// 0), its request channel (1) or a response channel (2). Returns whether it decoded.
pub fn decode_message(channel: u8, bytes: &[u8]) -> bool {
    match channel % 3 {
        0 => match BroadcastMessage::decode(bytes) {
            Ok(message) => {
                encode_for_clients(message.packet);
                true
            }
            Err(_) => false,
        },
        1 if is_json(bytes) => match Request::parse(bytes) {
            Ok(request) => {
                if let Some(opts) = &request.opts {
                    let _ = opts.to_options();
                }
                let _ = rooms_of(request.rooms.as_deref().unwrap_or_default());
                true
            }
            Err(_) => false,
        },
        1 => match ack::decode(bytes).and_then(|m| AckBroadcast::decode(&m)) {
            Ok(broadcast) => {
                encode_for_clients(broadcast.packet);
                true
            }
            Err(_) => false,
        },
        _ if is_json(bytes) => Response::parse(bytes).is_ok(),
        _ => match ack::decode(bytes) {
            Ok(message) => {
                let _ = ack::parse_ack_response(&message);
                let _ = ack::request_id_of(&message);
                true
            }
            Err(_) => false,
        },
    }
}

/// Decodes one entry of the streams adapter's stream, given as `<id>\0<field>\0<value>\0…`
/// (an XREAD reply in the RESP2 shape, or the RESP3 one when `resp3`), and reads it
/// as the stream reader does. Returns whether it decoded.
pub fn decode_stream_entry(bytes: &[u8], resp3: bool) -> bool {
    use redis::Value as R;
    let mut parts = bytes.split(|&b| b == 0).map(|p| R::BulkString(p.to_vec()));
    let Some(id) = parts.next() else {
        return false;
    };
    let parts: Vec<R> = parts.collect();
    let fields = if resp3 {
        R::Map(
            parts
                .chunks(2)
                .map(|kv| (kv[0].clone(), kv.get(1).cloned().unwrap_or(R::Nil)))
                .collect(),
        )
    } else {
        R::Array(parts)
    };
    let stream = R::BulkString(b"socket.io".to_vec());
    let entries = R::Array(vec![R::Array(vec![id, fields])]);
    let reply = if resp3 {
        R::Map(vec![(stream, entries)])
    } else {
        R::Array(vec![R::Array(vec![stream, entries])])
    };
    let mut decoded = false;
    for entry in crate::streams::fuzzing::xread_entries(&reply) {
        let _ = entry.id.to_string();
        if let Ok(message) = Message::from_stream_fields(&entry.fields) {
            read_stream_entry(&message);
            decoded = true;
        }
    }
    decoded
}

/// Decodes a message of the streams adapter's pub/sub channels (msgpack) and reads it
/// as a request or an answer. Returns whether it decoded.
pub fn decode_streams_pubsub(bytes: &[u8]) -> bool {
    match Message::from_pubsub(bytes) {
        Ok(message) => {
            read_request_or_answer(&message);
            true
        }
        Err(_) => false,
    }
}

/// Decodes a disconnected session as another node stored it (base64 msgpack).
pub fn decode_session(bytes: &[u8]) -> bool {
    crate::streams::fuzzing::decode_session(bytes)
}

/// Decodes a message of the sharded adapter's channels (JSON text or msgpack) and reads
/// it as the adapter does. Returns whether it decoded.
pub fn decode_sharded_message(bytes: &[u8]) -> bool {
    match Message::from_sharded(bytes) {
        Ok(message) => {
            read_request_or_answer(&message);
            read_stream_entry(&message);
            true
        }
        Err(_) => false,
    }
}

/// What `StreamsAdapter::on_stream_message` (and the sharded adapter for the same
/// types) reads of a message.
fn read_stream_entry(message: &Message) {
    match message.kind {
        kind::BROADCAST => {
            let _ = message.request_id();
            if let Ok((packet, _opts)) = message.broadcast_parts() {
                encode_for_clients(packet);
            }
        }
        kind::SOCKETS_JOIN | kind::SOCKETS_LEAVE => {
            let _ = (message.opts(), message.room_list());
        }
        kind::DISCONNECT_SOCKETS => {
            let _ = (message.opts(), message.close());
        }
        _ => {}
    }
}

/// What `cluster::exchange::Exchange::on_request_or_answer` reads of a message.
fn read_request_or_answer(message: &Message) {
    let _ = message.request_id();
    match message.kind {
        kind::BROADCAST => {
            let _ = message.flag_timeout();
            if let Ok((packet, _opts)) = message.broadcast_parts() {
                encode_for_clients(packet);
            }
        }
        kind::FETCH_SOCKETS => {
            let _ = message.opts();
        }
        kind::SERVER_SIDE_EMIT => {
            let _ = message.server_event();
        }
        kind::FETCH_SOCKETS_RESPONSE => {
            let _ = message.sockets();
        }
        kind::BROADCAST_CLIENT_COUNT => {
            let _ = message.client_count_value();
        }
        kind::BROADCAST_ACK | kind::SERVER_SIDE_EMIT_RESPONSE => {
            let _ = message.ack_value();
        }
        _ => {}
    }
}

/// A broadcast from another node is encoded once for this node's clients, with both
/// parsers and both protocol revisions.
fn encode_for_clients(mut packet: Packet) {
    packet.nsp = "/".to_string();
    for parser in [ParserKind::Default, ParserKind::MsgPack] {
        for rev in [ProtocolRevision::V4, ProtocolRevision::V5] {
            let _ = sockeye::parser::encode(parser, rev, &packet);
        }
    }
}
