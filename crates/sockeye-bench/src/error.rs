//! The errors of the load generator.

use std::time::Duration;

/// What went wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("websocket error: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    #[error("peer server {peer}: {message}")]
    Peer { peer: String, message: String },
}

impl BenchError {
    pub fn protocol(message: impl Into<String>) -> Self {
        BenchError::Protocol(message.into())
    }
}

pub type Result<T> = std::result::Result<T, BenchError>;
