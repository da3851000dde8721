//! The authentication bridge: lets a backend's users in.
//!
//! The web backend already knows who its users are; the gateway reuses that knowledge
//! instead of running a login of its own. Depending on `auth.mode` it reads an
//! express-session cookie ([`express`]), an opaque token whose session another backend
//! wrote into Redis ([`token`]) or a JWT ([`jwt`]). The user found becomes the socket's
//! data (`socket.data()`), which the apps use as the user's identity; a refusal reaches
//! the client as `connect_error` with a message and `{ "code": … }`.

pub mod cookie_signature;
mod credentials;
mod error;
mod express;
pub mod jwt;
mod session_store;
mod token;

use std::sync::Arc;

use serde_json::Value as Json;
use sockeye::{ConnectError, Namespace, Socket, Value};

pub use cookie_signature::{signature, unsign, SignatureError};
pub use error::{AuthError, Refusal};
pub use session_store::LOOKUP_TIMEOUT;
pub use token::is_well_formed as is_well_formed_token;

use crate::config::{AuthMode, Config};
use crate::gateway::Gateway;
use crate::origin::CookieOrigins;
use crate::redis::RedisHandle;
use express::ExpressSessions;
use jwt::JwtVerifier;
use session_store::SessionStore;
use token::TokenSessions;

/// Checks that the configured authentication can work (secrets present, Redis
/// configured for the modes that need it, the JWT public key readable and valid), so
/// the gateway can refuse to start rather than refuse every user.
pub fn check(config: &Config) -> Result<(), AuthError> {
    Authenticator::from_config(config, None).map(|_| ())
}

/// Adds the configured authentication middleware to a namespace.
///
/// A configuration that cannot work (see [`check`]) makes the namespace refuse every
/// connection with "authentication is misconfigured": failing closed, never open.
pub fn install(gateway: &Gateway, ns: &Namespace) {
    match Authenticator::from_config(&gateway.config, gateway.redis.clone()) {
        Ok(Some(auth)) => auth.install(ns),
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, namespace = ns.name(), "authentication is misconfigured; refusing every connection");
            ns.use_middleware(|_socket: Socket| async {
                Err(ConnectError::from(Refusal::Misconfigured))
            });
        }
    }
}

/// The configured authentication, ready to be installed on namespaces. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    method: Method,
    allow_anonymous: bool,
    /// The pages whose cookies count as credentials.
    cookie_origins: CookieOrigins,
}

enum Method {
    Express(ExpressSessions),
    Token(TokenSessions),
    Jwt(JwtVerifier),
}

impl Authenticator {
    /// Builds the authentication `config` asks for (`None` for mode `none`). The
    /// Redis handle may be absent when only checking the configuration.
    pub fn from_config(
        config: &Config,
        redis: Option<RedisHandle>,
    ) -> Result<Option<Self>, AuthError> {
        let auth = &config.auth;
        let store = SessionStore::new(redis);
        let method = match auth.mode {
            AuthMode::None => return Ok(None),
            AuthMode::ExpressSession => {
                if auth.session_secrets.iter().all(|s| s.is_empty()) {
                    return Err(AuthError::MissingSessionSecrets);
                }
                if config.redis.is_none() {
                    return Err(AuthError::RedisRequired("express-session"));
                }
                Method::Express(ExpressSessions::new(auth, store))
            }
            AuthMode::Token => {
                if config.redis.is_none() {
                    return Err(AuthError::RedisRequired("token"));
                }
                Method::Token(TokenSessions::new(auth, store)?)
            }
            AuthMode::Jwt => Method::Jwt(JwtVerifier::new(auth)?),
        };
        Ok(Some(Authenticator {
            inner: Arc::new(Inner {
                method,
                allow_anonymous: auth.allow_anonymous,
                cookie_origins: CookieOrigins::new(&config.engine),
            }),
        }))
    }

    /// Adds the connect middleware to `ns`.
    pub fn install(&self, ns: &Namespace) {
        let auth = self.clone();
        ns.use_middleware(move |socket: Socket| {
            let auth = auth.clone();
            async move { auth.admit(&socket).await }
        });
    }

    /// Lets the socket in with its user as data, or refuses it.
    async fn admit(&self, socket: &Socket) -> Result<(), ConnectError> {
        match self.authenticate(socket).await {
            Ok(user) => {
                socket.set_data(Value::from(user));
                Ok(())
            }
            Err(refusal) if self.inner.allow_anonymous && refusal.is_anonymous() => {
                socket.set_data(Value::Null);
                Ok(())
            }
            Err(refusal) => {
                tracing::debug!(
                    namespace = socket.nsp(),
                    code = refusal.code(),
                    "connection refused by authentication"
                );
                Err(refusal.into())
            }
        }
    }

    /// The user the socket's credentials name. Cookies count only when the page that
    /// opened the connection may use them ([`CookieOrigins`]).
    pub async fn authenticate(&self, socket: &Socket) -> Result<Json, Refusal> {
        let cookies = self.inner.cookie_origins.trust(socket.request());
        match &self.inner.method {
            Method::Express(sessions) => {
                if !cookies && has_cookie(socket, sessions.cookie()) {
                    return Err(Refusal::CrossOriginCookie);
                }
                sessions.authenticate(socket.request()).await
            }
            Method::Token(sessions) => {
                let token = presented_token(socket, Some(sessions.cookie()), cookies)?;
                sessions.authenticate(&token).await
            }
            Method::Jwt(verifier) => {
                let token = presented_token(socket, verifier.cookie(), cookies)?;
                verifier.verify(&token).map(jwt::user_of)
            }
        }
    }
}

/// The token the client presented; one in `cookie` counts only when `cookies` are
/// trusted.
fn presented_token(
    socket: &Socket,
    cookie: Option<&str>,
    cookies: bool,
) -> Result<String, Refusal> {
    match credentials::presented_token(socket, cookie.filter(|_| cookies))? {
        Some(token) => Ok(token),
        None if cookie.is_some_and(|c| has_cookie(socket, c)) => Err(Refusal::CrossOriginCookie),
        None => Err(Refusal::NoCredentials),
    }
}

fn has_cookie(socket: &Socket, name: &str) -> bool {
    socket.request().cookie(name).is_some_and(|v| !v.is_empty())
}
