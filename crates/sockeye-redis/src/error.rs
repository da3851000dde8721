//! Errors of the Redis adapter.

use sockeye::adapter::AdapterError;

/// What can go wrong between this node and Redis or another node.
#[derive(Debug, thiserror::Error)]
pub enum RedisAdapterError {
    /// Redis refused a command or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The link to Redis is down; the adapter is reconnecting.
    #[error("the connection to redis is lost; reconnecting")]
    Disconnected,
    /// A message from another node could not be understood; it is skipped.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl From<RedisAdapterError> for AdapterError {
    /// The sockeye `Adapter` trait reports its own error type; a Redis failure means
    /// the cluster is unreachable, anything else is reported as is.
    fn from(err: RedisAdapterError) -> Self {
        match err {
            RedisAdapterError::Redis(e) => AdapterError::Unavailable(e.to_string()),
            RedisAdapterError::Disconnected => AdapterError::Unavailable(err.to_string()),
            other => AdapterError::Other(other.to_string()),
        }
    }
}
