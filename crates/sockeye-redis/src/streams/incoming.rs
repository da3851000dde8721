//! What other nodes send to a namespace: stream entries (broadcasts, room changes,
//! disconnections), applied to the local sockets in stream order, and pub/sub requests
//! and answers (see `cluster::exchange`). A message that cannot be decoded is logged and
//! skipped.

use std::sync::Arc;

use sockeye::adapter::Adapter;

use super::adapter::{push_offset, StreamsAdapter};
use crate::cluster::message::{kind, Message, StreamId};

impl StreamsAdapter {
    /// An entry of the stream, in stream order (see `node`). `ours_to_deliver`: this
    /// node appended it as a kept broadcast that its clients have not received yet.
    pub(crate) fn on_stream_message(&self, message: Message, id: StreamId, ours_to_deliver: bool) {
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
                    // their offset, so every node delivers them in stream order (unless
                    // a failed append delivered one already).
                    if own && !ours_to_deliver {
                        return;
                    }
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
        if !self.exchange.on_request_or_answer(&self.local, &message) {
            tracing::debug!(kind = message.kind, "skipping pub/sub message");
        }
    }
}
