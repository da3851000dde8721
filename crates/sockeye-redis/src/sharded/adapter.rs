//! `ShardedAdapter`: a namespace's rooms across the nodes, through shard channels.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use sockeye::adapter::{
    collect_acks, Adapter, AdapterContext, AdapterError, BoxFuture, BroadcastOptions,
    MemoryAdapter, Room, ServerAck, ServerEvent, ServerSideEmitError, SocketId,
};
use sockeye::{AckError, EmitError, Packet, RemoteSocket, SocketDescription, Value};
use tokio::sync::mpsc;

use super::config::SubscriptionMode;
use super::node::ShardedNode;
use crate::streams::message::{kind, Message};
use crate::streams::new_id;

/// What other nodes answer to one of our requests.
enum Answer {
    Sockets(Vec<SocketDescription>),
    /// How many of its clients a node sent a broadcast with acknowledgements to.
    ClientCount(usize),
    /// One client's acknowledgement (its first argument).
    Ack(Value),
    /// A node's answer to a server-side emit.
    ServerAck(Value),
}

type Pending = Mutex<HashMap<String, mpsc::UnboundedSender<Answer>>>;

/// The adapter of one namespace on one node. Created by
/// [`ShardedAdapterFactory`](super::ShardedAdapterFactory).
pub struct ShardedAdapter {
    local: MemoryAdapter,
    node: Arc<ShardedNode>,
    /// `<prefix>#<nsp>#`: every node listens; room channels and answer channels add a
    /// suffix and `#`.
    channel: String,
    pending: Pending,
    me: Weak<ShardedAdapter>,
}

impl ShardedAdapter {
    pub(crate) fn new(ctx: AdapterContext, node: Arc<ShardedNode>) -> Arc<Self> {
        let channel = format!("{}#{}#", node.config.channel_prefix, ctx.name());
        let adapter = Arc::new_cyclic(|me| ShardedAdapter {
            local: MemoryAdapter::new(ctx),
            node: node.clone(),
            channel,
            pending: Mutex::default(),
            me: me.clone(),
        });
        let weak = Arc::downgrade(&adapter);
        node.subscribe(adapter.channel.clone(), weak.clone());
        node.subscribe(adapter.answers_to(&node.uid), weak);
        adapter
    }

    /// This node's id on the wire.
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    fn nsp(&self) -> &str {
        self.local.context().name()
    }

