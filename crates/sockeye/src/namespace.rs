//! Namespaces: a name, its sockets, its middleware, its adapter.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;
use sockeye_engine::Outgoing;

use crate::adapter::{
    Adapter, AdapterFactory, BroadcastOptions, Room, ServerEvent, ServerEventHandler,
    ServerSideEmitError, SocketId, RESERVED_EVENTS,
};
use crate::handlers::{ConnectMiddleware, ConnectionHandler};
use crate::operators::BroadcastOperator;
use crate::{parser, ConnectError, Packet, ParserKind, ProtocolRevision, RecoveryConfig, Socket};

/// What a namespace does with new sockets; shared by the children of a dynamic
/// namespace.
pub(crate) struct NamespaceHandlers {
    pub(crate) on_connection: RwLock<ConnectionHandler>,
    pub(crate) middleware: RwLock<Vec<ConnectMiddleware>>,
}

pub(crate) struct NamespaceInner {
    pub(crate) name: Arc<str>,
    /// Socket ids are random and made here, so a fast hash is enough.
    pub(crate) sockets: RwLock<foldhash::HashMap<SocketId, Socket>>,
    pub(crate) handlers: Arc<NamespaceHandlers>,
    pub(crate) adapter: Arc<dyn Adapter>,
    ack_ids: AtomicU64,
    /// Connection state recovery, when the server enables it.
    pub(crate) recovery: Option<RecoveryConfig>,
    /// Handlers of the events other nodes send with `server_side_emit`.
    pub(crate) server_events: RwLock<HashMap<String, ServerEventHandler>>,
}

impl NamespaceInner {
    pub(crate) fn new(
        name: &str,
        parser: ParserKind,
        handlers: Arc<NamespaceHandlers>,
        adapters: &dyn AdapterFactory,
        recovery: Option<RecoveryConfig>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|weak| {
            let ctx = AdapterContext {
                ns: weak.clone(),
                name: name.into(),
                parser,
                recovery: recovery.clone(),
            };
            NamespaceInner {
                name: name.into(),
                sockets: RwLock::new(foldhash::HashMap::default()),
                handlers,
                adapter: adapters.create(ctx),
                ack_ids: AtomicU64::new(0),
                recovery,
                server_events: RwLock::new(HashMap::new()),
            }
        })
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn middleware(&self) -> Vec<ConnectMiddleware> {
        self.handlers.middleware.read().clone()
    }
}

/// A namespace of the server. Cheap to clone.
///
/// ```no_run
/// # use sockeye::{SocketIo, Socket};
/// # let io = SocketIo::builder().build();
/// let chat = io.ns("/chat", |socket: Socket| async move {
///     socket.join("lobby");
/// });
/// chat.to("lobby").emit("news", ("hello",)).ok();
/// ```
#[derive(Clone)]
pub struct Namespace {
    pub(crate) inner: Arc<NamespaceInner>,
}

