//! Engine.IO server (protocol v3 and v4).
//!
//! This crate knows bytes and sessions only: it performs the handshake, runs the
//! HTTP long-polling and WebSocket transports, upgrades polling sessions to
//! WebSocket, keeps the heartbeat, and hands every message to an [`EngineHandler`].
//! Socket.IO (namespaces, rooms, acks) lives in the `sockeye` crate on top of it.
//!
//! The entry point is [`EngineService`], a `tower` service that answers the
//! requests under the configured path (`/engine.io/` by default); [`EngineLayer`]
//! mounts it in front of another service (an axum `Router`), and [`serve`] runs it on
//! a TCP listener.
//!
//! How a session works: all its state (phase, transport, upgrade step, outgoing
//! queue, heartbeat deadlines) sits behind one small lock, and whoever carries data
//! for it waits on one `Notify`: the pending polling GET, a polling session's timer
//! task, or the single task of its websocket connection. An upgrade is one state
//! change under that lock, so queued messages move from polling to websocket in
//! order, none lost or duplicated.

mod admission;
mod body;
mod config;
mod dispatch;
mod engine;
mod error;
mod handler;
mod message;
mod packet;
mod payload;
mod request;
mod response;
mod serve;
mod service;
mod session;
mod sid;
mod stats;
// Transport and timer internals.
mod cors;
mod heartbeat;
mod polling;
mod queue;
mod websocket;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;

pub use body::{BoxError, EngineBody};
pub use config::{Cors, EngineConfig, EngineConfigBuilder, HandshakeRate, Transport};
pub use error::{EngineError, HttpErrorCode, SendError};
pub use handler::{AllowRequest, EngineHandler};
pub use message::{Incoming, Message, Outgoing};
pub use request::{query_param, RemoteAddr, RequestInfo};
pub use serve::{serve, serve_with_shutdown, tune_listener};
pub use service::{EngineLayer, EngineService, NotFound, ResponseFuture};
pub use session::{CloseReason, EngineSocket, ProtocolVersion};
pub use sid::Sid;
pub use stats::{stats, EngineStats};
pub use websocket::WebSocketError;
