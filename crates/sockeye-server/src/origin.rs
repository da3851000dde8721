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

    #[test]
    fn default_ports_are_implied() {
        let allowed = list(&["https://app.example:443", "http://site.example"]).unwrap();
        assert!(allowed.check(Some("https://app.example")).is_ok());
        assert!(allowed.check(Some("http://site.example:80")).is_ok());
    }
}
