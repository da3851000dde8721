//! Connection state recovery through real websocket connections, while another task
//! keeps broadcasting: a client that drops its connection and comes back with its `pid`
//! and last offset gets its socket back and every event exactly once, in order, however
//! the reconnection interleaves with the broadcasts.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::{RecoveryConfig, Socket, SocketIo, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn start(io: &SocketIo) -> std::net::SocketAddr {
    let app = axum::Router::new().layer(io.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The next text frame, answering heartbeats.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("the connection is open")
            .unwrap();
        if let Message::Text(t) = msg {
            if t.as_str() == "2" {
                ws.send(Message::text("3")).await.unwrap();
                continue;
            }
            return t.to_string();
        }
    }
}

/// Opens a connection and joins `/` with `auth`; returns the CONNECT reply's payload.
async fn connect(addr: std::net::SocketAddr, auth: serde_json::Value) -> (Ws, serde_json::Value) {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("0{"));
    ws.send(Message::text(format!("40{auth}"))).await.unwrap();
    let reply = next_text(&mut ws).await;
    let payload = reply
        .strip_prefix("40")
        .unwrap_or_else(|| panic!("CONNECT expected, got {reply}"));
    (ws, serde_json::from_str(payload).unwrap())
}

/// The next `tick` event: its number and offset.
async fn next_tick(ws: &mut Ws) -> (u64, String) {
    let text = next_text(ws).await;
    let packet: serde_json::Value = serde_json::from_str(
        text.strip_prefix("42")
            .unwrap_or_else(|| panic!("event expected, got {text}")),
    )
    .unwrap();
    assert_eq!(packet[0], "tick", "{text}");
    let n = packet[1].as_u64().unwrap();
    let offset = packet[2].as_str().expect("an offset").to_string();
    (n, offset)
}

async fn wait_until_gone(io: &SocketIo) {
    let ns = io.of("/").unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !ns.sockets().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the server drops the closed connection's socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnections_during_broadcasts_lose_and_repeat_nothing() {
    recover_while_broadcasting(true).await;
}

/// With a connect middleware that takes its time, many broadcasts happen between the
/// restoration of the session and the moment the socket is reachable again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_during_a_slow_connect_middleware_are_replayed_too() {
    recover_while_broadcasting(false).await;
}

async fn recover_while_broadcasting(skip_middlewares: bool) {
    let io = SocketIo::builder()
        .connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(30),
            skip_middlewares,
            ..RecoveryConfig::default()
        })
        .build();
    io.ns("/", |socket: Socket| async move {
        if !socket.recovered() {
            socket.join("ticks");
            socket.set_data(Value::from("kept"));
        }
    })
    .use_middleware(|_socket: Socket| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    });
    let addr = start(&io).await;

    let (mut ws, reply) = connect(addr, serde_json::json!({})).await;
    let sid = reply["sid"].as_str().unwrap().to_string();
    let pid = reply["pid"].as_str().expect("a pid").to_string();

    let broadcaster = io.clone();
    let ticking = tokio::spawn(async move {
        for n in 0u64.. {
            broadcaster.to("ticks").emit("tick", (n,)).unwrap();
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    });

    let mut expected = 0;
    for _round in 0..8 {
        let mut offset = String::new();
        for _ in 0..20 {
            let (n, o) = next_tick(&mut ws).await;
            assert_eq!(n, expected, "ticks arrive once, in order");
            expected += 1;
            offset = o;
        }
        drop(ws);
        wait_until_gone(&io).await;
        let (again, reply) = connect(addr, serde_json::json!({"pid": pid, "offset": offset})).await;
        assert_eq!(reply["sid"], sid.as_str(), "the same socket id");
        assert_eq!(reply["pid"], pid.as_str());
        ws = again;
        let socket = io
            .of("/")
            .unwrap()
            .socket(&sid)
            .expect("the recovered socket");
        assert!(socket.recovered());
        assert_eq!(socket.data(), Value::from("kept"));
    }
    for _ in 0..20 {
        let (n, _) = next_tick(&mut ws).await;
        assert_eq!(n, expected);
        expected += 1;
    }
    ticking.abort();
}

#[tokio::test]
async fn without_recovery_the_connect_reply_has_no_pid_and_events_no_offset() {
    let io = SocketIo::builder().build();
    io.ns("/", |socket: Socket| async move {
        socket.emit("hello", ("x",)).unwrap();
    });
    let addr = start(&io).await;
    let (mut ws, reply) = connect(addr, serde_json::json!({})).await;
    assert!(reply.get("pid").is_none());
    assert_eq!(next_text(&mut ws).await, r#"42["hello","x"]"#);
}
