//! The units the application exchanges with a session.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

/// A message sent to a client. Cheap to clone, so one broadcast shares one buffer.
///
/// A text message holds the whole Engine.IO `message` packet, *including* its leading
/// `4` type digit: every transport (websocket frame, v4 and v3 polling payloads) can then
/// write the same bytes without copying them per recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// `b'4'` followed by UTF-8 text.
    Text(Bytes),
    /// Raw binary data (the transport adds whatever framing its protocol needs).
    Binary(Bytes),
}

impl Message {
    /// A text message from its payload (the `4` type digit is added here).
    pub fn text(payload: &str) -> Self {
        let mut buf = BytesMut::with_capacity(payload.len() + 1);
        buf.put_u8(b'4');
        buf.put_slice(payload.as_bytes());
        Message::Text(buf.freeze())
    }

    /// A text message from an already framed packet: `packet` must be `b'4'` followed by
    /// valid UTF-8. Encoders use this to build the frame in a single allocation.
    pub fn from_text_packet(packet: Bytes) -> Self {
        debug_assert!(packet.first() == Some(&b'4'));
        debug_assert!(std::str::from_utf8(&packet).is_ok());
        Message::Text(packet)
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// The text payload without the type digit, if this is a text message.
    pub fn text_payload(&self) -> Option<&str> {
        match self {
            Message::Text(b) => std::str::from_utf8(b.get(1..)?).ok(),
            Message::Binary(_) => None,
        }
    }

    /// Size of the payload in bytes (without framing).
    pub fn payload_len(&self) -> usize {
        match self {
            Message::Text(b) => b.len().saturating_sub(1),
            Message::Binary(b) => b.len(),
        }
    }
}

/// What goes into a session's outgoing queue: one message, or a group of messages
/// that must reach the client back to back (a Socket.IO packet followed by its binary
/// attachments). A group is shared between the recipients of a broadcast.
#[derive(Clone, Debug)]
pub enum Outgoing {
    One(Message),
    Group(Arc<[Message]>),
}

impl Outgoing {
    /// The messages, in order.
    pub fn messages(&self) -> &[Message] {
        match self {
            Outgoing::One(m) => std::slice::from_ref(m),
            Outgoing::Group(g) => g,
        }
    }
}

impl From<Message> for Outgoing {
    fn from(m: Message) -> Self {
        Outgoing::One(m)
    }
}

impl From<Arc<[Message]>> for Outgoing {
    fn from(g: Arc<[Message]>) -> Self {
        if g.len() == 1 {
            Outgoing::One(g[0].clone())
        } else {
            Outgoing::Group(g)
        }
    }
}

/// A message received from a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Text payload (valid UTF-8, without the `4` type digit).
    Text(Bytes),
    /// Binary payload.
    Binary(Bytes),
}

impl Incoming {
    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Incoming::Text(b) => std::str::from_utf8(b).ok(),
            Incoming::Binary(_) => None,
        }
    }
}
