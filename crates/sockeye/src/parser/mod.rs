//! Socket.IO packet codecs: the default text parser (socket.io-parser 4.x for
//! protocol v5, 3.x for v4) and the msgpack parser (socket.io-msgpack-parser 3.x).
//!
//! Encoding is done once per packet and the result ([`Outgoing`]) is shared by every
//! recipient of a broadcast, so [`encode`] builds each frame in a single allocation and
//! binary data is never copied (attachments are `Bytes` handles into the caller's
//! buffers). Event and ack encoding does not depend on the protocol revision, so one
//! encoded broadcast serves v4 and v5 clients alike.
//!
//! Decoding is strict: anything the reference decoder rejects is rejected, plus a few
//! things it lets through that a Rust server cannot represent or should not trust
//! (documented on [`ParseError`] variants and in the submodules). Those the malformed-input
//! corpus (`e2e/tests/hostile-packets.test.mjs`) sends, where the reference server keeps
//! the connection and Sockeye closes it:
//!
//! - an EVENT or ACK without a payload (`42`), which the reference decoder never
//!   validates and hands on as a nameless event;
//! - an ACK without an id (`43[...]`), which the reference server ignores;
//! - an event name longer than [`DecodeLimits::max_event_name_len`];
//! - JSON nested deeper than 128 levels (the reference server accepts any depth, and
//!   its process dies of a stack overflow on very deep input).

mod attachments;
mod error;
pub(crate) mod jsnum;
mod json;
mod msgpack;
mod text;
mod validate;

#[cfg(test)]
mod fuzz_tests;

use sockeye_engine::{Incoming, Outgoing};

use crate::{Packet, ProtocolRevision};

pub use error::{MsgPackError, ParseError};

/// Which wire format a server speaks (all clients of a server use the same one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParserKind {
    /// JSON text packets, binary data as separate attachments.
    #[default]
    Default,
    /// One msgpack-encoded binary message per packet (`socket.io-msgpack-parser`).
    MsgPack,
}

/// Bounds on what a client may send, checked before the work they would cause.
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    /// Most binary attachments one packet may announce (default 10, the reference
    /// decoder's `maxAttachments`). The count is read before any attachment arrives,
    /// so this bounds what a partially received packet can make us hold.
    pub max_attachments: usize,
    /// Longest event name accepted, in bytes (default 1024). Names are used as map
    /// keys to find handlers; real applications use short names, and a megabyte
    /// name is only a way to make the server hash and log a megabyte.
    pub max_event_name_len: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_attachments: 10,
            max_event_name_len: 1024,
        }
    }
}

/// Encodes a packet into Engine.IO messages: one text message followed by the binary
/// attachments for the default parser, one binary message for msgpack.
///
/// The text frame (with its leading Engine.IO `4`) is written into one buffer sized
/// up front from an upper bound of its length, so it is allocated exactly once;
/// attachments are handles to the packet's own `Bytes`.
pub fn encode(parser: ParserKind, rev: ProtocolRevision, packet: &Packet) -> Outgoing {
    match parser {
        ParserKind::Default => text::encode(rev, packet),
        ParserKind::MsgPack => msgpack::encode(rev, packet),
    }
}

/// Decodes the messages of one connection into packets. It holds the state of a
/// binary packet whose attachments are still arriving (default parser only).
///
/// After an error the decoder forgets any partially received packet, so it can be
/// used again; servers usually close the connection instead.
#[derive(Debug)]
pub struct Decoder {
    parser: ParserKind,
    rev: ProtocolRevision,
    limits: DecodeLimits,
    pending: Option<attachments::Pending>,
}

impl Decoder {
    pub fn new(parser: ParserKind, rev: ProtocolRevision, limits: DecodeLimits) -> Self {
        Decoder {
            parser,
            rev,
            limits,
            pending: None,
        }
    }

    /// Feeds one Engine.IO message. `Ok(None)` while a binary packet waits for
    /// attachments.
    pub fn decode(&mut self, msg: Incoming) -> Result<Option<Packet>, ParseError> {
        let result = self.decode_message(msg);
        if result.is_err() {
            self.pending = None;
        }
        result
    }

    /// Whether a binary packet is waiting for more attachments.
    pub fn is_waiting_for_attachments(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops a partially received packet, if any.
    pub fn reset(&mut self) {
        self.pending = None;
    }

    fn decode_message(&mut self, msg: Incoming) -> Result<Option<Packet>, ParseError> {
        match (self.parser, msg) {
            (ParserKind::MsgPack, Incoming::Binary(data)) => {
                msgpack::decode(&data, self.rev, &self.limits).map(Some)
            }
            (ParserKind::MsgPack, Incoming::Text(_)) => Err(ParseError::TextMessage),
            (ParserKind::Default, Incoming::Text(data)) => {
                if let Some(pending) = &self.pending {
                    return Err(ParseError::UnexpectedText {
                        remaining: pending.remaining(),
                    });
                }
                let text = std::str::from_utf8(&data).map_err(|_| ParseError::InvalidUtf8)?;
                match text::decode(text, self.rev, &self.limits)? {
                    text::Decoded::Complete(packet) => Ok(Some(packet)),
                    text::Decoded::Partial(pending) => {
                        self.pending = Some(pending);
                        Ok(None)
                    }
                }
            }
            (ParserKind::Default, Incoming::Binary(data)) => {
                let pending = self.pending.as_mut().ok_or(ParseError::UnexpectedBinary)?;
                pending.push(data);
                if pending.remaining() > 0 {
                    return Ok(None);
                }
                match self.pending.take() {
                    Some(pending) => pending.finish().map(Some),
                    None => Err(ParseError::UnexpectedBinary),
                }
            }
        }
    }
}
