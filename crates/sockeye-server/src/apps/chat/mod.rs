//! The chat app: rooms, presence, history and private messages, on namespace `/chat`.
//!
//! Pages: `GET /` redirects to `/chat`; `GET /chat` is the nickname form and the
//! rooms list; `GET /chat/<room>` (or `/chat?room=<room>`) is a room. The page is one
//! static document (`assets/chat.html` + `chat.js`); the room comes from the URL.
//!
//! # Event protocol (namespace `/chat`)
//!
//! Every client event takes at most one argument and answers through its ack with
//! `{ ok: true, … }` or `{ ok: false, error, code }`, where `error` is a sentence for
//! the user and `code` one of `invalid`, `too_long`, `rate_limited` (with
//! `retryAfterMs`), `not_in_room`, `no_such_user`, `unavailable`.
//!
//! Client → server:
//! - `session` → `{ ok, nick }`: the nickname imposed by the auth session (`null`
//!   when the page must ask for one).
//! - `rooms` → `{ ok, rooms: [{ name, users }] }`; the socket then receives `rooms`
//!   updates until it joins a room.
//! - `join` `{ room, nick }` → `{ ok, room, nick, users: [nick], history: [message] }`.
//!   `room`: 1–40 letters, digits, spaces, `-`, `_`. `nick` (ignored when the session
//!   has a name): 1–24 letters, digits, spaces, `-_.'`. The granted nick gets a
//!   `-2`, `-3`… suffix when taken in the room. A socket is in one room at a time:
//!   joining another leaves the current one.
//! - `leave` → `{ ok }`.
//! - `message` `"text"` → `{ ok }`: 1–500 characters; at most 5 messages (public and
//!   private together) per 5 seconds per socket (token bucket).
//! - `private` `{ to, text }` → `{ ok, message: { from, to, text, at } }`: to one user
//!   of the same room.
//!
//! Server → client (each broadcast reaches the room's sockets on every gateway,
//! through the Socket.IO adapter):
//! - `message` `{ from, text, at }` to the room (the sender included); `at` is Unix ms.
//! - `private` `{ from, to, text, at }` to the recipient only.
//! - `notice` `{ kind: "joined" | "left", nick, at }` to the room.
//! - `users` `[nick]` to the room when it changes.
//! - `rooms` `[{ name, users }]` to the rooms-list viewers when any room changes.
//!
//! # Where the state lives
//!
//! Without Redis, presence and history are in this gateway's memory
//! ([`MemoryChatStore`], bounded). With `--redis` they are in Redis
//! ([`RedisChatStore`]): any number of gateways serve the same rooms, a room's
//! history and presence are kept 24 hours after its last activity, and the members
//! of a gateway that dies disappear within about 20 seconds. The rate limit is per
//! connection, so it stays on the gateway holding the connection.

mod handlers;
pub mod rate_limit;
pub mod store;

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use sockeye::Socket;

use crate::apps::assets;
use crate::auth;
use crate::gateway::Gateway;

pub use handlers::{Chat, ChatError};
pub use store::{ChatStore, MemoryChatStore, RedisChatConfig, RedisChatStore};

/// The namespace of the chat.
pub const NAMESPACE: &str = "/chat";

const PAGE: &str = include_str!("../../../assets/chat.html");
const SCRIPT: &str = include_str!("../../../assets/chat.js");

/// Registers the `/chat` namespace and returns the pages. The state is kept in Redis
/// when the gateway has one, in memory otherwise.
pub fn install(gateway: &Gateway) -> Router {
    match &gateway.redis {
        Some(redis) => register(gateway, RedisChatStore::new(redis)),
        None => register(gateway, MemoryChatStore::default()),
    }
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/chat") }))
        .route("/chat", get(page))
        .route("/chat/", get(page))
        .route("/chat/{room}", get(room_page))
        .route(
            "/chat/assets/chat.js",
            get(|| async { assets::javascript(SCRIPT) }),
        )
        .route(
            "/chat/assets/app.js",
            get(|| async { assets::javascript(assets::APP_JS) }),
        )
        .route(
            "/chat/assets/app.css",
            get(|| async { assets::css(assets::APP_CSS) }),
        )
}

fn register<S: ChatStore>(gateway: &Gateway, store: S) {
    let chat = Chat::new(store);
    let attached = chat.clone();
    let namespace = gateway.io.ns(NAMESPACE, move |socket: Socket| {
        let chat = attached.clone();
        async move { chat.attach(&socket) }
    });
    auth::install(gateway, &namespace);
    chat.spawn_sweeper(namespace);
}

async fn page() -> Response {
    assets::html(PAGE)
}

/// The room page is the same document: the script reads the room from the URL and the
/// server validates it on `join`.
async fn room_page(Path(_room): Path<String>) -> Response {
    assets::html(PAGE).into_response()
}
