//! The write side of a websocket connection: the items taken from the session's
//! queue, written as frames with one vectored write per batch.
//!
//! Each frame is its header (a few bytes on the stack) followed by the message's own
//! buffer, so a broadcast's bytes are never copied per recipient: the system call
//! gathers them. Progress is kept as "frame N of the first item, M bytes of it
//! written", so a write the socket takes only in part resumes where it stopped, and
//! nothing but the items themselves is held between writes. Pongs and the close frame
//! go out at the next frame boundary (RFC 6455 §5.4: a control frame may come between
//! the frames of a message, never inside one).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use smallvec::SmallVec;
use tokio::io::AsyncWrite;

use super::frame::{encode_header, OpCode, MAX_SERVER_HEADER};
use crate::packet;
use crate::queue::Item;
use crate::{Message, ProtocolVersion};

/// Frames gathered into one write: with a header and up to two payload parts each,
/// well under the system's limit of 1024 slices.
const FRAMES_PER_WRITE: usize = 32;
const SLICES_PER_WRITE: usize = 3 * FRAMES_PER_WRITE;

/// A pong or the close frame.
struct ControlFrame {
    opcode: OpCode,
    payload: Bytes,
    written: usize,
}

#[derive(Default)]
pub(crate) struct FrameWriter {
    items: VecDeque<Item>,
    /// Frames of `items[0]` already written.
    frame: usize,
    /// Bytes of the current data frame (header included) already written.
    written: usize,
    /// The base64 text of the current frame, for a client that takes binary data as
    /// base64 (`b64=1`): made once, kept until the frame is written.
    base64: Option<Box<[u8]>>,
    /// Pongs and the close frame, in order; only the first may be partly written.
    control: Vec<ControlFrame>,
    /// The close frame is queued: no data frame is started any more.
    closing: bool,
    /// The close frame was written.
    closed: bool,
}

/// The payload of a data frame.
enum Payload<'a> {
    /// A prefix (v3's binary type byte) and the message's bytes.
    Parts(&'static [u8], &'a [u8]),
    /// Binary data the client wants as base64 text.
    Base64(&'a [u8]),
}

/// Frame `index` of `item`, or `None` past its last frame.
fn frame_of(
    item: &Item,
    index: usize,
    protocol: ProtocolVersion,
    b64: bool,
) -> Option<(OpCode, Payload<'_>)> {
    match item {
        Item::Control(control) if index == 0 => {
            Some((OpCode::Text, Payload::Parts(b"", control.as_bytes())))
        }
        Item::Control(_) => None,
        Item::Out(outgoing) => match outgoing.messages().get(index)? {
            Message::Text(text) => Some((OpCode::Text, Payload::Parts(b"", text))),
            Message::Binary(data) if b64 => Some((OpCode::Text, Payload::Base64(data))),
            Message::Binary(data) => Some((
                OpCode::Binary,
                match protocol {
                    ProtocolVersion::V4 => Payload::Parts(b"", data),
                    ProtocolVersion::V3 => Payload::Parts(packet::V3_BINARY_PREFIX, data),
                },
            )),
        },
    }
}

/// What one planned frame is, to account for the bytes the socket took.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Control,
}

/// The slices of one write. Inline and never initialised beyond what is used: one is
/// made for every write.
type Slices<'a> = SmallVec<[IoSlice<'a>; SLICES_PER_WRITE]>;
/// Each planned frame's kind and the bytes of it in the slices.
type Planned = SmallVec<[(Kind, usize); FRAMES_PER_WRITE]>;

/// Collects the slices of one write, skipping what was already written.
struct Gather<'a, 'p> {
    slices: &'p mut Slices<'a>,
    frames: &'p mut Planned,
}

impl<'a> Gather<'a, '_> {
    fn is_full(&self) -> bool {
        self.frames.len() == FRAMES_PER_WRITE
    }

    /// Adds a frame made of `parts`, of which `skip` bytes were already written.
    fn frame(&mut self, kind: Kind, parts: [&'a [u8]; 3], mut skip: usize) {
        let mut len = 0;
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            let rest = &part[skip..];
            skip = 0;
            len += rest.len();
            self.slices.push(IoSlice::new(rest));
        }
        self.frames.push((kind, len));
    }
}

impl FrameWriter {
    /// Nothing left to write.
    pub(crate) fn is_idle(&self) -> bool {
        (self.items.is_empty() || self.closing) && self.control.is_empty()
    }

    /// Where the session's queued items go, after those still pending.
    pub(crate) fn items(&mut self) -> &mut VecDeque<Item> {
        &mut self.items
    }

