//! `RedisAdapterFactory`: what a `SocketIo` is built with to join a Redis cluster.

use std::sync::Arc;

use sockeye::adapter::{Adapter, AdapterContext, AdapterFactory};

use crate::adapter::RedisAdapter;
use crate::node::RedisNode;
use crate::{RedisAdapterConfig, RedisAdapterError, RedisConnectionState};

/// Creates a [`RedisAdapter`] for each namespace; all of them share this node's uid
/// and its two Redis connections.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
/// let factory = sockeye_redis::RedisAdapterFactory::new(client, Default::default()).await?;
/// let io = sockeye::SocketIo::builder().adapter(factory).build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisAdapterFactory {
    node: Arc<RedisNode>,
}

impl RedisAdapterFactory {
    /// Connects to Redis. Must run inside a Tokio runtime, which the adapter's tasks
    /// then use.
    pub async fn new(
        client: redis::Client,
        config: RedisAdapterConfig,
    ) -> Result<Self, RedisAdapterError> {
        Ok(RedisAdapterFactory {
            node: RedisNode::connect(client, config).await?,
        })
    }

    /// This node's id on the wire (the `uid` of its messages).
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    /// The state of this node's link to Redis now (for a health check: `"up"` or
    /// `"down"` with [`RedisConnectionState::as_str`]).
    pub fn state(&self) -> RedisConnectionState {
        self.node.state()
    }

    /// Follows the state of the link to Redis: the receiver sees every change
    /// (`changed().await`), such as a lost connection and the reconnection.
    pub fn watch_state(&self) -> tokio::sync::watch::Receiver<RedisConnectionState> {
        self.node.watch_state()
    }
}

impl AdapterFactory for RedisAdapterFactory {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        RedisAdapter::new(ctx, self.node.clone())
    }
}
