//! The `streams-node` fixture of the end-to-end tests: one node of a cluster sharing a
//! Redis stream (the streams adapter), with connection state recovery on.
//!
//! `cargo run --release -p sockeye-redis --example streams-node -- --port PORT --redis URL
//! [--recovery-ms MS]` (recovery window, default 10 000 ms).
//!
//! On `/`: `join` (room) acks "ok"; `to-room` (room, ...args) emits `room-message` to
//! the room across the cluster and acks "ok"; `broadcast-request` (...args) emits
//! `broadcast` to everyone and acks "ok"; `fetch-count` acks the number of sockets of
//! `/` across the cluster (or `null` and the error); `set-data` (value) sets the
//! socket's data and acks "ok"; `state` acks `{id, recovered, rooms, data}` (rooms
//! sorted, own id included); `remote-join` / `remote-leave` (target room, room) make
//! every socket of the cluster in the target room join / leave `room` and ack "ok";
//! `remote-disconnect` (target room) disconnects every socket of the cluster in the
//! target room and acks "ok"; `broadcast-with-ack-request` (...args) emits `ping-all`
//! to every socket of the cluster with a 1 s timeout and acks `[err, responses]` (err
//! `null` or "operation has timed out", responses the first ack argument of each client);
//! `server-side-emit` (...args) sends the server event `cluster-note` to the other nodes
//! and acks "ok"; `server-side-emit-with-ack` (...args) sends `cluster-question` and acks
//! `[null, answers]` or `["timeout", answersSoFar]`. On `cluster-note` from another node
//! the node emits `cluster-note` (same args) to its own clients; on `cluster-question` it
//! answers `{port, args}`.
//! e2e/reference/streams-node.mjs is the same fixture in Node.js.

use std::time::Duration;

use clap::Parser;
use sockeye::adapter::{ServerEvent, ServerSideEmitError};
use sockeye::{AckError, Event, RecoveryConfig, Socket, SocketIo, Value};
use sockeye_redis::streams::{StreamsAdapterConfig, StreamsAdapterFactory};

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    port: u16,
    /// Redis URL, such as redis://127.0.0.1:6379/.
    #[arg(long)]
    redis: String,
    /// Connection state recovery window (milliseconds).
    #[arg(long, default_value_t = 10_000)]
    recovery_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let client = redis::Client::open(args.redis.as_str())?;
    let factory = StreamsAdapterFactory::new(client, StreamsAdapterConfig::default()).await?;
    let io = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(args.recovery_ms),
            ..RecoveryConfig::default()
        })
        .adapter(factory)
        .build();
    io.ns("/", on_connection);
    let local = io.clone();
    io.on_server_event("cluster-note", move |event: ServerEvent| {
        let io = local.clone();
        async move {
            io.local().emit("cluster-note", event.args).ok();
        }
    });
    let port = args.port;
    io.on_server_event(
        "cluster-question",
        move |mut event: ServerEvent| async move {
            let mut answer = sockeye::Map::default();
            answer.insert("port".into(), Value::from(u64::from(port)));
            answer.insert("args".into(), Value::Array(std::mem::take(&mut event.args)));
            event.ack(Value::Object(answer));
        },
    );
    sockeye::serve(("127.0.0.1", args.port), io).await?;
    Ok(())
}

/// The first argument as a string, if it is one.
fn text(event: &Event, i: usize) -> Option<String> {
    event.arg(i).and_then(Value::as_str).map(str::to_string)
}

async fn on_connection(socket: Socket) {
    socket.on("join", |socket: Socket, mut event: Event| async move {
        if let Some(room) = text(&event, 0) {
            socket.join(room);
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
    socket.on("set-data", |socket: Socket, mut event: Event| async move {
        socket.set_data(event.arg(0).cloned().unwrap_or(Value::Null));
        event.ack(("ok",)).ok();
    });
    socket.on("state", |socket: Socket, mut event: Event| async move {
        let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let mut state = sockeye::Map::default();
        state.insert("id".into(), socket.id().to_string().into());
        state.insert("recovered".into(), socket.recovered().into());
        state.insert(
            "rooms".into(),
            Value::Array(rooms.into_iter().map(Value::from).collect()),
        );
        state.insert("data".into(), socket.data());
        event.ack((Value::Object(state),)).ok();
    });
    socket.on(
        "remote-join",
        |socket: Socket, mut event: Event| async move {
            if let (Some(target), Some(room)) = (text(&event, 0), text(&event, 1)) {
                socket.namespace().to(target).sockets_join(room).ok();
            }
            event.ack(("ok",)).ok();
        },
    );
    socket.on(
        "remote-leave",
        |socket: Socket, mut event: Event| async move {
            if let (Some(target), Some(room)) = (text(&event, 0), text(&event, 1)) {
                socket.namespace().to(target).sockets_leave(room).ok();
            }
            event.ack(("ok",)).ok();
        },
    );
    socket.on(
        "broadcast-with-ack-request",
        |socket: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            let result = socket
                .namespace()
                .timeout(Duration::from_millis(1000))
                .emit_with_ack("ping-all", args)
                .await;
            let first = |acks: Vec<Vec<Value>>| -> Value {
                Value::Array(
                    acks.into_iter()
                        .map(|a| a.into_iter().next().unwrap_or(Value::Null))
                        .collect(),
                )
            };
            let (err, responses) = match result {
                Ok(acks) => (Value::Null, first(acks)),
                Err(AckError::Partial { received, .. }) => {
                    (Value::from("operation has timed out"), first(received))
                }
                Err(e) => (Value::from(e.to_string()), Value::Array(Vec::new())),
            };
            event.ack((Value::Array(vec![err, responses]),)).ok();
        },
    );
    socket.on(
        "remote-disconnect",
        |socket: Socket, mut event: Event| async move {
            if let Some(target) = text(&event, 0) {
                socket.namespace().to(target).disconnect_sockets(false).ok();
            }
            event.ack(("ok",)).ok();
        },
    );
    socket.on(
        "server-side-emit",
        |socket: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            match socket.namespace().server_side_emit("cluster-note", args) {
                Ok(()) => event.ack(("ok",)).ok(),
                Err(e) => event.ack((Value::Null, e.to_string())).ok(),
            };
        },
    );
    socket.on(
        "server-side-emit-with-ack",
        |socket: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            let result = socket
                .namespace()
                .server_side_emit_with_ack("cluster-question", args)
                .await;
            let (err, answers) = match result {
                Ok(answers) => (Value::Null, answers),
                Err(ServerSideEmitError::Timeout { responses, .. }) => {
                    (Value::from("timeout"), responses)
                }
                Err(e) => (Value::from(e.to_string()), Vec::new()),
            };
            event
                .ack((Value::Array(vec![err, Value::Array(answers)]),))
                .ok();
        },
    );
}
