//! Single Engine.IO packets: what a client may send, what the server sends besides
//! application messages, and the codec of one packet in text or binary form.
//!
//! A packet is a type digit (`0` open … `6` noop) followed by optional data. Binary
//! messages travel as raw binary frames where the transport allows it, and otherwise as
//! base64 text: `b<base64>` in protocol v4, `b4<base64>` in v3 (which keeps the type
//! digit). In v3 a binary frame also starts with the type as a byte (`0x04`).

use base64::Engine as _;
use bytes::Bytes;
use thiserror::Error;

use crate::{Incoming, ProtocolVersion};

/// Why bytes from a client are not Engine.IO. Every decoder returns this instead of
/// panicking, whatever the input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub(crate) enum PacketError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    #[error("invalid base64 data")]
    InvalidBase64,
    #[error("invalid UTF-8 text")]
    InvalidUtf8,
    #[error("invalid length prefix in payload")]
    BadLength,
    #[error("payload ends in the middle of a packet")]
    Truncated,
    #[error("binary payload in a protocol that has none")]
    UnexpectedBinary,
}

/// A packet received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    Open,
    Close,
    /// `probe` is set for `2probe`, the first packet of a websocket upgrade.
    Ping {
        probe: bool,
    },
    Pong {
        probe: bool,
    },
    Message(Incoming),
    Upgrade,
    Noop,
}

/// The packets the server sends besides application messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Control {
    /// The handshake: the whole `0{...}` packet.
    Open(Bytes),
    Close,
    Ping,
    Pong,
    /// `3probe`, the answer to the probe of a websocket upgrade.
    ProbePong,
    Noop,
}

impl Control {
    /// The encoded packet, always text.
    pub(crate) fn encoded(&self) -> Bytes {
        match self {
            Control::Open(b) => b.clone(),
            Control::Close => Bytes::from_static(b"1"),
            Control::Ping => Bytes::from_static(b"2"),
            Control::Pong => Bytes::from_static(b"3"),
            Control::ProbePong => Bytes::from_static(b"3probe"),
            Control::Noop => Bytes::from_static(b"6"),
        }
    }

    /// The encoded packet, borrowed (websocket frames are written from it as it is).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Control::Open(b) => b,
            Control::Close => b"1",
            Control::Ping => b"2",
            Control::Pong => b"3",
            Control::ProbePong => b"3probe",
            Control::Noop => b"6",
        }
    }
}

const TYPE_MESSAGE: u8 = 4;

/// What comes before the data of a binary message in a v3 websocket frame: the
/// packet type as a byte.
pub(crate) const V3_BINARY_PREFIX: &[u8] = &[TYPE_MESSAGE];

/// Decodes a text packet (a websocket text frame, or one packet of a polling payload).
/// `packet` must be valid UTF-8; the message payload is a zero-copy slice of it.
pub(crate) fn decode_text(
    protocol: ProtocolVersion,
    packet: &Bytes,
) -> Result<Inbound, PacketError> {
    let first = *packet.first().ok_or(PacketError::Empty)?;
    if first == b'b' {
        return decode_base64(protocol, packet.slice(1..));
    }
    let kind = first.wrapping_sub(b'0');
    let data = packet.slice(1..);
    Ok(match kind {
        0 => Inbound::Open,
        1 => Inbound::Close,
        2 => Inbound::Ping {
            probe: &data[..] == b"probe",
        },
        3 => Inbound::Pong {
            probe: &data[..] == b"probe",
        },
        4 => Inbound::Message(Incoming::Text(data)),
        5 => Inbound::Upgrade,
        6 => Inbound::Noop,
        _ => return Err(PacketError::UnknownType(first)),
    })
}

/// Decodes the `b…` form of a binary message (`rest` is what follows the `b`).
fn decode_base64(protocol: ProtocolVersion, rest: Bytes) -> Result<Inbound, PacketError> {
    let encoded = match protocol {
        ProtocolVersion::V4 => rest,
        ProtocolVersion::V3 => {
            // v3 keeps the packet type between the `b` and the base64 data; only
            // messages carry binary data.
            match rest.first() {
                Some(&t) if t == b'0' + TYPE_MESSAGE => rest.slice(1..),
                Some(&t) => return Err(PacketError::UnknownType(t)),
                None => return Err(PacketError::Empty),
            }
        }
    };
    let data = base64::engine::general_purpose::STANDARD
        .decode(&encoded)
        .map_err(|_| PacketError::InvalidBase64)?;
    Ok(Inbound::Message(Incoming::Binary(Bytes::from(data))))
}

/// Decodes a binary websocket frame: raw message data in v4; in v3 the packet type
/// byte comes first.
pub(crate) fn decode_binary_frame(
    protocol: ProtocolVersion,
    frame: Bytes,
) -> Result<Inbound, PacketError> {
    match protocol {
        ProtocolVersion::V4 => Ok(Inbound::Message(Incoming::Binary(frame))),
        ProtocolVersion::V3 => decode_v3_binary_packet(frame),
    }
}

/// A v3 binary packet: type byte, then data. Only messages carry binary data; the
/// other types are accepted with their data ignored.
pub(crate) fn decode_v3_binary_packet(packet: Bytes) -> Result<Inbound, PacketError> {
    let kind = *packet.first().ok_or(PacketError::Empty)?;
    Ok(match kind {
        0 => Inbound::Open,
        1 => Inbound::Close,
        2 => Inbound::Ping { probe: false },
        3 => Inbound::Pong { probe: false },
        TYPE_MESSAGE => Inbound::Message(Incoming::Binary(packet.slice(1..))),
        5 => Inbound::Upgrade,
        6 => Inbound::Noop,
        other => return Err(PacketError::UnknownType(other)),
    })
}

