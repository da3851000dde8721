//! Server options, with the defaults of the Node.js reference server.

use std::sync::Arc;
use std::time::Duration;

pub use crate::admission::HandshakeRate;

use crate::{AllowRequest, RequestInfo};

/// A transport a client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Polling,
    Websocket,
}

impl Transport {
    /// The name used in the `transport` query parameter and the handshake.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }

    /// Parses the `transport` query parameter.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::Websocket),
            _ => None,
        }
    }
}

/// Cross-origin resource sharing for the polling transport. Off unless configured, as in
/// the reference server.
#[derive(Clone, Debug, Default)]
pub struct Cors {
    /// Allowed origins; empty means any origin (`*`, or the request's origin when
    /// credentials are allowed).
    pub origins: Vec<String>,
    /// Sends `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// Extra allowed request headers for preflight requests.
    pub allowed_headers: Vec<String>,
}

/// Engine.IO server options.
#[derive(Clone)]
pub struct EngineConfig {
    /// Path the server answers on, with a trailing slash. Default `/engine.io/`
    /// (Socket.IO uses `/socket.io/`).
    pub path: String,
    /// Interval between heartbeat pings. Default 25 s.
    pub ping_interval: Duration,
    /// How long to wait for the heartbeat answer. Default 20 s.
    pub ping_timeout: Duration,
    /// Largest message or polling body accepted, in bytes (`maxHttpBufferSize`,
    /// announced as `maxPayload`). Default 1 MB.
    pub max_payload: usize,
    /// How long an upgrade to websocket may take. Default 10 s.
    pub upgrade_timeout: Duration,
    /// Allowed transports. Default both.
    pub transports: Vec<Transport>,
    /// Allow Engine.IO v3 clients (socket.io-client 2.x). Default true.
    pub allow_eio3: bool,
    /// CORS for the polling transport. Default off.
    pub cors: Option<Cors>,
    /// Handshake hook. Default: every request is allowed.
    pub allow_request: Option<AllowRequest>,
    /// Capacity of each session's outgoing queue, in queue items. A client that lets
    /// it fill up is disconnected as too slow; volatile messages are dropped instead.
    /// Default 1024.
    pub max_queue: usize,
    /// Most sessions open at once; handshakes beyond are answered 503. Default none.
    pub max_sessions: Option<usize>,
    /// Handshakes allowed per client address (IPv6 by /64); more are answered 429.
    /// Default none. Needs the peer address in the request (see [`RemoteAddr`](crate::RemoteAddr)).
    pub handshake_rate: Option<HandshakeRate>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/engine.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_millis(10_000),
            transports: vec![Transport::Polling, Transport::Websocket],
            allow_eio3: true,
            cors: None,
            allow_request: None,
            max_queue: 1024,
            max_sessions: None,
            handshake_rate: None,
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("transports", &self.transports)
            .field("allow_eio3", &self.allow_eio3)
            .field("cors", &self.cors)
            .field("allow_request", &self.allow_request.is_some())
            .field("max_queue", &self.max_queue)
            .field("max_sessions", &self.max_sessions)
            .field("handshake_rate", &self.handshake_rate)
            .finish()
    }
}

impl EngineConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> EngineConfigBuilder {
        EngineConfigBuilder(EngineConfig::default())
    }
}

/// Builds an [`EngineConfig`].
#[derive(Clone, Debug, Default)]
pub struct EngineConfigBuilder(EngineConfig);

impl EngineConfigBuilder {
    /// Sets the path; a trailing slash is added when missing.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        self.0.path = path;
        self
    }
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.0.ping_interval = d;
        self
    }
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.0.ping_timeout = d;
        self
    }
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.0.max_payload = bytes;
        self
    }
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.0.upgrade_timeout = d;
        self
    }
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.0.transports = transports.into_iter().collect();
        self
    }
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.0.allow_eio3 = allow;
        self
    }
    pub fn cors(mut self, cors: Cors) -> Self {
        self.0.cors = Some(cors);
        self
    }
    pub fn allow_request(
        mut self,
        hook: impl Fn(&RequestInfo) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.0.allow_request = Some(Arc::new(hook));
        self
    }
    pub fn max_queue(mut self, items: usize) -> Self {
        self.0.max_queue = items.max(1);
        self
    }
    /// Caps the sessions open at once (handshakes beyond get 503).
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.0.max_sessions = Some(max);
        self
    }
    /// Limits handshakes per client address to `burst` at once, refilled over `per`
    /// (handshakes beyond get 429 with `Retry-After`).
    pub fn handshake_rate(mut self, burst: u32, per: Duration) -> Self {
        self.0.handshake_rate = Some(HandshakeRate { burst, per });
        self
    }
    pub fn build(self) -> EngineConfig {
        self.0
    }
}
