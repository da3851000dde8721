//! One scenario against a server started by hand, for profiling it: start the server
//! under `perf record` (or valgrind, heaptrack…) pinned to one core, then
//!
//! ```text
//! cargo run --release -p sockeye-bench --example load -- --port 3001 --pid PID fanout --subscribers 100 --fixed-secs 20
//! ```
//!
//! and read the profile of the phase alone. It prints the scenario's result as JSON,
//! with the server's CPU per operation when `--pid` is given. Nothing is started or
//! built: any server that implements the benchmark contract (see bench/README.md) will do.

use std::time::Duration;

use clap::{Parser, Subcommand};
use sockeye_bench::scenario::connect::{connect, ConnectVia};
use sockeye_bench::scenario::echo::echo;
use sockeye_bench::scenario::fanout::{fanout, FanoutConfig};
use sockeye_bench::scenario::idle::idle;
use sockeye_bench::Target;

#[derive(Parser)]
struct Args {
    /// The server's port (127.0.0.1).
    #[arg(long)]
    port: u16,
    /// The server's process id, for its CPU and memory readings.
    #[arg(long)]
    pid: Option<u32>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// One publisher, one room.
    Fanout {
        #[arg(long, default_value_t = 100)]
        subscribers: usize,
        #[arg(long, default_value_t = 0.0)]
        saturation_secs: f64,
        #[arg(long, default_value_t = 10.0)]
        fixed_secs: f64,
        #[arg(long, default_value_t = 40_000)]
        deliveries_per_sec: u64,
    },
    /// Emit with ack in a closed loop.
    Echo {
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// New connections.
    Connect {
        /// Open over polling, then upgrade.
        #[arg(long)]
        polling: bool,
        #[arg(long, default_value_t = 16)]
        parallel: usize,
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
    },
    /// Idle clients (memory).
    Idle {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 2.0)]
        settle_secs: f64,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let target = Target {
        port: args.port,
        pid: args.pid,
    };
    let json = match args.scenario {
        Scenario::Fanout {
            subscribers,
            saturation_secs,
            fixed_secs,
            deliveries_per_sec,
        } => {
            let config = FanoutConfig {
                subscribers,
                saturation: Duration::from_secs_f64(saturation_secs),
                fixed: Duration::from_secs_f64(fixed_secs),
                fixed_deliveries_per_sec: deliveries_per_sec,
                window: 16,
                drain: Duration::from_secs(20),
            };
            serde_json::to_string_pretty(&fanout(target, &config).await?)?
        }
        Scenario::Echo { clients, secs } => serde_json::to_string_pretty(
            &echo(target, clients, Duration::from_secs_f64(secs)).await?,
        )?,
        Scenario::Connect {
            polling,
            parallel,
            secs,
        } => {
            let via = if polling {
                ConnectVia::PollingUpgrade
            } else {
                ConnectVia::WebSocket
            };
            let result = connect(target, via, parallel, Duration::from_secs_f64(secs)).await;
            serde_json::to_string_pretty(&result)?
        }
        Scenario::Idle {
            clients,
            settle_secs,
        } => {
            let result = idle(target, &[clients], Duration::from_secs_f64(settle_secs)).await?;
            serde_json::to_string_pretty(&result)?
        }
    };
    println!("{json}");
    Ok(())
}
