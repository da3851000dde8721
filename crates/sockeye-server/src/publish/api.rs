//! The HTTP publish API: `POST /api/emit` and `GET /api/namespaces`.
//!
//! Every answer is JSON, errors included (`{"ok": false, "code", "error"}`), so a
//! backend can log what went wrong without parsing HTML or plain text.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{fields, key, publish, Publication, PublishError};
use crate::gateway::Gateway;

/// Why a request to the API was refused. Each maps to one status and one `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the publish API is disabled: the server has no api_key configured")]
    Disabled,
    #[error("missing or wrong API key (send `Authorization: Bearer <key>` or `X-Api-Key: <key>`)")]
    Unauthorized,
    #[error("the body must be JSON (send `Content-Type: application/json`)")]
    NotJson,
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the body could not be read: {0}")]
    Body(String),
    #[error("invalid JSON body: {0}")]
    BadJson(String),
    #[error("`args` must be an array of event arguments")]
    ArgsNotArray,
    #[error("send either `args` or `data`, not both")]
    ArgsAndData,
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Disabled => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Body(_)
            | ApiError::BadJson(_)
            | ApiError::ArgsNotArray
            | ApiError::ArgsAndData => StatusCode::BAD_REQUEST,
            ApiError::Publish(PublishError::UnknownNamespace(_)) => StatusCode::NOT_FOUND,
            ApiError::Publish(PublishError::Emit(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Publish(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// A stable, machine-readable name for the error.
    fn code(&self) -> &'static str {
        match self {
            ApiError::Disabled => "disabled",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotJson => "unsupported_media_type",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::Body(_) | ApiError::BadJson(_) => "bad_json",
            ApiError::ArgsNotArray | ApiError::ArgsAndData => "bad_args",
            ApiError::Publish(PublishError::EmptyEvent) => "missing_event",
            ApiError::Publish(PublishError::EventTooLong) => "event_too_long",
            ApiError::Publish(PublishError::ReservedEvent(_)) => "reserved_event",
            ApiError::Publish(PublishError::UnknownNamespace(_)) => "unknown_namespace",
            ApiError::Publish(PublishError::Emit(_)) => "emit_failed",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "ok": false, "code": self.code(), "error": self.to_string() });
        (self.status(), Json(body)).into_response()
    }
}

/// The body of `POST /api/emit`. Unknown fields are refused: a misspelt `rooms`
/// would otherwise turn a message for one room into a broadcast to everyone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmitRequest {
    namespace: Option<String>,
    #[serde(default, deserialize_with = "fields::rooms")]
    rooms: Vec<String>,
    #[serde(default, deserialize_with = "fields::rooms")]
    except: Vec<String>,
    /// Missing and empty are the same error (`missing_event`).
    #[serde(default)]
    event: String,
    #[serde(default, deserialize_with = "fields::present")]
    args: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "fields::present")]
    data: Option<serde_json::Value>,
}

impl EmitRequest {
    fn into_publication(self) -> Result<Publication, ApiError> {
        let args = match (self.args, self.data) {
            (Some(_), Some(_)) => return Err(ApiError::ArgsAndData),
            (Some(serde_json::Value::Array(args)), None) => {
                args.into_iter().map(sockeye::Value::from).collect()
            }
            (Some(_), None) => return Err(ApiError::ArgsNotArray),
            (None, Some(data)) => vec![sockeye::Value::from(data)],
            (None, None) => Vec::new(),
        };
        Ok(Publication {
            namespace: self.namespace,
            rooms: self.rooms,
            except: self.except,
            event: self.event,
            args,
        })
    }
}

/// The API's routes, sharing the gateway as state.
pub fn routes(gateway: &Gateway) -> Router {
    Router::new()
        .route("/api/emit", post(emit))
        .route("/api/namespaces", get(namespaces))
        .with_state(gateway.clone())
}

/// Refuses the request unless the API is enabled and the request carries the key.
fn check_key(gateway: &Gateway, headers: &HeaderMap) -> Result<(), ApiError> {
    // An empty key would let in anyone sending an empty header: treat it as unset.
    let expected = match gateway.config.api_key.as_deref() {
        Some(k) if !k.is_empty() => k,
        _ => return Err(ApiError::Disabled),
    };
    if key::authorized(headers, expected) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// `application/json`, with parameters, or any `+json` type.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Reads at most `limit` bytes. A declared `Content-Length` over the limit is refused
/// before reading anything; a chunked body is cut off as soon as it goes over.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge(limit));
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::Body(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// `POST /api/emit`: answers 202 with the namespace and the local recipient count.
async fn emit(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let result = emit_inner(&gateway, &headers, body).await;
    match &result {
        Ok((namespace, recipients)) => {
            gateway.metrics.publish_call();
            tracing::debug!(%namespace, recipients, "publish API emitted an event");
        }
        Err(e) => {
            gateway.metrics.publish_rejected();
            tracing::info!(code = e.code(), error = %e, "publish API refused a request");
        }
    }
    let (namespace, recipients) = result?;
    let body = json!({ "ok": true, "namespace": namespace, "recipients": recipients });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

async fn emit_inner(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, usize), ApiError> {
    check_key(gateway, headers)?;
    if !is_json(headers) {
        return Err(ApiError::NotJson);
    }
    let bytes = read_body(headers, body, gateway.config.engine.max_payload).await?;
    let request: EmitRequest =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::BadJson(e.to_string()))?;
    let publication = request.into_publication()?;
    let delivered = publish(&gateway.io, &gateway.config.bridge_namespace, publication)?;
    Ok((delivered.namespace, delivered.recipients))
}

/// `GET /api/namespaces`: the namespaces that exist now, with this node's socket
/// counts, so an operator can check where a backend should publish.
async fn namespaces(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_key(&gateway, &headers)?;
    let mut names = gateway.io.namespaces();
    names.sort();
    let list: Vec<serde_json::Value> = names
        .iter()
        .filter_map(|name| gateway.io.of(name))
        .map(|ns| json!({ "name": ns.name(), "sockets": ns.sockets().len() }))
        .collect();
    Ok(Json(json!({ "ok": true, "namespaces": list })).into_response())
}
