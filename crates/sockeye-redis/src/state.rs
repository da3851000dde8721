//! Whether this node hears the cluster: the state of its Redis connections, for
//! health checks and to fail remote operations fast while Redis is away.

/// The adapter's link to Redis, as reported by
/// [`RedisAdapterFactory::state`](crate::RedisAdapterFactory::state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisConnectionState {
    /// Subscribed to every channel of every namespace; the cluster is reachable.
    Connected,
    /// The connection was lost: broadcasts reach this node's clients only, remote
    /// operations fail at once with [`AdapterError::Unavailable`](sockeye::adapter::AdapterError::Unavailable),
    /// and the adapter keeps reconnecting (then subscribes again to every channel).
    Disconnected,
}

impl RedisConnectionState {
    /// `"up"` or `"down"`, as a health check reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisConnectionState::Connected => "up",
            RedisConnectionState::Disconnected => "down",
        }
    }

    pub fn is_connected(self) -> bool {
        self == RedisConnectionState::Connected
    }
}
