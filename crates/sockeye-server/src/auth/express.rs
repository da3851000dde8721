//! express-session with connect-redis: the browser holds a signed session id cookie
//! (`connect.sid=s%3A<id>.<signature>`), the session itself is the JSON connect-redis
//! stored under `sess:<id>`. The gateway checks the signature with the backend's secret
//! (so ids cannot be guessed or forged) and reads the session to learn who the user is.

use serde_json::Value as Json;
use sockeye::RequestInfo;

use super::cookie_signature::{decode_cookie_value, unsign, SignatureError};
use super::error::Refusal;
use super::session_store::{field, truthy, SessionStore, Stored};
use crate::config::AuthConfig;

/// Session ids longer than this are not looked up (express's own are 32 characters).
const MAX_SESSION_ID_LEN: usize = 256;

pub struct ExpressSessions {
    secrets: Vec<String>,
    cookie: String,
    prefix: String,
    authenticated_field: String,
    user_field: String,
    store: SessionStore,
}

impl ExpressSessions {
    pub fn new(config: &AuthConfig, store: SessionStore) -> Self {
        ExpressSessions {
            secrets: config.session_secrets.clone(),
            cookie: config.session_cookie.clone(),
            prefix: config.session_prefix.clone(),
            authenticated_field: config.authenticated_field.clone(),
            user_field: config.user_field.clone(),
            store,
        }
    }

    /// The name of the session cookie.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// The user of the session the request's cookie points to.
    pub async fn authenticate(&self, request: &RequestInfo) -> Result<Json, Refusal> {
        let raw = request
            .cookie(&self.cookie)
            .filter(|v| !v.is_empty())
            .ok_or(Refusal::NoCredentials)?;
        let value = decode_cookie_value(raw);
        let id = unsign(&value, &self.secrets).map_err(|e| match e {
            SignatureError::Unsigned => Refusal::UnsignedCookie,
            SignatureError::Mismatch => Refusal::InvalidSignature,
        })?;
        if id.is_empty() || id.len() > MAX_SESSION_ID_LEN {
            return Err(Refusal::NoSession("cookie"));
        }
        let key = format!("{}{}", self.prefix, id);
        let session = match self.store.get(&key).await {
            Ok(Stored::Session(session)) => session,
            Ok(Stored::Missing) => return Err(Refusal::NoSession("cookie")),
            Ok(Stored::Unreadable) => {
                tracing::warn!(prefix = %self.prefix, "express session is not JSON; refusing");
                return Err(Refusal::NoSession("cookie"));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read express session");
                return Err(Refusal::StoreUnavailable);
            }
        };
        if !truthy(field(&session, &self.authenticated_field)) {
            return Err(Refusal::NotAuthenticated);
        }
        Ok(field(&session, &self.user_field)
            .cloned()
            .unwrap_or(Json::Null))
    }
}
