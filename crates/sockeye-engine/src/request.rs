//! What the server keeps of the HTTP request that opened a session.

use std::borrow::Cow;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{
    CONNECTION, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

/// Headers that only carry the websocket upgrade itself: a session does not keep them
/// (a session opened over polling never had them either).
const UPGRADE_ONLY: [HeaderName; 5] = [
    CONNECTION,
    UPGRADE,
    SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION,
    SEC_WEBSOCKET_EXTENSIONS,
];

/// The handshake request: headers, query, origin, cookies and the peer's address.
/// Seen by the [`AllowRequest`](crate::AllowRequest) hook and kept by the session
/// (Socket.IO middleware authenticates from it). The session's copy leaves out the
/// headers that only carried a websocket upgrade (`Connection`, `Upgrade`,
/// `Sec-WebSocket-Key`, `-Version` and `-Extensions`), as a session opened over
/// polling never had them.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    /// The peer's address, when the server that received the request put a
    /// [`SocketAddr`] (or [`RemoteAddr`]) in the request extensions.
    pub remote_addr: Option<SocketAddr>,
}

/// Request extension carrying the peer address; [`serve`](crate::serve) inserts it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

impl RequestInfo {
    /// Captures the parts of a request the session keeps.
    ///
    /// The URI and header values are copied rather than shared: hyper parses them as
    /// slices of the connection's read buffer, and a shared slice would keep that whole
    /// buffer (8 KiB) alive for the life of the session. They are copied into one
    /// buffer, which the URI and every value share, instead of one allocation each.
    pub fn from_request<B>(req: &http::Request<B>) -> Self {
        let remote_addr = req
            .extensions()
            .get::<RemoteAddr>()
            .map(|r| r.0)
            .or_else(|| req.extensions().get::<SocketAddr>().copied());
        let uri_text = req.uri().path_and_query().map(|pq| pq.as_str());
        let uri_len = uri_text.map_or(0, str::len);
        let values_len: usize = req.headers().values().map(HeaderValue::len).sum();
        let mut buffer = Vec::with_capacity(uri_len + values_len);
        buffer.extend_from_slice(uri_text.unwrap_or("").as_bytes());
        for value in req.headers().values() {
            buffer.extend_from_slice(value.as_bytes());
        }
        let buffer = Bytes::from(buffer);
        let uri = match uri_text {
            // An origin-form request target (what a server receives) is its
            // path-and-query; anything else is kept as it is.
            Some(_) if req.uri().scheme().is_none() && req.uri().authority().is_none() => {
                Uri::from_maybe_shared(buffer.slice(..uri_len))
                    .unwrap_or_else(|_| req.uri().clone())
            }
            _ => req.uri().clone(),
        };
        let mut headers = HeaderMap::with_capacity(req.headers().len());
        let mut at = uri_len;
        for (name, value) in req.headers() {
            let end = at + value.len();
            let mut copy = HeaderValue::from_maybe_shared(buffer.slice(at..end))
                .unwrap_or_else(|_| value.clone());
            copy.set_sensitive(value.is_sensitive());
            headers.append(name.clone(), copy);
            at = end;
        }
        RequestInfo {
            method: req.method().clone(),
            uri,
            headers,
            remote_addr,
        }
    }

    /// The copy a session keeps for its whole life: without the headers that only
    /// carried the websocket upgrade (`Connection`, `Upgrade`, `Sec-WebSocket-Key`,
    /// `-Version`, `-Extensions`), the others in their order. The values stay in the
    /// shared buffer.
    pub(crate) fn into_session_copy(self) -> Self {
        if !UPGRADE_ONLY
            .iter()
            .any(|name| self.headers.contains_key(name))
        {
            return self;
        }
        let kept = || {
            self.headers
                .iter()
                .filter(|(name, _)| !UPGRADE_ONLY.contains(name))
        };
        let mut headers = HeaderMap::with_capacity(kept().count());
        for (name, value) in kept() {
            headers.append(name.clone(), value.clone());
        }
        RequestInfo { headers, ..self }
    }

    /// A query parameter, percent-decoded.
    pub fn query(&self, key: &str) -> Option<Cow<'_, str>> {
        query_param(self.uri.query().unwrap_or(""), key)
    }

    /// The `Origin` header.
    pub fn origin(&self) -> Option<&str> {
        self.headers.get(http::header::ORIGIN)?.to_str().ok()
    }

    /// A cookie's raw value (not percent-decoded), from every `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().trim_matches('"'))
    }
}

/// Finds `key` in a query string and percent-decodes its value (`+` is a space).
pub fn query_param<'a>(query: &'a str, key: &str) -> Option<Cow<'a, str>> {
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == key).then(|| percent_decode(v))
        })
        .next()
}

/// Percent-decodes `s`; malformed escapes are kept as they are.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_copy_keeps_every_header_but_the_upgrade_ones() {
        let req = http::Request::get("/engine.io/?EIO=4&transport=websocket")
            .header("host", "example.com")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "token")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .header("authorization", "Bearer x")
            .body(())
            .unwrap_or_default();
        let copy = RequestInfo::from_request(&req).into_session_copy();
        let headers: Vec<(&str, &[u8])> = copy
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        assert_eq!(
            headers,
            vec![
                ("host", &b"example.com"[..]),
                ("sec-websocket-protocol", b"token"),
                ("cookie", b"a=1"),
                ("cookie", b"b=2"),
                ("authorization", b"Bearer x"),
            ]
        );
        assert_eq!(copy.cookie("b"), Some("2"));
        assert_eq!(copy.query("EIO").as_deref(), Some("4"));
        assert_eq!(copy.uri, "/engine.io/?EIO=4&transport=websocket");
    }

    #[test]
    fn decodes_query_values() {
        assert_eq!(
            query_param("EIO=4&transport=polling", "EIO").as_deref(),
            Some("4")
        );
        assert_eq!(query_param("a=x%20y+z&b", "a").as_deref(), Some("x y z"));
        assert_eq!(query_param("b", "b").as_deref(), Some(""));
        assert_eq!(query_param("a=%zz%4", "a").as_deref(), Some("%zz%4"));
        assert_eq!(query_param("a=1", "c"), None);
    }
}
