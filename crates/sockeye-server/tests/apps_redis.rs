//! The apps' Redis stores against a real `redis-server` of the test's own: two stores
//! on one Redis stand for two gateways. What is checked is what users would see (the
//! nickname granted, the users listed, the history a late joiner gets, the tally) and
//! what an operator would see in Redis (every key has a TTL).
//!
//! The last test drives the gateway itself: with Redis stopped, the chat answers its
//! users with the `unavailable` error code instead of failing silently.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use sockeye_server::apps::chat::store::{ChatMessage, ChatStore, StoreError, HISTORY};
use sockeye_server::apps::chat::{RedisChatConfig, RedisChatStore};
use sockeye_server::apps::vote::store::{TallyError, TallyLine, VoteStore};
use sockeye_server::apps::vote::RedisVoteStore;
use sockeye_server::config::Config;
use sockeye_server::redis::RedisHandle;
use tokio_tungstenite::tungstenite::Message;

mod support;
use support::RedisServer as Redis;

/// Upper bound for anything to happen; generous because CI machines are slow.
const PATIENCE: Duration = Duration::from_secs(20);

async fn handle(redis: &Redis) -> RedisHandle {
    RedisHandle::connect(&redis.url())
        .await
        .expect("connect to the test's redis")
}

/// A chat store standing for one gateway; `node_ttl` short where a test lets one die.
async fn chat_store(redis: &Redis, node_ttl: Duration) -> RedisChatStore {
    let config = RedisChatConfig {
        node_ttl,
        ..RedisChatConfig::default()
    };
    RedisChatStore::with_config(&handle(redis).await, config)
}

fn msg(i: usize) -> ChatMessage {
    ChatMessage {
        from: "ann".into(),
        text: format!("m{i}"),
        at: i as u64,
    }
}

/// The keys under `pattern` and their TTL in seconds (-1: none, -2: missing).
fn ttls(redis: &Redis, pattern: &str) -> Vec<(String, i64)> {
    redis
        .cli(&["--scan", "--pattern", pattern])
        .lines()
        .filter(|k| !k.is_empty())
        .map(|key| {
            let ttl = redis.cli(&["TTL", key]).parse().unwrap_or(-3);
            (key.to_string(), ttl)
        })
        .collect()
}

/// A wait of at most [`PATIENCE`] for something polled in a loop.
struct Patience {
    what: &'static str,
    deadline: Instant,
}

impl Patience {
    fn new(what: &'static str) -> Self {
        Patience {
            what,
            deadline: Instant::now() + PATIENCE,
        }
    }

