//! Rooms and broadcast: the `Adapter` trait and the in-memory adapter.
//!
//! The adapter of a namespace knows which socket is in which room and delivers
//! broadcasts. It never sees a transport: it hands one encoded packet to each local
//! recipient through [`AdapterContext`]. A cluster adapter (Redis) wraps the
//! in-memory one: it applies every operation locally and forwards it to other nodes.

mod memory;
mod server_events;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use crate::namespace::AdapterContext;
pub use memory::{collect_acks, LocalAcks, MemoryAdapter};
pub use server_events::{ServerAck, ServerEvent, ServerSideEmitError};
pub(crate) use server_events::{ServerEventHandler, RESERVED_EVENTS};

use crate::recovery::{RestoredSession, SessionState};
use crate::{AckError, Packet, RemoteSocket, Value};

/// A boxed future, so adapters can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A room name. Shared, so the room index stores each name once.
pub type Room = Arc<str>;

/// A socket id (random per socket and namespace, not the Engine.IO session id).
pub type SocketId = sockeye_engine::Sid;

/// Which sockets an operation targets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target the sockets in any of these rooms; empty means every socket.
    pub rooms: Vec<Room>,
    /// Leave out the sockets in any of these rooms (a socket id is a room too).
    pub except: Vec<Room>,
    pub flags: BroadcastFlags,
}

/// Modifiers of a broadcast.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BroadcastFlags {
    /// The packet may be dropped for clients that are not ready to receive it.
    pub volatile: bool,
    /// Only the sockets of this node (no cluster forwarding).
    pub local: bool,
}

/// Errors of cluster operations (the in-memory adapter never fails).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AdapterError {
    #[error("the cluster is unreachable: {0}")]
    Unavailable(String),
    #[error("no answer from other nodes within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Other(String),
}

/// Rooms and broadcast for one namespace. See the module docs.
pub trait Adapter: Send + Sync + 'static {
    /// Adds a local socket to rooms.
    fn add_all(&self, id: &SocketId, rooms: &[Room]);
    /// Removes a local socket from a room.
    fn del(&self, id: &SocketId, room: &str);
    /// Removes a local socket from every room.
    fn del_all(&self, id: &SocketId);
    /// The rooms of a local socket (its own id not included).
    fn socket_rooms(&self, id: &SocketId) -> Vec<Room>;
    /// The local rooms that have at least one socket.
    fn rooms(&self) -> Vec<Room>;
    /// Ids of the local sockets matching `opts`.
    fn sockets(&self, opts: &BroadcastOptions) -> Vec<SocketId>;

    /// Sends a packet to every matching socket (of the cluster unless `local`).
    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) -> Result<(), AdapterError>;
    /// Sends a packet expecting an acknowledgement from every recipient; resolves with
    /// every acknowledgement, or [`AckError::Partial`] when the timeout passes first.
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Vec<Value>>, AckError>>;

    /// The matching sockets, with their rooms and data (of the cluster unless `local`).
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocket>, AdapterError>>;
    /// Makes the matching sockets join rooms.
    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError>;
    /// Makes the matching sockets leave rooms.
    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError>;
    /// Disconnects the matching sockets (`close` also closes their connections).
    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> Result<(), AdapterError>;
    /// How many nodes serve this namespace (1 without a cluster).
    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>>;

    // ---- connection state recovery ----
    //
    // Used only when the server enables it (`SocketIoBuilder::connection_state_recovery`).
    // An adapter that supports recovery also appends an offset to the event packets it
    // broadcasts and keeps them (see `crate::recovery::RecoveryStore`); the defaults
    // below keep nothing, so its clients always get new sockets.

    /// Keeps the state of a socket that lost its connection, for the recovery window.
    fn persist_session(&self, session: SessionState) {
        let _ = session;
    }

    /// Takes back the session `pid` with the packets its socket missed after `offset`
    /// (each ending with its own offset); `None` when it cannot be recovered.
    fn restore_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<'static, Result<Option<RestoredSession>, AdapterError>> {
        let _ = (pid, offset);
        Box::pin(async { Ok(None) })
    }

    /// The kept packets after `offset` for a socket in `rooms` (its own id included);
    /// `None` when `offset` is no longer kept. A recovered socket asks again once it is
    /// reachable by broadcasts, for what was sent while it was being restored.
    fn packets_since(
        &self,
        offset: &str,
        rooms: &[Room],
    ) -> BoxFuture<'static, Result<Option<Vec<Packet>>, AdapterError>> {
        let _ = (offset, rooms);
        Box::pin(async { Ok(None) })
    }

    /// A socket of this node has connected to the namespace (its own id is a room of
    /// which the adapter hears nothing else; it leaves with [`del_all`](Self::del_all)).
    fn socket_connected(&self, id: &SocketId) {
        let _ = id;
    }

    // --- Events between servers (`serverSideEmit`); a single node has nobody to tell.

    /// Sends an event to this namespace on every other node of the cluster.
    fn server_side_emit(&self, event: &str, args: Vec<Value>) -> Result<(), AdapterError> {
        let _ = (event, args);
        Ok(())
    }
    /// Same, collecting one answer from each other node within `timeout` (the
    /// adapter's own request timeout when `None`).
    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Value>, ServerSideEmitError>> {
        let _ = (event, args, timeout);
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Creates the adapter of each namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter>;
}

/// Creates [`MemoryAdapter`]s (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryAdapterFactory;

impl AdapterFactory for MemoryAdapterFactory {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        Arc::new(MemoryAdapter::new(ctx))
    }
}
