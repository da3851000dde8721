//! The scenarios. Each one drives a running server (a [`Target`]) and returns its
//! numbers together with the correctness counters of the run.

pub mod connect;
pub mod echo;
pub mod fanout;
pub mod idle;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{BenchError, Result};
use crate::procfs;

/// A running server: where it listens and, when known, its process id (for memory and
/// CPU readings; `None` runs the scenario without them).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub port: u16,
    pub pid: Option<u32>,
}

impl Target {
    /// The server's CPU seconds so far (`NaN` without a pid).
    pub fn cpu_secs(&self) -> f64 {
        self.pid
            .and_then(procfs::sample)
            .map_or(f64::NAN, |s| s.cpu_secs)
    }

    /// CPU and kernel seconds so far, read together.
    pub fn spent(&self) -> Spent {
        self.pid.and_then(procfs::sample).map_or(
            Spent {
                cpu_secs: f64::NAN,
                sys_secs: f64::NAN,
            },
            |s| Spent {
                cpu_secs: s.cpu_secs,
                sys_secs: s.sys_secs,
            },
        )
    }

    /// The server's resident memory, KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(procfs::sample).map(|s| s.rss_kib)
    }
}

/// CPU seconds spent by one or more servers: in all, and in the kernel.
#[derive(Debug, Clone, Copy)]
pub struct Spent {
    pub cpu_secs: f64,
    pub sys_secs: f64,
}

impl Spent {
    /// The sum over `servers`.
    pub fn of(servers: &[Target]) -> Spent {
        servers.iter().map(Target::spent).fold(
            Spent {
                cpu_secs: 0.0,
                sys_secs: 0.0,
            },
            |a, b| Spent {
                cpu_secs: a.cpu_secs + b.cpu_secs,
                sys_secs: a.sys_secs + b.sys_secs,
            },
        )
    }

    /// Microseconds per operation since `before`: (all CPU, kernel).
    pub fn per_op_since(&self, before: Spent, ops: u64) -> (f64, f64) {
        (
            cpu_us_per_op(self.cpu_secs - before.cpu_secs, ops),
            cpu_us_per_op(self.sys_secs - before.sys_secs, ops),
        )
    }
}

/// The value of a figure missing from the results of an older run.
pub fn nan() -> f64 {
    f64::NAN
}

/// A figure that may be missing (`NaN`, which JSON writes as `null`).
pub fn nan_or_f64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// CPU seconds of the server per operation, in microseconds.
pub fn cpu_us_per_op(cpu_secs: f64, ops: u64) -> f64 {
    if ops == 0 {
        return f64::NAN;
    }
    cpu_secs * 1e6 / ops as f64
}

/// Runs `open(i)` for i in 0..n, at most `parallel` at a time; the results in order.
pub async fn open_many<T, F, Fut>(n: usize, parallel: usize, open: F) -> Vec<Result<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let permit = permits.clone().acquire_owned().await;
        let opening = open(i);
        tasks.spawn(async move {
            let result = opening.await;
            drop(permit);
            (i, result)
        });
    }
    let mut results: Vec<Option<Result<T>>> = (0..n).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined {
            results[i] = Some(result);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(BenchError::protocol("connection task panicked"))))
        .collect()
}

/// Waits until `done()` holds, checking every few milliseconds, for at most `limit`.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}
