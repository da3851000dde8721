//! One benchmark run: every selected peer, one at a time, through every selected
//! scenario (a fresh server process per scenario), into [`Results`].

use std::time::Duration;

use serde::Serialize;

use crate::peer::{self, Paths, PeerKind};
use crate::procfs;
use crate::scenario::connect::{connect, ConnectResult, ConnectVia};
use crate::scenario::echo::{echo, EchoResult};
use crate::scenario::fanout::{fanout, fanout_between, FanoutConfig, FanoutResult};
use crate::scenario::idle::{idle, IdleResult};
use crate::scenario::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioKind {
    Idle,
    Fanout,
    Echo,
    Connect,
    Cluster,
}

impl ScenarioKind {
    pub const ALL: [ScenarioKind; 5] = [
        ScenarioKind::Idle,
        ScenarioKind::Fanout,
        ScenarioKind::Echo,
        ScenarioKind::Connect,
        ScenarioKind::Cluster,
    ];
}

/// Sizes and durations of a run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Settings {
    pub quick: bool,
    pub idle_sizes: Vec<usize>,
    pub idle_settle_secs: f64,
    pub fanout_subscribers: Vec<usize>,
    pub fanout_saturation_secs: f64,
    pub fanout_fixed_secs: f64,
    pub fanout_fixed_deliveries_per_sec: u64,
    pub fanout_window: u64,
    pub echo_clients: usize,
    pub echo_secs: f64,
    pub connect_parallel: usize,
    pub connect_secs: f64,
    pub cluster_subscribers: Vec<usize>,
    pub cluster_fixed_deliveries_per_sec: u64,
}

impl Settings {
    pub fn full() -> Settings {
        Settings {
            quick: false,
            idle_sizes: vec![1_000, 10_000, 50_000],
            idle_settle_secs: 3.0,
            fanout_subscribers: vec![100, 1_000],
            fanout_saturation_secs: 10.0,
            fanout_fixed_secs: 10.0,
            fanout_fixed_deliveries_per_sec: 40_000,
            fanout_window: 16,
            echo_clients: 50,
            echo_secs: 10.0,
            connect_parallel: 16,
            connect_secs: 10.0,
            cluster_subscribers: vec![100, 1_000],
            cluster_fixed_deliveries_per_sec: 20_000,
        }
    }

    pub fn quick() -> Settings {
        Settings {
            quick: true,
            idle_sizes: vec![1_000, 10_000],
            idle_settle_secs: 1.0,
            fanout_saturation_secs: 3.0,
            fanout_fixed_secs: 3.0,
            echo_secs: 3.0,
            connect_secs: 3.0,
            ..Settings::full()
        }
    }

