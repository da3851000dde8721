//! What every part of the gateway shares: the Socket.IO server, the configuration,
//! the Redis connection (when configured) and the metrics.

use std::sync::Arc;

use sockeye::SocketIo;
use sockeye_redis::RedisAdapterFactory;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::redis::RedisHandle;

/// Shared by the HTTP routes, the auth bridge, the apps and the publishers. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    pub io: SocketIo,
    pub config: Arc<Config>,
    /// `None` when the gateway runs in memory (no `--redis`).
    pub redis: Option<RedisHandle>,
    /// The Redis adapter's link to the cluster (`None` without `--redis`).
    pub cluster: Option<RedisAdapterFactory>,
    pub metrics: Arc<Metrics>,
}
