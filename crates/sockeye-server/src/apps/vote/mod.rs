//! The "where to eat" vote, on namespace `/vote`.
//!
//! Pages: `GET /vote` (pick or type an area) and `GET /vote/<area>` (vote there).
//!
//! Without Redis the areas live in this gateway's memory ([`Tally`], bounded;
//! expired areas are dropped on access and swept every minute). With `--redis` they
//! live in Redis ([`RedisVoteStore`], one hash per area), so voters on different
//! gateways see the same votes and tally, and a gateway can die without losing any.
//! Either way an area is forgotten 2 hours after its last activity (in Redis: an
//! `EXPIRE` renewed by every change).
//!
//! # Event protocol (namespace `/vote`)
//!
//! Client events answer through their ack with `{ ok: true, … }` or
//! `{ ok: false, error, code }` (`code`: `invalid`, `not_joined`, `full`,
//! `unavailable` when Redis does not answer).
//!
//! Client → server:
//! - `areas` → `{ ok, areas: [{ name, voters }] }`: the live areas, busiest first.
//! - `join` `{ area, key, name, picture }` → `{ ok, you, state }`. `area`: 1–40
//!   letters, digits, spaces, `-`, `_`; `key`: 8–64 `[A-Za-z0-9_-]`, a secret the page
//!   keeps so the voter keeps its vote across reloads; `name`: 1–24 characters (the
//!   session's name wins when auth is on); `picture`: empty/null or an http(s) URL of
//!   at most 500 characters. `you` is the voter's public id. Joining again updates the
//!   name and picture and keeps the vote.
//! - `vote` `{ place }` → `{ ok }`: 1–60 characters; a new place is added to the list;
//!   replaces the voter's earlier vote; `place: null` withdraws it.
//! - `place` `{ name }` → `{ ok }`: adds a place without voting.
//!
//! Server → client:
//! - `state` `{ area, places: [name], votes: [{ id, name, picture, place }],
//!   tally: [{ place, count }] }` to everyone in the area (on every gateway) after
//!   every change; the tally is sorted by count, highest first.

mod handlers;
pub mod store;

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use sockeye::Socket;

use crate::apps::assets;
use crate::auth;
use crate::gateway::Gateway;

pub use handlers::{Vote, VoteError};
pub use store::{RedisVoteConfig, RedisVoteStore, Tally, VoteStore};

/// The namespace of the vote.
pub const NAMESPACE: &str = "/vote";

const PAGE: &str = include_str!("../../../assets/vote.html");
const SCRIPT: &str = include_str!("../../../assets/vote.js");
const AVATAR: &str = include_str!("../../../assets/avatar.svg");

/// Registers the `/vote` namespace and returns the pages. The areas are kept in
/// Redis when the gateway has one, in memory otherwise.
pub fn install(gateway: &Gateway) -> Router {
    match &gateway.redis {
        Some(redis) => register(gateway, RedisVoteStore::new(redis)),
        None => register(gateway, Tally::default()),
    }
    Router::new()
        .route("/vote", get(page))
        .route("/vote/", get(page))
        .route("/vote/{area}", get(area_page))
        .route(
            "/vote/assets/vote.js",
            get(|| async { assets::javascript(SCRIPT) }),
        )
        .route(
            "/vote/assets/app.js",
            get(|| async { assets::javascript(assets::APP_JS) }),
        )
        .route(
            "/vote/assets/app.css",
            get(|| async { assets::css(assets::APP_CSS) }),
        )
        .route(
            "/vote/assets/avatar.svg",
            get(|| async { assets::embedded("image/svg+xml", AVATAR) }),
        )
}

fn register<S: VoteStore>(gateway: &Gateway, store: S) {
    let vote = Vote::new(store);
    let namespace = gateway.io.ns(NAMESPACE, move |socket: Socket| {
        let vote = vote.clone();
        async move { vote.attach(&socket) }
    });
    auth::install(gateway, &namespace);
}

async fn page() -> Response {
    assets::html(PAGE)
}

/// Same document as `/vote`: the script reads the area from the URL.
async fn area_page(Path(_area): Path<String>) -> Response {
    assets::html(PAGE)
}
