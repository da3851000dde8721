//! The vote in Redis, shared by every gateway started with the same `--redis`.
//!
//! # What is kept, and for how long
//!
//! Every key starts with the prefix (default `sockeye:vote:`):
//!
//! | key | type | what |
//! |---|---|---|
//! | `area:<area>` | hash | `voter:<key>` → JSON `{id, name, picture, place}`; `place:<lower-cased name>` → JSON `{name, n}` (`n`: order of addition); counters `next` (last voter id), `voters`, `places` |
//! | `areas` | sorted set | area → time of its last activity (ms), for the list of areas |
//!
//! Every change (a join, a vote, a new place) is one Lua script that also sets the
//! area's `EXPIRE` to [`RedisVoteConfig::ttl`] (default 2 hours): an area is forgotten
//! 2 hours after its last activity. A new vote replaces the voter's earlier one inside
//! the script, so the tally never counts a voter twice, whichever gateway they use.

use std::collections::HashMap;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::RedisError;
use serde::Deserialize;

use super::{
    AreaSummary, AreaView, TallyError, VoteStore, VoteView, MAX_AREAS, MAX_PLACES, MAX_VOTERS, TTL,
};
use crate::apps::redis_script::RedisScript;
use crate::redis::RedisHandle;

/// How the Redis vote store names its keys and how long an area lives.
#[derive(Debug, Clone)]
pub struct RedisVoteConfig {
    /// Prepended to every key. Default `sockeye:vote:`.
    pub prefix: String,
    /// How long an area is kept after its last activity. Default [`TTL`] (2 hours).
    pub ttl: Duration,
}

impl Default for RedisVoteConfig {
    fn default() -> Self {
        RedisVoteConfig {
            prefix: "sockeye:vote:".into(),
            ttl: TTL,
        }
    }
}

/// Functions every vote script shares (after the common prelude). Every script gets
/// KEYS[1] = the area's hash, KEYS[2] = the areas list, ARGV[1] = the area's name,
/// ARGV[2] = the TTL in seconds.
const LIB: &str = r#"
local area, areas, name, ttl = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2])
-- Marks the area active: it lives `ttl` more seconds.
local function touch()
  local now = now_ms()
  redis.call('EXPIRE', area, ttl)
  redis.call('ZADD', areas, int(now), name)
  redis.call('EXPIRE', areas, ttl)
  redis.call('ZREMRANGEBYSCORE', areas, '-inf', '(' .. int(now - ttl * 1000))
