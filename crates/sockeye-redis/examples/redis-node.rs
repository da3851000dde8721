//! The `redis-node` fixture of the end-to-end tests: one node of a Redis cluster.
//!
//! `cargo run --release -p sockeye-redis --example redis-node -- --port PORT --redis URL
//! [--request-timeout MS] [--adapter classic|sharded] [--subscription-mode
//! static|dynamic|dynamic-private]`
//!
//! `--adapter sharded` uses the sharded adapter (`sockeye_redis::sharded`, Redis 7) with
//! the given subscription mode (dynamic by default) instead of the classic one.
//!
//! Its events are described in e2e/FIXTURES.md (`redis-node`);
//! `/admin` serves the same events (namespace tests use `join`); a server-side event
//! `relay` (from another node or an emitter) is sent on to this node's clients as `relayed`.
//! e2e/reference/redis-node.mjs is the same fixture in Node.js.

use std::time::Duration;

use clap::Parser;
use serde_json::json;
use sockeye::adapter::{ServerEvent, ServerSideEmitError};
use sockeye::{AckError, Event, Socket, SocketIo, Value};
use sockeye_redis::sharded::{ShardedAdapterConfig, ShardedAdapterFactory, SubscriptionMode};
use sockeye_redis::{RedisAdapterConfig, RedisAdapterFactory};

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    port: u16,
    /// Redis URL, such as redis://127.0.0.1:6379/.
    #[arg(long)]
    redis: String,
    /// How long requests to other nodes wait for answers, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    request_timeout: u64,
    /// `classic` (pub/sub) or `sharded` (sharded pub/sub).
    #[arg(long, default_value = "classic")]
    adapter: String,
    /// Subscription mode of the sharded adapter: static, dynamic or dynamic-private.
    #[arg(long, default_value = "dynamic")]
    subscription_mode: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let client = redis::Client::open(args.redis.as_str())?;
    let timeout = Duration::from_millis(args.request_timeout);
    // The reference heartbeat (25 s / 20 s): these suites test the cluster, not
    // heartbeats, and a short one drops clients of a busy test machine.
    let (io, factory) = match args.adapter.as_str() {
        "classic" => {
            let config = RedisAdapterConfig::default().request_timeout(timeout);
            let factory = RedisAdapterFactory::new(client, config).await?;
            let io = SocketIo::builder().adapter(factory.clone()).build();
            (io, Some(factory))
        }
        "sharded" => {
            let mode = match args.subscription_mode.as_str() {
                "static" => SubscriptionMode::Static,
                "dynamic" => SubscriptionMode::Dynamic,
                "dynamic-private" => SubscriptionMode::DynamicPrivate,
                other => return Err(format!("unknown subscription mode {other}").into()),
            };
            let config = ShardedAdapterConfig::default()
                .request_timeout(timeout)
                .subscription_mode(mode);
            let factory = ShardedAdapterFactory::new(client, config).await?;
            (SocketIo::builder().adapter(factory).build(), None)
        }
        other => return Err(format!("unknown adapter {other}").into()),
    };
    let port = args.port;
    let served = io.clone();
    for name in ["/", "/admin"] {
        let served = served.clone();
        let factory = factory.clone();
        io.ns(name, move |socket: Socket| {
            on_connection(socket, served.clone(), factory.clone())
        });
    }
    // Events from the other nodes.
    let relay = io.clone();
    io.on_server_event("relay", move |event: ServerEvent| {
        let io = relay.clone();
        async move {
            io.local().emit("relayed", event.args).ok();
        }
    });
    let local = io.clone();
    io.on_server_event("cluster-note", move |event: ServerEvent| {
        let io = local.clone();
        async move {
            io.local().emit("cluster-note", event.args).ok();
        }
    });
    io.on_server_event(
        "cluster-question",
        move |mut event: ServerEvent| async move {
            let args = Value::Array(std::mem::take(&mut event.args));
            event.ack(Value::from(json!({ "port": port, "args": args })));
        },
    );
    sockeye::serve(("127.0.0.1", args.port), io).await?;
    Ok(())
}

/// The first argument as a string.
fn text(event: &Event, i: usize) -> Option<String> {
    event.arg(i).and_then(Value::as_str).map(str::to_string)
}

/// `[null, message]`, what the fixture acks when an operation fails.
fn failure(e: impl std::fmt::Display) -> (Value, String) {
    (Value::Null, e.to_string())
}

