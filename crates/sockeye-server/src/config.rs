//! The gateway's configuration: what it is (this struct) and where it comes from
//! (flags, `SOCKEYE_*` environment variables, an optional TOML file; see `load`).
//!
//! Precedence, highest first: command-line flags, environment variables, the TOML
//! file, built-in defaults. Flags and variables are the same `clap` arguments (clap
//! reads the variable when the flag is absent), so every option is `Option` in
//! [`Cli`]: `None` means "not given", and the file's or the default value stays.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};

/// Everything the gateway can be told. Field names are the TOML keys.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `0.0.0.0:3000`.
    pub listen: SocketAddr,
    /// Redis URL (`redis://host:port/db`). With it, this node joins the cluster of every
    /// node (Sockeye or Node.js) using the same Redis and [`Config::redis_key`]: rooms and
    /// broadcasts span nodes, the apps keep their state in Redis, the auth bridge reads
    /// sessions from it and backends can publish through it.
    pub redis: Option<String>,
    /// Prefix of the Redis adapter's channels (`key` of `@socket.io/redis-adapter`).
    /// Default `socket.io`, the Node.js default, so mixed clusters work unconfigured.
    pub redis_key: String,
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
    /// How long a client may take to send the headers of an HTTP request; slower
    /// connections (slowloris) are closed. Default 10 s.
    pub header_read_timeout_ms: u64,
    /// The configuration file this was read from, if any.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 3000)),
            redis: None,
            redis_key: "socket.io".into(),
            log_format: LogFormat::Text,
            engine: EngineOptions::default(),
            auth: AuthConfig::default(),
            origins: Vec::new(),
            api_key: None,
            bridge_channel: None,
            bridge_namespace: "/".into(),
            shutdown_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            file: None,
        }
    }
}

/// What secrets are replaced with wherever the configuration is shown.
const REDACTED: &str = "<redacted>";

/// Written by hand so that secrets (the API key, the session and JWT secrets, a
/// password inside the Redis URL) can never reach a log line through `{:?}`.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("redis", &self.redis.as_deref().map(redact_url))
            .field("redis_key", &self.redis_key)
            .field("log_format", &self.log_format)
            .field("engine", &self.engine)
            .field("auth", &self.auth)
            .field("origins", &self.origins)
            .field("api_key", &self.api_key.as_ref().map(|_| REDACTED))
            .field("bridge_channel", &self.bridge_channel)
            .field("bridge_namespace", &self.bridge_namespace)
            .field("shutdown_timeout_ms", &self.shutdown_timeout_ms)
            .field("header_read_timeout_ms", &self.header_read_timeout_ms)
            .field("file", &self.file)
            .finish()
    }
}

impl Config {
    /// A copy safe to print: every secret replaced by `<redacted>`.
    pub fn redacted(&self) -> Config {
        let mut copy = self.clone();
        copy.redis = copy.redis.as_deref().map(redact_url);
        if copy.api_key.is_some() {
            copy.api_key = Some(REDACTED.into());
        }
        for secret in &mut copy.auth.session_secrets {
            *secret = REDACTED.into();
        }
        if copy.auth.jwt_secret.is_some() {
            copy.auth.jwt_secret = Some(REDACTED.into());
        }
        copy
    }

    /// The effective configuration as TOML, secrets redacted (`--print-config`).
    pub fn to_toml(&self) -> String {
        // Serializing plain strings, numbers and tables cannot fail.
        toml::to_string(&self.redacted()).unwrap_or_default()
    }
}

/// `redis://user:password@host/` → `redis://user:<redacted>@host/`, and the password
/// a Unix socket URL carries in its query (`redis+unix:///run/redis.sock?pass=…`).
/// When unsure where the user info ends, more is redacted rather than less.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (userinfo, after) = match rest.rsplit_once('@') {
        Some((userinfo, after)) => (Some(userinfo), after),
        None => (None, rest),
    };
    let mut out = format!("{scheme}://");
    match userinfo.map(|u| u.split_once(':')) {
        Some(Some((user, _))) => out.push_str(&format!("{user}:{REDACTED}@")),
        Some(None) => out.push_str(&format!("{REDACTED}@")),
        None => {}
    }
    match after.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(after),
    }
    out
}

