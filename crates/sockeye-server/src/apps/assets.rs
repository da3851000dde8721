//! Serving the embedded pages, scripts and styles.
//!
//! Every response carries a strict Content-Security-Policy: the pages only load
//! scripts and styles from the gateway itself, so even a rendering mistake could not
//! run a script injected through a chat message or a vote.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The script shared by both apps (connection and acknowledged requests).
pub const APP_JS: &str = include_str!("../../assets/app.js");

/// The style sheet shared by both apps.
pub const APP_CSS: &str = include_str!("../../assets/app.css");

/// Pictures may come from any http(s) host (the vote app's avatars); everything else
/// must come from the gateway.
const CSP: &str = "default-src 'self'; img-src 'self' http: https: data:; \
    connect-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Wraps an embedded file in a response with its content type.
pub fn embedded(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        body,
    )
        .into_response()
}

pub fn html(body: &'static str) -> Response {
    embedded("text/html; charset=utf-8", body)
}

pub fn javascript(body: &'static str) -> Response {
    embedded("text/javascript; charset=utf-8", body)
}

pub fn css(body: &'static str) -> Response {
    embedded("text/css; charset=utf-8", body)
}
