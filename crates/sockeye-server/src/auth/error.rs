//! The two ways authentication fails: the configuration cannot work (found at start-up,
//! [`AuthError`]) or one client's credentials are refused ([`Refusal`], which the client
//! receives as its `connect_error`).

use std::path::PathBuf;

use serde_json::json;
use sockeye::ConnectError;

/// Why the configured authentication cannot work. Reported at start-up by
/// [`check`](super::check) so that a typo in a key path does not surface as every user
/// being refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("auth mode express-session needs at least one session secret (auth.session_secrets)")]
    MissingSessionSecrets,
    #[error("auth mode {0} reads sessions from Redis and needs a Redis connection (redis)")]
    RedisRequired(&'static str),
    #[error("auth.token_key must contain the {{token}} placeholder, got {0:?}")]
    TokenKeyPattern(String),
    #[error("auth mode jwt needs auth.jwt_secret or auth.jwt_public_key")]
    NoJwtKey,
    #[error("cannot read the JWT public key {path}: {source}")]
    ReadPublicKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the JWT public key {path} is not an RSA public key in PEM format ({reason})")]
    InvalidPublicKey { path: PathBuf, reason: String },
}

/// Why one client is not let in. The message and the `code` are what the client's
/// `connect_error` handler sees, so they say what went wrong without revealing secrets
/// or whether a given user exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("authentication required")]
    NoCredentials,
    #[error("session cookie is not signed")]
    UnsignedCookie,
    #[error("session cookie signature is invalid")]
    InvalidSignature,
    #[error("no session for this {0}")]
    NoSession(&'static str),
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("session store unavailable")]
    StoreUnavailable,
    #[error("malformed token")]
    MalformedToken,
    #[error("invalid token")]
    InvalidToken,
    #[error("token expired")]
    TokenExpired,
    #[error("token not yet valid")]
    TokenNotYetValid,
    #[error("authentication is misconfigured")]
    Misconfigured,
    #[error("cookies are not accepted from this page's origin")]
    CrossOriginCookie,
}

impl Refusal {
    /// A stable, machine-readable reason for client code to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoCredentials => "no_credentials",
            Refusal::UnsignedCookie => "unsigned_cookie",
            Refusal::InvalidSignature => "invalid_signature",
            Refusal::NoSession(_) => "no_session",
            Refusal::NotAuthenticated => "not_authenticated",
            Refusal::StoreUnavailable => "store_unavailable",
            Refusal::MalformedToken => "malformed_token",
            Refusal::InvalidToken => "invalid_token",
            Refusal::TokenExpired => "token_expired",
            Refusal::TokenNotYetValid => "token_not_yet_valid",
            Refusal::Misconfigured => "misconfigured",
            Refusal::CrossOriginCookie => "cross_origin_cookie",
        }
    }

    /// Whether a client refused for this reason is simply not logged in, and so may
    /// enter as anonymous when `allow_anonymous` is on. Presented credentials that fail
    /// (forged, unknown, expired) are refused even then: letting them through as
    /// anonymous would hide the failure from the client that should renew them. A
    /// cookie from another origin is no credential at all.
    pub fn is_anonymous(&self) -> bool {
        matches!(
            self,
            Refusal::NoCredentials | Refusal::NotAuthenticated | Refusal::CrossOriginCookie
        )
    }
}

impl From<Refusal> for ConnectError {
    fn from(refusal: Refusal) -> Self {
        ConnectError::new(refusal.to_string()).with_data(json!({ "code": refusal.code() }))
    }
}
