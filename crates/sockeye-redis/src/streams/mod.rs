//! A Redis **streams** adapter, wire-compatible with the Node.js
//! `@socket.io/redis-streams-adapter` 0.3 (on socket.io-adapter 2.5's cluster adapter),
//! so that Sockeye nodes and Node.js nodes can serve one cluster together.
//!
//! Every namespace of every node appends its cluster messages to one Redis stream
//! (`socket.io` by default, trimmed to about 10 000 entries) and reads it with a
//! blocking `XREAD` loop. Entries carry the fields `uid`, `nsp`, `type` and `data`
//! (JSON text, or base64 msgpack when the data holds binary). Requests that expect
//! answers go through pub/sub instead: `<prefix>#<nsp>#` for requests and
//! `<prefix>#<nsp>#<uid>#` for the answers to node `uid`; `server_count` counts the
//! subscribers of the first (PUBSUB NUMSUB).
//!
//! What works across nodes, in both directions with Node.js nodes:
//! - broadcasts (rooms, except, volatile, local), in stream order on every node;
//! - `sockets_join`, `sockets_leave`, `disconnect_sockets` (stream entries);
//! - `fetch_sockets` (pub/sub request; fails with a timeout, 5 s by default, when a
//!   node does not answer) and `server_count`;
//! - broadcasts with acknowledgements (pub/sub: each node reports how many clients it
//!   reached, then their acknowledgements, the first argument of each as in Node.js);
//!   a partial result when the timeout passes first. A Sockeye node sends its clients'
//!   acknowledgements once all arrived or the timeout passed, so after a timeout a
//!   requester may miss some of them;
//! - **connection state recovery across nodes**: when recovery is on
//!   ([`SocketIoBuilder::connection_state_recovery`](sockeye::SocketIoBuilder::connection_state_recovery)),
//!   every kept broadcast's offset is its stream entry id, a socket that loses its
//!   connection is stored under `sio:session:<pid>` (base64 msgpack `{sid, pid, rooms,
//!   data}`, expiring with the recovery window), and any node takes it back (GETDEL)
//!   and reads the missed packets from the stream with XRANGE, in order and once each.
//!
//! - events between servers (pub/sub, SERVER_SIDE_EMIT / SERVER_SIDE_EMIT_RESPONSE):
//!   `io.server_side_emit`, `io.server_side_emit_with_ack` (one answer per other node,
//!   or [`ServerSideEmitError::Timeout`](sockeye::adapter::ServerSideEmitError) with the
//!   answers that came within the request timeout) and `io.on_server_event`.
//!
//! Requires Redis 6.2 or later (GETDEL, exclusive XRANGE).
//!
//! With recovery on, a node delivers its own kept broadcasts (events without ack, not
//! volatile) when it reads them back from the stream, with their entry id as offset,
//! so that every node delivers them in the same order under the same offsets; other
//! broadcasts reach the local clients at once. A recovering node reads the missed
//! packets only up to the last entry its reader has dispatched (after waiting for it to
//! reach the client's offset) and leaves later ones to the reader, so none comes twice.
//!
//! When Redis is unreachable, this node's broadcasts (kept ones included) reach its own
//! clients at once, and nothing is sent to the other nodes from the moment the pub/sub
//! connection drops until it is open again (it retries, backing off up to 5 s):
//! broadcasts, room changes and disconnections asked meanwhile are lost for the other
//! nodes rather than delivered late, and requests fail with
//! [`AdapterError::Unavailable`](sockeye::adapter::AdapterError). The reader backs off
//! (up to 5 s) and reads on from the last entry id it read, so a node that alone lost
//! its link gets every entry the others appended meanwhile, in order and once, while the
//! stream still holds them; a Redis restarted without persistence comes back with an
//! empty stream, and what a node had not read yet is lost, as are the stored sessions
//! (clients that come back then get new sockets). Malformed entries and messages are
//! logged and skipped. Memory is bounded:
//! the write queue (16 384 messages; beyond, messages are dropped with an error log),
//! each read (`read_count` entries), the packets a recovery reads back
//! (`max_missed_packets`), and pending requests (forgotten when they end or time out).
//!
//! Compatible with `@socket.io/redis-streams-adapter` 0.3.x, which counts nodes with
//! PUBSUB NUMSUB; the 0.2.x releases tracked nodes with heartbeats in the stream, which
//! this adapter does not send. Of its options, `streamName`, `channelPrefix`, `maxLen`,
//! `readCount`, `blockTimeInMs` and `sessionKeyPrefix` have counterparts in
//! [`StreamsAdapterConfig`]; Node.js nodes must keep `streamCount: 1` and
//! `useShardedPubSub: false` (the defaults), which are the only modes spoken here.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//! let factory =
//!     sockeye_redis::streams::StreamsAdapterFactory::new(client, Default::default()).await?;
//! let io = sockeye::SocketIo::builder()
//!     .connection_state_recovery(Default::default())
//!     .adapter(factory)
//!     .build();
//! # Ok(()) }
//! ```

mod adapter;
mod config;
mod incoming;
mod node;
mod session;

/// The decoders of what other nodes store in Redis, for `crate::fuzzing`.
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing {
    pub(crate) use super::node::xread_entries;

    pub(crate) fn decode_session(bytes: &[u8]) -> bool {
        super::session::decode(bytes).is_ok()
    }
}

use std::sync::Arc;

use sockeye::adapter::{Adapter, AdapterContext, AdapterFactory};

pub use adapter::StreamsAdapter;
pub use config::StreamsAdapterConfig;

use crate::RedisAdapterError;
use node::StreamsNode;

/// Creates a [`StreamsAdapter`] for each namespace; all of them share this node's uid
/// and its Redis connections.
#[derive(Clone)]
pub struct StreamsAdapterFactory {
    node: Arc<StreamsNode>,
}

impl StreamsAdapterFactory {
    /// Connects to Redis and starts reading the stream from its current end. Must run
    /// inside a Tokio runtime, which the adapter's tasks then use.
    pub async fn new(
        client: redis::Client,
        config: StreamsAdapterConfig,
    ) -> Result<Self, RedisAdapterError> {
        Ok(StreamsAdapterFactory {
            node: StreamsNode::connect(client, config).await?,
        })
    }

    /// This node's id on the wire (the `uid` of its messages).
    pub fn uid(&self) -> &str {
        &self.node.uid
    }
}

impl AdapterFactory for StreamsAdapterFactory {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        StreamsAdapter::new(ctx, self.node.clone())
    }
}
