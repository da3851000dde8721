//! One Engine.IO connection and the sockets it multiplexes (one per namespace).

use std::sync::Arc;

use parking_lot::Mutex;
use sockeye_engine::{EngineSocket, Incoming, Outgoing, ProtocolVersion, Sid};

use crate::handlers::{poll_once, run_inline};
use crate::io::IoInner;
use crate::namespace::NamespaceInner;
use crate::parser::{self, Decoder};
use crate::recovery::{self, RestoredSession};
use crate::{
    ConnectError, DisconnectReason, EmitError, Packet, PacketData, ParserKind, ProtocolRevision,
    Socket, Value,
};

pub(crate) struct Client {
    pub(crate) engine: EngineSocket,
    pub(crate) revision: ProtocolRevision,
    pub(crate) parser: ParserKind,
    decoder: Mutex<Decoder>,
    /// Connected sockets by namespace name. A connection rarely has more than a few,
    /// so a vector beats a map in memory and speed.
    sockets: Mutex<Vec<(Arc<str>, Socket)>>,
    /// Namespaces whose connect middleware is still running.
    connecting: Mutex<Vec<Arc<str>>>,
    connect_timer: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Client {
    pub(crate) fn new(io: &IoInner, engine: EngineSocket) -> Arc<Self> {
        let revision = match engine.protocol() {
            ProtocolVersion::V3 => ProtocolRevision::V4,
            ProtocolVersion::V4 => ProtocolRevision::V5,
        };
        Arc::new(Client {
            decoder: Mutex::new(Decoder::new(
                io.config.parser,
                revision,
                io.config.decode_limits,
            )),
            engine,
            revision,
            parser: io.config.parser,
            sockets: Mutex::new(Vec::new()),
            connecting: Mutex::new(Vec::new()),
            connect_timer: Mutex::new(None),
        })
    }

    pub(crate) fn sid(&self) -> &Sid {
        self.engine.sid()
    }

    /// A v4 client is connected to `/` at once; a v5 client must send CONNECT within
    /// the connect timeout.
    pub(crate) fn start(self: &Arc<Self>, io: &Arc<IoInner>) {
        if self.revision == ProtocolRevision::V4 {
            self.connect(io, "/", None);
            return;
        }
        let weak = Arc::downgrade(self);
        let timeout = io.config.connect_timeout;
        let timer = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Some(client) = weak.upgrade() {
                if client.sockets.lock().is_empty() && client.connecting.lock().is_empty() {
                    tracing::debug!(sid = %client.sid(), "no namespace joined within connect timeout");
                    client.engine.close();
                }
            }
        });
        *self.connect_timer.lock() = Some(timer.abort_handle());
    }

    pub(crate) fn send(&self, encoded: Outgoing, volatile: bool) -> Result<(), EmitError> {
        if volatile {
            self.engine.send_volatile(encoded);
            Ok(())
        } else {
            self.engine.send(encoded).map_err(EmitError::from)
        }
    }

    fn send_packet(&self, packet: &Packet) {
        let _ = self.send(parser::encode(self.parser, self.revision, packet), false);
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        self.sockets
            .lock()
            .iter()
            .find(|(n, _)| &**n == nsp)
            .map(|(_, s)| s.clone())
    }

    pub(crate) fn remove_socket(&self, nsp: &str) {
        self.sockets.lock().retain(|(n, _)| &**n != nsp);
    }

    /// Closes the connection; its sockets disconnect with `reason`.
    pub(crate) fn close_with(&self, reason: DisconnectReason) {
        self.disconnect_all(reason);
        self.engine.close();
    }

    pub(crate) fn disconnect_all(&self, reason: DisconnectReason) {
        // A session that ends before joining a namespace must not leave its connect
        // timer (a task holding the client's allocation) running for the whole connect
        // timeout: opening and dropping sessions fast would pile them up.
        if let Some(timer) = self.connect_timer.lock().take() {
            timer.abort();
        }
        let sockets: Vec<Socket> = self.sockets.lock().drain(..).map(|(_, s)| s).collect();
        for socket in sockets {
            socket.close(reason);
        }
    }

    pub(crate) fn on_message(self: &Arc<Self>, io: &Arc<IoInner>, message: Incoming) {
        let decoded = self.decoder.lock().decode(message);
        match decoded {
            Ok(Some(packet)) => self.on_packet(io, packet),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(sid = %self.sid(), error = %e, "closing connection on a malformed packet");
                self.close_with(DisconnectReason::ParseError);
            }
        }
    }

    fn on_packet(self: &Arc<Self>, io: &Arc<IoInner>, packet: Packet) {
        if let PacketData::Connect(auth) = packet.data {
            if self.socket(&packet.nsp).is_none() {
                self.connect(io, &packet.nsp, auth);
            }
            return;
        }
        match self.socket(&packet.nsp) {
            Some(socket) => socket.on_packet(packet),
            None => {
                if self.connecting.lock().iter().any(|n| **n == *packet.nsp) {
                    tracing::debug!(sid = %self.sid(), nsp = %packet.nsp, "packet before the namespace accepted the socket");
                } else {
                    tracing::debug!(sid = %self.sid(), nsp = %packet.nsp, "packet for a namespace the client has not joined");
                }
                // The reference server closes the connection on packets in an invalid
                // state; a well-behaved client never sends them.
                self.close_with(DisconnectReason::ParseError);
            }
        }
    }

    fn connect(self: &Arc<Self>, io: &Arc<IoInner>, nsp: &str, auth: Option<Value>) {
        // Checked before the lookup, which creates dynamic namespaces.
        let joined = self.sockets.lock().len() + self.connecting.lock().len();
        if joined >= io.config.max_namespaces_per_connection {
            tracing::debug!(sid = %self.sid(), nsp, joined, "refusing a namespace: too many on this connection");
            let error = ConnectError::new("Too many namespaces");
            self.send_packet(&Packet {
                nsp: nsp.to_string(),
                id: None,
                data: PacketData::ConnectError(self.connect_error_data(&error)),
            });
            return;
        }
        let Some(ns) = io.namespace_for(nsp) else {
            self.send_packet(&Packet {
                nsp: nsp.to_string(),
                id: None,
                // Both revisions get the object form here, as from the reference server.
                data: PacketData::ConnectError(invalid_or_refused(&ConnectError::new(
                    "Invalid namespace",
                ))),
            });
            return;
        };
        {
            let mut connecting = self.connecting.lock();
            if connecting.iter().any(|n| **n == *nsp) {
                return;
            }
            connecting.push(ns.name.clone());
        }
        let id = match self.revision {
            // Reference v4 servers name sockets after the connection.
            ProtocolRevision::V4 if nsp == "/" => self.sid().clone(),
            ProtocolRevision::V4 => Sid::from(format!("{nsp}#{}", self.sid()).as_str()),
            ProtocolRevision::V5 => Sid::random(),
        };
        let auth = auth.unwrap_or_else(|| Value::Object(Default::default()));
        let recovery = self.recovery_attempt(&ns, &auth);
        let middleware = ns.middleware();
        let client = self.clone();
        let fut = Box::pin(async move {
            let mut missed = None;
            let socket = match recovery {
                Some((pid, offset)) => match client.restore(&ns, &pid, &offset).await {
                    Some(restored) => {
                        missed = Some(restored.missed);
                        Socket::restored(restored.state, ns.clone(), client.clone(), auth)
                    }
                    None => Socket::new(id, ns.clone(), client.clone(), auth),
                },
                None => Socket::new(id, ns.clone(), client.clone(), auth),
            };
            let skip = missed.is_some() && ns.recovery.as_ref().is_some_and(|r| r.skip_middlewares);
            if !skip {
                for mw in middleware {
                    if let Err(err) = mw(socket.clone()).await {
                        return (socket, Err(err), missed);
                    }
                }
            }
            (socket, Ok(()), missed)
        });
        let client = self.clone();
        match poll_once(fut) {
            Ok((socket, result, missed)) => client.finish_connect(socket, result, missed),
            Err(fut) => {
                tokio::spawn(async move {
                    let (socket, result, missed) = fut.await;
                    client.finish_connect(socket, result, missed);
                });
            }
        }
    }

    /// The `{pid, offset}` of a v5 client asking to recover its session, when the
    /// server has recovery on.
    fn recovery_attempt(&self, ns: &NamespaceInner, auth: &Value) -> Option<(String, String)> {
        ns.recovery.as_ref()?;
        if self.revision != ProtocolRevision::V5 {
            return None;
        }
        let pid = auth.get("pid")?.as_str()?;
        let offset = auth.get("offset")?.as_str()?;
        Some((pid.to_string(), offset.to_string()))
    }

    async fn restore(
        &self,
        ns: &NamespaceInner,
        pid: &str,
        offset: &str,
    ) -> Option<RestoredSession> {
        match ns.adapter.restore_session(pid, offset).await {
            Ok(Some(restored)) => {
                tracing::debug!(sid = %self.sid(), socket = %restored.state.sid, missed = restored.missed.len(), "connection state recovered");
                Some(restored)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(sid = %self.sid(), error = %e, "could not restore a session; the client gets a new socket");
                None
            }
        }
    }

    /// The payload of a refusal: `{message, data}` in v5. In v4 the reference server
    /// sends the error's data when it has some, its message otherwise.
    fn connect_error_data(&self, err: &ConnectError) -> Value {
        match (self.revision, &err.data) {
            (ProtocolRevision::V4, Some(data)) => data.clone(),
            (ProtocolRevision::V4, None) => Value::String(err.message.clone()),
            (ProtocolRevision::V5, _) => invalid_or_refused(err),
        }
    }

    fn finish_connect(
        self: &Arc<Self>,
        socket: Socket,
        result: Result<(), ConnectError>,
        missed: Option<Vec<Packet>>,
    ) {
        let nsp: Arc<str> = socket.inner.ns.name.clone();
        self.connecting.lock().retain(|n| *n != nsp);
        if !self.engine.is_open() {
            socket.inner.ns.adapter.del_all(socket.id());
            return;
        }
        if let Err(err) = result {
            socket.inner.ns.adapter.del_all(socket.id());
            let data = self.connect_error_data(&err);
            self.send_packet(&Packet {
                nsp: nsp.to_string(),
                id: None,
                data: PacketData::ConnectError(data),
            });
            return;
        }
        if let Some(timer) = self.connect_timer.lock().take() {
            timer.abort();
        }
        socket.mark_connected();
        socket
            .inner
            .ns
            .sockets
            .write()
            .insert(socket.id().clone(), socket.clone());
        socket.inner.ns.adapter.socket_connected(socket.id());
        self.sockets.lock().push((nsp.clone(), socket.clone()));
        let data = match self.revision {
            ProtocolRevision::V4 => None,
            ProtocolRevision::V5 => {
                let mut map = crate::Map::default();
                map.insert("sid".into(), Value::String(socket.id().to_string()));
                if let Some(pid) = socket.pid() {
                    map.insert("pid".into(), Value::String(pid.to_string()));
                }
                Some(Value::Object(map))
            }
        };
        self.send_packet(&Packet {
            nsp: nsp.to_string(),
            id: None,
            data: PacketData::Connect(data),
        });
        if let Some(missed) = missed {
            replay_missed(&socket, missed);
        }
        let on_connection = socket.inner.ns.handlers.on_connection.read().clone();
        run_inline(on_connection(socket));
    }
}

