//! Process-wide broadcast counters, for the gateway's `/metrics` (the traffic itself is
//! counted by `sockeye_engine::stats`).
//!
//! A relaxed atomic add per broadcast and per delivery: the broadcast loop stays free of
//! locks and allocation, and a process with several servers simply sums them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

static BROADCASTS: AtomicU64 = AtomicU64::new(0);
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// Counts one broadcast run on this node that reached `delivered` local sockets.
#[inline]
pub(crate) fn broadcast(delivered: usize) {
    BROADCASTS.fetch_add(1, Relaxed);
    DELIVERIES.fetch_add(delivered as u64, Relaxed);
}

/// A copy of the process-wide Socket.IO counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketIoStats {
    /// Broadcasts delivered on this node (`io.emit`, `to(room).emit`, the local part of
    /// a cluster broadcast), with or without acknowledgements.
    pub broadcasts: u64,
    /// Packets those broadcasts queued to local sockets (the fan-out).
    pub broadcast_deliveries: u64,
}

/// Reads the process-wide Socket.IO counters.
pub fn stats() -> SocketIoStats {
    SocketIoStats {
        broadcasts: BROADCASTS.load(Relaxed),
        broadcast_deliveries: DELIVERIES.load(Relaxed),
    }
}
