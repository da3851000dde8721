//! Process-wide traffic counters, for the gateway's `/metrics`.
//!
//! Counters rather than per-server state because a process runs one Engine.IO server
//! in practice and the hot paths (every queued or received message) must not pay more
//! than a relaxed atomic add: no lock, no allocation, no lookup. Totals only ever grow
//! (Prometheus computes rates); `sessions_open` is the one gauge.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The live counters. Read them with [`stats`].
pub(crate) struct Stats {
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) sessions_closed: AtomicU64,
    pub(crate) handshakes_refused: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) volatile_dropped: AtomicU64,
    pub(crate) slow_client_closes: AtomicU64,
}

pub(crate) static STATS: Stats = Stats {
    sessions_opened: AtomicU64::new(0),
    sessions_closed: AtomicU64::new(0),
    handshakes_refused: AtomicU64::new(0),
    messages_in: AtomicU64::new(0),
    bytes_in: AtomicU64::new(0),
    messages_out: AtomicU64::new(0),
    bytes_out: AtomicU64::new(0),
    volatile_dropped: AtomicU64::new(0),
    slow_client_closes: AtomicU64::new(0),
};

impl Stats {
    #[inline]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}

/// A copy of the process-wide Engine.IO counters at one moment (each read on its own,
/// so two fields may be a few increments apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Sessions opened since the process started (handshakes that succeeded).
    pub sessions_opened: u64,
    /// Sessions closed since the process started, for any reason.
    pub sessions_closed: u64,
    /// Handshakes refused by the session cap or the per-address handshake rate.
    pub handshakes_refused: u64,
    /// Application messages received from clients.
    pub messages_in: u64,
    /// Payload bytes of those messages.
    pub bytes_in: u64,
    /// Application messages queued to clients (a broadcast counts once per recipient).
    pub messages_out: u64,
    /// Payload bytes of those messages.
    pub bytes_out: u64,
    /// Volatile messages dropped (queue full, upgrading, or session not open).
    pub volatile_dropped: u64,
    /// Sessions closed because their outgoing queue filled up.
    pub slow_client_closes: u64,
}

impl EngineStats {
    /// Sessions currently open (opened minus closed).
    pub fn sessions_open(&self) -> u64 {
        self.sessions_opened.saturating_sub(self.sessions_closed)
    }
}

/// Reads the process-wide Engine.IO counters.
pub fn stats() -> EngineStats {
    let s = &STATS;
    EngineStats {
        sessions_opened: s.sessions_opened.load(Relaxed),
        sessions_closed: s.sessions_closed.load(Relaxed),
        handshakes_refused: s.handshakes_refused.load(Relaxed),
        messages_in: s.messages_in.load(Relaxed),
        bytes_in: s.bytes_in.load(Relaxed),
        messages_out: s.messages_out.load(Relaxed),
        bytes_out: s.bytes_out.load(Relaxed),
        volatile_dropped: s.volatile_dropped.load(Relaxed),
        slow_client_closes: s.slow_client_closes.load(Relaxed),
    }
}
