//! Two Sockeye nodes in one process, clustered through a real `redis-server` that the
//! test starts on a free port, with raw websocket clients speaking the wire protocol.
//!
//! "Exactly once" is checked without timing: after the event under test, a marker is
//! broadcast to everyone; each client must then see exactly the expected events before
//! the marker (Redis keeps one node's messages in order).

mod support;

use std::time::Duration;

use serde_json::{json, Value as Json};
use sockeye::adapter::{AdapterError, ServerEvent, ServerSideEmitError};
use sockeye::{AckError, Namespace, SocketIo, Value};
use sockeye_redis::{RedisAdapterConfig, RedisAdapterFactory, RedisConnectionState};
use support::{root_with_join, serve, wait_for_server_count, Client, RedisServer, WAIT};

/// One Sockeye node: its server handle, namespace `/`, address, and the factory that
/// reports its Redis link.
struct Node {
    io: SocketIo,
    root: Namespace,
    addr: std::net::SocketAddr,
    factory: RedisAdapterFactory,
}

async fn start_node(redis: &RedisServer) -> Node {
    let factory = RedisAdapterFactory::new(redis.client(), RedisAdapterConfig::default())
        .await
        .expect("connects to redis");
    let io = SocketIo::builder().adapter(factory.clone()).build();
    let root = root_with_join(&io);
    let addr = serve(&io).await;
    Node {
        io,
        root,
        addr,
        factory,
    }
}

/// Two nodes that see each other (each counts 2 servers).
async fn cluster(redis: &RedisServer) -> (Node, Node) {
    let a = start_node(redis).await;
    let b = start_node(redis).await;
    for node in [&a, &b] {
        wait_for_server_count(&node.root, 2).await;
    }
    (a, b)
}

