//! `RedisAdapter`: a namespace's rooms across the nodes of the cluster.
//!
//! Every operation is applied to the local [`MemoryAdapter`] and forwarded to the
//! other nodes through Redis (unless flagged `local`); what other nodes forward is
//! applied to the local adapter only (see `incoming`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use sockeye::adapter::{
    Adapter, AdapterContext, AdapterError, BoxFuture, BroadcastOptions, MemoryAdapter, Room,
    ServerSideEmitError, SocketId,
};
use sockeye::{AckError, EmitError, Packet, RemoteSocket, SocketDescription, Value};
use tokio::sync::mpsc;

use crate::channels::Channels;
use crate::node::{new_id, RedisNode};
use crate::wire::ack::AckBroadcast;
use crate::wire::broadcast::BroadcastMessage;
use crate::wire::request::{self, RequestType};
use crate::RedisAdapterError;

/// What another node answers to one of our requests.
#[derive(Debug)]
pub(crate) enum Answer {
    /// REMOTE_FETCH: that node's matching sockets.
    Sockets(Vec<SocketDescription>),
    /// BROADCAST_CLIENT_COUNT: how many of its clients a broadcast with acks reached.
    ClientCount(usize),
    /// BROADCAST_ACK: one client's acknowledgement.
    Ack(Vec<Value>),
    /// SERVER_SIDE_EMIT: that node's answer.
    ServerAck(Value),
}

/// Our requests waiting for answers, by request id.
pub(crate) type Pending = Mutex<HashMap<String, mpsc::UnboundedSender<Answer>>>;

/// The adapter of one namespace on one node. Created by
/// [`RedisAdapterFactory`](crate::RedisAdapterFactory).
pub struct RedisAdapter {
    pub(crate) local: MemoryAdapter,
    pub(crate) node: Arc<RedisNode>,
    channels: Channels,
    pub(crate) pending: Pending,
    /// Itself, to hand out to the remote sockets returned by `fetch_sockets`.
    me: Weak<RedisAdapter>,
}

impl RedisAdapter {
    pub(crate) fn new(ctx: AdapterContext, node: Arc<RedisNode>) -> Arc<Self> {
        let channels = Channels::new(&node.config.key, ctx.name(), &node.uid);
        let adapter = Arc::new_cyclic(|me| RedisAdapter {
            local: MemoryAdapter::new(ctx),
            node: node.clone(),
            channels,
            pending: Mutex::default(),
            me: me.clone(),
        });
        node.register(&adapter);
        adapter
    }

    pub(crate) fn channels(&self) -> &Channels {
        &self.channels
    }

    /// This node's id on the wire.
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    fn request_timeout(&self) -> Duration {
        self.node.config.request_timeout
    }

    /// Publishes a request to every node; false when Redis is away.
    fn publish_request(&self, body: Vec<u8>) -> bool {
        self.node.publish(self.channels.request.clone(), body)
    }

    /// A fresh request id whose answers arrive on the returned receiver until the
    /// guard is dropped.
    fn open_request(self: &Arc<Self>) -> (PendingGuard, mpsc::UnboundedReceiver<Answer>) {
        let request_id = new_id();
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending.lock().insert(request_id.clone(), tx);
        let guard = PendingGuard {
            adapter: self.clone(),
            request_id,
        };
        (guard, rx)
    }

    /// Sends REMOTE_FETCH and gathers one answer from each other node, failing with
    /// a timeout when some node does not answer in time (as Node.js does).
    async fn fetch_remote(
        self: Arc<Self>,
        opts: BroadcastOptions,
        expected: usize,
    ) -> Result<Vec<SocketDescription>, AdapterError> {
        let (request, mut answers) = self.open_request();
        let body = request::fetch_request(self.uid(), &request.request_id, &opts);
        if !self.publish_request(body.into_bytes()) {
            return Err(RedisAdapterError::Disconnected.into());
        }
        let timeout = self.request_timeout();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut sockets = Vec::new();
        let mut answered = 0;
        while answered < expected {
            tokio::select! {
                answer = answers.recv() => match answer {
                    Some(Answer::Sockets(list)) => {
                        answered += 1;
                        sockets.extend(list);
                    }
                    Some(_) => {}
                    None => break,
                },
                _ = &mut deadline => {
                    tracing::warn!(answered, expected, "fetch_sockets: not every node answered");
                    return Err(AdapterError::Timeout(timeout));
                }
            }
        }
        Ok(sockets)
    }

