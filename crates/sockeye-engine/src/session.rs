//! A session: one client, whatever transport it currently uses.
//!
//! All mutable state of a session sits behind one small lock ([`State`]): the phase
//! (open, closing, closed), the transport and upgrade step, the outgoing queue, the
//! heartbeat deadlines and the polling request slots. Transports never keep their own
//! copy of any of it: the pending polling GET, the polling timer task and the websocket
//! task all look at the same state and wait on the same [`Notify`], so a transport
//! switch (upgrade) is a single state change under the lock and nothing queued can be
//! lost or sent twice.
//!
//! The handler is always called with the lock released.

use crate::stats::{Stats, STATS};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::heartbeat::{Beat, Heartbeat};
use crate::packet::{Control, Inbound};
use crate::queue::{Item, Queue};
use crate::{Outgoing, RequestInfo, SendError, Sid, Transport};

/// The Engine.IO protocol revision a client speaks (`EIO` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// socket.io-client 2.x (engine.io-client 3.x): the client pings.
    V3 = 3,
    /// socket.io-client 3.x/4.x (engine.io-client 4+): the server pings.
    V4 = 4,
}

impl ProtocolVersion {
    /// Parses the `EIO` query parameter (`"3"` or `"4"`).
    pub fn from_query(eio: &str) -> Option<Self> {
        match eio {
            "3" => Some(ProtocolVersion::V3),
            "4" => Some(ProtocolVersion::V4),
            _ => None,
        }
    }
}

/// Why a session closed. `as_str` gives the reference server's reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection or sent a `close` packet.
    TransportClose,
    /// The connection failed, or the client broke the transport's rules (a second
    /// pending GET, an aborted poll).
    TransportError,
    /// The heartbeat went unanswered.
    PingTimeout,
    /// The client sent something that is not Engine.IO.
    ParseError,
    /// The server closed it ([`EngineSocket::close`]).
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client did not read fast enough and its outgoing queue filled up.
    SlowClient,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
            CloseReason::SlowClient => "slow client",
        }
    }
}

/// The life of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// Closed by the server: what is queued is still delivered, then the close.
    Closing,
    Closed,
}

/// Where a polling session is in its upgrade to websocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Upgrade {
    None,
    /// A websocket was accepted for the session; waiting for `2probe`.
    Probing,
    /// `3probe` was answered; the pending GET is released, waiting for `5`.
    Probed,
    /// The session runs over websocket.
    Done,
}

pub(crate) struct State {
    pub(crate) phase: Phase,
    pub(crate) transport: Transport,
    pub(crate) upgrade: Upgrade,
    pub(crate) queue: Queue,
    heartbeat: Heartbeat,
    /// A polling GET is waiting for data.
    pub(crate) get_pending: bool,
    /// A polling POST is being read.
    pub(crate) post_pending: bool,
    /// Closing over polling: when to give up waiting for a GET to carry the close.
    close_deadline: Option<Instant>,
    /// Closed without telling the client: a pending GET gets a `noop`, not `close`.
    silent_close: bool,
}

pub(crate) struct Session {
    sid: Sid,
    protocol: ProtocolVersion,
    request: RequestInfo,
    /// The polling transport's `b64` flag (the client cannot take binary payloads).
    polling_b64: bool,
    pub(crate) engine: Arc<Engine>,
    pub(crate) state: Mutex<State>,
    /// Wakes the polling side after a state change: the pending GET and the polling
    /// timer task, which register before they look at the state.
    pub(crate) wake: Notify,
    /// Wakes the websocket task, the one task of a websocket connection.
    pub(crate) ws_task: TaskWake,
}

/// Wakes one task, without losing a wake-up that comes between the task's look at the
/// state and its wait: the task clears the flag before it looks, and checks it again
/// when it waits. Cheaper than a `Notify` for a single waiter, and it adds nothing
/// to the waiting task.
///
/// While the task is running outside its wait (handing a client's packet to the
/// application, which often answers at once), a wake-up only sets the flag: the task
/// looks at the queue before it waits again, and waking it would only make the
/// scheduler poll it once more for nothing.
#[derive(Default)]
pub(crate) struct TaskWake {
    woken: AtomicBool,
    waker: AtomicWaker,
    running: AtomicBool,
}

