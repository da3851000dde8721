//! The HTTP long-polling transport: the handshake GET, the waiting GET that carries
//! server packets, the POST that carries client packets, and the timer task that runs
//! a polling session's heartbeat.
//!
//! JSONP polling (the `j` parameter, for browsers without XHR) is not implemented;
//! such handshakes are refused with 400 by the dispatcher.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{header, Request, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::time::Instant;

use crate::body::BoxError;
use crate::engine::Engine;
use crate::packet::Control;
use crate::payload;
use crate::queue::Item;
use crate::response::{self, EngineResponse};
use crate::session::Phase;
use crate::{CloseReason, EngineSocket, ProtocolVersion, RequestInfo, Transport};

/// Opens a polling session: answers with the `open` packet, then tells the handler.
pub(crate) fn handshake(
    engine: &std::sync::Arc<Engine>,
    request: RequestInfo,
    protocol: ProtocolVersion,
    b64: bool,
) -> EngineResponse {
    let socket = engine.open_session(request, protocol, Transport::Polling, b64);
    let open = engine.open_packet(socket.sid(), Transport::Polling);
    let body = payload::encode(protocol, b64, &[Item::Control(Control::Open(open))]);
    tokio::spawn(drive(socket.clone()));
    tracing::debug!(sid = %socket.sid(), ?protocol, "polling session opened");
    engine.handler.on_open(&socket);
    response::payload(body)
}

/// Clears the pending-GET slot if the GET goes away unanswered: the client dropped
/// the connection, which closes the session as in the reference server.
struct PendingGet<'a> {
    socket: &'a EngineSocket,
    answered: bool,
}

impl Drop for PendingGet<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.socket.inner.state.lock().get_pending = false;
            tracing::debug!(sid = %self.socket.sid(), "poll connection closed prematurely");
            self.socket.close_with(CloseReason::TransportError);
        }
    }
}

/// A GET: waits until there is something to send, then sends everything queued (in
/// batches of about `max_payload`).
pub(crate) async fn poll(socket: EngineSocket) -> EngineResponse {
    {
        let mut st = socket.inner.state.lock();
        if st.get_pending {
            drop(st);
            tracing::debug!(sid = %socket.sid(), "overlapping poll request");
            socket.close_with(CloseReason::TransportError);
            return response::status(StatusCode::BAD_REQUEST);
        }
        st.get_pending = true;
    }
    let mut guard = PendingGet {
        socket: &socket,
        answered: false,
    };
    let mut batch = Vec::new();
    loop {
        let notified = socket.inner.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if socket.take_poll(&mut batch).is_some() {
            guard.answered = true;
            break;
        }
        notified.await;
    }
    let body = payload::encode(socket.protocol(), socket.polling_b64(), &batch);
    tracing::trace!(sid = %socket.sid(), packets = batch.len(), binary = body.binary, "poll answered");
    response::payload(body)
}

/// Clears the POST slot; a POST whose body could not be read closes the session.
struct PendingPost<'a> {
    socket: &'a EngineSocket,
    read: bool,
}

impl Drop for PendingPost<'_> {
    fn drop(&mut self) {
        self.socket.inner.state.lock().post_pending = false;
        if !self.read {
            tracing::debug!(sid = %self.socket.sid(), "data request closed prematurely");
            self.socket.close_with(CloseReason::TransportError);
        }
    }
}

/// Why a POST body was not read.
enum BodyError {
    TooLarge,
    Broken(BoxError),
}

