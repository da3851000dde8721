//! What one Sockeye node shares between its namespaces: its uid, one publishing
//! connection and one subscribing connection to Redis.
//!
//! One subscriber connection serves every namespace (each namespace adds its own
//! channels to it), so a node costs Redis two connections whatever the number of
//! namespaces. Because Redis delivers the messages of one connection in publish
//! order, a request and a broadcast published in that order by another node (a
//! remote join then a broadcast to that room) are also handled in that order here.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use futures_util::StreamExt;
use parking_lot::RwLock;
use redis::aio::{ConnectionManager, PubSubSink, PubSubStream};
use tokio::sync::mpsc;

use crate::adapter::RedisAdapter;
use crate::{RedisAdapterConfig, RedisAdapterError};

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

pub(crate) struct RedisNode {
    pub(crate) uid: String,
    pub(crate) config: RedisAdapterConfig,
    commands: ConnectionManager,
    outbox: mpsc::UnboundedSender<(String, Vec<u8>)>,
    sink: PubSubSink,
    routes: Arc<Routes>,
    runtime: tokio::runtime::Handle,
}

impl RedisNode {
    /// Opens both connections and starts the publishing and dispatching tasks. The
    /// tasks live as long as the connections (the process, in practice).
    pub(crate) async fn connect(
        client: redis::Client,
        config: RedisAdapterConfig,
    ) -> Result<Arc<Self>, RedisAdapterError> {
        let commands = client.get_connection_manager().await?;
        let (sink, stream) = client.get_async_pubsub().await?.split();
        let (outbox, queue) = mpsc::unbounded_channel();
        let routes: Arc<Routes> = Arc::default();
        let runtime = tokio::runtime::Handle::current();
        runtime.spawn(publish_loop(commands.clone(), queue));
        runtime.spawn(dispatch_loop(stream, routes.clone()));
        Ok(Arc::new(RedisNode {
            uid: new_id(),
            config,
            commands,
            outbox,
            sink,
            routes,
            runtime,
        }))
    }

    /// Queues a message: messages are published in the order they are queued, which
    /// keeps the order of a node's emits.
    pub(crate) fn publish(&self, channel: String, payload: Vec<u8>) {
        if self.outbox.send((channel, payload)).is_err() {
            tracing::error!("redis publisher is gone; message dropped");
        }
    }

    /// How many connections listen on `channel`: with one subscriber per node, the
    /// number of nodes serving the namespace (PUBSUB NUMSUB, as the Node.js adapter).
    pub(crate) async fn subscribers(&self, channel: &str) -> Result<usize, RedisAdapterError> {
        let mut conn = self.commands.clone();
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
        let pattern = channels.broadcast_pattern();
        let plain = [
            channels.request.clone(),
            channels.response.clone(),
            channels.own_response.clone(),
        ];
        {
            let mut routes = self.routes.write();
            let weak = Arc::downgrade(adapter);
            routes.insert(pattern.clone(), (Route::Broadcast, weak.clone()));
            routes.insert(plain[0].clone(), (Route::Request, weak.clone()));
            routes.insert(plain[1].clone(), (Route::Response, weak.clone()));
            routes.insert(plain[2].clone(), (Route::Response, weak));
        }
        let mut sink = self.sink.clone();
        self.runtime.spawn(async move {
            let result = async {
                sink.psubscribe(&pattern).await?;
                sink.subscribe(&plain).await
            }
            .await;
            match result {
                Ok(()) => tracing::debug!(%pattern, "subscribed to namespace channels"),
                Err(e) => tracing::error!(%pattern, "cannot subscribe: {e}"),
            }
        });
    }

    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.runtime.spawn(task);
    }
}

/// A random id for a node or a request (Node.js uses 6 random characters; any
/// string unique enough works).
pub(crate) fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Publishes queued messages, batching whatever has accumulated into one pipeline.
async fn publish_loop(
    mut conn: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 256).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::error!("cannot publish to redis: {e}");
        }
    }
}

/// Hands every message of the subscriber connection to its namespace adapter.
async fn dispatch_loop(mut stream: PubSubStream, routes: Arc<Routes>) {
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
    tracing::error!("redis subscriber connection closed; this node no longer hears the cluster");
}
