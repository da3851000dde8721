//! The Sockeye node of the cluster scenario: the benchmark contract of Sockeye's
//! `bench-server` example (crates/sockeye/examples/bench-server.rs) with the Redis
//! adapter, so that `pub` reaches the room on every node. (The example cannot use
//! sockeye-redis, which depends on sockeye.)
//!
//! `sockeye-bench-redis-node --port PORT --redis redis://127.0.0.1:PORT/`

use clap::Parser;
use sockeye::{Event, Socket, SocketIo, Value};
use sockeye_redis::{RedisAdapterConfig, RedisAdapterFactory};
use tower_layer::Layer;

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    port: u16,
    /// Redis URL.
    #[arg(long)]
    redis: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let client = redis::Client::open(args.redis.as_str())?;
    let factory = RedisAdapterFactory::new(client, RedisAdapterConfig::default()).await?;
    let io = SocketIo::builder().adapter(factory).build();
    io.ns("/", on_connection);
    let health = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    sockeye_engine::serve(listener, io.layer().layer(health)).await?;
    Ok(())
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
