//! A token bucket per sender, so one client cannot flood a room.
//!
//! The bucket holds up to `capacity` tokens and refills continuously at
//! `capacity / period`; each message takes one. A burst of `capacity` messages is
//! fine, a steady stream faster than the refill is not.

use std::time::{Duration, Instant};

/// Messages a sender may send in a burst.
pub const BURST: u32 = 5;
/// Time for an empty bucket to refill completely.
pub const PERIOD: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens refilling completely in `period`.
    pub fn new(capacity: u32, period: Duration, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        let secs = period.as_secs_f64().max(0.001);
        TokenBucket {
            capacity,
            tokens: capacity,
            per_second: capacity / secs,
            last: now,
        }
    }

    /// The chat's default: [`BURST`] messages per [`PERIOD`].
    pub fn for_chat(now: Instant) -> Self {
        Self::new(BURST, PERIOD, now)
    }

    /// Takes a token, or says how long to wait for the next one.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_limits() {
        let start = Instant::now();
        let mut bucket = TokenBucket::for_chat(start);
        for _ in 0..5 {
            assert!(bucket.try_take(start).is_ok());
        }
        let wait = bucket.try_take(start).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
    }

    #[test]
    fn refills_over_time_up_to_capacity() {
        let start = Instant::now();
        let mut bucket = TokenBucket::for_chat(start);
        for _ in 0..5 {
            bucket.try_take(start).unwrap();
        }
        // One second later one token is back, not more.
        let later = start + Duration::from_secs(1);
        assert!(bucket.try_take(later).is_ok());
        assert!(bucket.try_take(later).is_err());
        // After a long pause the bucket is full again, but holds no more than 5.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..5 {
            assert!(bucket.try_take(much_later).is_ok());
        }
        assert!(bucket.try_take(much_later).is_err());
    }
}
