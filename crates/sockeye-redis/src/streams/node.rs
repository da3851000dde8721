//! What one Sockeye node shares between its namespaces: its uid, a connection for
//! commands (XADD, PUBLISH, session keys, XRANGE), one for the blocking reads of the
//! stream, and one pub/sub connection for requests and answers.
//!
//! Every entry of the stream goes through [`StreamsNode::dispatch`] in stream order,
//! which also moves the node's *cursor*: the id of the last entry handed to the
//! namespaces. A recovery reads the missed packets up to the cursor and leaves the
//! later ones to the reader, so that a recovered socket gets each packet once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::{Mutex, RwLock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSub, PubSubSink};
use redis::Value as RedisValue;
use tokio::sync::{mpsc, watch};

use super::adapter::StreamsAdapter;
use super::StreamsAdapterConfig;
use crate::cluster::exchange::Transport;
use crate::cluster::message::{Message, StreamId};
use crate::RedisAdapterError;

/// Bound of the queue of messages waiting to be written to Redis.
const OUTBOX_CAPACITY: usize = 16_384;
/// Back-off between attempts while Redis is unreachable.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Run when a stream append fails (the broadcast is then delivered locally only).
pub(crate) type Fallback = Box<dyn FnOnce() + Send>;

/// Past this many kept broadcasts appended but never read back (a reader that fell
/// behind the stream's trimming), the oldest records are forgotten.
const MAX_UNCONFIRMED: usize = 65_536;

/// How this node's own clients get one of its kept broadcasts if the append fails.
pub(crate) struct LocalDelivery {
    /// The entry's [`fingerprint`].
    key: u64,
    deliver: Fallback,
}

/// A write to Redis, queued so that a node's writes keep their order.
pub(crate) enum Outgoing {
    Append {
        fields: Vec<(&'static str, Vec<u8>)>,
        local: Option<LocalDelivery>,
    },
    Publish {
        channel: String,
        payload: Vec<u8>,
    },
}

/// This node's kept broadcasts appended to the stream and not yet read back, by
/// [`fingerprint`] (counted, for identical ones). Its clients get such a broadcast
/// once: from the reader when it reads the entry back, or from the fallback when the
/// append fails, whichever comes first. Both can happen when Redis dies: an append
/// whose entry was written, and even read back, can still fail for want of an answer.
#[derive(Default)]
pub(crate) struct Unconfirmed(Mutex<HashMap<u64, usize>>);

impl Unconfirmed {
    fn add(&self, key: u64) {
        let mut pending = self.0.lock();
        if pending.len() >= MAX_UNCONFIRMED {
            tracing::warn!("kept broadcasts are not read back from the stream; forgetting them");
            pending.clear();
        }
        *pending.entry(key).or_default() += 1;
    }

    /// Takes one back; false when there was none (already delivered the other way).
    fn take(&self, key: u64) -> bool {
        let mut pending = self.0.lock();
        match pending.get_mut(&key) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                pending.remove(&key);
            }
            None => return false,
        }
        true
    }

    /// Delivers locally, unless the reader has done so already.
    fn fall_back(&self, local: LocalDelivery) {
        if self.take(local.key) {
            (local.deliver)();
        }
    }
}

