//! The server: configuration, the namespace registry, and the bridge from Engine.IO
//! sessions to Socket.IO clients.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use sockeye_engine::{
    CloseReason, EngineConfig, EngineConfigBuilder, EngineHandler, EngineSocket, Incoming,
    RequestInfo, Sid, Transport,
};

use crate::adapter::{AdapterFactory, MemoryAdapterFactory, Room};
use crate::client::Client;
use crate::handlers::ConnectionHandler;
use crate::layer::{SocketIoLayer, SocketIoService};
use crate::namespace::{Namespace, NamespaceHandlers, NamespaceInner};
use crate::operators::BroadcastOperator;
use crate::parser::DecodeLimits;
use crate::{
    ConnectError, DisconnectReason, EmitError, IntoArgs, ParserKind, RecoveryConfig, Socket,
};

/// Socket.IO options (the Engine.IO ones are in [`EngineConfig`]).
#[derive(Clone)]
pub struct SocketIoConfig {
    pub engine: EngineConfig,
    /// How long a v5 client may take to join a namespace after the handshake. Default 45 s.
    pub connect_timeout: Duration,
    /// Packet format. Default: the standard text parser.
    pub parser: ParserKind,
    /// Decoder limits (attachments per packet, event name length).
    pub decode_limits: DecodeLimits,
    /// Connection state recovery. Default off, as in the reference server.
    pub recovery: Option<RecoveryConfig>,
    /// Most namespaces one connection may join (or be joining) at once. Default 100;
    /// the reference server has no limit, but with dynamic namespaces an unbounded
    /// number lets one connection create sockets without end.
    pub max_namespaces_per_connection: usize,
}

/// Builds a [`SocketIo`] server. Defaults are those of the Node.js reference server.
pub struct SocketIoBuilder {
    engine: EngineConfigBuilder,
    connect_timeout: Duration,
    parser: ParserKind,
    decode_limits: DecodeLimits,
    adapter: Arc<dyn AdapterFactory>,
    recovery: Option<RecoveryConfig>,
    max_namespaces_per_connection: usize,
}

impl Default for SocketIoBuilder {
    fn default() -> Self {
        SocketIoBuilder {
            engine: EngineConfig::builder().path("/socket.io/"),
            connect_timeout: Duration::from_secs(45),
            parser: ParserKind::Default,
            decode_limits: DecodeLimits::default(),
            adapter: Arc::new(MemoryAdapterFactory),
            recovery: None,
            max_namespaces_per_connection: 100,
        }
    }
}