/// A POST: reads the body (at most `max_payload` bytes), hands its packets to the
/// session in order, and answers `ok`.
pub(crate) async fn post<B>(socket: EngineSocket, request: Request<B>) -> EngineResponse
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let binary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"));
    if binary && socket.protocol() == ProtocolVersion::V4 {
        tracing::debug!(sid = %socket.sid(), "binary polling payload from a v4 client");
        socket.close_with(CloseReason::TransportError);
        return response::status(StatusCode::BAD_REQUEST);
    }
    {
        let mut st = socket.inner.state.lock();
        if st.post_pending {
            drop(st);
            tracing::debug!(sid = %socket.sid(), "overlapping data request");
            socket.close_with(CloseReason::TransportError);
            return response::status(StatusCode::BAD_REQUEST);
        }
        st.post_pending = true;
    }
    let mut guard = PendingPost {
        socket: &socket,
        read: false,
    };
    let max = socket.inner.engine.config.max_payload;
    let body = match read_body(request, max).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            guard.read = true;
            tracing::debug!(sid = %socket.sid(), max, "polling payload too large");
            socket.close_silently(CloseReason::TransportError);
            return response::status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        Err(BodyError::Broken(e)) => {
            tracing::debug!(sid = %socket.sid(), error = %e, "could not read the request body");
            return response::status(StatusCode::BAD_REQUEST);
        }
    };
    guard.read = true;
    drop(guard);
    tracing::trace!(sid = %socket.sid(), bytes = body.len(), binary, "data request read");
    let decoded = payload::decode(socket.protocol(), binary, body);
    for packet in decoded.packets {
        if socket.phase() != Phase::Open {
            break;
        }
        socket.on_inbound(packet);
    }
    if let Some(error) = decoded.error {
        socket.on_parse_error(&error);
    }
    response::post_ok()
}

/// How much of a refused body is read and thrown away, as a multiple of `max_payload`.
const DRAIN_FACTOR: usize = 4;
/// How long a refused body is read and thrown away at most.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Reads a whole body of at most `max` bytes, without copying when it came in one
/// piece. A body found too large is drained first (see [`drain`]).
async fn read_body<B>(request: Request<B>, max: usize) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let headers = request.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A client that waits for `100 Continue` sends nothing unless the body is read.
    let waits_to_send = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let drain_limit = max.saturating_mul(DRAIN_FACTOR);
    let mut body = std::pin::pin!(request.into_body());
    if let Some(len) = declared.filter(|&len| len > max as u64) {
        if !waits_to_send && len <= drain_limit as u64 {
            drain(body, drain_limit).await;
        }
        return Err(BodyError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut total = 0usize;
    loop {
        // Not `while let`: its scrutinee, which holds the body's error type, would live
        // across the drain's await.
        let frame = match body.frame().await {
            Some(frame) => frame.map_err(|e| BodyError::Broken(e.into()))?,
            None => break,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > max {
            drain(body, drain_limit.saturating_sub(total)).await;
            return Err(BodyError::TooLarge);
        }
        match &first {
            None => first = Some(data),
            Some(f) => {
                if rest.is_empty() {
                    rest.extend_from_slice(f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        rest.freeze()
    })
}

/// Reads and throws away the rest of a refused body, up to `limit` bytes and
/// [`DRAIN_TIME`], before the 413 is sent. The client is usually still sending: were
/// the connection closed with its data unread, the kernel would reset it, and the
/// client would see a network error instead of the 413. A body that ends within the
/// bounds also leaves the connection usable; a longer one is cut off as before.
async fn drain<B>(mut body: std::pin::Pin<&mut B>, limit: usize)
where
    B: Body<Data = Bytes>,
{
    let mut left = limit;
    let read = tokio::time::timeout(DRAIN_TIME, async {
        loop {
            let read = match body.frame().await {
                Some(Ok(frame)) => frame.into_data().map_or(0, |data| data.len()),
                _ => return,
            };
            match left.checked_sub(read) {
                Some(l) => left = l,
                None => return,
            }
        }
    });
    let _ = read.await;
}

/// The timer task of a polling session: runs the heartbeat and the grace period of a
/// graceful close. Ends when the session closes or moves to websocket, whose task
/// takes the heartbeat over.
pub(crate) async fn drive(socket: EngineSocket) {
    loop {
        let notified = socket.inner.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let Some(next) = socket.tick(Instant::now(), true) else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = notified => {}
        }
    }
}
