//! CORS headers for the polling transport, sent only when [`Cors`] is configured (the
//! reference server sends none by default). Browsers need them for cross-origin
//! long-polling; websockets are not subject to CORS.

use http::header::{self, HeaderMap, HeaderValue};

use crate::Cors;

/// The methods a preflight answers with, as the reference server's CORS middleware.
const ALLOWED_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

/// Adds the headers of an actual (non-preflight) response.
pub(crate) fn apply(cors: &Cors, request: &HeaderMap, response: &mut HeaderMap) {
    let origin = request.get(header::ORIGIN);
    if cors.origins.is_empty() {
        if cors.credentials {
            // `*` is not allowed with credentials: reflect the caller.
            if let Some(origin) = origin {
                response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            }
            response.append(header::VARY, HeaderValue::from_static("Origin"));
        } else {
            response.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
    } else {
        let allowed = origin
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| cors.origins.iter().any(|a| a == o));
        if let (true, Some(origin)) = (allowed, origin) {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        response.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if cors.credentials {
        response.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// Adds the extra headers of a preflight (`OPTIONS`) response.
pub(crate) fn apply_preflight(cors: &Cors, request: &HeaderMap, response: &mut HeaderMap) {
    apply(cors, request, response);
    response.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    if cors.allowed_headers.is_empty() {
        if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            response.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            response.append(
                header::VARY,
                HeaderValue::from_static("Access-Control-Request-Headers"),
            );
        }
    } else if let Ok(list) = HeaderValue::from_str(&cors.allowed_headers.join(",")) {
        response.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn any_origin() {
        let mut out = HeaderMap::new();
        apply(&Cors::default(), &request(Some("http://a")), &mut out);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(out.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    }

    #[test]
    fn credentials_reflect_the_origin() {
        let cors = Cors {
            credentials: true,
            ..Cors::default()
        };
        let mut out = HeaderMap::new();
        apply(&cors, &request(Some("http://a")), &mut out);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://a");
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(out[header::VARY], "Origin");
    }

    #[test]
    fn origin_list() {
        let cors = Cors {
            origins: vec!["http://a".into()],
            ..Cors::default()
        };
        let mut out = HeaderMap::new();
        apply(&cors, &request(Some("http://a")), &mut out);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://a");
        let mut out = HeaderMap::new();
        apply(&cors, &request(Some("http://b")), &mut out);
        assert!(out.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }

    #[test]
    fn preflight_reflects_or_lists_headers() {
        let mut req = request(Some("http://a"));
        req.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("x-a"),
        );
        let mut out = HeaderMap::new();
        apply_preflight(&Cors::default(), &req, &mut out);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_METHODS], ALLOWED_METHODS);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_HEADERS], "x-a");
        let cors = Cors {
            allowed_headers: vec!["x-b".into(), "x-c".into()],
            ..Cors::default()
        };
        let mut out = HeaderMap::new();
        apply_preflight(&cors, &req, &mut out);
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_HEADERS], "x-b,x-c");
    }
}
