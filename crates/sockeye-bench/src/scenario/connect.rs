//! Connect: new Socket.IO connections per second, each opened, connected to `/` and
//! closed (reset, so no TIME_WAIT piles up), by a few clients in parallel.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{nan, nan_or_f64, Target};
use crate::checks::{CheckCounts, Checks};
use crate::client;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum ConnectVia {
    /// Straight to websocket.
    #[serde(rename = "websocket")]
    WebSocket,
    /// HTTP long-polling handshake, then upgrade to websocket.
    #[serde(rename = "polling→websocket")]
    PollingUpgrade,
}

impl ConnectVia {
    pub fn label(self) -> &'static str {
        match self {
            ConnectVia::WebSocket => "websocket",
            ConnectVia::PollingUpgrade => "polling→websocket upgrade",
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ConnectResult {
    pub via: ConnectVia,
    pub connections: u64,
    pub connections_per_sec: f64,
    #[serde(deserialize_with = "nan_or_f64")]
    pub cpu_us_per_connection: f64,
    /// The part of it spent in the kernel.
    #[serde(default = "nan", deserialize_with = "nan_or_f64")]
    pub sys_us_per_connection: f64,
    pub checks: CheckCounts,
}

pub async fn connect(
    target: Target,
    via: ConnectVia,
    parallel: usize,
    duration: Duration,
) -> ConnectResult {
    let checks = Arc::new(Checks::default());
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let spent0 = target.spent();
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..parallel)
        .map(|_| {
            let (checks, done, counter) = (checks.clone(), done.clone(), counter.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let i = counter.fetch_add(1, Relaxed) as usize;
                    let opened = match via {
                        ConnectVia::WebSocket => {
                            client::connect_websocket(target.port, i, true).await
                        }
                        ConnectVia::PollingUpgrade => {
                            client::connect_polling_upgrade(target.port, i).await
                        }
                    };
                    match opened {
                        Ok(ws) => {
                            drop(ws);
                            done.fetch_add(1, Relaxed);
                        }
                        Err(_) => {
                            checks.connection_errors.fetch_add(1, Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        if task.await.is_err() {
            checks.connection_errors.fetch_add(1, Relaxed);
        }
    }
    let elapsed = start.elapsed();
    // Let the server finish tearing the last connections down before reading its CPU.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let connections = done.load(Relaxed);
    let (cpu_us_per_connection, sys_us_per_connection) =
        target.spent().per_op_since(spent0, connections);
    ConnectResult {
        via,
        connections,
        connections_per_sec: connections as f64 / elapsed.as_secs_f64(),
        cpu_us_per_connection,
        sys_us_per_connection,
        checks: checks.counts(),
    }
}
