//! The socketioxide peer server of the benchmarks (same contract as Sockeye's
//! `bench-server` example and bench/node/server.mjs), on namespace `/`:
//! `join` (room) acks "ok"; `echo` acks its argument; `pub` (room, payload) emits
//! `msg` (payload) to the whole room, sender included; `GET /health` answers 200.
//!
//! `bench-socketioxide --port PORT`

use axum::routing::get;
use serde_json::Value;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;

async fn on_connect(socket: SocketRef) {
    socket.on(
        "join",
        async |socket: SocketRef, Data::<String>(room), ack: AckSender| {
            socket.join(room);
            ack.send("ok").ok();
        },
    );
    socket.on("echo", async |Data::<Value>(data), ack: AckSender| {
        ack.send(&data).ok();
    });
    // `within` includes the sender (`to` would leave it out).
    socket.on(
        "pub",
        async |socket: SocketRef, Data::<(String, Value)>((room, payload))| {
            socket.within(room).emit("msg", &payload).await.ok();
        },
    );
}

fn port_from_args() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: bench-socketioxide --port PORT");
            std::process::exit(2)
        })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = port_from_args();
    let (layer, io) = SocketIo::new_layer();
    io.ns("/", on_connect);
    let app = axum::Router::new()
        .route("/health", get(async || "ok"))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
