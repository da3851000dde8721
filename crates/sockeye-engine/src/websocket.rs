//! The websocket transport: the HTTP upgrade, the upgrade of a polling session
//! (probe, then `5`), and the one task that serves a websocket connection.
//!
//! A connection costs one task and no other: it waits at once on the socket's read
//! side, the session's wake-up (something queued, or a close), the heartbeat timer and
//! the write in progress, by polling them in one future. The frames are Sockeye's own
//! (RFC 6455, server side, no extensions): a reader that keeps no buffer while the
//! connection is idle, and a writer that hands each batch of queued messages to the
//! socket in one vectored write, headers beside the shared message buffers.

mod frame;
mod reader;
mod writer;

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use futures_util::future::Either;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use self::frame::close_code;
use self::reader::FrameReader;
pub(crate) use self::reader::Received;
pub(crate) use self::writer::FrameWriter;
use crate::engine::Engine;
use crate::packet::{self, Control, Inbound};
use crate::queue::Item;
use crate::response::{self, EngineResponse};
use crate::session::{Drain, Phase};
use crate::{CloseReason, EngineSocket, HttpErrorCode, ProtocolVersion, RequestInfo, Transport};

// For the fuzz targets and the benchmarks.
#[cfg(any(feature = "fuzzing", feature = "bench"))]
pub(crate) use self::reader::read_all as read_stream;

/// How long a closing connection waits for the client's close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Why a websocket connection was ended by the server.
#[derive(Debug, Error)]
pub enum WebSocketError {
    /// The client broke RFC 6455 (closed with status 1002).
    #[error("websocket protocol error: {0}")]
    Protocol(&'static str),
    /// A message or frame above `max_payload` (closed with status 1009).
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: u64, max: usize },
    /// A text message or close reason that is not UTF-8 (closed with status 1007).
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl WebSocketError {
    /// The close status the server sends for this error, if it sends a close frame.
    fn close_code(&self) -> Option<u16> {
        match self {
            WebSocketError::Protocol(_) => Some(close_code::PROTOCOL_ERROR),
            WebSocketError::TooLarge { .. } => Some(close_code::TOO_BIG),
            WebSocketError::InvalidUtf8 => Some(close_code::INVALID_DATA),
            WebSocketError::Io(_) => None,
        }
    }
}

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

/// The `Sec-WebSocket-Accept` value for a client's key (RFC 6455 §4.2.2).
fn accept_key(key: &[u8]) -> String {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
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
    let Ok(accept_value) = HeaderValue::from_str(&accept_key(key.as_bytes())) else {
        return response::error(HttpErrorCode::BadRequest, None);
    };
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
    tokio::spawn(run(engine.clone(), on_upgrade, mode, b64));
    let mut res = Response::new(Vec::new());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept_value);
    res
}

/// The connection's task: takes the connection from hyper, unwrapped to the TCP
/// stream when it is one (the usual case: no boxed stream, no extra buffer), and
/// drives it.
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
    start(engine, upgraded, mode, b64).await
}

/// The future that serves the connection. Built by a plain function so that the
/// connection is moved straight into it: an async function keeps a copy of whatever
/// it moves across an await.
fn start(
    engine: Arc<Engine>,
    upgraded: Upgraded,
    mode: Mode,
    b64: bool,
) -> Either<impl Future<Output = ()>, Pin<Box<dyn Future<Output = ()> + Send>>> {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let mut conn = Connection::new(parts.io.into_inner());
            conn.reader.buffered(&parts.read_buf);
            Either::Left(drive(engine, conn, mode, b64))
        }
        // Boxed: a stream other than hyper's TCP one is rare, and its future must not
        // make every connection's task larger.
        Err(upgraded) => Either::Right(Box::pin(drive(
            engine,
            Connection::new(TokioIo::new(upgraded)),
            mode,
            b64,
        ))),
    }
}

/// One websocket connection: the stream and its two sides.
struct Connection<S> {
    io: S,
    reader: FrameReader,
    writer: FrameWriter,
}

impl<S> Connection<S> {
    fn new(io: S) -> Self {
        Connection {
            io,
            reader: FrameReader::default(),
            writer: FrameWriter::default(),
        }
    }
}

