//! Lua scripts the apps run on Redis, so that a read-check-write (a free nickname, a
//! vote replacing the previous one) is one atomic step even with many gateways.
//!
//! A script is sent once with `SCRIPT LOAD` and then called by its SHA1 (`EVALSHA`);
//! when Redis answers `NOSCRIPT` (it restarted, or `SCRIPT FLUSH` ran) it is loaded
//! again.

use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use redis::{FromRedisValue, RedisResult};

/// The part every script shares: the time from Redis itself (so that gateways with
/// slightly different clocks agree on what expired), as milliseconds and as a
/// sortable sequence string.
const PRELUDE: &str = r#"
local function now_parts()
  local t = redis.call('TIME')
  return t[1], t[2]
end
local function now_ms()
  local s, us = now_parts()
  return tonumber(s) * 1000 + math.floor(tonumber(us) / 1000)
end
-- A number as an integer string (tostring would use an exponent for large ones).
local function int(n)
  return string.format('%.0f', n)
end
-- Microseconds since the epoch as a fixed-width string: sorts as it compares.
local function seq()
  local s, us = now_parts()
  return s .. string.rep('0', 6 - #us) .. us
end
"#;

/// One Lua script, with the prelude above prepended.
pub struct RedisScript {
    source: String,
    sha: Mutex<Option<String>>,
}

impl RedisScript {
    pub fn new(body: &str) -> Self {
        RedisScript {
            source: format!("{PRELUDE}\n{body}"),
            sha: Mutex::new(None),
        }
    }

    /// Runs the script with `keys` and `args` and converts its reply.
    pub async fn run<T: FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
        keys: &[String],
        args: &[String],
    ) -> RedisResult<T> {
        let known = self.sha.lock().clone();
        if let Some(sha) = known {
            match Self::evalsha(conn, &sha, keys, args).await {
                Err(e) if e.code() == Some("NOSCRIPT") => {}
                other => return other,
            }
        }
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(&self.source)
            .query_async(conn)
            .await?;
        *self.sha.lock() = Some(sha.clone());
        Self::evalsha(conn, &sha, keys, args).await
    }

    async fn evalsha<T: FromRedisValue>(
        conn: &mut ConnectionManager,
        sha: &str,
        keys: &[String],
        args: &[String],
    ) -> RedisResult<T> {
        redis::cmd("EVALSHA")
            .arg(sha)
            .arg(keys.len())
            .arg(keys)
            .arg(args)
            .query_async(conn)
            .await
    }
}
