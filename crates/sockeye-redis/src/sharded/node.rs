//! What the namespaces of one node share: its uid, a connection for SPUBLISH and
//! PUBSUB SHARDNUMSUB, and a RESP3 connection holding the shard-channel subscriptions
//! (SSUBSCRIBE), which reconnects and subscribes again when it breaks.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, Value as RedisValue};
use tokio::sync::mpsc;

use super::adapter::ShardedAdapter;
use super::ShardedAdapterConfig;
use crate::cluster::exchange::Transport;
use crate::cluster::message::Message;
use crate::RedisAdapterError;

/// Messages waiting to be published; beyond, they are dropped with an error log.
const OUTBOX_CAPACITY: usize = 16_384;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(crate) struct ShardedNode {
    pub(crate) uid: String,
    pub(crate) config: ShardedAdapterConfig,
    commands: ConnectionManager,
    /// SPUBLISHes in order, by one task.
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    /// Subscribed shard channel → the adapter handling it.
    channels: RwLock<HashMap<String, Weak<ShardedAdapter>>>,
    /// The subscriber connection while it is up.
    subscriber: Mutex<Option<MultiplexedConnection>>,
    runtime: tokio::runtime::Handle,
}

impl ShardedNode {
    pub(crate) async fn connect(
        client: redis::Client,
        config: ShardedAdapterConfig,
    ) -> Result<Arc<Self>, RedisAdapterError> {
        let commands =
            ConnectionManager::new_with_config(client.clone(), ConnectionManagerConfig::new())
                .await?;
        // Shard channels need RESP3 push messages on a multiplexed connection.
        let info = client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let sub_client = redis::Client::open(info.set_redis_settings(settings))?;
        let (pushes_tx, pushes) = mpsc::unbounded_channel();
        let first = subscriber(&sub_client, pushes_tx.clone()).await?;
        let (outbox, queue) = mpsc::channel(OUTBOX_CAPACITY);
        let runtime = tokio::runtime::Handle::current();
        let node = Arc::new(ShardedNode {
            uid: crate::cluster::new_id(),
            config,
            commands: commands.clone(),
            outbox,
            channels: RwLock::default(),
            subscriber: Mutex::new(Some(first)),
            runtime: runtime.clone(),
        });
        runtime.spawn(write_loop(commands, queue));
        runtime.spawn(subscribe_loop(
            Arc::downgrade(&node),
            sub_client,
            pushes_tx,
            pushes,
        ));
        Ok(node)
    }

    /// SPUBLISHes a message on a shard channel. While the subscriber connection is
    /// down (Redis away) the message is dropped rather than queued: it would reach the
    /// other nodes late, or, published before they subscribe again, not at all.
    pub(crate) fn publish(&self, channel: String, message: &Message) {
        if self.subscriber.lock().is_none() {
            tracing::debug!(channel, "redis is away; a cluster message is not sent");
            return;
        }
        let payload = match message.to_sharded() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("message not sent to other nodes: {e}");
                return;
            }
        };
        if self.outbox.try_send((channel, payload)).is_err() {
            tracing::error!("redis writes are backed up; a cluster message is dropped");
        }
    }

    /// How many connections listen on a shard channel (one per node: PUBSUB SHARDNUMSUB).
    pub(crate) async fn subscribers(&self, channel: &str) -> Result<usize, RedisAdapterError> {
        let mut conn = self.commands.clone();
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }

    /// Routes a shard channel to `adapter` and subscribes to it.
    pub(crate) fn subscribe(&self, channel: String, adapter: Weak<ShardedAdapter>) {
        self.channels.write().insert(channel.clone(), adapter);
        self.send_subscription("SSUBSCRIBE", channel);
    }

    /// Stops listening on a shard channel.
    pub(crate) fn unsubscribe(&self, channel: String) {
        if self.channels.write().remove(&channel).is_some() {
            self.send_subscription("SUNSUBSCRIBE", channel);
        }
    }

    fn send_subscription(&self, command: &'static str, channel: String) {
        let Some(conn) = self.subscriber.lock().clone() else {
            // Sent again on reconnection.
            return;
        };
        self.runtime.spawn(async move {
            if let Err(e) = send_subscribe(conn, command, std::slice::from_ref(&channel)).await {
                tracing::warn!(channel, "{command} failed: {e}");
            }
        });
    }

    fn on_push(&self, push: PushInfo) {
        if push.kind != PushKind::SMessage {
            return;
        }
        let (Some(channel), Some(payload)) = (
            push.data.first().and_then(bytes),
            push.data.get(1).and_then(bytes),
        ) else {
            tracing::warn!("skipping a malformed shard message");
            return;
        };
        let channel = String::from_utf8_lossy(&channel).into_owned();
        let adapter = self.channels.read().get(&channel).and_then(Weak::upgrade);
        let Some(adapter) = adapter else { return };
        match Message::from_sharded(&payload) {
            Ok(message) => adapter.on_message(message),
            Err(e) => tracing::warn!(channel, "skipping a malformed cluster message: {e}"),
        }
    }
}

