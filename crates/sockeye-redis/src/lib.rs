//! Redis adapters for sockeye, wire-compatible with their Node.js counterparts, so that
//! Sockeye nodes and Node.js nodes can serve one cluster together:
//! - the classic pub/sub adapter ([`RedisAdapterFactory`], `@socket.io/redis-adapter`
//!   8.x `createAdapter`), described below;
//! - the streams adapter ([`streams::StreamsAdapterFactory`],
//!   `@socket.io/redis-streams-adapter` 0.3), with connection state recovery across nodes;
//! - the sharded adapter ([`sharded::ShardedAdapterFactory`], `@socket.io/redis-adapter`
//!   8.3 `createShardedAdapter`, Redis 7 sharded pub/sub, static or dynamic channels);
//! - and [`emitter::Emitter`], which publishes to a cluster's clients from outside it
//!   (`@socket.io/redis-emitter` format).
//!
//! The streams and sharded adapters speak socket.io-adapter's cluster-adapter messages
//! and share how requests and their answers are exchanged.
//!
//! # The classic adapter
//!
//! Each namespace gets a [`RedisAdapter`] that wraps the in-memory adapter: every
//! operation is applied to this node's sockets and forwarded through Redis to the
//! other nodes, which apply it to theirs.
//!
//! Supported across nodes, in both directions with Node.js nodes:
//! - broadcasts (rooms, except, volatile, local), `fetch_sockets`,
//!   `sockets_join`/`sockets_leave`/`disconnect_sockets`, `server_count`, and answering
//!   the SOCKETS, ALL_ROOMS, REMOTE_JOIN/LEAVE/DISCONNECT and REMOTE_FETCH requests;
//! - broadcasts with acknowledgements (`io.timeout(d).emit_with_ack(…)`, the BROADCAST /
//!   BROADCAST_CLIENT_COUNT / BROADCAST_ACK exchange): every node reports how many of
//!   its clients it reached, then forwards each ack. The call ends when every node
//!   counted (the server count taken before sending) and every counted client acked,
//!   else at the timeout with [`AckError::Partial`](sockeye::AckError::Partial) and the
//!   acks that arrived, as Node.js does. A Node.js node forwards only each ack's first
//!   argument; Sockeye nodes forward every argument;
//! - events between servers (`serverSideEmit`): `io.server_side_emit(ev, args)`,
//!   `io.server_side_emit_with_ack(ev, args)` (or `io.timeout(d).server_side_emit_with_ack`)
//!   and `io.on_server_event(ev, handler)`. With acks, one answer per other node is
//!   expected; when some node does not answer within the request timeout the call
//!   fails with [`ServerSideEmitError::Timeout`](sockeye::adapter::ServerSideEmitError)
//!   carrying the answers that arrived. Arguments travel as JSON (no binary), as in Node.js.
//!
//! A node that dies mid-request never answers: `fetch_sockets` then fails with
//! [`AdapterError::Timeout`](sockeye::adapter::AdapterError::Timeout) at the request
//! timeout (as Node.js rejects), broadcasts with acks end at their own timeout with the
//! acks that came. Nothing waits longer than its timeout.
//!
//! When Redis goes away (see [`RedisConnectionState`]): broadcasts keep reaching this
//! node's clients and `sockets_join`/`sockets_leave`/`disconnect_sockets` keep applying
//! to them (their copy for the cluster is dropped, not queued: it would arrive stale),
//! operations that need other nodes fail at once with
//! [`AdapterError::Unavailable`](sockeye::adapter::AdapterError::Unavailable), and the
//! adapter reconnects (every 100 ms at first, the wait doubling up to
//! [`RedisAdapterConfig::reconnect_max_delay`], 1 s by default), subscribes again to
//! every channel and turns `Connected`. [`RedisAdapterFactory::state`] and
//! [`RedisAdapterFactory::watch_state`] report it for health checks.

mod adapter;
mod channels;
mod cluster;
mod config;
pub mod emitter;
mod error;
mod factory;
mod incoming;
mod node;
pub mod sharded;
mod state;
pub mod streams;
mod wire;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use adapter::RedisAdapter;
pub use config::RedisAdapterConfig;
pub use error::RedisAdapterError;
pub use factory::RedisAdapterFactory;
pub use state::RedisConnectionState;
