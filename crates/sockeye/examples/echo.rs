//! The `echo` fixture of the end-to-end tests (see e2e/FIXTURES.md).
//!
//! `cargo run --release --example echo -- --port PORT [--parser msgpack] [--recovery-ms MS
//! [--recovery-with-middlewares]] [--max-queue N] [--ping-interval MS] [--ping-timeout MS]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use sockeye::{
    AckError, ConnectError, Event, EventRefused, ParserKind, ProtocolRevision, RecoveryConfig,
    Socket, SocketIo, Value,
};

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    port: u16,
    /// Packet format: `default` or `msgpack`.
    #[arg(long, default_value = "default")]
    parser: String,
    /// Enables connection state recovery with this window (milliseconds).
    #[arg(long)]
    recovery_ms: Option<u64>,
    /// With recovery on, recovered sockets run the connect middleware too.
    #[arg(long)]
    recovery_with_middlewares: bool,
    /// Capacity of each connection's outgoing queue (packets); default the library's.
    #[arg(long)]
    max_queue: Option<usize>,
    /// Heartbeat interval (milliseconds).
    #[arg(long, default_value_t = 300)]
    ping_interval: u64,
    /// Heartbeat timeout (milliseconds).
    #[arg(long, default_value_t = 200)]
    ping_timeout: u64,
}

/// Why each socket of the process disconnected (socket id, reason), for the `stats`
/// event. Test processes are short-lived, so this simply grows.
static DISCONNECTS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let parser = match args.parser.as_str() {
        "msgpack" => ParserKind::MsgPack,
        _ => ParserKind::Default,
    };
    let mut builder = SocketIo::builder()
        .ping_interval(Duration::from_millis(args.ping_interval))
        .ping_timeout(Duration::from_millis(args.ping_timeout))
        .max_payload(1_000_000)
        .connect_timeout(Duration::from_millis(1000))
        .parser(parser);
    if let Some(ms) = args.recovery_ms {
        builder = builder.connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(ms),
            skip_middlewares: !args.recovery_with_middlewares,
            ..RecoveryConfig::default()
        });
    }
    if let Some(items) = args.max_queue {
        builder = builder.max_queue(items);
    }
    let io = builder.build();

    for name in ["/", "/custom"] {
        io.ns(name, on_connection).use_middleware(refuse_on_request);
    }
    io.dynamic_ns_regex(r"^/dynamic-\d+$", on_connection)
        .expect("valid pattern")
        .use_middleware(refuse_on_request);

    sockeye::serve(("127.0.0.1", args.port), io).await
}

/// Refuses clients that ask for it: `auth.refuse === true`, or `?refuse=1` for
/// socket.io-client 2.x, which has no auth payload.
async fn refuse_on_request(socket: Socket) -> Result<(), ConnectError> {
    let by_auth = socket.auth().get("refuse").and_then(Value::as_bool) == Some(true);
    let by_query = socket.protocol() == ProtocolRevision::V4
        && socket.request().query("refuse").as_deref() == Some("1");
    if by_auth || by_query {
        let mut data = sockeye::Map::default();
        data.insert("reason".into(), "test".into());
        return Err(ConnectError::new("refused by middleware").with_data(Value::Object(data)));
    }
    Ok(())
}

