//! The `Origin` allow-list, checked at the Engine.IO handshake.
//!
//! Browsers send `Origin` on every cross-origin request and on every WebSocket
//! handshake, and a page cannot forge it, so this is how the gateway keeps other sites'
//! pages from connecting with the user's cookies (cross-site WebSocket hijacking).
//! Clients without an `Origin` header (servers, scripts, mobile apps) are not browsers
//! acting for a user and are let through; they still face the auth bridge.
//!
//! This only decides who may connect. The CORS headers that let a page on another
//! origin *read* long-polling responses are a separate setting ([`cors`], from
//! `--cors-origin`); an origin allowed here but without CORS can still connect over
//! WebSocket only.
//!
//! Whether the cookies such a page's browser attaches count as the user's credentials
//! is a third question ([`CookieOrigins`]): by default only for the gateway's own pages,
//! so that, even with no `--origin` list, another site cannot act for a logged-in user.

use sockeye::RequestInfo;

use crate::config::{Config, EngineOptions};

/// The CORS settings of the polling transport, or `None` when no CORS origin is
/// configured (same-origin pages only, as in the reference server).
///
/// Credentials (cookies) are only ever allowed for an explicit list of origins: with
/// `*` the engine would have to reflect any requesting origin, which would let every
/// site on the web read a logged-in user's events.
pub fn cors(engine: &EngineOptions) -> Result<Option<sockeye::Cors>, String> {
    if engine.cors_origins.is_empty() {
        if engine.cors_credentials {
            return Err("cors_credentials needs an explicit cors_origins list".into());
        }
        return Ok(None);
    }
    let any = engine.cors_origins.iter().any(|o| o.trim() == "*");
    if any && engine.cors_credentials {
        return Err(
            "cors_credentials cannot be used with cors_origins = \"*\"; list the origins".into(),
        );
    }
    let origins = if any {
        Vec::new()
    } else {
        engine
            .cors_origins
            .iter()
            .map(|o| normalize(o.trim()))
            .collect()
    };
    Ok(Some(sockeye::Cors {
        origins,
        credentials: engine.cors_credentials,
        allowed_headers: Vec::new(),
    }))
}

/// The handshake hook refusing origins that are not allowed (`None`: any origin, when
/// the list is empty or contains `*`).
///
/// A refused handshake is answered 403 before any session exists.
pub fn allow_request(
    config: &Config,
) -> Option<impl Fn(&RequestInfo) -> Result<(), String> + Send + Sync + 'static> {
    let allowed = AllowedOrigins::new(&config.origins)?;
    Some(move |request: &RequestInfo| allowed.check(request.origin()))
}

/// The normalized list of allowed origins.
#[derive(Debug, Clone)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// `None` when every origin is allowed.
    pub fn new(origins: &[String]) -> Option<Self> {
        if origins.is_empty() || origins.iter().any(|o| o.trim() == "*") {
            return None;
        }
        Some(AllowedOrigins(
            origins.iter().map(|o| normalize(o.trim())).collect(),
        ))
    }

    /// Whether a request with this `Origin` header may open a session.
    pub fn check(&self, origin: Option<&str>) -> Result<(), String> {
        let Some(origin) = origin else {
            return Ok(());
        };
        if self.0.contains(&normalize(origin.trim())) {
            Ok(())
        } else {
            // The header is echoed back; cap it so the refusal stays small.
            let shown: String = origin.chars().take(200).collect();
            Err(format!("origin {shown} is not allowed"))
        }
    }
}

/// The pages whose browser's cookies the auth bridge takes as the user's credentials:
/// the gateway's own (same host), and the origins listed with `--cors-origin` when
/// `--cors-credentials` is on. Any other page a browser opens a connection from (a
/// WebSocket handshake carries the user's cookies whatever its origin) gets its
/// cookies ignored: cross-site WebSocket hijacking is refused by default.
#[derive(Debug, Clone, Default)]
pub struct CookieOrigins(Vec<String>);

impl CookieOrigins {
    pub fn new(engine: &EngineOptions) -> Self {
        if !engine.cors_credentials {
            return CookieOrigins::default();
        }
        CookieOrigins(
            engine
                .cors_origins
                .iter()
                .map(|o| normalize(o.trim()))
                .filter(|o| o != "*")
                .collect(),
        )
    }