impl Namespace {
    /// The namespace's name, such as `/` or `/chat`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Adds a connect middleware: it runs before a socket joins the namespace and may
    /// refuse it with a [`ConnectError`], which the client receives as `connect_error`.
    /// Middleware may read the handshake and set the socket's data.
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.inner
            .handlers
            .middleware
            .write()
            .push(Arc::new(move |s| Box::pin(middleware(s))));
        self
    }

    /// The local sockets of this namespace.
    pub fn sockets(&self) -> Vec<Socket> {
        self.inner.sockets.read().values().cloned().collect()
    }

    /// A local socket by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.inner.sockets.read().get(id).cloned()
    }

    /// The adapter (rooms and broadcast).
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.inner.adapter
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.inner.clone(), BroadcastOptions::default())
    }

    /// Targets the sockets in `room` (can be chained).
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.operator().to(room)
    }
    /// Same as [`to`](Self::to).
    pub fn within(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.operator().to(room)
    }
    /// Leaves out the sockets in `room`.
    pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.operator().except(room)
    }
    /// Only this node's sockets.
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }
    /// The packet may be lost for clients that are not ready for it.
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }
    /// Timeout for [`BroadcastOperator::emit_with_ack`].
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }
    /// Emits an event to every socket of the namespace.
    pub fn emit(&self, event: &str, args: impl crate::IntoArgs) -> Result<(), crate::EmitError> {
        self.operator().emit(event, args)
    }
    /// All sockets of the namespace, across the cluster.
    pub async fn fetch_sockets(
        &self,
    ) -> Result<Vec<crate::RemoteSocket>, crate::adapter::AdapterError> {
        self.operator().fetch_sockets().await
    }
    /// Makes every socket join rooms.
    pub fn sockets_join(
        &self,
        rooms: impl crate::IntoRooms,
    ) -> Result<(), crate::adapter::AdapterError> {
        self.operator().sockets_join(rooms)
    }
    /// Makes every socket leave rooms.
    pub fn sockets_leave(
        &self,
        rooms: impl crate::IntoRooms,
    ) -> Result<(), crate::adapter::AdapterError> {
        self.operator().sockets_leave(rooms)
    }
    /// Disconnects every socket.
    pub fn disconnect_sockets(&self, close: bool) -> Result<(), crate::adapter::AdapterError> {
        self.operator().disconnect_sockets(close)
    }

    /// Emits an event to this namespace on every *other* node of the cluster (Node.js
    /// `serverSideEmit`); their [`on_server_event`](Self::on_server_event) handlers get
    /// it, clients never do. Without a cluster there is nobody to tell.
    pub fn server_side_emit(
        &self,
        event: &str,
        args: impl crate::IntoArgs,
    ) -> Result<(), ServerSideEmitError> {
        check_server_event(event)?;
        Ok(self
            .inner
            .adapter
            .server_side_emit(event, args.into_args())?)
    }

    /// Same as [`server_side_emit`](Self::server_side_emit), waiting for one answer
    /// from each other node (within the adapter's request timeout; set another one
    /// with `timeout(d).server_side_emit_with_ack`). When some node does not answer
    /// in time, [`ServerSideEmitError::Timeout`] carries the answers that arrived.
    ///
    /// ```no_run
    /// # async fn run(io: sockeye::SocketIo) {
    /// io.on_server_event("ping", |mut event| async move {
    ///     event.ack("pong");
    /// });
    /// let answers = io.server_side_emit_with_ack("ping", ()).await;
    /// # }
    /// ```
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl crate::IntoArgs,
    ) -> Result<Vec<crate::Value>, ServerSideEmitError> {
        self.operator().server_side_emit_with_ack(event, args).await
    }

    /// Handles the events other nodes send with `server_side_emit` (Node.js
    /// `io.on(event, …)`); one handler per name, a new one replaces the old.
    pub fn on_server_event<F, Fut>(&self, event: &str, handler: F) -> &Self
    where
        F: Fn(ServerEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ServerEventHandler = Arc::new(move |e| Box::pin(handler(e)));
        self.inner
            .server_events
            .write()
            .insert(event.to_string(), handler);
        self
    }
}

pub(crate) fn check_server_event(event: &str) -> Result<(), ServerSideEmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(ServerSideEmitError::Reserved(event.to_string()));
    }
    Ok(())
}

/// What an adapter sees of its namespace: its name, its local sockets, and the
/// encoder. Holds the namespace weakly (the namespace owns the adapter).
#[derive(Clone)]
pub struct AdapterContext {
    ns: Weak<NamespaceInner>,
    name: Arc<str>,
    parser: ParserKind,
    recovery: Option<RecoveryConfig>,
}

impl AdapterContext {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The connection state recovery options, when the server enables it.
    pub fn recovery(&self) -> Option<&RecoveryConfig> {
        self.recovery.as_ref()
    }

    /// A local socket by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.ns.upgrade()?.sockets.read().get(id).cloned()
    }

    /// The local sockets with these ids (those still connected), in their order, looked
    /// up under one lock.
    pub fn sockets_by_id<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<Socket> {
        let Some(ns) = self.ns.upgrade() else {
            return Vec::new();
        };
        let sockets = ns.sockets.read();
        ids.into_iter()
            .filter_map(|id| sockets.get(id).cloned())
            .collect()
    }

    /// The local sockets whose id passes `keep`.
    pub fn sockets_where(&self, mut keep: impl FnMut(&SocketId) -> bool) -> Vec<Socket> {
        let Some(ns) = self.ns.upgrade() else {
            return Vec::new();
        };
        let sockets = ns.sockets.read();
        sockets
            .iter()
            .filter(|(id, _)| keep(id))
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Encodes a packet once for every local recipient (the event encoding is the same
    /// for protocol revisions 4 and 5).
    pub fn encode(&self, packet: &Packet) -> Outgoing {
        parser::encode(self.parser, ProtocolRevision::V5, packet)
    }

    /// A fresh acknowledgement id, unique in the namespace.
    pub fn next_ack_id(&self) -> u64 {
        self.ns.upgrade().map(|ns| ns.next_ack_id()).unwrap_or(0)
    }

    /// Hands an event from another node to the namespace's handler for its name
    /// (started right here, so that events start in arrival order, and spawned only
    /// if it waits). Returns false when nothing handles it; the event is then
    /// dropped unanswered, as Node.js does.
    pub fn dispatch_server_event(&self, event: ServerEvent) -> bool {
        let Some(ns) = self.ns.upgrade() else {
            return false;
        };
        let handler = ns.server_events.read().get(&event.name).cloned();
        match handler {
            Some(handler) => {
                crate::handlers::run_inline(handler(event));
                true
            }
            None => false,
        }
    }
}