impl SocketIoBuilder {
    /// Path of the endpoint. Default `/socket.io/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.engine = self.engine.path(path);
        self
    }
    /// Heartbeat interval. Default 25 s.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine = self.engine.ping_interval(d);
        self
    }
    /// Heartbeat timeout. Default 20 s.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine = self.engine.ping_timeout(d);
        self
    }
    /// Largest accepted message, in bytes (`maxHttpBufferSize`). Default 1 MB.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.engine = self.engine.max_payload(bytes);
        self
    }
    /// Upgrade timeout. Default 10 s.
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.engine = self.engine.upgrade_timeout(d);
        self
    }
    /// Allowed transports. Default both.
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.engine = self.engine.transports(transports);
        self
    }
    /// Accept socket.io-client 2.x (Engine.IO v3). Default true.
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.engine = self.engine.allow_eio3(allow);
        self
    }
    /// CORS for the polling transport. Default off.
    pub fn cors(mut self, cors: sockeye_engine::Cors) -> Self {
        self.engine = self.engine.cors(cors);
        self
    }
    /// Caps the Engine.IO sessions open at once; handshakes beyond are answered 503
    /// (clients retry with their reconnection back-off). Default none.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.engine = self.engine.max_sessions(max);
        self
    }
    /// Limits handshakes per client address (IPv6 by /64) to `burst`, refilled over
    /// `per`; beyond, 429 with `Retry-After`. Default none.
    pub fn handshake_rate(mut self, burst: u32, per: std::time::Duration) -> Self {
        self.engine = self.engine.handshake_rate(burst, per);
        self
    }
    /// Handshake hook seeing the HTTP request (like `allowRequest`).
    pub fn allow_request(
        mut self,
        hook: impl Fn(&RequestInfo) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.engine = self.engine.allow_request(hook);
        self
    }
    /// Capacity of each connection's outgoing queue. Default 1024 packets.
    pub fn max_queue(mut self, items: usize) -> Self {
        self.engine = self.engine.max_queue(items);
        self
    }
    /// Time allowed to join a namespace after the handshake. Default 45 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Packet format (all clients must use the same). Default text.
    pub fn parser(mut self, parser: ParserKind) -> Self {
        self.parser = parser;
        self
    }
    /// Decoder limits.
    pub fn decode_limits(mut self, limits: DecodeLimits) -> Self {
        self.decode_limits = limits;
        self
    }
    /// Most namespaces one connection may join at once; a CONNECT beyond is answered
    /// with a CONNECT_ERROR `Too many namespaces` (the connection stays open). Default
    /// 100 (the reference server has no limit).
    pub fn max_namespaces_per_connection(mut self, max: usize) -> Self {
        self.max_namespaces_per_connection = max;
        self
    }
    /// The adapter of every namespace. Default in-memory.
    pub fn adapter(mut self, factory: impl AdapterFactory) -> Self {
        self.adapter = Arc::new(factory);
        self
    }

    /// Enables connection state recovery (`connectionStateRecovery` of the reference
    /// server): a v5 client that loses its connection and comes back within
    /// [`max_disconnection_duration`](RecoveryConfig::max_disconnection_duration) gets the
    /// same socket id, rooms and data, and every event it missed. Broadcast events then
    /// carry an offset as their last argument (the official client reads it). Default off.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let io = sockeye::SocketIo::builder()
    ///     .connection_state_recovery(sockeye::RecoveryConfig {
    ///         max_disconnection_duration: Duration::from_secs(30),
    ///         ..Default::default()
    ///     })
    ///     .build();
    /// assert!(io.config().recovery.is_some());
    /// ```
    pub fn connection_state_recovery(mut self, config: RecoveryConfig) -> Self {
        self.recovery = Some(config);
        self
    }

    /// Builds the server handle.
    pub fn build(self) -> SocketIo {
        let config = SocketIoConfig {
            engine: self.engine.build(),
            connect_timeout: self.connect_timeout,
            parser: self.parser,
            decode_limits: self.decode_limits,
            recovery: self.recovery,
            max_namespaces_per_connection: self.max_namespaces_per_connection,
        };
        let io = SocketIo {
            inner: Arc::new(IoInner {
                config,
                adapters: self.adapter,
                namespaces: RwLock::new(HashMap::new()),
                dynamic: RwLock::new(Vec::new()),
                clients: RwLock::new(HashMap::new()),
            }),
        };
        // The main namespace always exists, as in the reference server.
        io.ns("/", |_socket: Socket| async {});
        io
    }

    /// Builds the server and a `tower` layer to mount it in an axum router.
    pub fn build_layer(self) -> (SocketIoLayer, SocketIo) {
        let io = self.build();
        (io.layer(), io)
    }

    /// Builds the server and a standalone `tower` service.
    pub fn build_service(self) -> (SocketIoService, SocketIo) {
        let io = self.build();
        (io.service(), io)
    }
}

/// Recognises the names of a dynamic namespace's children.
type NamespaceMatcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

pub(crate) struct IoInner {
    pub(crate) config: SocketIoConfig,
    adapters: Arc<dyn AdapterFactory>,
    namespaces: RwLock<HashMap<Arc<str>, Arc<NamespaceInner>>>,
    dynamic: RwLock<Vec<(NamespaceMatcher, Arc<NamespaceHandlers>)>>,
    clients: RwLock<HashMap<Sid, Arc<Client>>>,
}

impl IoInner {
    /// The namespace `name`, creating a child of a dynamic namespace when one matches.
    pub(crate) fn namespace_for(&self, name: &str) -> Option<Arc<NamespaceInner>> {
        if let Some(ns) = self.namespaces.read().get(name) {
            return Some(ns.clone());
        }
        let handlers = {
            let dynamic = self.dynamic.read();
            dynamic
                .iter()
                .find(|(matches, _)| matches(name))
                .map(|(_, h)| h.clone())
        }?;
        let mut namespaces = self.namespaces.write();
        let ns = namespaces.entry(name.into()).or_insert_with(|| {
            NamespaceInner::new(
                name,
                self.config.parser,
                handlers,
                &*self.adapters,
                self.config.recovery.clone(),
            )
        });
        Some(ns.clone())
    }

