//! The gateway's configuration: what it is (this struct) and where it comes from
//! (flags, `SOCKEYE_*` environment variables, an optional TOML file; see `load`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Everything the gateway can be told. Field names are the TOML keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `0.0.0.0:3000`.
    pub listen: SocketAddr,
    /// Redis URL (`redis://host:port/db`). Without it everything lives in memory.
    pub redis: Option<String>,
    /// `text` or `json` logs.
    pub log_format: LogFormat,
    pub engine: EngineOptions,
    pub auth: AuthConfig,
    /// Allowed `Origin`s for Socket.IO connections; empty allows any origin.
    pub origins: Vec<String>,
    /// Key required by the HTTP publish API (`Authorization: Bearer <key>` or
    /// `X-Api-Key`); the API is disabled without one.
    pub api_key: Option<String>,
    /// Redis channel on which backends publish `{"room", "event", "data"}` messages.
    pub bridge_channel: Option<String>,
    /// Namespace the bridge channel and the API emit to by default.
    pub bridge_namespace: String,
    /// How long a graceful shutdown may take before the process exits anyway.
    pub shutdown_timeout_ms: u64,
    /// The configuration file this was read from, if any.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 3000)),
            redis: None,
            log_format: LogFormat::Text,
            engine: EngineOptions::default(),
            auth: AuthConfig::default(),
            origins: Vec::new(),
            api_key: None,
            bridge_channel: None,
            bridge_namespace: "/".into(),
            shutdown_timeout_ms: 10_000,
            file: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Engine.IO / Socket.IO options, with the reference server's defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineOptions {
    pub path: String,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub max_payload: usize,
    pub upgrade_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// `polling`, `websocket`, or both.
    pub transports: Vec<String>,
    pub allow_eio3: bool,
    pub max_queue: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            path: "/socket.io/".into(),
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_payload: 1_000_000,
            upgrade_timeout_ms: 10_000,
            connect_timeout_ms: 45_000,
            transports: vec!["polling".into(), "websocket".into()],
            allow_eio3: true,
            max_queue: 1024,
        }
    }
}

/// How Socket.IO connections are authenticated.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Nobody is authenticated; the apps ask for a nickname.
    #[default]
    None,
    /// express-session / connect-redis signed session cookie.
    ExpressSession,
    /// An opaque token cookie whose JSON session another backend wrote into Redis.
    Token,
    /// A JWT in the handshake `auth` payload (`{ token }`) or a cookie.
    Jwt,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// Let unauthenticated clients in (as anonymous) when an auth mode is on.
    pub allow_anonymous: bool,
    /// express-session: the secret(s) the cookie is signed with (first signs, all verify).
    pub session_secrets: Vec<String>,
    /// express-session cookie name. Default `connect.sid`.
    pub session_cookie: String,
    /// connect-redis key prefix. Default `sess:`.
    pub session_prefix: String,
    /// Session field that must be truthy for the user to be let in (dotted path).
    /// Default `authenticated`.
    pub authenticated_field: String,
    /// Session field holding the user object that becomes the socket's data.
    /// Default `user`.
    pub user_field: String,
    /// Token mode: cookie name. Default `nodejskey`.
    pub token_cookie: String,
    /// Token mode: Redis key, `{token}` replaced by the cookie value. Default `session:{token}`.
    pub token_key: String,
    /// JWT: HS256 secret.
    pub jwt_secret: Option<String>,
    /// JWT: RS256 public key (PEM file).
    pub jwt_public_key: Option<PathBuf>,
    /// JWT: cookie to read the token from when the auth payload has none.
    pub jwt_cookie: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::None,
            allow_anonymous: false,
            session_secrets: Vec::new(),
            session_cookie: "connect.sid".into(),
            session_prefix: "sess:".into(),
            authenticated_field: "authenticated".into(),
            user_field: "user".into(),
            token_cookie: "nodejskey".into(),
            token_key: "session:{token}".into(),
            jwt_secret: None,
            jwt_public_key: None,
            jwt_cookie: None,
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// Reads the configuration: defaults, then the TOML file, then environment variables,
/// then flags. (Skeleton: defaults only; the flags come next.)
pub fn load() -> Result<Config, ConfigError> {
    Ok(Config::default())
}
