//! Errors of the Redis adapter.

use sockeye::adapter::AdapterError;

/// What can go wrong between this node and Redis or another node.
#[derive(Debug, thiserror::Error)]
pub enum RedisAdapterError {
    /// Redis refused a command or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A message from another node could not be understood; it is skipped.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A part of the Node.js protocol this adapter does not speak yet.
    #[error("{0} is not supported yet by the sockeye Redis adapter")]
    NotSupported(&'static str),
}

impl From<RedisAdapterError> for AdapterError {
    /// The sockeye `Adapter` trait reports its own error type; a Redis failure means
    /// the cluster is unreachable, anything else is reported as is.
    fn from(err: RedisAdapterError) -> Self {
        match err {
            RedisAdapterError::Redis(e) => AdapterError::Unavailable(e.to_string()),
            other => AdapterError::Other(other.to_string()),
        }
    }
}
