//! The service over real TCP on 127.0.0.1: handshake, errors, polling rules,
//! websocket, upgrade, heartbeat timing.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::SinkExt;
use http::StatusCode;
use sockeye_engine::{CloseReason, Cors, Incoming, Transport};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test]
async fn polling_handshake_fields_are_exact() {
    let server = Server::start(config().build()).await;
    let reply = get(server.addr, "/engine.io/?EIO=4&transport=polling").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "no CORS unless configured"
    );
    let text = reply.text();
    let json: serde_json::Value = serde_json::from_str(&text[1..]).expect("json");
    let keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "maxPayload",
            "pingInterval",
            "pingTimeout",
            "sid",
            "upgrades"
        ]
    );
    assert!(text.starts_with("0{\"sid\":\""), "{text}");
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(json["pingInterval"], 3000);
    assert_eq!(json["pingTimeout"], 2000);
    assert_eq!(json["maxPayload"], 1_000_000);
    assert_eq!(json["sid"].as_str().map(str::len), Some(20));
    assert_eq!(server.service.session_count(), 1);
}

#[tokio::test]
async fn v3_handshake_has_a_length_prefix() {
    let server = Server::start(config().build()).await;
    let reply = get(server.addr, "/engine.io/?EIO=3&transport=polling").await;
    let text = reply.text();
    let (len, packet) = text.split_once(':').expect("prefix");
    assert_eq!(
        len.parse::<usize>().ok(),
        Some(packet.encode_utf16().count())
    );
    assert!(packet.starts_with("0{"));
}

#[tokio::test]
async fn no_upgrades_when_websocket_is_not_allowed() {
    let server = Server::start(config().transports([Transport::Polling]).build()).await;
    let (_, json) = handshake(server.addr, 4).await;
    assert_eq!(json["upgrades"], serde_json::json!([]));
    let reply = get(server.addr, "/engine.io/?EIO=4&transport=websocket").await;
    assert_eq!(
        reply.json(),
        serde_json::json!({"code": 0, "message": "Transport unknown"})
    );
}

#[tokio::test]
async fn websocket_handshake_without_sid() {
    let server = Server::start(config().build()).await;
    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    let open = ws_text(&mut ws).await;
    let json: serde_json::Value = serde_json::from_str(&open[1..]).expect("json");
    assert!(open.starts_with('0'));
    assert_eq!(json["upgrades"], serde_json::json!([]));
    assert_eq!(json.as_object().map(|o| o.len()), Some(5));
    ws_send(&mut ws, "4héllo 😀").await;
    assert_eq!(ws_text(&mut ws).await, "4héllo 😀");
    ws.send(WsMessage::Binary(Bytes::from_static(&[1, 2, 3])))
        .await
        .expect("send");
    assert_eq!(
        ws_next(&mut ws).await,
        Some(WsMessage::Binary(Bytes::from_static(&[1, 2, 3])))
    );
}

#[tokio::test]
async fn v3_websocket_binary_frames_carry_the_type_byte() {
    let server = Server::start(config().build()).await;
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket")
        .await
        .expect("ws");
    assert!(ws_text(&mut ws).await.starts_with("0{"));
    ws.send(WsMessage::Binary(Bytes::from_static(&[4, 9, 8])))
        .await
        .expect("send");
    assert_eq!(
        ws_next(&mut ws).await,
        Some(WsMessage::Binary(Bytes::from_static(&[4, 9, 8])))
    );
    // v3: the client pings, the server pongs
    ws_send(&mut ws, "2").await;
    assert_eq!(ws_text(&mut ws).await, "3");
}

fn error_json(code: u8, message: &str) -> serde_json::Value {
    serde_json::json!({"code": code, "message": message})
}