impl Transport for ShardedNode {
    fn uid(&self) -> &str {
        &self.uid
    }
    fn publish(&self, channel: String, message: &Message) {
        ShardedNode::publish(self, channel, message)
    }
    fn spawn(&self, task: sockeye::adapter::BoxFuture<'static, ()>) {
        self.runtime.spawn(task);
    }
}

async fn subscriber(
    client: &redis::Client,
    pushes: mpsc::UnboundedSender<PushInfo>,
) -> Result<MultiplexedConnection, RedisAdapterError> {
    let config = AsyncConnectionConfig::new().set_push_sender(pushes);
    Ok(client
        .get_multiplexed_async_connection_with_config(&config)
        .await?)
}

/// Sends SSUBSCRIBE / SUNSUBSCRIBE; the confirmations arrive as push messages.
async fn send_subscribe(
    mut conn: MultiplexedConnection,
    command: &str,
    channels: &[String],
) -> Result<(), RedisAdapterError> {
    if channels.is_empty() {
        return Ok(());
    }
    let mut cmd = redis::cmd(command);
    cmd.arg(channels);
    cmd.set_no_response(true);
    conn.send_packed_command(&cmd).await?;
    Ok(())
}

async fn write_loop(mut conn: ConnectionManager, mut queue: mpsc::Receiver<(String, Vec<u8>)>) {
    while let Some((channel, payload)) = queue.recv().await {
        let result: Result<RedisValue, _> = redis::cmd("SPUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(channel, "cannot publish to redis: {e}");
        }
    }
}

/// Hands shard messages to the adapters; when the subscriber connection breaks, opens
/// another (backing off up to 5 s) and subscribes again to every channel.
async fn subscribe_loop(
    node: Weak<ShardedNode>,
    client: redis::Client,
    pushes_tx: mpsc::UnboundedSender<PushInfo>,
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
) {
    while let Some(push) = pushes.recv().await {
        let Some(node) = node.upgrade() else { return };
        if push.kind != PushKind::Disconnection {
            node.on_push(push);
            continue;
        }
        tracing::warn!("redis shard subscriber lost; reconnecting");
        *node.subscriber.lock() = None;
        let mut backoff = MIN_BACKOFF;
        loop {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            let conn = match subscriber(&client, pushes_tx.clone()).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("cannot reconnect the shard subscriber: {e}");
                    continue;
                }
            };
            // Published first, so that a channel added meanwhile is subscribed to (at
            // worst twice, which Redis ignores) rather than missed.
            *node.subscriber.lock() = Some(conn.clone());
            let channels: Vec<String> = node.channels.read().keys().cloned().collect();
            match send_subscribe(conn, "SSUBSCRIBE", &channels).await {
                Ok(()) => break,
                Err(e) => {
                    *node.subscriber.lock() = None;
                    tracing::warn!("cannot subscribe again: {e}");
                }
            }
        }
    }
}

fn bytes(value: &RedisValue) -> Option<Vec<u8>> {
    match value {
        RedisValue::BulkString(b) => Some(b.clone()),
        RedisValue::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}
