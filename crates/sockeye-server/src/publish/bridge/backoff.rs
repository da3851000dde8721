//! Reconnection delays: doubling from a floor to a cap, with a little jitter so that
//! every node of a cluster does not knock on a restarted Redis at the same instant.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) struct Backoff {
    floor: Duration,
    cap: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(floor: Duration, cap: Duration) -> Self {
        Backoff {
            floor,
            cap,
            next: floor,
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.cap);
        // Up to a quarter of the delay, from the clock: no randomness source needed,
        // and nodes started together still read different nanoseconds.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let spread = (base / 4).as_nanos().max(1);
        let jitter = Duration::from_nanos((u128::from(nanos) % spread) as u64);
        (base + jitter).min(self.cap)
    }

    /// Back to the floor after a connection that worked.
    pub(crate) fn reset(&mut self) {
        self.next = self.floor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(125));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(5)));
        assert_eq!(delays.last(), Some(&Duration::from_secs(5)));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(125));
    }
}
