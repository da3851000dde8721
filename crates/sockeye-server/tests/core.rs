//! The gateway core seen from outside: the real `sockeye` binary, real HTTP requests,
//! a real websocket client and a real `redis-server` started on a free port.
//!
//! Waiting is always a bounded retry loop on an observable state (a status code, a
//! metric, the process exiting), never an assertion on how long something took.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Upper bound for anything to happen; generous because CI machines are slow.
const PATIENCE: Duration = Duration::from_secs(30);

mod support;
use support::{free_port, RedisServer as Redis};

/// The running binary; killed when dropped so that a failing test leaves nothing behind.
struct Gateway {
    child: Child,
    addr: SocketAddr,
    logs: mpsc::Receiver<String>,
}

impl Gateway {
    /// Starts `sockeye` on an OS-chosen port and reads the address it prints.
    fn start(args: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockeye"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .env_remove("SOCKEYE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockeye");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, logs) = mpsc::channel();
        // Keep draining stderr so that the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[sockeye] {line}");
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining.
                }
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = match logs.recv_timeout(remaining) {
                Ok(line) => line,
                Err(_) => panic!("sockeye did not print its address: {:?}", child.try_wait()),
            };
            if let Some(addr) = line
                .split("http://")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.trim_matches('"').parse().ok())
            {
                break addr;
            }
        };
        Gateway { child, addr, logs }
    }

    fn get(&self, path: &str) -> HttpResponse {
        http_get(self.addr, path, &[])
    }

    fn ws_url(&self) -> String {
        format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "sockeye did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while self.logs.try_recv().is_ok() {}
    }
}

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A plain HTTP/1.1 GET with `Connection: close` (the body is what comes until EOF).
fn http_get(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).ok();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = end + 2;
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
}

/// Polls `check` until it returns `Some`, at most [`PATIENCE`].
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of an unlabelled (or exactly labelled) sample in a Prometheus exposition.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens an Engine.IO v4 websocket session and connects to namespace `/`. Returns the
/// stream and the Socket.IO answer to the connect (`40{…}` or `44{…}`).
async fn socket_io_client(url: &str) -> (Ws, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket handshake");
    let open = next_text(&mut ws).await.expect("open packet");
    assert!(
        open.starts_with("0{"),
        "Engine.IO open packet, got {open:?}"
    );
    ws.send(Message::text("40")).await.expect("send connect");
    let answer = next_text(&mut ws).await.expect("connect answer");
    (ws, answer)
}

