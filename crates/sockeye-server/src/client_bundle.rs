//! `GET /socket.io/socket.io.min.js`: the official client bundle.

use axum::Router;

pub fn routes() -> Router {
    Router::new()
}
