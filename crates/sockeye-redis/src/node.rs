//! What one Sockeye node shares between its namespaces: its uid, one publishing
//! connection and one subscribing connection to Redis, and their state.
//!
//! One subscriber connection serves every namespace (each namespace adds its own
//! channels to it), so a node costs Redis two connections whatever the number of
//! namespaces. Because Redis delivers the messages of one connection in publish
//! order, a request and a broadcast published in that order by another node (a
//! remote join then a broadcast to that room) are also handled in that order here.
//!
//! When Redis goes away the subscriber notices at once (its stream ends): the node
//! turns [`Disconnected`](RedisConnectionState::Disconnected), stops queueing
//! messages for the cluster (they would be stale by the time Redis is back) and
//! reconnects with a doubling delay capped at `reconnect_max_delay`. Once the new
//! subscriber connection has subscribed again to every channel of every namespace and
//! the publishing connection answers, the node is `Connected` again.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::{Mutex, RwLock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use tokio::sync::{mpsc, watch};

use crate::adapter::RedisAdapter;
use crate::{RedisAdapterConfig, RedisAdapterError, RedisConnectionState};

/// Which handler a subscribed channel (or pattern) feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Broadcast,
    Request,
    Response,
}

/// Subscribed channels and patterns → the namespace adapter handling them. Weak, so
/// that a dropped namespace does not live on through the subscriber.
type Routes = RwLock<HashMap<String, (Route, Weak<RedisAdapter>)>>;

/// First wait before reconnecting; doubled after each failed attempt.
const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(100);

pub(crate) struct RedisNode {
    pub(crate) uid: String,
    pub(crate) config: RedisAdapterConfig,
    /// The publishing (and command) connection; replaced by a fresh one when the node
    /// reconnects, so that publishing resumes without waiting for the old one's backoff.
    commands: Mutex<ConnectionManager>,
    manager_config: ConnectionManagerConfig,
    outbox: mpsc::UnboundedSender<(String, Vec<u8>)>,
    /// The subscriber connection's sending half; `None` while reconnecting.
    sink: Arc<Mutex<Option<PubSubSink>>>,
    routes: Arc<Routes>,
    state: watch::Sender<RedisConnectionState>,
    runtime: tokio::runtime::Handle,
}

impl RedisNode {
    /// Opens both connections and starts the publishing and subscribing tasks. The
    /// tasks live as long as the process; the first connection must succeed.
    pub(crate) async fn connect(
        client: redis::Client,
        config: RedisAdapterConfig,
    ) -> Result<Arc<Self>, RedisAdapterError> {
        let timeout = config.request_timeout;
        let manager_config = ConnectionManagerConfig::new()
            .set_min_delay(FIRST_RECONNECT_DELAY)
            .set_max_delay(config.reconnect_max_delay)
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let commands = client
            .get_connection_manager_with_config(manager_config.clone())
            .await?;
        let (sink, stream) = open_pubsub(&client, timeout).await?.split();
        let (outbox, queue) = mpsc::unbounded_channel();
        let (state, _) = watch::channel(RedisConnectionState::Connected);
        let runtime = tokio::runtime::Handle::current();
        let node = Arc::new(RedisNode {
            uid: new_id(),
            config,
            commands: Mutex::new(commands),
            manager_config,
            outbox,
            sink: Arc::new(Mutex::new(Some(sink))),
            routes: Arc::default(),
            state,
            runtime: runtime.clone(),
        });
        runtime.spawn(publish_loop(Arc::downgrade(&node), queue));
        runtime.spawn(subscribe_loop(client, Arc::downgrade(&node), stream));
        Ok(node)
    }

    /// The state of the link to Redis now.
    pub(crate) fn state(&self) -> RedisConnectionState {
        *self.state.borrow()
    }

    /// Follows the state of the link to Redis.
    pub(crate) fn watch_state(&self) -> watch::Receiver<RedisConnectionState> {
        self.state.subscribe()
    }

    /// Fails fast when Redis is known to be away.
    pub(crate) fn ensure_connected(&self) -> Result<(), RedisAdapterError> {
        match self.state() {
            RedisConnectionState::Connected => Ok(()),
            RedisConnectionState::Disconnected => Err(RedisAdapterError::Disconnected),
        }
    }

    /// Queues a message: messages are published in the order they are queued, which
    /// keeps the order of a node's emits. While Redis is away the message is dropped
    /// (and false returned): the cluster would get it late, out of context.
    pub(crate) fn publish(&self, channel: String, payload: Vec<u8>) -> bool {
        if !self.state().is_connected() {
            tracing::debug!(%channel, "redis is away; message for the cluster dropped");
            return false;
        }
        if self.outbox.send((channel, payload)).is_err() {
            tracing::error!("redis publisher is gone; message dropped");
            return false;
        }
        true
    }

    /// How many connections listen on `channel`: with one subscriber per node, the
    /// number of nodes serving the namespace (PUBSUB NUMSUB, as the Node.js adapter).
    pub(crate) async fn subscribers(&self, channel: &str) -> Result<usize, RedisAdapterError> {
        self.ensure_connected()?;
        let mut conn = self.commands();
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }

