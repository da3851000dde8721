//! Fan-out: one publisher, a room of subscribers. The publisher emits `pub` (room,
//! {s, t}); the server emits `msg` to the room. Every subscriber checks that it gets
//! every sequence number once and in order, and measures the latency from `t`.
//!
//! Two phases on the same connections: saturation (the publisher keeps a window of
//! undelivered messages full) and a fixed rate (latency under a load every server
//! sustains).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{nan, nan_or_f64, open_many, wait_until, Spent, Target};
use crate::checks::{CheckCounts, Checks};
use crate::client::{self, Ws};
use crate::error::Result;
use crate::latency::{Percentiles, Samples};
use crate::packet::{self, PING, PONG};

#[cfg(test)]
mod tests {
    use super::Sequence;

    #[test]
    fn sequence_counts_gaps_repeats_and_reordering() {
        let mut s = Sequence::default();
        for seq in [0, 2, 1, 1, 3, 5] {
            s.accept(seq);
        }
        assert!(!s.accept(2));
        assert_eq!(s.out_of_order, 2);
        assert_eq!(s.missing(6), 1); // 4
        assert_eq!(s.missing(8), 3); // 4, 6, 7
    }
}

#[derive(Debug, Clone)]
pub struct FanoutConfig {
    pub subscribers: usize,
    pub saturation: Duration,
    pub fixed: Duration,
    /// Deliveries per second of the fixed-rate phase (the publish rate is this divided
    /// by the number of subscribers).
    pub fixed_deliveries_per_sec: u64,
    /// Messages the slowest subscriber may lag behind the publisher at saturation:
    /// bounds every client's queue on the server (socketioxide's default buffer is 128
    /// packets per socket).
    pub window: u64,
    /// Time allowed for the last messages to arrive after a phase.
    pub drain: Duration,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FanoutResult {
    pub subscribers: usize,
    /// Messages delivered per second with the publisher as fast as the window allows.
    pub saturation_deliveries_per_sec: f64,
    #[serde(deserialize_with = "nan_or_f64")]
    pub saturation_cpu_us_per_delivery: f64,
    /// The part of it spent in the kernel.
    #[serde(default = "nan", deserialize_with = "nan_or_f64")]
    pub saturation_sys_us_per_delivery: f64,
    pub saturation_latency: Percentiles,
    pub fixed_target_deliveries_per_sec: u64,
    pub fixed_deliveries_per_sec: f64,
    #[serde(deserialize_with = "nan_or_f64")]
    pub fixed_cpu_us_per_delivery: f64,
    #[serde(default = "nan", deserialize_with = "nan_or_f64")]
    pub fixed_sys_us_per_delivery: f64,
    pub fixed_latency: Percentiles,
    pub published: u64,
    pub delivered: u64,
    pub checks: CheckCounts,
}

/// Shared between the subscribers and the publisher.
struct Shared {
    delivered: AtomicU64,
    /// Distinct messages received by each subscriber.
    received: Vec<AtomicU64>,
    record: AtomicBool,
    checks: Checks,
}

impl Shared {
    fn new(subscribers: usize) -> Shared {
        Shared {
            delivered: AtomicU64::new(0),
            received: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
            record: AtomicBool::new(false),
            checks: Checks::default(),
        }
    }

    /// Messages received by the subscriber furthest behind.
    fn slowest(&self) -> u64 {
        self.received
            .iter()
            .map(|r| r.load(Relaxed))
            .min()
            .unwrap_or(0)
    }
}

/// What a subscriber reports when it ends.
struct SubscriberEnd {
    samples_saturation: Samples,
    samples_fixed: Samples,
    order: Sequence,
    /// Whether the end marker arrived (the missing messages are counted then).
    finished: bool,
}

impl SubscriberEnd {
    fn finish(&mut self, published: u64, checks: &Checks) {
        checks
            .missing
            .fetch_add(self.order.missing(published), Relaxed);
        checks
            .out_of_order
            .fetch_add(self.order.out_of_order, Relaxed);
        self.finished = true;
    }
}

/// The sequence numbers one subscriber has received: each must come once, and in
/// order. Numbers that arrive early are remembered until the gap before them fills.
#[derive(Debug, Default)]
pub struct Sequence {
    next: u64,
    ahead: std::collections::BTreeSet<u64>,
    pub out_of_order: u64,
}

impl Sequence {
    /// Records `seq`; false if it was already received.
    pub fn accept(&mut self, seq: u64) -> bool {
        if seq < self.next {
            return false;
        }
        if seq > self.next {
            self.out_of_order += 1;
            return self.ahead.insert(seq);
        }
        self.next += 1;
        while self.ahead.remove(&self.next) {
            self.next += 1;
        }
        true
    }

