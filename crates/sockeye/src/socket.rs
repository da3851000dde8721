//! A socket: one client in one namespace.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use sockeye_engine::{Outgoing, RequestInfo, Transport};
use tokio::sync::{mpsc, oneshot};

use crate::adapter::{BroadcastOptions, Room, SocketId};
use crate::client::Client;
use crate::handlers::{
    run_inline, AnyHandler, DisconnectHandler, DisconnectingHandler, EventHandler, EventMiddleware,
    RefusedHandler,
};
use crate::namespace::NamespaceInner;
use crate::operators::BroadcastOperator;
use crate::recovery::{self, SessionState};
use crate::{
    parser, AckError, DisconnectReason, EmitError, EventRefused, IntoArgs, IntoRooms, Packet,
    PacketData, ProtocolRevision, Value,
};

/// Where an acknowledgement goes: one waiting emit, or the collector of a broadcast.
enum AckSink {
    Once(oneshot::Sender<Vec<Value>>),
    Shared(mpsc::UnboundedSender<Vec<Value>>),
}

/// A socket's handlers. Every connected socket holds one for its whole life, so it is
/// kept small: events in a vector (a socket has a few, found faster than by hashing),
/// the other kinds behind one box allocated at the first of them.
#[derive(Default)]
struct Handlers {
    events: Vec<(Box<str>, EventHandler)>,
    more: Option<Box<MoreHandlers>>,
}

#[derive(Default)]
struct MoreHandlers {
    any: Vec<AnyHandler>,
    middleware: Vec<EventMiddleware>,
    refused: Vec<RefusedHandler>,
    disconnecting: Vec<DisconnectingHandler>,
    disconnect: Vec<DisconnectHandler>,
}

impl Handlers {
    fn more(&mut self) -> &mut MoreHandlers {
        self.more.get_or_insert_with(Default::default)
    }

    fn event(&self, name: &str) -> Option<EventHandler> {
        self.events
            .iter()
            .find(|(n, _)| **n == *name)
            .map(|(_, h)| h.clone())
    }
}

/// The `auth` kept by a socket: `None` for the usual empty object.
fn keep_auth(auth: Value) -> Option<Box<Value>> {
    match &auth {
        Value::Object(map) if map.is_empty() => None,
        _ => Some(Box::new(auth)),
    }
}

/// The application data kept by a socket: `None` for null.
fn keep_data(data: Value) -> Option<Box<Value>> {
    match data {
        Value::Null => None,
        data => Some(Box::new(data)),
    }
}

pub(crate) struct SocketInner {
    id: SocketId,
    pub(crate) ns: Arc<NamespaceInner>,
    pub(crate) client: Arc<Client>,
    /// `None` for an empty object (see [`keep_auth`]).
    auth: Option<Box<Value>>,
    handlers: RwLock<Handlers>,
    acks: Mutex<HashMap<u64, AckSink>>,
    /// `None` for null (see [`keep_data`]).
    data: RwLock<Option<Box<Value>>>,
    connected: AtomicBool,
    /// The private session id of connection state recovery (v5 clients, recovery on).
    pid: Option<Arc<str>>,
    recovered: bool,
    /// While a recovered socket gets its missed packets, newer broadcasts wait here
    /// (with their offsets, to drop those the replay already covered).
    replaying: AtomicBool,
    replay: Mutex<Option<Vec<HeldPacket>>>,
}

/// A broadcast held back during a recovery, with its recovery offset if it has one.
type HeldPacket = (Option<Arc<str>>, Outgoing);

