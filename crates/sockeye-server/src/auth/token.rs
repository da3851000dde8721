//! Opaque session tokens written by another backend: a Django (or Rails, PHP…) view
//! stores `SETEX session:<token> 86400 '{"user": {...}}'` and gives the browser the
//! token in a cookie (`nodejskey` by default) or to the page, which passes it in the
//! handshake. The token is only a Redis key, so its shape is checked before a key is
//! built from it: a client must not be able to point the lookup at other keys.

use serde_json::Value as Json;

use super::error::{AuthError, Refusal};
use super::session_store::{field, SessionStore, Stored};
use crate::config::AuthConfig;

/// The placeholder in `token_key` replaced by the token.
pub const PLACEHOLDER: &str = "{token}";

/// Shortest accepted token: anything shorter is guessable, so it cannot be a real one.
const MIN_TOKEN_LEN: usize = 8;
/// Longest accepted token.
const MAX_TOKEN_LEN: usize = 256;

pub struct TokenSessions {
    cookie: String,
    key_pattern: String,
    user_field: String,
    store: SessionStore,
}

impl TokenSessions {
    pub fn new(config: &AuthConfig, store: SessionStore) -> Result<Self, AuthError> {
        if !config.token_key.contains(PLACEHOLDER) {
            return Err(AuthError::TokenKeyPattern(config.token_key.clone()));
        }
        Ok(TokenSessions {
            cookie: config.token_cookie.clone(),
            key_pattern: config.token_key.clone(),
            user_field: config.user_field.clone(),
            store,
        })
    }

    /// The cookie the token may come in.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// The user of the session stored under `token`.
    pub async fn authenticate(&self, token: &str) -> Result<Json, Refusal> {
        if !is_well_formed(token) {
            return Err(Refusal::MalformedToken);
        }
        let key = self.key_pattern.replace(PLACEHOLDER, token);
        let session = match self.store.get(&key).await {
            Ok(Stored::Session(session)) => session,
            Ok(Stored::Missing) => return Err(Refusal::NoSession("token")),
            Ok(Stored::Unreadable) => {
                tracing::warn!("token session is not JSON; refusing");
                return Err(Refusal::NoSession("token"));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read token session");
                return Err(Refusal::StoreUnavailable);
            }
        };
        // The backend writes a session only for a logged-in user; one without a user
        // (a logout that kept the key, say) is not a login.
        match field(&session, &self.user_field) {
            None | Some(Json::Null) => Err(Refusal::NotAuthenticated),
            Some(user) => Ok(user.clone()),
        }
    }
}

/// Letters, digits, `-`, `_` and `.`: what session-token generators emit (hex, base64url,
/// Django's lowercase alphanumerics), and nothing that could change the key's meaning
/// (`:`, `*`, `{`, spaces, control characters).
pub fn is_well_formed(token: &str) -> bool {
    (MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_tokens_only() {
        assert!(is_well_formed("k2x9q0abcdefghijklmnopqrstuvwxyz"));
        assert!(is_well_formed("Ab-_.0123456789"));
        for bad in [
            "",
            "short",
            "abcdefgh:other",
            "abcdefgh*",
            "abc defgh",
            "abcdefgh\r\nFLUSHALL",
            "abcdefgh{x}",
            "é-abcdefgh",
        ] {
            assert!(!is_well_formed(bad), "{bad:?} must be refused");
        }
        assert!(!is_well_formed(&"a".repeat(MAX_TOKEN_LEN + 1)));
    }
}