/// What identifies an entry's content: its namespace and data.
fn fingerprint<K: AsRef<str>>(fields: &[(K, Vec<u8>)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (name, value) in fields {
        if matches!(name.as_ref(), "nsp" | "data") {
            name.as_ref().hash(&mut hasher);
            value.hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// One entry of the stream: its id and its fields.
pub(crate) struct RawEntry {
    pub id: StreamId,
    pub fields: Vec<(String, Vec<u8>)>,
}

pub(crate) struct StreamsNode {
    pub(crate) uid: String,
    pub(crate) config: StreamsAdapterConfig,
    pub(crate) commands: ConnectionManager,
    outbox: mpsc::Sender<Outgoing>,
    /// Namespace name → its adapter. Weak, so a dropped namespace does not live on.
    adapters: RwLock<HashMap<String, Weak<StreamsAdapter>>>,
    /// Subscribed pub/sub channel → the adapter handling it.
    channels: RwLock<HashMap<String, Weak<StreamsAdapter>>>,
    /// The pub/sub connection's sending half while it is up.
    sink: Mutex<Option<PubSubSink>>,
    /// Whether Redis is reachable, as the pub/sub connection knows at once: false from
    /// the moment it drops until it is open again. While false, writes are not queued.
    reachable: AtomicBool,
    unconfirmed: Arc<Unconfirmed>,
    /// Id of the last entry dispatched.
    cursor: watch::Sender<StreamId>,
    /// Held while an entry is dispatched, so the cursor is read between entries.
    dispatching: Mutex<()>,
    runtime: tokio::runtime::Handle,
}

impl StreamsNode {
    /// Opens the connections, finds the end of the stream (reading starts there) and
    /// starts the writing, reading and pub/sub tasks, which run as long as the process.
    pub(crate) async fn connect(
        client: redis::Client,
        config: StreamsAdapterConfig,
    ) -> Result<Arc<Self>, RedisAdapterError> {
        let commands = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(5))),
            )
            .await?;
        let reader_timeout = config.block_time + Duration::from_secs(5);
        let reader = client
            .get_connection_manager_with_config(
                ConnectionManagerConfig::new().set_response_timeout(Some(reader_timeout)),
            )
            .await?;
        let pubsub = client.get_async_pubsub().await?;
        let mut conn = commands.clone();
        let last: RedisValue = redis::cmd("XREVRANGE")
            .arg(&config.stream_name)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await?;
        let start = entries(&last).last().map(|e| e.id).unwrap_or_default();
        let (outbox, queue) = mpsc::channel(OUTBOX_CAPACITY);
        let runtime = tokio::runtime::Handle::current();
        let node = Arc::new(StreamsNode {
            uid: crate::cluster::new_id(),
            config,
            commands: commands.clone(),
            outbox,
            adapters: RwLock::default(),
            channels: RwLock::default(),
            sink: Mutex::new(None),
            reachable: AtomicBool::new(true),
            unconfirmed: Arc::default(),
            cursor: watch::Sender::new(start),
            dispatching: Mutex::new(()),
            runtime: runtime.clone(),
        });
        runtime.spawn(write_loop(
            commands,
            queue,
            node.unconfirmed.clone(),
            node.config.stream_name.clone(),
            node.config.max_len,
        ));
        runtime.spawn(read_loop(node.clone(), reader, start));
        runtime.spawn(pubsub_loop(node.clone(), client, Some(pubsub)));
        Ok(node)
    }

    /// Queues a write. While Redis is unreachable, or when the queue is full, the write
    /// is dropped (and a broadcast delivered locally only, at once): queued, it would
    /// hold this node's own kept broadcasts back from its clients until the Redis
    /// client gave up reconnecting, then reach the other nodes late.
    pub(crate) fn send(&self, item: Outgoing) {
        if !self.reachable.load(Ordering::Acquire) {
            tracing::debug!("redis is away; a cluster message is not sent");
            if let Outgoing::Append {
                local: Some(local), ..
            } = item
            {
                self.unconfirmed.fall_back(local);
            }
            return;
        }
        match self.outbox.try_send(item) {
            Ok(()) => {}
            Err(
                mpsc::error::TrySendError::Full(item) | mpsc::error::TrySendError::Closed(item),
            ) => {
                tracing::error!("redis writes are backed up; a cluster message is dropped");
                if let Outgoing::Append {
                    local: Some(local), ..
                } = item
                {
                    self.unconfirmed.fall_back(local);
                }
            }
        }
    }

    /// Appends a message to the stream. A kept broadcast comes with its `fallback`,
    /// the local delivery for when the append fails.
    pub(crate) fn append(&self, message: &Message, fallback: Option<Fallback>) {
        match message.to_stream_fields() {
            Ok(fields) => {
                let local = fallback.map(|deliver| {
                    let key = fingerprint(&fields);
                    self.unconfirmed.add(key);
                    LocalDelivery { key, deliver }
                });
                self.send(Outgoing::Append { fields, local })
            }
            Err(e) => {
                tracing::warn!("message not sent to other nodes: {e}");
                if let Some(f) = fallback {
                    f();
                }
            }
        }
    }

    /// Publishes a message on a pub/sub channel.
    pub(crate) fn publish(&self, channel: String, message: &Message) {
        match message.to_pubsub() {
            Ok(payload) => self.send(Outgoing::Publish { channel, payload }),
            Err(e) => tracing::warn!("message not sent to other nodes: {e}"),
        }
    }

    /// How many connections listen on `channel` (one per node: PUBSUB NUMSUB).
    pub(crate) async fn subscribers(&self, channel: &str) -> Result<usize, RedisAdapterError> {
        let mut conn = self.commands.clone();
        let (_, count): (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }

    /// Routes the namespace's stream entries and channels to `adapter`.
    pub(crate) fn register(&self, nsp: &str, channels: [String; 2], adapter: &Arc<StreamsAdapter>) {
        let weak = Arc::downgrade(adapter);
        self.adapters.write().insert(nsp.to_string(), weak.clone());
        {
            let mut routes = self.channels.write();
            for channel in &channels {
                routes.insert(channel.clone(), weak.clone());
            }
        }
        if let Some(mut sink) = self.sink.lock().clone() {
            self.runtime.spawn(async move {
                if let Err(e) = sink.subscribe(&channels).await {
                    tracing::error!(?channels, "cannot subscribe: {e}");
                }
            });
        }
    }

    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.runtime.spawn(task);
    }

    /// The id of the last entry dispatched, read between two entries.
    pub(crate) fn cursor(&self) -> StreamId {
        let _between = self.dispatching.lock();
        *self.cursor.borrow()
    }

    /// Waits (up to `timeout`) until the reader has dispatched the entry `id`.
    pub(crate) async fn reached(&self, id: StreamId, timeout: Duration) -> bool {
        let mut rx = self.cursor.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c >= id))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Hands one entry to its namespace and moves the cursor past it.
    fn dispatch(&self, entry: RawEntry) {
        let _dispatching = self.dispatching.lock();
        match Message::from_stream_fields(&entry.fields) {
            Ok(message) => {
                let adapter = self
                    .adapters
                    .read()
                    .get(&message.nsp)
                    .and_then(Weak::upgrade);
                // One of our kept broadcasts, unless its fallback delivered it already.
                let ours =
                    message.uid == self.uid && self.unconfirmed.take(fingerprint(&entry.fields));
                if let Some(adapter) = adapter {
                    adapter.on_stream_message(message, entry.id, ours);
                }
            }
            Err(e) => tracing::warn!(id = %entry.id, "skipping stream entry: {e}"),
        }
        self.cursor.send_replace(entry.id);
    }

    fn on_pubsub(&self, channel: &str, payload: &[u8]) {
        let adapter = self.channels.read().get(channel).and_then(Weak::upgrade);
        let Some(adapter) = adapter else { return };
        match Message::from_pubsub(payload) {
            Ok(message) => adapter.on_pubsub_message(message),
            Err(e) => tracing::warn!(channel, "skipping pub/sub message: {e}"),
        }
    }
}

