//! A session: one client, whatever transport it currently uses.
//! (Public surface fixed; internals to be implemented.)

use std::sync::Arc;

use crate::{Outgoing, RequestInfo, SendError, Sid, Transport};

/// The Engine.IO protocol revision a client speaks (`EIO` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// socket.io-client 2.x (engine.io-client 3.x): the client pings.
    V3 = 3,
    /// socket.io-client 3.x/4.x (engine.io-client 4+): the server pings.
    V4 = 4,
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

pub(crate) struct Session {
    _todo: (),
}

/// A handle on one session. Cheap to clone.
#[derive(Clone)]
pub struct EngineSocket {
    pub(crate) inner: Arc<Session>,
}

impl EngineSocket {
    pub fn sid(&self) -> &Sid {
        todo!()
    }
    pub fn protocol(&self) -> ProtocolVersion {
        todo!()
    }
    /// The transport in use now (changes to `Websocket` after an upgrade).
    pub fn transport(&self) -> Transport {
        todo!()
    }
    /// The handshake request.
    pub fn request(&self) -> &RequestInfo {
        todo!()
    }
    /// Queues a message or group. Errors when the session is closed, or when the
    /// queue is full, in which case the session is closed as too slow.
    pub fn send(&self, _msg: impl Into<Outgoing>) -> Result<(), SendError> {
        todo!()
    }
    /// Queues a message that may be lost: dropped (returns false) when the queue is
    /// full or the session is not open.
    pub fn send_volatile(&self, _msg: impl Into<Outgoing>) -> bool {
        todo!()
    }
    /// Closes the session after flushing what is already queued.
    pub fn close(&self) {
        todo!()
    }
    /// False once the session is closing or closed.
    pub fn is_open(&self) -> bool {
        todo!()
    }
}
