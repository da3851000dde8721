//! The chat store in Redis, shared by every gateway started with the same `--redis`.
//!
//! # What is kept, and for how long
//!
//! Every key starts with the prefix (default `sockeye:chat:`); `<room>` is the room
//! name as validated by the chat (letters, digits, spaces, `-`, `_`).
//!
//! | key | type | what |
//! |---|---|---|
//! | `room:<room>:history` | list | the last [`HISTORY`] messages (JSON `{from, text, at}`), `RPUSH` + `LTRIM` |
//! | `room:<room>:members` | hash | member (socket) id → JSON `{nick, lower, node, seq}`; `seq` gives the joining order |
//! | `room:<room>:nicks` | hash | lower-cased nickname → member id, so a nickname is taken atomically |
//! | `rooms` | sorted set | room → time of its last activity (ms), for the rooms list |
//! | `nodes` | sorted set | gateway id → the time (ms) until which it counts as alive |
//! | `node:<id>:rooms` | set | the rooms where that gateway has members, so others can clean up after it |
//!
//! A room's keys expire [`RedisChatConfig::room_ttl`] (default 24 hours) after its
//! last activity: a join, a leave or a message. While people are in a room their
//! gateway keeps refreshing it, so only a room nobody is in is forgotten.
//!
//! Presence survives only as long as the gateway holding the connection: each gateway
//! renews its entry in `nodes` every [`RedisChatConfig::node_ttl`] / 4 (the entry
//! lasts `node_ttl`, default 20 s). Members are recorded with their gateway; whoever
//! reads a room skips (and deletes) the members of gateways that are gone, and the
//! first gateway to notice a dead one removes its members from all its rooms and
//! tells the rooms' viewers. The other way round, a gateway whose members Redis lost
//! (it restarted empty, or took the gateway for dead during a long cut) puts them back
//! at its next renewal. Leaves and joins that failed while Redis was down are undone
//! once it answers, so nobody stays listed after leaving.
//!
//! Every check-then-write (a free nickname, a full room) is one Lua script, so two
//! gateways cannot hand out the same nickname. Times come from Redis (`TIME`), so
//! gateways with slightly different clocks agree on what is alive.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::RedisError;
use parking_lot::Mutex;

use super::{
    ChatMessage, ChatStore, Joined, RoomSummary, StoreError, HISTORY, MAX_MEMBERS, MAX_ROOMS,
};
use crate::apps::redis_script::RedisScript;
use crate::redis::RedisHandle;

/// How the Redis chat store names its keys and how long they live.
#[derive(Debug, Clone)]
pub struct RedisChatConfig {
    /// Prepended to every key. Default `sockeye:chat:`.
    pub prefix: String,
    /// How long a room nobody is in, and its history, is kept after its last
    /// activity. Default 24 hours.
    pub room_ttl: Duration,
    /// How long a gateway counts as alive after its last sign of life; it renews
    /// four times per period. Default 20 seconds.
    pub node_ttl: Duration,
}

impl Default for RedisChatConfig {
    fn default() -> Self {
        RedisChatConfig {
            prefix: "sockeye:chat:".into(),
            room_ttl: Duration::from_secs(24 * 60 * 60),
            node_ttl: Duration::from_secs(20),
        }
    }
}

/// Functions every chat script shares (after the common prelude).
const LIB: &str = r#"
local function decode(raw)
  local ok, m = pcall(cjson.decode, raw)
  if ok and type(m) == 'table' and type(m.nick) == 'string' and type(m.lower) == 'string'
      and type(m.node) == 'string' and type(m.seq) == 'string' then
    return m
  end
  return nil
end
-- Removes member `id` (described by `m`, which may be nil when unreadable).
local function drop(members, nicks, id, m)
  redis.call('HDEL', members, id)
  if m and redis.call('HGET', nicks, m.lower) == id then
    redis.call('HDEL', nicks, m.lower)
  end
