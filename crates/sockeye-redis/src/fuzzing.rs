//! Entry point for the fuzz target in `fuzz/` (feature `fuzzing`, not a public API):
//! decodes what another node (or an emitter in any language) publishes, the way the
//! dispatcher does before acting on it.

use crate::wire::ack::{self, AckBroadcast};
use crate::wire::broadcast::BroadcastMessage;
use crate::wire::request::{is_json, rooms_of, Request, Response};

/// Decodes `bytes` as a message of the broadcast channel (`channel` 0), the request
/// channel (1) or a response channel (2). Returns whether it decoded.
pub fn decode_message(channel: u8, bytes: &[u8]) -> bool {
    match channel % 3 {
        0 => BroadcastMessage::decode(bytes).is_ok(),
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
        1 => match ack::decode(bytes) {
            Ok(message) => AckBroadcast::decode(&message).is_ok(),
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
