//! The websocket frame (RFC 6455 §5), as a server reads and writes it.
//!
//! Reading is two-phase: [`Header::parse`] first says whether a whole header is in the
//! buffer (a partial header is a normal state, not an error) and how long the payload
//! is, so the reader knows how much to wait for before touching the payload. Client
//! frames must be masked; server frames never are, so a server header is at most 10
//! bytes and is written next to the payload, which is never copied.

use super::WebSocketError;

/// Frame opcodes (RFC 6455 §5.2). The others are reserved and refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: short, never fragmented, allowed between the fragments of
    /// a message.
    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Control frames carry at most this much (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: u64 = 125;

/// The longest header a server writes: 2 bytes and a 64-bit length, no mask.
pub(crate) const MAX_SERVER_HEADER: usize = 10;

/// A client frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) opcode: OpCode,
    pub(crate) mask: [u8; 4],
    pub(crate) payload_len: u64,
    /// Bytes of the header itself (2 to 14).
    pub(crate) len: usize,
}

impl Header {
    /// Parses the header at the start of `buf`: `Ok(None)` until all of it is there.
    /// Refuses what a server must refuse: reserved bits (no extension is negotiated),
    /// reserved opcodes, unmasked frames, over-long or fragmented control frames, and
    /// 64-bit lengths with the top bit set.
    pub(crate) fn parse(buf: &[u8]) -> Result<Option<Header>, WebSocketError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        if b0 & 0x70 != 0 {
            return Err(WebSocketError::Protocol("reserved bits set"));
        }
        let fin = b0 & 0x80 != 0;
        let opcode =
            OpCode::from_bits(b0 & 0x0F).ok_or(WebSocketError::Protocol("reserved opcode"))?;
        if b1 & 0x80 == 0 {
            return Err(WebSocketError::Protocol("unmasked client frame"));
        }
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 2),
                _ => return Ok(None),
            },
            127 => match buf.get(2..10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
                Some(bytes) => (u64::from_be_bytes(bytes), 8),
                None => return Ok(None),
            },
            n => (u64::from(n), 0),
        };
        if payload_len >> 63 != 0 {
            return Err(WebSocketError::Protocol(
                "payload length with the top bit set",
            ));
        }
        if opcode.is_control() && (!fin || payload_len > MAX_CONTROL_PAYLOAD) {
            return Err(WebSocketError::Protocol(
                "fragmented or over-long control frame",
            ));
        }
        let mask_at = 2 + len_bytes;
        let Some(mask) = buf
            .get(mask_at..mask_at + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
        else {
            return Ok(None);
        };
        Ok(Some(Header {
            fin,
            opcode,
            mask,
            payload_len,
            len: mask_at + 4,
        }))
    }
}

/// Writes the header of a final, unmasked server frame into `out`; returns its length.
pub(crate) fn encode_header(
    opcode: OpCode,
    payload_len: usize,
    out: &mut [u8; MAX_SERVER_HEADER],
) -> usize {
    out[0] = 0x80 | opcode.bits();
    if payload_len < 126 {
        out[1] = payload_len as u8;
        2
    } else if let Ok(len) = u16::try_from(payload_len) {
        out[1] = 126;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
        10
    }
}

/// Unmasks `data` in place; `offset` is the position of `data[0]` in the frame's
/// payload (a payload may be unmasked in pieces).
pub(crate) fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// Close codes a peer may send (RFC 6455 §7.4): the defined ones that may appear on the
/// wire, and the ranges for libraries and applications.
pub(crate) fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}

/// Close codes the server sends.
pub(crate) mod close_code {
    pub(crate) const PROTOCOL_ERROR: u16 = 1002;
    pub(crate) const INVALID_DATA: u16 = 1007;
    pub(crate) const TOO_BIG: u16 = 1009;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A masked client frame, as a browser would send it.
    pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn parses_the_three_length_forms() {
        for len in [0usize, 125, 126, 65_535, 65_536] {
            let frame = client_frame(true, 2, &vec![7; len], [1, 2, 3, 4]);
            let header = Header::parse(&frame).ok().flatten();
            let expected_len = match len {
                0..=125 => 6,
                126..=65_535 => 8,
                _ => 14,
            };
            assert_eq!(
                header,
                Some(Header {
                    fin: true,
                    opcode: OpCode::Binary,
                    mask: [1, 2, 3, 4],
                    payload_len: len as u64,
                    len: expected_len,
                })
            );
            // Every strict prefix of the header is incomplete, not an error.
            for cut in 0..expected_len {
                assert!(
                    matches!(Header::parse(&frame[..cut]), Ok(None)),
                    "{len} {cut}"
                );
            }
        }
    }

    #[test]
    fn refuses_what_a_server_must_refuse() {
        let refused =
            |bytes: &[u8]| matches!(Header::parse(bytes), Err(WebSocketError::Protocol(_)));
        assert!(refused(&[0x81, 0x05])); // unmasked
        assert!(refused(&[0xC1, 0x80, 0, 0, 0, 0])); // RSV1 (no compression negotiated)
        assert!(refused(&[0x83, 0x80, 0, 0, 0, 0])); // reserved data opcode
        assert!(refused(&[0x8B, 0x80, 0, 0, 0, 0])); // reserved control opcode
        assert!(refused(&[0x09, 0x80, 0, 0, 0, 0])); // fragmented ping
        assert!(refused(&[0x89, 0xFE, 0, 126, 0, 0, 0, 0])); // ping of 126 bytes
        let mut huge = vec![0x82, 0xFF];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        huge.extend_from_slice(&[0; 4]);
        assert!(refused(&huge));
    }

    #[test]
    fn unmasks_from_any_offset() {
        let mask = [0xA1, 0xB2, 0xC3, 0xD4];
        let plain: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let masked: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        for split in [0, 1, 2, 3, 5, 8, 13, 999] {
            let mut data = masked.clone();
            let (a, b) = data.split_at_mut(split);
            unmask(a, mask, 0);
            unmask(b, mask, split);
            assert_eq!(data, plain, "split at {split}");
        }
    }

    #[test]
    fn server_headers() {
        let mut out = [0u8; MAX_SERVER_HEADER];
        assert_eq!(encode_header(OpCode::Text, 5, &mut out), 2);
        assert_eq!(out[..2], [0x81, 5]);
        assert_eq!(encode_header(OpCode::Binary, 300, &mut out), 4);
        assert_eq!(out[..4], [0x82, 126, 1, 44]);
        assert_eq!(encode_header(OpCode::Close, 70_000, &mut out), 10);
        assert_eq!(out[..10], [0x88, 127, 0, 0, 0, 0, 0, 1, 17, 112]);
    }

    #[test]
    fn close_codes() {
        for ok in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(is_valid_close_code(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000] {
            assert!(!is_valid_close_code(bad), "{bad}");
        }
    }
}
