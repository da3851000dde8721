//! `StreamsAdapter`: a namespace's rooms across the nodes, through one Redis stream.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sockeye::adapter::{
    Adapter, AdapterContext, AdapterError, BoxFuture, BroadcastOptions, MemoryAdapter, Room,
    ServerSideEmitError, SocketId,
};
use sockeye::recovery::{is_recordable, RestoredSession, SessionState};
use sockeye::{AckError, Packet, PacketData, RemoteSocket, Value};

use super::node::{entries, StreamsNode};
use super::session;
use crate::cluster::exchange::{self, Exchange, ExchangeAdapter};
use crate::cluster::message::{kind, Message, StreamId};
use crate::RedisAdapterError;

/// Entries read per XRANGE call while collecting missed packets.
const RANGE_PAGE: usize = 1000;

/// The adapter of one namespace on one node. Created by
/// [`StreamsAdapterFactory`](super::StreamsAdapterFactory).
pub struct StreamsAdapter {
    pub(super) local: MemoryAdapter,
    pub(super) node: Arc<StreamsNode>,
    /// Requests on `<prefix>#<nsp>#`, answers to node `uid` on `<prefix>#<nsp>#<uid>#`.
    pub(super) exchange: Exchange,
    me: Weak<StreamsAdapter>,
}

impl StreamsAdapter {
    pub(crate) fn new(ctx: AdapterContext, node: Arc<StreamsNode>) -> Arc<Self> {
        let nsp = ctx.name().to_string();
        let channel = format!("{}#{nsp}#", node.config.channel_prefix);
        let exchange = Exchange::new(
            node.clone(),
            &nsp,
            channel.clone(),
            channel,
            node.config.request_timeout,
        );
        let channels = [
            exchange.channel().to_string(),
            exchange.answers_to(&node.uid),
        ];
        let adapter = Arc::new_cyclic(|me| StreamsAdapter {
            local: MemoryAdapter::new(ctx),
            node: node.clone(),
            exchange,
            me: me.clone(),
        });
        node.register(&nsp, channels, &adapter);
        adapter
    }

    /// This node's id on the wire.
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    pub(super) fn nsp(&self) -> &str {
        self.local.context().name()
    }

    fn recovery_on(&self) -> bool {
        self.local.context().recovery().is_some()
    }

    pub(super) fn is_kept(&self, packet: &Packet, opts: &BroadcastOptions) -> bool {
        self.recovery_on() && is_recordable(packet, opts)
    }

    /// The kept broadcasts after `after` (up to the node's cursor) that a socket in
    /// `rooms` was sent, each with its offset; `None` when there are too many.
    async fn missed_since(
        node: Arc<StreamsNode>,
        nsp: String,
        after: StreamId,
        rooms: Vec<Room>,
    ) -> Result<Option<Vec<Packet>>, RedisAdapterError> {
        let upto = node.cursor();
        let mut missed = Vec::new();
        let mut start = after;
        let mut conn = node.commands.clone();
        while start < upto {
            let reply: redis::Value = redis::cmd("XRANGE")
                .arg(&node.config.stream_name)
                .arg(format!("({start}"))
                .arg(upto.to_string())
                .arg("COUNT")
                .arg(RANGE_PAGE)
                .query_async(&mut conn)
                .await?;
            let page = entries(&reply);
            let Some(last) = page.last().map(|e| e.id) else {
                break;
            };
            for entry in page {
                let Ok(message) = Message::from_stream_fields(&entry.fields) else {
                    continue;
                };
                if message.nsp != nsp
                    || message.kind != kind::BROADCAST
                    || message.request_id().is_some()
                {
                    continue;
                }
                let Ok((mut packet, opts)) = message.broadcast_parts() else {
                    continue;
                };
                if !is_recordable(&packet, &opts) || !session::was_recipient(&rooms, &opts) {
                    continue;
                }
                if missed.len() >= node.config.max_missed_packets {
                    tracing::warn!("too many missed packets to recover a session");
                    return Ok(None);
                }
                packet.nsp = nsp.clone();
                push_offset(&mut packet, &entry.id.to_string());
                missed.push(packet);
            }
            start = last;
        }
        Ok(Some(missed))
    }
}

pub(super) fn push_offset(packet: &mut Packet, offset: &str) {
    if let PacketData::Event { args, .. } = &mut packet.data {
        args.push(Value::String(offset.to_string()));
    }
}

impl Adapter for StreamsAdapter {
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

