//! Helpers of the integration tests: a recording echo handler, a server on
//! 127.0.0.1, a one-request HTTP client and a websocket client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sockeye_engine::{
    CloseReason, EngineConfig, EngineHandler, EngineService, EngineSocket, Incoming, Message,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Open(String),
    Message(String, Incoming),
    Close(String, CloseReason),
}

/// Echoes every message; the text `close-me` closes the session from the server.
pub struct Echo(pub mpsc::UnboundedSender<Event>);

impl EngineHandler for Echo {
    fn on_open(&self, socket: &EngineSocket) {
        let _ = self.0.send(Event::Open(socket.sid().to_string()));
    }
    fn on_message(&self, socket: &EngineSocket, message: Incoming) {
        let _ = self
            .0
            .send(Event::Message(socket.sid().to_string(), message.clone()));
        match message {
            Incoming::Text(t) if &t[..] == b"close-me" => {
                socket.send(Message::text("bye")).ok();
                socket.close();
            }
            Incoming::Text(t) => {
                socket
                    .send(Message::text(std::str::from_utf8(&t).unwrap_or("")))
                    .ok();
            }
            Incoming::Binary(b) => {
                socket.send(Message::binary(b)).ok();
            }
        }
    }
    fn on_close(&self, socket: &EngineSocket, reason: CloseReason) {
        let _ = self.0.send(Event::Close(socket.sid().to_string(), reason));
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub service: EngineService<Echo>,
    pub events: mpsc::UnboundedReceiver<Event>,
}

impl Server {
    pub async fn start(config: EngineConfig) -> Server {
        let (tx, events) = mpsc::unbounded_channel();
        let service = EngineService::new(config, Echo(tx));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(sockeye_engine::serve(listener, service.clone()));
        Server {
            addr,
            service,
            events,
        }
    }

    pub fn url(&self, query: &str) -> String {
        format!("/engine.io/?{query}")
    }

    /// The next close event (skipping others).
    pub async fn next_close(&mut self) -> (String, CloseReason) {
        loop {
            match tokio::time::timeout(WAIT, self.events.recv()).await {
                Ok(Some(Event::Close(sid, reason))) => return (sid, reason),
                Ok(Some(_)) => continue,
                _ => panic!("no close event"),
            }
        }
    }
}

/// Test configuration: a heartbeat slow enough not to interleave pings with what a
/// test expects (heartbeat tests set their own), a short upgrade timeout.
pub fn config() -> sockeye_engine::EngineConfigBuilder {
    EngineConfig::builder()
        .ping_interval(Duration::from_millis(3000))
        .ping_timeout(Duration::from_millis(2000))
        .upgrade_timeout(Duration::from_millis(500))
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One request on a fresh connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(Full::new(body.into())).expect("request");
    let res = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .expect("response in time")
        .expect("response");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[], Bytes::new()).await
}

pub async fn post(addr: SocketAddr, path: &str, body: impl Into<Bytes>) -> Reply {
    request(
        addr,
        "POST",
        path,
        &[("content-type", "text/plain;charset=UTF-8")],
        body,
    )
    .await
}

/// Polling handshake: returns the sid and the open packet's JSON.
pub async fn handshake(addr: SocketAddr, eio: u8) -> (String, serde_json::Value) {
    let reply = get(addr, &format!("/engine.io/?EIO={eio}&transport=polling")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let text = reply.text();
    let packet = match eio {
        4 => text.as_str(),
        _ => text
            .split_once(':')
            .map(|(_, p)| p)
            .expect("v3 length prefix"),
    };
    let json: serde_json::Value =
        serde_json::from_str(packet.strip_prefix('0').expect("open packet")).expect("json");
    (json["sid"].as_str().expect("sid").to_string(), json)
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn ws_connect(
    addr: SocketAddr,
    query: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!("ws://{addr}/engine.io/?{query}");
    tokio_tungstenite::connect_async(url)
        .await
        .map(|(ws, _)| ws)
}

/// The next text frame (skipping control frames); None when the stream ends.
pub async fn ws_next(ws: &mut Ws) -> Option<WsMessage> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("frame in time")
        {
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            Some(Ok(m)) => return Some(m),
            _ => return None,
        }
    }
}

pub async fn ws_text(ws: &mut Ws) -> String {
    match ws_next(ws).await {
        Some(WsMessage::Text(t)) => t.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn ws_send(ws: &mut Ws, text: &str) {
    ws.send(WsMessage::Text(text.into())).await.expect("send");
}
