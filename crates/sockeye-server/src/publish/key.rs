//! The API key check.

use http::header::AUTHORIZATION;
use http::HeaderMap;
use subtle::ConstantTimeEq;

/// Header carrying the key for clients that cannot set `Authorization`.
const API_KEY_HEADER: &str = "x-api-key";

/// Whether the request carries `expected` in `Authorization: Bearer <key>` or
/// `X-Api-Key: <key>`.
pub(crate) fn authorized(headers: &HeaderMap, expected: &str) -> bool {
    let bearer = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(bearer_token);
    let api_key = headers
        .get_all(API_KEY_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim);
    // Every candidate is compared (no early exit), so the answer time does not say
    // which header was tried.
    bearer
        .chain(api_key)
        .fold(false, |ok, given| same_key(given, expected) | ok)
}

/// The token of a `Bearer` authorization (the scheme is case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Compares in constant time for keys of the expected length, so an attacker timing
/// answers learns nothing about how many leading bytes were right.
fn same_key(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn accepts_the_key_in_either_header() {
        assert!(authorized(
            &headers(&[("authorization", "Bearer s3cret")]),
            "s3cret"
        ));
        assert!(authorized(
            &headers(&[("authorization", "bearer s3cret")]),
            "s3cret"
        ));
        assert!(authorized(&headers(&[("x-api-key", "s3cret")]), "s3cret"));
    }

    #[test]
    fn refuses_wrong_partial_longer_or_missing_keys() {
        for given in ["s3cre", "s3cret!", "S3cret", "", "x"] {
            assert!(
                !authorized(&headers(&[("x-api-key", given)]), "s3cret"),
                "{given:?}"
            );
        }
        assert!(!authorized(
            &headers(&[("authorization", "Basic s3cret")]),
            "s3cret"
        ));
        assert!(!authorized(&headers(&[]), "s3cret"));
    }
}
