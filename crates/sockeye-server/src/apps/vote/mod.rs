//! The vote app.

use axum::Router;

use crate::gateway::Gateway;

/// Registers the app's namespace and returns its page routes.
pub fn install(_gateway: &Gateway) -> Router {
    Router::new()
}
