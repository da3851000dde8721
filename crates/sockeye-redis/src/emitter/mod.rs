//! An emitter: sends events to the clients of a Socket.IO cluster from a process that
//! is not a Socket.IO server (a web backend, a worker, a cron job), through Redis.
//!
//! It publishes exactly what the Node.js `@socket.io/redis-emitter` 5 publishes, so the
//! nodes of the cluster may be Sockeye nodes with [`RedisAdapterFactory`], the
//! `sockeye` gateway started with `--redis`, or Node.js servers with
//! `@socket.io/redis-adapter` (and any mix of them). Like its Node.js model, it is
//! fire-and-forget: nothing is acknowledged, and a node that is not connected to Redis
//! when a message is published never sees it.
//!
//! ```no_run
//! use sockeye_redis::emitter::Emitter;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//! let io = Emitter::connect(client).await?; // channel prefix "socket.io", namespace "/"
//!
//! // To everyone on "/", then to the room of user 42 except one of its sockets.
//! io.emit("notice", ("maintenance at 22:00",)).await?;
//! io.to("user:42").except("sid-to-skip").emit("notification", ("hi", 1)).await?;
//!
//! // Another namespace, binary data, a serde type.
//! let admin = io.of("/admin");
//! admin.volatile().emit("frame", (vec![0u8, 1, 2],)).await?;
//! #[derive(serde::Serialize)]
//! struct Order { id: u64, total: f64 }
//! admin.to("orders").emit_serialized("order", &Order { id: 7, total: 9.5 }).await?;
//!
//! // Rooms and connections of the clients, wherever they are connected.
//! io.to("user:42").sockets_join("premium").await?;
//! io.to("banned").disconnect_sockets(true).await?;
//!
//! // An event for the servers themselves (`io.on("cache:flush", ...)` in Node.js).
//! io.server_side_emit("cache:flush", ("users",)).await?;
//! # Ok(()) }
//! ```
//!
//! Each call returns how many Redis subscriptions received the message: with the
//! Socket.IO adapters, the number of nodes serving the namespace, so `0` means no
//! node heard it (with Redis Cluster, only the subscribers of one shard are counted).
//!
//! The prefix must match the nodes' (`key` of the Node.js adapter, `--redis-key` of the
//! gateway): [`Emitter::with_key`].
//!
//! [`RedisAdapterFactory`]: crate::RedisAdapterFactory

mod error;
mod message;

use std::sync::Arc;

use redis::aio::{ConnectionLike, ConnectionManager};
use sockeye::adapter::Room;
use sockeye::{IntoArgs, IntoRooms};

pub use error::EmitterError;
use message::{Target, REMOTE_JOIN, REMOTE_LEAVE};

/// Publishes to the sockets of one namespace of a Socket.IO cluster.
///
/// Generic over the Redis connection: a [`ConnectionManager`] (what
/// [`Emitter::connect`] opens, which reconnects by itself), a
/// `MultiplexedConnection`, or anything else that is a cheap-to-clone
/// [`ConnectionLike`]. Cloning an emitter clones its connection handle.
#[derive(Clone)]
pub struct Emitter<C = ConnectionManager> {
    conn: C,
    key: Arc<str>,
    nsp: Arc<str>,
}

impl<C> std::fmt::Debug for Emitter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.key)
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}

impl Emitter<ConnectionManager> {
    /// Opens a reconnecting connection to Redis; prefix `socket.io`, namespace `/`.
    /// Must run inside a Tokio runtime.
    pub async fn connect(client: redis::Client) -> Result<Self, EmitterError> {
        Ok(Emitter::new(client.get_connection_manager().await?))
    }
}

