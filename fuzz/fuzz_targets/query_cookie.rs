//! What the handshake reads from the request line and headers: query parameters
//! (percent-decoding), the `Cookie` header, and express-session signed cookie values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockeye_engine::{query_param, RequestInfo};
use sockeye_server::auth::cookie_signature::{decode_cookie_value, unsign};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for key in ["EIO", "transport", "sid", "b64", "token", ""] {
        let _ = query_param(text, key);
    }
    if let Ok(cookie) = http::HeaderValue::from_str(text) {
        let request = http::Request::builder()
            .uri("/socket.io/?EIO=4&transport=polling")
            .header(http::header::COOKIE, cookie)
            .body(())
            .expect("a request with a valid header value");
        let info = RequestInfo::from_request(&request);
        for name in ["connect.sid", "nodejskey", "token"] {
            if let Some(raw) = info.cookie(name) {
                let decoded = decode_cookie_value(raw);
                let _ = unsign(&decoded, &["secret", "older secret"]);
            }
        }
    }
    let decoded = decode_cookie_value(text);
    assert!(decoded.len() <= text.len());
    let _ = unsign(&decoded, &["secret"]);
});
