//! Polling payloads: several packets in one HTTP body.
//!
//! - v4: packets joined by the record separator `0x1e`; binary messages as `b<base64>`.
//! - v3 text: each packet prefixed by `<length>:`, the length counted in UTF-16 code
//!   units (JavaScript string length); binary messages as `b4<base64>`.
//! - v3 binary (XHR2, `application/octet-stream`): each packet prefixed by `0x00`
//!   (text) or `0x01` (binary), the byte length as one byte per decimal digit (each
//!   0–9), and `0xff`; binary packets start with their type byte `0x04`.
//!
//! Encoders produce a list of chunks so that large shared message buffers are written
//! as they are, without a copy per recipient; only small framing is copied.

use bytes::{BufMut, Bytes, BytesMut};

use crate::packet::{self, Inbound, PacketError};
use crate::queue::Item;
use crate::{Message, ProtocolVersion};

const SEPARATOR: u8 = 0x1e;
/// Message buffers at least this large are sent as their own chunk instead of copied.
const SHARE_THRESHOLD: usize = 256;
/// Longest digit run accepted in a length prefix (more could not be a real length).
const MAX_LENGTH_DIGITS: usize = 19;

/// An encoded response body.
#[derive(Debug, Default)]
pub(crate) struct EncodedPayload {
    pub(crate) chunks: Vec<Bytes>,
    /// The v3 binary format (`application/octet-stream`) was used.
    pub(crate) binary: bool,
}

#[cfg(test)]
impl EncodedPayload {
    pub(crate) fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }
}

/// Gathers small writes in one buffer and keeps large shared buffers as they are.
#[derive(Default)]
struct Chunks {
    done: Vec<Bytes>,
    small: BytesMut,
}

impl Chunks {
    fn put_slice(&mut self, s: &[u8]) {
        self.small.put_slice(s);
    }

    fn put_u8(&mut self, b: u8) {
        self.small.put_u8(b);
    }

    fn put_shared(&mut self, b: &Bytes) {
        if b.len() < SHARE_THRESHOLD {
            self.small.put_slice(b);
        } else {
            self.flush_small();
            self.done.push(b.clone());
        }
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.done.push(self.small.split().freeze());
        }
    }

    fn finish(mut self) -> Vec<Bytes> {
        self.flush_small();
        self.done
    }
}

/// One packet to encode: text (whole packet, type digit included) or binary message data.
enum Piece {
    Text(Bytes),
    Binary(Bytes),
}

fn pieces(items: &[Item]) -> impl Iterator<Item = Piece> + '_ {
    items.iter().flat_map(|item| {
        let (control, messages) = match item {
            Item::Control(c) => (Some(Piece::Text(c.encoded())), &[][..]),
            Item::Out(o) => (None, o.messages()),
        };
        control.into_iter().chain(messages.iter().map(|m| match m {
            Message::Text(b) => Piece::Text(b.clone()),
            Message::Binary(b) => Piece::Binary(b.clone()),
        }))
    })
}

/// Encodes a batch for a polling response. `b64` is the client's `b64` flag (v3: no
/// binary payloads).
pub(crate) fn encode(protocol: ProtocolVersion, b64: bool, items: &[Item]) -> EncodedPayload {
    match protocol {
        ProtocolVersion::V4 => encode_v4(items),
        ProtocolVersion::V3 => {
            let has_binary = pieces(items).any(|p| matches!(p, Piece::Binary(_)));
            if has_binary && !b64 {
                encode_v3_binary(items)
            } else {
                encode_v3_text(items)
            }
        }
    }
}

fn encode_v4(items: &[Item]) -> EncodedPayload {
    let mut out = Chunks::default();
    for (i, piece) in pieces(items).enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        match piece {
            Piece::Text(t) => out.put_shared(&t),
            Piece::Binary(b) => {
                out.put_shared(&packet::encode_base64_message(ProtocolVersion::V4, &b))
            }
        }
    }
    EncodedPayload {
        chunks: out.finish(),
        binary: false,
    }
}

