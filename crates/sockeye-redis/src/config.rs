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
    /// Longest wait between two attempts to reconnect to Redis after losing it (the
    /// wait starts at 100 ms and doubles up to this). 1 s by default.
    pub reconnect_max_delay: Duration,
}

impl Default for RedisAdapterConfig {
    fn default() -> Self {
        RedisAdapterConfig {
            key: "socket.io".to_string(),
            request_timeout: Duration::from_secs(5),
            reconnect_max_delay: Duration::from_secs(1),
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

    /// Sets the longest wait between reconnection attempts.
    pub fn reconnect_max_delay(mut self, delay: Duration) -> Self {
        self.reconnect_max_delay = delay;
        self
    }
}
