//! The heartbeat as a pure state machine over deadlines, so that whichever task drives
//! a session (the polling timer task or the websocket connection task) asks it the same
//! questions, and the timing is tested with paused time.
//!
//! v4: the server pings every `ping_interval` (counted from the last pong) and the
//! client must pong within `ping_timeout`. As in the reference server, the first other
//! packet received while waiting for the pong extends the wait once, by `ping_timeout`;
//! it does not replace the pong.
//!
//! v3: the client pings; the session times out when no ping came within
//! `ping_interval + ping_timeout` of the previous one (or of the handshake).

use std::time::Duration;

use tokio::time::Instant;

use crate::ProtocolVersion;

/// What the driver must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Nothing before the next deadline.
    Idle,
    /// Send a ping (v4).
    SendPing,
    /// The client missed its heartbeat: close with `PingTimeout`.
    TimedOut,
}

#[derive(Debug)]
pub(crate) struct Heartbeat {
    protocol: ProtocolVersion,
    interval: Duration,
    timeout: Duration,
    /// v4: when the next ping is due (none while a pong is awaited).
    next_ping: Option<Instant>,
    /// v4: when the awaited pong is late; v3: when the next client ping is late.
    deadline: Option<Instant>,
    /// v4: the pong wait was already extended once by another packet.
    extended: bool,
}

impl Heartbeat {
    /// Starts the heartbeat at the handshake.
    pub(crate) fn new(
        protocol: ProtocolVersion,
        interval: Duration,
        timeout: Duration,
        now: Instant,
    ) -> Self {
        let mut hb = Heartbeat {
            protocol,
            interval,
            timeout,
            next_ping: None,
            deadline: None,
            extended: false,
        };
        match protocol {
            ProtocolVersion::V4 => hb.next_ping = Some(now + interval),
            ProtocolVersion::V3 => hb.deadline = Some(now + interval + timeout),
        }
        hb
    }

    /// The next instant at which [`Heartbeat::poll`] has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match (self.next_ping, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances to `now`.
    pub(crate) fn poll(&mut self, now: Instant) -> Beat {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            self.next_ping = None;
            return Beat::TimedOut;
        }
        if self.next_ping.is_some_and(|p| now >= p) {
            self.next_ping = None;
            self.deadline = Some(now + self.timeout);
            self.extended = false;
            return Beat::SendPing;
        }
        Beat::Idle
    }

    /// A ping arrived from the client (valid in v3 only; the caller rejects it in v4).
    pub(crate) fn on_client_ping(&mut self, now: Instant) {
        if self.protocol == ProtocolVersion::V3 {
            self.deadline = Some(now + self.interval + self.timeout);
        }
    }

    /// A pong arrived (valid in v4 only): the next ping is due one interval from now.
    pub(crate) fn on_pong(&mut self, now: Instant) {
        if self.protocol == ProtocolVersion::V4 {
            self.deadline = None;
            self.next_ping = Some(now + self.interval);
        }
    }

    /// Any other packet arrived.
    pub(crate) fn on_other_packet(&mut self, now: Instant) {
        if self.protocol == ProtocolVersion::V4 && self.deadline.is_some() && !self.extended {
            self.deadline = Some(now + self.timeout);
            self.extended = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_millis(300);
    const T: Duration = Duration::from_millis(200);

    #[test]
    fn v4_pings_then_times_out_exactly() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V4, I, T, t0);
        assert_eq!(hb.next_deadline(), Some(t0 + I));
        assert_eq!(hb.poll(t0 + I - Duration::from_millis(1)), Beat::Idle);
        assert_eq!(hb.poll(t0 + I), Beat::SendPing);
        assert_eq!(hb.next_deadline(), Some(t0 + I + T));
        assert_eq!(hb.poll(t0 + I + T - Duration::from_millis(1)), Beat::Idle);
        assert_eq!(hb.poll(t0 + I + T), Beat::TimedOut);
        assert_eq!(hb.next_deadline(), None);
    }

    #[test]
    fn v4_pong_schedules_next_ping_from_the_pong() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V4, I, T, t0);
        assert_eq!(hb.poll(t0 + I), Beat::SendPing);
        let pong_at = t0 + I + Duration::from_millis(50);
        hb.on_pong(pong_at);
        assert_eq!(hb.next_deadline(), Some(pong_at + I));
        assert_eq!(
            hb.poll(pong_at + I + T),
            Beat::SendPing,
            "no timeout after a pong"
        );
    }

    #[test]
    fn v4_other_packet_extends_the_wait_only_once() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V4, I, T, t0);
        // before any ping: nothing to extend
        hb.on_other_packet(t0);
        assert_eq!(hb.next_deadline(), Some(t0 + I));
        assert_eq!(hb.poll(t0 + I), Beat::SendPing);
        let m1 = t0 + I + Duration::from_millis(100);
        hb.on_other_packet(m1);
        assert_eq!(hb.next_deadline(), Some(m1 + T));
        hb.on_other_packet(m1 + Duration::from_millis(150));
        assert_eq!(hb.next_deadline(), Some(m1 + T), "a message is not a pong");
        assert_eq!(hb.poll(m1 + T), Beat::TimedOut);
    }

    #[test]
    fn v3_waits_for_client_pings() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ProtocolVersion::V3, I, T, t0);
        assert_eq!(hb.next_deadline(), Some(t0 + I + T));
        let p = t0 + Duration::from_millis(400);
        hb.on_client_ping(p);
        assert_eq!(hb.poll(t0 + I + T), Beat::Idle);
        hb.on_pong(p); // ignored in v3
        hb.on_other_packet(p);
        assert_eq!(hb.next_deadline(), Some(p + I + T));
        assert_eq!(hb.poll(p + I + T), Beat::TimedOut);
    }
}
