//! The read side of a websocket connection: bytes in, whole messages out.
//!
//! An idle connection holds no read buffer. The socket is read into a large buffer on
//! the stack; when it holds exactly one whole frame (the usual case for Engine.IO's
//! small packets) the payload is unmasked straight into the message, and only what is
//! left over (part of a frame, or more frames) is kept on the heap until it is
//! consumed. Limits are checked on the header, before anything is buffered, so a
//! client announcing a huge frame costs nothing.

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};

use super::frame::{is_valid_close_code, unmask, Header, OpCode};
use super::WebSocketError;

/// How much one read of the socket may take.
const READ_CHUNK: usize = 16 * 1024;

/// A message, or a control frame the connection must act on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// A text message, valid UTF-8.
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong,
    /// The peer's close frame, with its status code if it sent one.
    Close(Option<u16>),
}

/// A message whose first frames arrived, waiting for the rest.
struct Fragmented {
    text: bool,
    data: BytesMut,
}

#[derive(Default)]
pub(crate) struct FrameReader {
    /// Bytes read and not consumed yet; no allocation while empty.
    buf: BytesMut,
    /// Boxed: fragmented messages are rare, and every connection carries this field.
    fragmented: Option<Box<Fragmented>>,
}

/// What one parse of the front of a buffer found.
enum Parsed {
    /// Not a whole frame yet; the frame needs this many bytes in all, when known.
    Incomplete(Option<usize>),
    /// A whole frame of `len` bytes (header included).
    Frame(Header, usize),
}

impl FrameReader {
    /// Bytes the client sent before the connection was handed over (right after its
    /// upgrade request).
    pub(crate) fn buffered(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next message or control frame; `Ok(None)` when the peer closed the
    /// connection. Messages and frames above `max_message` bytes are refused with
    /// [`WebSocketError::TooLarge`] as soon as their header announces them.
    pub(crate) fn poll_next<S: AsyncRead + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut S,
        max_message: usize,
    ) -> Poll<Result<Option<Received>, WebSocketError>> {
        loop {
            // Frames already buffered.
            while !self.buf.is_empty() {
                match self.parse(&self.buf, max_message)? {
                    Parsed::Incomplete(needed) => {
                        if let Some(needed) = needed {
                            self.buf.reserve(needed.saturating_sub(self.buf.len()));
                        }
                        break;
                    }
                    Parsed::Frame(header, len) => {
                        let mut frame = self.buf.split_to(len);
                        if self.buf.is_empty() {
                            // Let go of the buffer: the message may keep it alive, an idle
                            // connection must not.
                            self.buf = BytesMut::new();
                        }
                        frame.advance(header.len);
                        unmask(&mut frame, header.mask, 0);
                        if let Some(received) = self.on_frame(header, frame.freeze())? {
                            return Poll::Ready(Ok(Some(received)));
                        }
                    }
                }
            }
            // Read more. Uninitialised: a read that finds nothing costs no memset.
            let mut chunk = [const { MaybeUninit::<u8>::uninit() }; READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            ready!(Pin::new(&mut *io).poll_read(cx, &mut read)).map_err(WebSocketError::Io)?;
            let filled = read.filled_mut();
            if filled.is_empty() {
                return Poll::Ready(Ok(None));
            }
            if self.buf.is_empty() {
                if let Parsed::Frame(header, len) = self.parse(filled, max_message)? {
                    if len == filled.len() {
                        // Exactly one frame: unmask it into the message, keep nothing.
                        let payload = &mut filled[header.len..];
                        unmask(payload, header.mask, 0);
                        let payload = Bytes::copy_from_slice(payload);
                        if let Some(received) = self.on_frame(header, payload)? {
                            return Poll::Ready(Ok(Some(received)));
                        }
                        continue;
                    }
                }
            }
            self.buf.extend_from_slice(filled);
        }
    }

    /// Looks at the frame at the front of `buf`, checking the limits on its header.
    fn parse(&self, buf: &[u8], max_message: usize) -> Result<Parsed, WebSocketError> {
        let Some(header) = Header::parse(buf)? else {
            return Ok(Parsed::Incomplete(None));
        };
        let buffered = match (&self.fragmented, header.opcode) {
            (Some(fragmented), OpCode::Continuation) => fragmented.data.len() as u64,
            (None, OpCode::Continuation) => {
                return Err(WebSocketError::Protocol(
                    "continuation frame without a message",
                ))
            }
            (Some(_), OpCode::Text | OpCode::Binary) => {
                return Err(WebSocketError::Protocol(
                    "new message before the end of a fragmented one",
                ))
            }
            _ => 0,
        };
        let size = buffered.saturating_add(header.payload_len);
        if size > max_message as u64 {
            return Err(WebSocketError::TooLarge {
                size,
                max: max_message,
            });
        }
        // Fits in memory: bounded by `max_message` above.
        let len = header.len + header.payload_len as usize;
        Ok(if buf.len() >= len {
            Parsed::Frame(header, len)
        } else {
            Parsed::Incomplete(Some(len))
        })
    }

    /// Takes one unmasked frame: a message when it completes one.
    fn on_frame(
        &mut self,
        header: Header,
        payload: Bytes,
    ) -> Result<Option<Received>, WebSocketError> {
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                let text = header.opcode == OpCode::Text;
                if header.fin {
                    return message(text, payload).map(Some);
                }
                self.fragmented = Some(Box::new(Fragmented {
                    text,
                    data: BytesMut::from(&payload[..]),
                }));
                Ok(None)
            }
            OpCode::Continuation => {
                let Some(fragmented) = self.fragmented.as_mut() else {
                    return Err(WebSocketError::Protocol(
                        "continuation frame without a message",
                    ));
                };
                fragmented.data.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(None);
                }
                let Some(done) = self.fragmented.take() else {
                    return Ok(None);
                };
                message(done.text, done.data.freeze()).map(Some)
            }
            OpCode::Ping => Ok(Some(Received::Ping(payload))),
            OpCode::Pong => Ok(Some(Received::Pong)),
            OpCode::Close => close_frame(&payload).map(|code| Some(Received::Close(code))),
        }
    }
}