impl TaskWake {
    pub(crate) fn wake(&self) {
        self.woken.store(true, Ordering::SeqCst);
        if !self.running.load(Ordering::SeqCst) {
            self.waker.wake();
        }
    }

    /// The task leaves its wait to handle an event; it will look at the queue before
    /// waiting again ([`waiting`](Self::waiting)).
    pub(crate) fn running(&self) {
        self.running.store(true, Ordering::SeqCst);
    }

    /// The task is about to look at the queue, then wait.
    pub(crate) fn waiting(&self) {
        self.running.store(false, Ordering::SeqCst);
    }

    /// Called before the task looks at the state.
    pub(crate) fn clear(&self) {
        self.woken.store(false, Ordering::Relaxed);
    }

    /// Whether the task was woken since the last [`clear`](Self::clear) or
    /// [`poll`](Self::poll), leaving the flag as it is.
    pub(crate) fn peek(&self, cx: &mut Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.woken.load(Ordering::Acquire)
    }

    /// Ready when woken since the last [`clear`](Self::clear).
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.waker.register(cx.waker());
        if self.woken.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Session {
    /// Wakes everyone who waits on the session's state.
    pub(crate) fn wake_all(&self) {
        self.ws_task.wake();
        self.wake.notify_waiters();
    }
}

/// A handle on one session. Cheap to clone.
#[derive(Clone)]
pub struct EngineSocket {
    pub(crate) inner: Arc<Session>,
}

impl std::fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSocket")
            .field("sid", &self.inner.sid)
            .field("protocol", &self.inner.protocol)
            .field("transport", &self.transport())
            .finish()
    }
}

impl EngineSocket {
    pub fn sid(&self) -> &Sid {
        &self.inner.sid
    }

    pub fn protocol(&self) -> ProtocolVersion {
        self.inner.protocol
    }

    /// The transport in use now (changes to `Websocket` after an upgrade).
    pub fn transport(&self) -> Transport {
        self.inner.state.lock().transport
    }

    /// The handshake request.
    pub fn request(&self) -> &RequestInfo {
        &self.inner.request
    }

    /// Queues a message or group. Errors when the session is closed, or when the
    /// queue is full, in which case the session is closed as too slow.
    ///
    /// In that last case [`EngineHandler::on_close`](crate::EngineHandler::on_close)
    /// runs inside this call, so don't call `send` while holding a lock that `on_close`
    /// takes.
    pub fn send(&self, msg: impl Into<Outgoing>) -> Result<(), SendError> {
        let capacity = self.inner.engine.config.max_queue;
        {
            let mut st = self.inner.state.lock();
            if st.phase != Phase::Open {
                return Err(SendError::Closed);
            }
            if st.queue.push_out(msg.into(), capacity).is_ok() {
                drop(st);
                self.inner.wake_all();
                return Ok(());
            }
        }
        tracing::debug!(sid = %self.inner.sid, "outgoing queue full, closing slow client");
        self.close_with(CloseReason::SlowClient);
        Err(SendError::Full)
    }

    /// Queues a message that may be lost: dropped (returns false) when the queue is
    /// full or the session is not open, and during an upgrade to websocket.
    pub fn send_volatile(&self, msg: impl Into<Outgoing>) -> bool {
        let capacity = self.inner.engine.config.max_queue;
        let mut st = self.inner.state.lock();
        if st.phase != Phase::Open || matches!(st.upgrade, Upgrade::Probing | Upgrade::Probed) {
            Stats::add(&STATS.volatile_dropped, 1);
            return false;
        }
        if st.queue.push_out(msg.into(), capacity).is_err() {
            Stats::add(&STATS.volatile_dropped, 1);
            return false;
        }
        drop(st);
        self.inner.wake_all();
        true
    }

