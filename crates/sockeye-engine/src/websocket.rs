//! The websocket transport: the HTTP upgrade, the upgrade of a polling session
//! (probe, then `5`), and the one task that serves a websocket connection.
//!
//! A connection costs one task and no other: it waits at once on the socket's read
//! side, the session's wake-up (something queued, or a close), the heartbeat timer and
//! the write in progress, by polling them in one future. Writes feed every queued
//! message and flush once per batch; messages are handed to tungstenite as the shared
//! buffers they already are.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

mod read_on_demand;

use self::read_on_demand::ReadOnDemand;
use crate::engine::Engine;
use crate::packet::{self, Inbound};
use crate::queue::Item;
use crate::response::{self, EngineResponse};
use crate::session::{Drain, Phase};
use crate::{
    CloseReason, EngineSocket, HttpErrorCode, Message, ProtocolVersion, RequestInfo, Transport,
};

/// How long a closing connection waits for the client's close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// What the websocket is for.
pub(crate) enum Mode {
    /// A new session, opened directly over websocket.
    Handshake {
        /// Boxed: it is large and lives in the connection task only until the upgrade.
        request: Box<RequestInfo>,
        protocol: ProtocolVersion,
    },
    /// The upgrade of an existing polling session.
    Upgrade { socket: EngineSocket },
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether the request asks for a websocket upgrade.
pub(crate) fn is_upgrade_request<B>(request: &Request<B>) -> bool {
    request.method() == http::Method::GET
        && has_token(request.headers(), header::UPGRADE, "websocket")
        && has_token(request.headers(), header::CONNECTION, "upgrade")
}

/// Accepts a websocket upgrade: answers 101 and spawns the connection's task, which
/// starts once hyper hands over the connection. `b64` is the request's `b64` flag
/// (binary messages then travel as base64 text frames).
pub(crate) fn accept<B>(
    engine: &Arc<Engine>,
    request: &mut Request<B>,
    mode: Mode,
    b64: bool,
) -> EngineResponse {
    let headers = request.headers();
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| version_ok)
    else {
        tracing::debug!("websocket request without a valid key or version");
        return response::error(HttpErrorCode::BadRequest, None);
    };
    let accept_key = derive_accept_key(key.as_bytes());
    if let Mode::Upgrade { socket } = &mode {
        if !socket.begin_upgrade() {
            tracing::debug!(sid = %socket.sid(), "websocket refused: session already upgrading or upgraded");
            return response::error(HttpErrorCode::BadRequest, None);
        }
    }
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        tracing::warn!("websocket request without hyper's upgrade handle: serve with upgrades");
        if let Mode::Upgrade { socket } = &mode {
            socket.cancel_upgrade();
        }
        return response::error(HttpErrorCode::BadRequest, None);
    };
    let Ok(accept_value) = HeaderValue::from_str(&accept_key) else {
        return response::error(HttpErrorCode::BadRequest, None);
    };
    tokio::spawn(run(engine.clone(), on_upgrade, mode, b64));
    let mut res = Response::new(Vec::new());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept_value);
    res
}

/// The connection's task. The websocket lives here and is only borrowed by the
/// steps below, so that the task holds one copy of it (a value moved into an inner
/// future would be stored twice in this one, for the connection's whole life).
async fn run(engine: Arc<Engine>, on_upgrade: OnUpgrade, mode: Mode, b64: bool) {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "websocket upgrade failed");
            if let Mode::Upgrade { socket } = &mode {
                socket.cancel_upgrade();
            }
            return;
        }
    };
    let mut ws = WebSocketStream::from_raw_socket(
        ReadOnDemand::new(TokioIo::new(upgraded)),
        Role::Server,
        Some(engine.ws_config()),
    )
    .await;
    let socket = match mode {
        Mode::Handshake { request, protocol } => {
            let socket = engine.open_session(*request, protocol, Transport::Websocket, false);
            socket.push_open_packet(engine.open_packet(socket.sid(), Transport::Websocket));
            tracing::debug!(sid = %socket.sid(), ?protocol, "websocket session opened");
            engine.handler.on_open(&socket);
            socket
        }
        Mode::Upgrade { socket } => {
            // Boxed, like the closing handshakes below: each runs once per connection,
            // and inline they would make every connection's task larger for its life.
            if !Box::pin(probe(&mut ws, &socket, engine.config.upgrade_timeout)).await {
                socket.cancel_upgrade();
                Box::pin(close_connection(&mut ws, None)).await;
                return;
            }
            socket
        }
    };
    match serve(&mut ws, socket, b64).await {
        End::Closed => Box::pin(close_connection(&mut ws, None)).await,
        End::TooLarge => {
            let frame = CloseFrame {
                code: CloseCode::Size,
                reason: Utf8Bytes::from_static(""),
            };
            Box::pin(close_connection(&mut ws, Some(frame))).await
        }
        End::PeerClosed => {
            let _ = Box::pin(tokio::time::timeout(CLOSE_LINGER, ws.flush())).await;
        }
        End::Gone => {}
    }
}

