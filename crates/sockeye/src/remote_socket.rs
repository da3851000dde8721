//! A socket seen through the adapter: possibly on another node.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::adapter::{Adapter, AdapterError, BroadcastOptions, Room};
use crate::{IntoArgs, IntoRooms, Packet, Socket, Value};

/// What a node can tell another about one of its sockets (what the Node.js
/// `fetchSockets()` returns). Serializable so cluster adapters can ship it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketDescription {
    pub id: String,
    pub nsp: String,
    pub rooms: Vec<String>,
    pub data: Value,
    /// The CONNECT payload.
    pub auth: Value,
    /// The peer address, if known.
    pub address: Option<String>,
    /// The request headers (lower-case names).
    pub headers: Vec<(String, String)>,
}

/// A socket returned by `fetch_sockets`, local or remote. Its actions go through the
/// adapter, so they work wherever the socket lives.
#[derive(Clone)]
pub struct RemoteSocket {
    pub description: SocketDescription,
    adapter: Arc<dyn Adapter>,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.description.fmt(f)
    }
}

impl RemoteSocket {
    /// A description of a socket and the adapter that can reach it.
    pub fn new(description: SocketDescription, adapter: Arc<dyn Adapter>) -> Self {
        RemoteSocket {
            description,
            adapter,
        }
    }

    pub(crate) fn from_local(socket: &Socket) -> Self {
        let request = socket.request();
        let description = SocketDescription {
            id: socket.id().to_string(),
            nsp: socket.nsp().to_string(),
            rooms: socket.rooms().iter().map(|r| r.to_string()).collect(),
            data: socket.data(),
            auth: socket.auth().clone(),
            address: request.remote_addr.map(|a| a.ip().to_string()),
            headers: request
                .headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect(),
        };
        RemoteSocket {
            description,
            adapter: socket.inner.ns.adapter.clone(),
        }
    }

    pub fn id(&self) -> &str {
        &self.description.id
    }
    pub fn rooms(&self) -> &[String] {
        &self.description.rooms
    }
    pub fn data(&self) -> &Value {
        &self.description.data
    }

    fn only_this(&self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: vec![Room::from(self.id())],
            ..Default::default()
        }
    }

    /// Emits an event to this socket.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), AdapterError> {
        let packet = Packet::event(&*self.description.nsp, event, args.into_args());
        self.adapter.broadcast(packet, self.only_this())
    }
    /// Makes this socket join rooms.
    pub fn join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.adapter
            .add_sockets(self.only_this(), rooms.into_rooms())
    }
    /// Makes this socket leave rooms.
    pub fn leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.adapter
            .del_sockets(self.only_this(), rooms.into_rooms())
    }
    /// Disconnects this socket.
    pub fn disconnect(&self, close: bool) -> Result<(), AdapterError> {
        self.adapter.disconnect_sockets(self.only_this(), close)
    }
}
