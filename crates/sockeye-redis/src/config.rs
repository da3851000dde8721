//! Settings of the Redis adapter, with the defaults of the Node.js adapter.

use std::time::Duration;

/// Settings shared by every namespace of a node. The defaults are those of
/// `@socket.io/redis-adapter`, so that a Sockeye node joins a Node.js cluster
/// configured with defaults without any setting.
#[derive(Clone, Debug)]
pub struct RedisAdapterConfig {
    /// Prefix of every channel name (`key` in Node.js, `socket.io` by default).
    pub key: String,
    /// How long a request to the other nodes (such as `fetch_sockets`) waits for
    /// their answers (`requestsTimeout` in Node.js, 5 s by default).
    pub request_timeout: Duration,
}

impl Default for RedisAdapterConfig {
    fn default() -> Self {
        RedisAdapterConfig {
            key: "socket.io".to_string(),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisAdapterConfig {
    /// Sets the channel prefix.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}
