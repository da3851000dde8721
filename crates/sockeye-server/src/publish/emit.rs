//! What a publication is and how it reaches the sockets, shared by the HTTP API and
//! the Redis bridge so both apply the same rules.

use sockeye::adapter::{BroadcastOptions, Room};
use sockeye::{Namespace, Packet, SocketIo, Value};

/// Longest accepted event name. Event names are identifiers chosen by developers;
/// anything longer is almost certainly a payload sent in the wrong field.
pub const MAX_EVENT_NAME_BYTES: usize = 256;

/// Event names the Socket.IO clients and servers give a meaning of their own. A
/// backend emitting them would fake connection lifecycle events on the clients (the
/// same list the protocol parser refuses from clients).
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// One event to emit, as a backend asked for it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Publication {
    /// Target namespace; `None` means the configured `bridge_namespace`.
    pub namespace: Option<String>,
    /// Target the sockets in any of these rooms; empty means every socket.
    pub rooms: Vec<String>,
    /// Leave out the sockets in any of these rooms.
    pub except: Vec<String>,
    pub event: String,
    pub args: Vec<Value>,
}

/// What a successful publication did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The namespace's canonical name.
    pub namespace: String,
    /// Sockets of this node selected when the event was emitted. Sockets that join or
    /// leave at that very moment, and sockets of other nodes, are not counted.
    pub recipients: usize,
}

/// Why a publication was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    #[error("`event` is missing or empty")]
    EmptyEvent,
    #[error("the event name is longer than {max} bytes", max = MAX_EVENT_NAME_BYTES)]
    EventTooLong,
    #[error("the event name {0:?} is reserved by Socket.IO")]
    ReservedEvent(String),
    #[error("there is no namespace {0:?} on this server")]
    UnknownNamespace(String),
    #[error("the event could not be delivered: {0}")]
    Emit(String),
}

/// Checks the event name against the protocol's rules.
fn check_event(event: &str) -> Result<(), PublishError> {
    if event.is_empty() {
        return Err(PublishError::EmptyEvent);
    }
    if event.len() > MAX_EVENT_NAME_BYTES {
        return Err(PublishError::EventTooLong);
    }
    if RESERVED_EVENTS.contains(&event) {
        return Err(PublishError::ReservedEvent(event.to_string()));
    }
    Ok(())
}

/// Looks the namespace up without creating it: a typo in a backend must not create
/// an empty namespace that nobody listens to.
fn namespace(io: &SocketIo, name: &str) -> Result<Namespace, PublishError> {
    io.of(name)
        .ok_or_else(|| PublishError::UnknownNamespace(name.to_string()))
}

/// Validates `publication` and emits it; `default_namespace` applies when the
/// publication names none.
pub fn publish(
    io: &SocketIo,
    default_namespace: &str,
    publication: Publication,
) -> Result<Delivered, PublishError> {
    check_event(&publication.event)?;
    let ns_name = publication
        .namespace
        .as_deref()
        .unwrap_or(default_namespace);
    let ns = namespace(io, ns_name)?;
    // Not `local`: once a cluster adapter is installed the event reaches every node.
    let opts = BroadcastOptions {
        rooms: rooms(publication.rooms),
        except: rooms(publication.except),
        ..BroadcastOptions::default()
    };
    // Counted on the same selection just before emitting: the answer says how many
    // sockets of this node the event was sent to.
    let recipients = ns.adapter().sockets(&opts).len();
    let packet = Packet::event(ns.name(), publication.event, publication.args);
    ns.adapter()
        .broadcast(packet, opts)
        .map_err(|e| PublishError::Emit(e.to_string()))?;
    Ok(Delivered {
        namespace: ns.name().to_string(),
        recipients,
    })
}

/// Room names without duplicates, in the order given.
fn rooms(names: Vec<String>) -> Vec<Room> {
    let mut out: Vec<Room> = Vec::with_capacity(names.len());
    for name in names {
        if !out.iter().any(|r| **r == *name) {
            out.push(name.into());
        }
    }
    out
}