impl<C> Emitter<C>
where
    C: ConnectionLike + Clone + Send + Sync,
{
    /// An emitter publishing through `conn`, with the defaults of the Node.js emitter:
    /// prefix `socket.io`, namespace `/`.
    pub fn new(conn: C) -> Self {
        Emitter {
            conn,
            key: Arc::from("socket.io"),
            nsp: Arc::from("/"),
        }
    }

    /// Sets the channel prefix (the adapters' `key`).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Arc::from(key.into());
        self
    }

    /// The channel prefix.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The namespace this emitter addresses.
    pub fn namespace(&self) -> &str {
        &self.nsp
    }

    /// An emitter for namespace `nsp` (a missing leading `/` is added, as Node.js does).
    pub fn of(&self, nsp: &str) -> Self {
        let nsp = if nsp.starts_with('/') {
            nsp.to_string()
        } else {
            format!("/{nsp}")
        };
        Emitter {
            conn: self.conn.clone(),
            key: self.key.clone(),
            nsp: Arc::from(nsp),
        }
    }

    fn operator(&self) -> EmitterOperator<C> {
        EmitterOperator {
            emitter: self.clone(),
            target: Target::default(),
        }
    }

    /// Targets the sockets in `rooms` (a room, or several: sockets in any of them).
    /// Each socket is in the room named by its id, so a socket id targets one socket.
    pub fn to(&self, rooms: impl IntoRooms) -> EmitterOperator<C> {
        self.operator().to(rooms)
    }

    /// Same as [`to`](Self::to) (`in` is a Rust keyword).
    pub fn in_(&self, rooms: impl IntoRooms) -> EmitterOperator<C> {
        self.operator().to(rooms)
    }

    /// Excludes the sockets in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> EmitterOperator<C> {
        self.operator().except(rooms)
    }

    /// The event may be dropped for clients that cannot take it right now.
    pub fn volatile(&self) -> EmitterOperator<C> {
        self.operator().volatile()
    }

    /// Sets the `compress` flag (used by Node.js servers with per-message deflate).
    pub fn compress(&self, compress: bool) -> EmitterOperator<C> {
        self.operator().compress(compress)
    }

    /// Sends `event` to every socket of the namespace.
    pub async fn emit(&self, event: &str, args: impl IntoArgs) -> Result<usize, EmitterError> {
        self.operator().emit(event, args).await
    }

    /// Sends `event` with one argument of any serde type to every socket.
    pub async fn emit_serialized<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        arg: &T,
    ) -> Result<usize, EmitterError> {
        self.operator().emit_serialized(event, arg).await
    }

    /// Makes every socket of the namespace join `rooms`.
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<usize, EmitterError> {
        self.operator().sockets_join(rooms).await
    }

    /// Makes every socket of the namespace leave `rooms`.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<usize, EmitterError> {
        self.operator().sockets_leave(rooms).await
    }

    /// Disconnects every socket of the namespace; `close` also closes their
    /// underlying connections (and so their sockets in other namespaces).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<usize, EmitterError> {
        self.operator().disconnect_sockets(close).await
    }

    /// Sends `event` to the servers of the cluster (their server-side listeners), not
    /// to clients. The arguments travel as JSON: binary data is refused.
    pub async fn server_side_emit(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<usize, EmitterError> {
        message::check_event(event)?;
        let body = message::server_side_emit(event, args.into_args())?;
        self.publish(self.request_channel(), body.into_bytes())
            .await
    }

    /// `<key>#<nsp>#`, followed by `<room>#` for a broadcast to exactly one room, as
    /// the adapters subscribe to them.
    fn broadcast_channel(&self, target: &Target) -> String {
        match target.rooms.as_slice() {
            [room] => format!("{}#{}#{room}#", self.key, self.nsp),
            _ => format!("{}#{}#", self.key, self.nsp),
        }
    }

    fn request_channel(&self) -> String {
        format!("{}-request#{}#", self.key, self.nsp)
    }

    async fn publish(&self, channel: String, payload: Vec<u8>) -> Result<usize, EmitterError> {
        let mut conn = self.conn.clone();
        let receivers: usize = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut conn)
            .await?;
        tracing::trace!(%channel, receivers, "published");
        Ok(receivers)
    }
}

/// The sockets an emit or a room change applies to, with its flags: what
/// [`Emitter::to`], [`Emitter::except`], [`Emitter::volatile`] and
/// [`Emitter::compress`] return. Chain more of them, then act; an operator can be
/// used again.
#[derive(Clone)]
pub struct EmitterOperator<C = ConnectionManager> {
    emitter: Emitter<C>,
    target: Target,
}

impl<C> EmitterOperator<C>
where
    C: ConnectionLike + Clone + Send + Sync,
{
    /// Adds rooms to target (sockets in any of the rooms are reached, once).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        add_rooms(&mut self.target.rooms, rooms);
        self
    }

    /// Same as [`to`](Self::to).
    pub fn in_(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Adds rooms whose sockets are skipped.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        add_rooms(&mut self.target.except, rooms);
        self
    }

    /// The event may be dropped for clients that cannot take it right now.
    pub fn volatile(mut self) -> Self {
        self.target.volatile = true;
        self
    }

    /// Sets the `compress` flag.
    pub fn compress(mut self, compress: bool) -> Self {
        self.target.compress = Some(compress);
        self
    }

    /// Sends `event` with `args` (a tuple of values, `()`, or a `Vec<sockeye::Value>`)
    /// to the targeted sockets. Binary values reach clients as binary.
    pub async fn emit(&self, event: &str, args: impl IntoArgs) -> Result<usize, EmitterError> {
        message::check_event(event)?;
        let nsp = self.emitter.namespace();
        let bytes = message::broadcast(nsp, &self.target, event, args.into_args())?;
        let channel = self.emitter.broadcast_channel(&self.target);
        self.emitter.publish(channel, bytes).await
    }

    /// Sends `event` with one argument of any serde type (bytes serialized with
    /// `serde_bytes` arrive as binary).
    pub async fn emit_serialized<T: serde::Serialize + ?Sized>(
        &self,
        event: &str,
        arg: &T,
    ) -> Result<usize, EmitterError> {
        let value = sockeye::to_value(arg)?;
        self.emit(event, vec![value]).await
    }

    /// Makes the targeted sockets join `rooms`.
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<usize, EmitterError> {
        let rooms = rooms.into_rooms();
        let body = message::rooms_request(REMOTE_JOIN, &self.target, &rooms);
        self.emitter
            .publish(self.emitter.request_channel(), body.into_bytes())
            .await
    }

    /// Makes the targeted sockets leave `rooms`.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<usize, EmitterError> {
        let rooms = rooms.into_rooms();
        let body = message::rooms_request(REMOTE_LEAVE, &self.target, &rooms);
        self.emitter
            .publish(self.emitter.request_channel(), body.into_bytes())
            .await
    }

    /// Disconnects the targeted sockets; `close` also closes their connections.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<usize, EmitterError> {
        let body = message::disconnect_request(&self.target, close);
        self.emitter
            .publish(self.emitter.request_channel(), body.into_bytes())
            .await
    }
}

/// Adds rooms to a list, keeping the first occurrence of each (a JavaScript `Set`).
fn add_rooms(list: &mut Vec<Room>, rooms: impl IntoRooms) {
    for room in rooms.into_rooms() {
        if !list.contains(&room) {
            list.push(room);
        }
    }
}
