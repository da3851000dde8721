//! Publishing from backends, seen from outside: the gateway built in-process and
//! served on 127.0.0.1, a real `redis-server` on a free port, real HTTP requests with
//! `curl`, `PUBLISH` with the real `redis-cli`, and websocket clients speaking the
//! Socket.IO wire protocol that receive the events.
//!
//! That a client did NOT receive an event is shown by ordering, not by waiting: after
//! the event under test, a marker event goes to everyone, and a client that was not
//! targeted must see the marker first.
//!
//! Waiting is always bounded and on an observable state (a reply, a frame, a
//! subscriber count), never an assertion on how long something took.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use sockeye::{Socket, Value};
use sockeye_server::config::Config;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for anything to happen; generous because CI machines are slow.
const PATIENCE: Duration = Duration::from_secs(20);
const KEY: &str = "test-key-8f2c1a";
const CHANNEL: &str = "sockeye:publish-test";

mod support;
use support::{redis_cli, RedisServer as Redis};

/// `PUBLISH` on the bridge channel through redis-cli; how many subscribers got it.
async fn publish(redis: &Redis, payload: &str) -> usize {
    let port = redis.port;
    let payload = payload.to_string();
    tokio::task::spawn_blocking(move || {
        redis_cli(port, &["PUBLISH", CHANNEL, &payload])
            .parse()
            .unwrap_or(0)
    })
    .await
    .expect("redis-cli task")
}

