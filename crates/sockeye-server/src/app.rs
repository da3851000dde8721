//! Assembles the gateway: the Socket.IO server with its options, the auth bridge, the
//! HTTP routes (health, metrics, client bundle, publish API, app pages) and the
//! Redis bridge.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sockeye::{SocketIo, Transport};
use sockeye_redis::{RedisAdapterConfig, RedisAdapterFactory};

use crate::config::Config;
use crate::gateway::Gateway;
use crate::metrics::Metrics;
use crate::redis::RedisHandle;
use crate::{apps, auth, client_bundle, health, metrics, origin, publish};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to Redis at {url}: {source}")]
    Redis {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("cannot join the Redis cluster at {url}: {source}")]
    Adapter {
        url: String,
        #[source]
        source: sockeye_redis::RedisAdapterError,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Builds the router and the shared state from a configuration.
pub async fn build(config: Config) -> Result<(Router, Gateway), StartError> {
    auth::check(&config).map_err(|e| StartError::Config(e.to_string()))?;
    let redis = match &config.redis {
        Some(url) => Some(
            RedisHandle::connect(url)
                .await
                .map_err(|source| StartError::Redis {
                    url: crate::config::redact_url(url),
                    source,
                })?,
        ),
        None => None,
    };
    let engine = &config.engine;
    let mut transports = Vec::new();
    for name in &engine.transports {
        transports.push(
            Transport::parse(name)
                .ok_or_else(|| StartError::Config(format!("unknown transport {name:?}")))?,
        );
    }
    let mut builder = SocketIo::builder()
        .path(engine.path.clone())
        .ping_interval(Duration::from_millis(engine.ping_interval_ms))
        .ping_timeout(Duration::from_millis(engine.ping_timeout_ms))
        .max_payload(engine.max_payload)
        .upgrade_timeout(Duration::from_millis(engine.upgrade_timeout_ms))
        .connect_timeout(Duration::from_millis(engine.connect_timeout_ms))
        .transports(transports)
        .allow_eio3(engine.allow_eio3)
        .max_queue(engine.max_queue);
    if engine.recovery_window_ms > 0 {
        builder = builder.connection_state_recovery(sockeye::RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(engine.recovery_window_ms),
            ..Default::default()
        });
    }
    if let Some(max) = engine.max_connections {
        builder = builder.max_sessions(max);
    }
    if let Some(burst) = engine.handshakes_per_minute {
        builder = builder.handshake_rate(burst, Duration::from_secs(60));
    }
    if let Some(cors) = origin::cors(engine).map_err(StartError::Config)? {
        builder = builder.cors(cors);
    }
    if let Some(hook) = origin::allow_request(&config) {
        builder = builder.allow_request(hook);
    }
    let mut cluster = None;
    if let (Some(handle), Some(url)) = (&redis, &config.redis) {
        let adapter_config = RedisAdapterConfig::default().key(config.redis_key.clone());
        let factory = RedisAdapterFactory::new(handle.client.clone(), adapter_config)
            .await
            .map_err(|source| StartError::Adapter {
                url: crate::config::redact_url(url),
                source,
            })?;
        tracing::info!(uid = factory.uid(), key = %config.redis_key, "joined the Redis cluster");
        cluster = Some(factory.clone());
        builder = builder.adapter(factory);
    }
    let (layer, io) = builder.build_layer();
    let gateway = Gateway {
        io,
        config: Arc::new(config),
        redis,
        cluster,
        metrics: Arc::new(Metrics::default()),
    };
    if let Some(main) = gateway.io.of("/") {
        auth::install(&gateway, &main);
    }
    let router = Router::new()
        .merge(health::routes(&gateway))
        .merge(metrics::routes(&gateway))
        .merge(client_bundle::routes_at(&gateway.config.engine.path))
        .merge(publish::routes(&gateway))
        .merge(apps::chat::install(&gateway))
        .merge(apps::vote::install(&gateway))
        .layer(layer)
        .layer(axum::middleware::map_request(peer_address));
    publish::bridge::spawn(&gateway);
    Ok((router, gateway))
}

/// Hands the TCP peer address (axum's `ConnectInfo`, present when served by
/// [`crate::shutdown::serve`]) to the engine in the form it reads.
async fn peer_address(mut request: axum::extract::Request) -> axum::extract::Request {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0);
    if let Some(addr) = peer {
        request
            .extensions_mut()
            .insert(sockeye_engine::RemoteAddr(addr));
    }
    request
}
