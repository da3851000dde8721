//! `ShardedAdapter`: a namespace's rooms across the nodes, through shard channels.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sockeye::adapter::{
    Adapter, AdapterContext, AdapterError, BoxFuture, BroadcastOptions, MemoryAdapter, Room,
    ServerSideEmitError, SocketId,
};
use sockeye::{AckError, Packet, RemoteSocket, Value};

use super::config::SubscriptionMode;
use super::node::ShardedNode;
use crate::cluster::exchange::{self, Exchange, ExchangeAdapter};
use crate::cluster::message::{kind, Message};

/// The adapter of one namespace on one node. Created by
/// [`ShardedAdapterFactory`](super::ShardedAdapterFactory).
pub struct ShardedAdapter {
    local: MemoryAdapter,
    node: Arc<ShardedNode>,
    /// `<prefix>#<nsp>#`: every node listens; room channels and answer channels add a
    /// suffix and `#`.
    channel: String,
    exchange: Exchange,
    me: Weak<ShardedAdapter>,
}

impl ShardedAdapter {
    pub(crate) fn new(ctx: AdapterContext, node: Arc<ShardedNode>) -> Arc<Self> {
        let channel = format!("{}#{}#", node.config.channel_prefix, ctx.name());
        // Answers go to `<channel><uid>#`, room channels are `<channel><room>#`.
        let exchange = Exchange::new(
            node.clone(),
            ctx.name(),
            channel.clone(),
            channel.clone(),
            node.config.request_timeout,
        );
        let adapter = Arc::new_cyclic(|me| ShardedAdapter {
            local: MemoryAdapter::new(ctx),
            node: node.clone(),
            channel,
            exchange,
            me: me.clone(),
        });
        let weak = Arc::downgrade(&adapter);
        node.subscribe(adapter.channel.clone(), weak.clone());
        node.subscribe(adapter.exchange.answers_to(&node.uid), weak);
        adapter
    }

    /// This node's id on the wire.
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    fn nsp(&self) -> &str {
        self.local.context().name()
    }

    /// The channel of a room (dynamic modes): `<channel><room>#`, like answer channels.
    fn room_channel(&self, room: &str) -> String {
        self.exchange.answers_to(room)
    }

    /// Whether a room gets its own channel: every room but socket ids in dynamic mode,
    /// every room in dynamic-private mode.
    fn has_own_channel(&self, is_socket_id: bool) -> bool {
        match self.node.config.subscription_mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !is_socket_id,
            SubscriptionMode::DynamicPrivate => true,
        }
    }

    /// The channel of a broadcast without acks: its room's when it targets exactly one
    /// room that has one (a 20-character room passes for a socket id, as in Node.js).
    fn channel_for(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] if self.has_own_channel(room.chars().count() == 20) => self.room_channel(room),
            _ => self.channel.clone(),
        }
    }

    fn room_is_empty(&self, room: &Room) -> bool {
        self.local
            .sockets(&BroadcastOptions {
                rooms: vec![room.clone()],
                ..Default::default()
            })
            .is_empty()
    }

    // ---- what other nodes send ----

    /// A message from a shard channel (requests, answers, broadcasts).
    pub(crate) fn on_message(&self, message: Message) {
        if message.uid == self.node.uid || message.nsp != self.nsp() {
            return;
        }
        if self.exchange.on_request_or_answer(&self.local, &message) {
            return;
        }
        match message.kind {
            kind::BROADCAST => match message.broadcast_parts() {
                Ok((mut packet, opts)) => {
                    packet.nsp = self.nsp().to_string();
                    self.local.broadcast_local(&packet, &opts);
                }
                Err(e) => tracing::warn!("skipping broadcast: {e}"),
            },
            kind::SOCKETS_JOIN => self.join_local(&message.opts(), &message.room_list()),
            kind::SOCKETS_LEAVE => self.leave_local(&message.opts(), &message.room_list()),
            kind::DISCONNECT_SOCKETS => {
                let _ = self
                    .local
                    .disconnect_sockets(message.opts(), message.close());
            }
            other => tracing::debug!(kind = other, "skipping cluster message"),
        }
    }

    /// The local sockets matching `opts` join `rooms` (through [`Adapter::add_all`], so
    /// new rooms get their channel).
    fn join_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.local.local_sockets(opts) {
            self.add_all(socket.id(), rooms);
        }
    }

    fn leave_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in self.local.local_sockets(opts) {
            for room in rooms {
                self.del(socket.id(), room);
            }
        }
    }
}

