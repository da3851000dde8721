//! The in-memory adapter: a room index for the sockets of this node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::{Adapter, AdapterContext, AdapterError, BoxFuture, BroadcastOptions, Room, SocketId};
use crate::recovery::{RecoveryStore, RestoredSession, SessionState};
use crate::{AckError, Packet, RemoteSocket, Socket, Value};

/// Rooms of the local sockets, in both directions so that joining, leaving and
/// resolving a broadcast are all map lookups. foldhash: fast, and seeded per process
/// (room names come from clients).
#[derive(Default)]
struct RoomIndex {
    rooms: foldhash::HashMap<Room, foldhash::HashSet<SocketId>>,
    sids: foldhash::HashMap<SocketId, foldhash::HashSet<Room>>,
}

/// The default adapter: everything happens on this node.
pub struct MemoryAdapter {
    ctx: AdapterContext,
    index: RwLock<RoomIndex>,
    /// Sessions and packets kept for connection state recovery, when it is on.
    recovery: Option<Mutex<RecoveryStore>>,
}

impl MemoryAdapter {
    pub fn new(ctx: AdapterContext) -> Self {
        let recovery = ctx.recovery().map(|c| Mutex::new(RecoveryStore::new(c)));
        MemoryAdapter {
            ctx,
            index: RwLock::new(RoomIndex::default()),
            recovery,
        }
    }

    /// With connection state recovery on, keeps a broadcast event packet for the
    /// clients that will miss it, appending its offset as last argument; returns the
    /// offset. Does nothing (`None`) when recovery is off or the packet is not kept.
    pub fn record_for_recovery(
        &self,
        packet: &mut Packet,
        opts: &BroadcastOptions,
    ) -> Option<Arc<str>> {
        self.recovery
            .as_ref()?
            .lock()
            .record(packet, opts, Instant::now())
    }

    /// The namespace this adapter serves.
    pub fn context(&self) -> &AdapterContext {
        &self.ctx
    }

    /// The local sockets matching `opts`. A socket's own id works as a room that holds
    /// only that socket, without being stored in the index.
    pub fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        let index = self.index.read();
        let excluded = |id: &SocketId| {
            opts.except.iter().any(|room| {
                &**room == id.as_str()
                    || index
                        .rooms
                        .get(room)
                        .is_some_and(|members| members.contains(id))
            })
        };
        if opts.rooms.is_empty() {
            return self.ctx.sockets_where(|id| !excluded(id));
        }
        if let [room] = &opts.rooms[..] {
            // The usual broadcast: one room, whose members are distinct already.
            return match index.rooms.get(room) {
                Some(members) => self.ctx.sockets_by_id(
                    members
                        .iter()
                        .filter(|id| !excluded(id))
                        .map(SocketId::as_str),
                ),
                None => {
                    let mut own = self.ctx.sockets_by_id([&**room]);
                    own.retain(|socket| !excluded(socket.id()));
                    own
                }
            };
        }
        let mut ids: foldhash::HashSet<&SocketId> = foldhash::HashSet::default();
        let mut own_ids: Vec<&str> = Vec::new();
        for room in &opts.rooms {
            match index.rooms.get(room) {
                Some(members) => ids.extend(members.iter()),
                None => own_ids.push(room),
            }
        }
        let mut sockets = self.ctx.sockets_by_id(
            ids.into_iter()
                .filter(|id| !excluded(id))
                .map(SocketId::as_str),
        );
        for socket in self.ctx.sockets_by_id(own_ids) {
            if !excluded(socket.id()) && !sockets.iter().any(|s| s.id() == socket.id()) {
                sockets.push(socket);
            }
        }
        sockets
    }

    /// Delivers a packet to the matching local sockets, encoding it once.
    pub fn broadcast_local(&self, packet: &Packet, opts: &BroadcastOptions) {
        self.deliver(packet, opts, None);
    }

    /// [`broadcast_local`](Self::broadcast_local) of a packet that a cluster adapter
    /// keeps for recovery under `offset` (already appended as its last argument), so
    /// that a socket being recovered does not get it twice.
    pub fn broadcast_local_recorded(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        offset: &Arc<str>,
    ) {
        self.deliver(packet, opts, Some(offset));
    }

    /// [`broadcast_local`](Self::broadcast_local) of a packet recorded for recovery
    /// under `offset`, so that a socket being recovered does not get it twice.
    fn deliver(&self, packet: &Packet, opts: &BroadcastOptions, offset: Option<&Arc<str>>) {
        let recipients = self.local_sockets(opts);
        if recipients.is_empty() {
            crate::stats::broadcast(0);
            return;
        }
        let encoded = self.ctx.encode(packet);
        let mut delivered = 0;
        for socket in &recipients {
            if socket.send_recorded(&encoded, opts.flags.volatile, offset) {
                delivered += 1;
            }
        }
        crate::stats::broadcast(delivered);
    }

    /// Local part of a broadcast with acks: sends the packet with a fresh ack id to the
    /// matching local sockets and returns how many were reached and the stream of
    /// their acknowledgements.
    pub fn broadcast_with_ack_local(
        &self,
        mut packet: Packet,
        opts: &BroadcastOptions,
    ) -> (
        Vec<Socket>,
        u64,
        tokio::sync::mpsc::UnboundedReceiver<Vec<Value>>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let id = self.ctx.next_ack_id();
        packet.id = Some(id);
        let recipients = self.local_sockets(opts);
        let encoded = self.ctx.encode(&packet);
        let mut reached = Vec::with_capacity(recipients.len());
        for socket in recipients {
            socket.expect_shared_ack(id, tx.clone());
            if socket.send_encoded(&encoded, opts.flags.volatile) {
                reached.push(socket);
            } else {
                socket.forget_ack(id);
            }
        }
        crate::stats::broadcast(reached.len());
        (reached, id, rx)
    }
}