fn encode_v3_text(items: &[Item]) -> EncodedPayload {
    let mut out = Chunks::default();
    for piece in pieces(items) {
        let packet = match piece {
            Piece::Text(t) => t,
            Piece::Binary(b) => packet::encode_base64_message(ProtocolVersion::V3, &b),
        };
        let units = utf16_len(&packet);
        out.put_slice(units.to_string().as_bytes());
        out.put_u8(b':');
        out.put_shared(&packet);
    }
    EncodedPayload {
        chunks: out.finish(),
        binary: false,
    }
}

fn encode_v3_binary(items: &[Item]) -> EncodedPayload {
    let mut out = Chunks::default();
    for piece in pieces(items) {
        let (kind, len) = match &piece {
            Piece::Text(t) => (0u8, t.len()),
            Piece::Binary(b) => (1u8, b.len() + 1),
        };
        out.put_u8(kind);
        for digit in len.to_string().bytes() {
            out.put_u8(digit - b'0');
        }
        out.put_u8(0xff);
        match piece {
            Piece::Text(t) => out.put_shared(&t),
            Piece::Binary(b) => {
                out.put_u8(4);
                out.put_shared(&b);
            }
        }
    }
    EncodedPayload {
        chunks: out.finish(),
        binary: true,
    }
}

/// Length of UTF-8 text in UTF-16 code units; invalid UTF-8 (never produced by the
/// message constructors) counts its bytes.
fn utf16_len(text: &[u8]) -> usize {
    match std::str::from_utf8(text) {
        Ok(s) => s.chars().map(char::len_utf16).sum(),
        Err(_) => text.len(),
    }
}

/// The packets of a request body, in order, up to the first malformed one.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) packets: Vec<Inbound>,
    /// Set when decoding stopped at a malformed packet (the session then closes with a
    /// parse error after the packets before it are handled, as the reference does).
    pub(crate) error: Option<PacketError>,
}

impl Decoded {
    fn failed(packets: Vec<Inbound>, error: PacketError) -> Self {
        Decoded {
            packets,
            error: Some(error),
        }
    }
}

/// Decodes a polling request body. `binary` is set for `application/octet-stream`.
pub(crate) fn decode(protocol: ProtocolVersion, binary: bool, body: Bytes) -> Decoded {
    match (protocol, binary) {
        (ProtocolVersion::V4, true) => Decoded::failed(Vec::new(), PacketError::UnexpectedBinary),
        (ProtocolVersion::V4, false) => decode_v4(body),
        (ProtocolVersion::V3, true) => decode_v3_binary(body),
        (ProtocolVersion::V3, false) => decode_v3_text(body),
    }
}

fn decode_v4(body: Bytes) -> Decoded {
    if std::str::from_utf8(&body).is_err() {
        return Decoded::failed(Vec::new(), PacketError::InvalidUtf8);
    }
    let mut packets = Vec::new();
    let mut start = 0;
    loop {
        let end = body[start..]
            .iter()
            .position(|&b| b == SEPARATOR)
            .map_or(body.len(), |i| start + i);
        // Splitting valid UTF-8 at an ASCII byte keeps both sides valid.
        match packet::decode_text(ProtocolVersion::V4, &body.slice(start..end)) {
            Ok(p) => packets.push(p),
            Err(e) => return Decoded::failed(packets, e),
        }
        if end == body.len() {
            return Decoded {
                packets,
                error: None,
            };
        }
        start = end + 1;
    }
}