/// A client connected to a namespace. Cheap to clone.
///
/// ```no_run
/// # use sockeye::{SocketIo, Socket, Event};
/// # let io = SocketIo::builder().build();
/// io.ns("/", |socket: Socket| async move {
///     socket.on("chat", |socket: Socket, event: Event| async move {
///         socket.to("lobby").emit("chat", event.args).ok();
///     });
/// });
/// ```
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", &self.inner.ns.name)
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(
        id: SocketId,
        ns: Arc<NamespaceInner>,
        client: Arc<Client>,
        auth: Value,
    ) -> Self {
        let pid = (ns.recovery.is_some() && client.revision == ProtocolRevision::V5)
            .then(|| Arc::from(SocketId::random().as_str()));
        Socket {
            inner: Arc::new(SocketInner {
                id,
                ns,
                client,
                auth: keep_auth(auth),
                handlers: RwLock::new(Handlers::default()),
                acks: Mutex::new(HashMap::new()),
                data: RwLock::new(None),
                connected: AtomicBool::new(false),
                pid,
                recovered: false,
                replaying: AtomicBool::new(false),
                replay: Mutex::new(None),
            }),
        }
    }

    /// The socket of a recovered session: same id, private id, rooms and data. Its
    /// broadcasts are held back until [`finish_replay`](Self::finish_replay).
    pub(crate) fn restored(
        state: SessionState,
        ns: Arc<NamespaceInner>,
        client: Arc<Client>,
        auth: Value,
    ) -> Self {
        let rooms: Vec<Room> = state
            .rooms
            .into_iter()
            .filter(|r| **r != *state.sid.as_str())
            .collect();
        let socket = Socket {
            inner: Arc::new(SocketInner {
                id: state.sid,
                ns,
                client,
                auth: keep_auth(auth),
                handlers: RwLock::new(Handlers::default()),
                acks: Mutex::new(HashMap::new()),
                data: RwLock::new(keep_data(state.data)),
                connected: AtomicBool::new(false),
                pid: Some(state.pid),
                recovered: true,
                replaying: AtomicBool::new(true),
                replay: Mutex::new(Some(Vec::new())),
            }),
        };
        socket.join(rooms);
        socket
    }

    /// The socket's id (unique per namespace; also the name of a room holding only it).
    pub fn id(&self) -> &SocketId {
        &self.inner.id
    }

    /// The namespace's name.
    pub fn nsp(&self) -> &str {
        &self.inner.ns.name
    }

    /// The namespace the socket belongs to.
    pub fn namespace(&self) -> crate::Namespace {
        crate::Namespace {
            inner: self.inner.ns.clone(),
        }
    }

    /// The CONNECT payload (`auth` option of the client), `{}` when there was none.
    pub fn auth(&self) -> &Value {
        static EMPTY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
        match &self.inner.auth {
            Some(auth) => auth,
            None => EMPTY.get_or_init(|| Value::Object(crate::value::Map::default())),
        }
    }

    /// The HTTP request that opened the connection (headers, cookies, query, address).
    pub fn request(&self) -> &RequestInfo {
        self.inner.client.engine.request()
    }

    /// The Socket.IO protocol revision of the client (v4 for socket.io-client 2.x).
    pub fn protocol(&self) -> ProtocolRevision {
        self.inner.client.revision
    }

    /// The transport in use now.
    pub fn transport(&self) -> Transport {
        self.inner.client.engine.transport()
    }

    /// True when this socket is one that lost its connection and got it back within the
    /// connection state recovery window (same id, rooms and data; the missed events were
    /// sent again). Always false when recovery is off.
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// True until the socket disconnects.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// The application's data attached to the socket.
    pub fn data(&self) -> Value {
        self.inner
            .data
            .read()
            .as_deref()
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces the application's data attached to the socket.
    pub fn set_data(&self, data: impl Into<Value>) {
        *self.inner.data.write() = keep_data(data.into());
    }

    /// Registers the handler of an event. The handler's `Event` carries the arguments
    /// and, when the client asked for one, the acknowledgement to send back.
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, e| Box::pin(handler(s, e)));
        let mut handlers = self.inner.handlers.write();
        match handlers.events.iter_mut().find(|(n, _)| **n == *event) {
            Some((_, h)) => *h = handler,
            None => handlers.events.push((event.into(), handler)),
        }
    }

    /// Registers a handler called with every incoming event, before its own handler.
    pub fn on_any(&self, handler: impl Fn(&Socket, &Event) + Send + Sync + 'static) {
        self.inner
            .handlers
            .write()
            .more()
            .any
            .push(Arc::new(handler));
    }

    /// Adds a per-event middleware (like `socket.use`): it may change the event, or
    /// refuse it, in which case no handler runs and [`on_refused`](Self::on_refused)
    /// handlers are told.
    pub fn use_middleware(
        &self,
        middleware: impl Fn(&Socket, &mut Event) -> Result<(), EventRefused> + Send + Sync + 'static,
    ) {
        self.inner
            .handlers
            .write()
            .more()
            .middleware
            .push(Arc::new(middleware));
    }

    /// Called when a per-event middleware refuses an event.
    pub fn on_refused(
        &self,
        handler: impl Fn(&Socket, &Event, &EventRefused) + Send + Sync + 'static,
    ) {
        self.inner
            .handlers
            .write()
            .more()
            .refused
            .push(Arc::new(handler));
    }

    /// Called when the socket is about to disconnect, while it is still in its rooms.
    pub fn on_disconnecting(
        &self,
        handler: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) {
        self.inner
            .handlers
            .write()
            .more()
            .disconnecting
            .push(Arc::new(handler));
    }

    /// Called once the socket has disconnected.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner
            .handlers
            .write()
            .more()
            .disconnect
            .push(Arc::new(move |s, r| Box::pin(handler(s, r))));
    }

    /// Emits an event to this client.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit_packet(Packet::event(self.nsp(), event, args.into_args()))
    }

    /// Emits a `message` event (like `socket.send`).
    pub fn send(&self, args: impl IntoArgs) -> Result<(), EmitError> {
        self.emit("message", args)
    }

    /// Emits an event and waits for the client's acknowledgement (with no timeout; use
    /// [`timeout`](Self::timeout) to bound the wait).
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Value>, AckError> {
        self.emit_with_ack_inner(event, args.into_args(), None, false)
            .await
    }

    /// Emit modifiers for this socket only.
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: Some(timeout),
            volatile: false,
        }
    }

    /// The next emit may be lost if the client is not ready for it.
    pub fn volatile(&self) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: None,
            volatile: true,
        }
    }

    fn broadcaster(&self) -> BroadcastOperator {
        let opts = BroadcastOptions {
            except: vec![Room::from(self.id().as_str())],
            ..BroadcastOptions::default()
        };
        BroadcastOperator::new(self.inner.ns.clone(), opts)
    }

    /// Every other socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        self.broadcaster()
    }
    /// The sockets in `room`, except this one.
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcaster().to(room)
    }
    /// Same as [`to`](Self::to).
    pub fn within(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcaster().to(room)
    }
    /// Every other socket not in `room`.
    pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.broadcaster().except(room)
    }
    /// Every other socket of this node.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcaster().local()
    }

    /// Joins one room or several. Works in connect middleware too; the rooms are left
    /// again if the socket is refused.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.inner
            .ns
            .adapter
            .add_all(self.id(), &rooms.into_rooms());
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.inner.ns.adapter.del(self.id(), room);
    }

    /// The rooms the socket is in, starting with its own id.
    pub fn rooms(&self) -> Vec<Room> {
        let mut rooms = vec![Room::from(self.id().as_str())];
        rooms.extend(self.inner.ns.adapter.socket_rooms(self.id()));
        rooms
    }

    /// Disconnects the socket from its namespace; the client is told and does not
    /// reconnect by itself (reason `io server disconnect` on the client).
    pub fn disconnect(&self) {
        self.disconnect_with(false)
    }

    /// Like [`disconnect`](Self::disconnect); with `close` the whole connection
    /// closes, and its sockets in other namespaces go too.
    pub fn disconnect_with(&self, close: bool) {
        if !self.connected() {
            return;
        }
        let packet = Packet {
            nsp: self.nsp().to_string(),
            id: None,
            data: PacketData::Disconnect,
        };
        let _ = self.send_packet(packet, false);
        self.close(DisconnectReason::ServerNamespaceDisconnect);
        if close {
            self.inner
                .client
                .close_with(DisconnectReason::ForcedServerClose);
        }
    }

    // ---- internals ----

    pub(crate) fn pid(&self) -> Option<&Arc<str>> {
        self.inner.pid.as_ref()
    }

    /// Sends an event without acknowledgement. With connection state recovery on, it
    /// goes through the adapter, as in the reference server, so that it gets an offset
    /// and is kept for the client in case it misses it.
    fn emit_packet(&self, packet: Packet) -> Result<(), EmitError> {
        if self.inner.ns.recovery.is_none() {
            return self.send_packet(packet, false);
        }
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        let opts = BroadcastOptions {
            rooms: vec![Room::from(self.id().as_str())],
            ..BroadcastOptions::default()
        };
        self.inner
            .ns
            .adapter
            .broadcast(packet, opts)
            .map_err(|e| EmitError::Adapter(e.to_string()))
    }

    pub(crate) fn mark_connected(&self) {
        self.inner.connected.store(true, Ordering::Release);
    }

    fn send_packet(&self, packet: Packet, volatile: bool) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        let client = &self.inner.client;
        let encoded = parser::encode(client.parser, client.revision, &packet);
        client.send(encoded, volatile)
    }

    /// Queues an already encoded packet; false when it was dropped.
    pub(crate) fn send_encoded(&self, encoded: &Outgoing, volatile: bool) -> bool {
        self.send_recorded(encoded, volatile, None)
    }

    /// Queues an encoded broadcast packet kept for recovery under `offset` (held back
    /// while the socket is being recovered); false when it was dropped.
    pub(crate) fn send_recorded(
        &self,
        encoded: &Outgoing,
        volatile: bool,
        offset: Option<&Arc<str>>,
    ) -> bool {
        if self.inner.replaying.load(Ordering::Acquire) {
            let mut replay = self.inner.replay.lock();
            if let Some(held) = replay.as_mut() {
                held.push((offset.cloned(), encoded.clone()));
                return true;
            }
        }
        self.connected() && self.inner.client.send(encoded.clone(), volatile).is_ok()
    }

    /// Ends the recovery of a socket: sends the missed packets in order, then the
    /// broadcasts held back meanwhile, except those already among the missed ones.
    pub(crate) fn finish_replay(&self, missed: Vec<Packet>) {
        let client = &self.inner.client;
        let mut replay = self.inner.replay.lock();
        let mut sent: std::collections::HashSet<String> = std::collections::HashSet::new();
        for packet in &missed {
            if let Some(offset) = recovery::offset_of(packet) {
                if !sent.insert(offset.to_string()) {
                    continue;
                }
            }
            let encoded = parser::encode(client.parser, client.revision, packet);
            let _ = client.send(encoded, false);
        }
        for (offset, encoded) in replay.take().into_iter().flatten() {
            if offset.is_some_and(|o| sent.contains(&*o)) {
                continue;
            }
            let _ = client.send(encoded, false);
        }
        self.inner.replaying.store(false, Ordering::Release);
    }

    pub(crate) fn expect_shared_ack(&self, id: u64, tx: mpsc::UnboundedSender<Vec<Value>>) {
        self.inner.acks.lock().insert(id, AckSink::Shared(tx));
    }

    pub(crate) fn forget_ack(&self, id: u64) {
        self.inner.acks.lock().remove(&id);
    }

    async fn emit_with_ack_inner(
        &self,
        event: &str,
        args: Vec<Value>,
        timeout: Option<Duration>,
        volatile: bool,
    ) -> Result<Vec<Value>, AckError> {
        let id = self.inner.ns.next_ack_id();
        let (tx, rx) = oneshot::channel();
        self.inner.acks.lock().insert(id, AckSink::Once(tx));
        let mut packet = Packet::event(self.nsp(), event, args);
        packet.id = Some(id);
        if let Err(e) = self.send_packet(packet, volatile) {
            self.forget_ack(id);
            return Err(e.into());
        }
        let answer = match timeout {
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    self.forget_ack(id);
                    return Err(AckError::Timeout(t));
                }
            },
            None => rx.await,
        };
        answer.map_err(|_| AckError::Disconnected)
    }

    /// Handles a packet addressed to this socket.
    pub(crate) fn on_packet(&self, packet: Packet) {
        match packet.data {
            PacketData::Event { name, args } => {
                let ack = packet.id.map(|id| AckSender {
                    socket: self.clone(),
                    id,
                });
                self.on_event(Event { name, args, ack });
            }
            PacketData::Ack(args) => {
                let Some(id) = packet.id else { return };
                let sink = self.inner.acks.lock().remove(&id);
                match sink {
                    Some(AckSink::Once(tx)) => {
                        let _ = tx.send(args);
                    }
                    Some(AckSink::Shared(tx)) => {
                        let _ = tx.send(args);
                    }
                    None => tracing::debug!(sid = %self.id(), id, "ack with unknown id ignored"),
                }
            }
            PacketData::Disconnect => self.close(DisconnectReason::ClientNamespaceDisconnect),
            PacketData::Connect(_) | PacketData::ConnectError(_) => {}
        }
    }

    fn on_event(&self, mut event: Event) {
        let (middleware, any, handler) = {
            let h = self.inner.handlers.read();
            let more = h.more.as_deref();
            (
                more.filter(|m| !m.middleware.is_empty())
                    .map(|m| m.middleware.clone()),
                more.filter(|m| !m.any.is_empty()).map(|m| m.any.clone()),
                h.event(&event.name),
            )
        };
        // As in the reference server, catch-all handlers see every event, even those a
        // middleware then refuses.
        for h in any.iter().flatten() {
            h(self, &event);
        }
        for mw in middleware.iter().flatten() {
            if let Err(refused) = mw(self, &mut event) {
                let refused_handlers = self
                    .inner
                    .handlers
                    .read()
                    .more
                    .as_deref()
                    .map(|m| m.refused.clone())
                    .unwrap_or_default();
                if refused_handlers.is_empty() {
                    tracing::debug!(sid = %self.id(), event = %event.name, %refused, "event refused by middleware");
                }
                for h in refused_handlers {
                    h(self, &event, &refused);
                }
                return;
            }
        }
        if let Some(handler) = handler {
            run_inline(handler(self.clone(), event));
        }
    }

    /// Leaves the namespace: runs the disconnect handlers, leaves the rooms, fails the
    /// pending acknowledgements. Runs once.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        let (disconnecting, disconnect) = {
            match self.inner.handlers.read().more.as_deref() {
                Some(m) => (m.disconnecting.clone(), m.disconnect.clone()),
                None => (Vec::new(), Vec::new()),
            }
        };
        for h in &disconnecting {
            h(self, reason);
        }
        // Kept after the socket left the room index and the namespace, so that a quick
        // recovery (on another thread) cannot be undone by this cleanup.
        let session = match &self.inner.pid {
            Some(pid) if recovery::is_recoverable(reason) => Some(SessionState {
                sid: self.id().clone(),
                pid: pid.clone(),
                rooms: self.rooms(),
                data: self.data(),
            }),
            _ => None,
        };
        self.inner.ns.adapter.del_all(self.id());
        self.inner.ns.sockets.write().remove(self.id());
        self.inner.client.remove_socket(self.nsp());
        if let Some(session) = session {
            self.inner.ns.adapter.persist_session(session);
        }
        // Dropping the senders makes every pending emit_with_ack fail with Disconnected.
        self.inner.acks.lock().clear();
        for h in disconnect {
            run_inline(h(self.clone(), reason));
        }
        // Handlers capture sockets; clearing them breaks the reference cycles.
        *self.inner.handlers.write() = Handlers::default();
    }
}

