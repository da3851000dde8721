//! The authentication bridge seen by real clients: the gateway built in-process and
//! served on 127.0.0.1, a `redis-server` of the test's own on a free port holding the
//! sessions other backends would have written, cookies signed and JWTs issued here the
//! way Express and a backend would, a raw websocket client speaking Engine.IO/Socket.IO
//! (and the official `socket.io-client` when `e2e/node_modules` is installed).
//!
//! Every assertion is on what the client receives: the `40` CONNECT answer (with the
//! user the connection handler sees echoed back), the `44` CONNECT_ERROR message and
//! data, or the HTTP status of the handshake.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value as Json};
use sha2::Sha256;
use sockeye::Socket;
use sockeye_server::config::{AuthConfig, AuthMode, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Upper bound for anything to happen; generous because CI machines are slow.
const PATIENCE: Duration = Duration::from_secs(20);
const SECRET: &str = "keyboard cat";

mod support;
use support::RedisServer as Redis;

/// `SETEX key ttl value` on the test's Redis, as a backend writes its sessions.
async fn setex(redis: &Redis, key: &str, value: &str, ttl_secs: u64) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SETEX")
        .arg(key)
        .arg(ttl_secs)
        .arg(value)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
}

/// Builds the gateway with `config`, serves it on 127.0.0.1, and registers a `/`
/// handler that tells each client the data the auth bridge gave its socket.
async fn serve(config: Config) -> SocketAddr {
    let (router, gateway) = sockeye_server::app::build(config)
        .await
        .expect("gateway builds");
    gateway.io.ns("/", |socket: Socket| async move {
        socket.emit("whoami", (socket.data(),)).ok();
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn config(mode: AuthMode, redis: Option<&Redis>) -> Config {
    let mut auth = AuthConfig {
        mode,
        ..AuthConfig::default()
    };
    auth.session_secrets = vec!["an old secret".into(), SECRET.into()];
    Config {
        redis: redis.map(Redis::url),
        auth,
        ..Config::default()
    }
}

/// What the client saw after asking to join `/`.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Admitted; the data the connection handler saw on the socket.
    Admitted(Json),
    /// CONNECT_ERROR payload.
    Refused(Json),
}

/// A Socket.IO v5 client over a raw websocket: handshake with `headers`, CONNECT with
/// `auth` (when given), then the server's answer.
async fn connect(
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, &str)],
    auth: Option<Json>,
) -> Outcome {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{query}");
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    let (mut ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
        .await
        .expect("websocket handshake in time")
        .expect("websocket handshake");
    let open = next_text(&mut ws).await;
    assert!(
        open.starts_with("0{"),
        "expected an Engine.IO open packet, got {open:?}"
    );
    let connect = match auth {
        Some(auth) => format!("40{auth}"),
        None => "40".into(),
    };
    ws.send(Message::text(connect)).await.unwrap();
    let answer = next_text(&mut ws).await;
    let outcome = if let Some(err) = answer.strip_prefix("44") {
        Outcome::Refused(serde_json::from_str(err).expect("connect_error payload"))
    } else {
        assert!(answer.starts_with("40"), "expected CONNECT, got {answer:?}");
        let event = next_text(&mut ws).await;
        let args: Json = serde_json::from_str(event.strip_prefix("42").expect("an event")).unwrap();
        assert_eq!(args[0], "whoami");
        Outcome::Admitted(args[1].clone())
    };
    ws.close(None).await.ok();
    outcome
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame that is not an Engine.IO ping.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a frame in time")
            .expect("the connection stays open")
            .expect("a valid frame");
        if let Message::Text(text) = msg {
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.unwrap();
                continue;
            }
            return text.as_str().to_owned();
        }
    }
}

fn refused(message: &str, code: &str) -> Outcome {
    Outcome::Refused(json!({"message": message, "data": {"code": code}}))
}

