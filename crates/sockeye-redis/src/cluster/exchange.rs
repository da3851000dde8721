//! Requests between the nodes of a cluster adapter that expect answers (fetching
//! sockets, broadcasts with acknowledgements, server-side emits), and the answers this
//! node gives to the others', in socket.io-adapter's cluster-adapter protocol: a request
//! goes to every node on the namespace's channel, answers go to
//! `<channel base><requester uid>#`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sockeye::adapter::{
    collect_acks, Adapter, AdapterError, BoxFuture, BroadcastOptions, MemoryAdapter, ServerAck,
    ServerEvent, ServerSideEmitError,
};
use sockeye::{AckError, EmitError, Packet, RemoteSocket, SocketDescription, Value};
use tokio::sync::mpsc;

use super::message::{kind, Message};
use super::new_id;

/// An adapter whose requests to other nodes go through an [`Exchange`] (streams,
/// sharded): [`broadcast_with_ack`] and [`fetch_sockets`] implement those two
/// `Adapter` methods across the cluster for it.
pub(crate) trait ExchangeAdapter: Adapter {
    /// This node's sockets.
    fn local(&self) -> &MemoryAdapter;
    fn exchange(&self) -> &Exchange;
}

/// `Adapter::broadcast_with_ack` across the cluster: this node's sockets directly, the
/// other nodes' through the exchange. Resolves with every acknowledgement (remote ones
/// carry the client's first argument only, as in Node.js), or [`AckError::Partial`] at
/// the timeout. `packet.nsp` must already be the adapter's namespace.
pub(crate) fn broadcast_with_ack<A: ExchangeAdapter>(
    me: Arc<A>,
    packet: Packet,
    opts: BroadcastOptions,
    timeout: Duration,
) -> BoxFuture<'static, Result<Vec<Vec<Value>>, AckError>> {
    if opts.flags.local {
        return me.local().broadcast_with_ack(packet, opts, timeout);
    }
    Box::pin(async move {
        let nodes = match me.server_count().await {
            Ok(n) => n,
            Err(e) => return Err(AckError::Emit(EmitError::Adapter(e.to_string()))),
        };
        if nodes <= 1 {
            return me.local().broadcast_with_ack(packet, opts, timeout).await;
        }
        me.exchange()
            .broadcast_with_ack(me.local(), packet, opts, timeout, nodes - 1)
            .await
    })
}

/// `Adapter::fetch_sockets` across the cluster: this node's sockets, then one answer
/// from each other node (a timeout error when one does not answer).
pub(crate) fn fetch_sockets<A: ExchangeAdapter>(
    me: Arc<A>,
    opts: BroadcastOptions,
) -> BoxFuture<'static, Result<Vec<RemoteSocket>, AdapterError>> {
    let local = me.local().fetch_sockets(opts.clone());
    Box::pin(async move {
        let mut sockets = local.await?;
        if opts.flags.local {
            return Ok(sockets);
        }
        let nodes = me.server_count().await?;
        if nodes <= 1 {
            return Ok(sockets);
        }
        let remote = me.exchange().fetch(&opts, nodes - 1).await?;
        let adapter: Arc<dyn Adapter> = me;
        sockets.extend(
            remote
                .into_iter()
                .map(|d| RemoteSocket::new(d, adapter.clone())),
        );
        Ok(sockets)
    })
}

/// How an adapter reaches the other nodes.
pub(crate) trait Transport: Send + Sync + 'static {
    /// This node's uid.
    fn uid(&self) -> &str;
    /// Publishes a message on a channel (in order with this node's other messages).
    fn publish(&self, channel: String, message: &Message);
    /// Runs a task on the adapter's runtime.
    fn spawn(&self, task: BoxFuture<'static, ()>);
}

/// What other nodes answer to one of our requests.
enum Answer {
    Sockets(Vec<SocketDescription>),
    /// How many of its clients a node sent a broadcast with acknowledgements to.
    ClientCount(usize),
    /// One client's acknowledgement (its first argument).
    Ack(Value),
    /// A node's answer to a server-side emit.
    ServerAck(Value),
}

/// The requests of one namespace on one node.
pub(crate) struct Exchange {
    transport: Arc<dyn Transport>,
    nsp: String,
    /// Requests to every node.
    channel: String,
    /// Answers to node `uid` go to `<base><uid>#`.
    base: String,
    request_timeout: Duration,
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Answer>>>,
}

/// Forgets a pending request however its wait ends (answered, timed out, dropped).
struct PendingGuard<'a> {
    exchange: &'a Exchange,
    request_id: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.exchange.pending.lock().remove(&self.request_id);
    }
}

