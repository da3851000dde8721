//! Broadcast operators: `to`, `except`, `local`, `volatile`, `timeout`, then an action.

use std::sync::Arc;
use std::time::Duration;

use crate::adapter::{AdapterError, BroadcastOptions, Room};
use crate::namespace::NamespaceInner;
use crate::{AckError, EmitError, IntoArgs, IntoRooms, Packet, RemoteSocket, Value};

/// Selects sockets of a namespace (across the cluster unless `local`), then acts on
/// them. Built from [`SocketIo`](crate::SocketIo), a [`Namespace`](crate::Namespace) or
/// a [`Socket`](crate::Socket) (which leaves itself out).
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Arc<NamespaceInner>,
    opts: BroadcastOptions,
    timeout: Option<Duration>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NamespaceInner>, opts: BroadcastOptions) -> Self {
        BroadcastOperator {
            ns,
            opts,
            timeout: None,
        }
    }

    /// Adds a target room (a socket id works as a room).
    pub fn to(mut self, room: impl Into<Room>) -> Self {
        let room = room.into();
        if !self.opts.rooms.contains(&room) {
            self.opts.rooms.push(room);
        }
        self
    }
    /// Same as [`to`](Self::to).
    pub fn within(self, room: impl Into<Room>) -> Self {
        self.to(room)
    }
    /// Adds several target rooms.
    pub fn to_rooms(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            self = self.to(room);
        }
        self
    }
    /// Leaves out the sockets in `room`.
    pub fn except(mut self, room: impl Into<Room>) -> Self {
        self.opts.except.push(room.into());
        self
    }
    /// Only the sockets of this node.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }
    /// The packet may be lost for clients that are not ready to receive it.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }
    /// How long [`emit_with_ack`](Self::emit_with_ack) waits (5 s when not set).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// The options built so far.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits an event to every selected socket. The packet is encoded once.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let packet = Packet::event(&*self.ns.name, event, args.into_args());
        self.ns
            .adapter
            .broadcast(packet, self.opts.clone())
            .map_err(|e| EmitError::Adapter(e.to_string()))
    }

    /// Emits an event to every selected socket and collects one acknowledgement from
    /// each. Without a [`timeout`](Self::timeout) it waits at most 5 seconds (a
    /// broadcast must not wait forever for clients that went away). On timeout the
    /// error carries the acknowledgements that did arrive.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Vec<Value>>, AckError> {
        let packet = Packet::event(&*self.ns.name, event, args.into_args());
        let timeout = self.timeout.unwrap_or(Duration::from_secs(5));
        self.ns
            .adapter
            .broadcast_with_ack(packet, self.opts.clone(), timeout)
            .await
    }

    /// The selected sockets, with their rooms and data.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.ns.adapter.fetch_sockets(self.opts.clone()).await
    }

    /// Makes the selected sockets join rooms.
    pub fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.ns
            .adapter
            .add_sockets(self.opts.clone(), rooms.into_rooms())
    }

    /// Makes the selected sockets leave rooms.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.ns
            .adapter
            .del_sockets(self.opts.clone(), rooms.into_rooms())
    }

    /// Disconnects the selected sockets; with `close` their connections close too.
    pub fn disconnect_sockets(&self, close: bool) -> Result<(), AdapterError> {
        self.ns.adapter.disconnect_sockets(self.opts.clone(), close)
    }

    /// Emits a server event to the other nodes and waits for one answer from each,
    /// within this operator's [`timeout`](Self::timeout) or else the adapter's request
    /// timeout (rooms and flags do not apply: servers are not in rooms). See
    /// [`Namespace::server_side_emit_with_ack`](crate::Namespace::server_side_emit_with_ack).
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Value>, crate::adapter::ServerSideEmitError> {
        crate::namespace::check_server_event(event)?;
        self.ns
            .adapter
            .server_side_emit_with_ack(event, args.into_args(), self.timeout)
            .await
    }
}