/// Waits until the gateway's bridge is subscribed to the channel.
async fn wait_for_bridge(redis: &Redis) {
    let port = redis.port;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let count = tokio::task::spawn_blocking(move || {
            let out = redis_cli(port, &["PUBSUB", "NUMSUB", CHANNEL]);
            out.lines()
                .nth(1)
                .and_then(|n| n.trim().parse::<u32>().ok())
        })
        .await
        .expect("redis-cli task");
        if count.unwrap_or(0) >= 1 {
            return;
        }
        assert!(Instant::now() < deadline, "the bridge never subscribed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Builds the gateway with `config` and serves it on 127.0.0.1. Sockets of `/` join
/// the rooms listed in their auth payload (`{"rooms": [...]}`), then receive `ready`.
async fn gateway(config: Config) -> SocketAddr {
    let (router, gateway) = sockeye_server::app::build(config)
        .await
        .expect("the gateway builds");
    gateway.io.ns("/", |socket: Socket| async move {
        let rooms: Vec<String> = socket
            .auth()
            .get("rooms")
            .and_then(Value::as_array)
            .map(|rooms| {
                rooms
                    .iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        socket.join(rooms);
        socket.emit("ready", ()).ok();
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    addr
}

fn config(redis: Option<&Redis>) -> Config {
    Config {
        redis: redis.map(Redis::url),
        api_key: Some(KEY.into()),
        bridge_channel: redis.map(|_| CHANNEL.into()),
        ..Config::default()
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A Socket.IO client on namespace `/` over a raw websocket.
struct Client {
    ws: Ws,
}

impl Client {
    /// Connects, joins `rooms` (through the auth payload) and waits for `ready`.
    async fn connect(addr: SocketAddr, rooms: &[&str]) -> Client {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let mut client = Client { ws };
        let open = client.next_text().await;
        assert!(open.starts_with("0{"), "open packet expected, got {open}");
        let connect = format!("40{}", json!({ "rooms": rooms }));
        client.ws.send(Message::text(connect)).await.unwrap();
        let ack = client.next_text().await;
        assert!(ack.starts_with("40{"), "CONNECT answer expected, got {ack}");
        assert_eq!(client.next_event().await, json!(["ready"]));
        client
    }

    /// The next text frame, answering heartbeats.
    async fn next_text(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("the connection is open")
                .expect("a valid frame");
            if let Message::Text(text) = msg {
                if text.as_str() == "2" {
                    self.ws.send(Message::text("3")).await.unwrap();
                    continue;
                }
                return text.to_string();
            }
        }
    }

    /// The next EVENT packet of `/`, as its JSON array `[name, ...args]`.
    async fn next_event(&mut self) -> Json {
        let text = self.next_text().await;
        let body = text
            .strip_prefix("42")
            .unwrap_or_else(|| panic!("an event expected, got {text}"));
        serde_json::from_str(body).expect("event JSON")
    }
}

/// A request through the real `curl`; returns the status and the JSON body.
async fn curl(addr: SocketAddr, method: &str, path: &str, args: &[&str]) -> (u16, Json) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .args(args)
        .arg(format!("http://{addr}{path}"));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("curl task")
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').expect("curl printed a status");
    let status: u16 = status.trim().parse().expect("a status code");
    let body = serde_json::from_str(body).unwrap_or_else(|_| json!({ "raw": body }));
    (status, body)
}

/// `POST /api/emit` with the right key and a JSON body.
async fn emit(addr: SocketAddr, body: &Json) -> (u16, Json) {
    emit_raw(addr, &body.to_string()).await
}

/// `POST /api/emit` with the right key and `body` as it is.
async fn emit_raw(addr: SocketAddr, body: &str) -> (u16, Json) {
    let auth = format!("Authorization: Bearer {KEY}");
    curl(
        addr,
        "POST",
        "/api/emit",
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ],
    )
    .await
}

/// Sends `marker` to everyone and checks each client's next event is the marker:
/// proof that nothing else reached them before it.
async fn expect_marker_next(addr: SocketAddr, clients: &mut [&mut Client], marker: &str) {
    let (status, _) = emit(addr, &json!({ "event": marker })).await;
    assert_eq!(status, 202);
    for client in clients.iter_mut() {
        assert_eq!(client.next_event().await, json!([marker]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_reaches_exactly_the_targeted_rooms() {
    let addr = gateway(config(None)).await;
    let mut a = Client::connect(addr, &["r1"]).await;
    let mut b = Client::connect(addr, &["r2"]).await;
    let mut c = Client::connect(addr, &[]).await;

    let (status, body) = emit(
        addr,
        &json!({ "rooms": ["r1"], "event": "news", "args": [{ "x": 1 }, "two"] }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({ "ok": true, "namespace": "/", "recipients": 1 })
    );
    assert_eq!(a.next_event().await, json!(["news", { "x": 1 }, "two"]));
    expect_marker_next(addr, &mut [&mut b, &mut c], "mark1").await;
    assert_eq!(a.next_event().await, json!(["mark1"]));

    // Everyone but r1, with `data` as the single argument.
    let (status, body) = emit(
        addr,
        &json!({ "except": ["r1"], "event": "others", "data": "hi" }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["recipients"], 2);
    assert_eq!(b.next_event().await, json!(["others", "hi"]));
    assert_eq!(c.next_event().await, json!(["others", "hi"]));
    expect_marker_next(addr, &mut [&mut a], "mark2").await;

    // Two rooms at once, with the key in X-Api-Key.
    let body = json!({ "rooms": ["r1", "r2"], "event": "both" }).to_string();
    let (status, answer) = curl(
        addr,
        "POST",
        "/api/emit",
        &[
            "-H",
            &format!("X-Api-Key: {KEY}"),
            "-H",
            "Content-Type: application/json; charset=utf-8",
            "--data-binary",
            &body,
        ],
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["recipients"], 2);
    // `a` already read mark2 above; b and c still have it queued.
    assert_eq!(a.next_event().await, json!(["both"]));
    assert_eq!(b.next_event().await, json!(["mark2"]));
    assert_eq!(b.next_event().await, json!(["both"]));
    assert_eq!(c.next_event().await, json!(["mark2"]));
    expect_marker_next(addr, &mut [&mut c], "mark3").await;

    // The namespace list counts the three sockets.
    let (status, list) = curl(
        addr,
        "GET",
        "/api/namespaces",
        &["-H", &format!("Authorization: Bearer {KEY}")],
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let root = list["namespaces"]
        .as_array()
        .and_then(|l| l.iter().find(|n| n["name"] == "/"))
        .cloned();
    assert_eq!(root, Some(json!({ "name": "/", "sockets": 3 })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refuses_bad_requests_with_clear_json_errors() {
    let mut config = config(None);
    config.engine.max_payload = 4096;
    let addr = gateway(config).await;
    let mut a = Client::connect(addr, &["r1"]).await;
    let json_type = "Content-Type: application/json";
    let good = json!({ "event": "news" }).to_string();

    let cases: Vec<(Vec<String>, u16, &str)> = vec![
        // No key, wrong key, wrong scheme.
        (vec!["-H".into(), json_type.into()], 401, "unauthorized"),
        (
            vec![
                "-H".into(),
                "Authorization: Bearer nope".into(),
                "-H".into(),
                json_type.into(),
            ],
            401,
            "unauthorized",
        ),
        (
            vec![
                "-H".into(),
                format!("Authorization: Basic {KEY}"),
                "-H".into(),
                json_type.into(),
            ],
            401,
            "unauthorized",
        ),
    ];
    for (args, status, code) in cases {
        let mut args = args;
        args.extend(["--data-binary".into(), good.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (got, body) = curl(addr, "POST", "/api/emit", &args).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert_eq!(body["ok"], false);
        assert!(!body.to_string().contains(KEY), "the key is never echoed");
    }

    let bad_bodies: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "bad_json"),
        (json!({ "rooms": ["r1"] }).to_string(), 400, "missing_event"),
        (json!({ "event": "" }).to_string(), 400, "missing_event"),
        (
            json!({ "event": "connect" }).to_string(),
            400,
            "reserved_event",
        ),
        (
            json!({ "event": "disconnect" }).to_string(),
            400,
            "reserved_event",
        ),
        (
            json!({ "event": "x".repeat(300) }).to_string(),
            400,
            "event_too_long",
        ),
        (
            json!({ "event": "e", "args": "nope" }).to_string(),
            400,
            "bad_args",
        ),
        (
            json!({ "event": "e", "args": [1], "data": 2 }).to_string(),
            400,
            "bad_args",
        ),
        (
            json!({ "event": "e", "room": "r1" }).to_string(),
            400,
            "bad_json",
        ),
        (
            json!({ "event": "e", "rooms": [1] }).to_string(),
            400,
            "bad_json",
        ),
        (
            json!({ "event": "e", "namespace": "/nope" }).to_string(),
            404,
            "unknown_namespace",
        ),
        (
            json!({ "event": "e", "data": "x".repeat(5000) }).to_string(),
            413,
            "payload_too_large",
        ),
    ];
    for (body, status, code) in bad_bodies {
        let (got, answer) = emit_raw(addr, &body).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    // Not JSON: curl's default form encoding.
    let (got, answer) = curl(
        addr,
        "POST",
        "/api/emit",
        &["-H", &format!("X-Api-Key: {KEY}"), "-d", "event=news"],
    )
    .await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );

    // None of the refused requests reached the client.
    expect_marker_next(addr, &mut [&mut a], "after-errors").await;

    // The metrics count the one accepted call and the 16 refused ones.
    let (status, metrics) = curl(addr, "GET", "/metrics", &[]).await;
    assert_eq!(status, 200);
    let text = metrics["raw"].as_str().unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"sockeye_publish_requests_total 1"),
        "{text}"
    );
    assert!(
        lines.contains(&"sockeye_publish_rejected_total 16"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_without_a_key_is_disabled() {
    let addr = gateway(Config::default()).await;
    let (status, body) = emit(addr, &json!({ "event": "news" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("disabled")),
        "{body}"
    );
    let (status, body) = curl(addr, "GET", "/api/namespaces", &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("disabled")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_messages_reach_the_room_and_bad_ones_are_skipped() {
    let redis = Redis::start();
    let addr = gateway(config(Some(&redis))).await;
    let mut a = Client::connect(addr, &["r"]).await;
    let mut b = Client::connect(addr, &["other"]).await;
    wait_for_bridge(&redis).await;

    let n = publish(&redis, r#"{"room":"r","event":"news","data":{"x":1}}"#).await;
    assert_eq!(n, 1, "the bridge is the one subscriber");
    assert_eq!(a.next_event().await, json!(["news", { "x": 1 }]));

    // Malformed messages are skipped; the bridge keeps going.
    for bad in [
        "not json at all",
        r#"{"room":"r"}"#,
        r#"{"room":"r","event":"connect"}"#,
        r#"{"rooms":"r","event":"typo"}"#,
        r#"{"event":"e","namespace":"/nope"}"#,
    ] {
        publish(&redis, bad).await;
    }
    publish(&redis, r#"{"except":"r","event":"not-r","data":null}"#).await;
    publish(&redis, r#"{"event":"all","data":[1,2]}"#).await;
    assert_eq!(b.next_event().await, json!(["not-r", null]));
    assert_eq!(b.next_event().await, json!(["all", [1, 2]]));
    assert_eq!(a.next_event().await, json!(["all", [1, 2]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_resubscribes_after_redis_restarts() {
    let mut redis = Redis::start();
    let addr = gateway(config(Some(&redis))).await;
    let mut a = Client::connect(addr, &["r"]).await;
    wait_for_bridge(&redis).await;
    publish(&redis, r#"{"room":"r","event":"before"}"#).await;
    assert_eq!(a.next_event().await, json!(["before"]));

    redis.restart();
    // A fresh server has no subscribers until the bridge comes back.
    wait_for_bridge(&redis).await;
    let n = publish(&redis, r#"{"room":"r","event":"after"}"#).await;
    assert_eq!(n, 1);
    assert_eq!(a.next_event().await, json!(["after"]));
}

/// The official `socket.io-client` (from `e2e/node_modules`) in a `node` process:
/// joins `rooms`, prints `READY` once the server said so, then prints every event it
/// receives as one JSON line `[name, ...args]`.
struct NodeClient {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl NodeClient {
    fn start(addr: SocketAddr, rooms: &[&str]) -> NodeClient {
        let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../e2e/node_modules");
        let script = r#"
            const { io } = require("socket.io-client");
            const [url, rooms] = process.argv.slice(1);
            const socket = io(url, { auth: { rooms: JSON.parse(rooms) }, transports: ["websocket"] });
            socket.on("ready", () => console.log("READY"));
            socket.onAny((event, ...args) => {
                if (event !== "ready") console.log(JSON.stringify([event, ...args]));
            });
            socket.on("connect_error", (e) => { console.log("ERROR " + e.message); process.exit(1); });
        "#;
        let mut child = Command::new("node")
            .env("NODE_PATH", modules)
            .args([
                "-e",
                script,
                &format!("http://{addr}"),
                &json!(rooms).to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut client = NodeClient { child, lines };
        assert_eq!(client.next_line(), "READY");
        client
    }

    fn next_line(&mut self) -> String {
        self.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "no output from the node client: {:?}",
                self.child.try_wait()
            )
        })
    }

    fn next_event(&mut self) -> Json {
        let line = self.next_line();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("an event expected, got {line}"))
    }
}

impl Drop for NodeClient {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_receives_api_and_bridge_events() {
    let redis = Redis::start();
    let addr = gateway(config(Some(&redis))).await;
    wait_for_bridge(&redis).await;
    let mut member = tokio::task::spawn_blocking(move || NodeClient::start(addr, &["r"]))
        .await
        .expect("node client task");
    let mut outsider = tokio::task::spawn_blocking(move || NodeClient::start(addr, &[]))
        .await
        .expect("node client task");

    let (status, body) = emit(
        addr,
        &json!({ "rooms": ["r"], "event": "news", "args": [{ "x": 1 }, [1, "a"]] }),
    )
    .await;
    assert_eq!(
        (status, body["recipients"].as_u64()),
        (202, Some(1)),
        "{body}"
    );
    publish(&redis, r#"{"room":"r","event":"bridged","data":{"y":2}}"#).await;
    publish(&redis, r#"{"event":"everyone"}"#).await;

    let (member, outsider) = tokio::task::spawn_blocking(move || {
        let got = (
            [
                member.next_event(),
                member.next_event(),
                member.next_event(),
            ],
            outsider.next_event(),
        );
        drop((member, outsider));
        got
    })
    .await
    .expect("reader task");
    assert_eq!(
        member,
        [
            json!(["news", { "x": 1 }, [1, "a"]]),
            json!(["bridged", { "y": 2 }]),
            json!(["everyone"]),
        ]
    );
    // The outsider's first event is the one for everyone: the room events skipped it.
    assert_eq!(outsider, json!(["everyone"]));
}
