//! `GET /health`: what a load balancer or an orchestrator probes.
//!
//! 200 while the gateway can do its job, 503 when the Redis it was configured with does
//! not answer or the Redis adapter has lost its subscription (broadcasts to other
//! nodes, sessions and the bridge would silently fail): taking the node out of
//! rotation is better than serving half-working connections.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::gateway::Gateway;

/// The JSON body of `/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok`, or `degraded` when Redis is down.
    pub status: &'static str,
    /// Engine.IO connections open on this node.
    pub connections: usize,
    /// `up`, `down`, or `disabled` (no `--redis`).
    pub redis: &'static str,
    /// The Redis adapter's subscription to the other nodes: `up`, `down` (it is
    /// reconnecting; broadcasts reach this node's clients only), or `disabled`.
    pub cluster: &'static str,
}

pub fn routes(gateway: &Gateway) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(gateway.clone())
}

async fn health(State(gateway): State<Gateway>) -> (StatusCode, Json<Health>) {
    let redis = match &gateway.redis {
        None => "disabled",
        Some(handle) => match handle.ping().await {
            Ok(()) => "up",
            Err(e) => {
                gateway.metrics.redis_error();
                tracing::warn!(error = %e, "health check: Redis is down");
                "down"
            }
        },
    };
    let cluster = match &gateway.cluster {
        None => "disabled",
        Some(factory) => factory.state().as_str(),
    };
    let (code, status) = if redis == "down" || cluster == "down" {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    } else {
        (StatusCode::OK, "ok")
    };
    let body = Health {
        status,
        connections: gateway.io.connection_count(),
        redis,
        cluster,
    };
    (code, Json(body))
}