impl Exchange {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        nsp: &str,
        channel: String,
        base: String,
        request_timeout: Duration,
    ) -> Self {
        Exchange {
            transport,
            nsp: nsp.to_string(),
            channel,
            base,
            request_timeout,
            pending: Mutex::default(),
        }
    }

    fn uid(&self) -> &str {
        self.transport.uid()
    }

    /// The channel of the answers to node `uid`.
    pub(crate) fn answers_to(&self, uid: &str) -> String {
        format!("{}{uid}#", self.base)
    }

    /// The channel every node listens on for requests.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    fn open(&self) -> (PendingGuard<'_>, mpsc::UnboundedReceiver<Answer>) {
        let request_id = new_id();
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending.lock().insert(request_id.clone(), tx);
        let guard = PendingGuard {
            exchange: self,
            request_id,
        };
        (guard, rx)
    }

    /// FETCH_SOCKETS: one answer from each of the `expected` other nodes, or a timeout
    /// error when some node does not answer in time (as Node.js rejects).
    pub(crate) async fn fetch(
        &self,
        opts: &BroadcastOptions,
        expected: usize,
    ) -> Result<Vec<SocketDescription>, AdapterError> {
        let (guard, mut rx) = self.open();
        let request = Message::fetch(self.uid(), &self.nsp, opts, &guard.request_id);
        self.transport.publish(self.channel.clone(), &request);
        let deadline = tokio::time::sleep(self.request_timeout);
        tokio::pin!(deadline);
        let (mut sockets, mut answered) = (Vec::new(), 0);
        while answered < expected {
            tokio::select! {
                Some(answer) = rx.recv() => if let Answer::Sockets(list) = answer {
                    answered += 1;
                    sockets.extend(list);
                },
                _ = &mut deadline => {
                    tracing::warn!(answered, expected, "fetch_sockets: not every node answered");
                    return Err(AdapterError::Timeout(self.request_timeout));
                }
            }
        }
        Ok(sockets)
    }

    /// SERVER_SIDE_EMIT without answers.
    pub(crate) fn server_side_emit(&self, event: &str, args: &[Value]) {
        let message = Message::server_side_emit(self.uid(), &self.nsp, None, event, args);
        self.transport.publish(self.channel.clone(), &message);
    }

    /// SERVER_SIDE_EMIT with a request id: one answer from each of the `expected` other
    /// nodes, or a timeout error with the answers that arrived (as Node.js).
    pub(crate) async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: &[Value],
        expected: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Value>, ServerSideEmitError> {
        if expected == 0 {
            return Ok(Vec::new());
        }
        let timeout = timeout.unwrap_or(self.request_timeout);
        let (guard, mut rx) = self.open();
        let request =
            Message::server_side_emit(self.uid(), &self.nsp, Some(&guard.request_id), event, args);
        self.transport.publish(self.channel.clone(), &request);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut responses = Vec::with_capacity(expected);
        while responses.len() < expected {
            tokio::select! {
                Some(answer) = rx.recv() => if let Answer::ServerAck(value) = answer {
                    responses.push(value);
                },
                _ = &mut deadline => {
                    return Err(ServerSideEmitError::Timeout { timeout, expected, responses });
                }
            }
        }
        Ok(responses)
    }

    /// A broadcast with acknowledgements to the sockets of every node: the local ones
    /// answer directly, each of the `other_nodes` reports how many clients it reached,
    /// then their acknowledgements. Resolves with every ack, or [`AckError::Partial`]
    /// when the timeout passes first.
    pub(crate) async fn broadcast_with_ack(
        &self,
        local: &MemoryAdapter,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
        other_nodes: usize,
    ) -> Result<Vec<Vec<Value>>, AckError> {
        let (guard, mut rx) = self.open();
        let request_id = guard.request_id.as_str();
        match Message::broadcast_with_ack(self.uid(), &packet, &opts, request_id, timeout) {
            Some(message) => self.transport.publish(self.channel.clone(), &message),
            None => tracing::warn!("packet kind not forwarded to other nodes"),
        }
        let (reached, id, local_rx) = local.broadcast_with_ack_local(packet, &opts);
        let local_expected = reached.len();
        let local_acks = collect_acks(reached, id, local_rx, timeout);
        tokio::pin!(local_acks);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut local_done = None;
        let (mut counts, mut remote_expected, mut remote) = (0, 0, Vec::new());
        loop {
            if local_done.is_some() && counts >= other_nodes && remote.len() >= remote_expected {
                break;
            }
            tokio::select! {
                result = &mut local_acks, if local_done.is_none() => local_done = Some(result),
                Some(answer) = rx.recv() => match answer {
                    Answer::ClientCount(n) => {
                        counts += 1;
                        remote_expected += n;
                    }
                    Answer::Ack(value) => remote.push(vec![value]),
                    _ => {}
                },
                _ = &mut deadline => break,
            }
        }
        let local_result = match local_done {
            Some(result) => result,
            // Its own timer started with ours: it ends now too, with what it received.
            None => local_acks.await,
        };
        let complete = counts >= other_nodes && remote.len() >= remote_expected;
        let mut received = match local_result {
            Ok(acks) => acks,
            Err(AckError::Partial { received, .. }) => received,
            Err(e) => return Err(e),
        };
        let local_complete = received.len() >= local_expected;
        received.extend(remote);
        if complete && local_complete {
            Ok(received)
        } else {
            Err(AckError::Partial {
                timeout,
                expected: local_expected + remote_expected,
                received,
            })
        }
    }

    /// Handles another node's request or answer: a broadcast with acks, FETCH_SOCKETS,
    /// SERVER_SIDE_EMIT and the answers to ours. Returns false for any other message,
    /// which the adapter handles itself. `message` comes from another node of this
    /// namespace.
    pub(crate) fn on_request_or_answer(&self, local: &MemoryAdapter, message: &Message) -> bool {
        match message.kind {
            kind::BROADCAST if message.request_id().is_some() => {
                self.answer_broadcast(local, message)
            }
            kind::FETCH_SOCKETS => self.answer_fetch(local, message),
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(local, message),
            kind::FETCH_SOCKETS_RESPONSE => {
                self.deliver(message, Answer::Sockets(message.sockets()))
            }
            kind::BROADCAST_CLIENT_COUNT => {
                let count = message.client_count_value().unwrap_or(0);
                self.deliver(message, Answer::ClientCount(count));
            }
            kind::BROADCAST_ACK => self.deliver(message, Answer::Ack(message.ack_value())),
            kind::SERVER_SIDE_EMIT_RESPONSE => {
                self.deliver(message, Answer::ServerAck(message.ack_value()))
            }
            _ => return false,
        }
        true
    }

    fn deliver(&self, message: &Message, answer: Answer) {
        let Some(request_id) = message.request_id() else {
            return;
        };
        let waiter = self.pending.lock().get(&request_id).cloned();
        if let Some(waiter) = waiter {
            let _ = waiter.send(answer);
        }
    }

    /// Sends another node's broadcast with acknowledgements to the local recipients,
    /// tells the requester how many they are, then sends it their acknowledgements (the
    /// first argument of each) once all arrived or the broadcast's timeout passed.
    fn answer_broadcast(&self, local: &MemoryAdapter, message: &Message) {
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
        packet.nsp = self.nsp.clone();
        let timeout = message.flag_timeout().unwrap_or(self.request_timeout);
        let (reached, id, rx) = local.broadcast_with_ack_local(packet, &opts);
        let channel = self.answers_to(&message.uid);
        let count = Message::client_count(self.uid(), &self.nsp, &request_id, reached.len());
        self.transport.publish(channel.clone(), &count);
        let transport = self.transport.clone();
        let nsp = self.nsp.clone();
        self.transport.spawn(Box::pin(async move {
            let acks = match collect_acks(reached, id, rx, timeout).await {
                Ok(acks) => acks,
                Err(AckError::Partial { received, .. }) => received,
                Err(_) => Vec::new(),
            };
            for args in acks {
                let first = args.into_iter().next().unwrap_or_default();
                let ack = Message::broadcast_ack(transport.uid(), &nsp, &request_id, &first);
                transport.publish(channel.clone(), &ack);
            }
        }));
    }

    fn answer_fetch(&self, local: &MemoryAdapter, message: &Message) {
        let Some(request_id) = message.request_id() else {
            tracing::warn!("skipping fetch request without id");
            return;
        };
        let mut opts = message.opts();
        opts.flags.local = true;
        let sockets = local.fetch_sockets(opts);
        let channel = self.answers_to(&message.uid);
        let transport = self.transport.clone();
        let nsp = self.nsp.clone();
        self.transport.spawn(Box::pin(async move {
            // The in-memory adapter answers at once and never fails.
            let Ok(sockets) = sockets.await else { return };
            let descriptions: Vec<_> = sockets.into_iter().map(|s| s.description).collect();
            let answer = Message::fetch_response(transport.uid(), &nsp, &request_id, &descriptions);
            transport.publish(channel, &answer);
        }));
    }

    /// Hands another node's server event to the namespace's handler, with a way to
    /// answer on the emitter's channel when it waits for one.
    fn on_server_side_emit(&self, local: &MemoryAdapter, message: &Message) {
        let Some((name, args)) = message.server_event() else {
            tracing::warn!("skipping serverSideEmit without an event name");
            return;
        };
        let ack = message.request_id().map(|request_id| {
            let transport = self.transport.clone();
            let nsp = self.nsp.clone();
            let channel = self.answers_to(&message.uid);
            Box::new(move |value: Value| {
                let answer =
                    Message::server_side_emit_response(transport.uid(), &nsp, &request_id, &value);
                transport.publish(channel, &answer);
            }) as ServerAck
        });
        if !local
            .context()
            .dispatch_server_event(ServerEvent::new(name, args, ack))
        {
            tracing::debug!("no handler for a server-side event; ignored");
        }
    }
}