/// Sends a recovered socket what it missed: the packets found when its session was
/// restored, then those broadcast while it was not yet reachable (asked again now that
/// it is), then the broadcasts held back meanwhile.
fn replay_missed(socket: &Socket, mut missed: Vec<Packet>) {
    let Some(last) = missed
        .last()
        .and_then(recovery::offset_of)
        .map(str::to_string)
        .or_else(|| {
            socket
                .auth()
                .get("offset")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    else {
        socket.finish_replay(missed);
        return;
    };
    let rooms = socket.rooms();
    let since = socket.inner.ns.adapter.packets_since(&last, &rooms);
    let socket = socket.clone();
    let fut: crate::handlers::BoxFuture<()> = Box::pin(async move {
        match since.await {
            Ok(Some(later)) => missed.extend(later),
            Ok(None) => {
                tracing::debug!(socket = %socket.id(), "no packets kept after the last replayed one")
            }
            Err(e) => {
                tracing::warn!(socket = %socket.id(), error = %e, "could not read the packets sent during a recovery")
            }
        }
        socket.finish_replay(missed);
    });
    run_inline(fut);
}

/// `{"message": …, "data": …}`, the v5 form of a `connect_error`.
fn invalid_or_refused(err: &ConnectError) -> Value {
    let mut map = crate::Map::default();
    map.insert("message".into(), Value::String(err.message.clone()));
    if let Some(data) = &err.data {
        map.insert("data".into(), data.clone());
    }
    Value::Object(map)
}
