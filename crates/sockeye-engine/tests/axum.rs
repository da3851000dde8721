//! The engine mounted in an axum 0.8 router with `.layer(EngineLayer)`: ordinary
//! routes keep working, polling and websocket (upgrade included) reach the engine.

mod common;

use axum::routing::get as get_route;
use axum::Router;
use common::*;
use http::StatusCode;
use sockeye_engine::EngineLayer;
use tokio::sync::mpsc;

#[tokio::test]
async fn engine_layer_in_an_axum_router() {
    let (tx, mut events) = mpsc::unbounded_channel();
    let layer = EngineLayer::new(config().build(), Echo(tx));
    let app = Router::new()
        .route("/hello", get_route(|| async { "hi" }))
        .layer(layer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let reply = get(addr, "/hello").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (StatusCode::OK, "hi")
    );
    assert_eq!(get(addr, "/nowhere").await.status, StatusCode::NOT_FOUND);

    // polling
    let (sid, json) = handshake(addr, 4).await;
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    let path = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(post(addr, &path, "4from axum").await.text(), "ok");
    assert_eq!(get(addr, &path).await.text(), "4from axum");

    // upgrade of that session
    let mut ws = ws_connect(addr, &format!("EIO=4&transport=websocket&sid={sid}"))
        .await
        .expect("ws");
    ws_send(&mut ws, "2probe").await;
    assert_eq!(ws_text(&mut ws).await, "3probe");
    ws_send(&mut ws, "5").await;
    ws_send(&mut ws, "4over ws").await;
    assert_eq!(ws_text(&mut ws).await, "4over ws");

    // websocket-only session
    let mut ws2 = ws_connect(addr, "EIO=3&transport=websocket")
        .await
        .expect("ws");
    assert!(ws_text(&mut ws2).await.starts_with("0{"));
    ws_send(&mut ws2, "4v3").await;
    assert_eq!(ws_text(&mut ws2).await, "4v3");
    assert_eq!(layer.session_count(), 2);
    assert!(matches!(events.recv().await, Some(Event::Open(s)) if s == sid));
}