/// A URL query with the value of every `pass` / `password` parameter redacted.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if matches!(name, "pass" | "password") => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Engine.IO / Socket.IO options, with the reference server's defaults.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineOptions {
    pub path: String,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub max_payload: usize,
    pub upgrade_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Connection state recovery window (`connectionStateRecovery.maxDisconnectionDuration`):
    /// a client that lost its connection and comes back within it keeps its id, rooms and
    /// data and receives the broadcasts it missed. 0 (the default) turns it off. Without
    /// effect with `--redis`: the classic adapter keeps no sessions (as in Node.js).
    pub recovery_window_ms: u64,
    /// `polling`, `websocket`, or both.
    pub transports: Vec<String>,
    pub allow_eio3: bool,
    pub max_queue: usize,
    /// Origins whose pages may read long-polling responses (CORS). Empty: no CORS
    /// headers, so cross-origin pages can only use WebSocket (the reference default).
    pub cors_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` so cross-origin pages can poll with
    /// their cookies, and take the cookies of those pages as credentials (over WebSocket
    /// too). Only together with an explicit `cors_origins` list.
    pub cors_credentials: bool,
    /// Most connections (Engine.IO sessions) open at once; more are answered 503.
    pub max_connections: Option<usize>,
    /// Handshakes one client address may make per minute (IPv6 by /64); more are
    /// answered 429. Counted per TCP peer: behind a proxy, limit at the proxy.
    pub handshakes_per_minute: Option<u32>,
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
            recovery_window_ms: 0,
            transports: vec!["polling".into(), "websocket".into()],
            allow_eio3: true,
            max_queue: 1024,
            cors_origins: Vec::new(),
            cors_credentials: false,
            max_connections: None,
            handshakes_per_minute: None,
        }
    }
}

/// How Socket.IO connections are authenticated.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
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

#[derive(Clone, Deserialize, Serialize)]
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

/// By hand, like `Config`'s: the secrets are shown as `<redacted>`.
impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets: Vec<&str> = self.session_secrets.iter().map(|_| REDACTED).collect();
        f.debug_struct("AuthConfig")
            .field("mode", &self.mode)
            .field("allow_anonymous", &self.allow_anonymous)
            .field("session_secrets", &secrets)
            .field("session_cookie", &self.session_cookie)
            .field("session_prefix", &self.session_prefix)
            .field("authenticated_field", &self.authenticated_field)
            .field("user_field", &self.user_field)
            .field("token_cookie", &self.token_cookie)
            .field("token_key", &self.token_key)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| REDACTED))
            .field("jwt_public_key", &self.jwt_public_key)
            .field("jwt_cookie", &self.jwt_cookie)
            .finish()
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

/// What `load` produced: run the gateway, or only print something and exit.
#[derive(Debug)]
pub enum Loaded {
    /// Start the gateway with this configuration.
    Run(Box<Config>),
    /// `--print-config`: print the effective configuration (secrets redacted) and exit.
    Print(Box<Config>),
}

const ABOUT: &str = "Sockeye: a Socket.IO server for any web backend.";

const LONG_ABOUT: &str = "\
Sockeye: a Socket.IO server for any web backend (Django, Rails, Express, Laravel…).

Browsers connect to it with the official socket.io-client (served at
/socket.io/socket.io.min.js). Your backend authenticates them through the session it
already has (express-session, a token in Redis, or a JWT) and pushes events to them over
HTTP (POST /api/emit with --api-key) or a Redis channel (--bridge-channel). /health and
/metrics are for operators; /chat and /vote are built-in demo apps.

Every option can also be set with an environment variable (shown as [env: …]) or in a
TOML file given with --config; flags win over variables, variables over the file.";

const AFTER_HELP: &str = "\
Examples:
  sockeye                                  # in memory, on http://0.0.0.0:3000
  sockeye --listen 127.0.0.1:8080 --redis redis://127.0.0.1:6379 \\
          --auth-mode express-session --session-secret \"$SESSION_SECRET\"
  SOCKEYE_API_KEY=s3cret sockeye --config /etc/sockeye.toml
  sockeye --config /etc/sockeye.toml --print-config   # show what would be used

TOML keys are the option names with underscores; Engine.IO options go in [engine] and
authentication options in [auth] (e.g. [auth] mode = \"jwt\").";

/// The command line. Every option is optional: absent means "keep the file's value or
/// the default", which is how the precedence works.
#[derive(Debug, Parser)]
#[command(
    name = "sockeye",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    after_long_help = AFTER_HELP,
    next_line_help = false
)]
pub struct Cli {
    // --- Server ---
    /// TOML configuration file (keys as in `--print-config`)
    #[arg(
        long,
        env = "SOCKEYE_CONFIG",
        value_name = "FILE",
        help_heading = "Server"
    )]
    pub config: Option<PathBuf>,
    /// Print the effective configuration as TOML (secrets redacted) and exit
    #[arg(long, help_heading = "Server")]
    pub print_config: bool,
    /// Address and port to listen on [default: 0.0.0.0:3000]
    #[arg(
        long,
        env = "SOCKEYE_LISTEN",
        value_name = "ADDR",
        help_heading = "Server"
    )]
    pub listen: Option<SocketAddr>,
    /// Redis URL: cluster with the other nodes on it, keep app state and read sessions there [default: none, in memory]
    #[arg(
        long,
        env = "SOCKEYE_REDIS",
        value_name = "URL",
        help_heading = "Server"
    )]
    pub redis: Option<String>,
    /// Channel prefix of the Redis adapter, as `key` in @socket.io/redis-adapter [default: socket.io]
    #[arg(
        long,
        env = "SOCKEYE_REDIS_KEY",
        value_name = "PREFIX",
        help_heading = "Server"
    )]
    pub redis_key: Option<String>,
    /// Log format [default: text]
    #[arg(
        long,
        env = "SOCKEYE_LOG_FORMAT",
        value_name = "FORMAT",
        help_heading = "Server"
    )]
    pub log_format: Option<LogFormat>,
    /// Allowed browser Origin (repeat or comma-separate) [default: any origin]
    #[arg(
        long = "origin",
        env = "SOCKEYE_ORIGIN",
        value_name = "ORIGIN",
        value_delimiter = ',',
        help_heading = "Server"
    )]
    pub origins: Option<Vec<String>>,
    /// Milliseconds a graceful shutdown (SIGTERM) may take before exiting anyway [default: 10000]
    #[arg(
        long,
        env = "SOCKEYE_SHUTDOWN_TIMEOUT",
        value_name = "MS",
        help_heading = "Server"
    )]
    pub shutdown_timeout: Option<u64>,
    /// Milliseconds a client may take to send an HTTP request's headers before the connection is closed (slowloris) [default: 10000]
    #[arg(
        long,
        env = "SOCKEYE_HEADER_READ_TIMEOUT",
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Server"
    )]
    pub header_read_timeout: Option<u64>,

    // --- Engine ---
    /// URL path of the Socket.IO endpoint [default: /socket.io/]
    #[arg(
        long,
        env = "SOCKEYE_PATH",
        value_name = "PATH",
        help_heading = "Engine"
    )]
    pub path: Option<String>,
    /// Milliseconds between heartbeat pings [default: 25000]
    #[arg(
        long,
        env = "SOCKEYE_PING_INTERVAL",
        value_name = "MS",
        help_heading = "Engine"
    )]
    pub ping_interval: Option<u64>,
    /// Milliseconds to wait for a pong before dropping the client [default: 20000]
    #[arg(
        long,
        env = "SOCKEYE_PING_TIMEOUT",
        value_name = "MS",
        help_heading = "Engine"
    )]
    pub ping_timeout: Option<u64>,
    /// Largest message or HTTP body accepted, in bytes [default: 1000000]
    #[arg(
        long,
        env = "SOCKEYE_MAX_PAYLOAD",
        value_name = "BYTES",
        help_heading = "Engine"
    )]
    pub max_payload: Option<usize>,
    /// Milliseconds a polling-to-websocket upgrade may take [default: 10000]
    #[arg(
        long,
        env = "SOCKEYE_UPGRADE_TIMEOUT",
        value_name = "MS",
        help_heading = "Engine"
    )]
    pub upgrade_timeout: Option<u64>,
    /// Milliseconds a client has to join a namespace after connecting [default: 45000]
    #[arg(
        long,
        env = "SOCKEYE_CONNECT_TIMEOUT",
        value_name = "MS",
        help_heading = "Engine"
    )]
    pub connect_timeout: Option<u64>,
    /// Milliseconds a disconnected client may come back within and recover its socket and missed broadcasts (connection state recovery; 0 = off) [default: 0]
    #[arg(
        long,
        env = "SOCKEYE_RECOVERY_WINDOW",
        value_name = "MS",
        help_heading = "Engine"
    )]
    pub recovery_window: Option<u64>,
    /// Transports offered: polling, websocket (comma-separated) [default: polling,websocket]
    #[arg(
        long,
        env = "SOCKEYE_TRANSPORTS",
        value_name = "LIST",
        value_delimiter = ',',
        help_heading = "Engine"
    )]
    pub transports: Option<Vec<String>>,
    /// Accept socket.io-client 2.x (Engine.IO v3) clients [default: true]
    #[arg(
        long,
        env = "SOCKEYE_ALLOW_EIO3",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        help_heading = "Engine"
    )]
    pub allow_eio3: Option<bool>,
    /// Outgoing messages queued per client before it is disconnected as too slow [default: 1024]
    #[arg(
        long,
        env = "SOCKEYE_MAX_QUEUE",
        value_name = "N",
        help_heading = "Engine"
    )]
    pub max_queue: Option<usize>,
    /// Origin allowed to poll cross-origin (CORS; repeat or comma-separate) [default: none, same origin only]
    #[arg(
        long = "cors-origin",
        env = "SOCKEYE_CORS_ORIGIN",
        value_name = "ORIGIN",
        value_delimiter = ',',
        help_heading = "Engine"
    )]
    pub cors_origins: Option<Vec<String>>,
    /// Let the CORS origins connect with their cookies (needs --cors-origin) [default: false]
    #[arg(
        long,
        env = "SOCKEYE_CORS_CREDENTIALS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        help_heading = "Engine"
    )]
    pub cors_credentials: Option<bool>,
    /// Most connections open at once; more are refused with 503 [default: no limit]
    #[arg(
        long,
        env = "SOCKEYE_MAX_CONNECTIONS",
        value_name = "N",
        help_heading = "Engine"
    )]
    pub max_connections: Option<usize>,
    /// Handshakes per minute from one client address; more are refused with 429 [default: no limit]
    #[arg(
        long,
        env = "SOCKEYE_HANDSHAKES_PER_MINUTE",
        value_name = "N",
        help_heading = "Engine"
    )]
    pub handshakes_per_minute: Option<u32>,

    // --- Auth ---
    /// How clients are authenticated [default: none]
    #[arg(
        long,
        env = "SOCKEYE_AUTH_MODE",
        value_name = "MODE",
        help_heading = "Auth"
    )]
    pub auth_mode: Option<AuthMode>,
    /// With an auth mode, also let unauthenticated clients in as anonymous [default: false]
    #[arg(
        long,
        env = "SOCKEYE_ALLOW_ANONYMOUS",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        help_heading = "Auth"
    )]
    pub allow_anonymous: Option<bool>,
    /// express-session secret; repeat to rotate (first signs, all verify) [default: none]
    #[arg(
        long = "session-secret",
        env = "SOCKEYE_SESSION_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        help_heading = "Auth"
    )]
    pub session_secrets: Option<Vec<String>>,
    /// express-session cookie name [default: connect.sid]
    #[arg(
        long,
        env = "SOCKEYE_SESSION_COOKIE",
        value_name = "NAME",
        help_heading = "Auth"
    )]
    pub session_cookie: Option<String>,
    /// connect-redis key prefix of sessions [default: sess:]
    #[arg(
        long,
        env = "SOCKEYE_SESSION_PREFIX",
        value_name = "PREFIX",
        help_heading = "Auth"
    )]
    pub session_prefix: Option<String>,
    /// Session field (dotted path) that must be truthy to let the user in [default: authenticated]
    #[arg(
        long,
        env = "SOCKEYE_AUTHENTICATED_FIELD",
        value_name = "FIELD",
        help_heading = "Auth"
    )]
    pub authenticated_field: Option<String>,
    /// Session field holding the user object given to the socket [default: user]
    #[arg(
        long,
        env = "SOCKEYE_USER_FIELD",
        value_name = "FIELD",
        help_heading = "Auth"
    )]
    pub user_field: Option<String>,
    /// Token mode: cookie holding the token [default: nodejskey]
    #[arg(
        long,
        env = "SOCKEYE_TOKEN_COOKIE",
        value_name = "NAME",
        help_heading = "Auth"
    )]
    pub token_cookie: Option<String>,
    /// Token mode: Redis key of the session, {token} is the cookie value [default: session:{token}]
    #[arg(
        long,
        env = "SOCKEYE_TOKEN_KEY",
        value_name = "PATTERN",
        help_heading = "Auth"
    )]
    pub token_key: Option<String>,
    /// JWT mode: HS256 secret [default: none]
    #[arg(
        long,
        env = "SOCKEYE_JWT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        help_heading = "Auth"
    )]
    pub jwt_secret: Option<String>,
    /// JWT mode: RS256 public key, a PEM file [default: none]
    #[arg(
        long,
        env = "SOCKEYE_JWT_PUBLIC_KEY",
        value_name = "FILE",
        help_heading = "Auth"
    )]
    pub jwt_public_key: Option<PathBuf>,
    /// JWT mode: cookie to read the token from when the handshake has none [default: none]
    #[arg(
        long,
        env = "SOCKEYE_JWT_COOKIE",
        value_name = "NAME",
        help_heading = "Auth"
    )]
    pub jwt_cookie: Option<String>,

    // --- Publishing ---
    /// Key for the HTTP publish API (Bearer or X-Api-Key); the API is off without it [default: none]
    #[arg(
        long,
        env = "SOCKEYE_API_KEY",
        value_name = "KEY",
        hide_env_values = true,
        help_heading = "Publishing"
    )]
    pub api_key: Option<String>,
    /// Redis channel your backend publishes {"room","event","data"} messages on [default: none]
    #[arg(
        long,
        env = "SOCKEYE_BRIDGE_CHANNEL",
        value_name = "CHANNEL",
        help_heading = "Publishing"
    )]
    pub bridge_channel: Option<String>,
    /// Namespace that published events go to when they name none [default: /]
    #[arg(
        long,
        env = "SOCKEYE_BRIDGE_NAMESPACE",
        value_name = "NAMESPACE",
        help_heading = "Publishing"
    )]
    pub bridge_namespace: Option<String>,
}

impl Cli {
    /// Lays the flags and variables that were given over `config`.
    fn apply(self, config: &mut Config) {
        fn set<T>(target: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *target = value;
            }
        }
        fn set_opt<T>(target: &mut Option<T>, value: Option<T>) {
            if value.is_some() {
                *target = value;
            }
        }
        set(&mut config.listen, self.listen);
        set_opt(&mut config.redis, self.redis);
        set(&mut config.redis_key, self.redis_key);
        set(&mut config.log_format, self.log_format);
        set(&mut config.origins, self.origins);
        set(&mut config.shutdown_timeout_ms, self.shutdown_timeout);
        set(&mut config.header_read_timeout_ms, self.header_read_timeout);
        let engine = &mut config.engine;
        set(&mut engine.path, self.path);
        set(&mut engine.ping_interval_ms, self.ping_interval);
        set(&mut engine.ping_timeout_ms, self.ping_timeout);
        set(&mut engine.max_payload, self.max_payload);
        set(&mut engine.upgrade_timeout_ms, self.upgrade_timeout);
        set(&mut engine.connect_timeout_ms, self.connect_timeout);
        set(&mut engine.recovery_window_ms, self.recovery_window);
        set(&mut engine.transports, self.transports);
        set(&mut engine.allow_eio3, self.allow_eio3);
        set(&mut engine.max_queue, self.max_queue);
        set(&mut engine.cors_origins, self.cors_origins);
        set(&mut engine.cors_credentials, self.cors_credentials);
        set_opt(&mut engine.max_connections, self.max_connections);
        set_opt(
            &mut engine.handshakes_per_minute,
            self.handshakes_per_minute,
        );
        let auth = &mut config.auth;
        set(&mut auth.mode, self.auth_mode);
        set(&mut auth.allow_anonymous, self.allow_anonymous);
        set(&mut auth.session_secrets, self.session_secrets);
        set(&mut auth.session_cookie, self.session_cookie);
        set(&mut auth.session_prefix, self.session_prefix);
        set(&mut auth.authenticated_field, self.authenticated_field);
        set(&mut auth.user_field, self.user_field);
        set(&mut auth.token_cookie, self.token_cookie);
        set(&mut auth.token_key, self.token_key);
        set_opt(&mut auth.jwt_secret, self.jwt_secret);
        set_opt(&mut auth.jwt_public_key, self.jwt_public_key);
        set_opt(&mut auth.jwt_cookie, self.jwt_cookie);
        set_opt(&mut config.api_key, self.api_key);
        set_opt(&mut config.bridge_channel, self.bridge_channel);
        set(&mut config.bridge_namespace, self.bridge_namespace);
    }
}

/// Reads the configuration from the process's arguments and environment: defaults,
/// then the TOML file, then environment variables, then flags. `--help`, `--version`
/// and malformed flags print their message and exit the process, as clap does.
pub fn load() -> Result<Loaded, ConfigError> {
    from_cli(Cli::parse())
}

/// Like [`load`], with explicit arguments (the first is the program name). The
/// environment is still the process's. Errors in the flags are returned, not printed.
pub fn load_from<I, T>(args: I) -> Result<Loaded, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    from_cli(cli).map_err(|e| clap::Error::raw(clap::error::ErrorKind::Io, e))
}

fn from_cli(cli: Cli) -> Result<Loaded, ConfigError> {
    let mut config = match &cli.config {
        Some(path) => read_file(path)?,
        None => Config::default(),
    };
    let print = cli.print_config;
    cli.apply(&mut config);
    Ok(if print {
        Loaded::Print(Box::new(config))
    } else {
        Loaded::Run(Box::new(config))
    })
}

/// Reads and parses a TOML configuration file (absent keys keep their defaults).
pub fn read_file(path: &std::path::Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, path)
}

fn parse_toml(text: &str, path: &std::path::Path) -> Result<Config, ConfigError> {
    let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        // toml's message already points at the line and the key.
        message: e.to_string(),
    })?;
    config.file = Some(path.to_path_buf());
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in the system temp directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, text: &str) -> TempFile {
            let path = std::env::temp_dir()
                .join(format!("sockeye-config-{}-{name}.toml", std::process::id()));
            std::fs::write(&path, text).expect("write temp file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn run(args: &[&str]) -> Config {
        match load_from(std::iter::once("sockeye").chain(args.iter().copied())) {
            Ok(Loaded::Run(config)) => *config,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_without_flags_or_file() {
        let config = run(&[]);
        assert_eq!(config.listen.to_string(), "0.0.0.0:3000");
        assert_eq!(config.engine.path, "/socket.io/");
        assert_eq!(config.engine.ping_interval_ms, 25_000);
        assert!(config.engine.allow_eio3);
        assert_eq!(config.auth.mode, AuthMode::None);
        assert_eq!(config.bridge_namespace, "/");
        assert!(config.file.is_none());
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let file = TempFile::new(
            "precedence",
            r#"
listen = "127.0.0.1:4000"
redis = "redis://127.0.0.1:7000"
origins = ["https://a.example"]
api_key = "from-file"

[engine]
ping_interval_ms = 1000
transports = ["websocket"]
allow_eio3 = false

[auth]
mode = "express-session"
session_secrets = ["one", "two"]
"#,
        );
        let path = file.0.to_str().expect("utf-8 temp path");
        let from_file = run(&["--config", path]);
        assert_eq!(from_file.listen.to_string(), "127.0.0.1:4000");
        assert_eq!(from_file.redis.as_deref(), Some("redis://127.0.0.1:7000"));
        assert_eq!(from_file.engine.ping_interval_ms, 1000);
        // Keys the file does not set keep their defaults.
        assert_eq!(from_file.engine.ping_timeout_ms, 20_000);
        assert_eq!(from_file.engine.transports, ["websocket"]);
        assert!(!from_file.engine.allow_eio3);
        assert_eq!(from_file.auth.mode, AuthMode::ExpressSession);
        assert_eq!(from_file.auth.session_secrets, ["one", "two"]);
        assert_eq!(from_file.auth.session_cookie, "connect.sid");
        assert_eq!(from_file.file.as_deref(), Some(file.0.as_path()));

        let flags = run(&[
            "--config",
            path,
            "--listen",
            "127.0.0.1:5000",
            "--ping-interval",
            "2000",
            "--allow-eio3",
            "--origin",
            "https://b.example,https://c.example",
            "--session-secret",
            "three",
            "--auth-mode",
            "jwt",
        ]);
        assert_eq!(flags.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(flags.engine.ping_interval_ms, 2000);
        assert!(flags.engine.allow_eio3);
        assert_eq!(flags.origins, ["https://b.example", "https://c.example"]);
        assert_eq!(flags.auth.session_secrets, ["three"]);
        assert_eq!(flags.auth.mode, AuthMode::Jwt);
        // What no flag names still comes from the file.
        assert_eq!(flags.redis.as_deref(), Some("redis://127.0.0.1:7000"));
        assert_eq!(flags.api_key.as_deref(), Some("from-file"));
        assert_eq!(flags.engine.transports, ["websocket"]);
    }

    #[test]
    fn explicit_false_flag_overrides_file() {
        let file = TempFile::new("anon", "[auth]\nallow_anonymous = true\n");
        let path = file.0.to_str().expect("utf-8 temp path");
        assert!(run(&["--config", path]).auth.allow_anonymous);
        assert!(
            !run(&["--config", path, "--allow-anonymous", "false"])
                .auth
                .allow_anonymous
        );
    }

    #[test]
    fn unknown_key_is_a_clear_error() {
        let file = TempFile::new("unknown", "[engine]\nping_intervall_ms = 5\n");
        let err = read_file(&file.0).expect_err("typo must be refused");
        let message = err.to_string();
        assert!(message.contains("invalid configuration file"), "{message}");
        assert!(message.contains(&*file.0.to_string_lossy()), "{message}");
        assert!(message.contains("ping_intervall_ms"), "{message}");
    }

    #[test]
    fn wrong_type_and_bad_syntax_are_clear_errors() {
        let file = TempFile::new("type", "listen = 3000\n");
        let message = read_file(&file.0).expect_err("wrong type").to_string();
        assert!(message.contains("listen"), "{message}");

        let file = TempFile::new("syntax", "listen = \"127.0.0.1:1\n");
        let message = read_file(&file.0).expect_err("bad syntax").to_string();
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err =
            read_file(std::path::Path::new("/nonexistent/sockeye.toml")).expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/sockeye.toml"));
    }

    #[test]
    fn secrets_never_appear_in_debug_or_printed_config() {
        let config = run(&[
            "--api-key",
            "k-SECRET",
            "--session-secret",
            "s-SECRET",
            "--jwt-secret",
            "j-SECRET",
            "--redis",
            "redis://user:p-SECRET@127.0.0.1:6380/0",
        ]);
        for shown in [format!("{config:?}"), config.to_toml()] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        assert!(config
            .to_toml()
            .contains("redis://user:<redacted>@127.0.0.1:6380/0"));
    }

    #[test]
    fn every_form_of_redis_password_is_redacted() {
        for (url, shown) in [
            ("redis://:p-SECRET@h:6379", "redis://:<redacted>@h:6379"),
            ("rediss://p-SECRET@h/2", "rediss://<redacted>@h/2"),
            ("redis://u:p:SE@CRET@h/", "redis://u:<redacted>@h/"),
            (
                "redis+unix:///run/redis.sock?db=1&pass=p-SECRET",
                "redis+unix:///run/redis.sock?db=1&pass=<redacted>",
            ),
            (
                "unix:///run/redis.sock?user=u&password=p-SECRET",
                "unix:///run/redis.sock?user=u&password=<redacted>",
            ),
            (
                "redis://h:6379/0?protocol=resp3",
                "redis://h:6379/0?protocol=resp3",
            ),
            ("redis://h:6379", "redis://h:6379"),
            ("redis://u:p?SECRET@h/", "redis://u:<redacted>@h/"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
    }

    #[test]
    fn printed_config_reads_back() {
        let config = run(&["--listen", "127.0.0.1:9", "--transports", "websocket"]);
        let again = parse_toml(&config.to_toml(), std::path::Path::new("x.toml"))
            .expect("printed configuration is valid TOML");
        assert_eq!(again.listen, config.listen);
        assert_eq!(again.engine.transports, ["websocket"]);
    }

    #[test]
    fn help_is_grouped_and_shows_defaults() {
        let err = Cli::try_parse_from(["sockeye", "--help"]).expect_err("help exits");
        let help = err.to_string();
        for heading in ["Server:", "Engine:", "Auth:", "Publishing:", "Examples:"] {
            assert!(help.contains(heading), "{heading} missing in {help}");
        }
        assert!(help.contains("[default: 0.0.0.0:3000]"), "{help}");
        assert!(help.contains("SOCKEYE_LISTEN"), "{help}");
    }
}