    /// Appends the broadcast to the stream. A packet kept for recovery is delivered
    /// here when read back with its offset (like on every other node); any other is
    /// delivered at once.
    fn broadcast(&self, mut packet: Packet, opts: BroadcastOptions) -> Result<(), AdapterError> {
        packet.nsp = self.nsp().to_string();
        if opts.flags.local {
            self.local.broadcast_local(&packet, &opts);
            return Ok(());
        }
        let Some(message) = Message::broadcast(self.uid(), &packet, &opts) else {
            tracing::warn!("packet kind not forwarded to other nodes");
            self.local.broadcast_local(&packet, &opts);
            return Ok(());
        };
        if self.is_kept(&packet, &opts) {
            let me = self.me.clone();
            self.node.append(
                &message,
                Some(Box::new(move || {
                    if let Some(me) = me.upgrade() {
                        me.local.broadcast_local(&packet, &opts);
                    }
                })),
            );
        } else {
            self.local.broadcast_local(&packet, &opts);
            self.node.append(&message, None);
        }
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
            self.node.append(&message, None);
        }
        self.local.add_sockets(opts, rooms)
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let message =
                Message::rooms(self.uid(), self.nsp(), kind::SOCKETS_LEAVE, &opts, &rooms);
            self.node.append(&message, None);
        }
        self.local.del_sockets(opts, rooms)
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let message = Message::disconnect(self.uid(), self.nsp(), &opts, close);
            self.node.append(&message, None);
        }
        self.local.disconnect_sockets(opts, close)
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        let node = self.node.clone();
        let channel = self.exchange.channel().to_string();
        Box::pin(async move {
            // At least this node, even before its own subscription has completed.
            Ok(node.subscribers(&channel).await?.max(1))
        })
    }

    /// SERVER_SIDE_EMIT on the namespace's pub/sub channel, as Node.js sends it.
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

    /// Stores the session under `<sessionKeyPrefix><pid>` for the recovery window, where
    /// any node (Sockeye or Node.js) can take it back.
    fn persist_session(&self, session: SessionState) {
        let Some(window) = self
            .local
            .context()
            .recovery()
            .map(|r| r.max_disconnection_duration)
        else {
            return;
        };
        let value = match session::encode(&session) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("session not kept: {e}");
                return;
            }
        };
        let key = format!("{}{}", self.node.config.session_key_prefix, session.pid);
        let ttl = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.node.commands.clone();
        self.node.spawn(async move {
            let result: Result<(), _> = redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .query_async(&mut conn)
                .await;
            if let Err(e) = result {
                tracing::warn!("cannot keep a session in redis: {e}");
            }
        });
    }

    /// Waits until this node has read the stream up to the client's offset (packets up
    /// to it were sent to the client already, so none may be sent again), then takes the
    /// session out of Redis (GETDEL, so only one node restores it) while checking that
    /// the offset is still in the stream, and reads the missed packets back. A session
    /// is left in Redis when the offset is unknown or this node's reader lags.
    fn restore_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<'static, Result<Option<RestoredSession>, AdapterError>> {
        let node = self.node.clone();
        let nsp = self.nsp().to_string();
        let key = format!("{}{pid}", node.config.session_key_prefix);
        let offset = StreamId::parse(offset);
        Box::pin(async move {
            let Some(offset) = offset else {
                return Ok(None);
            };
            let mut conn = node.commands.clone();
            let known: redis::Value = redis::cmd("XRANGE")
                .arg(&node.config.stream_name)
                .arg(offset.to_string())
                .arg(offset.to_string())
                .query_async(&mut conn)
                .await
                .map_err(RedisAdapterError::from)?;
            if entries(&known).is_empty() {
                tracing::debug!(%offset, "offset not in the stream; session not recovered");
                return Ok(None);
            }
            if !node.reached(offset, node.config.request_timeout).await {
                tracing::warn!(%offset, "the stream reader lags; session not recovered");
                return Ok(None);
            }
            let (raw, found): (Option<Vec<u8>>, redis::Value) = redis::pipe()
                .atomic()
                .cmd("GETDEL")
                .arg(&key)
                .cmd("XRANGE")
                .arg(&node.config.stream_name)
                .arg(offset.to_string())
                .arg(offset.to_string())
                .query_async(&mut conn)
                .await
                .map_err(RedisAdapterError::from)?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            if entries(&found).is_empty() {
                tracing::debug!(%offset, "offset no longer in the stream; session not recovered");
                return Ok(None);
            }
            let state = session::decode(&raw)?;
            let missed =
                StreamsAdapter::missed_since(node, nsp, offset, state.rooms.clone()).await?;
            Ok(missed.map(|missed| RestoredSession { state, missed }))
        })
    }

    fn packets_since(
        &self,
        offset: &str,
        rooms: &[Room],
    ) -> BoxFuture<'static, Result<Option<Vec<Packet>>, AdapterError>> {
        let node = self.node.clone();
        let nsp = self.nsp().to_string();
        let rooms = rooms.to_vec();
        let offset = StreamId::parse(offset);
        Box::pin(async move {
            let Some(offset) = offset else {
                return Ok(None);
            };
            Ok(StreamsAdapter::missed_since(node, nsp, offset, rooms).await?)
        })
    }
}

impl ExchangeAdapter for StreamsAdapter {
    fn local(&self) -> &MemoryAdapter {
        &self.local
    }

    fn exchange(&self) -> &Exchange {
        &self.exchange
    }
}