/// The upgrade handshake on the new websocket: answers `2probe` with `3probe`
/// (which releases the pending GET), then waits for `5`. False when the upgrade
/// failed: timeout, an unexpected packet, a closed websocket or session.
async fn probe<S>(ws: &mut WebSocketStream<S>, socket: &EngineSocket, timeout: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let sleep = tokio::time::sleep(timeout);
    tokio::pin!(sleep);
    loop {
        let notified = socket.inner.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if socket.phase() == Phase::Closed {
            return false;
        }
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = &mut sleep => {
                tracing::debug!(sid = %socket.sid(), "client did not complete the upgrade in time");
                return false;
            }
            _ = notified => continue,
        };
        match frame {
            Some(Ok(WsMessage::Text(text))) => {
                let bytes = Bytes::from(text);
                match packet::decode_text(socket.protocol(), &bytes) {
                    Ok(Inbound::Ping { probe: true }) => {
                        let pong = WsMessage::Text(Utf8Bytes::from_static("3probe"));
                        if ws.send(pong).await.is_err() {
                            return false;
                        }
                        socket.probe_answered();
                    }
                    Ok(Inbound::Upgrade) => return socket.complete_upgrade(),
                    _ => {
                        tracing::debug!(sid = %socket.sid(), "unexpected packet during upgrade");
                        return false;
                    }
                }
            }
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            _ => return false,
        }
    }
}

/// What woke the connection task.
enum Event {
    Read(Option<Result<WsMessage, WsError>>),
    Written(Result<(), WsError>),
    Timer,
    Wake,
}

/// How the connection loop ended.
enum End {
    /// The session is closed: send a close frame.
    Closed,
    /// The message size limit was exceeded.
    TooLarge,
    /// The client sent a close frame (tungstenite queued the reply).
    PeerClosed,
    /// The connection is gone.
    Gone,
}

