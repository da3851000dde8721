//! Redis adapter for sockeye, wire-compatible with the Node.js
//! `@socket.io/redis-adapter` 8.x (the classic pub/sub adapter of socket.io 4.8), so
//! that Sockeye nodes and Node.js nodes can serve one cluster together.
//!
//! Each namespace gets a [`RedisAdapter`] that wraps the in-memory adapter: every
//! operation is applied to this node's sockets and forwarded through Redis to the
//! other nodes, which apply it to theirs.
//!
//! Supported across nodes: broadcasts (rooms, except, volatile, local), `fetch_sockets`,
//! `sockets_join`/`sockets_leave`/`disconnect_sockets`, `server_count`, and answering
//! the SOCKETS, ALL_ROOMS, REMOTE_JOIN/LEAVE/DISCONNECT and REMOTE_FETCH requests of
//! Node.js nodes. Not yet: broadcasts with acknowledgements across nodes (an error when
//! other nodes are present) and server-side emits (skipped).

mod adapter;
mod channels;
mod config;
mod error;
mod factory;
mod incoming;
mod node;
pub mod streams;
mod wire;

pub use adapter::RedisAdapter;
pub use config::RedisAdapterConfig;
pub use error::RedisAdapterError;
pub use factory::RedisAdapterFactory;
