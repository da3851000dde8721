//! What other nodes send to a namespace: stream entries (broadcasts, room changes,
//! disconnections), applied to the local sockets in stream order, and pub/sub requests
//! (fetch, broadcast with acks, server-side emits) answered on the requester's channel. A message that
//! cannot be decoded is logged and skipped.

use std::sync::Arc;

use sockeye::adapter::{collect_acks, Adapter, ServerAck, ServerEvent};
use sockeye::{AckError, Value};

use super::adapter::{push_offset, AckReport, StreamsAdapter};
use super::message::{kind, Message, StreamId};

impl StreamsAdapter {
    /// An entry of the stream, in stream order (see `node`).
    pub(crate) fn on_stream_message(&self, message: Message, id: StreamId) {
        let own = message.uid == self.node.uid;
        match message.kind {
            kind::BROADCAST => {
                if message.request_id().is_some() {
                    return;
                }
                let (mut packet, opts) = match message.broadcast_parts() {
                    Ok(parts) => parts,
                    Err(e) => {
                        tracing::warn!(%id, "skipping broadcast: {e}");
                        return;
                    }
                };
                packet.nsp = self.nsp().to_string();
                if self.is_kept(&packet, &opts) {
                    // Our own kept broadcasts are delivered here too, once they have
                    // their offset, so every node delivers them in stream order.
                    let offset: Arc<str> = id.to_string().into();
                    push_offset(&mut packet, &offset);
                    self.local.broadcast_local_recorded(&packet, &opts, &offset);
                } else if !own {
                    self.local.broadcast_local(&packet, &opts);
                }
            }
            _ if own => {}
            kind::SOCKETS_JOIN => {
                let _ = self.local.add_sockets(message.opts(), message.room_list());
            }
            kind::SOCKETS_LEAVE => {
                let _ = self.local.del_sockets(message.opts(), message.room_list());
            }
            kind::DISCONNECT_SOCKETS => {
                let _ = self
                    .local
                    .disconnect_sockets(message.opts(), message.close());
            }
            other => tracing::debug!(kind = other, "skipping stream entry of another type"),
        }
    }

    /// A message of the pub/sub channels (requests and answers).
    pub(crate) fn on_pubsub_message(&self, message: Message) {
        if message.uid == self.node.uid || message.nsp != self.nsp() {
            return;
        }
        match message.kind {
            kind::FETCH_SOCKETS => self.answer_fetch(&message),
            kind::FETCH_SOCKETS_RESPONSE => {
                let Some(request_id) = message.request_id() else {
                    return;
                };
                let waiter = self.pending.lock().get(&request_id).cloned();
                if let Some(waiter) = waiter {
                    let _ = waiter.send(message.sockets());
                }
            }
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(&message),
            kind::SERVER_SIDE_EMIT_RESPONSE => {
                let Some(request_id) = message.request_id() else {
                    return;
                };
                let waiter = self.emit_pending.lock().get(&request_id).cloned();
                if let Some(waiter) = waiter {
                    let _ = waiter.send(message.ack_value());
                }
            }
            kind::BROADCAST => self.answer_broadcast_with_ack(&message),
            kind::BROADCAST_CLIENT_COUNT | kind::BROADCAST_ACK => {
                let Some(request_id) = message.request_id() else {
                    return;
                };
                let waiter = self.ack_pending.lock().get(&request_id).cloned();
                let Some(waiter) = waiter else { return };
                let report = if message.kind == kind::BROADCAST_ACK {
                    AckReport::Ack(message.ack_value())
                } else {
                    AckReport::Count(message.client_count_value().unwrap_or(0))
                };
                let _ = waiter.send(report);
            }
            other => tracing::debug!(kind = other, "skipping pub/sub message"),
        }
    }

    /// Another node's broadcast with acknowledgements: sends it to the local recipients,
    /// tells the requester how many they are, then sends it their acknowledgements (the
    /// first argument of each) once all arrived or the broadcast's timeout passed.
    fn answer_broadcast_with_ack(&self, message: &Message) {
        let Some(request_id) = message.request_id() else {
            return;
        };
        let (mut packet, opts) = match message.broadcast_parts() {
            Ok(parts) => parts,
            Err(e) => {
                tracing::warn!("skipping broadcast with acks: {e}");
                return;
            }
        };
        packet.nsp = self.nsp().to_string();
        let timeout = message
            .flag_timeout()
            .unwrap_or(self.node.config.request_timeout);
        let (reached, id, rx) = self.local.broadcast_with_ack_local(packet, &opts);
        let channel = format!("{}{}#", self.channel_base, message.uid);
        let nsp = self.nsp().to_string();
        let count = Message::client_count(self.uid(), &nsp, &request_id, reached.len());
        self.node.publish(channel.clone(), &count);
        let node = self.node.clone();
        self.node.spawn(async move {
            let acks = match collect_acks(reached, id, rx, timeout).await {
                Ok(acks) => acks,
                Err(AckError::Partial { received, .. }) => received,
                Err(_) => Vec::new(),
            };
            for args in acks {
                let first = args.into_iter().next().unwrap_or_default();
                let ack = Message::broadcast_ack(&node.uid, &nsp, &request_id, &first);
                node.publish(channel.clone(), &ack);
            }
        });
    }

    /// Another node's SERVER_SIDE_EMIT: hands the event to the namespace's handler, with
    /// a way to answer on the emitter's channel when it waits for one.
    fn on_server_side_emit(&self, message: &Message) {
        let Some((name, args)) = message.server_event() else {
            tracing::warn!("skipping serverSideEmit without an event name");
            return;
        };
        let ack = message.request_id().map(|request_id| {
            let node = self.node.clone();
            let nsp = self.nsp().to_string();
            let channel = format!("{}{}#", self.channel_base, message.uid);
            Box::new(move |value: Value| {
                let answer =
                    Message::server_side_emit_response(&node.uid, &nsp, &request_id, &value);
                node.publish(channel, &answer);
            }) as ServerAck
        });
        let event = ServerEvent::new(name, args, ack);
        if !self.local.context().dispatch_server_event(event) {
            tracing::debug!("no handler for a server-side event; ignored");
        }
    }

    fn answer_fetch(&self, message: &Message) {
        let Some(request_id) = message.request_id() else {
            tracing::warn!("skipping fetch request without id");
            return;
        };
        let mut opts = message.opts();
        opts.flags.local = true;
        let sockets = self.local.fetch_sockets(opts);
        let channel = format!("{}{}#", self.channel_base, message.uid);
        let node = self.node.clone();
        let nsp = self.nsp().to_string();
        self.node.spawn(async move {
            // The in-memory adapter answers at once and never fails.
            let Ok(sockets) = sockets.await else { return };
            let descriptions: Vec<_> = sockets.into_iter().map(|s| s.description).collect();
            let answer = Message::fetch_response(&node.uid, &nsp, &request_id, &descriptions);
            node.publish(channel, &answer);
        });
    }
}
