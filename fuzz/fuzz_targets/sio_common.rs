//! Shared by the Socket.IO parser targets: turns fuzz input into the sequence of
//! Engine.IO messages one connection would deliver, and feeds them to one decoder.

use bytes::Bytes;
use sockeye::parser::{DecodeLimits, Decoder};
use sockeye::{ParserKind, ProtocolRevision};
use sockeye_engine::Incoming;

/// Input layout: one byte for the protocol revision, then messages, each a header
/// byte (low bit: binary) and a 16-bit little-endian length, then that many bytes.
pub fn run(parser: ParserKind, data: &[u8]) {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let rev = if mode & 1 == 1 {
        ProtocolRevision::V4
    } else {
        ProtocolRevision::V5
    };
    let mut decoder = Decoder::new(parser, rev, DecodeLimits::default());
    while rest.len() >= 3 {
        let binary = rest[0] & 1 == 1;
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let body = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let message = if binary {
            Incoming::Binary(Bytes::copy_from_slice(body))
        } else {
            match std::str::from_utf8(body) {
                // The engine only hands over valid UTF-8 text.
                Ok(text) => Incoming::Text(Bytes::copy_from_slice(text.as_bytes())),
                Err(_) => continue,
            }
        };
        if decoder.decode(message).is_err() {
            // A connection is closed after a parse error; the decoder must still be
            // usable (it resets itself), which the next messages check.
            assert!(!decoder.is_waiting_for_attachments());
        }
    }
}