    /// Answers a ping. Only the latest ping is answered when several wait, as RFC 6455
    /// allows; none after the close frame.
    pub(crate) fn pong(&mut self, payload: Bytes) {
        if self.closing {
            return;
        }
        match self.control.last_mut() {
            Some(last) if last.written == 0 => last.payload = payload,
            _ => self.control.push(ControlFrame {
                opcode: OpCode::Pong,
                payload,
                written: 0,
            }),
        }
    }

    /// Ends the connection with a close frame (carrying `code`, if any). The data frame
    /// in progress is finished first; queued items not yet started are dropped.
    pub(crate) fn close(&mut self, code: Option<u16>) {
        if self.closing {
            return;
        }
        self.closing = true;
        // A pong not yet started is dropped too.
        self.control.retain(|c| c.written > 0);
        let payload = code.map_or_else(Bytes::new, |c| Bytes::copy_from_slice(&c.to_be_bytes()));
        self.control.push(ControlFrame {
            opcode: OpCode::Close,
            payload,
            written: 0,
        });
    }

    /// Writes until everything pending is written (or the close frame is), the socket
    /// would block, or it fails. An idle writer frees the items' buffer.
    pub(crate) fn poll_write<S: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut S,
        protocol: ProtocolVersion,
        b64: bool,
    ) -> Poll<io::Result<()>> {
        loop {
            self.prepare_current(protocol, b64);
            if self.is_idle() {
                if self.items.capacity() > 0 {
                    // Idle: free the buffer (and, after a close, what was dropped).
                    self.items = VecDeque::new();
                }
                return Poll::Ready(Ok(()));
            }
            let mut headers = [[0u8; MAX_SERVER_HEADER]; FRAMES_PER_WRITE];
            let mut frames = Planned::new();
            let written = {
                let mut slices = Slices::new();
                let mut gather = Gather {
                    slices: &mut slices,
                    frames: &mut frames,
                };
                self.plan(&mut gather, &mut headers, protocol, b64);
                match Pin::new(&mut *io).poll_write_vectored(cx, &slices) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => return Poll::Pending,
                }
            };
            self.advance(written, &frames);
        }
    }

    /// Drops the items whose frames are all written, and makes the base64 text of the
    /// current frame when it needs one.
    fn prepare_current(&mut self, protocol: ProtocolVersion, b64: bool) {
        while let Some(item) = self.items.front() {
            match frame_of(item, self.frame, protocol, b64) {
                None => {
                    self.items.pop_front();
                    self.frame = 0;
                    self.written = 0;
                    self.base64 = None;
                }
                Some((_, Payload::Base64(data))) => {
                    if self.base64.is_none() {
                        let text = packet::encode_base64_string(protocol, data);
                        self.base64 = Some(text.into_bytes().into_boxed_slice());
                    }
                    return;
                }
                Some(_) => return,
            }
        }
    }

    /// Gathers the next frames in the order they must go: the rest of a data frame in
    /// progress, the control frames, then whole data frames (none after a close).
    fn plan<'a>(
        &'a self,
        gather: &mut Gather<'a, '_>,
        headers: &'a mut [[u8; MAX_SERVER_HEADER]; FRAMES_PER_WRITE],
        protocol: ProtocolVersion,
        b64: bool,
    ) {
        let mut headers = headers.iter_mut();
        let mut data = self.data_frames(protocol, b64);
        if self.written > 0 {
            if let (Some((opcode, (prefix, body))), Some(header)) = (data.next(), headers.next()) {
                let n = encode_header(opcode, prefix.len() + body.len(), header);
                let header: &'a [u8; MAX_SERVER_HEADER] = header;
                gather.frame(Kind::Data, [&header[..n], prefix, body], self.written);
            }
        }
        for control in &self.control {
            let Some(header) = headers.next() else { return };
            let n = encode_header(control.opcode, control.payload.len(), header);
            let header: &'a [u8; MAX_SERVER_HEADER] = header;
            gather.frame(
                Kind::Control,
                [&header[..n], &control.payload, b""],
                control.written,
            );
            if control.opcode == OpCode::Close || gather.is_full() {
                return;
            }
        }
        if self.closing {
            return;
        }
        for (opcode, (prefix, body)) in data {
            let Some(header) = headers.next() else { return };
            let n = encode_header(opcode, prefix.len() + body.len(), header);
            let header: &'a [u8; MAX_SERVER_HEADER] = header;
            gather.frame(Kind::Data, [&header[..n], prefix, body], 0);
            if gather.is_full() {
                return;
            }
        }
    }

    /// The data frames from the current one on, as (prefix, body), ending before a
    /// base64 frame other than the current one (its text is not made yet).
    fn data_frames(
        &self,
        protocol: ProtocolVersion,
        b64: bool,
    ) -> impl Iterator<Item = (OpCode, (&'static [u8], &[u8]))> + '_ {
        let mut item = 0;
        let mut frame = self.frame;
        let mut first = true;
        std::iter::from_fn(move || loop {
            let current = self.items.get(item)?;
            match frame_of(current, frame, protocol, b64) {
                None => {
                    item += 1;
                    frame = 0;
                }
                Some((opcode, payload)) => {
                    let parts = match payload {
                        Payload::Parts(prefix, body) => (prefix, body),
                        Payload::Base64(_) if first => (&b""[..], self.base64.as_deref()?),
                        Payload::Base64(_) => return None,
                    };
                    first = false;
                    frame += 1;
                    return Some((opcode, parts));
                }
            }
        })
    }

    /// Accounts for `written` bytes taken by the socket, frame by frame in the order
    /// they were planned.
    fn advance(&mut self, mut written: usize, frames: &[(Kind, usize)]) {
        for &(kind, remaining) in frames {
            let taken = written.min(remaining);
            written -= taken;
            let done = taken == remaining;
            match kind {
                Kind::Data if done => {
                    self.frame += 1;
                    self.written = 0;
                    self.base64 = None;
                    self.skip_finished_item();
                }
                Kind::Data => self.written += taken,
                Kind::Control if done => {
                    let control = self.control.remove(0);
                    if control.opcode == OpCode::Close {
                        self.closed = true;
                    }
                }
                Kind::Control => {
                    if let Some(first) = self.control.first_mut() {
                        first.written += taken;
                    }
                }
            }
            if !done {
                return;
            }
        }
    }

    /// Pops the first item once its last frame is written.
    fn skip_finished_item(&mut self) {
        let finished = match self.items.front() {
            Some(Item::Control(_)) => self.frame >= 1,
            Some(Item::Out(outgoing)) => self.frame >= outgoing.messages().len(),
            None => false,
        };
        if finished {
            self.items.pop_front();
            self.frame = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Control;
    use crate::Outgoing;
    use std::sync::Arc;

    /// A sink that takes at most `limit` bytes per write, or nothing when `limit` is 0.
    struct Trickle {
        out: Vec<u8>,
        limit: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            if this.limit == 0 {
                return Poll::Pending;
            }
            let n = buf.len().min(this.limit);
            this.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let mut total = 0;
            for buf in bufs {
                let room = this.limit.saturating_sub(total);
                if room == 0 {
                    break;
                }
                let n = buf.len().min(room);
                this.out.extend_from_slice(&buf[..n]);
                total += n;
            }
            if total == 0 && this.limit == 0 {
                let _ = cx;
                return Poll::Pending;
            }
            Poll::Ready(Ok(total))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn run(
        writer: &mut FrameWriter,
        limit: usize,
        protocol: ProtocolVersion,
        b64: bool,
    ) -> Vec<u8> {
        let mut sink = Trickle {
            out: Vec::new(),
            limit,
        };
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut rounds = 0;
        while writer
            .poll_write(&mut cx, &mut sink, protocol, b64)
            .is_pending()
        {
            rounds += 1;
            assert!(rounds < 100_000);
        }
        sink.out
    }

    /// Server frames as the client reads them: (opcode, payload).
    fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let [b0, b1, rest @ ..] = bytes {
            assert_eq!(b0 & 0x80, 0x80, "final bit");
            assert_eq!(b1 & 0x80, 0, "server frames are not masked");
            let (len, rest) = match b1 & 0x7F {
                126 => (
                    usize::from(u16::from_be_bytes([rest[0], rest[1]])),
                    &rest[2..],
                ),
                127 => {
                    let mut len = [0u8; 8];
                    len.copy_from_slice(&rest[..8]);
                    (u64::from_be_bytes(len) as usize, &rest[8..])
                }
                n => (usize::from(n), rest),
            };
            out.push((b0 & 0x0F, rest[..len].to_vec()));
            bytes = &rest[len..];
        }
        out
    }

    fn text(s: &str) -> Item {
        Item::Out(Outgoing::One(Message::text(s)))
    }

    fn sample_items() -> Vec<Item> {
        let group: Arc<[Message]> = Arc::from(vec![
            Message::text("51-[\"bin\",{\"_placeholder\":true,\"num\":0}]"),
            Message::binary(vec![9u8; 300]),
        ]);
        vec![
            Item::Control(Control::Ping),
            text("2[\"hello\"]"),
            Item::Out(Outgoing::Group(group)),
            text(&"x".repeat(70_000)),
        ]
    }

    fn expected(protocol: ProtocolVersion) -> Vec<(u8, Vec<u8>)> {
        let mut binary = vec![9u8; 300];
        if protocol == ProtocolVersion::V3 {
            binary.insert(0, 4);
        }
        vec![
            (1, b"2".to_vec()),
            (1, b"42[\"hello\"]".to_vec()),
            (
                1,
                b"451-[\"bin\",{\"_placeholder\":true,\"num\":0}]".to_vec(),
            ),
            (2, binary),
            (1, [b"4".as_slice(), "x".repeat(70_000).as_bytes()].concat()),
        ]
    }

    #[test]
    fn writes_every_frame_whatever_the_socket_takes_per_call() {
        for protocol in [ProtocolVersion::V4, ProtocolVersion::V3] {
            for limit in [1, 2, 3, 7, 100, 4096, usize::MAX] {
                let mut writer = FrameWriter::default();
                writer.items().extend(sample_items());
                let out = run(&mut writer, limit, protocol, false);
                assert_eq!(
                    frames(&out),
                    expected(protocol),
                    "{protocol:?} limit {limit}"
                );
                assert!(writer.is_idle());
                assert_eq!(writer.items.capacity(), 0, "an idle writer keeps no buffer");
            }
        }
    }

    #[test]
    fn more_frames_than_one_write_gathers() {
        let mut writer = FrameWriter::default();
        let n = FRAMES_PER_WRITE * 3 + 5;
        writer.items().extend((0..n).map(|i| text(&i.to_string())));
        let out = run(&mut writer, usize::MAX, ProtocolVersion::V4, false);
        let got = frames(&out);
        assert_eq!(got.len(), n);
        for (i, (_, payload)) in got.iter().enumerate() {
            assert_eq!(payload, format!("4{i}").as_bytes());
        }
    }

    #[test]
    fn binary_as_base64_for_b64_clients() {
        for (protocol, prefix) in [(ProtocolVersion::V4, "b"), (ProtocolVersion::V3, "b4")] {
            let mut writer = FrameWriter::default();
            writer.items().extend([
                Item::Out(Outgoing::One(Message::binary(vec![1u8, 2]))),
                Item::Out(Outgoing::One(Message::binary(vec![3u8]))),
                text("after"),
            ]);
            let out = run(&mut writer, 3, protocol, true);
            assert_eq!(
                frames(&out),
                vec![
                    (1, format!("{prefix}AQI=").into_bytes()),
                    (1, format!("{prefix}Aw==").into_bytes()),
                    (1, b"4after".to_vec()),
                ]
            );
        }
    }

    /// Writes once (at most `limit` bytes), as a socket that then blocks.
    fn write_once(writer: &mut FrameWriter, limit: usize) -> Vec<u8> {
        let mut sink = Trickle {
            out: Vec::new(),
            limit,
        };
        let mut calls = 0;
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let poll = writer.poll_write(
            &mut cx,
            &mut OneShot(&mut sink, &mut calls),
            ProtocolVersion::V4,
            false,
        );
        assert!(poll.is_pending());
        sink.out
    }

    #[test]
    fn nothing_is_lost_while_the_socket_blocks() {
        let mut writer = FrameWriter::default();
        writer.items().extend([text("a")]);
        assert!(write_once(&mut writer, 0).is_empty());
        let out = run(&mut writer, usize::MAX, ProtocolVersion::V4, false);
        assert_eq!(frames(&out), vec![(1, b"4a".to_vec())]);
    }

    #[test]
    fn pong_waits_for_the_frame_in_progress() {
        let mut writer = FrameWriter::default();
        writer.items().extend([text(&"a".repeat(200)), text("b")]);
        let first = write_once(&mut writer, 50);
        writer.pong(Bytes::from_static(b"old"));
        writer.pong(Bytes::from_static(b"p"));
        let rest = run(&mut writer, 7, ProtocolVersion::V4, false);
        assert_eq!(
            frames(&[first, rest].concat()),
            vec![
                (1, [b"4".as_slice(), "a".repeat(200).as_bytes()].concat()),
                (0xA, b"p".to_vec()),
                (1, b"4b".to_vec()),
            ]
        );
    }

    /// Takes one write, then blocks.
    struct OneShot<'a>(&'a mut Trickle, &'a mut usize);

    impl AsyncWrite for OneShot<'_> {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            if *this.1 > 0 {
                return Poll::Pending;
            }
            *this.1 += 1;
            Pin::new(&mut *this.0).poll_write_vectored(cx, bufs)
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn close_finishes_the_frame_in_progress_and_drops_the_rest() {
        let mut writer = FrameWriter::default();
        writer
            .items()
            .extend([text(&"a".repeat(100)), text("dropped")]);
        let first = write_once(&mut writer, 30);
        writer.pong(Bytes::from_static(b"dropped too"));
        writer.close(Some(1009));
        writer.pong(Bytes::from_static(b"after the close"));
        let rest = run(&mut writer, 11, ProtocolVersion::V4, false);
        assert!(writer.closed);
        assert_eq!(
            frames(&[first, rest].concat()),
            vec![
                (1, [b"4".as_slice(), "a".repeat(100).as_bytes()].concat()),
                (8, 1009u16.to_be_bytes().to_vec()),
            ]
        );
    }
}