    /// Pauses before the next poll; fails the test once the deadline has passed.
    async fn pause(&self) {
        assert!(
            Instant::now() < self.deadline,
            "timed out waiting for {}",
            self.what
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_history_and_presence_are_shared_and_expire() {
    let redis = Redis::start();
    let one = chat_store(&redis, Duration::from_secs(20)).await;
    let two = chat_store(&redis, Duration::from_secs(20)).await;
    assert_ne!(one.node(), two.node());

    let ann = one.join("lunch", "s-ann", "Ann").await.unwrap();
    assert_eq!((ann.nick.as_str(), ann.users.len()), ("Ann", 1));
    for i in 0..150 {
        one.push("lunch", msg(i)).await.unwrap();
    }
    // A late joiner on the other gateway gets the last hundred messages, in order,
    // and the users in joining order.
    let bob = two.join("lunch", "s-bob", "bob").await.unwrap();
    assert_eq!(bob.history.len(), HISTORY);
    assert_eq!(bob.history.first().map(|m| m.text.as_str()), Some("m50"));
    assert_eq!(bob.history.last().map(|m| m.text.as_str()), Some("m149"));
    assert_eq!(bob.users, vec!["Ann", "bob"]);
    assert_eq!(
        redis.cli(&["LLEN", "sockeye:chat:room:lunch:history"]),
        "100"
    );

    // Both gateways see the same users, rooms and counts.
    assert_eq!(one.users("lunch").await.unwrap(), vec!["Ann", "bob"]);
    two.join("other", "s-cy", "cy").await.unwrap();
    let rooms = one.rooms().await.unwrap();
    let counts: Vec<(&str, usize)> = rooms.iter().map(|r| (r.name.as_str(), r.users)).collect();
    assert_eq!(counts, vec![("lunch", 2), ("other", 1)]);

    // A private message finds its target on the other gateway, case-insensitively.
    assert_eq!(
        one.member("lunch", "BOB").await.unwrap().as_deref(),
        Some("s-bob")
    );
    assert_eq!(one.member("lunch", "cy").await.unwrap(), None);

    // Every key has a TTL; a room's keys live a day after its last activity.
    let keys = ttls(&redis, "sockeye:chat:*");
    assert!(
        keys.iter()
            .any(|(k, _)| k == "sockeye:chat:room:lunch:history"),
        "{keys:?}"
    );
    for (key, ttl) in &keys {
        assert!(*ttl > 0, "{key} has no TTL ({ttl})");
        if key.contains(":room:") {
            assert!(*ttl > 23 * 3600 && *ttl <= 24 * 3600, "{key}: TTL {ttl}");
        }
    }

    // Leaving: the nickname is given back, the room with history stays listed.
    assert_eq!(
        two.leave("lunch", "s-bob").await.unwrap().as_deref(),
        Some("bob")
    );
    assert_eq!(two.leave("lunch", "s-bob").await.unwrap(), None);
    assert_eq!(one.users("lunch").await.unwrap(), vec!["Ann"]);
    two.leave("other", "s-cy").await.unwrap();
    let rooms = two.rooms().await.unwrap();
    let counts: Vec<(&str, usize)> = rooms.iter().map(|r| (r.name.as_str(), r.users)).collect();
    assert_eq!(
        counts,
        vec![("lunch", 1)],
        "an empty room without history is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nicknames_stay_unique_when_gateways_race() {
    let redis = Redis::start();
    let one = std::sync::Arc::new(chat_store(&redis, Duration::from_secs(20)).await);
    let two = std::sync::Arc::new(chat_store(&redis, Duration::from_secs(20)).await);
    let mut joins = Vec::new();
    for i in 0..20 {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        let nick = if i % 3 == 0 { "ANN" } else { "ann" };
        joins.push(tokio::spawn(async move {
            store.join("r", &format!("s{i}"), nick).await.unwrap().nick
        }));
    }
    let mut granted = Vec::new();
    for join in joins {
        granted.push(join.await.unwrap().to_lowercase());
    }
    granted.sort();
    granted.dedup();
    assert_eq!(
        granted.len(),
        20,
        "every nickname is different: {granted:?}"
    );
    assert_eq!(one.users("r").await.unwrap().len(), 20);
    // A nickname given back is free again, in any case.
    let holder = one
        .member("r", "ann")
        .await
        .unwrap()
        .expect("someone is ann");
    let store = if one.leave("r", &holder).await.unwrap().is_some() {
        &one
    } else {
        &two
    };
    assert_eq!(store.join("r", "late", "Ann").await.unwrap().nick, "Ann");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_of_a_dead_gateway_disappear() {
    let redis = Redis::start();
    // Gateway one "dies": it joins people, then never renews its presence.
    let one = chat_store(&redis, Duration::from_secs(1)).await;
    let two = chat_store(&redis, Duration::from_secs(1)).await;
    one.join("lunch", "s-ann", "ann").await.unwrap();
    one.join("dinner", "s-dee", "dee").await.unwrap();
    two.join("lunch", "s-bob", "bob").await.unwrap();
    two.sweep().await.unwrap();
    assert_eq!(two.users("lunch").await.unwrap(), vec!["ann", "bob"]);
    drop(one);

    // The surviving gateway's housekeeping finds the dead one and names the rooms it
    // cleaned, so their viewers can be told.
    let mut cleaned: Vec<String> = Vec::new();
    let wait = Patience::new("the dead gateway to be buried");
    while !cleaned.iter().any(|r| r == "dinner") {
        wait.pause().await;
        cleaned.extend(two.sweep().await.unwrap());
    }
    assert!(cleaned.iter().any(|r| r == "lunch"), "{cleaned:?}");
    assert_eq!(two.users("lunch").await.unwrap(), vec!["bob"]);
    assert_eq!(
        redis.cli(&["HLEN", "sockeye:chat:room:dinner:members"]),
        "0"
    );
    let rooms = two.rooms().await.unwrap();
    let counts: Vec<(&str, usize)> = rooms.iter().map(|r| (r.name.as_str(), r.users)).collect();
    assert_eq!(counts, vec![("lunch", 1)]);
    // The nickname of a departed member is free again.
    assert_eq!(
        two.join("lunch", "s-ann2", "Ann").await.unwrap().nick,
        "Ann"
    );
    assert_eq!(two.member("lunch", "dee").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_refused_by_redis_is_retried_by_the_housekeeping() {
    let redis = Redis::start();
    let store = chat_store(&redis, Duration::from_secs(20)).await;
    store.join("r", "s1", "ann").await.unwrap();
    store.join("r", "s2", "bob").await.unwrap();
    // Redis refuses scripts for a while (the data stays): the leave fails...
    assert_eq!(
        redis.cli(&["ACL", "SETUSER", "default", "-@scripting"]),
        "OK"
    );
    assert_eq!(
        store.leave("r", "s2").await.unwrap_err(),
        StoreError::Unavailable
    );
    assert!(store.sweep().await.is_err());
    assert_eq!(redis.cli(&["ACL", "SETUSER", "default", "+@all"]), "OK");
    // ...and once Redis answers again, the next housekeeping takes bob out and names
    // the room, so its viewers get the new list.
    assert_eq!(store.sweep().await.unwrap(), vec!["r"]);
    assert_eq!(store.users("r").await.unwrap(), vec!["ann"]);
    assert_eq!(store.sweep().await.unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_lost_by_redis_are_put_back_by_their_gateway() {
    let redis = Redis::start();
    let one = chat_store(&redis, Duration::from_secs(20)).await;
    let two = chat_store(&redis, Duration::from_secs(20)).await;
    one.join("r", "s1", "Ann").await.unwrap();
    two.join("r", "s2", "bob").await.unwrap();
    one.join("other", "s3", "cy").await.unwrap();
    // Redis restarts empty (no persistence): presence is gone.
    assert_eq!(redis.cli(&["FLUSHALL"]), "OK");
    assert!(one.users("r").await.unwrap().is_empty());
    // Each gateway's next housekeeping puts its own members back and names the rooms.
    assert_eq!(one.sweep().await.unwrap(), vec!["other", "r"]);
    assert_eq!(two.sweep().await.unwrap(), vec!["r"]);
    let mut users = two.users("r").await.unwrap();
    users.sort();
    assert_eq!(users, vec!["Ann", "bob"]);
    assert_eq!(
        one.member("other", "CY").await.unwrap().as_deref(),
        Some("s3")
    );
    // Nothing more to put back; a member who left is not put back.
    assert_eq!(one.leave("r", "s1").await.unwrap().as_deref(), Some("Ann"));
    assert_eq!(one.sweep().await.unwrap(), Vec::<String>::new());
    assert_eq!(two.users("r").await.unwrap(), vec!["bob"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_store_reports_redis_down_and_recovers() {
    let mut redis = Redis::start();
    let store = chat_store(&redis, Duration::from_secs(20)).await;
    store.join("r", "s1", "ann").await.unwrap();
    redis.stop();
    assert_eq!(
        store.join("r", "s2", "bob").await.unwrap_err(),
        StoreError::Unavailable
    );
    assert_eq!(
        store.push("r", msg(1)).await.unwrap_err(),
        StoreError::Unavailable
    );
    assert_eq!(store.rooms().await.unwrap_err(), StoreError::Unavailable);
    assert_eq!(
        store.leave("r", "s1").await.unwrap_err(),
        StoreError::Unavailable
    );
    redis.restart();
    let wait = Patience::new("the store to work again");
    let joined = loop {
        if let Ok(joined) = store.join("r", "s3", "cy").await {
            break joined;
        }
        wait.pause().await;
    };
    assert_eq!(joined.users, vec!["cy"]);
}

// ---- The vote -----------------------------------------------------------------------

fn tally(lines: &[(&str, usize)]) -> Vec<TallyLine> {
    lines
        .iter()
        .map(|(place, count)| TallyLine {
            place: place.to_string(),
            count: *count,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_are_shared_replaced_and_expire_two_hours_after_the_last_change() {
    let redis = Redis::start();
    let one = RedisVoteStore::new(&handle(&redis).await);
    let two = RedisVoteStore::new(&handle(&redis).await);

    let (ann, _) = one
        .join(
            "Soho",
            "key-ann-000",
            "Ann",
            Some("https://x.y/a.png".into()),
        )
        .await
        .unwrap();
    let (bob, view) = two.join("Soho", "key-bob-000", "Bob", None).await.unwrap();
    assert_ne!(ann, bob);
    assert_eq!(view.votes.len(), 2, "Bob sees Ann, who joined elsewhere");
    one.vote("Soho", "key-ann-000", Some("Noodle bar"))
        .await
        .unwrap();
    // The same place in another case is the same place.
    let view = two
        .vote("Soho", "key-bob-000", Some("noodle BAR"))
        .await
        .unwrap();
    assert_eq!(view.places, vec!["Noodle bar"]);
    assert_eq!(view.tally, tally(&[("Noodle bar", 2)]));

    // A new vote replaces the old one.
    let view = one
        .vote("Soho", "key-ann-000", Some("Taco stand"))
        .await
        .unwrap();
    assert_eq!(view.tally, tally(&[("Noodle bar", 1), ("Taco stand", 1)]));
    assert_eq!(view.places, vec!["Noodle bar", "Taco stand"]);

    // A late joiner on either gateway sees every current vote, in joining order,
    // with the pictures.
    let (_, late) = two.join("Soho", "key-cy-0000", "Cy", None).await.unwrap();
    let seen: Vec<(&str, Option<&str>, Option<&str>)> = late
        .votes
        .iter()
        .map(|v| (v.name.as_str(), v.picture.as_deref(), v.place.as_deref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("Ann", Some("https://x.y/a.png"), Some("Taco stand")),
            ("Bob", None, Some("Noodle bar")),
            ("Cy", None, None),
        ]
    );
    // Joining again keeps the id and the vote; withdrawing empties the line.
    let (again, view) = one
        .join("Soho", "key-bob-000", "Bobby", None)
        .await
        .unwrap();
    assert_eq!(again, bob);
    assert_eq!(view.tally, tally(&[("Noodle bar", 1), ("Taco stand", 1)]));
    let view = two.vote("Soho", "key-bob-000", None).await.unwrap();
    assert_eq!(view.tally, tally(&[("Taco stand", 1)]));
    let view = one.add_place("Soho", "Pizza").await.unwrap();
    assert_eq!(view.places, vec!["Noodle bar", "Taco stand", "Pizza"]);

    // Unknown voters cannot vote; other areas are separate.
    assert_eq!(
        one.vote("Soho", "key-nobody-0", Some("Pizza"))
            .await
            .unwrap_err(),
        TallyError::UnknownVoter
    );
    assert_eq!(
        one.add_place("Camden", "Pizza").await.unwrap_err(),
        TallyError::UnknownVoter
    );
    one.join("Camden", "key-dee-000", "Dee", None)
        .await
        .unwrap();
    let areas: Vec<(String, usize)> = two
        .areas()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.voters))
        .collect();
    assert_eq!(areas, vec![("Soho".into(), 3), ("Camden".into(), 1)]);

    // Every key expires two hours after the last change, and each change renews it.
    let keys = ttls(&redis, "sockeye:vote:*");
    assert_eq!(keys.len(), 3, "{keys:?}");
    for (key, ttl) in &keys {
        assert!(*ttl > 7100 && *ttl <= 7200, "{key}: TTL {ttl}");
    }
    redis.cli(&["EXPIRE", "sockeye:vote:area:Soho", "60"]);
    two.vote("Soho", "key-cy-0000", Some("Pizza"))
        .await
        .unwrap();
    let ttl: i64 = redis
        .cli(&["TTL", "sockeye:vote:area:Soho"])
        .parse()
        .unwrap();
    assert!(ttl > 7100, "a vote renews the area's TTL ({ttl})");
    // When it expires, the area is gone for everyone.
    redis.cli(&["DEL", "sockeye:vote:area:Soho"]);
    let (_, view) = one.join("Soho", "key-eve-000", "Eve", None).await.unwrap();
    assert_eq!(view.votes.len(), 1);
    assert!(view.tally.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voter_changing_their_mind_on_two_gateways_counts_once() {
    let redis = Redis::start();
    let one = std::sync::Arc::new(RedisVoteStore::new(&handle(&redis).await));
    let two = std::sync::Arc::new(RedisVoteStore::new(&handle(&redis).await));
    one.join("Soho", "key-ann-000", "Ann", None).await.unwrap();
    let places = ["Pizza", "Sushi", "Tacos", "Noodles"];
    let mut votes = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        let place = places[i % places.len()];
        votes.push(tokio::spawn(async move {
            store
                .vote("Soho", "key-ann-000", Some(place))
                .await
                .unwrap()
        }));
    }
    for vote in votes {
        let view = vote.await.unwrap();
        let counted: usize = view.tally.iter().map(|l| l.count).sum();
        assert_eq!(counted, 1, "one voter, one vote: {:?}", view.tally);
    }
    let (_, view) = two.join("Soho", "key-bob-000", "Bob", None).await.unwrap();
    assert_eq!(view.tally.iter().map(|l| l.count).sum::<usize>(), 1);
    assert_eq!(view.places.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vote_store_reports_redis_down() {
    let mut redis = Redis::start();
    let store = RedisVoteStore::new(&handle(&redis).await);
    store
        .join("Soho", "key-ann-000", "Ann", None)
        .await
        .unwrap();
    redis.stop();
    assert_eq!(
        store
            .vote("Soho", "key-ann-000", Some("Pizza"))
            .await
            .unwrap_err(),
        TallyError::Unavailable
    );
    assert_eq!(store.areas().await.unwrap_err(), TallyError::Unavailable);
}

// ---- The gateway with Redis stopped -------------------------------------------------

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A Socket.IO client of namespace `/chat` over a raw websocket.
struct ChatClient {
    ws: Ws,
    next_id: u64,
}

impl ChatClient {
    async fn connect(addr: SocketAddr) -> ChatClient {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
            .await
            .expect("websocket in time")
            .expect("websocket");
        let mut client = ChatClient { ws, next_id: 1 };
        let open = client.next_text().await;
        assert!(open.starts_with("0{"), "open packet expected, got {open}");
        client.ws.send(Message::text("40/chat,")).await.unwrap();
        let answer = client.next_text().await;
        assert!(
            answer.starts_with("40/chat,"),
            "CONNECT expected, got {answer}"
        );
        client
    }

    async fn next_text(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("the connection is open")
                .expect("a valid frame");
            if let Message::Text(text) = frame {
                if text.as_str() == "2" {
                    self.ws.send(Message::text("3")).await.unwrap();
                    continue;
                }
                return text.to_string();
            }
        }
    }

    /// Emits `event` with `arg` and returns the acknowledgement (events are skipped).
    async fn request(&mut self, event: &str, arg: Json) -> Json {
        let id = self.next_id;
        self.next_id += 1;
        let packet = format!("42/chat,{id}{}", json!([event, arg]));
        self.ws.send(Message::text(packet)).await.unwrap();
        let prefix = format!("43/chat,{id}");
        loop {
            let text = self.next_text().await;
            if let Some(body) = text.strip_prefix(&prefix) {
                let args: Json = serde_json::from_str(body).expect("ack JSON");
                return args[0].clone();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_answers_unavailable_while_redis_is_down() {
    let mut redis = Redis::start();
    let config = Config {
        redis: Some(redis.url()),
        ..Config::default()
    };
    let (router, _gateway) = sockeye_server::app::build(config)
        .await
        .expect("the gateway builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });

    let mut client = ChatClient::connect(addr).await;
    let joined = client
        .request("join", json!({ "room": "lunch", "nick": "ann" }))
        .await;
    assert_eq!(joined["ok"], json!(true), "{joined}");
    assert_eq!(redis.cli(&["HLEN", "sockeye:chat:room:lunch:members"]), "1");

    redis.stop();
    let refused = client.request("message", json!("hello?")).await;
    assert_eq!(refused["ok"], json!(false), "{refused}");
    assert_eq!(refused["code"], json!("unavailable"), "{refused}");
    let refused = client.request("rooms", Json::Null).await;
    assert_eq!(refused["code"], json!("unavailable"), "{refused}");
    let refused = client
        .request("join", json!({ "room": "dinner", "nick": "ann" }))
        .await;
    assert_eq!(refused["code"], json!("unavailable"), "{refused}");

    // Back up (empty): the chat works again on the same connection.
    redis.restart();
    let wait = Patience::new("the chat to work again");
    let joined = loop {
        let answer = client
            .request("join", json!({ "room": "lunch", "nick": "ann" }))
            .await;
        if answer["ok"] == json!(true) {
            break answer;
        }
        assert_eq!(answer["code"], json!("unavailable"), "{answer}");
        wait.pause().await;
    };
    assert_eq!(joined["users"], json!(["ann"]));
}
