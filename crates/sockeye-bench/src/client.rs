//! Opening Socket.IO connections: straight over websocket, or by HTTP long-polling
//! upgraded to websocket as the official client does.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::error::{BenchError, Result};
use crate::http::HttpConn;
use crate::packet::{self, CONNECT, PING, PONG};

pub type Ws = WebSocketStream<TcpStream>;

/// Time allowed for each step of a handshake.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Source addresses rotate over a few loopback addresses, so that the number of
/// connections is not bounded by one address's ephemeral port range.
const SOURCE_ADDRESSES: u8 = 4;

/// A TCP connection to the server from the `i`-th source address. With `reset_on_close`
/// the connection is reset when dropped (SO_LINGER 0), leaving no TIME_WAIT behind, so
/// that connection-rate runs do not run out of ports.
pub async fn tcp(port: u16, i: usize, reset_on_close: bool) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    let source = Ipv4Addr::new(127, 0, 0, 1 + (i % SOURCE_ADDRESSES as usize) as u8);
    socket.bind(SocketAddr::from((source, 0)))?;
    if reset_on_close {
        socket.set_zero_linger()?;
    }
    let stream = socket
        .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A websocket to `/socket.io/?EIO=4&transport=websocket` plus `extra_query`.
pub async fn websocket(stream: TcpStream, port: u16, extra_query: &str) -> Result<Ws> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket{extra_query}");
    let (ws, _) = tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::client_async(url, stream))
        .await
        .map_err(|_| BenchError::Timeout(STEP_TIMEOUT, "websocket handshake"))??;
    Ok(ws)
}

/// The next text frame, answering the server's pings on the way.
pub async fn next_text(ws: &mut Ws) -> Result<String> {
    loop {
        let message = tokio::time::timeout(STEP_TIMEOUT, ws.next())
            .await
            .map_err(|_| BenchError::Timeout(STEP_TIMEOUT, "a frame from the server"))?;
        match message {
            Some(Ok(Message::Text(text))) if text.as_str() == PING => {
                ws.send(Message::text(PONG)).await?;
            }
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => {
                return Err(BenchError::protocol("the server closed the websocket"))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// A websocket connection connected to namespace `/` (open packet read, CONNECT
/// answered by the server).
pub async fn connect_websocket(port: u16, i: usize, reset_on_close: bool) -> Result<Ws> {
    let stream = tcp(port, i, reset_on_close).await?;
    let mut ws = websocket(stream, port, "").await?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        return Err(BenchError::protocol(format!(
            "expected an open packet, got {open:?}"
        )));
    }
    ws.send(Message::text(CONNECT)).await?;
    expect_connected(&next_text(&mut ws).await?)?;
    Ok(ws)
}

/// Like the official client: handshake over HTTP long-polling, CONNECT over polling,
/// then upgrade to websocket (`2probe`, `3probe`, `5`).
pub async fn connect_polling_upgrade(port: u16, i: usize) -> Result<Ws> {
    let stream = tcp(port, i, true).await?;
    let mut http = HttpConn::new(stream, port);
    let base = "/socket.io/?EIO=4&transport=polling";
    let (status, open) = http.request("GET", base, None).await?;
    if status != 200 || !open.starts_with('0') {
        return Err(BenchError::protocol(format!(
            "polling handshake answered {status} {open:?}"
        )));
    }
    let sid = packet::sid_of(&open[1..])
        .ok_or_else(|| BenchError::protocol(format!("no sid in {open:?}")))?;
    let session = format!("{base}&sid={sid}");
    let (status, _) = http.request("POST", &session, Some(CONNECT)).await?;
    if status != 200 {
        return Err(BenchError::protocol(format!(
            "polling POST answered {status}"
        )));
    }
    let (status, payload) = http.request("GET", &session, None).await?;
    let connected = payload.split('\u{1e}').find(|p| p.starts_with("40"));
    match connected {
        Some(packet) if status == 200 => expect_connected(packet)?,
        _ => {
            return Err(BenchError::protocol(format!(
                "polling GET answered {status} {payload:?}, no CONNECT"
            )))
        }
    }
    let stream = tcp(port, i, true).await?;
    let mut ws = websocket(stream, port, &format!("&sid={sid}")).await?;
    ws.send(Message::text("2probe")).await?;
    let probe = next_text(&mut ws).await?;
    if probe != "3probe" {
        return Err(BenchError::protocol(format!(
            "expected 3probe, got {probe:?}"
        )));
    }
    ws.send(Message::text("5")).await?;
    drop(http);
    Ok(ws)
}

fn expect_connected(packet: &str) -> Result<()> {
    match packet.strip_prefix("40") {
        Some(json) if packet::sid_of(json).is_some() => Ok(()),
        _ => Err(BenchError::protocol(format!(
            "expected a CONNECT answer, got {packet:?}"
        ))),
    }
}

/// Sends `join` (room) with ack id 0 and waits for the `"ok"` ack.
pub async fn join(ws: &mut Ws, room: &str) -> Result<()> {
    ws.send(Message::text(packet::event_with_ack(
        0,
        "join",
        &format!("\"{room}\""),
    )))
    .await?;
    loop {
        let frame = next_text(ws).await?;
        match packet::parse_ack(&frame) {
            Some((0, r#"["ok"]"#)) => return Ok(()),
            Some(_) => {
                return Err(BenchError::protocol(format!("join answered {frame:?}")));
            }
            None => continue,
        }
    }
}
