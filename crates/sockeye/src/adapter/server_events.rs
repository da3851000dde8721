//! Events between the servers of a cluster (`serverSideEmit` in Node.js): a node
//! emits an event to the same namespace on every *other* node, optionally waiting for
//! one answer from each. Clients never see these events.
//!
//! A single node has nobody to tell: the default [`Adapter`](super::Adapter) methods
//! send nothing and answer with no responses. A cluster adapter carries the event to
//! the other nodes and hands what arrives to [`AdapterContext::dispatch_server_event`](super::AdapterContext::dispatch_server_event).

use std::sync::Arc;
use std::time::Duration;

use super::{AdapterError, BoxFuture};
use crate::Value;

/// Names a namespace reserves for itself; Node.js refuses them in `serverSideEmit`.
pub(crate) const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Handles the server events of one name (see `Namespace::on_server_event`).
pub(crate) type ServerEventHandler =
    Arc<dyn Fn(ServerEvent) -> BoxFuture<'static, ()> + Send + Sync>;

/// Answers the node that emitted a server event with acknowledgement.
pub type ServerAck = Box<dyn FnOnce(Value) + Send>;

/// An event from another node of the cluster.
pub struct ServerEvent {
    /// The event's name.
    pub name: String,
    /// Its arguments (JSON values: the Redis adapter carries them as JSON, as Node.js does).
    pub args: Vec<Value>,
    ack: Option<ServerAck>,
}

impl std::fmt::Debug for ServerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEvent")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("wants_ack", &self.ack.is_some())
            .finish()
    }
}

impl ServerEvent {
    /// An event as an adapter received it; `ack` is set when the emitter waits for
    /// an answer.
    pub fn new(name: impl Into<String>, args: Vec<Value>, ack: Option<ServerAck>) -> Self {
        ServerEvent {
            name: name.into(),
            args,
            ack,
        }
    }

    /// Whether the emitting node waits for an answer.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Answers the emitting node with one value (Node.js forwards only the first
    /// argument of the callback). Returns false when no answer was expected or one
    /// was already sent. A handler that never answers makes the emitter time out,
    /// as in Node.js.
    pub fn ack(&mut self, value: impl Into<Value>) -> bool {
        match self.ack.take() {
            Some(ack) => {
                ack(value.into());
                true
            }
            None => false,
        }
    }
}

/// Why `server_side_emit_with_ack` did not get every node's answer.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ServerSideEmitError {
    /// Some node did not answer in time (it died, has no handler, or never acked):
    /// the answers that did arrive.
    #[error("{} of {expected} nodes answered within {timeout:?}", responses.len())]
    Timeout {
        timeout: Duration,
        expected: usize,
        responses: Vec<Value>,
    },
    /// The event name is one a namespace reserves (`connect`, `disconnect`…).
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    /// The cluster could not be reached.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}