/// Serves an open session over websocket until it closes; the caller closes the
/// connection as the returned [`End`] says.
async fn serve<S>(ws: &mut WebSocketStream<S>, socket: EngineSocket, b64: bool) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let protocol = socket.protocol();
    let mut out = Pending::default();
    // A batch was fed and is being written and flushed.
    let mut writing = false;
    // The session closed gracefully: close the connection once the batch is written.
    let mut then_close = false;
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    // Graceful close: how long the last batch may take to write.
    let mut linger_until: Option<Instant> = None;

    let end = loop {
        let notified = socket.inner.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();

        let now = Instant::now();
        let mut next = socket.tick(now, false);
        if next.is_none() && !then_close {
            // Closed by the server (or the heartbeat) without a flush: whatever is
            // still being written is abandoned, which also frees a task stuck on a
            // client that stopped reading.
            break End::Closed;
        }
        if !writing && !then_close {
            match socket.take_ws(&mut out.items) {
                Drain::Open => {}
                Drain::ThenClose => {
                    then_close = true;
                    linger_until = Some(now + socket.inner.engine.config.ping_timeout);
                }
                Drain::Closed => break End::Closed,
            }
            writing = !out.items.is_empty();
        }
        if then_close {
            if !writing {
                break End::Closed;
            }
            // A graceful close waits for the flush, but not forever.
            if linger_until.is_some_and(|d| now >= d) {
                break End::Gone;
            }
            next = linger_until;
        }
        if let Some(deadline) = next {
            if armed != Some(deadline) {
                sleep.as_mut().reset(deadline);
                armed = Some(deadline);
            }
        }
        let timer_armed = next.is_some();

        // The write goes first so that a client that never stops sending cannot starve
        // its own replies; timers are checked at the top of every turn anyway.
        let event = poll_fn(|cx| {
            if writing {
                if let Poll::Ready(result) = poll_write(cx, ws, &mut out, protocol, b64) {
                    return Poll::Ready(Event::Written(result));
                }
            }
            if let Poll::Ready(frame) = ws.poll_next_unpin(cx) {
                return Poll::Ready(Event::Read(frame));
            }
            if timer_armed && sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Timer);
            }
            if notified.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Wake);
            }
            Poll::Pending
        })
        .await;

        match event {
            Event::Read(Some(Ok(frame))) => match frame {
                WsMessage::Text(text) => {
                    let bytes = Bytes::from(text);
                    match packet::decode_text(protocol, &bytes) {
                        Ok(packet) => socket.on_inbound(packet),
                        Err(error) => socket.on_parse_error(&error),
                    }
                }
                WsMessage::Binary(data) => match packet::decode_binary_frame(protocol, data) {
                    Ok(packet) => socket.on_inbound(packet),
                    Err(error) => socket.on_parse_error(&error),
                },
                // tungstenite queued the pong; make sure it is flushed.
                WsMessage::Ping(_) => writing = true,
                WsMessage::Pong(_) | WsMessage::Frame(_) => {}
                WsMessage::Close(_) => {
                    socket.close_with(CloseReason::TransportClose);
                    break End::PeerClosed;
                }
            },
            Event::Read(None) => {
                socket.close_with(CloseReason::TransportClose);
                break End::Gone;
            }
            Event::Read(Some(Err(error))) => {
                tracing::debug!(sid = %socket.sid(), %error, "websocket read error");
                let end = match error {
                    WsError::Capacity(_) => End::TooLarge,
                    WsError::Protocol(_) | WsError::Utf8(_) => End::Closed,
                    _ => End::Gone,
                };
                let reason = match error {
                    WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_) => {
                        CloseReason::TransportClose
                    }
                    _ => CloseReason::TransportError,
                };
                socket.close_with(reason);
                break end;
            }
            Event::Written(Ok(())) => {
                writing = false;
            }
            Event::Written(Err(error)) => {
                tracing::debug!(sid = %socket.sid(), %error, "websocket write error");
                socket.close_with(CloseReason::TransportError);
                break End::Gone;
            }
            Event::Timer => armed = None,
            Event::Wake => {}
        }
    };

    end
}

/// What is being written: the items taken from the queue, and how many frames of the
/// first one tungstenite already took. Frames are made as tungstenite takes them, so
/// nothing but the items is buffered here.
#[derive(Default)]
struct Pending {
    items: VecDeque<Item>,
    sent: usize,
}

/// Feeds every pending frame, then flushes. Items stay in `out` until tungstenite
/// took all their frames, so a write interrupted by another event loses nothing. The
/// items' buffer is freed once they are fed: an idle connection keeps none.
fn poll_write<S>(
    cx: &mut Context<'_>,
    ws: &mut WebSocketStream<S>,
    out: &mut Pending,
    protocol: ProtocolVersion,
    b64: bool,
) -> Poll<Result<(), WsError>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(item) = out.items.front() {
        ready!(Pin::new(&mut *ws).poll_ready(cx))?;
        match frame_of(item, out.sent, protocol, b64) {
            Next::Frame(frame) => {
                Pin::new(&mut *ws).start_send(frame)?;
                out.sent += 1;
            }
            Next::Skip => out.sent += 1,
            Next::Done => {
                out.items.pop_front();
                out.sent = 0;
            }
        }
    }
    if out.items.capacity() > 0 {
        out.items = VecDeque::new();
    }
    Pin::new(&mut *ws).poll_flush(cx)
}