    /// How many of `0..published` never arrived.
    pub fn missing(&self, published: u64) -> u64 {
        let received = self.next + self.ahead.range(..published).count() as u64;
        published.saturating_sub(received)
    }
}

/// Latency samples go to the saturation or the fixed-rate set.
const PHASE_SATURATION: u64 = 0;

/// Fan-out on one server.
pub async fn fanout(target: Target, config: &FanoutConfig) -> Result<FanoutResult> {
    fanout_between(target, target, &[target], config).await
}

/// Fan-out with the subscribers on one server and the publisher on another (the same
/// one for a single node); the CPU per delivery is that of all the `servers`.
pub async fn fanout_between(
    subscribers_on: Target,
    publisher_on: Target,
    servers: &[Target],
    config: &FanoutConfig,
) -> Result<FanoutResult> {
    let room = format!("fanout-{}", config.subscribers);
    let shared = Arc::new(Shared::new(config.subscribers));
    let port = subscribers_on.port;

    // Subscribers: connected and joined before anything is published.
    let opened = open_many(config.subscribers, 64, |i| {
        let room = room.clone();
        async move {
            let mut ws = client::connect_websocket(port, i, false).await?;
            client::join(&mut ws, &room).await?;
            Ok(ws)
        }
    })
    .await;
    let mut subscribers = Vec::with_capacity(opened.len());
    for ws in opened {
        subscribers.push(ws?);
    }
    let phase = Arc::new(AtomicU64::new(PHASE_SATURATION));
    let mut tasks = Vec::with_capacity(subscribers.len());
    for (i, ws) in subscribers.into_iter().enumerate() {
        tasks.push(tokio::spawn(subscribe(
            ws,
            i,
            shared.clone(),
            phase.clone(),
        )));
    }

    let publisher_ws =
        client::connect_websocket(publisher_on.port, config.subscribers, false).await?;
    let (sink, stream) = publisher_ws.split();
    let (pong_tx, pong_rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(publisher_reader(stream, pong_tx, shared.clone()));
    let mut publisher = Publisher {
        sink,
        pongs: pong_rx,
        room,
        seq: 0,
    };
    let n = config.subscribers as u64;

    // Saturation: publish while the slowest subscriber is less than `window` behind.
    let spent0 = Spent::of(servers);
    let delivered0 = shared.delivered.load(Relaxed);
    shared.record.store(true, Relaxed);
    let start = Instant::now();
    // The slowest subscriber's count is only read again when the window seems full.
    let mut slowest = 0;
    while start.elapsed() < config.saturation {
        if publisher.seq.saturating_sub(slowest) < config.window {
            publisher.publish(packet::now_us().max(1)).await?;
            continue;
        }
        slowest = shared.slowest();
        if publisher.seq.saturating_sub(slowest) >= config.window {
            tokio::task::yield_now().await;
        }
    }
    let elapsed = start.elapsed();
    let delivered_in_window = shared.delivered.load(Relaxed) - delivered0;
    drain(&shared, publisher.seq * n, config.drain).await;
    shared.record.store(false, Relaxed);
    let saturation_ops = shared.delivered.load(Relaxed) - delivered0;
    let (saturation_cpu, saturation_sys) = Spent::of(servers).per_op_since(spent0, saturation_ops);

    // Fixed rate.
    phase.store(PHASE_SATURATION + 1, Relaxed);
    let per_sec = (config.fixed_deliveries_per_sec as f64 / n as f64).max(1.0);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let spent1 = Spent::of(servers);
    let delivered1 = shared.delivered.load(Relaxed);
    shared.record.store(true, Relaxed);
    let start = Instant::now();
    while start.elapsed() < config.fixed {
        ticks.tick().await;
        publisher.publish(packet::now_us().max(1)).await?;
    }
    let fixed_elapsed = start.elapsed();
    let fixed_in_window = shared.delivered.load(Relaxed) - delivered1;
    drain(&shared, publisher.seq * n, config.drain).await;
    shared.record.store(false, Relaxed);
    let fixed_ops = shared.delivered.load(Relaxed) - delivered1;
    let (fixed_cpu, fixed_sys) = Spent::of(servers).per_op_since(spent1, fixed_ops);

    // The end marker (t = 0) carries the number of messages published before it.
    let published = publisher.seq;
    publisher.publish_end().await?;
    let mut saturation_samples = Samples::default();
    let mut fixed_samples = Samples::default();
    for task in tasks {
        match tokio::time::timeout(config.drain, task).await {
            Ok(Ok(mut end)) => {
                if !end.finished {
                    end.finish(published, &shared.checks);
                }
                saturation_samples.merge(end.samples_saturation);
                fixed_samples.merge(end.samples_fixed);
            }
            _ => {
                shared.checks.connection_errors.fetch_add(1, Relaxed);
            }
        }
    }
    reader.abort();
    Ok(FanoutResult {
        subscribers: config.subscribers,
        saturation_deliveries_per_sec: delivered_in_window as f64 / elapsed.as_secs_f64(),
        saturation_cpu_us_per_delivery: saturation_cpu,
        saturation_sys_us_per_delivery: saturation_sys,
        saturation_latency: saturation_samples.percentiles(),
        fixed_target_deliveries_per_sec: config.fixed_deliveries_per_sec,
        fixed_deliveries_per_sec: fixed_in_window as f64 / fixed_elapsed.as_secs_f64(),
        fixed_cpu_us_per_delivery: fixed_cpu,
        fixed_sys_us_per_delivery: fixed_sys,
        fixed_latency: fixed_samples.percentiles(),
        published,
        delivered: shared.delivered.load(Relaxed),
        checks: shared.checks.counts(),
    })
}

struct Publisher {
    sink: SplitSink<Ws, Message>,
    pongs: mpsc::UnboundedReceiver<()>,
    room: String,
    seq: u64,
}

impl Publisher {
    async fn publish(&mut self, sent_us: u64) -> Result<()> {
        while self.pongs.try_recv().is_ok() {
            self.sink.send(Message::text(PONG)).await?;
        }
        let frame = packet::publish(&self.room, self.seq, sent_us);
        self.sink.send(Message::text(frame)).await?;
        self.seq += 1;
        Ok(())
    }

    async fn publish_end(&mut self) -> Result<()> {
        let frame = packet::publish(&self.room, self.seq, 0);
        self.sink.send(Message::text(frame)).await?;
        Ok(())
    }
}

/// The publisher is not in the room: it should only see pings, which it hands to the
/// writer to answer.
async fn publisher_reader(
    mut stream: SplitStream<Ws>,
    pongs: mpsc::UnboundedSender<()>,
    shared: Arc<Shared>,
) {
    while let Some(Ok(message)) = stream.next().await {
        if let Message::Text(text) = message {
            if text.as_str() == PING {
                pongs.send(()).ok();
            } else {
                shared.checks.unexpected.fetch_add(1, Relaxed);
            }
        }
    }
}

async fn drain(shared: &Shared, expected: u64, limit: Duration) {
    wait_until(limit, || shared.delivered.load(Relaxed) >= expected).await;
}

async fn subscribe(
    mut ws: Ws,
    index: usize,
    shared: Arc<Shared>,
    phase: Arc<AtomicU64>,
) -> SubscriberEnd {
    let mut end = SubscriberEnd {
        samples_saturation: Samples::default(),
        samples_fixed: Samples::default(),
        order: Sequence::default(),
        finished: false,
    };
    loop {
        let message = match ws.next().await {
            Some(Ok(message)) => message,
            _ => {
                shared.checks.connection_errors.fetch_add(1, Relaxed);
                return end;
            }
        };
        let Message::Text(text) = message else {
            continue;
        };
        let text = text.as_str();
        let Some(delivery) = packet::parse_msg(text) else {
            if text == PING {
                if ws.send(Message::text(PONG)).await.is_err() {
                    shared.checks.connection_errors.fetch_add(1, Relaxed);
                    return end;
                }
            } else {
                shared.checks.unexpected.fetch_add(1, Relaxed);
            }
            continue;
        };
        if delivery.sent_us == 0 {
            // The end marker: `seq` messages were published before it.
            end.finish(delivery.seq, &shared.checks);
            return end;
        }
        if !end.order.accept(delivery.seq) {
            shared.checks.duplicated.fetch_add(1, Relaxed);
            continue;
        }
        shared.delivered.fetch_add(1, Relaxed);
        shared.received[index].fetch_add(1, Relaxed);
        if shared.record.load(Relaxed) {
            let latency = packet::now_us().saturating_sub(delivery.sent_us);
            if phase.load(Relaxed) == PHASE_SATURATION {
                end.samples_saturation.record(latency);
            } else {
                end.samples_fixed.record(latency);
            }
        }
    }
}
