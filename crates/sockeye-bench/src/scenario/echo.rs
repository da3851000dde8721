//! Echo: clients in a closed loop, each emitting `echo` with an ack and waiting for
//! the ack (which must carry the same data) before the next emit.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::{nan, nan_or_f64, open_many, Target};
use crate::checks::{CheckCounts, Checks};
use crate::client::{self, Ws};
use crate::error::Result;
use crate::latency::{Percentiles, Samples};
use crate::packet;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct EchoResult {
    pub clients: usize,
    pub acks: u64,
    pub acks_per_sec: f64,
    #[serde(deserialize_with = "nan_or_f64")]
    pub cpu_us_per_ack: f64,
    /// The part of it spent in the kernel.
    #[serde(default = "nan", deserialize_with = "nan_or_f64")]
    pub sys_us_per_ack: f64,
    pub latency: Percentiles,
    pub checks: CheckCounts,
}

pub async fn echo(target: Target, clients: usize, duration: Duration) -> Result<EchoResult> {
    let port = target.port;
    let opened = open_many(clients, 64, move |i| {
        client::connect_websocket(port, i, false)
    })
    .await;
    let mut sockets = Vec::with_capacity(clients);
    for ws in opened {
        sockets.push(ws?);
    }
    let checks = Arc::new(Checks::default());
    let spent0 = target.spent();
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(emit_loop(ws, i, deadline, checks.clone())))
        .collect();
    let mut acks = 0;
    let mut samples = Samples::default();
    for task in tasks {
        match task.await {
            Ok((n, s)) => {
                acks += n;
                samples.merge(s);
            }
            Err(_) => {
                checks.connection_errors.fetch_add(1, Relaxed);
            }
        }
    }
    let elapsed = start.elapsed();
    let (cpu_us_per_ack, sys_us_per_ack) = target.spent().per_op_since(spent0, acks);
    Ok(EchoResult {
        clients,
        acks,
        acks_per_sec: acks as f64 / elapsed.as_secs_f64(),
        cpu_us_per_ack,
        sys_us_per_ack,
        latency: samples.percentiles(),
        checks: checks.counts(),
    })
}

async fn emit_loop(
    mut ws: Ws,
    client: usize,
    deadline: Instant,
    checks: Arc<Checks>,
) -> (u64, Samples) {
    let mut samples = Samples::default();
    let mut id = 0u64;
    while Instant::now() < deadline {
        let sent = packet::now_us();
        let data = format!(r#"{{"c":{client},"i":{id},"t":{sent},"text":"echo"}}"#);
        let frame = packet::event_with_ack(id, "echo", &data);
        if ws.send(Message::text(frame)).await.is_err() {
            checks.connection_errors.fetch_add(1, Relaxed);
            break;
        }
        let answer = match client::next_text(&mut ws).await {
            Ok(answer) => answer,
            Err(_) => {
                checks.connection_errors.fetch_add(1, Relaxed);
                break;
            }
        };
        samples.record(packet::now_us() - sent);
        match packet::parse_ack(&answer) {
            Some((ack_id, args)) if ack_id == id && same_json(args, &format!("[{data}]")) => {}
            Some(_) => {
                checks.bad_acks.fetch_add(1, Relaxed);
            }
            None => {
                checks.unexpected.fetch_add(1, Relaxed);
            }
        }
        id += 1;
    }
    (id, samples)
}

/// JSON equality regardless of key order and spacing.
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