    /// Whether the cookies of the request that opened the session may authenticate
    /// it. A request without `Origin` is same-origin (browsers omit it on same-origin
    /// GETs) or not from a browser; otherwise the origin's host must be the host the
    /// request was sent to (`Host`, or `X-Forwarded-Host` from a proxy; ports are not
    /// compared, since proxies commonly drop them from `Host`), or be listed.
    pub fn trust(&self, request: &RequestInfo) -> bool {
        let Some(origin) = request.origin() else {
            return true;
        };
        let origin = normalize(origin.trim());
        if self.0.contains(&origin) {
            return true;
        }
        let Some((_, authority)) = origin.split_once("://") else {
            return false; // "null": sandboxed frames, files
        };
        let page = hostname(authority);
        if page.is_empty() {
            return false;
        }
        ["host", "x-forwarded-host"].iter().any(|name| {
            request
                .headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|h| hostname(&h.trim().to_ascii_lowercase()) == page)
        })
    }
}

/// The host of `host[:port]` (an IPv6 literal keeps its brackets).
fn hostname(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(rest) => rest
            .find(']')
            .map_or(authority, |end| &authority[..end + 2]),
        None => authority.split(':').next().unwrap_or(authority),
    }
}

/// `scheme://host[:port]` in the form browsers send: lowercase, no trailing slash,
/// no default port, so `https://Example.com:443/` in the configuration matches the
/// `https://example.com` a browser sends.
fn normalize(origin: &str) -> String {
    let lower = origin.trim_end_matches('/').to_ascii_lowercase();
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if lower.starts_with(scheme) {
            if let Some(stripped) = lower.strip_suffix(port) {
                return stripped.to_owned();
            }
        }
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(origins: &[&str]) -> Option<AllowedOrigins> {
        AllowedOrigins::new(&origins.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn empty_or_star_allows_everything() {
        assert!(list(&[]).is_none());
        assert!(list(&["https://a.example", "*"]).is_none());
    }

    #[test]
    fn matches_scheme_host_and_port_exactly() {
        let allowed = list(&["https://app.example", "http://localhost:8080/"]).unwrap();
        assert!(allowed.check(Some("https://app.example")).is_ok());
        assert!(allowed.check(Some("https://APP.example")).is_ok());
        assert!(allowed.check(Some("http://localhost:8080")).is_ok());
        assert!(allowed.check(None).is_ok());
        for refused in [
            "http://app.example",
            "https://app.example:8443",
            "https://evil.example",
            "https://app.example.evil.example",
            "http://localhost:8081",
            "null",
        ] {
            assert_eq!(
                allowed.check(Some(refused)),
                Err(format!("origin {refused} is not allowed"))
            );
        }
    }

    fn request(headers: &[(&str, &str)]) -> RequestInfo {
        let mut builder = http::Request::builder().uri("/socket.io/?EIO=4&transport=websocket");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        RequestInfo::from_request(&builder.body(()).expect("request"))
    }

    #[test]
    fn cookies_count_only_from_the_gateways_own_pages_unless_listed() {
        let none = CookieOrigins::default();
        for same in [
            request(&[("host", "chat.example:3000")]),
            request(&[
                ("host", "chat.example:3000"),
                ("origin", "http://chat.example:3000"),
            ]),
            request(&[
                ("host", "chat.example"),
                ("origin", "https://Chat.example:8443"),
            ]),
            request(&[
                ("host", "127.0.0.1:9"),
                ("x-forwarded-host", "chat.example"),
                ("origin", "https://chat.example"),
            ]),
            request(&[("host", "[::1]:3000"), ("origin", "http://[::1]:3000")]),
        ] {
            assert!(none.trust(&same), "{:?}", same.headers);
        }
        for cross in [
            request(&[("host", "chat.example"), ("origin", "https://evil.example")]),
            request(&[
                ("host", "chat.example"),
                ("origin", "https://chat.example.evil.example"),
            ]),
            request(&[("host", "chat.example"), ("origin", "null")]),
            request(&[("origin", "https://chat.example")]),
            request(&[("host", "[::1]:3000"), ("origin", "http://[::2]:3000")]),
        ] {
            assert!(!none.trust(&cross), "{:?}", cross.headers);
        }
        let engine = |origins: &[&str], credentials: bool| EngineOptions {
            cors_origins: origins.iter().map(|o| o.to_string()).collect(),
            cors_credentials: credentials,
            ..EngineOptions::default()
        };
        let app = request(&[("host", "chat.example"), ("origin", "https://app.example")]);
        assert!(CookieOrigins::new(&engine(&["https://app.example/"], true)).trust(&app));
        assert!(!CookieOrigins::new(&engine(&["https://app.example"], false)).trust(&app));
        assert!(!CookieOrigins::new(&engine(&["*"], true)).trust(&app));
    }

    #[test]
    fn default_ports_are_implied() {
        let allowed = list(&["https://app.example:443", "http://site.example"]).unwrap();
        assert!(allowed.check(Some("https://app.example")).is_ok());
        assert!(allowed.check(Some("http://site.example:80")).is_ok());
    }
}
