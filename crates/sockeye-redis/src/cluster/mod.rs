//! What the streams and sharded adapters share: socket.io-adapter's cluster messages
//! and the requests that expect answers from the other nodes.

pub(crate) mod exchange;
pub(crate) mod message;

/// A random id for a node or a request (16 hex digits, as Node.js).
pub(crate) fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}