impl MemoryAdapter {
    /// Starts the local part of a broadcast with acks for a cluster adapter: sends the
    /// packet with a fresh ack id to the matching local sockets and returns the
    /// pending acknowledgements, which the caller collects at its own pace.
    pub fn broadcast_with_acks(&self, packet: Packet, opts: &BroadcastOptions) -> LocalAcks {
        let (reached, id, rx) = self.broadcast_with_ack_local(packet, opts);
        LocalAcks { reached, id, rx }
    }
}

/// The acknowledgements a local broadcast waits for (see
/// [`MemoryAdapter::broadcast_with_acks`]). Dropping it forgets the sockets' pending
/// entries, so an acknowledgement arriving later is ignored.
pub struct LocalAcks {
    reached: Vec<Socket>,
    id: u64,
    rx: tokio::sync::mpsc::UnboundedReceiver<Vec<Value>>,
}

impl LocalAcks {
    /// How many sockets the packet reached, hence how many acks may come.
    pub fn client_count(&self) -> usize {
        self.reached.len()
    }

    /// The next acknowledgement's arguments; `None` once no reached socket can answer
    /// any more (all answered or disconnected).
    pub async fn next(&mut self) -> Option<Vec<Value>> {
        self.rx.recv().await
    }
}

impl Drop for LocalAcks {
    fn drop(&mut self) {
        for socket in &self.reached {
            socket.forget_ack(self.id);
        }
    }
}

impl Adapter for MemoryAdapter {
    fn add_all(&self, id: &SocketId, rooms: &[Room]) {
        let mut index = self.index.write();
        let index = &mut *index;
        let own = index.sids.entry(id.clone()).or_default();
        for room in rooms {
            if own.insert(room.clone()) {
                index
                    .rooms
                    .entry(room.clone())
                    .or_default()
                    .insert(id.clone());
            }
        }
    }