end
-- The whole area after a change, behind a status.
local function reply(id)
  local out = {'ok', tostring(id)}
  for _, v in ipairs(redis.call('HGETALL', area)) do out[#out + 1] = v end
  return out
end
-- The place as already listed (by lower-cased name), or added.
local function place(wanted, lower, max)
  local raw = redis.call('HGET', area, 'place:' .. lower)
  if raw then return cjson.decode(raw).name end
  if tonumber(redis.call('HGET', area, 'places') or '0') >= max then
    return nil, 'too_many_places'
  end
  local n = redis.call('HINCRBY', area, 'places', 1)
  redis.call('HSET', area, 'place:' .. lower, cjson.encode({name = wanted, n = n}))
  return wanted
end
"#;

/// ARGV[3..]: voter key, JSON `{name, picture}`, max voters, max areas.
const JOIN: &str = r#"
local field, given = 'voter:' .. ARGV[3], cjson.decode(ARGV[4])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', areas, '-inf', '(' .. int(now - ttl * 1000))
if redis.call('EXISTS', area) == 0 and not redis.call('ZSCORE', areas, name)
    and redis.call('ZCARD', areas) >= tonumber(ARGV[6]) then
  return {'error', 'too_many_areas'}
end
local raw = redis.call('HGET', area, field)
local id
if raw then
  local voter = cjson.decode(raw)
  voter.name = given.name
  voter.picture = given.picture
  id = voter.id
  redis.call('HSET', area, field, cjson.encode(voter))
else
  if tonumber(redis.call('HGET', area, 'voters') or '0') >= tonumber(ARGV[5]) then
    return {'error', 'too_many_voters'}
  end
  id = redis.call('HINCRBY', area, 'next', 1)
  redis.call('HINCRBY', area, 'voters', 1)
  local voter = {id = id, name = given.name, picture = given.picture, place = cjson.null}
  redis.call('HSET', area, field, cjson.encode(voter))
end
touch()
return reply(id)
"#;

/// ARGV[3..]: voter key, place ('' withdraws the vote), its lower-cased name, max places.
const VOTE: &str = r#"
local field = 'voter:' .. ARGV[3]
local raw = redis.call('HGET', area, field)
if not raw then return {'error', 'unknown_voter'} end
local voter = cjson.decode(raw)
if ARGV[4] == '' then
  voter.place = cjson.null
else
  local chosen, err = place(ARGV[4], ARGV[5], tonumber(ARGV[6]))
  if not chosen then return {'error', err} end
  voter.place = chosen
end
redis.call('HSET', area, field, cjson.encode(voter))
touch()
return reply(voter.id)
"#;

/// ARGV[3..]: place, its lower-cased name, max places.
const PLACE: &str = r#"
if redis.call('EXISTS', area) == 0 then return {'error', 'unknown_voter'} end
local chosen, err = place(ARGV[3], ARGV[4], tonumber(ARGV[5]))
if not chosen then return {'error', err} end
touch()
return reply(0)
"#;

/// KEYS[1]: the areas list. ARGV[1]: the TTL in seconds. Reply: the live areas.
const AREAS: &str = r#"
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(now - tonumber(ARGV[1]) * 1000))
return redis.call('ZRANGE', KEYS[1], 0, -1)
"#;

/// A place as stored in an area's hash.
#[derive(Deserialize)]
struct StoredPlace {
    name: String,
    n: u64,
}

/// The vote store shared through Redis (see the module docs).
pub struct RedisVoteStore {
    conn: ConnectionManager,
    config: RedisVoteConfig,
    join: RedisScript,
    vote: RedisScript,
    place: RedisScript,
    areas: RedisScript,
}

fn unavailable(what: &'static str) -> impl FnOnce(RedisError) -> TallyError {
    move |error| {
        tracing::warn!(%error, "vote store: cannot {what} in Redis");
        TallyError::Unavailable
    }
}

impl RedisVoteStore {
    /// A store on `redis` with the default keys and TTL.
    pub fn new(redis: &RedisHandle) -> Self {
        Self::with_config(redis, RedisVoteConfig::default())
    }

    pub fn with_config(redis: &RedisHandle, config: RedisVoteConfig) -> Self {
        tracing::info!(prefix = %config.prefix, "vote state is kept in Redis");
        let script = |body: &str| RedisScript::new(&format!("{LIB}\n{body}"));
        RedisVoteStore {
            conn: redis.manager.clone(),
            config,
            join: script(JOIN),
            vote: script(VOTE),
            place: script(PLACE),
            areas: RedisScript::new(AREAS),
        }
    }

    fn area_key(&self, area: &str) -> String {
        format!("{}area:{area}", self.config.prefix)
    }

    fn areas_key(&self) -> String {
        format!("{}areas", self.config.prefix)
    }

    fn ttl_secs(&self) -> String {
        self.config.ttl.as_secs().max(1).to_string()
    }

    /// Runs a change script on `area` with `args` after the common ones.
    async fn change(
        &self,
        script: &RedisScript,
        area: &str,
        args: Vec<String>,
        what: &'static str,
    ) -> Result<(u64, AreaView), TallyError> {
        let keys = [self.area_key(area), self.areas_key()];
        let mut all = vec![area.to_string(), self.ttl_secs()];
        all.extend(args);
        let reply: Vec<String> = script
            .run(&mut self.conn.clone(), &keys, &all)
            .await
            .map_err(unavailable(what))?;
        parse_area(area, &reply)
    }
}

impl VoteStore for RedisVoteStore {
    async fn join(
        &self,
        area: &str,
        key: &str,
        name: &str,
        picture: Option<String>,
    ) -> Result<(u64, AreaView), TallyError> {
        let given = serde_json::json!({ "name": name, "picture": picture }).to_string();
        let args = vec![
            key.to_string(),
            given,
            MAX_VOTERS.to_string(),
            MAX_AREAS.to_string(),
        ];
        self.change(&self.join, area, args, "join an area").await
    }

    async fn vote(
        &self,
        area: &str,
        key: &str,
        place: Option<&str>,
    ) -> Result<AreaView, TallyError> {
        let place = place.unwrap_or("");
        let args = vec![
            key.to_string(),
            place.to_string(),
            place.to_lowercase(),
            MAX_PLACES.to_string(),
        ];
        self.change(&self.vote, area, args, "record a vote")
            .await
            .map(|(_, view)| view)
    }

    async fn add_place(&self, area: &str, place: &str) -> Result<AreaView, TallyError> {
        let args = vec![
            place.to_string(),
            place.to_lowercase(),
            MAX_PLACES.to_string(),
        ];
        self.change(&self.place, area, args, "add a place")
            .await
            .map(|(_, view)| view)
    }

    async fn areas(&self) -> Result<Vec<AreaSummary>, TallyError> {
        let mut conn = self.conn.clone();
        let names: Vec<String> = self
            .areas
            .run(&mut conn, &[self.areas_key()], &[self.ttl_secs()])
            .await
            .map_err(unavailable("list the areas"))?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = ::redis::pipe();
        for name in &names {
            pipe.cmd("HGET").arg(self.area_key(name)).arg("voters");
        }
        let counts: Vec<Option<usize>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(unavailable("count the voters"))?;
        let mut list: Vec<AreaSummary> = names
            .into_iter()
            .zip(counts)
            .map(|(name, voters)| AreaSummary {
                name,
                voters: voters.unwrap_or(0),
            })
            .collect();
        list.sort_by(|a, b| b.voters.cmp(&a.voters).then_with(|| a.name.cmp(&b.name)));
        Ok(list)
    }
}

/// Reads a change script's reply: `{'ok', id, field, value…}` or `{'error', code}`.
fn parse_area(area: &str, reply: &[String]) -> Result<(u64, AreaView), TallyError> {
    match reply.first().map(String::as_str) {
        Some("ok") => {}
        Some("error") => {
            return Err(match reply.get(1).map(String::as_str) {
                Some("too_many_areas") => TallyError::TooManyAreas,
                Some("too_many_voters") => TallyError::TooManyVoters,
                Some("too_many_places") => TallyError::TooManyPlaces,
                Some("unknown_voter") => TallyError::UnknownVoter,
                other => {
                    tracing::warn!(?other, "vote store: unexpected refusal from Redis");
                    TallyError::Unavailable
                }
            })
        }
        other => {
            tracing::warn!(?other, "vote store: unexpected reply from Redis");
            return Err(TallyError::Unavailable);
        }
    }
    let id = reply
        .get(1)
        .and_then(|id| id.parse().ok())
        .ok_or(TallyError::Unavailable)?;
    let mut votes: Vec<VoteView> = Vec::new();
    let mut places: Vec<StoredPlace> = Vec::new();
    let fields: HashMap<&str, &str> = reply[2..]
        .chunks(2)
        .filter_map(|pair| match pair {
            [field, value] => Some((field.as_str(), value.as_str())),
            _ => None,
        })
        .collect();
    for (field, value) in fields {
        if field.starts_with("voter:") {
            match serde_json::from_str(value) {
                Ok(voter) => votes.push(voter),
                Err(error) => {
                    tracing::warn!(%error, %area, "vote store: skipping an unreadable voter")
                }
            }
        } else if field.starts_with("place:") {
            match serde_json::from_str(value) {
                Ok(place) => places.push(place),
                Err(error) => {
                    tracing::warn!(%error, %area, "vote store: skipping an unreadable place")
                }
            }
        }
    }
    votes.sort_by_key(|v| v.id);
    places.sort_by_key(|p| p.n);
    let places = places.into_iter().map(|p| p.name).collect();
    Ok((id, AreaView::new(area, places, votes)))
}
