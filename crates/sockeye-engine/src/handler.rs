//! The application's side of an Engine.IO server.

use std::sync::Arc;

use crate::{CloseReason, EngineSocket, Incoming, RequestInfo};

/// Receives the life of every session. Called from the connection's own task, so an
/// implementation must not block; it hands long work to a spawned task.
pub trait EngineHandler: Send + Sync + 'static {
    /// A session finished its handshake.
    fn on_open(&self, socket: &EngineSocket);
    /// A `message` packet arrived.
    fn on_message(&self, socket: &EngineSocket, message: Incoming);
    /// The session is closed (called exactly once per opened session).
    fn on_close(&self, socket: &EngineSocket, reason: CloseReason);
}

/// Decides whether a handshake request may open a session (like `allowRequest` in the
/// Node server). `Err(message)` refuses it with `403 {"code":4,"message":"Forbidden"}`
/// and the message in the body's `context`.
pub type AllowRequest = Arc<dyn Fn(&RequestInfo) -> Result<(), String> + Send + Sync>;
