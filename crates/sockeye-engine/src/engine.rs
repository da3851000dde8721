//! What all requests and sessions of one server share: the configuration, the
//! handler, and the table of open sessions.

use crate::admission::Admission;
use crate::stats::{Stats, STATS};
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use serde::Serialize;

use crate::{
    CloseReason, EngineConfig, EngineHandler, EngineSocket, ProtocolVersion, RequestInfo, Sid,
    Transport,
};

pub(crate) struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) handler: Arc<dyn EngineHandler>,
    pub(crate) admission: Admission,
    sessions: RwLock<HashMap<Sid, EngineSocket>>,
    /// [`open_tail`] for polling, then websocket.
    open_tails: [Vec<u8>; 2],
}

/// The handshake data of the `open` packet after the session id, in the reference
/// server's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HandshakeTail<'a> {
    upgrades: &'a [&'a str],
    ping_interval: u128,
    ping_timeout: u128,
    max_payload: usize,
}

/// The `open` packet up to the session id.
const OPEN_HEAD: &[u8] = b"0{\"sid\":\"";

/// What follows the session id in the `open` packet of a session opened on `transport`
/// (made once per server).
fn open_tail(config: &EngineConfig, transport: Transport) -> Vec<u8> {
    let can_upgrade =
        transport == Transport::Polling && config.transports.contains(&Transport::Websocket);
    let upgrades: &[&str] = if can_upgrade { &["websocket"] } else { &[] };
    let tail = HandshakeTail {
        upgrades,
        ping_interval: config.ping_interval.as_millis(),
        ping_timeout: config.ping_timeout.as_millis(),
        max_payload: config.max_payload,
    };
    // `{"upgrades":…}` with its opening brace replaced by the end of the sid field.
    let mut out = b"\",".to_vec();
    match serde_json::to_vec(&tail) {
        Ok(json) => out.extend_from_slice(json.get(1..).unwrap_or_default()),
        // A plain struct of numbers and strings always serializes.
        Err(error) => tracing::error!(%error, "could not serialize the handshake"),
    }
    out
}

impl Engine {
    pub(crate) fn new(config: EngineConfig, handler: Arc<dyn EngineHandler>) -> Self {
        Engine {
            admission: Admission::new(config.max_sessions, config.handshake_rate),
            open_tails: [
                open_tail(&config, Transport::Polling),
                open_tail(&config, Transport::Websocket),
            ],
            config,
            handler,
            sessions: RwLock::new(HashMap::new()),
        }
    }

    /// Creates and registers a session with a fresh id.
    pub(crate) fn open_session(
        self: &Arc<Self>,
        request: RequestInfo,
        protocol: ProtocolVersion,
        transport: Transport,
        polling_b64: bool,
    ) -> EngineSocket {
        let mut sessions = self.sessions.write();
        let sid = loop {
            let sid = Sid::random();
            if !sessions.contains_key(&sid) {
                break sid;
            }
        };
        let socket = EngineSocket::new(
            self.clone(),
            sid.clone(),
            protocol,
            request.into_session_copy(),
            transport,
            polling_b64,
        );
        sessions.insert(sid, socket.clone());
        Stats::add(&STATS.sessions_opened, 1);
        socket
    }

    pub(crate) fn get(&self, sid: &str) -> Option<EngineSocket> {
        self.sessions.read().get(sid).cloned()
    }

    /// Forgets a closed session (only that exact session, should its id be reused).
    pub(crate) fn remove(&self, socket: &EngineSocket) {
        let mut sessions = self.sessions.write();
        if sessions
            .get(socket.sid())
            .is_some_and(|s| Arc::ptr_eq(&s.inner, &socket.inner))
        {
            sessions.remove(socket.sid());
            Stats::add(&STATS.sessions_closed, 1);
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.sessions.read().len()
    }

    /// Closes every session: gracefully for [`CloseReason::ForcedClose`], at once
    /// otherwise.
    pub(crate) fn close_all(&self, reason: CloseReason) {
        let all: Vec<EngineSocket> = self.sessions.read().values().cloned().collect();
        for socket in all {
            socket.close_with(reason);
        }
    }

    /// The `open` packet (`0{"sid":…}`) for a session starting on `transport`: the
    /// session id, then the part every session of this server shares.
    pub(crate) fn open_packet(&self, sid: &Sid, transport: Transport) -> Bytes {
        let tail = match transport {
            Transport::Polling => &self.open_tails[0],
            Transport::Websocket => &self.open_tails[1],
        };
        let mut out = Vec::with_capacity(OPEN_HEAD.len() + sid.as_str().len() + tail.len());
        out.extend_from_slice(OPEN_HEAD);
        // Ids are base64url: nothing to escape.
        out.extend_from_slice(sid.as_str().as_bytes());
        out.extend_from_slice(tail);
        Bytes::from(out)
    }
}
