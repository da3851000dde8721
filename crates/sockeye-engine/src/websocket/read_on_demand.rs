//! A read side that holds no buffer while the connection is idle.
//!
//! tungstenite keeps a read buffer for the whole life of a connection, and reads at
//! most that buffer's size per call. [`ReadOnDemand`] lets the buffer be tiny without
//! multiplying the system calls: it reads the socket into a large buffer on the stack,
//! hands tungstenite what it asked for, and keeps the rest on the heap only until
//! tungstenite has taken it. An idle connection holds tungstenite's small buffer and
//! nothing else.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much one read of the socket may take.
const READ_CHUNK: usize = 16 * 1024;

/// Wraps a stream; writes pass through.
pub(crate) struct ReadOnDemand<S> {
    inner: S,
    /// Bytes read from the socket and not yet handed out, from `start`.
    pending: Vec<u8>,
    start: usize,
}

impl<S> ReadOnDemand<S> {
    pub(crate) fn new(inner: S) -> Self {
        ReadOnDemand {
            inner,
            pending: Vec::new(),
            start: 0,
        }
    }

    /// Copies pending bytes into `buf`; frees the pending buffer once it is drained.
    fn hand_out(&mut self, buf: &mut ReadBuf<'_>) {
        let n = buf.remaining().min(self.pending.len() - self.start);
        buf.put_slice(&self.pending[self.start..self.start + n]);
        self.start += n;
        if self.start == self.pending.len() {
            self.pending = Vec::new();
            self.start = 0;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadOnDemand<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.start < this.pending.len() {
            this.hand_out(buf);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= READ_CHUNK {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        // Uninitialised: a poll that finds nothing to read costs no memset.
        let mut chunk = [const { MaybeUninit::<u8>::uninit() }; READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
        let filled = read.filled();
        let n = buf.remaining().min(filled.len());
        buf.put_slice(&filled[..n]);
        if n < filled.len() {
            this.pending = filled[n..].to_vec();
            this.start = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadOnDemand<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_reads_get_every_byte_in_order_and_the_buffer_goes() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&data).await.unwrap_or_default();
        drop(client);
        let mut reader = ReadOnDemand::new(server);
        let mut got = Vec::new();
        let mut small = [0u8; 100];
        loop {
            let n = reader.read(&mut small).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, data);
        assert_eq!(reader.pending.capacity(), 0);
    }
}