    /// Closes the session after flushing what is already queued.
    pub fn close(&self) {
        self.close_with(CloseReason::ForcedClose);
    }

    /// False once the session is closing or closed.
    pub fn is_open(&self) -> bool {
        self.inner.state.lock().phase == Phase::Open
    }
}

/// What a transport gets when it asks for the next thing to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drain {
    /// Keep going (the batch may be empty).
    Open,
    /// Write the batch, then close the connection: the session closed gracefully.
    ThenClose,
    /// The session is closed: close the connection now.
    Closed,
}

impl EngineSocket {
    pub(crate) fn new(
        engine: Arc<Engine>,
        sid: Sid,
        protocol: ProtocolVersion,
        request: RequestInfo,
        transport: Transport,
        polling_b64: bool,
    ) -> Self {
        let config = &engine.config;
        let heartbeat = Heartbeat::new(
            protocol,
            config.ping_interval,
            config.ping_timeout,
            Instant::now(),
        );
        let state = State {
            phase: Phase::Open,
            transport,
            upgrade: Upgrade::None,
            queue: Queue::default(),
            heartbeat,
            get_pending: false,
            post_pending: false,
            close_deadline: None,
            silent_close: false,
        };
        EngineSocket {
            inner: Arc::new(Session {
                sid,
                protocol,
                request,
                polling_b64,
                engine,
                state: Mutex::new(state),
                wake: Notify::new(),
                ws_task: TaskWake::default(),
            }),
        }
    }

    pub(crate) fn polling_b64(&self) -> bool {
        self.inner.polling_b64
    }

    pub(crate) fn phase(&self) -> Phase {
        self.inner.state.lock().phase
    }

    /// Closes the session for `reason`, once: the first call decides, later calls do
    /// nothing. A server-initiated [`CloseReason::ForcedClose`] is graceful (the queue
    /// is flushed, then the close packet or frame is sent); every other reason drops
    /// the queue and closes now. The handler hears of it right away.
    pub(crate) fn close_with(&self, reason: CloseReason) {
        self.close_inner(reason, false)
    }

    /// Closes the session at once without sending the client a `close` packet, when
    /// the client is about to see an HTTP error instead: the reference server keeps the
    /// session after a 413 and the client closes it on the failed POST, so a `close`
    /// packet racing with that error would change the reason the client reports.
    pub(crate) fn close_silently(&self, reason: CloseReason) {
        self.close_inner(reason, true)
    }

    fn close_inner(&self, reason: CloseReason, silent: bool) {
        let graceful = reason == CloseReason::ForcedClose && !silent;
        {
            let mut st = self.inner.state.lock();
            if st.phase != Phase::Open {
                return;
            }
            st.silent_close = silent;
            if graceful {
                st.phase = Phase::Closing;
                st.close_deadline = Some(Instant::now() + self.inner.engine.config.ping_timeout);
            } else {
                st.phase = Phase::Closed;
                st.queue.clear();
            }
        }
        if !graceful {
            self.inner.engine.remove(self);
        }
        self.inner.wake_all();
        if reason == CloseReason::SlowClient {
            Stats::add(&STATS.slow_client_closes, 1);
        }
        tracing::debug!(sid = %self.inner.sid, reason = reason.as_str(), "session closed");
        self.inner.engine.handler.on_close(self, reason);
    }

    /// Ends a graceful close: the close was delivered, or could not be in time.
    pub(crate) fn finish_close(&self) {
        let finished = {
            let mut st = self.inner.state.lock();
            if st.phase == Phase::Closing {
                st.phase = Phase::Closed;
                st.queue.clear();
                true
            } else {
                false
            }
        };
        if finished {
            self.inner.engine.remove(self);
            self.inner.wake_all();
        }
    }

    /// Queues a server packet (a pong, a ping); false when the queue overflows, which
    /// the caller answers by closing the session as too slow.
    fn push_control_locked(&self, st: &mut State, control: Control) -> bool {
        st.queue
            .push_control(control, self.inner.engine.config.max_queue)
            .is_ok()
    }