    /// The channel of a room (dynamic modes) or of the answers to node `uid`.
    fn answers_to(&self, uid: &str) -> String {
        format!("{}{uid}#", self.channel)
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
            [room] if self.has_own_channel(room.chars().count() == 20) => self.answers_to(room),
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

    /// Sends a request and returns the receiver of its answers, forgotten when dropped.
    fn open(&self) -> (String, mpsc::UnboundedReceiver<Answer>, PendingGuard) {
        let request_id = new_id();
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending.lock().insert(request_id.clone(), tx);
        let guard = PendingGuard {
            adapter: self.me.clone(),
            request_id: request_id.clone(),
        };
        (request_id, rx, guard)
    }

    async fn fetch_remote(
        self: Arc<Self>,
        opts: BroadcastOptions,
        expected: usize,
    ) -> Result<Vec<SocketDescription>, AdapterError> {
        let (request_id, mut rx, _guard) = self.open();
        let request = Message::fetch(self.uid(), self.nsp(), &opts, &request_id);
        self.node.publish(self.channel.clone(), &request);
        let timeout = self.node.config.request_timeout;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let (mut sockets, mut answered) = (Vec::new(), 0);
        while answered < expected {
            tokio::select! {
                Some(answer) = rx.recv() => if let Answer::Sockets(list) = answer {
                    answered += 1;
                    sockets.extend(list);
                },
                _ = &mut deadline => {
                    tracing::warn!(answered, expected, "fetch_sockets: not every node answered");
                    return Err(AdapterError::Timeout(timeout));
                }
            }
        }
        Ok(sockets)
    }

    async fn server_side_emit_cluster(
        self: Arc<Self>,
        event: String,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Result<Vec<Value>, ServerSideEmitError> {
        let expected = self.server_count().await?.saturating_sub(1);
        if expected == 0 {
            return Ok(Vec::new());
        }
        let (request_id, mut rx, _guard) = self.open();
        let request =
            Message::server_side_emit(self.uid(), self.nsp(), Some(&request_id), &event, &args);
        self.node.publish(self.channel.clone(), &request);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut responses = Vec::with_capacity(expected);
        while responses.len() < expected {
            tokio::select! {
                Some(answer) = rx.recv() => if let Answer::ServerAck(value) = answer {
                    responses.push(value);
                },
                _ = &mut deadline => {
                    return Err(ServerSideEmitError::Timeout { timeout, expected, responses });
                }
            }
        }
        Ok(responses)
    }

    /// A broadcast with acknowledgements to every node: the local sockets answer
    /// directly, each other node reports its client count and then their acks.
    async fn broadcast_with_ack_cluster(
        self: Arc<Self>,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
        other_nodes: usize,
    ) -> Result<Vec<Vec<Value>>, AckError> {
        let (request_id, mut rx, _guard) = self.open();
        match Message::broadcast_with_ack(self.uid(), &packet, &opts, &request_id, timeout) {
            // Never on a room channel: the server count covers every node.
            Some(message) => self.node.publish(self.channel.clone(), &message),
            None => tracing::warn!("packet kind not forwarded to other nodes"),
        }
        let (reached, id, local_rx) = self.local.broadcast_with_ack_local(packet, &opts);
        let local_expected = reached.len();
        let local = collect_acks(reached, id, local_rx, timeout);
        tokio::pin!(local);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut local_done = None;
        let (mut counts, mut remote_expected, mut remote) = (0, 0, Vec::new());
        loop {
            if local_done.is_some() && counts >= other_nodes && remote.len() >= remote_expected {
                break;
            }
            tokio::select! {
                result = &mut local, if local_done.is_none() => local_done = Some(result),
                Some(answer) = rx.recv() => match answer {
                    Answer::ClientCount(n) => {
                        counts += 1;
                        remote_expected += n;
                    }
                    Answer::Ack(value) => remote.push(vec![value]),
                    _ => {}
                },
                _ = &mut deadline => break,
            }
        }
        let local_result = match local_done {
            Some(result) => result,
            None => local.await,
        };
        let complete = counts >= other_nodes && remote.len() >= remote_expected;
        let mut received = match local_result {
            Ok(acks) => acks,
            Err(AckError::Partial { received, .. }) => received,
            Err(e) => return Err(e),
        };
        let local_complete = received.len() >= local_expected;
        received.extend(remote);
        if complete && local_complete {
            Ok(received)
        } else {
            Err(AckError::Partial {
                timeout,
                expected: local_expected + remote_expected,
                received,
            })
        }
    }

    // ---- what other nodes send ----

    /// A message from a shard channel (requests, answers, broadcasts).
    pub(crate) fn on_message(&self, message: Message) {
        if message.uid == self.node.uid || message.nsp != self.nsp() {
            return;
        }
        match message.kind {
            kind::BROADCAST if message.request_id().is_some() => self.answer_broadcast(&message),
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
            kind::FETCH_SOCKETS => self.answer_fetch(&message),
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(&message),
            kind::FETCH_SOCKETS_RESPONSE => {
                self.deliver(&message, Answer::Sockets(message.sockets()))
            }
            kind::BROADCAST_CLIENT_COUNT => {
                let count = message.client_count_value().unwrap_or(0);
                self.deliver(&message, Answer::ClientCount(count));
            }
            kind::BROADCAST_ACK => self.deliver(&message, Answer::Ack(message.ack_value())),
            kind::SERVER_SIDE_EMIT_RESPONSE => {
                self.deliver(&message, Answer::ServerAck(message.ack_value()))
            }
            other => tracing::debug!(kind = other, "skipping cluster message"),
        }
    }

    fn deliver(&self, message: &Message, answer: Answer) {
        let Some(request_id) = message.request_id() else {
            return;
        };
        let waiter = self.pending.lock().get(&request_id).cloned();
        if let Some(waiter) = waiter {
            let _ = waiter.send(answer);
        }
    }

    fn answer_broadcast(&self, message: &Message) {
        let Some(request_id) = message.request_id() else {
            return;
        };
        let (mut packet, opts) = match message.broadcast_parts() {
            Ok(parts) => parts,
            Err(e) => {
                tracing::warn!("skipping broadcast with acks: {e}");
                return;
            }
        };
        packet.nsp = self.nsp().to_string();
        let timeout = message
            .flag_timeout()
            .unwrap_or(self.node.config.request_timeout);
        let (reached, id, rx) = self.local.broadcast_with_ack_local(packet, &opts);
        let channel = self.answers_to(&message.uid);
        let nsp = self.nsp().to_string();
        let count = Message::client_count(self.uid(), &nsp, &request_id, reached.len());
        self.node.publish(channel.clone(), &count);
        let node = self.node.clone();
        self.node.spawn(async move {
            let acks = match collect_acks(reached, id, rx, timeout).await {
                Ok(acks) => acks,
                Err(AckError::Partial { received, .. }) => received,
                Err(_) => Vec::new(),
            };
            for args in acks {
                let first = args.into_iter().next().unwrap_or_default();
                let ack = Message::broadcast_ack(&node.uid, &nsp, &request_id, &first);
                node.publish(channel.clone(), &ack);
            }
        });
    }

    fn answer_fetch(&self, message: &Message) {
        let Some(request_id) = message.request_id() else {
            tracing::warn!("skipping fetch request without id");
            return;
        };
        let mut opts = message.opts();
        opts.flags.local = true;
        let sockets = self.local.fetch_sockets(opts);
        let channel = self.answers_to(&message.uid);
        let node = self.node.clone();
        let nsp = self.nsp().to_string();
        self.node.spawn(async move {
            let Ok(sockets) = sockets.await else { return };
            let descriptions: Vec<_> = sockets.into_iter().map(|s| s.description).collect();
            let answer = Message::fetch_response(&node.uid, &nsp, &request_id, &descriptions);
            node.publish(channel, &answer);
        });
    }

    fn on_server_side_emit(&self, message: &Message) {
        let Some((name, args)) = message.server_event() else {
            tracing::warn!("skipping serverSideEmit without an event name");
            return;
        };
        let ack = message.request_id().map(|request_id| {
            let node = self.node.clone();
            let nsp = self.nsp().to_string();
            let channel = self.answers_to(&message.uid);
            Box::new(move |value: Value| {
                let answer =
                    Message::server_side_emit_response(&node.uid, &nsp, &request_id, &value);
                node.publish(channel, &answer);
            }) as ServerAck
        });
        if !self
            .local
            .context()
            .dispatch_server_event(ServerEvent::new(name, args, ack))
        {
            tracing::debug!("no handler for a server-side event; ignored");
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

/// Forgets a pending request however its wait ends (answered, timed out, dropped).
struct PendingGuard {
    adapter: Weak<ShardedAdapter>,
    request_id: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if let Some(adapter) = self.adapter.upgrade() {
            adapter.pending.lock().remove(&self.request_id);
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
            self.node.subscribe(self.answers_to(&room), self.me.clone());
        }
    }
    fn del(&self, id: &SocketId, room: &str) {
        self.local.del(id, room);
        let room: Room = room.into();
        if self.has_own_channel(*room == *id.as_str()) && self.room_is_empty(&room) {
            self.node.unsubscribe(self.answers_to(&room));
        }
    }
    fn del_all(&self, id: &SocketId) {
        let rooms = self.local.socket_rooms(id);
        self.local.del_all(id);
        if self.has_own_channel(true) {
            self.node.unsubscribe(self.answers_to(id.as_str()));
        }
        for room in rooms {
            if self.has_own_channel(*room == *id.as_str()) && self.room_is_empty(&room) {
                self.node.unsubscribe(self.answers_to(&room));
            }
        }
    }
    /// In dynamic-private mode, the socket's own room gets its channel.
    fn socket_connected(&self, id: &SocketId) {
        if self.has_own_channel(true) {
            self.node
                .subscribe(self.answers_to(id.as_str()), self.me.clone());
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

    /// Resolves with every acknowledgement (remote ones carry the client's first
    /// argument only, as in Node.js), or [`AckError::Partial`] at the timeout.
    fn broadcast_with_ack(
        &self,
        mut packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Vec<Value>>, AckError>> {
        packet.nsp = self.nsp().to_string();
        let me = match self.me.upgrade() {
            Some(me) if !opts.flags.local => me,
            _ => return self.local.broadcast_with_ack(packet, opts, timeout),
        };
        Box::pin(async move {
            let nodes = match me.server_count().await {
                Ok(n) => n,
                Err(e) => return Err(AckError::Emit(EmitError::Adapter(e.to_string()))),
            };
            if nodes <= 1 {
                return me.local.broadcast_with_ack(packet, opts, timeout).await;
            }
            me.broadcast_with_ack_cluster(packet, opts, timeout, nodes - 1)
                .await
        })
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocket>, AdapterError>> {
        let local = self.local.fetch_sockets(opts.clone());
        let me = self.me.upgrade();
        Box::pin(async move {
            let mut sockets = local.await?;
            let Some(me) = me.filter(|_| !opts.flags.local) else {
                return Ok(sockets);
            };
            let nodes = me.server_count().await?;
            if nodes <= 1 {
                return Ok(sockets);
            }
            let remote = me.clone().fetch_remote(opts, nodes - 1).await?;
            let adapter: Arc<dyn Adapter> = me;
            sockets.extend(
                remote
                    .into_iter()
                    .map(|d| RemoteSocket::new(d, adapter.clone())),
            );
            Ok(sockets)
        })
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
        let message = Message::server_side_emit(self.uid(), self.nsp(), None, event, &args);
        self.node.publish(self.channel.clone(), &message);
        Ok(())
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Value>, ServerSideEmitError>> {
        let timeout = timeout.unwrap_or(self.node.config.request_timeout);
        match self.me.upgrade() {
            Some(me) => Box::pin(me.server_side_emit_cluster(event.to_string(), args, timeout)),
            None => Box::pin(async { Ok(Vec::new()) }),
        }
    }
}