/// Opens or upgrades the session on the connection, serves it, and closes the
/// connection as the session's end requires. The connection is captured by the
/// future as it is and only borrowed by the steps below (the body is an async block,
/// not an async function, whose arguments would be stored twice).
#[allow(clippy::manual_async_fn)] // on purpose, see above
fn drive<S>(
    engine: Arc<Engine>,
    mut conn: Connection<S>,
    mode: Mode,
    b64: bool,
) -> impl Future<Output = ()> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async move {
        let max_message = engine.config.max_payload;
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
                let timeout = engine.config.upgrade_timeout;
                if !Box::pin(probe(&mut conn, &socket, timeout, b64, max_message)).await {
                    socket.cancel_upgrade();
                    let protocol = socket.protocol();
                    Box::pin(close_connection(
                        &mut conn,
                        None,
                        protocol,
                        b64,
                        max_message,
                    ))
                    .await;
                    return;
                }
                socket
            }
        };
        let protocol = socket.protocol();
        match serve(&mut conn, socket, b64, max_message).await {
            End::Close(code) => {
                Box::pin(close_connection(
                    &mut conn,
                    code,
                    protocol,
                    b64,
                    max_message,
                ))
                .await
            }
            End::PeerClosed(code) => {
                // Answer the client's close frame with its own status, then hang up.
                conn.writer.close(code);
                let Connection { io, writer, .. } = &mut conn;
                let flush = poll_fn(|cx| writer.poll_write(cx, io, protocol, b64));
                let _ = Box::pin(tokio::time::timeout(CLOSE_LINGER, flush)).await;
            }
            End::Gone => {}
        }
    }
}

/// The upgrade handshake on the new websocket: answers `2probe` with `3probe`
/// (which releases the pending GET), then waits for `5`. False when the upgrade
/// failed: timeout, an unexpected packet, a closed websocket or session.
async fn probe<S>(
    conn: &mut Connection<S>,
    socket: &EngineSocket,
    timeout: Duration,
    b64: bool,
    max_message: usize,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let protocol = socket.protocol();
    let Connection { io, reader, writer } = conn;
    let sleep = tokio::time::sleep(timeout);
    tokio::pin!(sleep);
    loop {
        socket.inner.ws_task.clear();
        if socket.phase() == Phase::Closed {
            return false;
        }
        // `None`: the session's state changed (look again); an error: give up.
        let event = poll_fn(|cx| {
            if !writer.is_idle() {
                if let Poll::Ready(Err(_)) = writer.poll_write(cx, io, protocol, b64) {
                    return Poll::Ready(Err(()));
                }
            }
            if let Poll::Ready(received) = reader.poll_next(cx, io, max_message) {
                return Poll::Ready(match received {
                    Ok(Some(received)) => Ok(Some(received)),
                    _ => Err(()),
                });
            }
            if sleep.as_mut().poll(cx).is_ready() {
                tracing::debug!(sid = %socket.sid(), "client did not complete the upgrade in time");
                return Poll::Ready(Err(()));
            }
            if socket.inner.ws_task.poll(cx).is_ready() {
                return Poll::Ready(Ok(None));
            }
            Poll::Pending
        })
        .await;
        let Ok(received) = event else { return false };
        match received {
            None | Some(Received::Pong) => {}
            Some(Received::Ping(payload)) => writer.pong(payload),
            Some(Received::Text(text)) => match packet::decode_text(protocol, &text) {
                Ok(Inbound::Ping { probe: true }) => {
                    writer.items().push_back(Item::Control(Control::ProbePong));
                    // Written before the GET is released, so the client sees the
                    // probe answered before the noop.
                    let flushed = poll_fn(|cx| writer.poll_write(cx, io, protocol, b64)).await;
                    if flushed.is_err() {
                        return false;
                    }
                    socket.probe_answered();
                }
                Ok(Inbound::Upgrade) => return socket.complete_upgrade(),
                _ => {
                    tracing::debug!(sid = %socket.sid(), "unexpected packet during upgrade");
                    return false;
                }
            },
            Some(Received::Binary(_) | Received::Close(_)) => return false,
        }
    }
}

/// Why the connection task stopped waiting.
enum Event {
    Read(Result<Option<Received>, WebSocketError>),
    WriteFailed(io::Error),
    Timer,
    End(End),
}

