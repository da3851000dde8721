//! The gateway's Redis connection, and its state for `/health`.

/// A shared Redis connection that reconnects by itself.
#[derive(Clone)]
pub struct RedisHandle {
    pub client: redis::Client,
    pub manager: redis::aio::ConnectionManager,
}

impl RedisHandle {
    /// Connects to `url` (fails fast when Redis is not there at start-up).
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager = redis::aio::ConnectionManager::new(client.clone()).await?;
        Ok(RedisHandle { client, manager })
    }
}
