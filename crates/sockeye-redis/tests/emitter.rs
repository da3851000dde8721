//! The Rust emitter publishing into two Sockeye nodes clustered through a real
//! `redis-server` (started by the test on a free port), with raw websocket clients.
//!
//! "Exactly once" is checked without timing: after the messages under test, the
//! emitter broadcasts a marker; one Redis connection's messages keep their order, so
//! each client must have seen exactly the expected events when its marker arrives.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use sockeye::{Socket, SocketIo};
use sockeye_redis::emitter::{Emitter, EmitterError};
use sockeye_redis::{RedisAdapterConfig, RedisAdapterFactory};
use support::{root_with_join, serve, wait_for_server_count, Client, RedisServer, WAIT};

impl RedisServer {
    /// The emitter is this file's subject: the other test files need none.
    async fn emitter(&self) -> Emitter {
        Emitter::connect(self.client())
            .await
            .expect("connects to redis")
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
    let root = root_with_join(&io);
    let admin = io.ns("/admin", |_socket: Socket| async {});
    let addr = serve(&io).await;
    for ns in [&root, &admin] {
        wait_for_server_count(ns, nth).await;
    }
    Node { addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_reach_the_targeted_sockets_of_every_node_once() {
    let redis = RedisServer::start().await;
    let a = start_node(&redis, "socket.io", 1).await;
    let b = start_node(&redis, "socket.io", 2).await;
    let mut a1 = Client::connect(a.addr).await;
    let mut b1 = Client::connect(b.addr).await;
    let mut b2 = Client::connect(b.addr).await;
    let mut admin = Client::connect_to(a.addr, "/admin").await;
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
    let mut a1 = Client::connect(a.addr).await;
    let mut b1 = Client::connect(b.addr).await;
    let mut b2 = Client::connect(b.addr).await;
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
    let mut c = Client::connect(node.addr).await;
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
    let mut a1 = Client::connect(a.addr).await;
    let io = redis.emitter().await;
    io.emit("before", ()).await.expect("published");
    io.emit("marker", ()).await.expect("published");
    assert_eq!(a1.events_until_marker().await, json!([["before"]]));

    redis.stop();
    // Nothing is queued: the caller is told, and the event is lost.
    let during = io.emit("during", ()).await;
    assert!(matches!(during, Err(EmitterError::Redis(_))), "{during:?}");

    redis.restart().await;
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
}