async fn on_connection(socket: Socket) {
    socket.emit("auth", (socket.auth().clone(),)).ok();
    socket.on_disconnect(|socket: Socket, reason| async move {
        if let Ok(mut list) = DISCONNECTS.lock() {
            list.push((socket.id().to_string(), reason.as_str().to_string()));
        }
    });

    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    socket.on_any(move |_, _| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    socket.use_middleware(|_, event| match event.name.as_str() {
        "blocked" => Err(EventRefused("blocked by middleware".into())),
        _ => Ok(()),
    });

    socket.on("message", |socket: Socket, event: Event| async move {
        socket.emit("message-back", event.args).ok();
    });
    socket.on(
        "message-with-ack",
        |_: Socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            event.ack(args).ok();
        },
    );
    socket.on(
        "broadcast-request",
        |socket: Socket, mut event: Event| async move {
            let ns = socket.namespace();
            ns.emit("broadcast", std::mem::take(&mut event.args)).ok();
            event.ack((ns.sockets().len(),)).ok();
        },
    );
    socket.on("join", |socket: Socket, mut event: Event| async move {
        if let Some(room) = event.arg(0).and_then(Value::as_str) {
            socket.join(room.to_string());
        }
        event.ack(("ok",)).ok();
    });
    socket.on("leave", |socket: Socket, mut event: Event| async move {
        if let Some(room) = event.arg(0).and_then(Value::as_str) {
            socket.leave(room);
        }
        event.ack(("ok",)).ok();
    });
    socket.on("to-room", |socket: Socket, mut event: Event| async move {
        let mut args = std::mem::take(&mut event.args);
        if !args.is_empty() {
            if let Value::String(room) = args.remove(0) {
                socket.to(room).emit("room-message", args).ok();
            }
        }
        event.ack(("ok",)).ok();
    });
    socket.on(
        "volatile-request",
        |socket: Socket, mut event: Event| async move {
            let n = event.arg(0).and_then(Value::as_u64).unwrap_or(0);
            for i in 0..n {
                socket.volatile().emit("volatile", (i,)).ok();
            }
            event.ack(("ok",)).ok();
        },
    );
    socket.on(
        "to-room-volatile",
        |socket: Socket, mut event: Event| async move {
            let mut args = std::mem::take(&mut event.args).into_iter();
            let room = args.next();
            let n = args.next().as_ref().and_then(Value::as_u64).unwrap_or(0);
            let rest: Vec<Value> = args.collect();
            if let Some(Value::String(room)) = room {
                for i in 0..n {
                    let mut packet = Vec::with_capacity(rest.len() + 1);
                    packet.push(Value::from(i));
                    packet.extend(rest.iter().cloned());
                    socket
                        .to(room.clone())
                        .volatile()
                        .emit("room-volatile", packet)
                        .ok();
                }
            }
            event.ack(("ok",)).ok();
        },
    );
    socket.on("stats", |_: Socket, mut event: Event| async move {
        event.ack((stats(),)).ok();
    });
    socket.on(
        "server-ack-request",
        |socket: Socket, event: Event| async move {
            let answer = socket
                .timeout(Duration::from_millis(1000))
                .emit_with_ack("server-ack", event.args)
                .await;
            match answer {
                Ok(args) => socket.emit("server-ack-result", args).ok(),
                Err(_) => socket.emit("server-ack-result", ("timeout",)).ok(),
            };
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
    socket.on("disconnect-me", |socket: Socket, _: Event| async move {
        socket.disconnect();
    });
    socket.on("count-events", move |_: Socket, mut event: Event| {
        // The catch-all handler has already counted this event.
        let seen = count.load(Ordering::Relaxed).saturating_sub(1);
        async move {
            event.ack((seen,)).ok();
        }
    });
}

/// The `stats` answer: the engine's counters and every disconnect reason so far.
fn stats() -> Value {
    let engine = sockeye_engine::stats();
    let mut counters = sockeye::Map::default();
    counters.insert("sessionsOpen".into(), engine.sessions_open().into());
    counters.insert("messagesOut".into(), engine.messages_out.into());
    counters.insert("volatileDropped".into(), engine.volatile_dropped.into());
    counters.insert("slowClientCloses".into(), engine.slow_client_closes.into());
    let mut disconnects = sockeye::Map::default();
    if let Ok(list) = DISCONNECTS.lock() {
        for (id, reason) in list.iter() {
            disconnects.insert(id.clone(), reason.clone().into());
        }
    }
    let mut out = sockeye::Map::default();
    out.insert("engine".into(), Value::Object(counters));
    out.insert("disconnects".into(), Value::Object(disconnects));
    Value::Object(out)
}
