//! The server-side API through a real connection: the server mounted in an axum
//! router, clients speaking the wire protocol over a real websocket.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::{Event, Socket, SocketIo, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts `io` behind an axum router that also serves `/` and returns its address.
async fn start(layer: sockeye::SocketIoLayer) -> std::net::SocketAddr {
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "hello from axum" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A websocket client that has joined namespace `/`; returns it with its socket id.
async fn client(addr: std::net::SocketAddr) -> (Ws, String) {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let open = next_text(&mut ws).await;
    assert!(open.starts_with("0{"), "open packet expected, got {open}");
    ws.send(Message::text("40")).await.unwrap();
    let connect = next_text(&mut ws).await;
    let sid: serde_json::Value = serde_json::from_str(&connect["40".len()..]).unwrap();
    (ws, sid["sid"].as_str().unwrap().to_string())
}

/// The next text frame, skipping heartbeats.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
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

fn server() -> (sockeye::SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder().build_layer();
    io.ns("/", |socket: Socket| async move {
        socket.on("hello", |socket: Socket, mut event: Event| async move {
            let name = event
                .arg(0)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            socket.set_data(Value::from(name.clone()));
            event.ack((format!("hello {name}"),)).ok();
        });
    });
    (layer, io)
}

#[tokio::test]
async fn mounted_in_axum_serves_both_the_app_and_socket_io() {
    let (layer, _io) = server();
    let addr = start(layer).await;
    let body = reqwest_get(addr, "/").await;
    assert!(body.ends_with("hello from axum"), "{body}");

    let (mut ws, _) = client(addr).await;
    ws.send(Message::text(r#"421["hello","ann"]"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, r#"431["hello ann"]"#);
}

#[tokio::test]
async fn operators_reach_sockets_through_the_adapter() {
    let (layer, io) = server();
    let addr = start(layer).await;
    let (mut a, id_a) = client(addr).await;
    let (mut b, id_b) = client(addr).await;
    for (ws, name) in [(&mut a, "a"), (&mut b, "b")] {
        ws.send(Message::text(format!(r#"420["hello","{name}"]"#)))
            .await
            .unwrap();
        assert_eq!(next_text(ws).await, format!(r#"430["hello {name}"]"#));
    }

    let mut fetched = io.of("/").unwrap().fetch_sockets().await.unwrap();
    fetched.sort_by(|x, y| x.data().as_str().cmp(&y.data().as_str()));
    let ids: Vec<&str> = fetched.iter().map(|s| s.id()).collect();
    assert_eq!(ids, [id_a.as_str(), id_b.as_str()]);
    assert_eq!(fetched[0].data(), &Value::from("a"));

    // A remote-socket handle acts through the adapter.
    fetched[1].join("only-b").unwrap();
    io.to("only-b").emit("news", ("for b",)).unwrap();
    assert_eq!(next_text(&mut b).await, r#"42["news","for b"]"#);

    io.of("/").unwrap().sockets_join("everyone").unwrap();
    io.to("everyone")
        .except("only-b")
        .emit("news", ("for a",))
        .unwrap();
    assert_eq!(next_text(&mut a).await, r#"42["news","for a"]"#);
    io.to("everyone").emit("news", (1, true)).unwrap();
    assert_eq!(next_text(&mut a).await, r#"42["news",1,true]"#);
    assert_eq!(next_text(&mut b).await, r#"42["news",1,true]"#);

    io.of("/").unwrap().sockets_leave("everyone").unwrap();
    assert!(io
        .of("/")
        .unwrap()
        .adapter()
        .rooms()
        .iter()
        .all(|r| &**r != "everyone"));

    io.to(id_a.as_str()).disconnect_sockets(false).unwrap();
    assert_eq!(next_text(&mut a).await, "41");
    assert_eq!(io.of("/").unwrap().sockets().len(), 1);
}

#[tokio::test]
async fn broadcast_with_ack_collects_every_answer() {
    let (layer, io) = server();
    let addr = start(layer).await;
    let (mut a, _) = client(addr).await;
    let (mut b, _) = client(addr).await;
    let pending = tokio::spawn({
        let io = io.clone();
        async move {
            io.timeout(Duration::from_secs(5))
                .emit_with_ack("question", ("?",))
                .await
        }
    });
    for (ws, answer) in [(&mut a, 1), (&mut b, 2)] {
        let frame = next_text(ws).await;
        // `42<id>["question","?"]`: answer with the same id.
        let id: String = frame[2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(&frame[2 + id.len()..], r#"["question","?"]"#);
        ws.send(Message::text(format!("43{id}[{answer}]")))
            .await
            .unwrap();
    }
    let mut answers = pending.await.unwrap().unwrap();
    answers.sort_by_key(|a| a[0].as_u64());
    assert_eq!(answers, vec![vec![Value::from(1)], vec![Value::from(2)]]);
}

/// A minimal HTTP GET, to stay away from client crates.
async fn reqwest_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn rooms_joined_in_middleware_stay_only_for_accepted_sockets() {
    let (layer, io) = server();
    io.of("/")
        .unwrap()
        .use_middleware(|socket: Socket| async move {
            socket.join("joined-early");
            match socket.auth().get("refuse") {
                Some(Value::Bool(true)) => Err(sockeye::ConnectError::new("refused")),
                _ => Ok(()),
            }
        });
    let addr = start(layer).await;

    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut refused, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_text(&mut refused).await;
    refused
        .send(Message::text(r#"40{"refuse":true}"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut refused).await, r#"44{"message":"refused"}"#);
    assert!(io.of("/").unwrap().adapter().rooms().is_empty());

    let (mut accepted, _) = client(addr).await;
    io.to("joined-early").emit("welcome", ()).unwrap();
    assert_eq!(next_text(&mut accepted).await, r#"42["welcome"]"#);
}