    /// Handles one packet from the client, whatever the transport.
    pub(crate) fn on_inbound(&self, packet: Inbound) {
        enum Then {
            Nothing,
            Wake,
            Deliver(crate::Incoming),
            Close(CloseReason),
            ClientClosed,
        }
        let now = Instant::now();
        let then = {
            let mut st = self.inner.state.lock();
            if st.phase != Phase::Open {
                return;
            }
            if !matches!(packet, Inbound::Pong { .. }) {
                st.heartbeat.on_other_packet(now);
            }
            match packet {
                Inbound::Ping { .. } => match self.inner.protocol {
                    ProtocolVersion::V3 => {
                        st.heartbeat.on_client_ping(now);
                        if self.push_control_locked(&mut st, Control::Pong) {
                            Then::Wake
                        } else {
                            Then::Close(CloseReason::SlowClient)
                        }
                    }
                    ProtocolVersion::V4 => Then::Close(CloseReason::TransportError),
                },
                Inbound::Pong { .. } => match self.inner.protocol {
                    ProtocolVersion::V4 => {
                        st.heartbeat.on_pong(now);
                        Then::Nothing
                    }
                    ProtocolVersion::V3 => Then::Close(CloseReason::TransportError),
                },
                Inbound::Message(m) => {
                    let len = match &m {
                        crate::Incoming::Text(b) | crate::Incoming::Binary(b) => b.len(),
                    };
                    Stats::add(&STATS.messages_in, 1);
                    Stats::add(&STATS.bytes_in, len as u64);
                    Then::Deliver(m)
                }
                Inbound::Close => Then::ClientClosed,
                Inbound::Open | Inbound::Upgrade | Inbound::Noop => Then::Nothing,
            }
        };
        match then {
            Then::Nothing => {}
            Then::Wake => self.inner.wake_all(),
            Then::Deliver(m) => self.inner.engine.handler.on_message(self, m),
            // The client is gone: as in the reference server, a pending GET is released
            // with a noop rather than a close packet nobody reads.
            Then::ClientClosed => self.close_silently(CloseReason::TransportClose),
            Then::Close(reason) => {
                if reason == CloseReason::TransportError {
                    tracing::debug!(sid = %self.inner.sid, "heartbeat packet in the wrong direction");
                }
                self.close_with(reason)
            }
        }
    }

    /// A malformed packet arrived: the session closes with a parse error.
    pub(crate) fn on_parse_error(&self, error: &dyn std::fmt::Display) {
        tracing::debug!(sid = %self.inner.sid, %error, "malformed packet");
        self.close_with(CloseReason::ParseError);
    }

    /// Runs the heartbeat (and, for the polling timer task, the grace period of a
    /// graceful close) up to `now`. Returns when to call again; `None` once the caller
    /// has nothing more to drive.
    pub(crate) fn tick(&self, now: Instant, polling_driver: bool) -> Option<Instant> {
        let mut close = None;
        let mut finish = false;
        let mut wake = false;
        let next = {
            let mut st = self.inner.state.lock();
            if st.phase == Phase::Closed || (polling_driver && st.transport == Transport::Websocket)
            {
                return None;
            }
            match st.heartbeat.poll(now) {
                Beat::Idle => {}
                Beat::SendPing => {
                    if st.phase == Phase::Open {
                        if self.push_control_locked(&mut st, Control::Ping) {
                            wake = true;
                        } else {
                            close = Some(CloseReason::SlowClient);
                        }
                    }
                }
                Beat::TimedOut => match st.phase {
                    Phase::Open => close = Some(CloseReason::PingTimeout),
                    _ => finish = true,
                },
            }
            let mut next = st.heartbeat.next_deadline();
            if polling_driver && st.phase == Phase::Closing {
                match st.close_deadline {
                    Some(d) if now >= d => finish = true,
                    Some(d) => next = Some(next.map_or(d, |n| n.min(d))),
                    None => {}
                }
            }
            next
        };
        if wake {
            self.inner.wake_all();
        }
        if let Some(reason) = close {
            self.close_with(reason);
            return None;
        }
        if finish {
            self.finish_close();
            return None;
        }
        next
    }