/// The text form of a binary message for transports or clients without binary
/// support: `b<base64>` (v4) or `b4<base64>` (v3).
pub(crate) fn encode_base64_message(protocol: ProtocolVersion, data: &[u8]) -> Bytes {
    Bytes::from(encode_base64_string(protocol, data))
}

/// [`encode_base64_message`] as a `String` (websocket text frames take it as it is).
pub(crate) fn encode_base64_string(protocol: ProtocolVersion, data: &[u8]) -> String {
    let prefix = match protocol {
        ProtocolVersion::V4 => "b",
        ProtocolVersion::V3 => "b4",
    };
    let encoded_len = base64::encoded_len(data.len(), true).unwrap_or(0);
    let mut out = String::with_capacity(prefix.len() + encoded_len);
    out.push_str(prefix);
    base64::engine::general_purpose::STANDARD.encode_string(data, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn decodes_every_text_type() {
        let v4 = ProtocolVersion::V4;
        assert_eq!(decode_text(v4, &text("0")), Ok(Inbound::Open));
        assert_eq!(decode_text(v4, &text("1")), Ok(Inbound::Close));
        assert_eq!(
            decode_text(v4, &text("2")),
            Ok(Inbound::Ping { probe: false })
        );
        assert_eq!(
            decode_text(v4, &text("2probe")),
            Ok(Inbound::Ping { probe: true })
        );
        assert_eq!(
            decode_text(v4, &text("3")),
            Ok(Inbound::Pong { probe: false })
        );
        assert_eq!(
            decode_text(v4, &text("3probe")),
            Ok(Inbound::Pong { probe: true })
        );
        assert_eq!(
            decode_text(v4, &text("4héllo 😀")),
            Ok(Inbound::Message(Incoming::Text(text("héllo 😀"))))
        );
        assert_eq!(
            decode_text(v4, &text("4")),
            Ok(Inbound::Message(Incoming::Text(text(""))))
        );
        assert_eq!(decode_text(v4, &text("5")), Ok(Inbound::Upgrade));
        assert_eq!(decode_text(v4, &text("6")), Ok(Inbound::Noop));
    }

    #[test]
    fn rejects_malformed_text() {
        let v4 = ProtocolVersion::V4;
        assert_eq!(decode_text(v4, &text("")), Err(PacketError::Empty));
        assert_eq!(
            decode_text(v4, &text("7")),
            Err(PacketError::UnknownType(b'7'))
        );
        assert_eq!(
            decode_text(v4, &text("x")),
            Err(PacketError::UnknownType(b'x'))
        );
        assert_eq!(
            decode_text(v4, &text("/")),
            Err(PacketError::UnknownType(b'/'))
        );
        assert_eq!(
            decode_text(v4, &text("b!!!")),
            Err(PacketError::InvalidBase64)
        );
        assert_eq!(
            decode_text(v4, &text("bAQ")),
            Err(PacketError::InvalidBase64)
        );
    }

    #[test]
    fn decodes_base64_in_both_protocols() {
        let bin = |v: &[u8]| {
            Ok(Inbound::Message(Incoming::Binary(Bytes::copy_from_slice(
                v,
            ))))
        };
        assert_eq!(
            decode_text(ProtocolVersion::V4, &text("bAQID")),
            bin(&[1, 2, 3])
        );
        assert_eq!(decode_text(ProtocolVersion::V4, &text("b")), bin(&[]));
        assert_eq!(
            decode_text(ProtocolVersion::V3, &text("b4AQID")),
            bin(&[1, 2, 3])
        );
        assert_eq!(
            decode_text(ProtocolVersion::V3, &text("b")),
            Err(PacketError::Empty)
        );
        assert_eq!(
            decode_text(ProtocolVersion::V3, &text("b2AQID")),
            Err(PacketError::UnknownType(b'2'))
        );
        assert_eq!(
            decode_text(ProtocolVersion::V3, &text("b4*")),
            Err(PacketError::InvalidBase64)
        );
    }

    #[test]
    fn binary_frames() {
        let data = Bytes::from_static(&[4, 9, 8]);
        assert_eq!(
            decode_binary_frame(ProtocolVersion::V4, data.clone()),
            Ok(Inbound::Message(Incoming::Binary(data.clone())))
        );
        assert_eq!(
            decode_binary_frame(ProtocolVersion::V3, data),
            Ok(Inbound::Message(Incoming::Binary(Bytes::from_static(&[
                9, 8
            ]))))
        );
        assert_eq!(
            decode_binary_frame(ProtocolVersion::V3, Bytes::new()),
            Err(PacketError::Empty)
        );
        assert_eq!(
            decode_binary_frame(ProtocolVersion::V3, Bytes::from_static(&[9])),
            Err(PacketError::UnknownType(9))
        );
        assert_eq!(
            decode_binary_frame(ProtocolVersion::V4, Bytes::new()),
            Ok(Inbound::Message(Incoming::Binary(Bytes::new())))
        );
    }

    #[test]
    fn encodes_binary_fallbacks() {
        assert_eq!(
            &encode_base64_message(ProtocolVersion::V4, &[1, 2, 3])[..],
            b"bAQID"
        );
        assert_eq!(
            &encode_base64_message(ProtocolVersion::V3, &[1, 2, 3])[..],
            b"b4AQID"
        );
        assert_eq!(&encode_base64_message(ProtocolVersion::V4, &[])[..], b"b");
    }

    #[test]
    fn control_packets() {
        assert_eq!(&Control::Pong.encoded()[..], b"3");
        assert_eq!(Control::Noop.as_bytes(), b"6");
        assert_eq!(
            &Control::Open(Bytes::from_static(b"0{}")).encoded()[..],
            b"0{}"
        );
    }
}
