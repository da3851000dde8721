//! Signed cookie values in the format of express-session (`s:<value>.<signature>`,
//! the signature being the unpadded base64 HMAC-SHA256 of the value), so the gateway
//! can trust a session id that an Express backend handed to the browser.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Why a cookie value is not a session id this gateway can trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The value lacks the `s:` prefix: express-session never trusts those either.
    #[error("cookie value is not signed")]
    Unsigned,
    /// No configured secret produces the signature (or it has no signature at all).
    #[error("cookie signature does not match")]
    Mismatch,
}

/// The unpadded base64 signature of `value` under `secret`.
pub fn signature(value: &str, secret: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (long ones are hashed first): never reached.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(value.as_bytes());
    STANDARD_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Checks a decoded cookie value (`s:<id>.<signature>`) against every secret (the
/// first one signs new cookies in Express; older ones still verify during a rotation)
/// and returns the id.
///
/// The comparison is constant-time so that response timing does not reveal how much
/// of a forged signature was right.
pub fn unsign<'a, S: AsRef<str>>(
    cookie_value: &'a str,
    secrets: &[S],
) -> Result<&'a str, SignatureError> {
    let signed = cookie_value
        .strip_prefix("s:")
        .ok_or(SignatureError::Unsigned)?;
    let (id, given) = signed.rsplit_once('.').ok_or(SignatureError::Mismatch)?;
    let mut matched = subtle::Choice::from(0u8);
    for secret in secrets {
        let expected = signature(id, secret.as_ref());
        // Every secret is tried, matched or not, to keep the timing independent of
        // which one signed the cookie.
        matched |= expected.as_bytes().ct_eq(given.as_bytes());
    }
    if bool::from(matched) {
        Ok(id)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Decodes a cookie value as browsers' `encodeURIComponent` wrote it (`%3A` for `:`,
/// `%2B` for `+`…). Like the `cookie` package Express uses, a value that does not
/// decode cleanly is kept as it is; unlike query strings, `+` stays a `+`.
pub fn decode_cookie_value(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('%') {
        return raw.into();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16));
            match (hi, lo) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => return raw.into(),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s.into(),
        Err(_) => raw.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Produced by Node.js 20:
    // node -e "const c=require('crypto');console.log('s:'+id+'.'+c.createHmac('sha256',secret)
    //   .update(id).digest('base64').replace(/=+$/,''))" with id = "AbC-123_xyz", secret = "keyboard cat"
    const NODE_VECTOR: &str = "s:AbC-123_xyz.6WzxKMvJ9jI7OeRkUpL/6br/kxkp7+y0BDB9xfpXC9k";

    #[test]
    fn accepts_a_signature_computed_by_node() {
        assert_eq!(
            unsign(NODE_VECTOR, &["keyboard cat"]),
            Ok("AbC-123_xyz"),
            "node's HMAC-SHA256 base64 signature must verify"
        );
    }

    #[test]
    fn tries_every_secret() {
        let cookie = format!("s:abc.{}", signature("abc", "old"));
        assert_eq!(unsign(&cookie, &["new", "old"]), Ok("abc"));
        assert_eq!(unsign(&cookie, &["new"]), Err(SignatureError::Mismatch));
    }

    #[test]
    fn refuses_unsigned_and_tampered_values() {
        assert_eq!(unsign("abc", &["s"]), Err(SignatureError::Unsigned));
        assert_eq!(unsign("s:abc", &["s"]), Err(SignatureError::Mismatch));
        let sig = signature("abc", "s");
        assert_eq!(
            unsign(&format!("s:abd.{sig}"), &["s"]),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            unsign(&format!("s:abc.{sig}="), &["s"]),
            Err(SignatureError::Mismatch)
        );
        let none: [&str; 0] = [];
        assert_eq!(
            unsign(&format!("s:abc.{sig}"), &none),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn decodes_like_decode_uri_component() {
        assert_eq!(decode_cookie_value("s%3Aab.c%2Bd%2F"), "s:ab.c+d/");
        assert_eq!(decode_cookie_value("a+b"), "a+b");
        assert_eq!(decode_cookie_value("bad%zz"), "bad%zz");
        assert_eq!(decode_cookie_value("bad%ff"), "bad%ff");
    }
}
