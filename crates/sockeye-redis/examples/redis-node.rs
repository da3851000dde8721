//! The `redis-node` fixture of the end-to-end tests: one node of a Redis cluster.
//!
//! `cargo run --release -p sockeye-redis --example redis-node -- --port PORT --redis URL`
//!
//! On `/`: `join` (room) acks "ok"; `to-room` (room, ...args) emits `room-message`
//! to the room across the cluster and acks "ok"; `broadcast-request` (...args) emits
//! `broadcast` to everyone and acks "ok"; `fetch-count` acks the number of sockets of
//! `/` across the cluster. `/admin` serves the same events (namespace tests use `join`).
//! e2e/reference/redis-node.mjs is the same fixture in Node.js.

use std::time::Duration;

use clap::Parser;
use sockeye::{Event, Socket, SocketIo, Value};
use sockeye_redis::{RedisAdapterConfig, RedisAdapterFactory};

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    port: u16,
    /// Redis URL, such as redis://127.0.0.1:6379/.
    #[arg(long)]
    redis: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let client = redis::Client::open(args.redis.as_str())?;
    let factory = RedisAdapterFactory::new(client, RedisAdapterConfig::default()).await?;
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .adapter(factory)
        .build();
    io.ns("/", on_connection);
    io.ns("/admin", on_connection);
    sockeye::serve(("127.0.0.1", args.port), io).await?;
    Ok(())
}

async fn on_connection(socket: Socket) {
    socket.on("join", |socket: Socket, mut event: Event| async move {
        if let Some(room) = event.arg(0).and_then(Value::as_str) {
            socket.join(room.to_string());
        }
        event.ack(("ok",)).ok();
    });
    socket.on("to-room", |socket: Socket, mut event: Event| async move {
        let mut args = std::mem::take(&mut event.args);
        if !args.is_empty() {
            if let Value::String(room) = args.remove(0) {
                socket.namespace().to(room).emit("room-message", args).ok();
            }
        }
        event.ack(("ok",)).ok();
    });
    socket.on(
        "broadcast-request",
        |socket: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            socket.namespace().emit("broadcast", args).ok();
            event.ack(("ok",)).ok();
        },
    );
    socket.on(
        "fetch-count",
        |socket: Socket, mut event: Event| async move {
            match socket.namespace().fetch_sockets().await {
                Ok(sockets) => event.ack((sockets.len(),)).ok(),
                Err(e) => event.ack((Value::Null, e.to_string())).ok(),
            };
        },
    );
}
