//! The plain HTTP responses of the engine. The engine builds `Response<Vec<Bytes>>`;
//! the service turns the chunk list into its [`EngineBody`](crate::EngineBody).

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use serde::Serialize;

use std::time::Duration;

use crate::admission::Refusal;
use crate::payload::EncodedPayload;
use crate::HttpErrorCode;

pub(crate) type EngineResponse = Response<Vec<Bytes>>;

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u8,
    message: &'a str,
}

/// The protocol's JSON error: 403 for `Forbidden`, 400 otherwise. `message` replaces
/// the code's standard message (the reference server does so for `allowRequest`
/// refusals).
pub(crate) fn error(code: HttpErrorCode, message: Option<&str>) -> EngineResponse {
    let status = match code {
        HttpErrorCode::Forbidden => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = message.filter(|m| !m.is_empty()).unwrap_or(code.message());
    let body = serde_json::to_vec(&ErrorBody {
        code: code as u8,
        message,
    })
    .unwrap_or_default();
    with_body(status, "application/json", vec![Bytes::from(body)])
}

/// A handshake refused by [admission](crate::admission): 503 when the server is at
/// its session cap, 429 when the client's address handshakes too fast, both with
/// `Retry-After` and the protocol's JSON error body (code 3, "Bad request", with a
/// message saying why), which clients treat like any failed handshake: they retry
/// with their reconnection back-off.
pub(crate) fn admission_refused(refusal: Refusal) -> EngineResponse {
    let (status, message, retry_after) = match refusal {
        Refusal::AtCapacity => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Server is at capacity",
            Duration::from_secs(5),
        ),
        Refusal::TooFast { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many handshakes from this address",
            retry_after,
        ),
    };
    let mut res = error(HttpErrorCode::BadRequest, Some(message));
    *res.status_mut() = status;
    // Whole seconds, rounded up: `Retry-After: 0` would invite an immediate retry.
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    res
}

/// A status with an empty body (overlapping requests, oversized bodies).
pub(crate) fn status(status: StatusCode) -> EngineResponse {
    let mut res = Response::new(Vec::new());
    *res.status_mut() = status;
    res
}

/// The answer to a polling POST. `text/html` rather than `text/plain` because some
/// old user agents offered plain-text responses as downloads.
pub(crate) fn post_ok() -> EngineResponse {
    with_body(StatusCode::OK, "text/html", vec![Bytes::from_static(b"ok")])
}

/// A polling GET's payload.
pub(crate) fn payload(payload: EncodedPayload) -> EngineResponse {
    let content_type = if payload.binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=UTF-8"
    };
    with_body(StatusCode::OK, content_type, payload.chunks)
}

fn with_body(status: StatusCode, content_type: &'static str, body: Vec<Bytes>) -> EngineResponse {
    let len = body.iter().map(Bytes::len).sum::<usize>();
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if status == StatusCode::OK {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(res: &EngineResponse) -> String {
        String::from_utf8(res.body().concat()).unwrap_or_default()
    }

    #[test]
    fn json_errors() {
        let res = error(HttpErrorCode::UnsupportedProtocolVersion, None);
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body(&res),
            r#"{"code":5,"message":"Unsupported protocol version"}"#
        );
        let res = error(HttpErrorCode::Forbidden, Some("no \"way\""));
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(body(&res), r#"{"code":4,"message":"no \"way\""}"#);
        let res = error(HttpErrorCode::Forbidden, Some(""));
        assert_eq!(body(&res), r#"{"code":4,"message":"Forbidden"}"#);
    }

    #[test]
    fn post_answer() {
        let res = post_ok();
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html");
        assert_eq!(res.headers()[header::CONTENT_LENGTH], "2");
        assert_eq!(body(&res), "ok");
    }
}
