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
    SocketId,
};
use sockeye::{AckError, EmitError, Packet, RemoteSocket, SocketDescription, Value};
use tokio::sync::mpsc;

use crate::channels::Channels;
use crate::node::{new_id, RedisNode};
use crate::wire::broadcast::BroadcastMessage;
use crate::wire::request::{self, RequestType};
use crate::RedisAdapterError;

/// Answers to a request of ours, by request id: each answer is one node's sockets.
pub(crate) type Pending = Mutex<HashMap<String, mpsc::UnboundedSender<Vec<SocketDescription>>>>;

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

    fn publish_request(&self, body: String) {
        self.node
            .publish(self.channels.request.clone(), body.into_bytes());
    }

    /// Sends REMOTE_FETCH and gathers one answer from each other node, failing with
    /// a timeout when some node does not answer in time (as Node.js does).
    async fn fetch_remote(
        self: Arc<Self>,
        opts: BroadcastOptions,
        expected: usize,
    ) -> Result<Vec<SocketDescription>, AdapterError> {
        let request_id = new_id();
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.pending.lock().insert(request_id.clone(), tx);
        let _cleanup = PendingGuard {
            adapter: &self,
            request_id: &request_id,
        };
        self.publish_request(request::fetch_request(self.uid(), &request_id, &opts));
        let timeout = self.request_timeout();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut sockets = Vec::new();
        let mut answered = 0;
        while answered < expected {
            tokio::select! {
                answer = rx.recv() => match answer {
                    Some(list) => {
                        answered += 1;
                        sockets.extend(list);
                    }
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
}

/// Forgets a pending request however its wait ends (answered, timed out, dropped).
struct PendingGuard<'a> {
    adapter: &'a RedisAdapter,
    request_id: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.adapter.pending.lock().remove(self.request_id);
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
                Some(bytes) => self
                    .node
                    .publish(self.channels.broadcast_to(&message.opts), bytes),
                None => tracing::warn!("packet kind not forwarded to other nodes"),
            }
            self.local.broadcast_local(&message.packet, &message.opts);
            return Ok(());
        }
        self.local.broadcast_local(&packet, &opts);
        Ok(())
    }

    /// Only within this node for now: across nodes it needs the BROADCAST /
    /// BROADCAST_CLIENT_COUNT / BROADCAST_ACK exchange, not written yet, so with other
    /// nodes present (and no `local` flag) it fails rather than silently miss their clients.
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Vec<Value>>, AckError>> {
        let Some(me) = self.me.upgrade() else {
            return self.local.broadcast_with_ack(packet, opts, timeout);
        };
        if opts.flags.local {
            return self.local.broadcast_with_ack(packet, opts, timeout);
        }
        Box::pin(async move {
            // Asked before sending, so that no client is sent a packet whose acks
            // nobody would collect.
            let nodes = me.server_count().await.unwrap_or(1);
            if nodes > 1 {
                let err = RedisAdapterError::NotSupported("broadcast with acks across nodes");
                return Err(AckError::Emit(EmitError::Adapter(err.to_string())));
            }
            me.local.broadcast_with_ack(packet, opts, timeout).await
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
            let body = request::rooms_request(self.uid(), RequestType::RemoteJoin, &opts, &rooms);
            self.publish_request(body);
        }
        self.local.add_sockets(opts, rooms)
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let body = request::rooms_request(self.uid(), RequestType::RemoteLeave, &opts, &rooms);
            self.publish_request(body);
        }
        self.local.del_sockets(opts, rooms)
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        if !opts.flags.local {
            self.publish_request(request::disconnect_request(self.uid(), &opts, close));
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
}
