//! Who may open a new session: a cap on open sessions and a handshake rate per
//! client address. Both are off by default (the reference server has neither); a
//! server on the open internet turns them on so that one client cannot take every
//! file descriptor or make the server do a handshake's work in a loop.
//!
//! Only handshakes are limited. Requests of sessions that already exist (polls,
//! posts, the websocket upgrade) are never refused here, so a busy server keeps
//! serving the clients it has.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How many handshakes one address may make: `burst` at once, then one every
/// `per / burst` on average (a token bucket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeRate {
    pub burst: u32,
    pub per: Duration,
}

/// Addresses tracked at once. Beyond this, buckets that are full again (their address
/// has been quiet) are forgotten first; should every bucket still be in use, the new
/// address is let through untracked rather than growing the table without bound (at
/// that scale the attack is distributed and only the session cap helps).
const MAX_TRACKED: usize = 65_536;
/// A full table is swept at most this often, so that a flood of new addresses
/// cannot make every handshake walk the whole table.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The session cap is reached.
    AtCapacity,
    /// The address made too many handshakes; it may retry after this long.
    TooFast { retry_after: Duration },
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The admission state of one engine.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    max_sessions: Option<usize>,
    rate: Option<HandshakeRate>,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    swept: Option<Instant>,
}

impl Admission {
    pub(crate) fn new(max_sessions: Option<usize>, rate: Option<HandshakeRate>) -> Self {
        Admission {
            max_sessions,
            rate: rate.filter(|r| r.burst > 0 && !r.per.is_zero()),
            table: Mutex::new(Table::default()),
        }
    }

    /// Decides on a handshake from `addr` while `open` sessions exist. The session cap
    /// is checked before the handshake's session is created, so concurrent handshakes
    /// can overshoot it by the number in flight at that instant.
    pub(crate) fn check(
        &self,
        addr: Option<IpAddr>,
        open: usize,
        now: Instant,
    ) -> Result<(), Refusal> {
        if self.max_sessions.is_some_and(|max| open >= max) {
            return Err(Refusal::AtCapacity);
        }
        match (self.rate, addr) {
            (Some(rate), Some(addr)) => self.take_token(rate, client_key(addr), now),
            _ => Ok(()),
        }
    }

    fn take_token(&self, rate: HandshakeRate, key: IpAddr, now: Instant) -> Result<(), Refusal> {
        let burst = f64::from(rate.burst);
        let per_token = rate.per.as_secs_f64() / burst;
        let mut table = self.table.lock();
        let Table { buckets, swept } = &mut *table;
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            let due = swept.is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_INTERVAL);
            if due {
                *swept = Some(now);
                buckets.retain(|_, b| refill(*b, burst, per_token, now).tokens < burst);
            }
            if buckets.len() >= MAX_TRACKED {
                return Ok(());
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        *bucket = refill(*bucket, burst, per_token, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) * per_token;
            Err(Refusal::TooFast {
                retry_after: Duration::from_secs_f64(wait),
            })
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table.lock().buckets.len()
    }
}

fn refill(bucket: Bucket, burst: f64, per_token: f64, now: Instant) -> Bucket {
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    Bucket {
        tokens: (bucket.tokens + elapsed / per_token).min(burst),
        updated: now,
    }
}

/// The key an address is limited under: IPv4 addresses one by one, IPv6 by /64,
/// since one subscriber usually gets a whole /64 and could rotate through it.
fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn off_by_default() {
        let admission = Admission::default();
        let now = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(admission.check(ip("10.0.0.1"), 1_000_000, now), Ok(()));
        }
        assert_eq!(admission.tracked(), 0);
    }

    #[test]
    fn session_cap() {
        let admission = Admission::new(Some(2), None);
        let now = Instant::now();
        assert_eq!(admission.check(None, 1, now), Ok(()));
        assert_eq!(admission.check(None, 2, now), Err(Refusal::AtCapacity));
    }

    #[test]
    fn burst_then_refill_per_address() {
        let rate = HandshakeRate {
            burst: 3,
            per: Duration::from_secs(3),
        };
        let admission = Admission::new(None, Some(rate));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(admission.check(ip("10.0.0.1"), 0, start), Ok(()));
        }
        let Err(Refusal::TooFast { retry_after }) = admission.check(ip("10.0.0.1"), 0, start)
        else {
            panic!("a fourth handshake at once must be refused");
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
        // Another address has its own bucket.
        assert_eq!(admission.check(ip("10.0.0.2"), 0, start), Ok(()));
        // One token comes back per second.
        let later = start + Duration::from_millis(1_001);
        assert_eq!(admission.check(ip("10.0.0.1"), 0, later), Ok(()));
        assert!(admission.check(ip("10.0.0.1"), 0, later).is_err());
        // Clients whose address is unknown are not rate-limited.
        for _ in 0..10 {
            assert_eq!(admission.check(None, 0, start), Ok(()));
        }
    }

    #[test]
    fn ipv6_is_limited_by_64_prefix() {
        let rate = HandshakeRate {
            burst: 1,
            per: Duration::from_secs(60),
        };
        let admission = Admission::new(None, Some(rate));
        let now = Instant::now();
        assert_eq!(admission.check(ip("2001:db8:1:2::1"), 0, now), Ok(()));
        assert!(admission.check(ip("2001:db8:1:2::ffff"), 0, now).is_err());
        assert_eq!(admission.check(ip("2001:db8:1:3::1"), 0, now), Ok(()));
        assert_eq!(
            client_key("::ffff:10.1.2.3".parse().unwrap()),
            ip("10.1.2.3").unwrap()
        );
    }

    #[test]
    fn the_table_stays_bounded() {
        let rate = HandshakeRate {
            burst: 1,
            per: Duration::from_secs(60),
        };
        let admission = Admission::new(None, Some(rate));
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 1000) {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(i));
            assert_eq!(admission.check(Some(addr), 0, now), Ok(()));
        }
        assert!(admission.tracked() <= MAX_TRACKED);
        // Once quiet addresses have refilled, they make room for new ones.
        let later = now + Duration::from_secs(61);
        let fresh = IpAddr::V4(std::net::Ipv4Addr::new(255, 1, 1, 1));
        assert_eq!(admission.check(Some(fresh), 0, later), Ok(()));
        assert!(admission.tracked() < MAX_TRACKED);
    }
}
