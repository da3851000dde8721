//! Errors of the emitter.

/// Why an emit, a room change or a disconnect could not be published.
#[derive(Debug, thiserror::Error)]
pub enum EmitterError {
    /// Redis refused the PUBLISH or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Socket.IO reserves this event name for its own use (as the Node.js emitter does,
    /// the emit is refused rather than sent to clients that would misread it).
    #[error("{0:?} is a reserved event name")]
    ReservedEvent(String),
    /// An argument given as a serde type could not be turned into a `sockeye::Value`.
    #[error("argument cannot be serialized: {0}")]
    Serialize(#[from] sockeye::ValueError),
    /// Server-side emits travel as JSON, which has no binary type; the Node.js emitter
    /// would silently turn the bytes into `{type: "Buffer", data: [...]}`.
    #[error("server-side emits are JSON and cannot carry binary arguments (argument {index})")]
    BinaryInServerSideEmit {
        /// Position of the first binary argument (0 is the first after the event name).
        index: usize,
    },
    /// The message could not be encoded as msgpack (never expected for valid values).
    #[error("cannot encode the message: {0}")]
    Encode(String),
}
