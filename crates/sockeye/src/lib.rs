//! Socket.IO server (protocol v5 for socket.io-client 3.x/4.x, v4 for 2.x).
//!
//! Built on the Engine.IO server of `sockeye-engine`. A [`SocketIo`] holds namespaces;
//! a [`Socket`] is one client in one namespace; rooms and broadcasts go through the
//! namespace's [`Adapter`](adapter::Adapter) (in memory by default, replaceable by a
//! cluster adapter). Mount it in axum with [`SocketIoLayer`], or run it alone with
//! [`serve`].
//!
//! Connection state recovery (off by default) is described in [`recovery`] and turned on
//! with [`SocketIoBuilder::connection_state_recovery`].

pub mod adapter;
mod args;
mod client;
mod disconnect;
mod error;
mod handlers;
mod io;
mod layer;
mod namespace;
mod operators;
mod packet;
pub mod parser;
pub mod recovery;
mod remote_socket;
mod serve;
mod socket;
mod stats;
mod value;

pub use args::{IntoArgs, IntoRooms};
pub use disconnect::DisconnectReason;
pub use error::{AckError, ConnectError, EmitError, EventRefused};
pub use io::{DynamicNamespace, IoHandler, SocketIo, SocketIoBuilder, SocketIoConfig};
pub use layer::{SocketIoLayer, SocketIoService};
pub use namespace::Namespace;
pub use operators::BroadcastOperator;
pub use packet::{Packet, PacketData, ProtocolRevision};
pub use parser::ParserKind;
pub use recovery::RecoveryConfig;
pub use remote_socket::{RemoteSocket, SocketDescription};
pub use serve::{serve, serve_with_shutdown};
pub use socket::{AckSender, Event, Socket, SocketEmitter};
pub use sockeye_engine::{Cors, RequestInfo, Transport};
pub use stats::{stats, SocketIoStats};
pub use value::{from_value, to_value, Map, Value, ValueError};

/// The examples of README.md, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
