//! Publishing from backends: the HTTP API and the Redis bridge channel.

pub mod bridge;

use axum::Router;

use crate::gateway::Gateway;

/// `POST /api/emit`.
pub fn routes(_gateway: &Gateway) -> Router {
    Router::new()
}