    fn client(&self, sid: &Sid) -> Option<Arc<Client>> {
        self.clients.read().get(sid).cloned()
    }
}

/// The Socket.IO server. Cheap to clone; every clone is the same server.
///
/// ```no_run
/// use sockeye::{SocketIo, Socket, Event};
///
/// # async fn run() -> std::io::Result<()> {
/// let io = SocketIo::builder().build();
/// io.ns("/", |socket: Socket| async move {
///     socket.on("ping", |_socket: Socket, mut event: Event| async move {
///         event.ack(("pong",)).ok();
///     });
/// });
/// sockeye::serve("127.0.0.1:3000", io).await
/// # }
/// ```
#[derive(Clone)]
pub struct SocketIo {
    pub(crate) inner: Arc<IoInner>,
}

impl SocketIo {
    /// A builder with the reference defaults.
    pub fn builder() -> SocketIoBuilder {
        SocketIoBuilder::default()
    }

    /// The server's configuration.
    pub fn config(&self) -> &SocketIoConfig {
        &self.inner.config
    }

    /// Creates (or replaces the handler of) the namespace `name`; `on_connection` runs
    /// for every socket that joins it, after the connect middleware accepted it.
    pub fn ns<F, Fut>(&self, name: &str, on_connection: F) -> Namespace
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ConnectionHandler = Arc::new(move |s| Box::pin(on_connection(s)));
        let name = normalize(name);
        let mut namespaces = self.inner.namespaces.write();
        if let Some(ns) = namespaces.get(name.as_str()) {
            // Re-registering keeps the sockets and middleware; only the handler changes.
            *ns.handlers.on_connection.write() = handler;
            return Namespace { inner: ns.clone() };
        }
        let handlers = Arc::new(NamespaceHandlers {
            on_connection: RwLock::new(handler),
            middleware: RwLock::new(Vec::new()),
        });
        let ns = NamespaceInner::new(
            &name,
            self.inner.config.parser,
            handlers,
            &*self.inner.adapters,
            self.inner.config.recovery.clone(),
        );
        namespaces.insert(name.as_str().into(), ns.clone());
        Namespace { inner: ns }
    }

    /// Creates a dynamic namespace: every name accepted by `matches` becomes a
    /// namespace of its own (created on its first connection) sharing `on_connection`
    /// and the middleware added to the returned handle.
    ///
    /// ```no_run
    /// # use sockeye::{SocketIo, Socket};
    /// # let io = SocketIo::builder().build();
    /// io.dynamic_ns(|name| name.starts_with("/room-"), |socket: Socket| async move {
    ///     println!("joined {}", socket.nsp());
    /// });
    /// ```
    pub fn dynamic_ns<M, F, Fut>(&self, matches: M, on_connection: F) -> DynamicNamespace
    where
        M: Fn(&str) -> bool + Send + Sync + 'static,
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handlers = Arc::new(NamespaceHandlers {
            on_connection: RwLock::new(Arc::new(move |s| Box::pin(on_connection(s)))),
            middleware: RwLock::new(Vec::new()),
        });
        self.inner
            .dynamic
            .write()
            .push((Arc::new(matches), handlers.clone()));
        DynamicNamespace { handlers }
    }

    /// Like [`dynamic_ns`](Self::dynamic_ns), matching names against a regular
    /// expression (anchor it with `^…$` to match whole names).
    ///
    /// ```no_run
    /// # use sockeye::{SocketIo, Socket};
    /// # let io = SocketIo::builder().build();
    /// io.dynamic_ns_regex(r"^/dynamic-\d+$", |socket: Socket| async move {}).unwrap();
    /// ```
    pub fn dynamic_ns_regex<F, Fut>(
        &self,
        pattern: &str,
        on_connection: F,
    ) -> Result<DynamicNamespace, regex::Error>
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let re = regex::Regex::new(pattern)?;
        Ok(self.dynamic_ns(move |name| re.is_match(name), on_connection))
    }

    /// A namespace by name, if it exists (dynamic children included).
    pub fn of(&self, name: &str) -> Option<Namespace> {
        let ns = self
            .inner
            .namespaces
            .read()
            .get(normalize(name).as_str())
            .cloned()?;
        Some(Namespace { inner: ns })
    }

    /// The names of the namespaces that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        self.inner
            .namespaces
            .read()
            .keys()
            .map(|k| k.to_string())
            .collect()
    }

    fn main_ns(&self) -> Namespace {
        let ns = self.inner.namespaces.read().get("/").cloned();
        Namespace {
            inner: ns.expect("the main namespace is created with the server"),
        }
    }

    /// Targets a room of namespace `/`.
    pub fn to(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.main_ns().to(room)
    }
    /// Same as [`to`](Self::to).
    pub fn within(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.main_ns().to(room)
    }
    /// Leaves out a room of namespace `/`.
    pub fn except(&self, room: impl Into<Room>) -> BroadcastOperator {
        self.main_ns().except(room)
    }
    /// This node's sockets of namespace `/`.
    pub fn local(&self) -> BroadcastOperator {
        self.main_ns().local()
    }
    /// Volatile broadcast on namespace `/`.
    pub fn volatile(&self) -> BroadcastOperator {
        self.main_ns().volatile()
    }
    /// Ack timeout for a broadcast on namespace `/`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.main_ns().timeout(timeout)
    }
    /// Emits to every socket of namespace `/`.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.main_ns().emit(event, args)
    }

    /// Emits a server event to namespace `/` of every other node (Node.js
    /// `io.serverSideEmit`); see [`Namespace::server_side_emit`].
    pub fn server_side_emit(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<(), crate::adapter::ServerSideEmitError> {
        self.main_ns().server_side_emit(event, args)
    }
    /// Same, waiting for every other node's answer (Node.js
    /// `io.serverSideEmitWithAck`); see [`Namespace::server_side_emit_with_ack`].
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<crate::Value>, crate::adapter::ServerSideEmitError> {
        self.main_ns().server_side_emit_with_ack(event, args).await
    }
    /// Handles the server events other nodes send to namespace `/` (Node.js
    /// `io.on(event, …)`); see [`Namespace::on_server_event`].
    pub fn on_server_event<F, Fut>(&self, event: &str, handler: F) -> Namespace
    where
        F: Fn(crate::adapter::ServerEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let ns = self.main_ns();
        ns.on_server_event(event, handler);
        ns
    }

    /// Number of open connections on this node.
    pub fn connection_count(&self) -> usize {
        self.inner.clients.read().len()
    }

    /// Closes every connection (the clients see `transport close` and reconnect,
    /// possibly to another node); sockets see `server shutting down`.
    pub fn close(&self) {
        let clients: Vec<Arc<Client>> = self.inner.clients.read().values().cloned().collect();
        for client in clients {
            client.close_with(DisconnectReason::ServerShuttingDown);
        }
    }

    /// A `tower` layer serving this server under its path in front of another service.
    pub fn layer(&self) -> SocketIoLayer {
        SocketIoLayer::new(self.clone())
    }

    /// A standalone `tower` service (other paths answer 404).
    pub fn service(&self) -> SocketIoService {
        sockeye_engine::EngineService::new(self.inner.config.engine.clone(), self.engine_handler())
    }

    pub(crate) fn engine_handler(&self) -> IoHandler {
        IoHandler {
            io: self.inner.clone(),
        }
    }
}

