//! Idle memory: the server's resident memory per connected, idle websocket client.

use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;

use super::{open_many, Target};
use crate::checks::CheckCounts;
use crate::checks::Checks;
use crate::client;
use crate::error::Result;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct IdleResult {
    pub clients: usize,
    /// Server RSS before any client, KiB.
    pub baseline_kib: u64,
    /// Server RSS with `clients` connected, KiB.
    pub rss_kib: u64,
    pub kib_per_client: f64,
    pub checks: CheckCounts,
}

/// Connects clients up to each size of `sizes` (ascending, cumulative), lets the server
/// settle for `settle`, and reads its memory. The connections answer pings meanwhile.
pub async fn idle(target: Target, sizes: &[usize], settle: Duration) -> Result<Vec<IdleResult>> {
    let checks = std::sync::Arc::new(Checks::default());
    let baseline = target.rss_kib().unwrap_or(0);
    let mut holders = JoinSet::new();
    let mut connected = 0;
    let mut results = Vec::new();
    for &size in sizes {
        let port = target.port;
        let start = connected;
        let opened = open_many(size - start, 64, move |i| {
            client::connect_websocket(port, start + i, false)
        })
        .await;
        for ws in opened {
            match ws {
                Ok(mut ws) => {
                    let checks = checks.clone();
                    holders.spawn(async move {
                        // Answers pings until the scenario ends (the task is aborted);
                        // the server should send nothing else to an idle client.
                        loop {
                            match client::next_text(&mut ws).await {
                                Ok(_) => {
                                    checks
                                        .unexpected
                                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                                Err(crate::BenchError::Timeout(..)) => continue,
                                Err(_) => {
                                    checks
                                        .connection_errors
                                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    return;
                                }
                            }
                        }
                    });
                }
                Err(_) => {
                    checks
                        .connection_errors
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        connected = size;
        tokio::time::sleep(settle).await;
        let rss = target.rss_kib().unwrap_or(0);
        results.push(IdleResult {
            clients: size,
            baseline_kib: baseline,
            rss_kib: rss,
            kib_per_client: rss.saturating_sub(baseline) as f64 / size as f64,
            checks: checks.counts(),
        });
    }
    holders.abort_all();
    while holders.join_next().await.is_some() {}
    Ok(results)
}