fn message(text: bool, data: Bytes) -> Result<Received, WebSocketError> {
    if !text {
        return Ok(Received::Binary(data));
    }
    if std::str::from_utf8(&data).is_err() {
        return Err(WebSocketError::InvalidUtf8);
    }
    Ok(Received::Text(data))
}

/// The status code of a close frame: none, or a valid code followed by a UTF-8 reason.
fn close_frame(payload: &[u8]) -> Result<Option<u16>, WebSocketError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WebSocketError::Protocol("close frame of one byte")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !is_valid_close_code(code) {
                return Err(WebSocketError::Protocol("invalid close code"));
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(WebSocketError::InvalidUtf8);
            }
            Ok(Some(code))
        }
    }
}

/// The reader on an in-memory stream (tests, and the fuzz target).
#[cfg(any(test, feature = "fuzzing", feature = "bench"))]
pub(crate) fn read_all(
    bytes: &[u8],
    chunk: usize,
    max_message: usize,
) -> (Vec<Received>, Option<WebSocketError>) {
    use std::io;

    struct Chunks<'a> {
        bytes: &'a [u8],
        chunk: usize,
    }
    impl AsyncRead for Chunks<'_> {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            let n = this.chunk.min(this.bytes.len()).min(buf.remaining());
            buf.put_slice(&this.bytes[..n]);
            this.bytes = &this.bytes[n..];
            Poll::Ready(Ok(()))
        }
    }
    let mut io = Chunks {
        bytes,
        chunk: chunk.max(1),
    };
    let mut reader = FrameReader::default();
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = Vec::new();
    loop {
        match reader.poll_next(&mut cx, &mut io, max_message) {
            Poll::Ready(Ok(Some(received))) => out.push(received),
            Poll::Ready(Ok(None)) | Poll::Pending => return (out, None),
            Poll::Ready(Err(error)) => return (out, Some(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::tests::client_frame;
    use super::*;
    use std::io;

    const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    fn frames(parts: &[(bool, u8, &[u8])]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|&(fin, op, payload)| client_frame(fin, op, payload, MASK))
            .collect()
    }

    /// Every way of cutting the stream into reads gives the same messages.
    fn read_every_way(bytes: &[u8], max: usize) -> (Vec<Received>, Option<String>) {
        let (first, error) = read_all(bytes, READ_CHUNK, max);
        let first_error = error.map(|e| e.to_string());
        for chunk in [1, 2, 3, 5, 13, 100] {
            let (got, error) = read_all(bytes, chunk, max);
            assert_eq!(got, first, "chunk {chunk}");
            assert_eq!(error.map(|e| e.to_string()), first_error, "chunk {chunk}");
        }
        (first, first_error)
    }

    #[test]
    fn messages_control_frames_and_fragments() {
        let big = vec![b'z'; 70_000];
        let bytes = frames(&[
            (true, 1, b"4hello"),
            (true, 2, &[1, 2, 3]),
            (false, 1, "4h\u{e9}".as_bytes().get(..3).unwrap_or_default()),
            (true, 9, b"ping data"),
            (false, 0, "4h\u{e9}".as_bytes().get(3..).unwrap_or_default()),
            (true, 0, b"!"),
            (true, 10, b""),
            (true, 2, &big),
            (true, 8, &[0x03, 0xE8, b'o', b'k']),
        ]);
        let (got, error) = read_every_way(&bytes, 100_000);
        assert_eq!(error, None);
        assert_eq!(
            got,
            vec![
                Received::Text(Bytes::from_static(b"4hello")),
                Received::Binary(Bytes::from_static(&[1, 2, 3])),
                Received::Ping(Bytes::from_static(b"ping data")),
                Received::Text(Bytes::from("4h\u{e9}!")),
                Received::Pong,
                Received::Binary(Bytes::from(big)),
                Received::Close(Some(1000)),
            ]
        );
    }

    #[test]
    fn refuses_oversized_messages_from_their_header() {
        // One frame too big: refused before its payload arrives.
        let header_only = &client_frame(true, 2, &[0; 2000], MASK)[..8];
        let (got, error) = read_all(header_only, READ_CHUNK, 1000);
        assert!(got.is_empty());
        assert!(matches!(
            error,
            Some(WebSocketError::TooLarge {
                size: 2000,
                max: 1000
            })
        ));
        // Fragments adding up to too much.
        let bytes = frames(&[(false, 1, &[b'a'; 600]), (true, 0, &[b'a'; 600])]);
        let (_, error) = read_every_way(&bytes, 1000);
        assert_eq!(
            error.as_deref(),
            Some("message of 1200 bytes exceeds the limit of 1000 bytes")
        );
        // Exactly at the limit is fine.
        let bytes = frames(&[(false, 2, &[0; 500]), (true, 0, &[0; 500])]);
        assert_eq!(read_every_way(&bytes, 1000).1, None);
    }

    #[test]
    fn protocol_errors() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                frames(&[(true, 0, b"x")]),
                "continuation frame without a message",
            ),
            (
                frames(&[(false, 1, b"4"), (true, 1, b"x")]),
                "new message before the end of a fragmented one",
            ),
            (frames(&[(true, 1, &[0xC3, 0x28])]), "invalid UTF-8"),
            (
                frames(&[(false, 1, &[0xE2, 0x82]), (true, 0, &[0x28])]),
                "invalid UTF-8",
            ),
            (frames(&[(true, 8, &[3])]), "close frame of one byte"),
            (frames(&[(true, 8, &[0x03, 0xED])]), "invalid close code"),
            (frames(&[(true, 8, &[0x03, 0xE8, 0xFF])]), "invalid UTF-8"),
            (vec![0x81, 0x01, b'x'], "unmasked client frame"),
        ];
        for (bytes, expected) in cases {
            let (_, error) = read_every_way(&bytes, 1000);
            let error = error.unwrap_or_default();
            assert!(
                error.contains(expected),
                "{error:?} should say {expected:?}"
            );
        }
    }

    #[test]
    fn split_text_keeps_multibyte_characters_whole() {
        // A character split across two fragments is valid once joined.
        let euro = "4\u{20ac}".as_bytes();
        let bytes = frames(&[(false, 1, &euro[..2]), (true, 0, &euro[2..])]);
        let (got, error) = read_every_way(&bytes, 100);
        assert_eq!(error, None);
        assert_eq!(got, vec![Received::Text(Bytes::from("4\u{20ac}"))]);
    }

    #[test]
    fn an_idle_reader_keeps_no_buffer() {
        let bytes = frames(&[(true, 1, b"4a"), (true, 1, b"4b")]);
        // Two frames in one read: the second is kept until it is taken.
        struct Once<'a>(&'a [u8]);
        impl AsyncRead for Once<'_> {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                if this.0.is_empty() {
                    return Poll::Pending;
                }
                buf.put_slice(this.0);
                this.0 = &[];
                Poll::Ready(Ok(()))
            }
        }
        let mut io = Once(&bytes);
        let mut reader = FrameReader::default();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let first = reader.poll_next(&mut cx, &mut io, 100);
        assert!(matches!(first, Poll::Ready(Ok(Some(Received::Text(_))))));
        assert!(reader.buf.capacity() > 0);
        let second = reader.poll_next(&mut cx, &mut io, 100);
        assert!(matches!(second, Poll::Ready(Ok(Some(Received::Text(_))))));
        assert_eq!(reader.buf.capacity(), 0);
        assert!(reader.poll_next(&mut cx, &mut io, 100).is_pending());
        assert_eq!(reader.buf.capacity(), 0);
    }
}
