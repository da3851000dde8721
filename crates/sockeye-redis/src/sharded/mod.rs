//! A **sharded** pub/sub adapter, wire-compatible with `createShardedAdapter` of the
//! Node.js `@socket.io/redis-adapter` 8.3 (on socket.io-adapter 2.5's cluster adapter),
//! so that Sockeye nodes and Node.js nodes can serve one cluster together. It needs
//! Redis 7 or later (sharded pub/sub: SSUBSCRIBE, SPUBLISH, PUBSUB SHARDNUMSUB).
//!
//! Each namespace listens on `<prefix>#<nsp>#` (every node) and on
//! `<prefix>#<nsp>#<uid>#` (the answers to node `uid`). A message is
//! `{uid, nsp, type, data}` (the cluster adapter's types), sent as JSON text, or as
//! msgpack when its data holds binary. With [`SubscriptionMode::Dynamic`] (the default,
//! as in Node.js), a broadcast without acks to exactly one room that is not a socket id
//! goes to `<prefix>#<nsp>#<room>#`, which only the nodes with sockets in that room
//! subscribe to; [`SubscriptionMode::DynamicPrivate`] does the same for socket ids,
//! [`SubscriptionMode::Static`] sends everything on the namespace channel. A node
//! subscribes to a room's channel when the room's first local socket joins (and leaves
//! it with the last one); as in Node.js, a broadcast another node publishes before that
//! subscription is in place does not reach the new member.
//!
//! What works across nodes, in both directions with Node.js nodes: broadcasts (rooms,
//! except, volatile, local), `sockets_join`/`sockets_leave`/`disconnect_sockets`,
//! `fetch_sockets` (failing with [`AdapterError::Timeout`](sockeye::adapter::AdapterError)
//! when a node does not answer within the request timeout, 5 s by default),
//! `server_count` (the subscribers of the namespace channel, as Node.js counts them),
//! broadcasts with acknowledgements (remote acks carry the client's first argument, as in
//! Node.js; a partial result at the timeout) and events between servers
//! (`server_side_emit`, `server_side_emit_with_ack`, `on_server_event`).
//!
//! Not supported: connection state recovery across nodes (Node.js has none with this
//! adapter either). Tested against a single redis-server 7.0 (which accepts the sharded
//! commands), not against a Redis Cluster: every channel of a namespace may hash to a
//! different slot, and this adapter talks to one server only, so with a Redis Cluster it
//! would need a cluster-aware connection (not done).
//!
//! When Redis is unreachable, delivery to this node's clients goes on; from the moment
//! the subscriber connection drops until it has reconnected (backing off up to 5 s) and
//! subscribed again to every channel, messages for the other nodes are dropped rather
//! than queued (they would arrive late, or before the other nodes subscribe again),
//! what other nodes publish never reaches this node (shard channels keep nothing), and
//! requests fail with [`AdapterError::Unavailable`](sockeye::adapter::AdapterError).
//! Malformed messages are logged and skipped. The write queue holds 16 384 messages;
//! beyond, messages are dropped with an error log.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sockeye_redis::sharded::{ShardedAdapterConfig, ShardedAdapterFactory, SubscriptionMode};
//! let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//! let config = ShardedAdapterConfig::default().subscription_mode(SubscriptionMode::Static);
//! let io = sockeye::SocketIo::builder()
//!     .adapter(ShardedAdapterFactory::new(client, config).await?)
//!     .build();
//! # Ok(()) }
//! ```

mod adapter;
mod config;
mod node;

use std::sync::Arc;

use sockeye::adapter::{Adapter, AdapterContext, AdapterFactory};

pub use adapter::ShardedAdapter;
pub use config::{ShardedAdapterConfig, SubscriptionMode};

use crate::RedisAdapterError;
use node::ShardedNode;

/// Creates a [`ShardedAdapter`] for each namespace; all of them share this node's uid
/// and its Redis connections.
#[derive(Clone)]
pub struct ShardedAdapterFactory {
    node: Arc<ShardedNode>,
}

impl ShardedAdapterFactory {
    /// Connects to Redis (a publishing connection and a RESP3 subscriber connection).
    /// Must run inside a Tokio runtime, which the adapter's tasks then use.
    pub async fn new(
        client: redis::Client,
        config: ShardedAdapterConfig,
    ) -> Result<Self, RedisAdapterError> {
        Ok(ShardedAdapterFactory {
            node: ShardedNode::connect(client, config).await?,
        })
    }

    /// This node's id on the wire (the `uid` of its messages).
    pub fn uid(&self) -> &str {
        &self.node.uid
    }
}

impl AdapterFactory for ShardedAdapterFactory {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        ShardedAdapter::new(ctx, self.node.clone())
    }
}
