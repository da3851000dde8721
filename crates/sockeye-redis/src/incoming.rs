//! What other nodes send: broadcasts to deliver here, requests to carry out and
//! answer, answers to our requests. A message that cannot be decoded is logged and
//! skipped; nothing from the network can stop the dispatcher.

use std::time::Duration;

use sockeye::adapter::{Adapter, BroadcastOptions, ServerEvent, SocketId};
use sockeye::Value;

use crate::adapter::{Answer, RedisAdapter};
use crate::wire::ack::{self, AckBroadcast};
use crate::wire::broadcast::BroadcastMessage;
use crate::wire::request::{self, is_json, room_of, rooms_of, Request, RequestType, Response};

impl RedisAdapter {
    /// A broadcast from any node (ours included: we skip it, it was delivered locally).
    pub(crate) fn on_broadcast(&self, payload: &[u8]) {
        let message = match BroadcastMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("skipping broadcast: {e}");
                return;
            }
        };
        if message.uid == self.node.uid {
            return;
        }
        if message.packet.nsp != self.local.context().name() {
            tracing::debug!(nsp = %message.packet.nsp, "skipping broadcast of another namespace");
            return;
        }
        self.local.broadcast_local(&message.packet, &message.opts);
    }

    /// A request from any node (ours included: we skip it, it was applied locally).
    pub(crate) fn on_request(&self, payload: &[u8]) {
        if !is_json(payload) {
            // Only BROADCAST (with acks) requests are msgpack.
            self.on_ack_broadcast(payload);
            return;
        }
        let request = match Request::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("skipping request: {e}");
                return;
            }
        };
        if request.uid.as_deref() == Some(self.node.uid.as_str()) {
            return;
        }
        let Some(kind) = RequestType::from_u64(request.kind) else {
            tracing::debug!(kind = request.kind, "skipping request of unknown type");
            return;
        };
        match kind {
            RequestType::Sockets => {
                let opts = BroadcastOptions {
                    rooms: rooms_of(request.rooms.as_deref().unwrap_or_default()),
                    ..Default::default()
                };
                let ids: Vec<String> = self
                    .local
                    .sockets(&opts)
                    .iter()
                    .map(|id| id.to_string())
                    .collect();
                self.answer(&request, |id| request::sockets_response(id, &ids));
            }
            RequestType::AllRooms => {
                let rooms = self.local.rooms();
                self.answer(&request, |id| request::rooms_response(id, &rooms));
            }
            RequestType::RemoteJoin | RequestType::RemoteLeave => self.remote_rooms(kind, &request),
            RequestType::RemoteDisconnect => self.remote_disconnect(&request),
            RequestType::RemoteFetch => self.remote_fetch(&request),
            RequestType::ServerSideEmit => self.on_server_side_emit(request),
            other => tracing::debug!(?other, "skipping a response type sent as a request"),
        }
    }

    fn remote_rooms(&self, kind: RequestType, request: &Request) {
        if let Some(opts) = &request.opts {
            let rooms = rooms_of(request.rooms.as_deref().unwrap_or_default());
            let opts = opts.to_options();
            let _ = match kind {
                RequestType::RemoteJoin => self.local.add_sockets(opts, rooms),
                _ => self.local.del_sockets(opts, rooms),
            };
            return;
        }
        // The single-socket form (`remoteJoin(id, room)` in Node.js).
        let (Some(sid), Some(room)) = (&request.sid, request.room.as_ref().and_then(room_of))
        else {
            tracing::warn!("skipping remote join/leave without opts nor sid/room");
            return;
        };
        let Some(socket) = self.local.context().socket(sid) else {
            return;
        };
        let id: &SocketId = socket.id();
        match kind {
            RequestType::RemoteJoin => self.local.add_all(id, &[room]),
            _ => self.local.del(id, &room),
        }
        self.answer(request, request::done_response);
    }

    fn remote_disconnect(&self, request: &Request) {
        let close = request.close.unwrap_or(false);
        if let Some(opts) = &request.opts {
            let _ = self.local.disconnect_sockets(opts.to_options(), close);
            return;
        }
        let Some(socket) = request
            .sid
            .as_deref()
            .and_then(|sid| self.local.context().socket(sid))
        else {
            return;
        };
        socket.disconnect_with(close);
        self.answer(request, request::done_response);
    }

    fn remote_fetch(&self, request: &Request) {
        let Some(request_id) = request.request_id.clone() else {
            tracing::warn!("skipping fetch request without id");
            return;
        };
        let opts = request
            .opts
            .as_ref()
            .map(|o| o.to_options())
            .unwrap_or_default();
        let sockets = self.local.fetch_sockets(opts);
        let channel = self.response_channel(request);
        let node = self.node.clone();
        self.node.spawn(async move {
            // The in-memory adapter answers at once and never fails.
            let Ok(sockets) = sockets.await else { return };
            let descriptions: Vec<_> = sockets.into_iter().map(|s| s.description).collect();
            let body = request::fetch_response(&request_id, &descriptions);
            node.publish(channel, body.into_bytes());
        });
    }

    /// Where to answer: the requester's own response channel (which Node.js 8
    /// nodes subscribe to), or the shared one for a requester that gave no uid.
    fn response_channel(&self, request: &Request) -> String {
        match &request.uid {
            Some(uid) => self.channels().response_for(uid),
            None => self.channels().response.clone(),
        }
    }

    fn answer(&self, request: &Request, body: impl FnOnce(&str) -> String) {
        let Some(request_id) = &request.request_id else {
            return;
        };
        let body = body(request_id);
        self.node
            .publish(self.response_channel(request), body.into_bytes());
    }

    /// A BROADCAST request: send the packet to our matching clients, tell the
    /// emitter how many, then forward each client's ack until the emitter's timeout.
    fn on_ack_broadcast(&self, payload: &[u8]) {
        let request = match ack::decode(payload).and_then(|m| match ack::kind_of(&m) {
            Some(kind) if kind == RequestType::Broadcast as u64 => {
                AckBroadcast::decode(&m).map(Some)
            }
            _ => Ok(None),
        }) {
            Ok(Some(r)) => r,
            Ok(None) => {
                tracing::debug!("skipping msgpack request of another type");
                return;
            }
            Err(e) => {
                tracing::warn!("skipping broadcast request: {e}");
                return;
            }
        };
        if request.uid == self.node.uid {
            return;
        }
        if request.packet.nsp != self.local.context().name() {
            return;
        }
        // As Node.js: rooms and except only (the flags concern the emitting node).
        let opts = BroadcastOptions {
            rooms: request.opts.rooms,
            except: request.opts.except,
            ..Default::default()
        };
        let mut acks = self.local.broadcast_with_acks(request.packet, &opts);
        let channel = self.channels().response_for(&request.uid);
        let count = request::client_count_response(&request.request_id, acks.client_count());
        self.node.publish(channel.clone(), count.into_bytes());
        if acks.client_count() == 0 {
            return;
        }
        let node = self.node.clone();
        let request_id = request.request_id;
        let wait = request.timeout.unwrap_or(self.node.config.request_timeout);
        self.node.spawn(async move {
            let _ = tokio::time::timeout(wait + Duration::from_millis(100), async {
                while let Some(args) = acks.next().await {
                    match ack::ack_response(&request_id, &args) {
                        Some(bytes) => {
                            node.publish(channel.clone(), bytes);
                        }
                        None => tracing::warn!("cannot encode an acknowledgement"),
                    }
                }
            })
            .await;
        });
    }

    /// SERVER_SIDE_EMIT: hand the event to the namespace's handler, with a way to
    /// answer when the emitter waits for one.
    fn on_server_side_emit(&self, mut request: Request) {
        let Some(mut data) = request.data.take() else {
            tracing::warn!("skipping serverSideEmit without data");
            return;
        };
        if data.is_empty() {
            tracing::warn!("skipping serverSideEmit without an event name");
            return;
        }
        let name = match data.remove(0) {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        let args: Vec<Value> = data.into_iter().map(Value::from).collect();
        let ack = request.request_id.clone().map(|request_id| {
            let node = self.node.clone();
            let channel = self.response_channel(&request);
            Box::new(move |value: Value| {
                let body = request::server_side_emit_response(&request_id, &value);
                node.publish(channel, body.into_bytes());
            }) as sockeye::adapter::ServerAck
        });
        let event = ServerEvent::new(name, args, ack);
        if !self.local.context().dispatch_server_event(event) {
            tracing::debug!("no handler for a server-side event; ignored");
        }
    }

    /// An answer from another node; only those to our pending requests matter.
    pub(crate) fn on_response(&self, payload: &[u8]) {
        if !is_json(payload) {
            // BROADCAST_ACK answers (msgpack).
            let Ok(message) = ack::decode(payload) else {
                tracing::warn!("skipping malformed msgpack response");
                return;
            };
            if ack::kind_of(&message) != Some(RequestType::BroadcastAck as u64) {
                return;
            }
            if let Some((request_id, args)) = ack::parse_ack_response(&message) {
                self.deliver(&request_id, || Answer::Ack(args));
            }
            return;
        }
        let response = match Response::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("skipping response: {e}");
                return;
            }
        };
        let Some(request_id) = response.request_id() else {
            return;
        };
        match response.kind.and_then(RequestType::from_u64) {
            Some(RequestType::BroadcastClientCount) => {
                let count = usize::try_from(response.client_count.unwrap_or(0)).unwrap_or(0);
                self.deliver(&request_id, || Answer::ClientCount(count));
            }
            Some(RequestType::ServerSideEmit) => {
                let value = response.data.map(Value::from).unwrap_or(Value::Null);
                self.deliver(&request_id, || Answer::ServerAck(value));
            }
            _ => {
                let nsp = self.local.context().name().to_string();
                self.deliver(&request_id, || {
                    Answer::Sockets(
                        response
                            .sockets
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|s| request::socket_description(&nsp, s))
                            .collect(),
                    )
                });
            }
        }
    }

    /// Hands an answer to the request waiting for it, if any.
    fn deliver(&self, request_id: &str, answer: impl FnOnce() -> Answer) {
        let Some(waiter) = self.pending.lock().get(request_id).cloned() else {
            return;
        };
        let _ = waiter.send(answer());
    }
}