/// `factory` is the classic adapter's (`None` with the sharded one, whose link to Redis
/// is not tracked: `redis-state` then answers "up").
async fn on_connection(socket: Socket, io: SocketIo, factory: Option<RedisAdapterFactory>) {
    socket.on("join", |socket: Socket, mut event: Event| async move {
        if let Some(room) = text(&event, 0) {
            socket.join(room);
        }
        event.ack(("ok",)).ok();
    });
    socket.on("leave", |socket: Socket, mut event: Event| async move {
        if let Some(room) = text(&event, 0) {
            socket.leave(&room);
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
        "to-room-except",
        |socket: Socket, mut event: Event| async move {
            let mut args = std::mem::take(&mut event.args);
            if args.len() >= 2 {
                if let (Value::String(room), Value::String(except)) =
                    (args.remove(0), args.remove(0))
                {
                    let ns = socket.namespace();
                    ns.to(room).except(except).emit("room-message", args).ok();
                }
            }
            event.ack(("ok",)).ok();
        },
    );
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
                Err(e) => event.ack(failure(e)).ok(),
            };
        },
    );
    socket.on("fetch-ids", |socket: Socket, mut event: Event| async move {
        let ns = socket.namespace();
        let fetched = match text(&event, 0) {
            Some(room) => ns.to(room).fetch_sockets().await,
            None => ns.fetch_sockets().await,
        };
        match fetched {
            Ok(sockets) => {
                let mut ids: Vec<String> = sockets.iter().map(|s| s.id().to_string()).collect();
                ids.sort();
                let ids: Vec<Value> = ids.into_iter().map(Value::from).collect();
                event.ack((ids,)).ok()
            }
            Err(e) => event.ack(failure(e)).ok(),
        };
    });
    for (name, action) in [("remote-join", 0), ("remote-leave", 1)] {
        socket.on(name, move |socket: Socket, mut event: Event| async move {
            let (Some(sid), Some(room)) = (text(&event, 0), text(&event, 1)) else {
                event.ack(failure("expected (sid, room)")).ok();
                return;
            };
            let target = socket.namespace().to(sid);
            let done = match action {
                0 => target.sockets_join(room),
                _ => target.sockets_leave(room),
            };
            match done {
                Ok(()) => event.ack(("ok",)).ok(),
                Err(e) => event.ack(failure(e)).ok(),
            };
        });
    }
    socket.on(
        "remote-disconnect",
        |socket: Socket, mut event: Event| async move {
            let Some(sid) = text(&event, 0) else {
                event.ack(failure("expected (sid)")).ok();
                return;
            };
            match socket.namespace().to(sid).disconnect_sockets(false) {
                Ok(()) => event.ack(("ok",)).ok(),
                Err(e) => event.ack(failure(e)).ok(),
            };
        },
    );
    socket.on(
        "broadcast-with-ack",
        |socket: Socket, mut event: Event| async move {
            let mut args = std::mem::take(&mut event.args);
            if args.len() < 2 {
                event.ack(failure("expected (timeout, room, ...args)")).ok();
                return;
            }
            let timeout = args.remove(0).as_u64().unwrap_or(1000);
            let room = args.remove(0);
            let mut operator = socket.namespace().timeout(Duration::from_millis(timeout));
            if let Value::String(room) = room {
                operator = operator.to(room);
            }
            let firsts = |acks: Vec<Vec<Value>>| -> Vec<Value> {
                acks.into_iter()
                    .map(|a| a.into_iter().next().unwrap_or(Value::Null))
                    .collect()
            };
            let answer = match operator.emit_with_ack("ping-all", args).await {
                Ok(acks) => (Value::Null, firsts(acks)),
                Err(AckError::Partial { received, .. }) => {
                    (Value::from("operation has timed out"), firsts(received))
                }
                Err(e) => (Value::from(e.to_string()), Vec::new()),
            };
            event
                .ack((Value::Array(vec![answer.0, Value::Array(answer.1)]),))
                .ok();
        },
    );
    let for_note = io.clone();
    socket.on(
        "server-side-emit",
        move |_socket: Socket, mut event: Event| {
            let io = for_note.clone();
            async move {
                let args = std::mem::take(&mut event.args);
                match io.server_side_emit("cluster-note", args) {
                    Ok(()) => event.ack(("ok",)).ok(),
                    Err(e) => event.ack(failure(e)).ok(),
                };
            }
        },
    );
    let for_question = io.clone();
    socket.on(
        "server-side-emit-with-ack",
        move |_socket: Socket, mut event: Event| {
            let io = for_question.clone();
            async move {
                let args = std::mem::take(&mut event.args);
                let answer = match io.server_side_emit_with_ack("cluster-question", args).await {
                    Ok(responses) => json!([null, responses]),
                    Err(ServerSideEmitError::Timeout { responses, .. }) => {
                        json!(["timeout", responses])
                    }
                    Err(e) => json!([e.to_string(), []]),
                };
                event.ack((Value::from(answer),)).ok();
            }
        },
    );
    socket.on("redis-state", move |_socket: Socket, mut event: Event| {
        let state = factory.as_ref().map_or("up", |f| f.state().as_str());
        async move {
            event.ack((state,)).ok();
        }
    });
}
