//! Errors of the Engine.IO layer.

use thiserror::Error;

/// The error codes of the protocol's JSON error body (`{"code":N,"message":"…"}`),
/// answered with HTTP 400 (403 for `Forbidden`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpErrorCode {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl HttpErrorCode {
    /// The reference server's message for the code.
    pub fn message(self) -> &'static str {
        match self {
            HttpErrorCode::UnknownTransport => "Transport unknown",
            HttpErrorCode::UnknownSid => "Session ID unknown",
            HttpErrorCode::BadHandshakeMethod => "Bad handshake method",
            HttpErrorCode::BadRequest => "Bad request",
            HttpErrorCode::Forbidden => "Forbidden",
            HttpErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }
}

/// Why a message could not be queued for a client.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    #[error("the session is closed")]
    Closed,
    #[error("the client's outgoing queue is full; the session was closed as too slow")]
    Full,
}

/// Errors of the Engine.IO layer that reach users of the crate.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("malformed Engine.IO packet: {0}")]
    Packet(String),
    #[error("payload of {size} bytes exceeds max_payload {max} bytes")]
    PayloadTooLarge { size: usize, max: usize },
    #[error("HTTP request refused: {}", .0.message())]
    Http(HttpErrorCode),
    #[error("websocket error: {0}")]
    WebSocket(#[from] crate::WebSocketError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