/// `connect.sid` as express-session sets it: `s:` + id + `.` + unpadded base64
/// HMAC-SHA256, then URL-encoded by the `cookie` package.
fn express_cookie(id: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(id.as_bytes());
    let signed = format!(
        "s:{id}.{}",
        STANDARD_NO_PAD.encode(mac.finalize().into_bytes())
    );
    let encoded: String = signed
        .chars()
        .map(|c| match c {
            ':' => "%3A".to_string(),
            '+' => "%2B".to_string(),
            '/' => "%2F".to_string(),
            '=' => "%3D".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("connect.sid={encoded}")
}

/// A session as connect-redis stores it.
fn express_session(authenticated: bool) -> String {
    json!({
        "cookie": {"originalMaxAge": 86400000, "expires": "2099-01-01T00:00:00.000Z", "httpOnly": true, "path": "/"},
        "authenticated": authenticated,
        "user": {"id": 42, "name": "ada"},
    })
    .to_string()
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn hs256(claims: &Json, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn express_session_cookie() {
    let redis = Redis::start();
    // Produced by Node.js's crypto module for id "AbC-123_xyz" (see the unit tests):
    // the same HMAC the `cookie-signature` package computes.
    let node_cookie =
        "connect.sid=s%3AAbC-123_xyz.6WzxKMvJ9jI7OeRkUpL%2F6br%2Fkxkp7%2By0BDB9xfpXC9k";
    setex(&redis, "sess:AbC-123_xyz", &express_session(true), 60).await;
    setex(&redis, "sess:good-session", &express_session(true), 60).await;
    setex(&redis, "sess:visitor", &express_session(false), 60).await;
    let addr = serve(config(AuthMode::ExpressSession, Some(&redis))).await;
    let ada = Outcome::Admitted(json!({"id": 42, "name": "ada"}));

    assert_eq!(
        connect(addr, "", &[("cookie", node_cookie)], None).await,
        ada
    );
    let cookie = express_cookie("good-session", SECRET);
    assert_eq!(connect(addr, "", &[("cookie", &cookie)], None).await, ada);
    // Several cookies in the header, ours in the middle.
    let many = format!("theme=dark; {cookie}; lang=en");
    assert_eq!(connect(addr, "", &[("cookie", &many)], None).await, ada);
    // Signed with a secret the gateway does not know.
    let forged = express_cookie("good-session", "guess");
    assert_eq!(
        connect(addr, "", &[("cookie", &forged)], None).await,
        refused("session cookie signature is invalid", "invalid_signature")
    );
    assert_eq!(
        connect(addr, "", &[("cookie", "connect.sid=good-session")], None).await,
        refused("session cookie is not signed", "unsigned_cookie")
    );
    assert_eq!(
        connect(
            addr,
            "",
            &[("cookie", &express_cookie("expired-or-unknown", SECRET))],
            None
        )
        .await,
        refused("no session for this cookie", "no_session")
    );
    assert_eq!(
        connect(
            addr,
            "",
            &[("cookie", &express_cookie("visitor", SECRET))],
            None
        )
        .await,
        refused("not authenticated", "not_authenticated")
    );
    assert_eq!(
        connect(addr, "", &[], None).await,
        refused("authentication required", "no_credentials")
    );
}

#[tokio::test]
async fn express_session_store_down_fails_fast() {
    let mut redis = Redis::start();
    setex(&redis, "sess:good-session", &express_session(true), 60).await;
    let addr = serve(config(AuthMode::ExpressSession, Some(&redis))).await;
    let cookie = express_cookie("good-session", SECRET);
    assert!(matches!(
        connect(addr, "", &[("cookie", &cookie)], None).await,
        Outcome::Admitted(_)
    ));
    redis.stop();
    let started = Instant::now();
    assert_eq!(
        connect(addr, "", &[("cookie", &cookie)], None).await,
        refused("session store unavailable", "store_unavailable")
    );
    // Bounded by the lookup timeout, not by the client's patience.
    assert!(started.elapsed() < sockeye_server::auth::LOOKUP_TIMEOUT + Duration::from_secs(3));
}

#[tokio::test]
async fn anonymous_visitors_when_allowed() {
    let redis = Redis::start();
    setex(&redis, "sess:visitor", &express_session(false), 60).await;
    setex(&redis, "sess:member", &express_session(true), 60).await;
    let mut config = config(AuthMode::ExpressSession, Some(&redis));
    config.auth.allow_anonymous = true;
    let addr = serve(config).await;
    assert_eq!(
        connect(addr, "", &[], None).await,
        Outcome::Admitted(Json::Null)
    );
    assert_eq!(
        connect(
            addr,
            "",
            &[("cookie", &express_cookie("visitor", SECRET))],
            None
        )
        .await,
        Outcome::Admitted(Json::Null)
    );
    assert_eq!(
        connect(
            addr,
            "",
            &[("cookie", &express_cookie("member", SECRET))],
            None
        )
        .await,
        Outcome::Admitted(json!({"id": 42, "name": "ada"}))
    );
    // Bad credentials are refused even so.
    assert_eq!(
        connect(
            addr,
            "",
            &[("cookie", &express_cookie("member", "guess"))],
            None
        )
        .await,
        refused("session cookie signature is invalid", "invalid_signature")
    );
}

#[tokio::test]
async fn django_style_token() {
    let redis = Redis::start();
    // What the Django view writes: SETEX session:<token> 86400 '{"user": {...}}'.
    let token = "k2x9q0wz8f7e6d5c4b3a2z1y0x9w8v7u";
    setex(
        &redis,
        &format!("session:{token}"),
        r#"{"user": {"id": 7, "username": "grace"}}"#,
        86400,
    )
    .await;
    let addr = serve(config(AuthMode::Token, Some(&redis))).await;
    let grace = Outcome::Admitted(json!({"id": 7, "username": "grace"}));

    let cookie = format!("nodejskey={token}");
    assert_eq!(connect(addr, "", &[("cookie", &cookie)], None).await, grace);
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": token}))).await,
        grace
    );
    assert_eq!(
        connect(addr, &format!("&token={token}"), &[], None).await,
        grace
    );
    assert_eq!(
        connect(
            addr,
            "",
            &[("cookie", "nodejskey=unknowntoken0000000")],
            None
        )
        .await,
        refused("no session for this token", "no_session")
    );
    // A token that would build another key is refused before Redis is asked.
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": "x:*"}))).await,
        refused("malformed token", "malformed_token")
    );
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": 12345678}))).await,
        refused("malformed token", "malformed_token")
    );
    assert_eq!(
        connect(addr, "", &[], None).await,
        refused("authentication required", "no_credentials")
    );
}

#[tokio::test]
async fn hs256_jwt() {
    let mut config = config(AuthMode::Jwt, None);
    config.auth.jwt_secret = Some("jwt-secret".into());
    config.auth.jwt_cookie = Some("jwt".into());
    let addr = serve(config).await;

    let token = hs256(
        &json!({"sub": "9", "name": "linus", "exp": now() + 600}),
        "jwt-secret",
    );
    match connect(addr, "", &[], Some(json!({"token": token}))).await {
        Outcome::Admitted(claims) => {
            assert_eq!(claims["sub"], "9");
            assert_eq!(claims["name"], "linus");
        }
        other => panic!("valid JWT refused: {other:?}"),
    }
    let with_user = hs256(
        &json!({"user": {"id": 3}, "exp": now() + 600}),
        "jwt-secret",
    );
    assert_eq!(
        connect(addr, "", &[("cookie", &format!("jwt={with_user}"))], None).await,
        Outcome::Admitted(json!({"id": 3}))
    );
    let expired = hs256(&json!({"sub": "9", "exp": now() - 3600}), "jwt-secret");
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": expired}))).await,
        refused("token expired", "token_expired")
    );
    let forged = hs256(&json!({"sub": "9", "exp": now() + 600}), "not-the-secret");
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": forged}))).await,
        refused("invalid token", "invalid_token")
    );
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": "garbage"}))).await,
        refused("invalid token", "invalid_token")
    );
}