    fn fanout_config(&self, subscribers: usize) -> FanoutConfig {
        FanoutConfig {
            subscribers,
            saturation: Duration::from_secs_f64(self.fanout_saturation_secs),
            fixed: Duration::from_secs_f64(self.fanout_fixed_secs),
            fixed_deliveries_per_sec: self.fanout_fixed_deliveries_per_sec,
            window: self.fanout_window,
            drain: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PeerResults {
    pub kind: PeerKind,
    pub name: String,
    pub version: String,
    pub idle: Vec<IdleResult>,
    pub fanout: Vec<FanoutResult>,
    pub echo: Option<EchoResult>,
    pub connect: Vec<ConnectResult>,
    /// Fan-out across two nodes over Redis (CPU: both nodes).
    pub cluster: Vec<FanoutResult>,
    /// Scenarios that could not run, and why.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Machine {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub kernel: String,
    pub load_before: String,
    pub load_after: String,
    pub rustc: String,
    pub pinned: bool,
    pub open_files_limit: u64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Results {
    pub machine: Machine,
    pub settings: Settings,
    /// Idle sizes left out because the open-files limit does not allow them.
    pub idle_skipped: Vec<usize>,
    pub note: Option<String>,
    /// How many runs the figures are the median of.
    #[serde(default = "one")]
    pub runs: usize,
    pub peers: Vec<PeerResults>,
}

fn one() -> usize {
    1
}

/// Several runs of the same settings folded into one: the median of every figure, the
/// worst of every correctness counter, the load average before the first and after
/// the last run.
pub fn fold(runs: Vec<Results>) -> Result<Results, String> {
    let count = runs.len();
    let load_after = runs.last().ok_or("no run")?.machine.load_after.clone();
    let json = runs
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut folded: Results =
        serde_json::from_value(crate::median::fold(&json)).map_err(|e| e.to_string())?;
    folded.runs = count;
    folded.machine.load_after = load_after;
    for run in &runs {
        for (peer, errors) in folded
            .peers
            .iter_mut()
            .zip(run.peers.iter().map(|p| &p.errors))
        {
            for error in errors {
                if !peer.errors.contains(error) {
                    peer.errors.push(error.clone());
                }
            }
        }
    }
    Ok(folded)
}

/// Connections one process may hold here (its files limit, less a margin).
pub fn max_connections() -> usize {
    (procfs::open_files_limit() as usize).saturating_sub(500)
}

/// Runs `scenarios` against each of `peers` (built beforehand by the caller).
pub async fn run(
    paths: &Paths,
    peers: &[PeerKind],
    scenarios: &[ScenarioKind],
    settings: &Settings,
    pin: bool,
    note: Option<String>,
) -> Results {
    let load_before = load_average();
    let max = max_connections();
    let (mut idle_sizes, idle_skipped): (Vec<usize>, Vec<usize>) =
        settings.idle_sizes.iter().partition(|&&n| n <= max);
    // In place of the sizes the files limit forbids, the largest it allows.
    let largest = max / 1000 * 1000;
    if !idle_skipped.is_empty() && idle_sizes.last().is_none_or(|&n| n < largest) {
        idle_sizes.push(largest);
    }
    let mut all = Vec::new();
    for &kind in peers {
        let mut results = PeerResults {
            kind,
            name: kind.name().into(),
            version: peer::version(kind, paths),
            idle: Vec::new(),
            fanout: Vec::new(),
            echo: None,
            connect: Vec::new(),
            cluster: Vec::new(),
            errors: Vec::new(),
        };
        for &scenario in scenarios {
            if scenario == ScenarioKind::Cluster {
                if kind != PeerKind::Socketioxide {
                    eprintln!("[bench] {} / Cluster", kind.name());
                    if let Err(e) = cluster(kind, paths, settings, pin, &mut results).await {
                        results.errors.push(format!("cluster: {e}"));
                    }
                }
                continue;
            }
            eprintln!("[bench] {} / {scenario:?}", kind.name());
            let server = match peer::start(kind, paths, None, pin).await {
                Ok(server) => server,
                Err(e) => {
                    results.errors.push(format!("{scenario:?}: {e}"));
                    continue;
                }
            };
            let target = Target {
                port: server.port,
                pid: Some(server.pid),
            };
            match scenario {
                ScenarioKind::Idle => {
                    let settle = Duration::from_secs_f64(settings.idle_settle_secs);
                    match idle(target, &idle_sizes, settle).await {
                        Ok(r) => results.idle = r,
                        Err(e) => results.errors.push(format!("idle: {e}")),
                    }
                }
                ScenarioKind::Fanout => {
                    for &n in &settings.fanout_subscribers {
                        match fanout(target, &settings.fanout_config(n)).await {
                            Ok(r) => results.fanout.push(r),
                            Err(e) => results.errors.push(format!("fan-out {n}: {e}")),
                        }
                    }
                }
                ScenarioKind::Echo => {
                    let duration = Duration::from_secs_f64(settings.echo_secs);
                    match echo(target, settings.echo_clients, duration).await {
                        Ok(r) => results.echo = Some(r),
                        Err(e) => results.errors.push(format!("echo: {e}")),
                    }
                }
                ScenarioKind::Connect => {
                    let duration = Duration::from_secs_f64(settings.connect_secs);
                    for via in [ConnectVia::WebSocket, ConnectVia::PollingUpgrade] {
                        let r = connect(target, via, settings.connect_parallel, duration).await;
                        results.connect.push(r);
                    }
                }
                ScenarioKind::Cluster => {}
            }
            drop(server);
        }
        for e in &results.errors {
            eprintln!("[bench] {}: {e}", kind.name());
        }
        all.push(results);
    }
    Results {
        machine: machine(load_before, pin),
        settings: settings.clone(),
        idle_skipped,
        note,
        runs: 1,
        peers: all,
    }
}

/// Two nodes of `kind` over one redis-server (all on the server core): subscribers on
/// the second node, the publisher on the first.
async fn cluster(
    kind: PeerKind,
    paths: &Paths,
    settings: &Settings,
    pin: bool,
    results: &mut PeerResults,
) -> crate::error::Result<()> {
    let redis = peer::start_redis(paths, pin).await?;
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let first = peer::start(kind, paths, Some(&url), pin).await?;
    let second = peer::start(kind, paths, Some(&url), pin).await?;
    let publisher_on = Target {
        port: first.port,
        pid: Some(first.pid),
    };
    let subscribers_on = Target {
        port: second.port,
        pid: Some(second.pid),
    };
    for &n in &settings.cluster_subscribers {
        let mut config = settings.fanout_config(n);
        config.fixed_deliveries_per_sec = settings.cluster_fixed_deliveries_per_sec;
        let servers = [publisher_on, subscribers_on];
        match fanout_between(subscribers_on, publisher_on, &servers, &config).await {
            Ok(r) => results.cluster.push(r),
            Err(e) => results.errors.push(format!("cluster {n}: {e}")),
        }
    }
    drop((first, second, redis));
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine(load_before: String, pinned: bool) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let text = |program: &str, args: &[&str]| {
        peer::run_text(std::process::Command::new(program).args(args)).unwrap_or_default()
    };
    Machine {
        date: text("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cpu,
        cores,
        memory,
        kernel,
        load_before,
        load_after: load_average(),
        rustc: text("rustc", &["--version"]),
        pinned,
        open_files_limit: procfs::open_files_limit(),
    }
}