impl Adapter for ShardedAdapter {
    /// Joins the rooms; a room new on this node that has its own channel (dynamic
    /// modes) is subscribed to.
    fn add_all(&self, id: &SocketId, rooms: &[Room]) {
        let new: Vec<Room> = rooms
            .iter()
            .filter(|r| self.has_own_channel(***r == *id.as_str()) && self.room_is_empty(r))
            .cloned()
            .collect();
        self.local.add_all(id, rooms);
        for room in new {
            self.node
                .subscribe(self.room_channel(&room), self.me.clone());
        }
    }
    fn del(&self, id: &SocketId, room: &str) {
        self.local.del(id, room);
        let room: Room = room.into();
        if self.has_own_channel(*room == *id.as_str()) && self.room_is_empty(&room) {
            self.node.unsubscribe(self.room_channel(&room));
        }
    }
    fn del_all(&self, id: &SocketId) {
        let rooms = self.local.socket_rooms(id);
        self.local.del_all(id);
        if self.has_own_channel(true) {
            self.node.unsubscribe(self.room_channel(id.as_str()));
        }
        for room in rooms {
            if self.has_own_channel(*room == *id.as_str()) && self.room_is_empty(&room) {
                self.node.unsubscribe(self.room_channel(&room));
            }
        }
    }
    /// In dynamic-private mode, the socket's own room gets its channel.
    fn socket_connected(&self, id: &SocketId) {
        if self.has_own_channel(true) {
            self.node
                .subscribe(self.room_channel(id.as_str()), self.me.clone());
        }
    }
    fn socket_rooms(&self, id: &SocketId) -> Vec<Room> {
        self.local.socket_rooms(id)
    }
    fn rooms(&self) -> Vec<Room> {
        self.local.rooms()
    }
    fn sockets(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        self.local.sockets(opts)
    }

    fn broadcast(&self, mut packet: Packet, opts: BroadcastOptions) -> Result<(), AdapterError> {
        packet.nsp = self.nsp().to_string();
        if !opts.flags.local {
            match Message::broadcast(self.uid(), &packet, &opts) {
                Some(message) => self.node.publish(self.channel_for(&opts), &message),
                None => tracing::warn!("packet kind not forwarded to other nodes"),
            }
        }
        self.local.broadcast_local(&packet, &opts);
        Ok(())
    }

    fn broadcast_with_ack(
        &self,
        mut packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Vec<Value>>, AckError>> {
        packet.nsp = self.nsp().to_string();
        match self.me.upgrade() {
            Some(me) => exchange::broadcast_with_ack(me, packet, opts, timeout),
            None => self.local.broadcast_with_ack(packet, opts, timeout),
        }
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocket>, AdapterError>> {
        match self.me.upgrade() {
            Some(me) => exchange::fetch_sockets(me, opts),
            None => self.local.fetch_sockets(opts),
        }
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let message = Message::rooms(self.uid(), self.nsp(), kind::SOCKETS_JOIN, &opts, &rooms);
            self.node.publish(self.channel.clone(), &message);
        }
        self.join_local(&opts, &rooms);
        Ok(())
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let message =
                Message::rooms(self.uid(), self.nsp(), kind::SOCKETS_LEAVE, &opts, &rooms);
            self.node.publish(self.channel.clone(), &message);
        }
        self.leave_local(&opts, &rooms);
        Ok(())
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let message = Message::disconnect(self.uid(), self.nsp(), &opts, close);
            self.node.publish(self.channel.clone(), &message);
        }
        self.local.disconnect_sockets(opts, close)
    }

    /// The subscribers of the namespace channel (PUBSUB SHARDNUMSUB), as Node.js counts.
    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let node = self.node.clone();
        let channel = self.channel.clone();
        Box::pin(async move { Ok(node.subscribers(&channel).await?.max(1)) })
    }

    fn server_side_emit(&self, event: &str, args: Vec<Value>) -> Result<(), AdapterError> {
        self.exchange.server_side_emit(event, &args);
        Ok(())
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Value>, ServerSideEmitError>> {
        let Some(me) = self.me.upgrade() else {
            return Box::pin(async { Ok(Vec::new()) });
        };
        let event = event.to_string();
        Box::pin(async move {
            let expected = me.server_count().await?.saturating_sub(1);
            me.exchange
                .server_side_emit_with_ack(&event, &args, expected, timeout)
                .await
        })
    }
}

impl ExchangeAdapter for ShardedAdapter {
    fn local(&self) -> &MemoryAdapter {
        &self.local
    }

    fn exchange(&self) -> &Exchange {
        &self.exchange
    }
}
