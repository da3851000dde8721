//! Connection state recovery (socket.io 4.6+ `connectionStateRecovery`).
//!
//! When a client loses its connection for a moment (a network switch, a sleeping laptop),
//! the server keeps what it knew of the socket — id, rooms, data — for
//! [`max_disconnection_duration`](RecoveryConfig::max_disconnection_duration), and keeps the
//! event packets it broadcast meanwhile. The official client (4.6+) remembers the session
//! id (`pid`, sent in the CONNECT reply) and the offset of the last packet it processed
//! (appended as the last argument of every broadcast event). When it comes back in time,
//! it sends both in its CONNECT payload and gets the same socket back, with every packet
//! it missed, in order.
//!
//! The [`Adapter`](crate::adapter::Adapter) stores sessions and packets, so that a cluster
//! adapter can share them between nodes; [`RecoveryStore`] is the bounded in-memory store
//! of the [`MemoryAdapter`](crate::adapter::MemoryAdapter).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::adapter::{BroadcastOptions, Room, SocketId};
use crate::{DisconnectReason, Packet, PacketData, Value};

/// Options of connection state recovery ([`SocketIoBuilder::connection_state_recovery`](crate::SocketIoBuilder::connection_state_recovery)).
///
/// The defaults are those of the reference server (2 minutes, middleware skipped), plus
/// bounds on what the in-memory store keeps per namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket's state (and the packets it may miss) is kept.
    /// Default 2 minutes.
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the connect middleware. Default true.
    pub skip_middlewares: bool,
    /// How many broadcast packets the in-memory store keeps per namespace; older ones are
    /// dropped first, and a client whose offset was dropped is not recovered (it gets a
    /// new socket instead of a history with a hole). Default 10 000.
    pub max_packets: usize,
    /// How many disconnected sessions the in-memory store keeps per namespace; the oldest
    /// is forgotten first. Default 10 000.
    pub max_sessions: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_sessions: 10_000,
        }
    }
}

/// What is kept of a socket that disconnected without meaning to.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionState {
    /// The socket id, given back on recovery.
    pub sid: SocketId,
    /// The private session id the client presents to recover (never broadcast).
    pub pid: Arc<str>,
    /// The rooms of the socket, its own id included.
    pub rooms: Vec<Room>,
    /// The application's data of the socket.
    pub data: Value,
}

/// A session found again, with the packets its socket missed (their offset is their
/// last argument).
#[derive(Clone, Debug, PartialEq)]
pub struct RestoredSession {
    pub state: SessionState,
    pub missed: Vec<Packet>,
}

/// The reasons after which the reference server keeps a socket's state: the connection
/// went away, but nobody asked the socket to leave.
pub fn is_recoverable(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportError
            | DisconnectReason::TransportClose
            | DisconnectReason::ForcedClose
            | DisconnectReason::PingTimeout
            | DisconnectReason::ServerShuttingDown
            | DisconnectReason::ForcedServerClose
    )
}

/// Whether a broadcast packet is kept for recovery (and gets an offset): events only,
/// and neither those waiting for acknowledgements (the callback cannot be replayed)
/// nor volatile ones.
pub fn is_recordable(packet: &Packet, opts: &BroadcastOptions) -> bool {
    matches!(packet.data, PacketData::Event { .. }) && packet.id.is_none() && !opts.flags.volatile
}

/// The offset of a recorded packet: its last argument.
pub fn offset_of(packet: &Packet) -> Option<&str> {
    match &packet.data {
        PacketData::Event { args, .. } => args.last().and_then(Value::as_str),
        _ => None,
    }
}

/// Whether a socket in `rooms` was a recipient of a broadcast to `rooms`/`except`.
fn was_recipient(rooms: &[Room], target: &[Room], except: &[Room]) -> bool {
    let included = target.is_empty() || rooms.iter().any(|r| target.contains(r));
    included && !rooms.iter().any(|r| except.contains(r))
}

struct RecordedPacket {
    seq: u64,
    packet: Packet,
    rooms: Vec<Room>,
    except: Vec<Room>,
    at: Instant,
}

struct StoredSession {
    state: SessionState,
    disconnected_at: Instant,
}

/// Sessions and recent broadcast packets of one namespace, in memory and bounded by
/// [`RecoveryConfig`]: entries older than the window are dropped, and so are the oldest
/// ones beyond the count limits. Time is passed in, so callers (and tests) control it.
pub struct RecoveryStore {
    window: Duration,
    max_packets: usize,
    max_sessions: usize,
    /// Offsets are `<prefix>-<seq>`; the prefix (the store's creation time) keeps offsets
    /// of an earlier server process from matching this one's.
    prefix: String,
    next_seq: u64,
    packets: VecDeque<RecordedPacket>,
    sessions: HashMap<Arc<str>, StoredSession>,
    /// Session ids in the order they were stored (all share one window, so this is
    /// also the order in which they expire).
    session_order: VecDeque<Arc<str>>,
}

