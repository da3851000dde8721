//! `GET /health`.

use axum::Router;

use crate::gateway::Gateway;

pub fn routes(_gateway: &Gateway) -> Router {
    Router::new()
}