    /// Takes what a polling GET should answer, if anything yet. Clears the pending-GET
    /// slot when it returns a batch.
    pub(crate) fn take_poll(&self, out: &mut Vec<Item>) -> Option<Drain> {
        let max = self.inner.engine.config.max_payload;
        let mut st = self.inner.state.lock();
        let drain = if st.transport == Transport::Websocket {
            // Upgraded while this GET waited: the websocket owns the queue now.
            out.push(Item::Control(Control::Noop));
            Drain::Open
        } else {
            match st.phase {
                Phase::Closed => {
                    let last = if st.silent_close {
                        Control::Noop
                    } else {
                        Control::Close
                    };
                    out.push(Item::Control(last));
                    Drain::Closed
                }
                Phase::Closing => {
                    st.queue.take_all(out);
                    out.push(Item::Control(Control::Close));
                    Drain::ThenClose
                }
                Phase::Open if !st.queue.is_empty() => {
                    st.queue.take_batch(max, out);
                    Drain::Open
                }
                Phase::Open if st.upgrade == Upgrade::Probed => {
                    // Release the poll so the client can finish the upgrade.
                    out.push(Item::Control(Control::Noop));
                    Drain::Open
                }
                Phase::Open => return None,
            }
        };
        st.get_pending = false;
        drop(st);
        if drain == Drain::ThenClose {
            self.finish_close();
        }
        Some(drain)
    }

    /// Takes everything queued for the websocket writer.
    pub(crate) fn take_ws(&self, out: &mut VecDeque<Item>) -> Drain {
        let mut st = self.inner.state.lock();
        match st.phase {
            Phase::Open => {
                st.queue.take_all_into(out);
                Drain::Open
            }
            Phase::Closing => {
                st.queue.take_all_into(out);
                drop(st);
                self.finish_close();
                Drain::ThenClose
            }
            Phase::Closed => Drain::Closed,
        }
    }

    /// Queues a server packet outside the heartbeat (the handshake).
    pub(crate) fn push_open_packet(&self, packet: Bytes) {
        let mut st = self.inner.state.lock();
        let _ = self.push_control_locked(&mut st, Control::Open(packet));
    }

    /// A websocket was accepted for this polling session. Fails when the session is
    /// not open, not on polling, or already upgrading.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut st = self.inner.state.lock();
        if st.phase != Phase::Open
            || st.transport != Transport::Polling
            || st.upgrade != Upgrade::None
        {
            return false;
        }
        st.upgrade = Upgrade::Probing;
        true
    }

    /// The probe was answered on the websocket: release the pending GET.
    pub(crate) fn probe_answered(&self) {
        {
            let mut st = self.inner.state.lock();
            if st.upgrade == Upgrade::Probing {
                st.upgrade = Upgrade::Probed;
            }
        }
        self.inner.wake_all();
    }

    /// The client sent `5`: from now on the websocket drains the queue. Fails when the
    /// session closed meanwhile (a graceful close still completes over websocket).
    pub(crate) fn complete_upgrade(&self) -> bool {
        {
            let mut st = self.inner.state.lock();
            if st.phase == Phase::Closed
                || !matches!(st.upgrade, Upgrade::Probing | Upgrade::Probed)
            {
                return false;
            }
            st.upgrade = Upgrade::Done;
            st.transport = Transport::Websocket;
        }
        tracing::debug!(sid = %self.inner.sid, "upgraded to websocket");
        self.inner.wake_all();
        true
    }

    /// The upgrade failed (timeout, bad packet, closed websocket): stay on polling.
    pub(crate) fn cancel_upgrade(&self) {
        let mut st = self.inner.state.lock();
        if matches!(st.upgrade, Upgrade::Probing | Upgrade::Probed) {
            st.upgrade = Upgrade::None;
        }
    }
}

#[cfg(test)]
mod tests;