/// Emit modifiers for one socket: [`Socket::timeout`] and [`Socket::volatile`].
#[derive(Clone)]
pub struct SocketEmitter {
    socket: Socket,
    timeout: Option<Duration>,
    volatile: bool,
}

impl SocketEmitter {
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }
    /// Emits the event (dropped silently when volatile and the client is not ready).
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let packet = Packet::event(self.socket.nsp(), event, args.into_args());
        if self.volatile {
            self.socket.send_packet(packet, true)
        } else {
            self.socket.emit_packet(packet)
        }
    }
    /// Emits the event and waits for the acknowledgement, at most the timeout.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Value>, AckError> {
        self.socket
            .emit_with_ack_inner(event, args.into_args(), self.timeout, self.volatile)
            .await
    }
}

/// An incoming event.
#[derive(Debug)]
pub struct Event {
    /// The event's name.
    pub name: String,
    /// Its arguments (binary attachments are `Value::Binary`).
    pub args: Vec<Value>,
    /// Present when the client waits for an acknowledgement.
    pub ack: Option<AckSender>,
}

impl Event {
    /// Argument `i`, if present.
    pub fn arg(&self, i: usize) -> Option<&Value> {
        self.args.get(i)
    }

    /// Sends the acknowledgement, if the client asked for one. Later calls do nothing.
    pub fn ack(&mut self, args: impl IntoArgs) -> Result<(), EmitError> {
        match self.ack.take() {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }
}

/// Answers one event's acknowledgement.
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl std::fmt::Debug for AckSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckSender").field("id", &self.id).finish()
    }
}

impl AckSender {
    /// Sends the acknowledgement with these arguments.
    pub fn send(self, args: impl IntoArgs) -> Result<(), EmitError> {
        let packet = Packet {
            nsp: self.socket.nsp().to_string(),
            id: Some(self.id),
            data: PacketData::Ack(args.into_args()),
        };
        self.socket.send_packet(packet, false)
    }
}