end
-- Removes member `id` if present; returns what it was.
local function forget(members, nicks, id)
  local m = decode(redis.call('HGET', members, id) or '')
  if redis.call('HEXISTS', members, id) == 1 then
    drop(members, nicks, id, m)
  end
  return m
end
local function node_alive(nodes, node, now)
  local score = redis.call('ZSCORE', nodes, node)
  return score and tonumber(score) >= now or false
end
-- The members of live gateways, in joining order; the others are deleted.
local function live_members(members, nicks, nodes, now)
  local alive, list = {}, {}
  local raw = redis.call('HGETALL', members)
  for i = 1, #raw, 2 do
    local id, m = raw[i], decode(raw[i + 1])
    local up = false
    if m then
      up = alive[m.node]
      if up == nil then
        up = node_alive(nodes, m.node, now)
        alive[m.node] = up
      end
    end
    if up then
      m.id = id
      list[#list + 1] = m
    else
      drop(members, nicks, id, m)
    end
  end
  table.sort(list, function(a, b)
    if a.seq ~= b.seq then return a.seq < b.seq end
    return a.id < b.id
  end)
  return list
end
-- Whether a lower-cased nickname belongs to someone in the room (stale entries go).
local function taken(members, nicks, lower)
  local id = redis.call('HGET', nicks, lower)
  if not id then return false end
  if redis.call('HEXISTS', members, id) == 1 then return true end
  redis.call('HDEL', nicks, lower)
  return false
end
-- Records `member` of gateway `node` under `nick`, or `nick-2`, `nick-3`… when taken;
-- returns the nickname granted.
local function admit(members, nicks, member, nick, lower, node)
  local granted, granted_lower, n = nick, lower, 1
  while taken(members, nicks, granted_lower) do
    n = n + 1
    granted = nick .. '-' .. n
    granted_lower = lower .. '-' .. n
  end
  redis.call('HSET', members, member,
    cjson.encode({nick = granted, lower = granted_lower, node = node, seq = seq()}))
  redis.call('HSET', nicks, granted_lower, member)
  return granted
end
"#;

/// KEYS: members, nicks, history, rooms, nodes, node rooms.
/// ARGV: room, member, nick, lower-cased nick, node, room ttl (s), node ttl (ms),
/// max members, max rooms.
/// Reply: `{'ok', nick, n, user1…userN, message…}` or `{'error', code}`.
const JOIN: &str = r#"
local members, nicks, history, rooms, nodes, node_rooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local room, member, node = ARGV[1], ARGV[2], ARGV[5]
local ttl = tonumber(ARGV[6])
local now = now_ms()
redis.call('ZADD', nodes, int(now + tonumber(ARGV[7])), node)
redis.call('EXPIRE', nodes, ttl)
redis.call('ZREMRANGEBYSCORE', rooms, '-inf', '(' .. int(now - ttl * 1000))
if not redis.call('ZSCORE', rooms, room) and redis.call('ZCARD', rooms) >= tonumber(ARGV[9]) then
  return {'error', 'too_many_rooms'}
end
forget(members, nicks, member)
local list = live_members(members, nicks, nodes, now)
if #list >= tonumber(ARGV[8]) then
  return {'error', 'room_full'}
end
local nick = admit(members, nicks, member, ARGV[3], ARGV[4], node)
redis.call('SADD', node_rooms, room)
for _, key in ipairs({members, nicks, history, node_rooms, rooms}) do
  redis.call('EXPIRE', key, ttl)
end
redis.call('ZADD', rooms, int(now), room)
local reply = {'ok', nick, tostring(#list + 1)}
for _, m in ipairs(list) do reply[#reply + 1] = m.nick end
reply[#reply + 1] = nick
for _, line in ipairs(redis.call('LRANGE', history, 0, -1)) do reply[#reply + 1] = line end
return reply
"#;

/// KEYS: members, nicks, history, rooms. ARGV: room, member, room ttl (s).
/// Reply: the member's nickname, or nil when it was not there.
const LEAVE: &str = r#"
local members, nicks, history, rooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local m = forget(members, nicks, ARGV[2])
if redis.call('HLEN', members) == 0 and redis.call('LLEN', history) == 0 then
  redis.call('ZREM', rooms, ARGV[1])
  redis.call('DEL', nicks)
elseif m then
  redis.call('ZADD', rooms, int(now_ms()), ARGV[1])
  for _, key in ipairs({members, nicks, history, rooms}) do
    redis.call('EXPIRE', key, ARGV[3])
  end
end
if m then return m.nick end
return false
"#;

/// KEYS: members, nicks, nodes. Reply: the nicknames in joining order.
const USERS: &str = r#"
local reply = {}
for _, m in ipairs(live_members(KEYS[1], KEYS[2], KEYS[3], now_ms())) do
  reply[#reply + 1] = m.nick
end
return reply
"#;

/// KEYS: members, nicks, nodes. ARGV: lower-cased nickname.
/// Reply: the member id, or nil when nobody alive has it.
const MEMBER: &str = r#"
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
local m = decode(redis.call('HGET', KEYS[1], id) or '')
if m and node_alive(KEYS[3], m.node, now_ms()) then return id end
return false
"#;

/// KEYS: history, members, nicks, rooms. ARGV: room, message, history length, room ttl (s).
const PUSH: &str = r#"
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('ZADD', KEYS[4], int(now_ms()), ARGV[1])
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return 1
"#;

/// KEYS: rooms, nodes. ARGV: room ttl (s).
/// Reply: `{n, node1…nodeN, room…}`: the live gateways, then the rooms not idle for
/// longer than the ttl.
const ROOMS: &str = r#"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(now - tonumber(ARGV[1]) * 1000))
local nodes = redis.call('ZRANGEBYSCORE', KEYS[2], int(now), '+inf')
local reply = {tostring(#nodes)}
for _, node in ipairs(nodes) do reply[#reply + 1] = node end
for _, room in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do reply[#reply + 1] = room end
return reply
"#;

/// KEYS: nodes, rooms, node rooms, then members, nicks, history of each local room.
/// ARGV: node, node ttl (ms), room ttl (s), then for each local room its name and the
/// JSON list of this gateway's members there, `[[id, nick, lower-cased nick]…]`.
/// Reply: `{n, room1…roomN, dead…}`: the rooms where members had to be put back (Redis
/// lost them: it restarted empty, or this gateway was taken for dead), then the
/// gateways whose time is up.
const HEARTBEAT: &str = r#"
local nodes, rooms, node_rooms = KEYS[1], KEYS[2], KEYS[3]
local node, ttl = ARGV[1], tonumber(ARGV[3])
local now = now_ms()
redis.call('ZADD', nodes, int(now + tonumber(ARGV[2])), node)
redis.call('EXPIRE', nodes, ttl)
redis.call('ZREMRANGEBYSCORE', rooms, '-inf', '(' .. int(now - ttl * 1000))
redis.call('DEL', node_rooms)
local revived = {}
local count = (#ARGV - 3) / 2
for k = 0, count - 1 do
  local room, list = ARGV[4 + 2 * k], cjson.decode(ARGV[5 + 2 * k])
  local members, nicks, history = KEYS[4 + 3 * k], KEYS[5 + 3 * k], KEYS[6 + 3 * k]
  local back = false
  for _, m in ipairs(list) do
    if redis.call('HEXISTS', members, m[1]) == 0 then
      admit(members, nicks, m[1], m[2], m[3], node)
      back = true
    end
  end
  if back then revived[#revived + 1] = room end
  redis.call('SADD', node_rooms, room)
  redis.call('ZADD', rooms, int(now), room)
  for _, key in ipairs({members, nicks, history}) do redis.call('EXPIRE', key, ttl) end
end
if count > 0 then
  redis.call('EXPIRE', node_rooms, ttl)
  redis.call('EXPIRE', rooms, ttl)
end
local reply = {tostring(#revived)}
for _, room in ipairs(revived) do reply[#reply + 1] = room end
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', nodes, '-inf', '(' .. int(now))) do
  reply[#reply + 1] = dead
end
return reply
"#;

struct Scripts {
    join: RedisScript,
    leave: RedisScript,
    users: RedisScript,
    member: RedisScript,
    push: RedisScript,
    rooms: RedisScript,
    heartbeat: RedisScript,
}

impl Scripts {
    fn new() -> Self {
        let chat = |body: &str| RedisScript::new(&format!("{LIB}\n{body}"));
        Scripts {
            join: chat(JOIN),
            leave: chat(LEAVE),
            users: chat(USERS),
            member: chat(MEMBER),
            push: chat(PUSH),
            rooms: chat(ROOMS),
            heartbeat: chat(HEARTBEAT),
        }
    }
}

/// The chat store shared through Redis (see the module docs).
pub struct RedisChatStore {
    conn: ConnectionManager,
    config: RedisChatConfig,
    /// This gateway's id in `nodes`.
    node: String,
    /// Room → member → nickname: the members this gateway put there, so it keeps
    /// them alive (and puts them back if Redis lost them).
    local: Mutex<HashMap<String, HashMap<String, String>>>,
    /// Held (shared) by leaves, (exclusively) by the heartbeat, so the heartbeat never
    /// puts back a member whose leave is under way.
    presence: tokio::sync::RwLock<()>,
    /// (room, member) to take out of Redis when it answers again: leaves that failed,
    /// and joins that failed (a join may have been applied even though its answer was
    /// lost). Retried by [`ChatStore::sweep`].
    pending_leaves: Mutex<Vec<(String, String)>>,
    scripts: Scripts,
}

/// A gateway id unlikely to repeat: random bits from the standard library's hasher
/// seed, the process id and the time.
fn new_node_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(since.as_nanos());
    }
    format!("{:016x}", hasher.finish())
}

fn unavailable(what: &'static str) -> impl FnOnce(RedisError) -> StoreError {
    move |error| {
        tracing::warn!(%error, "chat store: cannot {what} in Redis");
        StoreError::Unavailable
    }
}

impl RedisChatStore {
    /// A store on `redis` with the default keys and times.
    pub fn new(redis: &RedisHandle) -> Self {
        Self::with_config(redis, RedisChatConfig::default())
    }

    pub fn with_config(redis: &RedisHandle, config: RedisChatConfig) -> Self {
        let node = new_node_id();
        tracing::info!(%node, prefix = %config.prefix, "chat state is kept in Redis");
        RedisChatStore {
            conn: redis.manager.clone(),
            config,
            node,
            local: Mutex::new(HashMap::new()),
            presence: tokio::sync::RwLock::new(()),
            pending_leaves: Mutex::new(Vec::new()),
            scripts: Scripts::new(),
        }
    }

    /// This gateway's id among the chat's nodes.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.config.prefix)
    }

    fn room_key(&self, room: &str, part: &str) -> String {
        format!("{}room:{room}:{part}", self.config.prefix)
    }

    fn node_rooms_key(&self, node: &str) -> String {
        format!("{}node:{node}:rooms", self.config.prefix)
    }

    fn room_ttl_secs(&self) -> String {
        self.config.room_ttl.as_secs().max(1).to_string()
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn remove(&self, room: &str, member: &str) -> Result<Option<String>, RedisError> {
        let keys = [
            self.room_key(room, "members"),
            self.room_key(room, "nicks"),
            self.room_key(room, "history"),
            self.key("rooms"),
        ];
        let args = [room.to_string(), member.to_string(), self.room_ttl_secs()];
        self.scripts.leave.run(&mut self.conn(), &keys, &args).await
    }

    async fn live_users(&self, room: &str) -> Result<Vec<String>, RedisError> {
        let keys = [
            self.room_key(room, "members"),
            self.room_key(room, "nicks"),
            self.key("nodes"),
        ];
        self.scripts.users.run(&mut self.conn(), &keys, &[]).await
    }

    /// Renews this gateway's liveness and its rooms, putting back its members if Redis
    /// lost them; returns the rooms where it did, and the dead gateways.
    async fn heartbeat(&self) -> Result<(Vec<String>, Vec<String>), RedisError> {
        let _exclusive = self.presence.write().await;
        // Room → `[[id, nick, lower-cased nick]…]` of this gateway's members there.
        let mut rooms: Vec<(String, serde_json::Value)> = self
            .local
            .lock()
            .iter()
            .map(|(room, members)| {
                let members: Vec<[String; 3]> = members
                    .iter()
                    .map(|(id, nick)| [id.clone(), nick.clone(), nick.to_lowercase()])
                    .collect();
                (room.clone(), serde_json::json!(members))
            })
            .collect();
        for (room, _) in self.pending_leaves.lock().iter() {
            if !rooms.iter().any(|(r, _)| r == room) {
                rooms.push((room.clone(), serde_json::json!([])));
            }
        }
        let mut keys = vec![
            self.key("nodes"),
            self.key("rooms"),
            self.node_rooms_key(&self.node),
        ];
        let mut args = vec![
            self.node.clone(),
            self.config.node_ttl.as_millis().to_string(),
            self.room_ttl_secs(),
        ];
        for (room, members) in rooms {
            keys.push(self.room_key(&room, "members"));
            keys.push(self.room_key(&room, "nicks"));
            keys.push(self.room_key(&room, "history"));
            args.push(room);
            args.push(members.to_string());
        }
        let reply: Vec<String> = self
            .scripts
            .heartbeat
            .run(&mut self.conn(), &keys, &args)
            .await?;
        let revived_count = reply
            .first()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let revived: Vec<String> = reply.iter().skip(1).take(revived_count).cloned().collect();
        let dead = reply.iter().skip(1 + revived_count).cloned().collect();
        if !revived.is_empty() {
            tracing::warn!(
                rooms = revived.len(),
                "chat: Redis had lost this gateway's members; they are back"
            );
        }
        Ok((revived, dead))
    }

    /// Removes a dead gateway's members from its rooms, unless another gateway got
    /// there first; returns the rooms cleaned.
    async fn bury(&self, node: &str) -> Result<Vec<String>, RedisError> {
        let mut conn = self.conn();
        let claimed: i64 = ::redis::cmd("ZREM")
            .arg(self.key("nodes"))
            .arg(node)
            .query_async(&mut conn)
            .await?;
        if claimed == 0 {
            return Ok(Vec::new());
        }
        let rooms_key = self.node_rooms_key(node);
        let rooms: Vec<String> = ::redis::cmd("SMEMBERS")
            .arg(&rooms_key)
            .query_async(&mut conn)
            .await?;
        for room in &rooms {
            // Reading a room drops the members of dead gateways.
            self.live_users(room).await?;
        }
        ::redis::cmd("DEL")
            .arg(&rooms_key)
            .query_async::<()>(&mut conn)
            .await?;
        tracing::info!(%node, rooms = rooms.len(), "chat: a gateway is gone; its members were removed");
        Ok(rooms)
    }

    async fn retry_leaves(&self) -> Vec<String> {
        let pending = std::mem::take(&mut *self.pending_leaves.lock());
        let mut done = Vec::new();
        for (room, member) in pending {
            // Joined again since: that join stands.
            let rejoined = self
                .local
                .lock()
                .get(&room)
                .is_some_and(|members| members.contains_key(&member));
            if rejoined {
                continue;
            }
            match self.remove(&room, &member).await {
                Ok(_) => done.push(room),
                Err(_) => self.pending_leaves.lock().push((room, member)),
            }
        }
        done
    }
}

impl ChatStore for RedisChatStore {
    async fn join(&self, room: &str, member: &str, nick: &str) -> Result<Joined, StoreError> {
        let keys = [
            self.room_key(room, "members"),
            self.room_key(room, "nicks"),
            self.room_key(room, "history"),
            self.key("rooms"),
            self.key("nodes"),
            self.node_rooms_key(&self.node),
        ];
        let args = [
            room.to_string(),
            member.to_string(),
            nick.to_string(),
            nick.to_lowercase(),
            self.node.clone(),
            self.room_ttl_secs(),
            self.config.node_ttl.as_millis().to_string(),
            MAX_MEMBERS.to_string(),
            MAX_ROOMS.to_string(),
        ];
        let reply: Vec<String> = match self.scripts.join.run(&mut self.conn(), &keys, &args).await {
            Ok(reply) => reply,
            Err(error) => {
                // The script may have run with its answer lost: undo it later rather
                // than leave a member nobody will ever take out.
                self.pending_leaves
                    .lock()
                    .push((room.to_string(), member.to_string()));
                return Err(unavailable("join a room")(error));
            }
        };
        let joined = parse_joined(&reply)?;
        self.local
            .lock()
            .entry(room.to_string())
            .or_default()
            .insert(member.to_string(), joined.nick.clone());
        self.pending_leaves
            .lock()
            .retain(|(r, m)| !(r == room && m == member));
        Ok(joined)
    }

    async fn leave(&self, room: &str, member: &str) -> Result<Option<String>, StoreError> {
        let _shared = self.presence.read().await;
        {
            let mut local = self.local.lock();
            if let Some(members) = local.get_mut(room) {
                members.remove(member);
                if members.is_empty() {
                    local.remove(room);
                }
            }
        }
        match self.remove(room, member).await {
            Ok(nick) => Ok(nick),
            Err(error) => {
                // Kept to be retried, so the member does not stay listed for as long
                // as this gateway lives.
                self.pending_leaves
                    .lock()
                    .push((room.to_string(), member.to_string()));
                Err(unavailable("leave a room")(error))
            }
        }
    }

    async fn users(&self, room: &str) -> Result<Vec<String>, StoreError> {
        self.live_users(room)
            .await
            .map_err(unavailable("list a room's users"))
    }

    async fn member(&self, room: &str, nick: &str) -> Result<Option<String>, StoreError> {
        let keys = [
            self.room_key(room, "members"),
            self.room_key(room, "nicks"),
            self.key("nodes"),
        ];
        self.scripts
            .member
            .run(&mut self.conn(), &keys, &[nick.trim().to_lowercase()])
            .await
            .map_err(unavailable("find a user"))
    }

    async fn push(&self, room: &str, message: ChatMessage) -> Result<(), StoreError> {
        let line = serde_json::to_string(&message).map_err(|error| {
            tracing::warn!(%error, "chat store: cannot encode a message");
            StoreError::Unavailable
        })?;
        let keys = [
            self.room_key(room, "history"),
            self.room_key(room, "members"),
            self.room_key(room, "nicks"),
            self.key("rooms"),
        ];
        let args = [
            room.to_string(),
            line,
            HISTORY.to_string(),
            self.room_ttl_secs(),
        ];
        self.scripts
            .push
            .run::<i64>(&mut self.conn(), &keys, &args)
            .await
            .map(|_| ())
            .map_err(unavailable("save a message"))
    }

    async fn rooms(&self) -> Result<Vec<RoomSummary>, StoreError> {
        let mut conn = self.conn();
        let keys = [self.key("rooms"), self.key("nodes")];
        let reply: Vec<String> = self
            .scripts
            .rooms
            .run(&mut conn, &keys, &[self.room_ttl_secs()])
            .await
            .map_err(unavailable("list the rooms"))?;
        let live_nodes = reply
            .first()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let nodes: HashSet<&str> = reply
            .iter()
            .skip(1)
            .take(live_nodes)
            .map(String::as_str)
            .collect();
        let names: Vec<&String> = reply.iter().skip(1 + live_nodes).collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for name in &names {
            pipe.cmd("HVALS").arg(self.room_key(name, "members"));
            pipe.cmd("EXISTS").arg(self.room_key(name, "history"));
        }
        let details: Vec<::redis::Value> = pipe
            .query_async(&mut conn)
            .await
            .map_err(unavailable("count the rooms' users"))?;
        let mut list = Vec::new();
        for (name, pair) in names.iter().zip(details.chunks(2)) {
            let members: Vec<String> = pair
                .first()
                .and_then(|v| ::redis::from_redis_value_ref(v).ok())
                .unwrap_or_default();
            let has_history = pair
                .get(1)
                .and_then(|v| ::redis::from_redis_value_ref::<i64>(v).ok())
                .unwrap_or(0)
                > 0;
            let users = members
                .iter()
                .filter(|raw| {
                    serde_json::from_str::<serde_json::Value>(raw)
                        .ok()
                        .and_then(|m| {
                            m.get("node")
                                .and_then(|n| n.as_str())
                                .map(|n| nodes.contains(n))
                        })
                        .unwrap_or(false)
                })
                .count();
            if users > 0 || has_history {
                list.push(RoomSummary {
                    name: (*name).clone(),
                    users,
                });
            }
        }
        list.sort_by(|a, b| b.users.cmp(&a.users).then_with(|| a.name.cmp(&b.name)));
        Ok(list)
    }

    fn sweep_every(&self) -> Option<Duration> {
        Some((self.config.node_ttl / 4).max(Duration::from_millis(100)))
    }

    async fn sweep(&self) -> Result<Vec<String>, StoreError> {
        let (mut changed, dead) = self
            .heartbeat()
            .await
            .map_err(unavailable("renew this gateway's presence"))?;
        changed.extend(self.retry_leaves().await);
        for node in dead {
            match self.bury(&node).await {
                Ok(rooms) => changed.extend(rooms),
                Err(error) => {
                    tracing::warn!(%error, %node, "chat store: cannot remove a dead gateway's members")
                }
            }
        }
        changed.sort();
        changed.dedup();
        Ok(changed)
    }
}

/// Reads the reply of the join script.
fn parse_joined(reply: &[String]) -> Result<Joined, StoreError> {
    match reply.first().map(String::as_str) {
        Some("ok") => {}
        Some("error") => {
            return Err(match reply.get(1).map(String::as_str) {
                Some("too_many_rooms") => StoreError::TooManyRooms,
                Some("room_full") => StoreError::RoomFull,
                other => {
                    tracing::warn!(
                        ?other,
                        "chat store: unexpected refusal from the join script"
                    );
                    StoreError::Unavailable
                }
            })
        }
        other => {
            tracing::warn!(?other, "chat store: unexpected reply from the join script");
            return Err(StoreError::Unavailable);
        }
    }
    let nick = reply.get(1).cloned().ok_or(StoreError::Unavailable)?;
    let count: usize = reply
        .get(2)
        .and_then(|n| n.parse().ok())
        .ok_or(StoreError::Unavailable)?;
    let users: Vec<String> = reply.iter().skip(3).take(count).cloned().collect();
    let history = reply
        .iter()
        .skip(3 + count)
        .filter_map(|line| match serde_json::from_str::<ChatMessage>(line) {
            Ok(message) => Some(message),
            Err(error) => {
                tracing::warn!(%error, "chat store: skipping an unreadable message in the history");
                None
            }
        })
        .collect();
    Ok(Joined {
        nick,
        users,
        history,
    })
}
