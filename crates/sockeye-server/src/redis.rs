//! The gateway's Redis connection, and its state for `/health`.

use std::time::Duration;

/// How long `/health` waits for a PING answer before calling Redis down: long enough
/// for a busy server, short enough for a load balancer's probe.
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// A shared Redis connection that reconnects by itself.
#[derive(Clone)]
pub struct RedisHandle {
    pub client: redis::Client,
    pub manager: redis::aio::ConnectionManager,
}

/// Why a [`RedisHandle::ping`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("Redis did not answer PING within {0:?}")]
    Timeout(Duration),
    #[error("Redis PING failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis answered PING with {0:?}")]
    Unexpected(String),
}

impl RedisHandle {
    /// Connects to `url` (fails fast when Redis is not there at start-up).
    ///
    /// Once connected, a lost connection is re-established in the background; the
    /// retry delay is capped at a second so that the gateway is back soon after
    /// Redis restarts, and each attempt gives up after two seconds rather than
    /// hanging on an unreachable host.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_max_delay(Duration::from_secs(1))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let manager =
            redis::aio::ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(RedisHandle { client, manager })
    }

    /// Sends `PING` on the shared connection and waits at most [`PING_TIMEOUT`].
    pub async fn ping(&self) -> Result<(), PingError> {
        let mut conn = self.manager.clone();
        let cmd = redis::cmd("PING");
        let answer = tokio::time::timeout(PING_TIMEOUT, cmd.query_async::<String>(&mut conn))
            .await
            .map_err(|_| PingError::Timeout(PING_TIMEOUT))??;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(PingError::Unexpected(answer))
        }
    }
}
