//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, not a public API).
//!
//! The decoders are crate-private; these wrappers let the fuzzers reach them with raw
//! bytes exactly as the transports would hand them over, and check the invariants a
//! decoder must keep whatever it is given.

use bytes::Bytes;

use crate::packet::{self, Inbound};
use crate::{payload, Incoming, ProtocolVersion};

fn protocol(v3: bool) -> ProtocolVersion {
    if v3 {
        ProtocolVersion::V3
    } else {
        ProtocolVersion::V4
    }
}

/// Decodes a polling request body (`binary`: sent as `application/octet-stream`).
/// Returns how many packets were decoded before the end or the first malformed one.
pub fn decode_payload(v3: bool, binary: bool, body: &[u8]) -> usize {
    let decoded = payload::decode(protocol(v3), binary, Bytes::copy_from_slice(body));
    for packet in &decoded.packets {
        check_message(packet, body.len());
    }
    decoded.packets.len()
}

/// Decodes one websocket frame, text (which the transport only passes on when it is
/// valid UTF-8) or binary. Returns whether it was a well-formed packet.
pub fn decode_frame(v3: bool, text: bool, frame: &[u8]) -> bool {
    let frame = Bytes::copy_from_slice(frame);
    let decoded = if text {
        if std::str::from_utf8(&frame).is_err() {
            return false;
        }
        packet::decode_text(protocol(v3), &frame)
    } else {
        packet::decode_binary_frame(protocol(v3), frame.clone())
    };
    match decoded {
        Ok(packet) => {
            check_message(&packet, frame.len());
            true
        }
        Err(_) => false,
    }
}

/// A decoded message never holds more bytes than the input it came from (base64
/// only shrinks), so no input can make a decoder allocate more than it was sent.
fn check_message(packet: &Inbound, input_len: usize) {
    if let Inbound::Message(message) = packet {
        let len = match message {
            Incoming::Text(text) => text.len(),
            Incoming::Binary(data) => data.len(),
        };
        assert!(len <= input_len, "{len} bytes decoded from {input_len}");
    }
}

/// Reads raw bytes from a client as the websocket connection would, cut into reads of
/// `chunk` bytes, with `max_message` as the size limit. Returns how many messages and
/// control frames were read before the end or the first error.
pub fn read_websocket(bytes: &[u8], chunk: usize, max_message: usize) -> usize {
    let (received, _error) = crate::websocket::read_stream(bytes, chunk, max_message);
    let total: usize = received.iter().map(received_len).sum();
    // Unmasking and reassembly never make more bytes than were sent.
    assert!(
        total <= bytes.len(),
        "{total} bytes read from {}",
        bytes.len()
    );
    received.len()
}

fn received_len(received: &crate::websocket::Received) -> usize {
    use crate::websocket::Received;
    match received {
        Received::Text(b) | Received::Binary(b) | Received::Ping(b) => b.len(),
        Received::Pong | Received::Close(_) => 0,
    }
}