/// Parses a decimal length, refusing empty, overlong or overflowing digit runs.
fn parse_length(digits: impl Iterator<Item = u8>) -> Result<usize, PacketError> {
    let mut n: usize = 0;
    let mut count = 0;
    for d in digits {
        if d > 9 || count >= MAX_LENGTH_DIGITS {
            return Err(PacketError::BadLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(d as usize))
            .ok_or(PacketError::BadLength)?;
        count += 1;
    }
    if count == 0 {
        return Err(PacketError::BadLength);
    }
    Ok(n)
}

fn decode_v3_text(body: Bytes) -> Decoded {
    let Ok(text) = std::str::from_utf8(&body) else {
        return Decoded::failed(Vec::new(), PacketError::InvalidUtf8);
    };
    if text.is_empty() {
        return Decoded::failed(Vec::new(), PacketError::Empty);
    }
    let mut packets = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let Some(colon) = text[pos..].find(':').map(|i| pos + i) else {
            return Decoded::failed(packets, PacketError::BadLength);
        };
        let units = match parse_length(text[pos..colon].bytes().map(|b| b.wrapping_sub(b'0'))) {
            Ok(n) => n,
            Err(e) => return Decoded::failed(packets, e),
        };
        let start = colon + 1;
        let end = match advance_utf16(&text[start..], units) {
            Ok(len) => start + len,
            Err(e) => return Decoded::failed(packets, e),
        };
        if end > start {
            match packet::decode_text(ProtocolVersion::V3, &body.slice(start..end)) {
                Ok(p) => packets.push(p),
                Err(e) => return Decoded::failed(packets, e),
            }
        }
        pos = end;
    }
    Decoded {
        packets,
        error: None,
    }
}

/// The byte length of the first `units` UTF-16 code units of `text`. Fails when the
/// text is shorter or the count ends inside a surrogate pair.
fn advance_utf16(text: &str, units: usize) -> Result<usize, PacketError> {
    let mut counted = 0;
    for (i, c) in text.char_indices() {
        if counted == units {
            return Ok(i);
        }
        counted += c.len_utf16();
        if counted > units {
            return Err(PacketError::BadLength);
        }
    }
    if counted == units {
        Ok(text.len())
    } else {
        Err(PacketError::Truncated)
    }
}

