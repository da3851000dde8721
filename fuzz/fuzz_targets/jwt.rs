//! JWT verification as the gateway's auth bridge does it (HS256 configured).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sockeye_server::auth::jwt::JwtVerifier;
use sockeye_server::config::{AuthConfig, AuthMode};

fn verifier() -> &'static JwtVerifier {
    static VERIFIER: OnceLock<JwtVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let config = AuthConfig {
            mode: AuthMode::Jwt,
            jwt_secret: Some("fuzzing secret".into()),
            ..AuthConfig::default()
        };
        JwtVerifier::new(&config).expect("an HS256 verifier")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = verifier().verify(token);
    }
});
