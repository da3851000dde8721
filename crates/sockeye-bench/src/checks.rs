//! The correctness counters kept while measuring.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// Shared counters of everything that went wrong during a scenario. A clean run has
/// all of them at zero.
#[derive(Debug, Default)]
pub struct Checks {
    /// A subscriber saw a gap in the sequence numbers (or ended short).
    pub missing: AtomicU64,
    /// A subscriber saw a sequence number again.
    pub duplicated: AtomicU64,
    /// A subscriber saw a sequence number before an earlier one (Socket.IO keeps the
    /// order of the packets of one sender).
    pub out_of_order: AtomicU64,
    /// An ack carried other data than the event, or another id than expected.
    pub bad_acks: AtomicU64,
    /// A frame of a kind the scenario does not expect.
    pub unexpected: AtomicU64,
    /// Connections that failed to open or closed before the end.
    pub connection_errors: AtomicU64,
}

/// A snapshot of [`Checks`], as reported.
#[derive(Debug, Default, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CheckCounts {
    pub missing: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub bad_acks: u64,
    pub unexpected: u64,
    pub connection_errors: u64,
}

impl Checks {
    pub fn counts(&self) -> CheckCounts {
        CheckCounts {
            missing: self.missing.load(Relaxed),
            duplicated: self.duplicated.load(Relaxed),
            out_of_order: self.out_of_order.load(Relaxed),
            bad_acks: self.bad_acks.load(Relaxed),
            unexpected: self.unexpected.load(Relaxed),
            connection_errors: self.connection_errors.load(Relaxed),
        }
    }
}

impl CheckCounts {
    pub fn total(&self) -> u64 {
        self.missing
            + self.duplicated
            + self.out_of_order
            + self.bad_acks
            + self.unexpected
            + self.connection_errors
    }

    /// "ok", or the non-zero counters.
    pub fn describe(&self) -> String {
        if self.total() == 0 {
            return "ok".into();
        }
        let mut parts = Vec::new();
        for (name, n) in [
            ("missing", self.missing),
            ("duplicated", self.duplicated),
            ("out of order", self.out_of_order),
            ("bad acks", self.bad_acks),
            ("unexpected frames", self.unexpected),
            ("connection errors", self.connection_errors),
        ] {
            if n > 0 {
                parts.push(format!("{n} {name}"));
            }
        }
        parts.join(", ")
    }

    pub fn add(&mut self, other: CheckCounts) {
        self.missing += other.missing;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.bad_acks += other.bad_acks;
        self.unexpected += other.unexpected;
        self.connection_errors += other.connection_errors;
    }
}