/// A dynamic namespace (see [`SocketIo::dynamic_ns`]).
#[derive(Clone)]
pub struct DynamicNamespace {
    handlers: Arc<NamespaceHandlers>,
}

impl DynamicNamespace {
    /// Adds a connect middleware shared by every child namespace.
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.handlers
            .middleware
            .write()
            .push(Arc::new(move |s| Box::pin(middleware(s))));
        self
    }
}

fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/{name}")
    }
}

/// Connects Engine.IO sessions to Socket.IO clients (the engine handler of a
/// [`SocketIo`]; appears in the service type).
pub struct IoHandler {
    io: Arc<IoInner>,
}

impl EngineHandler for IoHandler {
    fn on_open(&self, socket: &EngineSocket) {
        let client = Client::new(&self.io, socket.clone());
        self.io
            .clients
            .write()
            .insert(socket.sid().clone(), client.clone());
        client.start(&self.io);
    }

    fn on_message(&self, socket: &EngineSocket, message: Incoming) {
        if let Some(client) = self.io.client(socket.sid()) {
            client.on_message(&self.io, message);
        }
    }

    fn on_close(&self, socket: &EngineSocket, reason: CloseReason) {
        let client = self.io.clients.write().remove(socket.sid());
        if let Some(client) = client {
            client.disconnect_all(reason.into());
        }
    }
}
