//! The Socket.IO packet, independent of how it is encoded.

use crate::Value;

/// The Socket.IO protocol revision spoken on a connection: v4 for Engine.IO v3
/// clients (socket.io-client 2.x), v5 for Engine.IO v4 clients (3.x/4.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolRevision {
    V4,
    V5,
}

/// What a packet carries.
#[derive(Clone, Debug, PartialEq)]
pub enum PacketData {
    /// Client → server: the auth payload in v5 (`None` when absent); in v4, the query
    /// string of the namespace (`/chat?token=x`) as an object, as socket.io 4 gives 2.x clients.
    /// Server → client: `{"sid": …}` in v5, nothing in v4.
    Connect(Option<Value>),
    Disconnect,
    /// An event: its name and arguments. Encoded as `BINARY_EVENT` when an argument
    /// holds binary data.
    Event {
        name: String,
        args: Vec<Value>,
    },
    /// An acknowledgement's arguments (`BINARY_ACK` when they hold binary data).
    Ack(Vec<Value>),
    /// v5: `{"message": …, "data": …}`; v4: a string.
    ConnectError(Value),
}

/// A Socket.IO packet.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    /// Namespace, `/` by default.
    pub nsp: String,
    /// Ack id of an event that expects an answer, or of the ack answering it.
    pub id: Option<u64>,
    pub data: PacketData,
}

impl Packet {
    pub fn event(nsp: impl Into<String>, name: impl Into<String>, args: Vec<Value>) -> Self {
        Packet {
            nsp: nsp.into(),
            id: None,
            data: PacketData::Event {
                name: name.into(),
                args,
            },
        }
    }
}
