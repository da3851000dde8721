//! Errors of the Socket.IO layer.

use std::time::Duration;

use thiserror::Error;

use crate::Value;

/// Why an emit could not be queued.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EmitError {
    #[error("the socket is disconnected")]
    Disconnected,
    #[error("the client's outgoing queue is full; it was disconnected as too slow")]
    SlowClient,
    #[error("the adapter could not reach other nodes: {0}")]
    Adapter(String),
}

impl From<sockeye_engine::SendError> for EmitError {
    fn from(e: sockeye_engine::SendError) -> Self {
        match e {
            sockeye_engine::SendError::Closed => EmitError::Disconnected,
            sockeye_engine::SendError::Full => EmitError::SlowClient,
        }
    }
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AckError {
    #[error("no acknowledgement within {0:?}")]
    Timeout(Duration),
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// A broadcast with acks timed out: the acknowledgements that did arrive.
    #[error("{} of {expected} acknowledgements arrived within {timeout:?}", received.len())]
    Partial {
        timeout: Duration,
        expected: usize,
        received: Vec<Vec<Value>>,
    },
}

/// The refusal a connect middleware returns: the client receives a `connect_error`
/// packet with `message` (and `data` for v5 clients).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    pub data: Option<Value>,
}

impl ConnectError {
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: impl Into<Value>) -> Self {
        self.data = Some(data.into());
        self
    }
}

/// The refusal of a per-event middleware (`socket.use`).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{0}")]
pub struct EventRefused(pub String);
