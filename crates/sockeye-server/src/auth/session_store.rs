//! Reading the sessions another backend wrote into Redis, with a bounded wait so a
//! Redis outage refuses connections quickly instead of leaving clients hanging.

use std::time::Duration;

use serde_json::Value as Json;

use crate::redis::RedisHandle;

/// Longest wait for one session lookup. A handshake is refused after this, since a
/// client that waits longer would give up (or time out the connection) anyway.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a session could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the gateway has no redis connection")]
    NotConfigured,
}

/// The sessions in Redis: one JSON document per key.
#[derive(Clone)]
pub struct SessionStore {
    redis: Option<RedisHandle>,
    timeout: Duration,
}

/// What is stored under a key.
#[derive(Debug)]
pub enum Stored {
    Missing,
    /// Present, but not a JSON document (a store written by something else).
    Unreadable,
    Session(Json),
}

impl SessionStore {
    pub fn new(redis: Option<RedisHandle>) -> Self {
        SessionStore {
            redis,
            timeout: LOOKUP_TIMEOUT,
        }
    }

    /// `GET key`, parsed as JSON.
    pub async fn get(&self, key: &str) -> Result<Stored, StoreError> {
        let redis = self.redis.as_ref().ok_or(StoreError::NotConfigured)?;
        let mut conn = redis.manager.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        let query = cmd.query_async::<Option<Vec<u8>>>(&mut conn);
        let bytes = tokio::time::timeout(self.timeout, query)
            .await
            .map_err(|_| StoreError::Timeout(self.timeout))??;
        Ok(match bytes {
            None => Stored::Missing,
            Some(bytes) => match serde_json::from_slice(&bytes) {
                Ok(json) => Stored::Session(json),
                Err(_) => Stored::Unreadable,
            },
        })
    }
}

/// The value at a dotted path (`passport.user`) of a JSON document.
pub fn field<'a>(doc: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.')
        .filter(|segment| !segment.is_empty())
        .try_fold(doc, |value, segment| value.get(segment))
}

/// JavaScript truthiness, since the sessions were written by JavaScript (or for it):
/// `false`, `0`, `""`, `null` and a missing field are false; objects and arrays true.
pub fn truthy(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Json::String(s)) => !s.is_empty(),
        Some(Json::Array(_)) | Some(Json::Object(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_dotted_paths() {
        let doc = json!({"passport": {"user": 7}, "authenticated": true});
        assert_eq!(field(&doc, "passport.user"), Some(&json!(7)));
        assert_eq!(field(&doc, "authenticated"), Some(&json!(true)));
        assert_eq!(field(&doc, "passport.nope"), None);
        assert_eq!(field(&doc, "authenticated.x"), None);
    }

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(false), json!(0), json!(""), json!(null), json!(0.0)] {
            assert!(!truthy(Some(&falsy)), "{falsy} should be falsy");
        }
        assert!(!truthy(None));
        for t in [json!(true), json!(1), json!("yes"), json!({}), json!([])] {
            assert!(truthy(Some(&t)), "{t} should be truthy");
        }
    }
}