    /// A broadcast with acks across the cluster, as Node.js does it: the request goes
    /// to every node, each answers how many clients it reached and then each client's
    /// ack; we are done when every node counted (the server count taken before
    /// sending) and every counted client acked. At the timeout, what arrived is in
    /// [`AckError::Partial`] (a node that died mid-request never counts, so the
    /// broadcast ends there, not later).
    async fn broadcast_with_ack_cluster(
        self: Arc<Self>,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<Vec<Vec<Value>>, AckError> {
        let unavailable = |e: AdapterError| AckError::Emit(EmitError::Adapter(e.to_string()));
        // Asked before sending, which also fails fast while Redis is away (before any
        // client is sent a packet whose acks nobody would collect).
        let servers = self.server_count().await.map_err(unavailable)?;
        if servers <= 1 {
            return self.local.broadcast_with_ack(packet, opts, timeout).await;
        }
        let (request, mut answers) = self.open_request();
        let message = AckBroadcast {
            uid: self.node.uid.clone(),
            request_id: request.request_id.clone(),
            packet,
            opts,
            timeout: Some(timeout),
        };
        let Some(bytes) = message.encode() else {
            tracing::warn!("packet kind not forwarded to other nodes");
            return self
                .local
                .broadcast_with_ack(message.packet, message.opts, timeout)
                .await;
        };
        if !self.publish_request(bytes) {
            return Err(unavailable(RedisAdapterError::Disconnected.into()));
        }
        let mut local = self
            .local
            .broadcast_with_acks(message.packet, &message.opts);
        let remote_nodes = servers - 1;
        let mut counted = 0;
        let mut expected = local.client_count();
        let mut received = Vec::with_capacity(expected);
        let mut local_acks = 0;
        let mut local_open = true;
        let mut lost = 0;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        while counted < remote_nodes || received.len() + lost < expected {
            tokio::select! {
                ack = local.next(), if local_open => match ack {
                    Some(args) => {
                        local_acks += 1;
                        received.push(args);
                    }
                    // The remaining local recipients disconnected: their acks never come.
                    None => {
                        local_open = false;
                        lost = local.client_count().saturating_sub(local_acks);
                    }
                },
                answer = answers.recv() => match answer {
                    Some(Answer::ClientCount(n)) => {
                        counted += 1;
                        expected += n;
                    }
                    Some(Answer::Ack(args)) => received.push(args),
                    Some(_) | None => {}
                },
                _ = &mut deadline => {
                    tracing::debug!(counted, remote_nodes, expected, "broadcast with acks timed out");
                    return Err(AckError::Partial { timeout, expected, received });
                }
            }
        }
        if lost > 0 {
            return Err(AckError::Partial {
                timeout,
                expected,
                received,
            });
        }
        Ok(received)
    }

    /// SERVER_SIDE_EMIT with a request id: one answer per other node, or a timeout
    /// error with the answers that arrived (as Node.js).
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
        let (request, mut answers) = self.open_request();
        let body =
            request::server_side_emit_request(self.uid(), Some(&request.request_id), &event, &args);
        if !self.publish_request(body.into_bytes()) {
            return Err(AdapterError::from(RedisAdapterError::Disconnected).into());
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut responses = Vec::with_capacity(expected);
        while responses.len() < expected {
            tokio::select! {
                answer = answers.recv() => {
                    if let Some(Answer::ServerAck(value)) = answer {
                        responses.push(value);
                    }
                }
                _ = &mut deadline => {
                    return Err(ServerSideEmitError::Timeout { timeout, expected, responses });
                }
            }
        }
        Ok(responses)
    }
}

/// Forgets a pending request however its wait ends (answered, timed out, dropped).
struct PendingGuard {
    adapter: Arc<RedisAdapter>,
    request_id: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.adapter.pending.lock().remove(&self.request_id);
    }
}

impl Adapter for RedisAdapter {
    fn add_all(&self, id: &SocketId, rooms: &[Room]) {
        self.local.add_all(id, rooms)
    }
    fn del(&self, id: &SocketId, room: &str) {
        self.local.del(id, room)
    }
    fn del_all(&self, id: &SocketId) {
        self.local.del_all(id)
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
        packet.nsp = self.local.context().name().to_string();
        if !opts.flags.local {
            let message = BroadcastMessage {
                uid: self.node.uid.clone(),
                packet,
                opts,
            };
            match message.encode() {
                Some(bytes) => {
                    self.node
                        .publish(self.channels.broadcast_to(&message.opts), bytes);
                }
                None => tracing::warn!("packet kind not forwarded to other nodes"),
            }
            self.local.broadcast_local(&message.packet, &message.opts);
            return Ok(());
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
        packet.nsp = self.local.context().name().to_string();
        match self.me.upgrade() {
            Some(me) if !opts.flags.local => {
                Box::pin(me.broadcast_with_ack_cluster(packet, opts, timeout))
            }
            _ => self.local.broadcast_with_ack(packet, opts, timeout),
        }
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
            let body = request::rooms_request(self.uid(), RequestType::RemoteJoin, &opts, &rooms);
            self.publish_request(body.into_bytes());
        }
        self.local.add_sockets(opts, rooms)
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let body = request::rooms_request(self.uid(), RequestType::RemoteLeave, &opts, &rooms);
            self.publish_request(body.into_bytes());
        }
        self.local.del_sockets(opts, rooms)
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        if !opts.flags.local {
            self.publish_request(
                request::disconnect_request(self.uid(), &opts, close).into_bytes(),
            );
        }
        self.local.disconnect_sockets(opts, close)
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let node = self.node.clone();
        let channel = self.channels.request.clone();
        Box::pin(async move {
            // At least this node, even before its own subscription has completed.
            Ok(node.subscribers(&channel).await?.max(1))
        })
    }

    fn server_side_emit(&self, event: &str, args: Vec<Value>) -> Result<(), AdapterError> {
        self.node.ensure_connected()?;
        let body = request::server_side_emit_request(self.uid(), None, event, &args);
        if !self.publish_request(body.into_bytes()) {
            return Err(RedisAdapterError::Disconnected.into());
        }
        Ok(())
    }

    fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Value>, ServerSideEmitError>> {
        let timeout = timeout.unwrap_or(self.request_timeout());
        match self.me.upgrade() {
            Some(me) => Box::pin(me.server_side_emit_cluster(event.to_string(), args, timeout)),
            None => Box::pin(async { Ok(Vec::new()) }),
        }
    }
}
