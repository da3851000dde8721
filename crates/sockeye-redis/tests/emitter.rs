//! The Rust emitter publishing into two Sockeye nodes clustered through a real
//! `redis-server` (started by the test on a free port), with raw websocket clients.
//!
//! "Exactly once" is checked without timing: after the messages under test, the
//! emitter broadcasts a marker; one Redis connection's messages keep their order, so
//! each client must have seen exactly the expected events when its marker arrives.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use sockeye::{Event, Socket, SocketIo, Value};
use sockeye_redis::emitter::{Emitter, EmitterError};
use sockeye_redis::{RedisAdapterConfig, RedisAdapterFactory};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

/// A `redis-server` of our own on a free port, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    url: String,
}

impl RedisServer {
    async fn start() -> Self {
        let port = {
            let probe = StdListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("bound").port()
        };
        Self::start_on(port).await
    }

    async fn start_on(port: u16) -> Self {
        let child = Command::new("/usr/bin/redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = RedisServer {
            child,
            port,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let client = server.client();
        tokio::time::timeout(WAIT, async {
            loop {
                if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
                    if pong.is_ok() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("redis-server answers within 10 s");
        server
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str()).expect("valid url")
    }

    async fn emitter(&self) -> Emitter {
        Emitter::connect(self.client())
            .await
            .expect("connects to redis")
    }
}

impl RedisServer {
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One Sockeye node serving `/` (with a `join` event) and `/admin`.
struct Node {
    addr: std::net::SocketAddr,
}

/// Starts the `nth` node (1, 2...) of the cluster with channel prefix `key`, and
/// waits until Redis counts `nth` subscribers on both namespaces, so that nothing the
/// emitter publishes afterwards is missed.
async fn start_node(redis: &RedisServer, key: &str, nth: usize) -> Node {
    let config = RedisAdapterConfig::default().key(key);
    let factory = RedisAdapterFactory::new(redis.client(), config)
        .await
        .expect("connects to redis");
    let io = SocketIo::builder().adapter(factory).build();
    let root = io.ns("/", |socket: Socket| async move {
        socket.on("join", |socket: Socket, mut event: Event| async move {
            if let Some(room) = event.arg(0).and_then(Value::as_str) {
                socket.join(room.to_string());
            }
            event.ack(("ok",)).ok();
        });
    });
    let admin = io.ns("/admin", |_socket: Socket| async {});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(sockeye::serve_with_shutdown(
        listener,
        io,
        std::future::pending(),
    ));
    for ns in [&root, &admin] {
        tokio::time::timeout(WAIT, async {
            while ns.adapter().server_count().await.expect("redis") < nth {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("subscribed within 10 s");
    }
    Node { addr }
}

/// A frame a client received: text, or the binary attachment of the previous one.
#[derive(Debug)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

/// A raw Socket.IO v5 client over websocket, connected to one namespace.
struct Client {
    ws: Ws,
    sid: String,
    nsp: String,
    next_ack: u64,
}

impl Client {
    async fn connect(node: &Node, nsp: &str) -> Self {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", node.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket opens");
        let mut client = Client {
            ws,
            sid: String::new(),
            nsp: if nsp == "/" {
                String::new()
            } else {
                format!("{nsp},")
            },
            next_ack: 0,
        };
        let open = client.next_text().await;
        assert!(open.starts_with("0{"), "open packet expected, got {open}");
        let connect = format!("40{}", client.nsp);
        client.send(&connect).await;
        let answer = client.next_text().await;
        let body = answer
            .strip_prefix(&connect)
            .unwrap_or_else(|| panic!("CONNECT expected, got {answer}"));
        let body: Json = serde_json::from_str(body).expect("CONNECT json");
        client.sid = body["sid"].as_str().expect("sid").to_string();
        client
    }

    async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send");
    }

    /// The next frame, answering heartbeats.
    async fn next_frame(&mut self) -> Frame {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame within 10 s")
                .expect("the connection is open")
                .expect("a valid frame");
            match msg {
                Message::Text(t) if t.as_str() == "2" => self.send("3").await,
                Message::Text(t) => return Frame::Text(t.to_string()),
                Message::Binary(b) => return Frame::Binary(b.to_vec()),
                _ => {}
            }
        }
    }

    async fn next_text(&mut self) -> String {
        match self.next_frame().await {
            Frame::Text(t) => t,
            other => panic!("text expected, got {other:?}"),
        }
    }

    async fn join(&mut self, room: &str) {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send(&format!("42{id}[\"join\",\"{room}\"]")).await;
        assert_eq!(self.next_text().await, format!("43{id}[\"ok\"]"));
    }

    /// The events received up to (not including) the marker, binary attachments
    /// written as `{"bytes": [...]}` in place of their placeholder.
    async fn events_until_marker(&mut self) -> Json {
        let mut events = Vec::new();
        loop {
            let text = self.next_text().await;
            let event = if let Some(body) = text
                .strip_prefix("42")
                .and_then(|t| t.strip_prefix(&self.nsp))
            {
                serde_json::from_str(body).expect("event json")
            } else if let Some(rest) = text.strip_prefix("45") {
                let (count, body) = rest.split_once('-').expect("attachment count");
                let body = body.strip_prefix(&self.nsp).expect("namespace");
                let mut event: Json = serde_json::from_str(body).expect("event json");
                let count: usize = count.parse().expect("a number");
                let mut attachments = Vec::new();
                for _ in 0..count {
                    match self.next_frame().await {
                        Frame::Binary(b) => attachments.push(json!({ "bytes": b })),
                        other => panic!("attachment expected, got {other:?}"),
                    }
                }
                fill_placeholders(&mut event, &attachments);
                event
            } else {
                panic!("unexpected packet {text}");
            };
            if event[0] == "marker" {
                return Json::Array(events);
            }
            events.push(event);
        }
    }

    /// Waits for the server's DISCONNECT of this namespace.
    async fn disconnected(&mut self) {
        let expected = format!("41{}", self.nsp);
        loop {
            if self.next_text().await == expected {
                return;
            }
        }
    }
}

fn fill_placeholders(value: &mut Json, attachments: &[Json]) {
    match value {
        Json::Object(map) if map.get("_placeholder") == Some(&Json::Bool(true)) => {
            let num = map["num"].as_u64().expect("num") as usize;
            *value = attachments[num].clone();
        }
        Json::Array(items) => items
            .iter_mut()
            .for_each(|v| fill_placeholders(v, attachments)),
        Json::Object(map) => map
            .values_mut()
            .for_each(|v| fill_placeholders(v, attachments)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_reach_the_targeted_sockets_of_every_node_once() {
    let redis = RedisServer::start().await;
    let a = start_node(&redis, "socket.io", 1).await;
    let b = start_node(&redis, "socket.io", 2).await;
    let mut a1 = Client::connect(&a, "/").await;
    let mut b1 = Client::connect(&b, "/").await;
    let mut b2 = Client::connect(&b, "/").await;
    let mut admin = Client::connect(&a, "/admin").await;
    a1.join("r1").await;
    b1.join("r1").await;
    b1.join("muted").await;

    let io = redis.emitter().await;
    assert_eq!(io.emit("all", ("hello", 1)).await.expect("published"), 2);
    io.to("r1").emit("room", ("r1",)).await.expect("published");
    io.to("r1")
        .except("muted")
        .emit("room-unmuted", ())
        .await
        .expect("published");
    io.except(b2.sid.as_str())
        .volatile()
        .compress(true)
        .emit("not-b2", ())
        .await
        .expect("published");
    io.to(["muted", "r1"])
        .emit("bytes", (vec![1u8, 2, 255], json!({"n": 1})))
        .await
        .expect("published");
    io.of("admin")
        .emit_serialized("admin-only", &json!({"x": [1, 2]}))
        .await
        .expect("published");
    io.emit("marker", ()).await.expect("published");
    io.of("/admin").emit("marker", ()).await.expect("published");

    let bytes = json!(["bytes", {"bytes": [1, 2, 255]}, {"n": 1}]);
    assert_eq!(
        a1.events_until_marker().await,
        json!([
            ["all", "hello", 1],
            ["room", "r1"],
            ["room-unmuted"],
            ["not-b2"],
            bytes
        ])
    );
    assert_eq!(
        b1.events_until_marker().await,
        json!([["all", "hello", 1], ["room", "r1"], ["not-b2"], bytes])
    );
    assert_eq!(b2.events_until_marker().await, json!([["all", "hello", 1]]));
    assert_eq!(
        admin.events_until_marker().await,
        json!([["admin-only", {"x": [1, 2]}]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_join_leave_and_disconnect_on_every_node() {
    let redis = RedisServer::start().await;
    let a = start_node(&redis, "socket.io", 1).await;
    let b = start_node(&redis, "socket.io", 2).await;
    let mut a1 = Client::connect(&a, "/").await;
    let mut b1 = Client::connect(&b, "/").await;
    let mut b2 = Client::connect(&b, "/").await;
    b2.join("quiet").await;

    let io = redis.emitter().await;
    // Everyone but "quiet" joins "news"; b1 (by its id) joins "vip".
    io.except("quiet")
        .sockets_join("news")
        .await
        .expect("published");
    io.in_(b1.sid.as_str())
        .sockets_join(["vip", "vip2"])
        .await
        .expect("published");
    io.to("news").emit("news", ()).await.expect("published");
    io.to("vip2").emit("vip", ()).await.expect("published");
    io.emit("marker", ()).await.expect("published");
    assert_eq!(a1.events_until_marker().await, json!([["news"]]));
    assert_eq!(b1.events_until_marker().await, json!([["news"], ["vip"]]));
    assert_eq!(b2.events_until_marker().await, json!([]));

    io.to("vip").sockets_leave("news").await.expect("published");
    io.to("news").emit("news", ()).await.expect("published");
    io.emit("marker", ()).await.expect("published");
    assert_eq!(a1.events_until_marker().await, json!([["news"]]));
    assert_eq!(b1.events_until_marker().await, json!([]));

    // Disconnect the sockets of "quiet" (b2 only), keeping their connections.
    io.to("quiet")
        .disconnect_sockets(false)
        .await
        .expect("published");
    b2.disconnected().await;
    io.emit("marker", ()).await.expect("published");
    assert_eq!(a1.events_until_marker().await, json!([]));
    assert_eq!(b1.events_until_marker().await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_prefix_reaches_nodes_with_that_key_only() {
    let redis = RedisServer::start().await;
    let node = start_node(&redis, "my-app", 1).await;
    let mut c = Client::connect(&node, "/").await;
    let default = redis.emitter().await;
    assert_eq!(default.emit("wrong-key", ()).await.expect("published"), 0);
    let io = redis.emitter().await.with_key("my-app");
    assert_eq!(io.key(), "my-app");
    assert_eq!(io.emit("right-key", ()).await.expect("published"), 1);
    io.emit("marker", ()).await.expect("published");
    assert_eq!(c.events_until_marker().await, json!([["right-key"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_typed_error() {
    let redis = RedisServer::start().await;
    let io = redis.emitter().await;
    assert!(matches!(
        io.emit("disconnect", ()).await,
        Err(EmitterError::ReservedEvent(name)) if name == "disconnect"
    ));
    assert!(matches!(
        io.server_side_emit("ping", (vec![1u8],)).await,
        Err(EmitterError::BinaryInServerSideEmit { index: 0 })
    ));
    // A connection that cannot reach Redis is reported, not a panic.
    let gone = RedisServer::start().await;
    let unreachable = Emitter::new(
        gone.client()
            .get_multiplexed_async_connection()
            .await
            .expect("connects"),
    );
    drop(gone);
    let mut failed = false;
    for _ in 0..50 {
        if let Err(e) = unreachable.emit("x", ()).await {
            assert!(matches!(e, EmitterError::Redis(_)), "{e}");
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(failed, "publishing to a stopped redis-server must fail");
}

/// The exact bytes of `@socket.io/redis-emitter` 5 (notepack.io), written by hand
/// from the msgpack spec, on the channel of a one-room broadcast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_the_bytes_of_the_node_emitter() {
    let redis = RedisServer::start().await;
    let mut sub = redis.client().get_async_pubsub().await.expect("subscriber");
    sub.psubscribe("socket.io#*").await.expect("psubscribe");
    let io = redis.emitter().await;
    assert_eq!(io.to("r1").emit("ev", (1,)).await.expect("published"), 1);
    let msg = tokio::time::timeout(WAIT, sub.on_message().next())
        .await
        .expect("a message within 10 s")
        .expect("a message");
    assert_eq!(msg.get_channel_name(), "socket.io#/#r1#");
    // ["emitter", {type: 2, data: ["ev", 1], nsp: "/"}, {rooms: ["r1"], flags: {}, except: []}]
    let mut expected = vec![0x93, 0xa7];
    expected.extend(b"emitter");
    expected.extend([0x83, 0xa4]);
    expected.extend(b"type");
    expected.extend([0x02, 0xa4]);
    expected.extend(b"data");
    expected.extend([0x92, 0xa2, b'e', b'v', 0x01, 0xa3]);
    expected.extend(b"nsp");
    expected.extend([0xa1, b'/', 0x83, 0xa5]);
    expected.extend(b"rooms");
    expected.extend([0x91, 0xa2, b'r', b'1', 0xa5]);
    expected.extend(b"flags");
    expected.extend([0x80, 0xa6]);
    expected.extend(b"except");
    expected.push(0x90);
    assert_eq!(msg.get_payload_bytes(), expected.as_slice());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_fail_while_redis_is_away_and_the_same_emitter_works_once_it_is_back() {
    let mut redis = RedisServer::start().await;
    let a = start_node(&redis, "socket.io", 1).await;
    let mut a1 = Client::connect(&a, "/").await;
    let io = redis.emitter().await;
    io.emit("before", ()).await.expect("published");
    io.emit("marker", ()).await.expect("published");
    assert_eq!(a1.events_until_marker().await, json!([["before"]]));

    let port = redis.port;
    redis.stop();
    // Nothing is queued: the caller is told, and the event is lost.
    let during = io.emit("during", ()).await;
    assert!(matches!(during, Err(EmitterError::Redis(_))), "{during:?}");

    let redis = RedisServer::start_on(port).await;
    // The emitter reconnects by itself and the node subscribes again; an emit counts
    // the nodes that heard it, so retry until one did.
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(1) = io.emit("after", ()).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("an emit reaches the node within 30 s of redis coming back");
    io.emit("marker", ()).await.expect("published");
    assert_eq!(a1.events_until_marker().await, json!([["after"]]));
    drop(redis);
}
