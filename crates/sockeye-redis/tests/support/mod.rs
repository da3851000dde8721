//! What the Redis adapters' integration tests share: a `redis-server` of their own, a raw
//! Socket.IO client speaking the wire protocol over websocket, a node's namespace `/` and
//! listener, and steady broadcast traffic to watch through an outage.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use sockeye::{Event, Namespace, Socket, SocketIo, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for something that should be quick (a frame, a subscription).
pub const WAIT: Duration = Duration::from_secs(10);

/// A `redis-server` of our own on a free port, without persistence, so that a restart
/// comes back empty as after a real outage; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    pub url: String,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = {
            let probe = StdListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("bound").port()
        };
        let mut server = RedisServer {
            port,
            url: format!("redis://127.0.0.1:{port}/"),
            child: None,
        };
        server.spawn().await;
        server
    }

    /// Starts the process and waits until it answers PING.
    async fn spawn(&mut self) {
        let child = Command::new("/usr/bin/redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let client = self.client();
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
    }

    /// Kills the server (as a crash or an outage would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (stopping it first if it runs), where the
    /// nodes' connections will find it.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str()).expect("valid url")
    }

    /// A connection of the test's own, to send commands the adapters do not.
    pub async fn command(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .expect("connects")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Adds namespace `/`, where a `join` event puts the socket in the room it names and is
/// acked with `"ok"`, so that a client knows it is in the room before a broadcast.
pub fn root_with_join(io: &SocketIo) -> Namespace {
    io.ns("/", |socket: Socket| async move {
        socket.on("join", |socket: Socket, mut event: Event| async move {
            if let Some(room) = event.arg(0).and_then(Value::as_str) {
                socket.join(room.to_string());
            }
            event.ack(("ok",)).ok();
        });
    })
}

/// Serves `io` on a free port of 127.0.0.1 until the test ends; the address.
pub async fn serve(io: &SocketIo) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(sockeye::serve_with_shutdown(
        listener,
        io.clone(),
        std::future::pending(),
    ));
    addr
}

/// Waits until the adapter of `ns` counts at least `n` servers, so that nothing
/// broadcast afterwards misses a node; a Redis error fails the test.
pub async fn wait_for_server_count(ns: &Namespace, n: usize) {
    tokio::time::timeout(WAIT, async {
        while ns.adapter().server_count().await.expect("redis") < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{n} servers counted within 10 s"));
}

/// A frame a client received: text, or the binary attachment of the previous one.
#[derive(Debug)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

/// A raw Socket.IO v5 client over websocket, connected to one namespace.
pub struct Client {
    ws: Ws,
    pub sid: String,
    /// What follows a packet type in this namespace's packets: empty for `/`.
    nsp: String,
    next_ack: u64,
}

impl Client {
    /// Connects to namespace `/` of the node at `addr`.
    pub async fn connect(addr: SocketAddr) -> Self {
        Client::connect_to(addr, "/").await
    }

    pub async fn connect_to(addr: SocketAddr, nsp: &str) -> Self {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
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

    pub async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send");
    }

    /// The next frame, answering heartbeats.
    pub async fn next_frame_within(&mut self, wait: Duration) -> Frame {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("a frame within {wait:?}"))
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

    pub async fn next_frame(&mut self) -> Frame {
        self.next_frame_within(WAIT).await
    }

    pub async fn next_text_within(&mut self, wait: Duration) -> String {
        match self.next_frame_within(wait).await {
            Frame::Text(t) => t,
            other => panic!("text expected, got {other:?}"),
        }
    }

    pub async fn next_text(&mut self) -> String {
        self.next_text_within(WAIT).await
    }

    /// Joins `room` through the node's `join` event (see [`root_with_join`]); its ack
    /// must be the very next packet.
    pub async fn join(&mut self, room: &str) {
        let id = self.next_ack;
        self.next_ack += 1;
        let nsp = &self.nsp;
        let (join, ack) = (
            format!("42{nsp}{id}[\"join\",\"{room}\"]"),
            format!("43{nsp}{id}[\"ok\"]"),
        );
        self.send(&join).await;
        assert_eq!(self.next_text().await, ack);
    }

    /// The next event, binary attachments written as `{"bytes": [...]}` in place of
    /// their placeholder.
    pub async fn next_event(&mut self) -> Json {
        let text = self.next_text().await;
        if let Some(body) = text
            .strip_prefix("42")
            .and_then(|t| t.strip_prefix(&self.nsp))
        {
            return serde_json::from_str(body).expect("event json");
        }
        let Some(rest) = text.strip_prefix("45") else {
            panic!("unexpected packet {text}");
        };
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
    }

    /// The events received up to (not including) the marker: a test broadcasts one
    /// after the events under test, and a node delivers in order, so what came before
    /// it is all that will come.
    pub async fn events_until_marker(&mut self) -> Json {
        let mut events = Vec::new();
        loop {
            let event = self.next_event().await;
            if event[0] == "marker" {
                return Json::Array(events);
            }
            events.push(event);
        }
    }

    /// Answers the next event that expects an ack with `reply`; returns the event.
    pub async fn answer_ack(&mut self, reply: Json) -> Json {
        loop {
            let text = self.next_text().await;
            let Some(rest) = text.strip_prefix("42") else {
                continue;
            };
            let split = rest.find('[').expect("event array");
            if split == 0 {
                continue;
            }
            let id = &rest[..split];
            self.send(&format!("43{id}{reply}")).await;
            return serde_json::from_str(&rest[split..]).expect("event json");
        }
    }

    /// Waits for the server's DISCONNECT of this namespace.
    pub async fn disconnected(&mut self) {
        let expected = format!("41{}", self.nsp);
        loop {
            if self.next_text().await == expected {
                return;
            }
        }
    }

    /// Reads the `["t", i]` events of a [`Traffic`] into `seen` until one with `i >=
    /// until`, or, with `until` `None`, until the marker.
    pub async fn read_traffic(&mut self, until: Option<u64>, seen: &mut Vec<u64>) {
        loop {
            let text = self.next_text_within(Duration::from_secs(30)).await;
            let event: Json = match text.strip_prefix("42") {
                Some(body) => serde_json::from_str(body).expect("event json"),
                None => panic!("unexpected packet {text}"),
            };
            if event[0] == "marker" && until.is_none() {
                return;
            }
            assert_eq!(event[0], "t", "only traffic expected, got {event}");
            let i = event[1].as_u64().expect("a number");
            seen.push(i);
            if until.is_some_and(|n| i >= n) {
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

/// Broadcasts `["t", i]` (i = 0, 1, 2…) from a namespace to a room every 10 ms, so that
/// a test can tell which broadcasts of an outage reached whom.
pub struct Traffic {
    sent: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    pub fn start(ns: Namespace, room: &'static str) -> Self {
        let sent = Arc::new(AtomicU64::new(0));
        let running = Arc::new(AtomicBool::new(true));
        let task = tokio::spawn({
            let (sent, running) = (sent.clone(), running.clone());
            async move {
                for i in 0.. {
                    if !running.load(Ordering::SeqCst) {
                        return;
                    }
                    ns.to(room)
                        .emit("t", (i,))
                        .expect("a broadcast is accepted");
                    sent.store(i + 1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        Traffic {
            sent,
            running,
            task,
        }
    }

    /// How many were broadcast so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Stops it; how many were broadcast in all.
    pub async fn stop(self) -> u64 {
        self.running.store(false, Ordering::SeqCst);
        self.task.await.expect("the traffic task ends");
        self.sent.load(Ordering::SeqCst)
    }
}
