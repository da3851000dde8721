//! Prometheus metrics of the gateway (`GET /metrics`).

/// Gateway-level counters. (To be filled in.)
#[derive(Debug, Default)]
pub struct Metrics {}

use axum::Router;

use crate::gateway::Gateway;

/// `GET /metrics`.
pub fn routes(_gateway: &Gateway) -> Router {
    Router::new()
}
