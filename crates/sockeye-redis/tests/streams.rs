//! Two Sockeye nodes in one process sharing a Redis stream (the streams adapter), with a
//! real `redis-server` started by the test on a free port and raw websocket clients
//! speaking the wire protocol.
//!
//! "Exactly once" is checked without timing: after the event under test, a marker is
//! broadcast to everyone; each client must then see exactly the expected events before
//! the marker (every node delivers the stream in order).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value as Json};
use sockeye::adapter::AdapterError;
use sockeye::{Namespace, RecoveryConfig, Socket, SocketIo, Value};
use sockeye_redis::streams::{StreamsAdapterConfig, StreamsAdapterFactory};
use support::{root_with_join, serve, wait_for_server_count, Client, RedisServer, Traffic, WAIT};
use tokio::net::TcpStream;

struct Node {
    root: Namespace,
    addr: std::net::SocketAddr,
    _io: SocketIo,
}

async fn start_node(redis: &RedisServer) -> Node {
    start_node_at(&redis.url, false).await
}

/// A node on the Redis at `url`, with connection state recovery on or off.
async fn start_node_at(url: &str, recovery: bool) -> Node {
    let client = redis::Client::open(url).expect("valid url");
    let factory = StreamsAdapterFactory::new(client, StreamsAdapterConfig::default())
        .await
        .expect("connects to redis");
    let mut builder = SocketIo::builder();
    if recovery {
        builder = builder.connection_state_recovery(RecoveryConfig::default());
    }
    let io = builder.adapter(factory).build();
    let root = root_with_join(&io);
    let addr = serve(&io).await;
    Node {
        root,
        addr,
        _io: io,
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

/// A TCP proxy in front of Redis whose connections can all be cut (and new ones
/// refused) while Redis itself keeps running: one node losing its link.
struct Proxy {
    url: String,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(redis_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let open = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn({
            let (open, links) = (open.clone(), links.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is closed at once
                    }
                    let link = tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", redis_port)).await
                        else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    });
                    links
                        .lock()
                        .expect("not poisoned")
                        .push(link.abort_handle());
                }
            }
        });
        Proxy {
            url: format!("redis://127.0.0.1:{port}/"),
            open,
            links,
        }
    }

    /// Closes every connection through the proxy and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("not poisoned").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_except_volatile_and_local_across_nodes_and_malformed_entries_skipped() {
    let redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut b1 = Client::connect(b.addr).await;
    let mut b2 = Client::connect(b.addr).await;
    let mut a1 = Client::connect(a.addr).await;
    b1.join("r1").await;
    b1.join("muted").await;
    b2.join("r1").await;
    a1.join("r1").await;

    // Entries another program (or a bug) could leave in the stream: each is skipped.
    let mut conn = redis.command().await;
    let garbage: [&[(&str, &[u8])]; 7] = [
        &[("type", b"3"), ("data", b"{}")],
        &[("nsp", b"/"), ("type", b"three")],
        &[("nsp", b"/"), ("type", b"3"), ("data", b"{not json")],
        &[("nsp", b"/"), ("type", b"3"), ("data", b"!!!")],
        &[("nsp", b"/"), ("type", b"3"), ("data", b"wf8=")],
        &[
            ("nsp", b"/"),
            ("type", b"3"),
            ("data", br#"{"packet":{"type":2}}"#),
        ],
        &[
            ("nsp", b"/"),
            ("uid", b"x"),
            ("type", b"3"),
            ("data", &[0xff, 0xfe]),
        ],
    ];
    for fields in garbage {
        let mut cmd = redis::cmd("XADD");
        cmd.arg("socket.io").arg("*");
        for (k, v) in fields {
            cmd.arg(*k).arg(*v);
        }
        let _: String = cmd.query_async(&mut conn).await.expect("XADD");
    }

    a.root
        .to("r1")
        .except("muted")
        .emit("news", ("x",))
        .expect("broadcast");
    a.root
        .except(b2.sid.as_str())
        .emit("all-but-b2", ())
        .expect("broadcast");
    a.root.local().emit("local-only", ()).expect("broadcast");
    a.root.volatile().emit("volatile", (1,)).expect("broadcast");
    a.root.emit("marker", ()).expect("broadcast");

    assert_eq!(
        b1.events_until_marker().await,
        json!([["all-but-b2"], ["volatile", 1]])
    );
    assert_eq!(
        b2.events_until_marker().await,
        json!([["news", "x"], ["volatile", 1]])
    );
    assert_eq!(
        a1.events_until_marker().await,
        json!([
            ["news", "x"],
            ["all-but-b2"],
            ["local-only"],
            ["volatile", 1]
        ])
    );

    // Garbage on the request channel is skipped too.
    for payload in [
        &b"\xc1"[..],
        b"not msgpack",
        b"\x81\xa4type\x07",
        b"\x92\x01\x02",
    ] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("socket.io#/#")
            .arg(payload)
            .query_async(&mut conn)
            .await
            .expect("PUBLISH");
    }
    // fetch_sockets sees both nodes; sockets_join reaches the other node.
    let sockets = a.root.fetch_sockets().await.expect("both nodes answer");
    assert_eq!(sockets.len(), 3);
    a.root.to("muted").sockets_join("late").expect("join");
    a.root.emit("marker", ()).expect("broadcast");
    for c in [&mut b1, &mut b2, &mut a1] {
        assert_eq!(c.events_until_marker().await, json!([]));
    }
    a.root.to("late").emit("late-news", ()).expect("broadcast");
    a.root.emit("marker", ()).expect("broadcast");
    assert_eq!(b1.events_until_marker().await, json!([["late-news"]]));
    assert_eq!(b2.events_until_marker().await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_resumes_reading_after_redis_comes_back() {
    let mut redis = RedisServer::start().await;
    let (a, b) = cluster(&redis).await;
    let mut b1 = Client::connect(b.addr).await;
    a.root.emit("before", ()).expect("broadcast");
    a.root.emit("marker", ()).expect("broadcast");
    assert_eq!(b1.events_until_marker().await, json!([["before"]]));

    redis.stop();
    // Redis is away: broadcasts still reach this node's own clients.
    let mut a1 = Client::connect(a.addr).await;
    a.root.emit("marker", ()).expect("broadcast");
    assert_eq!(a1.events_until_marker().await, json!([]));

    redis.restart().await;
    // The nodes reconnect on their own: broadcast until one gets through.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0u64;
    let got = loop {
        a.root.emit("after", (n,)).expect("broadcast");
        n += 1;
        match tokio::time::timeout(Duration::from_millis(500), b1.next_event()).await {
            Ok(event) => break event,
            Err(_) if tokio::time::Instant::now() < deadline => continue,
            Err(_) => panic!("no broadcast crossed nodes within 30 s of redis coming back"),
        }
    };
    assert_eq!(got[0], "after");
    // From then on, everything crosses, in order and once.
    a.root.emit("marker", ()).expect("broadcast");
    let rest = b1.events_until_marker().await;
    let first = got[1].as_u64().expect("a number");
    let expected: Vec<Json> = (first + 1..n).map(|i| json!(["after", i])).collect();
    assert_eq!(rest, Json::Array(expected));
    // The pub/sub connections came back too: requests across nodes work again.
    let count = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(sockets) = a.root.fetch_sockets().await {
                if sockets.len() == 2 {
                    return sockets.len();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("fetch_sockets sees both nodes' sockets again within 30 s");
    assert_eq!(count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_during_traffic_keeps_local_delivery_and_cross_node_delivery_resumes() {
    // Recovery on: this node's broadcasts reach its own clients when read back from the
    // stream, or, when they cannot be appended, directly.
    let mut redis = RedisServer::start().await;
    let a = start_node_at(&redis.url, true).await;
    let b = start_node_at(&redis.url, true).await;
    for node in [&a, &b] {
        wait_for_server_count(&node.root, 2).await;
    }
    let mut a1 = Client::connect(a.addr).await;
    let mut b1 = Client::connect(b.addr).await;
    a1.join("room").await;
    b1.join("room").await;
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    let traffic = Traffic::start(a.root.clone(), "room");
    b1.read_traffic(Some(3), &mut at_b).await;

    redis.stop();
    // Redis is away: the room's member on the same node keeps getting the broadcasts,
    let stopped_at = traffic.sent();
    a1.read_traffic(Some(stopped_at + 20), &mut at_a).await;
    // and what needs the other nodes fails.
    let fetched = a.root.fetch_sockets().await.map(|s| s.len());
    assert!(
        matches!(fetched, Err(AdapterError::Unavailable(_))),
        "fetch_sockets without redis: {fetched:?}"
    );

    redis.restart().await;
    // The readers resume by themselves and broadcasts cross again.
    let back_at = traffic.sent();
    b1.read_traffic(Some(back_at), &mut at_b).await;
    let more = traffic.sent() + 20;
    b1.read_traffic(Some(more), &mut at_b).await;
    let total = traffic.stop().await;
    a.root.emit("marker", ()).expect("broadcast");
    a1.read_traffic(None, &mut at_a).await;
    b1.read_traffic(None, &mut at_b).await;

    // The local member got every broadcast once, in order, outage or not.
    assert_eq!(at_a, (0..total).collect::<Vec<_>>());
    // The remote member got them in order and never twice; some of those broadcast
    // while Redis was away may be missing, but from the first one read after the
    // restart on, every broadcast arrived.
    assert!(at_b.windows(2).all(|w| w[0] < w[1]), "{at_b:?}");
    let resumed = at_b.iter().position(|&i| i >= back_at).expect("resumed");
    let first = at_b[resumed];
    assert_eq!(at_b[resumed..], (first..total).collect::<Vec<_>>()[..]);
    let gaps: Vec<(u64, u64)> = at_b
        .windows(2)
        .filter(|w| w[1] > w[0] + 1)
        .map(|w| (w[0] + 1, w[1] - 1))
        .collect();
    eprintln!(
        "remote member: {} of {total} broadcasts; missing ranges {gaps:?}; redis stopped after {stopped_at}, back after {back_at}",
        at_b.len()
    );
    let sockets = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match a.root.fetch_sockets().await {
                Ok(sockets) if sockets.len() == 2 => return sockets,
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await
    .expect("fetch_sockets sees both nodes' sockets again within 30 s");
    assert_eq!(sockets.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_reads_what_it_missed_from_its_last_entry() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.port).await;
    let a = start_node_at(&redis.url, false).await;
    let b = start_node_at(&proxy.url, false).await;
    let mut b1 = Client::connect(b.addr).await;
    b1.join("room").await;
    a.root.to("room").emit("before", ()).expect("broadcast");
    a.root.emit("marker", ()).expect("broadcast");
    assert_eq!(b1.events_until_marker().await, json!([["before"]]));

    // b loses its link to Redis; a keeps appending to the stream.
    proxy.cut();
    let mut conn = redis.command().await;
    let len: usize = redis::cmd("XLEN")
        .arg("socket.io")
        .query_async(&mut conn)
        .await
        .expect("XLEN");
    for i in 0..10u64 {
        a.root.to("room").emit("missed", (i,)).expect("broadcast");
    }
    a.root
        .to("room")
        .sockets_join("joined-meanwhile")
        .expect("sockets_join");
    a.root.emit("marker", ()).expect("broadcast");
    tokio::time::timeout(WAIT, async {
        loop {
            let now: usize = redis::cmd("XLEN")
                .arg("socket.io")
                .query_async(&mut conn)
                .await
                .expect("XLEN");
            if now >= len + 12 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a appends while b is cut off");

    // Back: b reads on from the last entry it had read, so its client gets everything
    // it missed, once and in order, and the room change is applied.
    proxy.restore();
    let expected: Vec<Json> = (0..10u64).map(|i| json!(["missed", i])).collect();
    let missed = tokio::time::timeout(Duration::from_secs(30), b1.events_until_marker())
        .await
        .expect("b reads the stream again within 30 s");
    assert_eq!(missed, Json::Array(expected));
    a.root
        .to("joined-meanwhile")
        .emit("to-new-room", ())
        .expect("broadcast");
    a.root.emit("marker", ()).expect("broadcast");
    assert_eq!(b1.events_until_marker().await, json!([["to-new-room"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sockets_fails_in_time_when_a_node_never_answers() {
    let redis = RedisServer::start().await;
    let client = redis.client();
    let timeout = Duration::from_millis(300);
    let config = StreamsAdapterConfig::default().request_timeout(timeout);
    let factory = StreamsAdapterFactory::new(client.clone(), config)
        .await
        .expect("connects to redis");
    let io = SocketIo::builder().adapter(factory).build();
    let root = io.ns("/", |_: Socket| async {});
    // A "node" that listens on the namespace's request channel but never answers.
    let mut silent = client.get_async_pubsub().await.expect("pubsub");
    silent.subscribe("socket.io#/#").await.expect("subscribe");
    // The silent node is counted.
    wait_for_server_count(&root, 2).await;
    let result = tokio::time::timeout(WAIT, root.fetch_sockets())
        .await
        .expect("fetch_sockets ends");
    assert_eq!(
        result.map(|s| s.len()),
        Err(sockeye::adapter::AdapterError::Timeout(timeout))
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_live_in_redis_for_the_window_and_are_restored_once_with_their_missed_packets() {
    use sockeye::adapter::{Room, SocketId};
    use sockeye::recovery::SessionState;
    use sockeye::{PacketData, RecoveryConfig};

    let redis = RedisServer::start().await;
    let factory = StreamsAdapterFactory::new(redis.client(), StreamsAdapterConfig::default())
        .await
        .expect("connects to redis");
    let window = Duration::from_secs(3);
    let io = SocketIo::builder()
        .connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: window,
            ..RecoveryConfig::default()
        })
        .adapter(factory)
        .build();
    let root = io.ns("/", |_: Socket| async {});
    let addr = serve(&io).await;
    // A client that is in none of the session's rooms, to know when the node has read
    // the last broadcast back from the stream.
    let mut watcher = Client::connect(addr).await;
    let mut conn = redis.command().await;
    let last_id = |reply: redis::Value| -> String {
        let redis::Value::Array(entries) = reply else {
            panic!("XREVRANGE reply: {reply:?}")
        };
        let redis::Value::Array(entry) = &entries[0] else {
            panic!("entry: {entries:?}")
        };
        match &entry[0] {
            redis::Value::BulkString(id) => String::from_utf8(id.clone()).expect("utf-8"),
            other => panic!("id: {other:?}"),
        }
    };

    root.emit("a", ()).expect("broadcast");
    let first = watcher.next_event().await;
    assert_eq!(first[0], "a");
    let offset = first[1].as_str().expect("an offset").to_string();
    let newest: redis::Value = redis::cmd("XREVRANGE")
        .arg("socket.io")
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .expect("XREVRANGE");
    assert_eq!(offset, last_id(newest), "the offset is the stream entry id");

    let session = SessionState {
        sid: SocketId::from("gone-socket"),
        pid: "secret-pid".into(),
        rooms: vec![Room::from("gone-socket"), Room::from("news")],
        data: Value::from("alice"),
    };
    root.adapter().persist_session(session.clone());
    let key = "sio:session:secret-pid";
    let ttl = tokio::time::timeout(WAIT, async {
        loop {
            let ttl: i64 = redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .expect("PTTL");
            if ttl > 0 {
                return ttl;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the session is stored");
    assert!(
        ttl <= window.as_millis() as i64,
        "expires with the window: {ttl}"
    );

    root.to("news").emit("b", ()).expect("broadcast");
    root.to("other").emit("c", ()).expect("broadcast");
    root.except("news").emit("d", ()).expect("broadcast");
    root.to("news").volatile().emit("e", ()).expect("broadcast");
    root.except("news").emit("marker", ()).expect("broadcast");
    let seen = watcher.events_until_marker().await;
    assert_eq!(seen.as_array().map(|e| e.len()), Some(1), "{seen}");

    // A malformed offset is refused without consuming the session...
    let refused = root
        .adapter()
        .restore_session("secret-pid", "not-an-offset")
        .await;
    assert_eq!(refused.expect("no redis error"), None);
    // So does an offset that is not in the stream.
    let unknown = root.adapter().restore_session("secret-pid", "1-0").await;
    assert_eq!(unknown.expect("no redis error"), None);
    let restored = root
        .adapter()
        .restore_session("secret-pid", &offset)
        .await
        .expect("no redis error")
        .expect("restored");
    assert_eq!(restored.state, session);
    let missed: Vec<(String, usize)> = restored
        .missed
        .iter()
        .map(|p| match &p.data {
            PacketData::Event { name, args } => (name.clone(), args.len()),
            other => panic!("not an event: {other:?}"),
        })
        .collect();
    // Only "b" (to news) was for it; volatile "e" is not kept; "b" carries its offset.
    assert_eq!(missed, vec![("b".to_string(), 1)]);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(key)
        .query_async(&mut conn)
        .await
        .expect("EXISTS");
    assert_eq!(exists, 0, "a session is taken out of redis");
    let again = root.adapter().restore_session("secret-pid", &offset).await;
    assert_eq!(again.expect("no redis error"), None);
}