    fn del(&self, id: &SocketId, room: &str) {
        let mut index = self.index.write();
        if let Some(own) = index.sids.get_mut(id) {
            own.remove(room);
            if own.is_empty() {
                index.sids.remove(id);
            }
        }
        if let Some(members) = index.rooms.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                index.rooms.remove(room);
            }
        }
    }

    fn del_all(&self, id: &SocketId) {
        let mut index = self.index.write();
        let Some(own) = index.sids.remove(id) else {
            return;
        };
        for room in own {
            if let Some(members) = index.rooms.get_mut(&room) {
                members.remove(id);
                if members.is_empty() {
                    index.rooms.remove(&room);
                }
            }
        }
    }

    fn socket_rooms(&self, id: &SocketId) -> Vec<Room> {
        let index = self.index.read();
        index
            .sids
            .get(id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn rooms(&self) -> Vec<Room> {
        self.index.read().rooms.keys().cloned().collect()
    }

    fn sockets(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        self.local_sockets(opts)
            .into_iter()
            .map(|s| s.id().clone())
            .collect()
    }

    fn broadcast(&self, mut packet: Packet, opts: BroadcastOptions) -> Result<(), AdapterError> {
        let offset = self.record_for_recovery(&mut packet, &opts);
        self.deliver(&packet, &opts, offset.as_ref());
        Ok(())
    }

    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Vec<Value>>, AckError>> {
        let (reached, id, rx) = self.broadcast_with_ack_local(packet, &opts);
        Box::pin(collect_acks(reached, id, rx, timeout))
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<RemoteSocket>, AdapterError>> {
        let sockets: Vec<RemoteSocket> = self
            .local_sockets(&opts)
            .iter()
            .map(RemoteSocket::from_local)
            .collect();
        Box::pin(async move { Ok(sockets) })
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError> {
        for socket in self.local_sockets(&opts) {
            self.add_all(socket.id(), &rooms);
        }
        Ok(())
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) -> Result<(), AdapterError> {
        for socket in self.local_sockets(&opts) {
            for room in &rooms {
                self.del(socket.id(), room);
            }
        }
        Ok(())
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> Result<(), AdapterError> {
        for socket in self.local_sockets(&opts) {
            socket.disconnect_with(close);
        }
        Ok(())
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, AdapterError>> {
        Box::pin(async { Ok(1) })
    }

    fn persist_session(&self, session: SessionState) {
        if let Some(store) = &self.recovery {
            store.lock().persist(session, Instant::now());
        }
    }

    fn restore_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<'static, Result<Option<RestoredSession>, AdapterError>> {
        let restored = self
            .recovery
            .as_ref()
            .and_then(|store| store.lock().restore(pid, offset, Instant::now()));
        Box::pin(async move { Ok(restored) })
    }

    fn packets_since(
        &self,
        offset: &str,
        rooms: &[Room],
    ) -> BoxFuture<'static, Result<Option<Vec<Packet>>, AdapterError>> {
        let packets = self
            .recovery
            .as_ref()
            .and_then(|store| store.lock().missed_since(offset, rooms));
        Box::pin(async move { Ok(packets) })
    }
}

/// Waits for one acknowledgement per reached socket, or the timeout. The sockets'
/// pending entries are removed either way, so a late ack is ignored.
pub async fn collect_acks(
    reached: Vec<Socket>,
    id: u64,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<Value>>,
    timeout: Duration,
) -> Result<Vec<Vec<Value>>, AckError> {
    let expected = reached.len();
    let mut received = Vec::with_capacity(expected);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    while received.len() < expected {
        tokio::select! {
            ack = rx.recv() => match ack {
                Some(args) => received.push(args),
                // Every pending entry was dropped: the remaining sockets disconnected.
                None => break,
            },
            _ = &mut deadline => {
                for socket in &reached {
                    socket.forget_ack(id);
                }
                return Err(AckError::Partial { timeout, expected, received });
            }
        }
    }
    for socket in &reached {
        socket.forget_ack(id);
    }
    if received.len() < expected {
        return Err(AckError::Partial {
            timeout,
            expected,
            received,
        });
    }
    Ok(received)
}