#[tokio::test]
async fn protocol_errors_and_json_bodies() {
    let server = Server::start(
        config()
            .allow_request(|req| match req.query("refuse") {
                Some(_) => Err("not you".into()),
                None => Ok(()),
            })
            .build(),
    )
    .await;
    let addr = server.addr;
    let cases: Vec<(&str, &str, StatusCode, serde_json::Value)> = vec![
        (
            "GET",
            "/engine.io/?transport=polling",
            StatusCode::BAD_REQUEST,
            error_json(5, "Unsupported protocol version"),
        ),
        (
            "GET",
            "/engine.io/?EIO=5&transport=polling",
            StatusCode::BAD_REQUEST,
            error_json(5, "Unsupported protocol version"),
        ),
        (
            "GET",
            "/engine.io/?EIO=4&transport=carrier-pigeon",
            StatusCode::BAD_REQUEST,
            error_json(0, "Transport unknown"),
        ),
        (
            "GET",
            "/engine.io/?EIO=4",
            StatusCode::BAD_REQUEST,
            error_json(0, "Transport unknown"),
        ),
        (
            "GET",
            "/engine.io/?EIO=4&transport=polling&sid=nope",
            StatusCode::BAD_REQUEST,
            error_json(1, "Session ID unknown"),
        ),
        (
            "POST",
            "/engine.io/?EIO=4&transport=polling",
            StatusCode::BAD_REQUEST,
            error_json(2, "Bad handshake method"),
        ),
        (
            "GET",
            "/engine.io/?EIO=4&transport=websocket",
            StatusCode::BAD_REQUEST,
            error_json(3, "Bad request"),
        ),
        (
            "GET",
            "/engine.io/?EIO=4&transport=polling&j=0",
            StatusCode::BAD_REQUEST,
            error_json(3, "Bad request"),
        ),
        (
            "GET",
            "/engine.io/?EIO=4&transport=polling&refuse=1",
            StatusCode::FORBIDDEN,
            error_json(4, "not you"),
        ),
    ];
    for (method, path, status, body) in cases {
        let reply = request(addr, method, path, &[], Bytes::new()).await;
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
        assert_eq!(reply.json(), body, "{method} {path}");
    }
    assert_eq!(get(addr, "/elsewhere").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(addr, "/engine.iox/?EIO=4&transport=polling")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(addr, "/engine.io?EIO=4&transport=polling").await.status,
        StatusCode::OK
    );
    assert_eq!(server.service.session_count(), 1);
}

#[tokio::test]
async fn eio3_can_be_refused() {
    let server = Server::start(config().allow_eio3(false).build()).await;
    let reply = get(server.addr, "/engine.io/?EIO=3&transport=polling").await;
    assert_eq!(reply.json(), error_json(5, "Unsupported protocol version"));
}

#[tokio::test]
async fn polling_round_trip_v4() {
    let server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let reply = post(server.addr, &path, "4hello\u{1e}bAQID\u{1e}4😀").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "ok");
    assert_eq!(reply.header("content-type"), Some("text/html"));
    let reply = get(server.addr, &path).await;
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(reply.text(), "4hello\u{1e}bAQID\u{1e}4😀");
}

#[tokio::test]
async fn polling_round_trip_v3_text_and_binary() {
    let server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 3).await;
    let path = server.url(&format!("EIO=3&transport=polling&sid={sid}"));
    // text payload, lengths in UTF-16 units: "4é😀" is 4 units
    assert_eq!(post(server.addr, &path, "4:4é😀").await.text(), "ok");
    assert_eq!(get(server.addr, &path).await.text(), "4:4é😀");
    // binary payload (XHR2): text "4a" then binary [4, 7, 7]
    let body = Bytes::from_static(&[0, 2, 0xff, b'4', b'a', 1, 3, 0xff, 4, 7, 7]);
    let reply = request(
        server.addr,
        "POST",
        &path,
        &[("content-type", "application/octet-stream")],
        body.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = get(server.addr, &path).await;
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(reply.body, body);
}

