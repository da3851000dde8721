//! JSON Web Tokens issued by the backend: HS256 with a shared secret, RS256 with the
//! backend's public key. The key is chosen by the token's `alg` among the configured
//! ones, and each key only verifies its own family, so a token cannot make the gateway
//! use the RSA public key as an HMAC secret.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value as Json;

use super::error::{AuthError, Refusal};
use crate::config::AuthConfig;

/// Seconds of clock difference tolerated between the backend and the gateway on `exp`
/// and `nbf`.
const LEEWAY_SECS: u64 = 30;

pub struct JwtVerifier {
    hmac: Option<DecodingKey>,
    rsa: Option<DecodingKey>,
    cookie: Option<String>,
}

impl JwtVerifier {
    /// Reads the keys (the public key file once, here, at start-up).
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        let hmac = config
            .jwt_secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        let rsa = match &config.jwt_public_key {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|source| AuthError::ReadPublicKey {
                    path: path.clone(),
                    source,
                })?;
                Some(
                    DecodingKey::from_rsa_pem(&pem).map_err(|e| AuthError::InvalidPublicKey {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?,
                )
            }
        };
        if hmac.is_none() && rsa.is_none() {
            return Err(AuthError::NoJwtKey);
        }
        Ok(JwtVerifier {
            hmac,
            rsa,
            cookie: config.jwt_cookie.clone(),
        })
    }

    /// The cookie the token may come in, if configured.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// The token's claims, once its signature, `exp` (required) and `nbf` are checked.
    pub fn verify(&self, token: &str) -> Result<Json, Refusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::InvalidToken)?;
        let key = match header.alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => self.hmac.as_ref(),
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => self.rsa.as_ref(),
            _ => None,
        }
        .ok_or(Refusal::InvalidToken)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        // No audience is configured; a token that names one is still accepted.
        validation.validate_aud = false;
        let data =
            jsonwebtoken::decode::<Json>(token, key, &validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Refusal::TokenExpired,
                ErrorKind::ImmatureSignature => Refusal::TokenNotYetValid,
                _ => Refusal::InvalidToken,
            })?;
        if !data.claims.is_object() {
            return Err(Refusal::InvalidToken);
        }
        Ok(data.claims)
    }
}

/// What a verified token tells about its user: its `user` claim when it has one, else
/// all its claims (`sub`, `name`, `exp`…).
pub fn user_of(mut claims: Json) -> Json {
    match claims.get_mut("user").map(Json::take) {
        Some(user) if !user.is_null() => user,
        _ => claims,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn verifier(secret: &str) -> JwtVerifier {
        JwtVerifier::new(&AuthConfig {
            jwt_secret: Some(secret.into()),
            ..AuthConfig::default()
        })
        .unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn sign(claims: &Json, secret: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn checks_signature_and_times() {
        let v = verifier("s3cret");
        let ok = sign(&json!({"sub": "1", "exp": now() + 60}), "s3cret");
        assert_eq!(v.verify(&ok).unwrap()["sub"], "1");
        let forged = sign(&json!({"sub": "1", "exp": now() + 60}), "other");
        assert_eq!(v.verify(&forged), Err(Refusal::InvalidToken));
        let expired = sign(&json!({"sub": "1", "exp": now() - 600}), "s3cret");
        assert_eq!(v.verify(&expired), Err(Refusal::TokenExpired));
        let early = sign(
            &json!({"sub": "1", "exp": now() + 6000, "nbf": now() + 600}),
            "s3cret",
        );
        assert_eq!(v.verify(&early), Err(Refusal::TokenNotYetValid));
        let no_exp = sign(&json!({"sub": "1"}), "s3cret");
        assert_eq!(v.verify(&no_exp), Err(Refusal::InvalidToken));
        assert_eq!(v.verify("not.a.jwt"), Err(Refusal::InvalidToken));
    }

    #[test]
    fn refuses_algorithms_without_a_configured_key() {
        let v = verifier("s3cret");
        // An RS256 header with no public key configured is refused before any check.
        let token = format!(
            "{}.e30.x",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                br#"{"alg":"RS256","typ":"JWT"}"#
            )
        );
        assert_eq!(v.verify(&token), Err(Refusal::InvalidToken));
        let none = format!(
            "{}.e30.",
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                br#"{"alg":"none"}"#
            )
        );
        assert_eq!(v.verify(&none), Err(Refusal::InvalidToken));
    }

    #[test]
    fn user_claim_wins() {
        assert_eq!(
            user_of(json!({"user": {"id": 1}, "exp": 5})),
            json!({"id": 1})
        );
        assert_eq!(user_of(json!({"sub": "a"})), json!({"sub": "a"}));
    }

    #[test]
    fn reports_a_bad_public_key_file() {
        let missing = JwtVerifier::new(&AuthConfig {
            jwt_public_key: Some("/nonexistent/key.pem".into()),
            ..AuthConfig::default()
        });
        assert!(matches!(missing, Err(AuthError::ReadPublicKey { .. })));
        let dir = std::env::temp_dir().join(format!("sockeye-jwt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a key").unwrap();
        let bad = JwtVerifier::new(&AuthConfig {
            jwt_public_key: Some(garbage.clone()),
            ..AuthConfig::default()
        });
        assert!(matches!(bad, Err(AuthError::InvalidPublicKey { .. })));
        std::fs::remove_dir_all(&dir).ok();
        assert!(matches!(
            JwtVerifier::new(&AuthConfig::default()),
            Err(AuthError::NoJwtKey)
        ));
    }
}