/// How the connection loop ended.
enum End {
    /// The server ends the connection: send a close frame with this status.
    Close(Option<u16>),
    /// The client sent a close frame (with this status).
    PeerClosed(Option<u16>),
    /// The connection is gone.
    Gone,
}

/// The connection loop's own state, between turns.
struct Serving {
    /// The session closed gracefully: close the connection once the batch is written.
    then_close: bool,
    /// Graceful close: how long the last batch may take to write.
    linger_until: Option<Instant>,
    /// The deadline the timer is set to.
    armed: Option<Instant>,
    /// The timer was polled since it was set, so it will wake the task: from then on
    /// a look at whether it elapsed is enough.
    timer_polled: bool,
}

impl Serving {
    fn arm(&mut self, sleep: Pin<&mut tokio::time::Sleep>, deadline: Option<Instant>) {
        let Some(deadline) = deadline else {
            self.armed = None;
            return;
        };
        if self.armed != Some(deadline) {
            sleep.reset(deadline);
            self.armed = Some(deadline);
            self.timer_polled = false;
        }
    }

    /// Whether the timer went off; registers the task with it the first time.
    fn timer_elapsed(&mut self, cx: &mut Context<'_>, sleep: Pin<&mut tokio::time::Sleep>) -> bool {
        if self.armed.is_none() {
            return false;
        }
        let elapsed = if self.timer_polled {
            sleep.is_elapsed()
        } else {
            self.timer_polled = true;
            sleep.poll(cx).is_ready()
        };
        if elapsed {
            self.armed = None;
        }
        elapsed
    }
}

/// When the timer goes off (and before the first wait): runs the heartbeat and sets
/// the timer to the next deadline, or ends the connection.
fn on_timer(
    socket: &EngineSocket,
    sleep: Pin<&mut tokio::time::Sleep>,
    state: &mut Serving,
) -> Result<(), End> {
    let now = Instant::now();
    let mut next = socket.tick(now, false);
    if state.then_close {
        // A graceful close waits for the write, but not forever.
        if state.linger_until.is_some_and(|d| now >= d) {
            return Err(End::Gone);
        }
        next = state.linger_until;
    } else if next.is_none() {
        // Closed by the heartbeat: whatever is still being written is abandoned, which
        // also frees a task stuck on a client that stopped reading.
        return Err(End::Close(None));
    }
    state.arm(sleep, next);
    Ok(())
}

/// How many times one poll of the connection may take from the queue before it lets
/// other tasks run.
const TAKES_PER_POLL: usize = 16;

