//! The Sockeye peer server of the benchmarks (crates/sockeye-bench). The same contract
//! as bench/node/server.mjs and bench/socketioxide, on namespace `/`:
//! `join` (room) joins the room and acks "ok"; `echo` acks with the same arguments;
//! `pub` (room, payload) emits `msg` (payload) to the whole room, sender included;
//! `GET /health` answers 200. No logging: the benchmark measures the server alone.
//!
//! `cargo run --release --example bench-server -- --port PORT`

use clap::Parser;
use sockeye::{Event, Socket, SocketIo, Value};
use tower_layer::Layer;

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    port: u16,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    run(tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?).await
}

/// Serves the benchmark contract on `listener` until the process ends. (The
/// sockeye-bench tests include this file to run the same server in-process.)
pub async fn run(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    // Reference defaults (ping every 25 s), as the peers use theirs.
    let io = SocketIo::builder().build();
    io.ns("/", on_connection);
    // Engine.IO requests are answered by Sockeye; everything else (`/health`) by axum.
    let health = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    sockeye_engine::serve(listener, io.layer().layer(health)).await
}

async fn on_connection(socket: Socket) {
    socket.on("join", |socket: Socket, mut event: Event| async move {
        if let Some(room) = event.arg(0).and_then(Value::as_str) {
            socket.join(room.to_string());
        }
        event.ack(("ok",)).ok();
    });
    socket.on("echo", |_: Socket, mut event: Event| async move {
        let args = std::mem::take(&mut event.args);
        event.ack(args).ok();
    });
    socket.on("pub", |socket: Socket, mut event: Event| async move {
        let mut args = std::mem::take(&mut event.args).into_iter();
        if let (Some(Value::String(room)), Some(payload)) = (args.next(), args.next()) {
            socket.namespace().to(room).emit("msg", (payload,)).ok();
        }
    });
}
