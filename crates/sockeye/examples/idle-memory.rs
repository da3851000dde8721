//! Where an idle websocket client's memory goes: runs the benchmark server
//! (bench-server.rs, same contract and defaults) under a counting allocator, connects
//! N Socket.IO websocket clients from a child process (so that only the server's
//! allocations are counted), and prints the live heap bytes and allocations per
//! connection, with the sizes of the blocks each connection holds. Deterministic,
//! unlike RSS: run it before and after a change to see what it saved.
//!
//! `cargo run --release -p sockeye --example idle-memory -- --clients 2000`

#[path = "bench-server.rs"]
#[allow(dead_code)]
mod bench_server;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Sizes below this are counted one by one; larger blocks share the last slot.
const SIZES: usize = 1 << 16;

/// The system allocator, counting live bytes and live blocks per size.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_BLOCKS: [AtomicIsize; SIZES + 1] = [const { AtomicIsize::new(0) }; SIZES + 1];

fn slot(size: usize) -> &'static AtomicIsize {
    &LIVE_BLOCKS[size.min(SIZES)]
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        slot(layout.size()).fetch_add(1, Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        slot(layout.size()).fetch_add(1, Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        slot(layout.size()).fetch_sub(1, Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        slot(layout.size()).fetch_sub(1, Relaxed);
        slot(new_size).fetch_add(1, Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Parser)]
struct Args {
    /// Idle clients to connect.
    #[arg(long, default_value_t = 2000)]
    clients: usize,
    /// Internal: be the client process, connecting to this port.
    #[arg(long, hide = true)]
    client_of: Option<u16>,
}

struct Snapshot {
    bytes: isize,
    blocks: Vec<isize>,
    rss_kib: u64,
}

fn snapshot() -> Snapshot {
    Snapshot {
        bytes: LIVE_BYTES.load(Relaxed),
        blocks: LIVE_BLOCKS.iter().map(|c| c.load(Relaxed)).collect(),
        rss_kib: rss_kib(),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if let Some(port) = args.client_of {
        return clients(port, args.clients);
    }
    // One worker thread, as the benchmark pins the server to one core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(server(args.clients))
}

async fn server(n: usize) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(bench_server::run(listener));
    // Warm up: one client connects and leaves, so that lazily built shared state
    // (namespace, timers, thread-locals) is not charged to the measured clients.
    run_clients(port, 1).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = snapshot();
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--client-of",
            &port.to_string(),
            "--clients",
            &n.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(std::io::Error::other)??;
    if ready.trim() != "ready" {
        return Err(std::io::Error::other(format!("client process: {ready:?}")));
    }
    // Let the server finish every connection's CONNECT handler.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = snapshot();
    child.kill().ok();
    child.wait().ok();
    report(n, &before, &after);
    Ok(())
}

fn report(n: usize, before: &Snapshot, after: &Snapshot) {
    let per = |x: isize| x as f64 / n as f64;
    let blocks: isize = after.blocks.iter().sum::<isize>() - before.blocks.iter().sum::<isize>();
    println!("{n} idle websocket clients");
    println!(
        "live heap per connection: {:.0} bytes in {:.1} blocks",
        per(after.bytes - before.bytes),
        per(blocks)
    );
    println!(
        "RSS per connection: {:.2} KiB",
        (after.rss_kib as f64 - before.rss_kib as f64) / n as f64
    );
    println!("blocks held per connection, by size (at least 0.5 per connection):");
    println!("{:>8} {:>8} {:>8}", "size", "blocks", "bytes");
    for (size, (a, b)) in after.blocks.iter().zip(&before.blocks).enumerate() {
        let count = per(a - b);
        if count.abs() >= 0.5 {
            let label = if size == SIZES {
                format!(">={SIZES}")
            } else {
                size.to_string()
            };
            let bytes = if size == SIZES {
                "?".to_string()
            } else {
                format!("{:.0}", count * size as f64)
            };
            println!("{label:>8} {count:>8.2} {bytes:>8}");
        }
    }
}

/// The client process: connects `n` clients, says `ready`, answers pings until killed.
fn clients(port: u16, n: usize) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        run_clients(port, n).await?;
        println!("ready");
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// Connects `n` clients (64 at a time) and keeps them answering pings in tasks; the
/// first one to fail ends the call with its error.
async fn run_clients(port: u16, n: usize) -> std::io::Result<()> {
    let mut pending = tokio::task::JoinSet::new();
    let mut opened = 0;
    while opened < n || !pending.is_empty() {
        while opened < n && pending.len() < 64 {
            pending.spawn(connect(port));
            opened += 1;
        }
        if let Some(done) = pending.join_next().await {
            let ws = done.map_err(std::io::Error::other)??;
            if n > 1 {
                tokio::spawn(hold(ws));
            }
        }
    }
    Ok(())
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(port: u16) -> std::io::Result<Ws> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .map_err(std::io::Error::other)?;
    let expect = |prefix: &'static str, got: Option<Result<Message, _>>| match got {
        Some(Ok(Message::Text(t))) if t.starts_with(prefix) => Ok(()),
        other => Err(std::io::Error::other(format!(
            "expected {prefix}…, got {other:?}"
        ))),
    };
    expect("0", ws.next().await)?;
    ws.send(Message::text("40"))
        .await
        .map_err(std::io::Error::other)?;
    expect("40", ws.next().await)?;
    Ok(ws)
}

async fn hold(mut ws: Ws) {
    while let Some(Ok(frame)) = ws.next().await {
        if matches!(&frame, Message::Text(t) if t.as_str() == "2")
            && ws.send(Message::text("3")).await.is_err()
        {
            return;
        }
    }
}