/// Writes queued messages in order, batching whatever has accumulated into one pipeline.
async fn write_loop(
    mut conn: ConnectionManager,
    mut queue: mpsc::Receiver<Outgoing>,
    unconfirmed: Arc<Unconfirmed>,
    stream: String,
    max_len: usize,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, 256).await > 0 {
        let mut pipe = redis::pipe();
        for item in &batch {
            match item {
                Outgoing::Append { fields, .. } => {
                    let mut cmd = redis::cmd("XADD");
                    cmd.arg(&stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(max_len)
                        .arg("*");
                    for (name, value) in fields {
                        cmd.arg(*name).arg(value.as_slice());
                    }
                    pipe.add_command(cmd).ignore();
                }
                Outgoing::Publish { channel, payload } => {
                    pipe.cmd("PUBLISH")
                        .arg(channel)
                        .arg(payload.as_slice())
                        .ignore();
                }
            }
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::error!("cannot write to redis: {e}");
            for item in batch.drain(..) {
                if let Outgoing::Append {
                    local: Some(local), ..
                } = item
                {
                    unconfirmed.fall_back(local);
                }
            }
        }
        batch.clear();
    }
}

/// Reads the stream from `last` on, forever; when Redis fails, backs off and resumes
/// after the last entry seen.
async fn read_loop(node: Arc<StreamsNode>, mut conn: ConnectionManager, mut last: StreamId) {
    let mut backoff = MIN_BACKOFF;
    let block_ms = u64::try_from(node.config.block_time.as_millis()).unwrap_or(u64::MAX);
    loop {
        let reply: Result<RedisValue, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(node.config.read_count.max(1))
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(&node.config.stream_name)
            .arg(last.to_string())
            .query_async(&mut conn)
            .await;
        match reply {
            Ok(reply) => {
                if backoff > MIN_BACKOFF {
                    tracing::info!(%last, "reading the redis stream again");
                }
                backoff = MIN_BACKOFF;
                for entry in xread_entries(&reply) {
                    if entry.id <= last {
                        continue;
                    }
                    last = entry.id;
                    node.dispatch(entry);
                }
            }
            Err(e) => {
                tracing::warn!(%last, "cannot read the redis stream (retrying in {backoff:?}): {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

impl Transport for StreamsNode {
    fn uid(&self) -> &str {
        &self.uid
    }
    fn publish(&self, channel: String, message: &Message) {
        StreamsNode::publish(self, channel, message)
    }
    fn spawn(&self, task: sockeye::adapter::BoxFuture<'static, ()>) {
        self.runtime.spawn(task);
    }
}

/// Keeps a pub/sub connection subscribed to every registered channel, reconnecting
/// with back-off when it drops.
async fn pubsub_loop(node: Arc<StreamsNode>, client: redis::Client, mut first: Option<PubSub>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let pubsub = match first.take() {
            Some(p) => Ok(p),
            None => client.get_async_pubsub().await,
        };
        match pubsub {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                *node.sink.lock() = Some(sink.clone());
                node.reachable.store(true, Ordering::Release);
                let channels: Vec<String> = node.channels.read().keys().cloned().collect();
                let subscribed = channels.is_empty() || sink.subscribe(&channels).await.is_ok();
                if subscribed {
                    backoff = MIN_BACKOFF;
                    while let Some(msg) = stream.next().await {
                        node.on_pubsub(msg.get_channel_name(), msg.get_payload_bytes());
                    }
                }
                *node.sink.lock() = None;
                node.reachable.store(false, Ordering::Release);
                tracing::warn!("redis pub/sub connection lost; nothing is sent to other nodes until it is back");
            }
            Err(e) => {
                node.reachable.store(false, Ordering::Release);
                tracing::warn!("cannot open a redis pub/sub connection: {e}")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

// ---- reading replies ----

fn items(value: &RedisValue) -> Option<&[RedisValue]> {
    match value {
        RedisValue::Array(items) | RedisValue::Set(items) => Some(items),
        _ => None,
    }
}

fn bytes(value: &RedisValue) -> Option<Vec<u8>> {
    match value {
        RedisValue::BulkString(b) => Some(b.clone()),
        RedisValue::SimpleString(s) => Some(s.clone().into_bytes()),
        RedisValue::VerbatimString { text, .. } => Some(text.clone().into_bytes()),
        RedisValue::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// The entries of an XREAD reply (one stream), in order; `Nil` (timeout) is none.
pub(crate) fn xread_entries(reply: &RedisValue) -> Vec<RawEntry> {
    let streams: Vec<&RedisValue> = match reply {
        RedisValue::Map(pairs) => pairs.iter().map(|(_, v)| v).collect(),
        other => items(other)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| items(s).and_then(|pair| pair.get(1)))
            .collect(),
    };
    streams.into_iter().flat_map(entries).collect()
}

/// The entries of an XRANGE reply, in order. An entry with an unreadable id is
/// skipped; one with unreadable fields is kept without fields (and refused later).
pub(crate) fn entries(reply: &RedisValue) -> Vec<RawEntry> {
    let mut out = Vec::new();
    for entry in items(reply).unwrap_or_default() {
        let Some([id, fields]) = items(entry).and_then(|e| <&[RedisValue; 2]>::try_from(e).ok())
        else {
            tracing::warn!("skipping a stream entry of unexpected shape");
            continue;
        };
        let Some(id) = bytes(id).and_then(|b| StreamId::parse(&String::from_utf8_lossy(&b))) else {
            tracing::warn!("skipping a stream entry without a valid id");
            continue;
        };
        let fields = match fields {
            RedisValue::Map(pairs) => pairs
                .iter()
                .filter_map(|(k, v)| {
                    Some((String::from_utf8_lossy(&bytes(k)?).into_owned(), bytes(v)?))
                })
                .collect(),
            other => items(other)
                .unwrap_or_default()
                .chunks_exact(2)
                .filter_map(|kv| {
                    Some((
                        String::from_utf8_lossy(&bytes(&kv[0])?).into_owned(),
                        bytes(&kv[1])?,
                    ))
                })
                .collect(),
        };
        out.push(RawEntry { id, fields });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> RedisValue {
        RedisValue::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn xread_replies_are_read_and_bad_entries_skipped() {
        let good = RedisValue::Array(vec![
            bulk("5-1"),
            RedisValue::Array(vec![bulk("nsp"), bulk("/"), bulk("type"), bulk("3")]),
        ]);
        let reply = RedisValue::Array(vec![RedisValue::Array(vec![
            bulk("socket.io"),
            RedisValue::Array(vec![
                good,
                RedisValue::Array(vec![bulk("not-an-id"), RedisValue::Array(vec![])]),
                RedisValue::Int(3),
                RedisValue::Array(vec![bulk("6-0"), RedisValue::Nil]),
            ]),
        ])]);
        let got = xread_entries(&reply);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, StreamId { ms: 5, seq: 1 });
        assert_eq!(got[0].fields.len(), 2);
        assert!(got[1].fields.is_empty());
        assert!(xread_entries(&RedisValue::Nil).is_empty());
        assert!(xread_entries(&RedisValue::Int(1)).is_empty());
    }
}