    /// Routes the namespace's channels to `adapter` and subscribes to them. The
    /// subscription completes in the background, since adapters are created
    /// synchronously; until then the node does not count in `server_count`.
    pub(crate) fn register(&self, adapter: &Arc<RedisAdapter>) {
        let channels = adapter.channels();
        let entries = [
            (channels.broadcast_pattern(), Route::Broadcast),
            (channels.request.clone(), Route::Request),
            (channels.response.clone(), Route::Response),
            (channels.own_response.clone(), Route::Response),
        ];
        {
            let mut routes = self.routes.write();
            let weak = Arc::downgrade(adapter);
            for (name, route) in &entries {
                routes.insert(name.clone(), (*route, weak.clone()));
            }
        }
        // Routes first, then the sink: a reconnection in between subscribes these
        // routes itself (subscribing twice is harmless).
        let Some(sink) = self.sink.lock().clone() else {
            return;
        };
        let entries = entries.to_vec();
        self.runtime.spawn(async move {
            match subscribe_all(sink, &entries).await {
                Ok(()) => {
                    tracing::debug!(channel = %entries[0].0, "subscribed to namespace channels")
                }
                Err(e) => tracing::error!(channel = %entries[0].0, "cannot subscribe: {e}"),
            }
        });
    }

    fn commands(&self) -> ConnectionManager {
        self.commands.lock().clone()
    }

    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.runtime.spawn(task);
    }

    fn set_state(&self, state: RedisConnectionState) {
        self.state.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }
}

/// A random id for a node or a request (Node.js uses 6 random characters; any
/// string unique enough works).
pub(crate) fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

async fn open_pubsub(
    client: &redis::Client,
    timeout: Duration,
) -> Result<redis::aio::PubSub, RedisAdapterError> {
    match tokio::time::timeout(timeout, client.get_async_pubsub()).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(RedisAdapterError::Disconnected),
    }
}

async fn subscribe_all(
    mut sink: PubSubSink,
    entries: &[(String, Route)],
) -> Result<(), RedisAdapterError> {
    let (patterns, channels): (Vec<_>, Vec<_>) = entries
        .iter()
        .partition(|(_, route)| *route == Route::Broadcast);
    let patterns: Vec<&str> = patterns.iter().map(|(n, _)| n.as_str()).collect();
    let channels: Vec<&str> = channels.iter().map(|(n, _)| n.as_str()).collect();
    if !patterns.is_empty() {
        sink.psubscribe(&patterns).await?;
    }
    if !channels.is_empty() {
        sink.subscribe(&channels).await?;
    }
    Ok(())
}

/// Publishes queued messages, batching whatever has accumulated into one pipeline.
async fn publish_loop(
    node: Weak<RedisNode>,
    mut queue: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 256).await > 0 {
        let Some(mut conn) = node.upgrade().map(|n| n.commands()) else {
            return;
        };
        let mut pipe = redis::pipe();
        for (channel, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::error!("cannot publish to redis: {e}");
        }
    }
}

/// Dispatches what the subscriber connection receives; when it is lost, reconnects
/// (with backoff) and subscribes again to every routed channel. Ends when the node
/// is dropped.
async fn subscribe_loop(client: redis::Client, node: Weak<RedisNode>, mut stream: PubSubStream) {
    loop {
        let Some(routes) = node.upgrade().map(|n| n.routes.clone()) else {
            return;
        };
        dispatch(&mut stream, &routes).await;
        let Some(current) = node.upgrade() else {
            return;
        };
        *current.sink.lock() = None;
        current.set_state(RedisConnectionState::Disconnected);
        tracing::warn!("lost the redis subscriber connection; reconnecting");
        let max_delay = current.config.reconnect_max_delay;
        drop(current);
        let mut delay = FIRST_RECONNECT_DELAY.min(max_delay);
        stream = loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(max_delay);
            let Some(current) = node.upgrade() else {
                return;
            };
            match reconnect(&client, &current).await {
                Ok(stream) => {
                    current.set_state(RedisConnectionState::Connected);
                    tracing::info!("reconnected to redis and subscribed again");
                    break stream;
                }
                Err(e) => tracing::debug!("cannot reconnect to redis yet: {e}"),
            }
        };
    }
}

/// A new subscriber connection subscribed to every route, and a new publishing
/// connection.
async fn reconnect(
    client: &redis::Client,
    node: &RedisNode,
) -> Result<PubSubStream, RedisAdapterError> {
    let timeout = node.config.request_timeout;
    let (sink, stream) = open_pubsub(client, timeout).await?.split();
    // Sink first, then the routes: see `register`.
    *node.sink.lock() = Some(sink.clone());
    let entries: Vec<(String, Route)> = node
        .routes
        .read()
        .iter()
        .filter(|(_, (_, adapter))| adapter.strong_count() > 0)
        .map(|(name, (route, _))| (name.clone(), *route))
        .collect();
    let result = async {
        subscribe_all(sink, &entries).await?;
        let commands = client
            .get_connection_manager_with_config(node.manager_config.clone())
            .await?;
        *node.commands.lock() = commands;
        Ok(stream)
    }
    .await;
    if result.is_err() {
        *node.sink.lock() = None;
    }
    result
}

/// Hands every message of the subscriber connection to its namespace adapter, until
/// the connection ends.
async fn dispatch(stream: &mut PubSubStream, routes: &Routes) {
    while let Some(msg) = stream.next().await {
        let channel = msg.get_channel_name();
        let key = if msg.from_pattern() {
            match msg.get_pattern::<String>() {
                Ok(pattern) => pattern,
                Err(e) => {
                    tracing::warn!(channel, "pattern message without a pattern: {e}");
                    continue;
                }
            }
        } else {
            channel.to_string()
        };
        let route = routes.read().get(&key).cloned();
        let Some((route, adapter)) = route else {
            tracing::trace!(channel, "message on an unrouted channel");
            continue;
        };
        let Some(adapter) = adapter.upgrade() else {
            continue;
        };
        let payload = msg.get_payload_bytes();
        match route {
            Route::Broadcast => adapter.on_broadcast(payload),
            Route::Request => adapter.on_request(payload),
            Route::Response => adapter.on_response(payload),
        }
    }
}