/// The next text frame that is not a ping (pings are answered).
async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        let frame = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .ok()??
            .ok()?;
        match frame {
            Message::Text(t) if t.as_str() == "2" => {
                ws.send(Message::text("3")).await.ok()?;
            }
            Message::Text(t) => return Some(t.to_string()),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

#[test]
fn health_without_redis_is_ok_and_counts_connections() {
    let gateway = Gateway::start(&[]);
    let response = gateway.get("/health");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        serde_json::json!({"status": "ok", "connections": 0, "redis": "disabled", "cluster": "disabled"})
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (_ws, _) = rt.block_on(socket_io_client(&gateway.ws_url()));
    let body = eventually("health to count the client", || {
        let json = gateway.get("/health").json();
        (json["connections"] == 1).then_some(json)
    });
    assert_eq!(body["status"], "ok");
}

#[test]
fn health_follows_redis_going_down_and_coming_back() {
    let port = free_port();
    let mut redis = Redis::start_on(port);
    let gateway = Gateway::start(&["--redis", &redis.url()]);

    let up = gateway.get("/health");
    assert_eq!(up.status, 200, "{}", up.text());
    assert_eq!(up.json()["redis"], "up");
    assert_eq!(up.json()["cluster"], "up");

    redis.stop();
    // The adapter notices the lost subscription by itself; the PING of the check
    // notices the shared connection is gone.
    let down = eventually("health to report Redis and the cluster down", || {
        let r = gateway.get("/health");
        (r.status == 503 && r.json()["cluster"] == "down").then_some(r)
    });
    assert_eq!(down.json()["redis"], "down");
    assert_eq!(down.json()["status"], "degraded");

    let _redis = Redis::start_on(port);
    let again = eventually("health to report Redis and the cluster up again", || {
        let r = gateway.get("/health");
        (r.status == 200 && r.json()["cluster"] == "up").then_some(r)
    });
    assert_eq!(again.json()["redis"], "up");

    let metrics = gateway.get("/metrics").text();
    assert!(
        metric(&metrics, "sockeye_redis_errors_total").unwrap_or(0) >= 1,
        "{metrics}"
    );
}

#[test]
fn metrics_show_a_real_client_and_its_packets() {
    let gateway = Gateway::start(&[]);
    let before = gateway.get("/metrics");
    assert_eq!(before.status, 200);
    assert!(before
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(metric(&before.text(), "sockeye_connections"), Some(0));

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (_ws, connected) = rt.block_on(async {
        let (mut ws, connected) = socket_io_client(&gateway.ws_url()).await;
        ws.send(Message::text(r#"42["hello","world"]"#))
            .await
            .expect("emit");
        (ws, connected)
    });

    let text = eventually("metrics to count the client's packets", || {
        let text = gateway.get("/metrics").text();
        (metric(&text, "sockeye_packets_received_total")? >= 2).then_some(text)
    });
    assert_eq!(metric(&text, "sockeye_connections"), Some(1), "{text}");
    assert!(metric(&text, "sockeye_connections_opened_total") >= Some(1));
    // The Socket.IO packets `0` and `2["hello","world"]` (after the Engine.IO type
    // digit), at least, came in.
    assert!(
        metric(&text, "sockeye_bytes_received_total") >= Some(19),
        "{text}"
    );
    // The connect answer went out.
    assert!(
        metric(&text, "sockeye_packets_sent_total") >= Some(1),
        "{text}"
    );
    assert!(metric(&text, "sockeye_namespaces") >= Some(1), "{text}");
    if connected.starts_with("40") {
        assert_eq!(
            metric(&text, "sockeye_sockets{namespace=\"/\"}"),
            Some(1),
            "{text}"
        );
    }
    for family in [
        "sockeye_broadcasts_total",
        "sockeye_broadcast_deliveries_total",
        "sockeye_volatile_dropped_total",
        "sockeye_slow_client_disconnects_total",
        "sockeye_redis_errors_total",
        "sockeye_publish_requests_total",
    ] {
        assert!(metric(&text, family).is_some(), "{family} missing:\n{text}");
    }
}

#[test]
fn serves_the_official_client_bundle() {
    let gateway = Gateway::start(&[]);
    let response = gateway.get("/socket.io/socket.io.min.js");
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/javascript")));
    assert!(
        response.body.len() > 30_000,
        "{} bytes",
        response.body.len()
    );
    assert!(response.text().contains("Socket.IO v4.8.1"));
    assert!(response
        .header("cache-control")
        .is_some_and(|c| c.contains("max-age")));
    let etag = response.header("etag").expect("ETag").to_string();

    let cached = http_get(
        gateway.addr,
        "/socket.io/socket.io.min.js",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());

    let full = gateway.get("/socket.io/socket.io.js");
    assert_eq!(full.status, 200);
    assert!(full.body.len() > response.body.len());
    assert_eq!(gateway.get("/socket.io/socket.io.min.js.map").status, 200);
    assert_eq!(gateway.get("/socket.io/nothing.js").status, 404);
}

#[test]
fn sigterm_closes_clients_and_exits_zero() {
    let mut gateway = Gateway::start(&["--shutdown-timeout", "5000"]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (mut ws, _) = rt.block_on(socket_io_client(&gateway.ws_url()));

    gateway.signal("TERM");
    // The client is told: it reads a close (Engine.IO `1` or a close frame) or the
    // connection ends, rather than waiting for a heartbeat timeout.
    let told = rt.block_on(async {
        loop {
            match tokio::time::timeout(PATIENCE, ws.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "1" => return true,
                Ok(Some(Ok(_))) => {}
            }
        }
    });
    assert!(told, "the client was not told about the shutdown");
    let status = gateway.wait_exit();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn print_config_shows_precedence_and_hides_secrets() {
    let file = std::env::temp_dir().join(format!("sockeye-core-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:4001\"\napi_key = \"file-secret\"\n\
         [engine]\nping_interval_ms = 1111\nping_timeout_ms = 2222\nmax_queue = 7\n",
    )
    .expect("write config");
    let output = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .args(["--print-config", "--ping-interval", "3333"])
        .env("SOCKEYE_CONFIG", &file)
        .env("SOCKEYE_PING_INTERVAL", "4444")
        .env("SOCKEYE_PING_TIMEOUT", "5555")
        .output()
        .expect("run sockeye");
    let _ = std::fs::remove_file(&file);
    assert!(output.status.success());
    let printed: toml::Value =
        toml::from_str(&String::from_utf8_lossy(&output.stdout)).expect("TOML output");
    let engine = &printed["engine"];
    // flag > env > file > default
    assert_eq!(engine["ping_interval_ms"].as_integer(), Some(3333));
    assert_eq!(engine["ping_timeout_ms"].as_integer(), Some(5555));
    assert_eq!(engine["max_queue"].as_integer(), Some(7));
    assert_eq!(engine["max_payload"].as_integer(), Some(1_000_000));
    assert_eq!(printed["listen"].as_str(), Some("127.0.0.1:4001"));
    assert_eq!(printed["api_key"].as_str(), Some("<redacted>"));
}

#[test]
fn bad_config_file_is_reported_clearly() {
    let file = std::env::temp_dir().join(format!("sockeye-bad-{}.toml", std::process::id()));
    std::fs::write(&file, "[engine]\nping_interval = 5\n").expect("write config");
    let output = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .arg("--config")
        .arg(&file)
        .output()
        .expect("run sockeye");
    let _ = std::fs::remove_file(&file);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&*PathBuf::from(&file).to_string_lossy()),
        "{stderr}"
    );
    assert!(stderr.contains("ping_interval"), "{stderr}");
}

#[test]
fn help_explains_the_gateway() {
    let output = Command::new(env!("CARGO_BIN_EXE_sockeye"))
        .arg("--help")
        .output()
        .expect("run sockeye");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "Socket.IO",
        "Server:",
        "Engine:",
        "Auth:",
        "Publishing:",
        "Examples:",
        "--redis",
        "--ping-interval",
        "--session-secret",
        "--api-key",
        "SOCKEYE_",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from --help:\n{help}"
        );
    }
}

/// A polling handshake from a page on `origin`, as a browser's XHR sends it.
fn polling_handshake(addr: SocketAddr, origin: &str) -> HttpResponse {
    http_get(
        addr,
        "/socket.io/?EIO=4&transport=polling",
        &[("Origin", origin)],
    )
}

#[test]
fn cross_origin_polling_is_readable_only_by_the_cors_origins() {
    let plain = Gateway::start(&[]);
    let response = polling_handshake(plain.addr, "https://app.example");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("access-control-allow-origin"), None);

    let gateway = Gateway::start(&[
        "--cors-origin",
        "https://App.example:443/",
        "--cors-credentials",
    ]);
    let allowed = polling_handshake(gateway.addr, "https://app.example");
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    let other = polling_handshake(gateway.addr, "https://evil.example");
    assert_eq!(other.header("access-control-allow-origin"), None);
}

#[test]
fn cors_credentials_for_any_origin_are_refused_at_start() {
    for args in [
        &["--cors-credentials"][..],
        &["--cors-origin", "*", "--cors-credentials"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_sockeye"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("SOCKEYE_CONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("run sockeye");
        assert!(!output.status.success(), "{args:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("cors_credentials"), "{args:?}: {stderr}");
    }
}

#[test]
fn connection_cap_and_handshake_rate_refuse_with_clear_answers() {
    let capped = Gateway::start(&["--max-connections", "2"]);
    for _ in 0..2 {
        let ok = polling_handshake(capped.addr, "http://localhost");
        assert_eq!(ok.status, 200, "{}", ok.text());
    }
    let full = polling_handshake(capped.addr, "http://localhost");
    assert_eq!(full.status, 503, "{}", full.text());
    assert_eq!(full.json()["message"], "Server is at capacity");
    assert!(full.header("retry-after").is_some());
    let metrics = http_get(capped.addr, "/metrics", &[]).text();
    assert_eq!(
        metric(&metrics, "sockeye_handshakes_refused_total"),
        Some(1)
    );

    let limited = Gateway::start(&["--handshakes-per-minute", "3"]);
    for _ in 0..3 {
        let ok = polling_handshake(limited.addr, "http://localhost");
        assert_eq!(ok.status, 200, "{}", ok.text());
    }
    let fast = polling_handshake(limited.addr, "http://localhost");
    assert_eq!(fast.status, 429, "{}", fast.text());
    assert_eq!(
        fast.json()["message"],
        "Too many handshakes from this address"
    );
    let retry: u64 = fast
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    // The existing sessions are not affected: other routes still answer.
    assert_eq!(http_get(limited.addr, "/health", &[]).status, 200);
}

/// `POST /api/emit` with key `k`; returns the status (202 when accepted).
fn api_emit(addr: SocketAddr, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).ok();
    let request = format!(
        "POST /api/emit HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer k\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status")
}

/// The last argument of an event packet `42[…]`: the recovery offset.
fn offset_of(packet: &str) -> String {
    let args: serde_json::Value =
        serde_json::from_str(packet.strip_prefix("42").expect("an event")).expect("JSON");
    args.as_array()
        .and_then(|a| a.last())
        .and_then(|v| v.as_str())
        .expect("an offset as last argument")
        .to_string()
}

#[test]
fn a_dropped_client_recovers_its_socket_and_missed_events() {
    let gateway = Gateway::start(&["--recovery-window", "30000", "--api-key", "k"]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (ws, connected) = rt.block_on(socket_io_client(&gateway.ws_url()));
    let first: serde_json::Value =
        serde_json::from_str(connected.strip_prefix("40").expect("connected")).expect("JSON");
    let (sid, pid) = (first["sid"].clone(), first["pid"].clone());
    assert!(pid.is_string(), "a pid when recovery is on: {connected}");

    let mut ws = ws;
    assert_eq!(
        api_emit(gateway.addr, r#"{"event":"news","args":[1]}"#),
        202
    );
    let seen = rt.block_on(next_text(&mut ws)).expect("news 1");
    assert!(seen.starts_with(r#"42["news",1,"#), "{seen}");
    let offset = offset_of(&seen);

    // The connection dies without a goodbye; the server keeps the session.
    drop(ws);
    eventually("the gateway to notice the lost connection", || {
        let metrics = gateway.get("/metrics").text();
        (metric(&metrics, "sockeye_connections") == Some(0)).then_some(())
    });
    assert_eq!(
        api_emit(gateway.addr, r#"{"event":"news","args":[2]}"#),
        202
    );

    let again = rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(gateway.ws_url())
            .await
            .expect("websocket handshake");
        next_text(&mut ws).await.expect("open packet");
        let auth = serde_json::json!({ "pid": pid, "offset": offset });
        ws.send(Message::text(format!("40{auth}")))
            .await
            .expect("send connect");
        let connected = next_text(&mut ws).await.expect("connect answer");
        let missed = next_text(&mut ws).await.expect("the missed event");
        (connected, missed)
    });
    let recovered: serde_json::Value =
        serde_json::from_str(again.0.strip_prefix("40").expect("connected")).expect("JSON");
    assert_eq!(recovered["sid"], sid, "the same socket id after recovery");
    assert!(again.1.starts_with(r#"42["news",2,"#), "{}", again.1);
}

/// Slowloris: a client trickling its request headers one byte at a time is cut off
/// once `--header-read-timeout` has passed, while other clients are served meanwhile.
#[test]
fn slow_request_headers_are_cut_off_while_others_are_served() {
    let gateway = Gateway::start(&["--header-read-timeout", "1000"]);
    let mut slow = TcpStream::connect(gateway.addr).expect("connect");
    // Each read waits up to 100 ms: the pace of the trickle.
    slow.set_read_timeout(Some(Duration::from_millis(100))).ok();
    let head = format!("GET /health HTTP/1.1\r\nHost: {}\r\nX-Slow: ", gateway.addr);
    let mut bytes = head.bytes().chain(std::iter::repeat(b'a'));
    let deadline = Instant::now() + PATIENCE;
    let mut sent = 0usize;
    let mut answer = Vec::new();
    let closed = loop {
        assert!(
            Instant::now() < deadline,
            "the connection was still open after {sent} header bytes"
        );
        let byte = bytes.next().expect("endless header");
        if slow.write_all(&[byte]).is_err() {
            break true;
        }
        sent += 1;
        let mut buf = [0u8; 512];
        match slow.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => {} // nothing yet
        }
        if sent == 5 {
            // Another client is served while the slow one trickles.
            assert_eq!(gateway.get("/health").status, 200);
        }
    };
    assert!(closed);
    // The headers were never complete, so no request reached the application: hyper
    // either closes silently or answers 408 before closing (a malformed request would
    // get a 400 instead).
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "unexpected answer {answer:?}"
    );
    assert_eq!(gateway.get("/health").status, 200);
}
