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
}

/// The handshake data of the `open` packet, in the reference server's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Handshake<'a> {
    sid: &'a str,
    upgrades: &'a [&'a str],
    ping_interval: u128,
    ping_timeout: u128,
    max_payload: usize,
}

impl Engine {
    pub(crate) fn new(config: EngineConfig, handler: Arc<dyn EngineHandler>) -> Self {
        Engine {
            admission: Admission::new(config.max_sessions, config.handshake_rate),
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

    /// The `open` packet (`0{"sid":…}`) for a session starting on `transport`.
    pub(crate) fn open_packet(&self, sid: &Sid, transport: Transport) -> Bytes {
        let can_upgrade = transport == Transport::Polling
            && self.config.transports.contains(&Transport::Websocket);
        let upgrades: &[&str] = if can_upgrade { &["websocket"] } else { &[] };
        let handshake = Handshake {
            sid: sid.as_str(),
            upgrades,
            ping_interval: self.config.ping_interval.as_millis(),
            ping_timeout: self.config.ping_timeout.as_millis(),
            max_payload: self.config.max_payload,
        };
        let mut out = b"0".to_vec();
        // Serializing this plain struct to a Vec cannot fail.
        if serde_json::to_writer(&mut out, &handshake).is_err() {
            tracing::error!("could not serialize the handshake");
        }
        Bytes::from(out)
    }
}