/// Sends a close frame and waits briefly for the client's.
async fn close_connection<S>(ws: &mut WebSocketStream<S>, frame: Option<CloseFrame>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        if ws.close(frame).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// The frame at some index of a queued item.
enum Next {
    Frame(WsMessage),
    /// A message that cannot be sent (text that is not UTF-8).
    Skip,
    /// The item has no frame at that index.
    Done,
}

/// The websocket frame `index` of a queued item (one frame per message).
fn frame_of(item: &Item, index: usize, protocol: ProtocolVersion, b64: bool) -> Next {
    match item {
        Item::Control(_) if index > 0 => Next::Done,
        Item::Control(control) => match control.static_str() {
            Some(s) => Next::Frame(WsMessage::Text(Utf8Bytes::from_static(s))),
            None => match Utf8Bytes::try_from(control.encoded()) {
                Ok(text) => Next::Frame(WsMessage::Text(text)),
                Err(_) => Next::Skip,
            },
        },
        Item::Out(outgoing) => match outgoing.messages().get(index) {
            None => Next::Done,
            Some(Message::Text(bytes)) => match Utf8Bytes::try_from(bytes.clone()) {
                Ok(text) => Next::Frame(WsMessage::Text(text)),
                Err(_) => {
                    tracing::warn!("dropped a text message that is not UTF-8");
                    Next::Skip
                }
            },
            Some(Message::Binary(data)) if b64 => Next::Frame(WsMessage::Text(
                packet::encode_base64_string(protocol, data).into(),
            )),
            Some(Message::Binary(data)) => Next::Frame(WsMessage::Binary(match protocol {
                ProtocolVersion::V4 => data.clone(),
                ProtocolVersion::V3 => packet::encode_v3_binary_frame(data),
            })),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Control;
    use crate::Outgoing;

    /// Every frame of `item`, as the write path makes them.
    fn push_frames(
        item: Item,
        protocol: ProtocolVersion,
        b64: bool,
        out: &mut VecDeque<WsMessage>,
    ) {
        for index in 0.. {
            match frame_of(&item, index, protocol, b64) {
                Next::Frame(frame) => out.push_back(frame),
                Next::Skip => {}
                Next::Done => return,
            }
        }
    }

    #[test]
    fn frames_per_protocol() {
        let mut out = VecDeque::new();
        let bin = Item::Out(Outgoing::One(Message::binary(vec![1u8, 2])));
        push_frames(bin.clone(), ProtocolVersion::V4, false, &mut out);
        push_frames(bin.clone(), ProtocolVersion::V3, false, &mut out);
        push_frames(bin.clone(), ProtocolVersion::V4, true, &mut out);
        push_frames(bin, ProtocolVersion::V3, true, &mut out);
        push_frames(
            Item::Control(Control::Ping),
            ProtocolVersion::V4,
            false,
            &mut out,
        );
        push_frames(
            Item::Out(Outgoing::One(Message::text("hé"))),
            ProtocolVersion::V4,
            false,
            &mut out,
        );
        let frames: Vec<WsMessage> = out.into_iter().collect();
        assert_eq!(
            frames,
            vec![
                WsMessage::Binary(Bytes::from_static(&[1, 2])),
                WsMessage::Binary(Bytes::from_static(&[4, 1, 2])),
                WsMessage::Text("bAQI=".into()),
                WsMessage::Text("b4AQI=".into()),
                WsMessage::Text("2".into()),
                WsMessage::Text("4hé".into()),
            ]
        );
    }

    #[test]
    fn text_frames_share_the_message_buffer() {
        let msg = Message::text("shared");
        let Message::Text(bytes) = msg.clone() else {
            unreachable!()
        };
        let mut out = VecDeque::new();
        push_frames(
            Item::Out(Outgoing::One(msg)),
            ProtocolVersion::V4,
            false,
            &mut out,
        );
        let Some(WsMessage::Text(text)) = out.pop_front() else {
            unreachable!()
        };
        assert_eq!(text.as_str().as_ptr(), bytes.as_ptr());
    }

    #[test]
    fn upgrade_request_detection() {
        let req = Request::get("/")
            .header(header::UPGRADE, "WebSocket")
            .header(header::CONNECTION, "keep-alive, Upgrade")
            .body(())
            .unwrap_or_default();
        assert!(is_upgrade_request(&req));
        let req = Request::get("/")
            .header(header::UPGRADE, "websocket")
            .body(())
            .unwrap_or_default();
        assert!(!is_upgrade_request(&req));
    }
}