#[tokio::test]
async fn v3_b64_client_gets_base64() {
    let server = Server::start(config().build()).await;
    let reply = get(server.addr, "/engine.io/?EIO=3&transport=polling&b64=1").await;
    let text = reply.text();
    let json: serde_json::Value =
        serde_json::from_str(text.split_once(":0").map(|(_, j)| j).unwrap_or("")).expect("json");
    let sid = json["sid"].as_str().expect("sid");
    let path = server.url(&format!("EIO=3&transport=polling&sid={sid}"));
    assert_eq!(post(server.addr, &path, "6:b4AQID").await.text(), "ok");
    let reply = get(server.addr, &path).await;
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(reply.text(), "6:b4AQID");
}

#[tokio::test]
async fn second_pending_get_is_refused_and_closes_the_session() {
    let mut server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let addr = server.addr;
    let first = tokio::spawn({
        let path = path.clone();
        async move { get(addr, &path).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = get(addr, &path).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    let first = first.await.expect("first GET");
    assert_eq!(first.text(), "1", "the pending GET gets the close packet");
    assert_eq!(
        server.next_close().await,
        (sid, CloseReason::TransportError)
    );
    assert_eq!(
        get(addr, &path).await.json(),
        error_json(1, "Session ID unknown")
    );
}

#[tokio::test]
async fn oversized_post_is_413_and_closes_the_session() {
    let mut server = Server::start(config().max_payload(100).build()).await;
    let (sid, json) = handshake(server.addr, 4).await;
    assert_eq!(json["maxPayload"], 100);
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let reply = post(server.addr, &path, "4".repeat(101)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        server.next_close().await,
        (sid, CloseReason::TransportError)
    );
    assert_eq!(server.service.session_count(), 0);
    // exactly max_payload is fine
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    assert_eq!(
        post(server.addr, &path, "4".repeat(100)).await.status,
        StatusCode::OK
    );
}

/// Reads one HTTP/1.1 response (headers and a `content-length` body) from `stream`;
/// returns its status line.
async fn read_response(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let n = stream
                .read(&mut buf)
                .await
                .expect("the answer, not a reset");
            assert!(n > 0, "connection closed before a whole answer");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return head.lines().next().unwrap_or_default().to_string();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer within 10 s")
}

#[tokio::test]
async fn an_oversized_post_still_being_sent_gets_its_413_not_a_reset() {
    let server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    // Over the default max_payload (1 MB), written to the end before reading: the
    // server reads it all (it would otherwise close with the data unread, which resets
    // the connection).
    let body = "4".repeat(1_100_000);
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head sent");
    stream.write_all(body.as_bytes()).await.expect("body sent");
    assert_eq!(
        read_response(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    // The body ended within bounds: the connection serves the next request.
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .expect("second request sent");
    assert_eq!(read_response(&mut stream).await, "HTTP/1.1 400 Bad Request");

    // Beyond the bounds the body is not waited for: announced far over the limit,
    // refused at once (the client has not sent any of it) ...
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head =
        format!("POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 100000000\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("head sent");
    assert_eq!(
        read_response(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    // ... and a chunked body that stalls after the limit is refused too.
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head =
        format!("POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("head sent");
    let chunk = format!("{:x}\r\n{}\r\n", 1_500_000, "4".repeat(1_500_000));
    stream
        .write_all(chunk.as_bytes())
        .await
        .expect("chunk sent");
    assert_eq!(
        read_response(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
}

#[tokio::test]
async fn aborted_poll_closes_the_session() {
    let mut server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let request = format!(
        "GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stream);
    assert_eq!(
        server.next_close().await,
        (sid, CloseReason::TransportError)
    );
}

#[tokio::test]
async fn client_close_and_malformed_packets() {
    let mut server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    assert_eq!(post(server.addr, &path, "1").await.status, StatusCode::OK);
    assert_eq!(
        server.next_close().await,
        (sid, CloseReason::TransportClose)
    );

    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    assert_eq!(
        post(server.addr, &path, "4ok\u{1e}9nope").await.status,
        StatusCode::OK
    );
    assert_eq!(
        server.next_close().await,
        (sid.clone(), CloseReason::ParseError)
    );

    let (sid, _) = handshake(server.addr, 3).await;
    let path = server.url(&format!("EIO=3&transport=polling&sid={sid}"));
    assert_eq!(
        post(server.addr, &path, "99999999999999999999999:4")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(server.next_close().await, (sid, CloseReason::ParseError));

    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    ws_text(&mut ws).await;
    ws_send(&mut ws, "").await;
    assert_eq!(server.next_close().await.1, CloseReason::ParseError);
    assert!(matches!(
        ws_next(&mut ws).await,
        Some(WsMessage::Close(_)) | None
    ));
}

#[tokio::test]
async fn server_close_flushes_then_sends_close() {
    let mut server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    post(server.addr, &path, "4close-me").await;
    assert_eq!(server.next_close().await, (sid, CloseReason::ForcedClose));
    assert_eq!(get(server.addr, &path).await.text(), "4bye\u{1e}1");
    assert_eq!(server.service.session_count(), 0);

    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    ws_text(&mut ws).await;
    ws_send(&mut ws, "4close-me").await;
    assert_eq!(ws_text(&mut ws).await, "4bye");
    assert!(matches!(
        ws_next(&mut ws).await,
        Some(WsMessage::Close(_)) | None
    ));
}

#[tokio::test]
async fn upgrade_hands_the_queue_to_the_websocket() {
    let server = Server::start(config().build()).await;
    let addr = server.addr;
    let (sid, _) = handshake(addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let pending = tokio::spawn({
        let path = path.clone();
        async move { get(addr, &path).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}"))
        .await
        .expect("ws");
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    assert_eq!(
        pending.await.expect("GET").text(),
        "6",
        "the pending GET is released"
    );
    // queued while the client is between transports: must arrive over websocket
    assert_eq!(post(addr, &path, "4a\u{1e}4b").await.status, StatusCode::OK);
    ws_send(&mut ws, "5").await;
    assert_eq!(ws_text(&mut ws).await, "4a");
    assert_eq!(ws_text(&mut ws).await, "4b");
    ws_send(&mut ws, "4c").await;
    assert_eq!(ws_text(&mut ws).await, "4c");
    // polling is over for this session, but the session lives on
    let reply = get(addr, &path).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json(), error_json(3, "Bad request"));
    ws_send(&mut ws, "4d").await;
    assert_eq!(ws_text(&mut ws).await, "4d");
    // a second websocket for an upgraded session is refused
    assert!(
        ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}"))
            .await
            .is_err()
    );
    assert_eq!(server.service.session_count(), 1);
}

#[tokio::test]
async fn second_websocket_during_upgrade_is_refused() {
    let server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let query = format!("EIO=4&transport=websocket&sid={sid}");
    let mut first = ws_connect(server.addr, &query).await.expect("first ws");
    let second = ws_connect(server.addr, &query).await;
    match second {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), StatusCode::BAD_REQUEST)
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    ws_send(&mut first, "2probe").await;
    assert_eq!(ws_text(&mut first).await, "3probe");

    // a websocket-only session cannot be "upgraded" either
    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    let open = ws_text(&mut ws).await;
    let json: serde_json::Value = serde_json::from_str(&open[1..]).expect("json");
    let query = format!(
        "EIO=4&transport=websocket&sid={}",
        json["sid"].as_str().unwrap_or("")
    );
    assert!(ws_connect(server.addr, &query).await.is_err());
}

#[tokio::test]
async fn unfinished_upgrade_times_out_and_polling_goes_on() {
    let server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let mut ws = ws_connect(server.addr, &format!("EIO=4&transport=websocket&sid={sid}"))
        .await
        .expect("ws");
    let started = Instant::now();
    // never probe: the server gives up after upgrade_timeout (500 ms)
    assert!(matches!(
        ws_next(&mut ws).await,
        Some(WsMessage::Close(_)) | None
    ));
    assert!(started.elapsed() < Duration::from_millis(1500));
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    assert_eq!(
        post(server.addr, &path, "4still").await.status,
        StatusCode::OK
    );
    assert_eq!(get(server.addr, &path).await.text(), "4still");
}

#[tokio::test]
async fn websocket_message_over_max_payload_closes() {
    let mut server = Server::start(config().max_payload(64).build()).await;
    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    ws_text(&mut ws).await;
    ws_send(&mut ws, &format!("4{}", "x".repeat(100))).await;
    assert_eq!(server.next_close().await.1, CloseReason::TransportError);
    match ws_next(&mut ws).await {
        Some(WsMessage::Close(Some(frame))) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// The heartbeat closes a silent client within pingInterval + pingTimeout. The bound
/// has slack for a loaded machine but is well below what a timer that only checks
/// once per ping interval would achieve (interval + interval).
#[tokio::test]
async fn missed_pong_closes_on_time() {
    let interval = Duration::from_millis(400);
    let timeout = Duration::from_millis(200);
    let limit = interval + timeout + Duration::from_millis(150);
    let mut server = Server::start(
        config()
            .ping_interval(interval)
            .ping_timeout(timeout)
            .build(),
    )
    .await;

    // websocket: the client reads the ping but never answers
    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    let opened = Instant::now();
    ws_text(&mut ws).await;
    assert_eq!(ws_text(&mut ws).await, "2");
    let pinged = opened.elapsed();
    assert!(
        pinged >= interval - Duration::from_millis(20),
        "ping too early: {pinged:?}"
    );
    assert_eq!(server.next_close().await.1, CloseReason::PingTimeout);
    let closed = opened.elapsed();
    assert!(closed < limit, "closed after {closed:?}, limit {limit:?}");

    // polling: the client never polls
    let started = Instant::now();
    let (sid, _) = handshake(server.addr, 4).await;
    assert_eq!(server.next_close().await, (sid, CloseReason::PingTimeout));
    let closed = started.elapsed();
    assert!(closed < limit, "closed after {closed:?}, limit {limit:?}");
    assert!(
        closed >= interval + timeout - Duration::from_millis(20),
        "too early: {closed:?}"
    );
}

#[tokio::test]
async fn answered_pings_keep_the_session() {
    let mut server = Server::start(
        config()
            .ping_interval(Duration::from_millis(100))
            .ping_timeout(Duration::from_millis(100))
            .build(),
    )
    .await;
    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    ws_text(&mut ws).await;
    for _ in 0..6 {
        assert_eq!(ws_text(&mut ws).await, "2");
        ws_send(&mut ws, "3").await;
    }
    ws_send(&mut ws, "4alive").await;
    assert_eq!(ws_text(&mut ws).await, "4alive");
    assert!(matches!(
        server.events.try_recv(),
        Ok(common::Event::Open(_))
    ));
    while let Ok(event) = server.events.try_recv() {
        assert!(!matches!(event, common::Event::Close(..)), "{event:?}");
    }
}

#[tokio::test]
async fn v3_client_pings_keep_the_session() {
    let server = Server::start(
        config()
            .ping_interval(Duration::from_millis(100))
            .ping_timeout(Duration::from_millis(100))
            .build(),
    )
    .await;
    let (sid, _) = handshake(server.addr, 3).await;
    let path = server.url(&format!("EIO=3&transport=polling&sid={sid}"));
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(post(server.addr, &path, "1:2").await.status, StatusCode::OK);
        assert_eq!(get(server.addr, &path).await.text(), "1:3");
    }
    assert_eq!(server.service.session_count(), 1);
}

#[tokio::test]
async fn messages_keep_their_order_and_groups_stay_whole() {
    let server = Server::start(config().build()).await;
    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket")
        .await
        .expect("ws");
    ws_text(&mut ws).await;
    for i in 0..200 {
        ws_send(&mut ws, &format!("4m{i}")).await;
    }
    for i in 0..200 {
        assert_eq!(ws_text(&mut ws).await, format!("4m{i}"));
    }
}

#[tokio::test]
async fn cors_headers_only_when_configured() {
    let server = Server::start(
        config()
            .cors(Cors {
                origins: vec!["http://app.test".into()],
                credentials: true,
                ..Cors::default()
            })
            .build(),
    )
    .await;
    let reply = request(
        server.addr,
        "OPTIONS",
        "/engine.io/?EIO=4&transport=polling",
        &[
            ("origin", "http://app.test"),
            ("access-control-request-headers", "x-token"),
        ],
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://app.test")
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("x-token")
    );
    assert!(reply
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    let reply = request(
        server.addr,
        "GET",
        "/engine.io/?EIO=4&transport=polling",
        &[("origin", "http://app.test")],
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://app.test")
    );
    let reply = request(
        server.addr,
        "GET",
        "/engine.io/?EIO=9",
        &[("origin", "http://evil.test")],
        Bytes::new(),
    )
    .await;
    assert!(reply.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn close_all_closes_every_session() {
    let mut server = Server::start(config().build()).await;
    handshake(server.addr, 4).await;
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket")
        .await
        .expect("ws");
    ws_text(&mut ws).await;
    assert_eq!(server.service.session_count(), 2);
    server.service.close_all(CloseReason::ServerShuttingDown);
    assert_eq!(server.service.session_count(), 0);
    server.next_close().await;
    server.next_close().await;
    assert!(matches!(
        ws_next(&mut ws).await,
        Some(WsMessage::Close(_)) | None
    ));
}

#[tokio::test]
async fn binary_message_content_reaches_the_handler() {
    let mut server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    post(server.addr, &path, "b/w==").await;
    loop {
        match tokio::time::timeout(WAIT, server.events.recv()).await {
            Ok(Some(common::Event::Message(s, m))) => {
                assert_eq!(s, sid);
                assert_eq!(m, Incoming::Binary(Bytes::from_static(&[255])));
                break;
            }
            Ok(Some(_)) => continue,
            other => panic!("no message: {other:?}"),
        }
    }
}

#[tokio::test]
async fn concurrent_posts_are_refused() {
    let mut server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    // a POST whose body is still on its way
    let mut slow = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\n4ab"
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        post(server.addr, &path, "4second").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        server.next_close().await,
        (sid, CloseReason::TransportError)
    );
}

#[tokio::test]
async fn client_close_packet_releases_the_poll_with_a_noop() {
    let mut server = Server::start(config().build()).await;
    let (sid, _) = handshake(server.addr, 4).await;
    let path = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let addr = server.addr;
    let pending = tokio::spawn({
        let path = path.clone();
        async move { get(addr, &path).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(post(addr, &path, "1").await.text(), "ok");
    assert_eq!(pending.await.expect("GET").text(), "6");
    assert_eq!(
        server.next_close().await,
        (sid, CloseReason::TransportClose)
    );
}

#[tokio::test]
async fn serve_with_shutdown_stops_accepting() {
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let service = sockeye_engine::EngineService::new(config().build(), Echo(tx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sockeye_engine::serve_with_shutdown(
        listener,
        service,
        async {
            let _ = stopped.await;
        },
    ));
    assert_eq!(
        get(addr, "/engine.io/?EIO=4&transport=polling")
            .await
            .status,
        StatusCode::OK
    );
    let _ = stop.send(());
    let result = tokio::time::timeout(WAIT, server)
        .await
        .expect("returns")
        .expect("task");
    assert!(result.is_ok());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}