/// socket.io-client 2.x speaks Engine.IO v3 / Socket.IO v4: no auth payload, the
/// token rides in the handshake query and the main namespace is joined implicitly.
#[tokio::test]
async fn v4_protocol_clients_use_the_query_token() {
    let mut config = config(AuthMode::Jwt, None);
    config.auth.jwt_secret = Some("jwt-secret".into());
    let addr = serve(config).await;
    let token = hs256(
        &json!({"user": {"id": 5}, "exp": now() + 600}),
        "jwt-secret",
    );
    let expired = hs256(
        &json!({"user": {"id": 5}, "exp": now() - 600}),
        "jwt-secret",
    );

    async fn v3_first_packets(addr: SocketAddr, token: &str) -> (String, Option<String>) {
        let url = format!("ws://{addr}/socket.io/?EIO=3&transport=websocket&token={token}");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let open = next_text(&mut ws).await;
        assert!(open.starts_with("0{"), "{open:?}");
        let first = next_text(&mut ws).await;
        let second = if first == "40" {
            Some(next_text(&mut ws).await)
        } else {
            None
        };
        (first, second)
    }
    let (first, event) = v3_first_packets(addr, &token).await;
    assert_eq!(first, "40");
    assert_eq!(event.as_deref(), Some(r#"42["whoami",{"id":5}]"#));
    let (first, _) = v3_first_packets(addr, &expired).await;
    // The v4 protocol carries the error's data (or its message when it has none).
    assert_eq!(first, r#"44{"code":"token_expired"}"#);
}

#[tokio::test]
async fn rs256_jwt_with_a_public_key_file() {
    let dir = scratch_dir("rs256");
    let Some((private, public)) = rsa_key_pair(&dir) else {
        eprintln!("skipped: no openssl binary to generate an RSA key pair");
        return;
    };
    let mut config = config(AuthMode::Jwt, None);
    config.auth.jwt_public_key = Some(public.clone());
    sockeye_server::auth::check(&config).expect("a valid public key passes the start-up check");
    let addr = serve(config).await;
    let key = EncodingKey::from_rsa_pem(&std::fs::read(&private).unwrap()).unwrap();
    let claims = json!({"user": {"id": 11, "role": "admin"}, "exp": now() + 600});
    let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": token}))).await,
        Outcome::Admitted(json!({"id": 11, "role": "admin"}))
    );
    // An HS256 token signed with the public key's bytes (algorithm confusion) is refused.
    let confused = hs256(&claims, &std::fs::read_to_string(&public).unwrap());
    assert_eq!(
        connect(addr, "", &[], Some(json!({"token": confused}))).await,
        refused("invalid token", "invalid_token")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_configurations_are_reported_at_start() {
    let dir = scratch_dir("badkey");
    let not_a_key = dir.join("key.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let mut jwt = config(AuthMode::Jwt, None);
    jwt.auth.jwt_public_key = Some(not_a_key);
    let message = sockeye_server::auth::check(&jwt).unwrap_err().to_string();
    assert!(
        message.contains("key.pem") && message.contains("not an RSA public key"),
        "{message}"
    );
    jwt.auth.jwt_public_key = Some(dir.join("missing.pem"));
    let message = sockeye_server::auth::check(&jwt).unwrap_err().to_string();
    assert!(
        message.contains("cannot read the JWT public key"),
        "{message}"
    );

    let mut express = config(AuthMode::ExpressSession, None);
    let message = sockeye_server::auth::check(&express)
        .unwrap_err()
        .to_string();
    assert!(message.contains("needs a Redis connection"), "{message}");
    express.redis = Some("redis://127.0.0.1:1/".into());
    express.auth.session_secrets.clear();
    let message = sockeye_server::auth::check(&express)
        .unwrap_err()
        .to_string();
    assert!(message.contains("session secret"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn origin_allow_list() {
    let config = Config {
        origins: vec!["https://app.example".into(), "http://localhost:8080".into()],
        ..Config::default()
    };
    let addr = serve(config).await;

    let (status, body) = polling_handshake(addr, Some("https://evil.example")).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("origin https://evil.example is not allowed"),
        "{body}"
    );
    let (status, body) = polling_handshake(addr, Some("https://app.example")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"sid\""), "{body}");
    let (status, _) = polling_handshake(addr, None).await;
    assert_eq!(
        status, 200,
        "clients without Origin are not browsers and may connect"
    );

    // Over websocket too: refused at the HTTP upgrade, admitted from an allowed page.
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {:?}", other.map(|(_, r)| r.status())),
    }
    assert_eq!(
        connect(addr, "", &[("origin", "http://localhost:8080")], None).await,
        Outcome::Admitted(Json::Null)
    );
}

/// A browser attaches the user's cookies to a WebSocket handshake whatever page opened
/// it; the gateway takes them as credentials only from its own pages or from origins
/// listed with `--cors-origin` and `--cors-credentials`, even without an `--origin` list.
#[tokio::test]
async fn cookies_sent_from_another_sites_page_are_not_credentials() {
    let redis = Redis::start();
    setex(&redis, "sess:good-session", &express_session(true), 60).await;
    let cookie = express_cookie("good-session", SECRET);
    let ada = Outcome::Admitted(json!({"id": 42, "name": "ada"}));
    let cross = refused(
        "cookies are not accepted from this page's origin",
        "cross_origin_cookie",
    );
    let addr = serve(config(AuthMode::ExpressSession, Some(&redis))).await;
    let own = format!("http://{addr}");
    for origin in [Some(own.as_str()), None] {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(origin.map(|o| ("origin", o)));
        assert_eq!(connect(addr, "", &headers, None).await, ada, "{origin:?}");
    }
    for origin in ["https://evil.example", "null"] {
        assert_eq!(
            connect(addr, "", &[("cookie", &cookie), ("origin", origin)], None).await,
            cross,
            "{origin}"
        );
    }

    // Listed for credentials: admitted from that page only.
    let mut listed = config(AuthMode::ExpressSession, Some(&redis));
    listed.engine.cors_origins = vec!["https://app.example".into()];
    listed.engine.cors_credentials = true;
    let addr = serve(listed).await;
    let from = |origin| [("cookie", cookie.as_str()), ("origin", origin)];
    assert_eq!(
        connect(addr, "", &from("https://app.example"), None).await,
        ada
    );
    assert_eq!(
        connect(addr, "", &from("https://evil.example"), None).await,
        cross
    );

    // With anonymous visitors allowed, the other site's page gets in as nobody.
    let mut anonymous = config(AuthMode::ExpressSession, Some(&redis));
    anonymous.auth.allow_anonymous = true;
    let addr = serve(anonymous).await;
    assert_eq!(
        connect(addr, "", &from("https://evil.example"), None).await,
        Outcome::Admitted(Json::Null)
    );

    // Token modes: a token in the cookie is ignored from another site, a token the page
    // sends itself is not (another site's page cannot read it).
    let mut jwt = config(AuthMode::Jwt, None);
    jwt.auth.jwt_secret = Some("jwt-secret".into());
    jwt.auth.jwt_cookie = Some("jwt".into());
    let addr = serve(jwt).await;
    let token = hs256(
        &json!({"user": {"id": 3}, "exp": now() + 600}),
        "jwt-secret",
    );
    let jar = format!("jwt={token}");
    let evil = [("cookie", jar.as_str()), ("origin", "https://evil.example")];
    assert_eq!(connect(addr, "", &evil, None).await, cross);
    assert_eq!(
        connect(addr, "", &evil, Some(json!({ "token": token }))).await,
        Outcome::Admitted(json!({"id": 3}))
    );
    let own = format!("http://{addr}");
    assert_eq!(
        connect(addr, "", &[("cookie", &jar), ("origin", &own)], None).await,
        Outcome::Admitted(json!({"id": 3}))
    );
}

/// An Engine.IO polling handshake over plain HTTP/1.1: status and body.
async fn polling_handshake(addr: SocketAddr, origin: Option<&str>) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {addr}\r\n{origin}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    (status, text)
}

/// The official socket.io-client 4.x, run by node, with the express cookie in
/// `extraHeaders`: admitted with its user, refused with the message and data.
#[tokio::test]
async fn official_client_sees_user_and_connect_error() {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/node_modules");
    if !modules.join("socket.io-client").exists() {
        eprintln!("skipped: e2e/node_modules is not installed");
        return;
    }
    let redis = Redis::start();
    setex(&redis, "sess:node-session", &express_session(true), 60).await;
    let addr = serve(config(AuthMode::ExpressSession, Some(&redis))).await;
    let script = r#"
        const { io } = require("socket.io-client");
        const [url, cookie] = process.argv.slice(1);
        const socket = io(url, { transports: ["websocket"], reconnection: false,
                                 extraHeaders: { cookie } });
        const timer = setTimeout(() => done({ timeout: true }), 10000);
        function done(r) {
            clearTimeout(timer);
            console.log(JSON.stringify(r));
            socket.close();
            process.exit(0);
        }
        socket.on("whoami", (user) => done({ user }));
        socket.on("connect_error", (e) => done({ message: e.message, data: e.data }));
    "#;
    let run = |cookie: String| {
        let modules = modules.clone();
        async move {
            // Blocking std process on a blocking thread: the server keeps running.
            let out = tokio::task::spawn_blocking(move || {
                Command::new("node")
                    .env("NODE_PATH", &modules)
                    .args(["-e", script, &format!("http://{addr}"), &cookie])
                    .output()
            })
            .await
            .unwrap()
            .expect("run node");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Json>(&out.stdout).expect("node printed JSON")
        }
    };
    assert_eq!(
        run(express_cookie("node-session", SECRET)).await,
        json!({"user": {"id": 42, "name": "ada"}})
    );
    assert_eq!(
        run(express_cookie("node-session", "wrong")).await,
        json!({"message": "session cookie signature is invalid", "data": {"code": "invalid_signature"}})
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sockeye-auth-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh RSA key pair from the `openssl` binary: (private PEM, public PEM).
fn rsa_key_pair(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let private = dir.join("private.pem");
    let public = dir.join("public.pem");
    let ok = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let private_s = private.to_str()?;
    let public_s = public.to_str()?;
    (ok(&["genrsa", "-traditional", "-out", private_s, "2048"])
        && ok(&["rsa", "-in", private_s, "-pubout", "-out", public_s]))
    .then_some((private, public))
}
