//! `GET /socket.io/socket.io.min.js`: the official client bundle, served like the
//! Node.js server does (`socket.io.js`, `socket.io.min.js`, the msgpack and ESM builds,
//! and their source maps), so that a page can load the client from the gateway itself
//! with a version that is known to match it.
//!
//! The files are fetched from npm at build time (see `build.rs`) and embedded in the
//! binary; a build without network embeds none and these routes answer 404 with the
//! reason. Responses carry a content ETag (`If-None-Match` gets 304) and a day of
//! public caching, as the reference server does.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/client_bundle_files.rs"));
}

/// The socket.io-client version embedded (or that would have been).
pub const CLIENT_VERSION: &str = embedded::VERSION;

/// The public cache lifetime of the bundle, as the Node.js server sends.
const CACHE_CONTROL: &str = "public, max-age=86400";

/// Whether the build embedded the bundle.
pub fn available() -> bool {
    !embedded::FILES.is_empty()
}

/// The embedded file `name` (e.g. `socket.io.min.js`), if any.
pub fn file(name: &str) -> Option<&'static [u8]> {
    find(name).map(|(_, bytes, _)| bytes)
}

fn find(name: &str) -> Option<(&'static str, &'static [u8], &'static str)> {
    embedded::FILES.iter().copied().find(|(n, _, _)| *n == name)
}

/// The routes under the default Socket.IO path, `/socket.io/`.
pub fn routes() -> Router {
    routes_at("/socket.io/")
}

/// The routes under the Socket.IO `path` (`--path`), e.g. `/socket.io/socket.io.js`.
pub fn routes_at(path: &str) -> Router {
    let base = path.trim_end_matches('/');
    Router::new().route(&format!("{base}/{{file}}"), get(serve))
}

async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if !is_bundle_name(&name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some((_, bytes, etag)) = find(&name) else {
        let message = if available() {
            format!("{name} is not part of socket.io-client {CLIENT_VERSION}\n")
        } else {
            format!(
                "the socket.io-client {CLIENT_VERSION} bundle was not embedded when this \
                 sockeye binary was built ({}); load the client from a CDN or npm instead\n",
                embedded::MISSING_REASON
            )
        };
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response();
    };
    let content_type = if name.ends_with(".map") {
        "application/json"
    } else {
        "application/javascript; charset=utf-8"
    };
    let etag_value = HeaderValue::from_static(etag);
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == etag || tag == "*" || tag.strip_prefix("W/") == Some(etag)
        });
    let common = [
        (header::ETAG, etag_value),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        bytes,
    )
        .into_response()
}

/// The names the Node.js server answers; anything else under the path is not ours to
/// explain (another route or a plain 404).
fn is_bundle_name(name: &str) -> bool {
    let base = name.strip_suffix(".map").unwrap_or(name);
    matches!(
        base,
        "socket.io.js" | "socket.io.min.js" | "socket.io.msgpack.min.js" | "socket.io.esm.min.js"
    )
}
