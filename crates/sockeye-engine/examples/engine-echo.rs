//! Engine.IO-only echo server, the `engine-echo` fixture of the end-to-end tests
//! (e2e/FIXTURES.md): path `/engine.io/`, pingInterval 300 ms, pingTimeout 200 ms,
//! maxPayload 1 000 000, protocol v3 and v4; every message is sent back verbatim.
//!
//! `cargo run --release --example engine-echo -- --port 3000`

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use sockeye_engine::{
    CloseReason, EngineConfig, EngineHandler, EngineService, EngineSocket, Incoming, Message,
};

#[derive(Parser)]
#[command(about = "Engine.IO echo server")]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

struct Echo;

impl EngineHandler for Echo {
    fn on_open(&self, socket: &EngineSocket) {
        tracing::debug!(sid = %socket.sid(), protocol = ?socket.protocol(), "open");
    }

    fn on_message(&self, socket: &EngineSocket, message: Incoming) {
        let reply = match message {
            Incoming::Text(text) => {
                let mut packet = Vec::with_capacity(text.len() + 1);
                packet.push(b'4');
                packet.extend_from_slice(&text);
                Message::from_text_packet(packet.into())
            }
            Incoming::Binary(data) => Message::Binary(data),
        };
        if let Err(error) = socket.send(reply) {
            tracing::debug!(sid = %socket.sid(), %error, "echo not sent");
        }
    }

    fn on_close(&self, socket: &EngineSocket, reason: CloseReason) {
        tracing::debug!(sid = %socket.sid(), reason = reason.as_str(), "close");
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = EngineConfig::builder()
        .path("/engine.io/")
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .allow_eio3(true)
        .build();
    let service = EngineService::new(config, Echo);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "engine-echo listening");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    sockeye_engine::serve_with_shutdown(listener, service, shutdown).await
}