/// Sends the marker to every client of the cluster from `node`.
fn marker(node: &Node) {
    node.root.emit("marker", ()).expect("broadcast");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_broadcast_reaches_exactly_the_members_on_the_other_node_once() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut a1 = Client::connect(a.addr).await;
    let mut b1 = Client::connect(b.addr).await;
    let mut b2 = Client::connect(b.addr).await;
    a1.join("r1").await;
    b1.join("r1").await;

    a.root
        .to("r1")
        .emit("hello", ("from a", 1))
        .expect("broadcast");
    marker(&a);

    let hello = json!([["hello", "from a", 1]]);
    assert_eq!(a1.events_until_marker().await, hello);
    assert_eq!(b1.events_until_marker().await, hello);
    assert_eq!(b2.events_until_marker().await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn except_and_local_are_honoured_across_nodes() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut b1 = Client::connect(b.addr).await;
    let mut b2 = Client::connect(b.addr).await;
    let mut a1 = Client::connect(a.addr).await;
    b1.join("r1").await;
    b1.join("muted").await;
    b2.join("r1").await;
    a1.join("r1").await;

    a.root
        .to("r1")
        .except("muted")
        .emit("news", ("x",))
        .expect("broadcast");
    // A socket id works as a room in `except` too, on the other node.
    a.root
        .except(b2.sid.as_str())
        .emit("all-but-b2", ())
        .expect("broadcast");
    a.root.local().emit("only-a", ()).expect("broadcast");
    marker(&a);

    assert_eq!(b1.events_until_marker().await, json!([["all-but-b2"]]));
    assert_eq!(b2.events_until_marker().await, json!([["news", "x"]]));
    assert_eq!(
        a1.events_until_marker().await,
        json!([["news", "x"], ["all-but-b2"], ["only-a"]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sockets_sees_the_sockets_of_both_nodes() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut a1 = Client::connect(a.addr).await;
    let b1 = Client::connect(b.addr).await;
    let b2 = Client::connect(b.addr).await;
    a1.join("r1").await;

    let mut ids: Vec<String> = a
        .root
        .fetch_sockets()
        .await
        .expect("every node answers")
        .iter()
        .map(|s| s.id().to_string())
        .collect();
    ids.sort();
    let mut expected = vec![a1.sid.clone(), b1.sid.clone(), b2.sid.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    // From the other side, with the remote socket's rooms.
    let from_b = b.root.fetch_sockets().await.expect("every node answers");
    assert_eq!(from_b.len(), 3);
    let remote_a1 = from_b
        .iter()
        .find(|s| s.id() == a1.sid)
        .expect("a1 is listed");
    assert!(remote_a1.rooms().iter().any(|r| r == "r1"), "{remote_a1:?}");

    // Restricted to a room.
    let in_r1 = b.io.to("r1").fetch_sockets().await.expect("answers");
    assert_eq!(in_r1.len(), 1);
    assert_eq!(b.io.of("/").map(|ns| ns.sockets().len()), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_join_leave_and_disconnect() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut a1 = Client::connect(a.addr).await;
    let mut b1 = Client::connect(b.addr).await;
    let mut b2 = Client::connect(b.addr).await;

    // Node A makes b1 (on node B) join "vip" through the socket fetched from the cluster.
    let sockets = a.root.fetch_sockets().await.expect("answers");
    let remote_b1 = sockets
        .iter()
        .find(|s| s.id() == b1.sid)
        .expect("b1 is listed");
    remote_b1.join("vip").expect("published");
    // And every socket of the cluster join "all" (applied locally and remotely).
    a.root.sockets_join("all").expect("published");
    a.root.to("vip").emit("vip-news", ()).expect("broadcast");
    a.root.to("all").emit("all-news", ()).expect("broadcast");
    marker(&a);
    assert_eq!(
        b1.events_until_marker().await,
        json!([["vip-news"], ["all-news"]])
    );
    assert_eq!(b2.events_until_marker().await, json!([["all-news"]]));
    assert_eq!(a1.events_until_marker().await, json!([["all-news"]]));

    // Leaving, then a remote disconnect of b2.
    a.root
        .to(b1.sid.as_str())
        .sockets_leave("vip")
        .expect("published");
    a.root.to("vip").emit("vip-news", ()).expect("broadcast");
    marker(&a);
    assert_eq!(b1.events_until_marker().await, json!([]));

    a.root
        .to(b2.sid.as_str())
        .disconnect_sockets(false)
        .expect("published");
    b2.disconnected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_with_acks_collects_the_acks_of_both_nodes() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut a1 = Client::connect(a.addr).await;
    let mut b1 = Client::connect(b.addr).await;
    let mut b2 = Client::connect(b.addr).await;
    b2.join("r").await;

    let io = a.io.clone();
    let everyone = tokio::spawn(async move {
        io.timeout(WAIT)
            .emit_with_ack("ping", ("x",))
            .await
            .expect("every client acks")
    });
    for client in [&mut a1, &mut b1, &mut b2] {
        let sid = client.sid.clone();
        assert_eq!(
            client.answer_ack(json!([sid, 2])).await,
            json!(["ping", "x"])
        );
    }
    let mut acks: Vec<Json> = everyone
        .await
        .expect("joined")
        .into_iter()
        .map(|args| serde_json::to_value(args).expect("json"))
        .collect();
    acks.sort_by_key(|a| a[0].as_str().map(str::to_string));
    let mut expected = vec![json!([a1.sid, 2]), json!([b1.sid, 2]), json!([b2.sid, 2])];
    expected.sort_by_key(|a| a[0].as_str().map(str::to_string));
    assert_eq!(
        acks, expected,
        "whole acks, every argument, from both nodes"
    );

    // A client that never answers: the timeout gives what arrived.
    let io = b.io.clone();
    let partial = tokio::spawn(async move {
        io.timeout(Duration::from_millis(500))
            .emit_with_ack("ping", ())
            .await
    });
    a1.answer_ack(json!(["a1"])).await;
    b1.answer_ack(json!(["b1"])).await;
    match partial.await.expect("joined") {
        Err(AckError::Partial {
            expected, received, ..
        }) => {
            assert_eq!(expected, 3);
            assert_eq!(received.len(), 2);
        }
        other => panic!("expected a partial result, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_emit_reaches_the_other_node_and_collects_its_answer() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    b.io.on_server_event("hello", move |event: ServerEvent| {
        let seen_tx = seen_tx.clone();
        async move {
            seen_tx.send(event.args).ok();
        }
    });
    b.io.on_server_event("question", |mut event: ServerEvent| async move {
        let n = event.args.first().and_then(Value::as_u64).unwrap_or(0);
        event.ack(n * 2);
    });
    // Node A's own handlers are not called by its own emits.
    a.io.on_server_event("question", |mut event: ServerEvent| async move {
        event.ack("not me");
    });

    a.io.server_side_emit("hello", ("world", 1))
        .expect("published");
    let args = tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("within 10 s")
        .expect("an event");
    assert_eq!(args, vec![Value::from("world"), Value::from(1u64)]);

    let answers =
        a.io.server_side_emit_with_ack("question", (21,))
            .await
            .expect("node B answers");
    assert_eq!(answers, vec![Value::from(42u64)]);

    // Nobody handles it: a timeout error, with no answers.
    match a
        .io
        .timeout(Duration::from_millis(300))
        .server_side_emit_with_ack("nobody-listens", ())
        .await
    {
        Err(ServerSideEmitError::Timeout {
            expected,
            responses,
            ..
        }) => {
            assert_eq!(expected, 1);
            assert!(responses.is_empty());
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(matches!(
        a.io.server_side_emit("disconnect", ()),
        Err(ServerSideEmitError::Reserved(_))
    ));
}

/// Waits until the node's Redis link is in `state`.
async fn wait_state(node: &Node, state: RedisConnectionState) {
    let mut watch = node.factory.watch_state();
    tokio::time::timeout(WAIT, watch.wait_for(|s| *s == state))
        .await
        .expect("state reached within 10 s")
        .expect("the adapter is alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_redis_restart() {
    let mut redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut a1 = Client::connect(a.addr).await;
    let mut b1 = Client::connect(b.addr).await;

    redis.stop();
    wait_state(&a, RedisConnectionState::Disconnected).await;
    wait_state(&b, RedisConnectionState::Disconnected).await;

    // Local delivery goes on; what needs the other nodes fails at once.
    a.root.emit("local-news", ()).expect("delivered locally");
    a.root
        .local()
        .emit("marker", ())
        .expect("delivered locally");
    assert_eq!(a1.events_until_marker().await, json!([["local-news"]]));
    assert!(matches!(
        a.root.fetch_sockets().await,
        Err(AdapterError::Unavailable(_))
    ));
    assert!(matches!(
        a.io.timeout(WAIT).emit_with_ack("ping", ()).await,
        Err(AckError::Emit(_))
    ));
    assert!(matches!(
        a.io.server_side_emit_with_ack("q", ()).await,
        Err(ServerSideEmitError::Adapter(AdapterError::Unavailable(_)))
    ));

    // Redis comes back on the same port: both nodes reconnect and subscribe again.
    redis.restart().await;
    wait_state(&a, RedisConnectionState::Connected).await;
    wait_state(&b, RedisConnectionState::Connected).await;
    a.root.emit("back", ()).expect("broadcast");
    marker(&a);
    assert_eq!(b1.events_until_marker().await, json!([["back"]]));
    assert_eq!(a1.events_until_marker().await, json!([["back"]]));
    let ids = b.root.fetch_sockets().await.expect("both nodes answer");
    assert_eq!(ids.len(), 2);
}
