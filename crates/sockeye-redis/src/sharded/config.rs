//! Options of the sharded adapter (those of `createShardedAdapter` in Node.js).

use std::time::Duration;

/// Which channels carry broadcasts (`subscriptionMode` in Node.js).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// Everything goes through the namespace's channel `<prefix>#<nsp>#`.
    Static,
    /// A broadcast to exactly one room that is not a socket id goes through that room's
    /// channel `<prefix>#<nsp>#<room>#`, which only the nodes having sockets in it
    /// subscribe to. The default, as in `@socket.io/redis-adapter` 8.3.
    #[default]
    Dynamic,
    /// Same, socket ids (private rooms) included: every room gets its channel.
    DynamicPrivate,
}

/// Options of [`ShardedAdapterFactory`](super::ShardedAdapterFactory). Every node of a
/// cluster, Sockeye or Node.js, must use the same `channel_prefix` and
/// `subscription_mode`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ShardedAdapterConfig {
    /// Prefix of every channel (`channelPrefix`, default `socket.io`).
    pub channel_prefix: String,
    /// Which channels carry broadcasts (`subscriptionMode`, default dynamic).
    pub subscription_mode: SubscriptionMode,
    /// How long `fetch_sockets` and server-side emits with acks wait for the other
    /// nodes (5 s, as Node.js).
    pub request_timeout: Duration,
}

impl Default for ShardedAdapterConfig {
    fn default() -> Self {
        ShardedAdapterConfig {
            channel_prefix: "socket.io".into(),
            subscription_mode: SubscriptionMode::default(),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl ShardedAdapterConfig {
    /// Sets the channel prefix.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets the subscription mode.
    pub fn subscription_mode(mut self, mode: SubscriptionMode) -> Self {
        self.subscription_mode = mode;
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}
