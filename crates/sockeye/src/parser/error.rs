//! Why a client's message was rejected.

/// A malformed or disallowed packet. Every variant says what was wrong, so the
/// server can log it before closing the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// An empty text message (the reference decoder reads it as a CONNECT to `/`;
    /// no client sends one).
    #[error("empty packet")]
    Empty,
    /// The packet type is not one of 0..=6 (text) or 0..=4 (msgpack).
    #[error("invalid packet type {0}")]
    InvalidPacketType(String),
    /// A valid packet type a client must not send (CONNECT_ERROR).
    #[error("packet type {0} is not accepted from a client")]
    UnexpectedPacketType(&'static str),
    /// The attachment count of a binary packet is missing, not decimal digits, not
    /// followed by `-`, or zero.
    #[error("invalid attachment count {0:?}")]
    InvalidAttachmentCount(String),
    /// A binary packet announces more attachments than allowed.
    #[error("{count} attachments announced, at most {max} allowed")]
    TooManyAttachments { count: usize, max: usize },
    /// An ack id that is not a non-negative integer JavaScript can represent exactly
    /// (at most 2^53 - 1), or an ACK without an id.
    #[error("invalid ack id: {0}")]
    InvalidAckId(String),
    /// The namespace is missing or not a string (msgpack).
    #[error("invalid namespace: {0}")]
    InvalidNamespace(&'static str),
    /// The JSON payload does not parse (or nests deeper than 128 levels).
    #[error("malformed JSON payload: {0}")]
    Json(#[from] serde_json::Error),
    /// The payload has the wrong shape for the packet type.
    #[error("invalid {packet} payload: {reason}")]
    InvalidPayload {
        packet: &'static str,
        reason: &'static str,
    },
    /// An event uses a name the server reserves for its own events.
    #[error("reserved event name {0:?}")]
    ReservedEventName(String),
    /// An event name longer than [`DecodeLimits::max_event_name_len`](super::DecodeLimits).
    #[error("event name of {len} bytes exceeds the limit of {max}")]
    EventNameTooLong { len: usize, max: usize },
    /// A text message arrived while a binary packet still waited for attachments.
    #[error("text message received while {remaining} binary attachment(s) were pending")]
    UnexpectedText { remaining: usize },
    /// A binary message arrived with no binary packet waiting for it.
    #[error("binary message received with no binary packet pending")]
    UnexpectedBinary,
    /// A `{"_placeholder":true,"num":N}` object with a missing or out-of-range `num`.
    #[error("invalid attachment placeholder: {0}")]
    InvalidPlaceholder(String),
    /// An attachment that no placeholder refers to (the reference decoder silently
    /// drops it; we reject it as a malformed packet).
    #[error("attachment {index} is not referenced by any placeholder")]
    UnreferencedAttachment { index: usize },
    /// A text message on a connection using the msgpack parser.
    #[error("the msgpack parser accepts only binary messages")]
    TextMessage,
    /// A binary message that is not valid msgpack.
    #[error("malformed msgpack: {0}")]
    MsgPack(#[from] MsgPackError),
    /// A text message that is not UTF-8 (the engine should never deliver one).
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
}

/// Why bytes are not the msgpack the reference decoder (notepack.io) accepts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsgPackError {
    /// The input ends inside a value.
    #[error("unexpected end of input at byte {offset}")]
    UnexpectedEof { offset: usize },
    /// The never-used marker byte 0xc1.
    #[error("invalid marker 0x{byte:02x} at byte {offset}")]
    InvalidMarker { byte: u8, offset: usize },
    /// Bytes left after the packet.
    #[error("{count} trailing byte(s) after the packet")]
    TrailingBytes { count: usize },
    /// Arrays and maps nested deeper than the limit.
    #[error("nesting deeper than {max} levels")]
    TooDeep { max: usize },
    /// A map key that is an array, a map or binary data.
    #[error("map key at byte {offset} is not a string, number, bool or nil")]
    InvalidKey { offset: usize },
    /// The packet is not a map.
    #[error("the packet is not a msgpack map")]
    NotAMap,
}