/// One poll of the connection: writes what is queued, then waits at once for the
/// socket to be readable, the timer and the session's wake-up; looks at the queue
/// again when something was queued meanwhile.
#[allow(clippy::too_many_arguments)]
fn turn<S>(
    cx: &mut Context<'_>,
    conn: &mut Connection<S>,
    socket: &EngineSocket,
    mut sleep: Pin<&mut tokio::time::Sleep>,
    state: &mut Serving,
    protocol: ProtocolVersion,
    b64: bool,
    max_message: usize,
) -> Poll<Event>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    socket.inner.ws_task.waiting();
    for _ in 0..TAKES_PER_POLL {
        if conn.writer.is_idle() {
            // Wake-ups from now on are seen below, the queue is looked at now. (With
            // a write in progress the flag is kept: a wake-up then may be the close.)
            socket.inner.ws_task.clear();
            if state.then_close {
                return Poll::Ready(Event::End(End::Close(None)));
            }
            match socket.take_ws(conn.writer.items()) {
                Drain::Open => {}
                Drain::ThenClose => {
                    state.then_close = true;
                    let linger = Instant::now() + socket.inner.engine.config.ping_timeout;
                    state.linger_until = Some(linger);
                    state.arm(sleep.as_mut(), Some(linger));
                }
                Drain::Closed => return Poll::Ready(Event::End(End::Close(None))),
            }
        }
        // The write goes first so that a client that never stops sending cannot
        // starve its own replies.
        if !conn.writer.is_idle() {
            if let Poll::Ready(Err(error)) = conn.writer.poll_write(cx, &mut conn.io, protocol, b64)
            {
                return Poll::Ready(Event::WriteFailed(error));
            }
            if state.then_close && conn.writer.is_idle() {
                return Poll::Ready(Event::End(End::Close(None)));
            }
        }
        if let Poll::Ready(received) = conn.reader.poll_next(cx, &mut conn.io, max_message) {
            return Poll::Ready(Event::Read(received));
        }
        if state.timer_elapsed(cx, sleep.as_mut()) {
            return Poll::Ready(Event::Timer);
        }
        if conn.writer.is_idle() {
            if socket.inner.ws_task.poll(cx).is_pending() {
                return Poll::Pending;
            }
            // Woken: something was queued, or the session changed; look again.
            continue;
        }
        // The socket is full: what was queued waits for it, and the wake-up is kept
        // for when the write is done. Only a close is looked at now: what is still
        // being written is then abandoned, which also frees a task stuck on a client
        // that stopped reading.
        if socket.inner.ws_task.peek(cx) && socket.phase() == Phase::Closed {
            return Poll::Ready(Event::End(End::Close(None)));
        }
        return Poll::Pending;
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Serves an open session over websocket until it closes; the caller closes the
/// connection as the returned [`End`] says. (An async block, not an async function,
/// for the reason given on [`drive`].)
#[allow(clippy::manual_async_fn)] // on purpose, see `drive`
fn serve<S>(
    conn: &mut Connection<S>,
    socket: EngineSocket,
    b64: bool,
    max_message: usize,
) -> impl Future<Output = End> + Send + '_
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    async move {
        let protocol = socket.protocol();
        let mut state = Serving {
            then_close: false,
            linger_until: None,
            armed: None,
            timer_polled: false,
        };
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut timer = true;
        loop {
            if timer {
                if let Err(end) = on_timer(&socket, sleep.as_mut(), &mut state) {
                    return end;
                }
            }
            let event = poll_fn(|cx| {
                turn(
                    cx,
                    conn,
                    &socket,
                    sleep.as_mut(),
                    &mut state,
                    protocol,
                    b64,
                    max_message,
                )
            })
            .await;
            // Until the next turn, what the application queues is seen there without
            // waking this task.
            socket.inner.ws_task.running();
            timer = false;
            match event {
                Event::Read(Ok(Some(received))) => match received {
                    Received::Text(text) => match packet::decode_text(protocol, &text) {
                        Ok(packet) => socket.on_inbound(packet),
                        Err(error) => socket.on_parse_error(&error),
                    },
                    Received::Binary(data) => match packet::decode_binary_frame(protocol, data) {
                        Ok(packet) => socket.on_inbound(packet),
                        Err(error) => socket.on_parse_error(&error),
                    },
                    Received::Ping(payload) => conn.writer.pong(payload),
                    Received::Pong => {}
                    Received::Close(code) => {
                        socket.close_with(CloseReason::TransportClose);
                        return End::PeerClosed(code);
                    }
                },
                Event::Read(Ok(None)) => {
                    socket.close_with(CloseReason::TransportClose);
                    return End::Gone;
                }
                Event::Read(Err(error)) => {
                    tracing::debug!(sid = %socket.sid(), %error, "websocket read error");
                    let code = error.close_code();
                    let reason = match error {
                        WebSocketError::Io(_) => CloseReason::TransportClose,
                        _ => CloseReason::TransportError,
                    };
                    socket.close_with(reason);
                    return match code {
                        Some(code) => End::Close(Some(code)),
                        None => End::Gone,
                    };
                }
                Event::WriteFailed(error) => {
                    tracing::debug!(sid = %socket.sid(), %error, "websocket write error");
                    socket.close_with(CloseReason::TransportError);
                    return End::Gone;
                }
                Event::Timer => timer = true,
                Event::End(end) => return end,
            }
        }
    }
}

/// Sends a close frame (after the frame in progress) and waits briefly for the
/// client's.
async fn close_connection<S>(
    conn: &mut Connection<S>,
    code: Option<u16>,
    protocol: ProtocolVersion,
    b64: bool,
    max_message: usize,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Connection { io, reader, writer } = conn;
    writer.close(code);
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        if poll_fn(|cx| writer.poll_write(cx, io, protocol, b64))
            .await
            .is_err()
        {
            return;
        }
        while let Ok(Some(received)) = poll_fn(|cx| reader.poll_next(cx, io, max_message)).await {
            if matches!(received, Received::Close(_)) {
                return;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn accept_key_of_the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