impl RecoveryStore {
    pub fn new(config: &RecoveryConfig) -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        RecoveryStore {
            window: config.max_disconnection_duration,
            max_packets: config.max_packets.max(1),
            max_sessions: config.max_sessions.max(1),
            prefix: format!("{started:x}"),
            next_seq: 0,
            packets: VecDeque::new(),
            sessions: HashMap::new(),
            session_order: VecDeque::new(),
        }
    }

    /// Keeps a broadcast packet if [recordable](is_recordable): appends its offset as
    /// last argument and returns it.
    pub fn record(
        &mut self,
        packet: &mut Packet,
        opts: &BroadcastOptions,
        now: Instant,
    ) -> Option<Arc<str>> {
        if !is_recordable(packet, opts) {
            return None;
        }
        self.expire(now);
        let seq = self.next_seq;
        self.next_seq += 1;
        let offset: Arc<str> = format!("{}-{seq:x}", self.prefix).into();
        if let PacketData::Event { args, .. } = &mut packet.data {
            args.push(Value::String(offset.to_string()));
        }
        if self.packets.len() >= self.max_packets {
            self.packets.pop_front();
        }
        self.packets.push_back(RecordedPacket {
            seq,
            packet: packet.clone(),
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            at: now,
        });
        Some(offset)
    }

    /// Keeps the state of a socket that disconnected, for the window.
    pub fn persist(&mut self, state: SessionState, now: Instant) {
        self.expire(now);
        let pid = state.pid.clone();
        if self.sessions.contains_key(&pid) {
            self.session_order.retain(|p| *p != pid);
        } else if self.sessions.len() >= self.max_sessions {
            if let Some(oldest) = self.session_order.pop_front() {
                self.sessions.remove(&oldest);
            }
        }
        self.sessions.insert(
            pid.clone(),
            StoredSession {
                state,
                disconnected_at: now,
            },
        );
        self.session_order.push_back(pid);
    }

    /// Takes the session `pid` back, with the packets its socket missed after `offset`.
    /// `None` when the session is unknown or expired, or the offset is no longer kept (a
    /// socket with a hole in its history would not be a recovered one).
    pub fn restore(&mut self, pid: &str, offset: &str, now: Instant) -> Option<RestoredSession> {
        self.expire(now);
        let rooms = &self.sessions.get(pid)?.state.rooms;
        let missed = self.missed_since(offset, rooms)?;
        let stored = self.sessions.remove(pid)?;
        self.session_order.retain(|p| &**p != pid);
        Some(RestoredSession {
            state: stored.state,
            missed,
        })
    }

    /// The kept packets after `offset` that a socket in `rooms` would have received;
    /// `None` when `offset` is not (or no longer) kept.
    pub fn missed_since(&self, offset: &str, rooms: &[Room]) -> Option<Vec<Packet>> {
        let seq = offset
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('-')
            .and_then(|s| u64::from_str_radix(s, 16).ok())?;
        let first = self.packets.front()?.seq;
        if seq < first || seq >= self.next_seq {
            return None;
        }
        let after = usize::try_from(seq - first).ok()? + 1;
        Some(
            self.packets
                .iter()
                .skip(after)
                .filter(|p| was_recipient(rooms, &p.rooms, &p.except))
                .map(|p| p.packet.clone())
                .collect(),
        )
    }

    /// Number of kept packets and sessions.
    pub fn len(&self) -> (usize, usize) {
        (self.packets.len(), self.sessions.len())
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty() && self.sessions.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        let expired = |at: Instant| now.saturating_duration_since(at) > self.window;
        while self.packets.front().is_some_and(|p| expired(p.at)) {
            self.packets.pop_front();
        }
        while let Some(pid) = self.session_order.front() {
            match self.sessions.get(pid) {
                Some(s) if !expired(s.disconnected_at) => break,
                _ => {
                    if let Some(pid) = self.session_order.pop_front() {
                        self.sessions.remove(&pid);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(window_ms: u64, max_packets: usize, max_sessions: usize) -> RecoveryConfig {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(window_ms),
            skip_middlewares: true,
            max_packets,
            max_sessions,
        }
    }

    fn to(rooms: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            ..BroadcastOptions::default()
        }
    }

    fn session(pid: &str, rooms: &[&str]) -> SessionState {
        SessionState {
            sid: SocketId::from(format!("sid-{pid}").as_str()),
            pid: pid.into(),
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            data: Value::from("data"),
        }
    }

    fn event(n: u64) -> Packet {
        Packet::event("/", "tick", vec![Value::from(n)])
    }

    fn first_args(packets: &[Packet]) -> Vec<u64> {
        packets
            .iter()
            .map(|p| match &p.data {
                PacketData::Event { args, .. } => args[0].as_u64().unwrap(),
                other => panic!("not an event: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn offsets_are_appended_and_missed_packets_follow_the_offset_in_order() {
        let mut store = RecoveryStore::new(&config(1000, 100, 100));
        let now = Instant::now();
        let mut p0 = event(0);
        let o0 = store.record(&mut p0, &to(&["a"]), now).unwrap();
        assert_eq!(offset_of(&p0), Some(&*o0));
        for n in 1..5 {
            store.record(&mut event(n), &to(&["a"]), now);
        }
        store.record(&mut event(99), &to(&["b"]), now);
        store.persist(session("p", &["sid-p", "a"]), now);
        let restored = store.restore("p", &o0, now).unwrap();
        assert_eq!(restored.state, session("p", &["sid-p", "a"]));
        assert_eq!(first_args(&restored.missed), vec![1, 2, 3, 4]);
        // A session is given back once.
        assert!(store.restore("p", &o0, now).is_none());
    }

    #[test]
    fn acks_volatile_and_excluded_packets_are_not_replayed() {
        let mut store = RecoveryStore::new(&config(1000, 100, 100));
        let now = Instant::now();
        let o = store.record(&mut event(0), &to(&[]), now).unwrap();
        let mut with_ack = event(1);
        with_ack.id = Some(7);
        assert!(store.record(&mut with_ack, &to(&[]), now).is_none());
        let mut volatile = to(&[]);
        volatile.flags.volatile = true;
        assert!(store.record(&mut event(2), &volatile, now).is_none());
        let mut except = to(&[]);
        except.except = vec![Room::from("a")];
        store.record(&mut event(3), &except, now);
        store.record(&mut event(4), &to(&[]), now);
        store.persist(session("p", &["sid-p", "a"]), now);
        let restored = store.restore("p", &o, now).unwrap();
        assert_eq!(first_args(&restored.missed), vec![4]);
    }

    #[test]
    fn sessions_and_packets_expire_after_the_window() {
        let mut store = RecoveryStore::new(&config(1000, 100, 100));
        let t0 = Instant::now();
        let o = store.record(&mut event(0), &to(&[]), t0).unwrap();
        store.persist(session("p", &["sid-p"]), t0);
        let later = t0 + Duration::from_millis(1001);
        assert!(store.restore("p", &o, later).is_none());
        store.record(&mut event(1), &to(&[]), later);
        assert_eq!(store.len(), (1, 0));
    }

    #[test]
    fn the_packet_log_is_bounded_and_a_dropped_offset_is_not_recovered() {
        let mut store = RecoveryStore::new(&config(60_000, 3, 100));
        let now = Instant::now();
        let o0 = store.record(&mut event(0), &to(&[]), now).unwrap();
        let o1 = store.record(&mut event(1), &to(&[]), now).unwrap();
        for n in 2..4 {
            store.record(&mut event(n), &to(&[]), now);
        }
        assert_eq!(store.len().0, 3);
        store.persist(session("p", &["sid-p"]), now);
        assert!(store.restore("p", &o0, now).is_none());
        let restored = store.restore("p", &o1, now).unwrap();
        assert_eq!(first_args(&restored.missed), vec![2, 3]);
    }

    #[test]
    fn sessions_are_bounded_oldest_first() {
        let mut store = RecoveryStore::new(&config(60_000, 10, 2));
        let now = Instant::now();
        let o = store.record(&mut event(0), &to(&[]), now).unwrap();
        for pid in ["p1", "p2", "p3"] {
            store.persist(session(pid, &[]), now);
        }
        assert_eq!(store.len().1, 2);
        assert!(store.restore("p1", &o, now).is_none());
        assert!(store.restore("p3", &o, now).is_some());
        assert!(store.restore("p2", &o, now).is_some());
    }

    #[test]
    fn foreign_or_malformed_offsets_are_refused() {
        let mut store = RecoveryStore::new(&config(60_000, 10, 10));
        let now = Instant::now();
        store.record(&mut event(0), &to(&[]), now);
        store.persist(session("p", &[]), now);
        for offset in ["", "abc", "0-0", &format!("{}-zz", store.prefix)] {
            assert!(store.missed_since(offset, &[]).is_none(), "{offset}");
        }
        let future = format!("{}-5", store.prefix);
        assert!(store.restore("p", &future, now).is_none());
    }

    #[test]
    fn recoverable_reasons_are_the_reference_ones() {
        assert!(is_recoverable(DisconnectReason::TransportClose));
        assert!(is_recoverable(DisconnectReason::PingTimeout));
        assert!(!is_recoverable(DisconnectReason::ClientNamespaceDisconnect));
        assert!(!is_recoverable(DisconnectReason::ServerNamespaceDisconnect));
        assert!(!is_recoverable(DisconnectReason::ParseError));
    }
}
