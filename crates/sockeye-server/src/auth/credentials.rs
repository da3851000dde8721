//! Where a client presents a token: the Socket.IO v5 `auth` payload (`{ token }`), the
//! handshake query (`?token=`, the only place socket.io-client 2.x can put one besides a
//! cookie) or a cookie, in that order of precedence.

use sockeye::Socket;

use super::cookie_signature::decode_cookie_value;
use super::error::Refusal;

/// Tokens longer than this are refused before any parsing or lookup.
pub const MAX_TOKEN_LEN: usize = 8192;

/// The token the client presented, if any. An empty value counts as none, since client
/// code commonly sends `token: ""` when logged out.
pub fn presented_token(socket: &Socket, cookie: Option<&str>) -> Result<Option<String>, Refusal> {
    let token = match socket.auth().get("token") {
        Some(value) if value.is_null() => None,
        Some(value) => Some(value.as_str().ok_or(Refusal::MalformedToken)?.to_owned()),
        None => None,
    }
    .filter(|t| !t.is_empty())
    .or_else(|| {
        socket
            .request()
            .query("token")
            .map(|t| t.into_owned())
            .filter(|t| !t.is_empty())
    })
    .or_else(|| {
        let raw = socket.request().cookie(cookie?)?;
        Some(decode_cookie_value(raw).into_owned()).filter(|t| !t.is_empty())
    });
    match token {
        Some(t) if t.len() > MAX_TOKEN_LEN => Err(Refusal::MalformedToken),
        other => Ok(other),
    }
}
