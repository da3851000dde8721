//! The websocket layer's own cost, without the network: Sockeye's frame writer and
//! reader against tungstenite's (which the engine used before), on in-memory streams.
//!
//! `cargo bench -p sockeye-engine --features bench --bench websocket`
//!
//! - write: one batch of 16 text messages of 100 bytes (a broadcast reaching a busy
//!   client), and one message alone (a broadcast reaching an idle client), server to
//!   client;
//! - read: 16 masked text frames from a client, as one read.

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::{FutureExt, SinkExt, StreamExt};
use sockeye_engine::bench::{read_messages, Writer};
use sockeye_engine::Message;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// A socket that takes every write at once and keeps only the byte count, and whose
/// read side yields `input` once.
#[derive(Default)]
struct MemorySocket {
    written: usize,
    input: Bytes,
}

impl AsyncWrite for MemorySocket {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.get_mut().written += n;
        Poll::Ready(Ok(n))
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

impl AsyncRead for MemorySocket {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = this.input.len().min(buf.remaining());
        buf.put_slice(&this.input.split_to(n));
        Poll::Ready(Ok(()))
    }
}

/// The engine's tungstenite settings before it had its own frames.
fn tungstenite_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = 128;
    config.write_buffer_size = 4 * 1024;
    config.max_write_buffer_size = usize::MAX;
    config.max_message_size = Some(1_000_000);
    config.max_frame_size = Some(1_000_000);
    config
}

fn payload(i: usize) -> String {
    format!(
        "42[\"msg\",{{\"s\":{i},\"t\":1733328000000000,\"text\":\"{}\"}}]",
        "x".repeat(40)
    )
}

/// A masked client text frame.
fn client_frame(text: &str) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![0x81, 0x80 | text.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// The socket never blocks, so every future here is ready at its first poll: they
/// are polled once, in place, without a runtime.
fn ready<T>(future: impl std::future::Future<Output = T>) -> T {
    match future.now_or_never() {
        Some(value) => value,
        None => panic!("the in-memory socket blocked"),
    }
}

fn write(c: &mut Criterion) {
    let batch: Vec<Message> = (0..16).map(|i| Message::text(&payload(i)[1..])).collect();
    let mut group = c.benchmark_group("websocket write");
    for (name, messages) in [("16 messages", &batch[..]), ("1 message", &batch[..1])] {
        group.bench_function(format!("sockeye, {name}"), |b| {
            let mut writer = Writer::default();
            let mut socket = MemorySocket::default();
            b.iter(|| {
                writer.write_batch(black_box(messages), &mut socket).ok();
            });
            black_box(socket.written);
        });
        group.bench_function(format!("tungstenite, {name}"), |b| {
            let mut ws = ready(WebSocketStream::from_raw_socket(
                MemorySocket::default(),
                Role::Server,
                Some(tungstenite_config()),
            ));
            b.iter(|| {
                ready(async {
                    for message in black_box(messages) {
                        let Message::Text(bytes) = message else {
                            continue;
                        };
                        // What the engine did per recipient: check the shared buffer is
                        // UTF-8, then hand it to tungstenite, which copies it.
                        if let Ok(text) = Utf8Bytes::try_from(bytes.clone()) {
                            ws.feed(WsMessage::Text(text)).await.ok();
                        }
                    }
                    ws.flush().await.ok();
                })
            });
        });
    }
    group.finish();
}

fn read(c: &mut Criterion) {
    let stream: Vec<u8> = (0..16).flat_map(|i| client_frame(&payload(i))).collect();
    let mut group = c.benchmark_group("websocket read 16 frames");
    group.bench_function("sockeye", |b| {
        b.iter(|| read_messages(black_box(&stream), 16 * 1024, 1_000_000))
    });
    group.bench_function("tungstenite", |b| {
        b.iter(|| {
            ready(async {
                let socket = MemorySocket {
                    written: 0,
                    input: Bytes::copy_from_slice(black_box(&stream)),
                };
                let mut ws = WebSocketStream::from_raw_socket(
                    socket,
                    Role::Server,
                    Some(tungstenite_config()),
                )
                .await;
                let mut n = 0;
                while let Some(Ok(_)) = ws.next().await {
                    n += 1;
                }
                n
            })
        })
    });
    group.finish();
}

criterion_group!(benches, write, read);
criterion_main!(benches);
