//! Publishing from backends: the HTTP API (`POST /api/emit`, `GET /api/namespaces`)
//! and the single-channel Redis bridge.
//!
//! Both front doors turn what a backend sends into a [`Publication`] and hand it to
//! [`publish`], so they accept the same event names, apply the same limits and reach
//! the same sockets. See `docs/publishing.md` for the wire formats.

pub mod api;
pub mod bridge;
mod emit;
mod fields;
mod key;

pub use emit::{publish, Delivered, Publication, PublishError, MAX_EVENT_NAME_BYTES};

use axum::Router;

use crate::gateway::Gateway;

/// The publish API's routes (`POST /api/emit`, `GET /api/namespaces`).
pub fn routes(gateway: &Gateway) -> Router {
    api::routes(gateway)
}
