//! Entry points for the benchmarks in `benches/` (feature `bench`, not a public API):
//! the websocket reader and writer on in-memory streams.

use std::io;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::message::Outgoing;
use crate::queue::Item;
use crate::websocket::{read_stream, FrameWriter};
use crate::{Message, ProtocolVersion};

/// The connection's writer, fed whole batches.
#[derive(Default)]
pub struct Writer(FrameWriter);

impl Writer {
    /// Writes `messages` as text or binary frames (v4), as one batch, into `io`, which
    /// must never block.
    pub fn write_batch<S: AsyncWrite + Unpin>(
        &mut self,
        messages: &[Message],
        io: &mut S,
    ) -> io::Result<()> {
        self.0
            .items()
            .extend(messages.iter().map(|m| Item::Out(Outgoing::One(m.clone()))));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        match self.0.poll_write(&mut cx, io, ProtocolVersion::V4, false) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// Reads every message of a client's byte stream (masked frames), in reads of `chunk`
/// bytes; returns how many were read.
pub fn read_messages(bytes: &[u8], chunk: usize, max_message: usize) -> usize {
    read_stream(bytes, chunk, max_message).0.len()
}