fn decode_v3_binary(body: Bytes) -> Decoded {
    if body.is_empty() {
        return Decoded::failed(Vec::new(), PacketError::Empty);
    }
    let mut packets = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let is_text = match body[pos] {
            0 => true,
            1 => false,
            other => return Decoded::failed(packets, PacketError::UnknownType(other)),
        };
        let digits_start = pos + 1;
        let Some(ff) = body[digits_start..].iter().position(|&b| b == 0xff) else {
            return Decoded::failed(packets, PacketError::Truncated);
        };
        let digits_end = digits_start + ff;
        let len = match parse_length(body[digits_start..digits_end].iter().copied()) {
            Ok(n) => n,
            Err(e) => return Decoded::failed(packets, e),
        };
        let start = digits_end + 1;
        let Some(end) = start.checked_add(len).filter(|&e| e <= body.len()) else {
            return Decoded::failed(packets, PacketError::Truncated);
        };
        let data = body.slice(start..end);
        let decoded = if is_text {
            if std::str::from_utf8(&data).is_err() {
                return Decoded::failed(packets, PacketError::InvalidUtf8);
            }
            packet::decode_text(ProtocolVersion::V3, &data)
        } else {
            packet::decode_v3_binary_packet(data)
        };
        match decoded {
            Ok(p) => packets.push(p),
            Err(e) => return Decoded::failed(packets, e),
        }
        pos = end;
    }
    Decoded {
        packets,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::packet::Control;
    use crate::{Incoming, Outgoing};

    fn concat(p: &EncodedPayload) -> Vec<u8> {
        p.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }

    fn text_item(s: &str) -> Item {
        Item::Out(Outgoing::One(Message::text(s)))
    }

    fn bin_item(b: &[u8]) -> Item {
        Item::Out(Outgoing::One(Message::binary(b.to_vec())))
    }

    fn text_in(s: &str) -> Inbound {
        Inbound::Message(Incoming::Text(Bytes::copy_from_slice(s.as_bytes())))
    }

    fn bin_in(b: &[u8]) -> Inbound {
        Inbound::Message(Incoming::Binary(Bytes::copy_from_slice(b)))
    }

    fn ok(packets: Vec<Inbound>) -> Decoded {
        Decoded {
            packets,
            error: None,
        }
    }

    #[test]
    fn v4_encoding() {
        let items = vec![
            Item::Control(Control::Ping),
            text_item("héllo"),
            bin_item(&[1, 2, 3]),
            Item::Control(Control::Close),
        ];
        let p = encode(ProtocolVersion::V4, false, &items);
        assert!(!p.binary);
        assert_eq!(concat(&p), "2\x1e4héllo\x1ebAQID\x1e1".as_bytes());
        assert_eq!(p.len(), concat(&p).len());
    }

    #[test]
    fn v4_shares_large_buffers() {
        let big = "x".repeat(1000);
        let msg = Message::text(&big);
        let Message::Text(shared) = msg.clone() else {
            unreachable!()
        };
        let items = vec![Item::Out(Outgoing::One(msg)), Item::Control(Control::Noop)];
        let p = encode(ProtocolVersion::V4, false, &items);
        assert_eq!(p.chunks.len(), 2);
        assert_eq!(
            p.chunks[0].as_ptr(),
            shared.as_ptr(),
            "no copy of the message"
        );
    }

    #[test]
    fn v4_groups_are_flattened_in_order() {
        let group: Arc<[Message]> = vec![Message::text("a"), Message::binary(vec![255u8])].into();
        let items = vec![Item::Out(Outgoing::from(group))];
        assert_eq!(
            concat(&encode(ProtocolVersion::V4, false, &items)),
            b"4a\x1eb/w=="
        );
    }

    #[test]
    fn v3_text_lengths_count_utf16_units() {
        // "4" + "é😀" = 1 + 1 + 2 units, 1 + 2 + 4 bytes
        let items = vec![text_item("é😀"), Item::Control(Control::Pong)];
        let p = encode(ProtocolVersion::V3, false, &items);
        assert_eq!(concat(&p), "4:4é😀1:3".as_bytes());
        assert_eq!(
            decode(ProtocolVersion::V3, false, Bytes::from(concat(&p))),
            ok(vec![text_in("é😀"), Inbound::Pong { probe: false }])
        );
    }

    #[test]
    fn v3_b64_client_gets_text_payload_with_base64() {
        let items = vec![text_item("a"), bin_item(&[1, 2, 3])];
        let p = encode(ProtocolVersion::V3, true, &items);
        assert!(!p.binary);
        assert_eq!(concat(&p), b"2:4a6:b4AQID");
    }

    #[test]
    fn v3_binary_payload_only_when_binary_is_present() {
        let items = vec![text_item("a")];
        assert!(!encode(ProtocolVersion::V3, false, &items).binary);
        let items = vec![text_item("é"), bin_item(&[9, 8])];
        let p = encode(ProtocolVersion::V3, false, &items);
        assert!(p.binary);
        // text: 0x00, "3" bytes, 0xff, "4é"; binary: 0x01, "3", 0xff, 0x04 9 8
        let mut expected = vec![0u8, 3, 0xff];
        expected.extend_from_slice("4é".as_bytes());
        expected.extend_from_slice(&[1, 3, 0xff, 4, 9, 8]);
        assert_eq!(concat(&p), expected);
        assert_eq!(
            decode(ProtocolVersion::V3, true, Bytes::from(expected)),
            ok(vec![text_in("é"), bin_in(&[9, 8])])
        );
    }

    #[test]
    fn v3_binary_lengths_with_many_digits() {
        let data = vec![7u8; 1234];
        let p = encode(ProtocolVersion::V3, false, &[bin_item(&data)]);
        let raw = concat(&p);
        assert_eq!(&raw[..7], &[1, 1, 2, 3, 5, 0xff, 4]);
        assert_eq!(
            decode(ProtocolVersion::V3, true, Bytes::from(raw)),
            ok(vec![bin_in(&data)])
        );
    }

    #[test]
    fn v4_decoding() {
        let body = Bytes::from("4hello\x1ebAQID\x1e2\x1e4😀");
        assert_eq!(
            decode(ProtocolVersion::V4, false, body),
            ok(vec![
                text_in("hello"),
                bin_in(&[1, 2, 3]),
                Inbound::Ping { probe: false },
                text_in("😀")
            ])
        );
        assert_eq!(
            decode(ProtocolVersion::V4, false, Bytes::from("4")),
            ok(vec![text_in("")])
        );
    }

    #[test]
    fn v4_malformed_bodies() {
        let fail =
            |body: &'static [u8]| decode(ProtocolVersion::V4, false, Bytes::from_static(body));
        assert_eq!(fail(b""), Decoded::failed(vec![], PacketError::Empty));
        assert_eq!(
            fail(b"4a\x1e"),
            Decoded::failed(vec![text_in("a")], PacketError::Empty)
        );
        assert_eq!(
            fail(b"4a\x1e9x\x1e4b"),
            Decoded::failed(vec![text_in("a")], PacketError::UnknownType(b'9'))
        );
        assert_eq!(
            fail(b"b@@"),
            Decoded::failed(vec![], PacketError::InvalidBase64)
        );
        assert_eq!(
            fail(b"4\xff\xfe"),
            Decoded::failed(vec![], PacketError::InvalidUtf8)
        );
        assert_eq!(
            decode(ProtocolVersion::V4, true, Bytes::from_static(b"4a")),
            Decoded::failed(vec![], PacketError::UnexpectedBinary)
        );
    }

    #[test]
    fn v3_text_malformed_bodies() {
        let fail = |body: &'static str| decode(ProtocolVersion::V3, false, Bytes::from(body));
        assert_eq!(fail(""), Decoded::failed(vec![], PacketError::Empty));
        assert_eq!(fail("2"), Decoded::failed(vec![], PacketError::BadLength));
        assert_eq!(fail(":4a"), Decoded::failed(vec![], PacketError::BadLength));
        assert_eq!(
            fail("x:4a"),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail("-1:4"),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail("5:4a"),
            Decoded::failed(vec![], PacketError::Truncated)
        );
        assert_eq!(
            fail("2:4a9:4b"),
            Decoded::failed(vec![text_in("a")], PacketError::Truncated)
        );
        assert_eq!(
            fail("99999999999999999999999:4"),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail("18446744073709551615:4"),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail("9999999999:4"),
            Decoded::failed(vec![], PacketError::Truncated)
        );
        // the length ends inside the surrogate pair of the emoji
        assert_eq!(
            fail("2:4😀"),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail("2:9x"),
            Decoded::failed(vec![], PacketError::UnknownType(b'9'))
        );
        assert_eq!(
            fail("3:b4!"),
            Decoded::failed(vec![], PacketError::InvalidBase64)
        );
        assert_eq!(
            fail("2:4a3"),
            Decoded::failed(vec![text_in("a")], PacketError::BadLength)
        );
        // zero-length packets are skipped, as in the reference parser
        assert_eq!(fail("0:2:4a"), ok(vec![text_in("a")]));
        assert_eq!(
            decode(
                ProtocolVersion::V3,
                false,
                Bytes::from_static(b"2:\xff\xfe")
            ),
            Decoded::failed(vec![], PacketError::InvalidUtf8)
        );
    }

    #[test]
    fn v3_binary_malformed_bodies() {
        let fail =
            |body: &'static [u8]| decode(ProtocolVersion::V3, true, Bytes::from_static(body));
        assert_eq!(fail(b""), Decoded::failed(vec![], PacketError::Empty));
        assert_eq!(
            fail(&[2, 1, 0xff, 4]),
            Decoded::failed(vec![], PacketError::UnknownType(2))
        );
        assert_eq!(
            fail(&[0, 1]),
            Decoded::failed(vec![], PacketError::Truncated)
        );
        assert_eq!(
            fail(&[0, 0xff, b'4']),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail(&[0, 12, 0xff, b'4']),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail(&[0, 5, 0xff, b'4']),
            Decoded::failed(vec![], PacketError::Truncated)
        );
        assert_eq!(
            fail(&[1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff]),
            Decoded::failed(vec![], PacketError::BadLength)
        );
        assert_eq!(
            fail(&[0, 2, 0xff, b'4', 0xc3]),
            Decoded::failed(vec![], PacketError::InvalidUtf8)
        );
        assert_eq!(
            fail(&[1, 0, 0xff]),
            Decoded::failed(vec![], PacketError::Empty)
        );
        assert_eq!(
            fail(&[1, 2, 0xff, 9, 1]),
            Decoded::failed(vec![], PacketError::UnknownType(9))
        );
        assert_eq!(
            fail(&[0, 2, 0xff, b'4', b'a', 1, 2]),
            Decoded::failed(vec![text_in("a")], PacketError::Truncated)
        );
    }
}
