//! `cargo run --release -p sockeye-bench -- --all` (or `--quick`): builds the peer
//! servers, runs every scenario against each, one server at a time, and writes
//! BENCHMARKS.md and the charts in bench/results/.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use clap::Parser;
use sockeye_bench::peer::{self, Paths, PeerKind, GENERATOR_CORE};
use sockeye_bench::run::{self, ScenarioKind, Settings};

#[derive(Parser)]
#[command(about = "Side-by-side benchmarks of Sockeye, socketioxide and Node socket.io")]
struct Args {
    /// Everything, full size (the default when no scenario is chosen).
    #[arg(long)]
    all: bool,
    /// Short phases and at most 10k idle clients: finishes in about 3 minutes.
    #[arg(long)]
    quick: bool,
    /// Servers to measure (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    peers: Vec<PeerKind>,
    /// Scenarios to run (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<ScenarioKind>,
    /// The report to write (relative to the repository).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Where the charts and results.json go (relative to the repository).
    #[arg(long, default_value = "bench/results")]
    charts: String,
    /// A line to print at the top of the report (e.g. "the machine was busy").
    #[arg(long)]
    note: Option<String>,
    /// Run everything this many times and report the median of each figure (and the
    /// worst of each correctness check): one disturbed phase then decides nothing.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=9))]
    runs: u16,
    /// Do not build the peers first (they must be built already).
    #[arg(long)]
    no_build: bool,
    /// Measure nothing: write the report and charts again from a results.json.
    #[arg(long, value_name = "RESULTS_JSON")]
    report_from: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let paths = Paths::discover();
    if let Some(json) = &args.report_from {
        let results = std::fs::read_to_string(json)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()));
        match results {
            Ok(results) => write_outputs(&args, &paths, &results),
            Err(e) => {
                eprintln!("[bench] {}: {e}", json.display());
                std::process::exit(1);
            }
        }
        return;
    }
    let pin = peer::can_pin();
    raise_open_files_limit();
    if pin {
        // Before the runtime starts any thread: threads inherit the affinity.
        let pid = std::process::id().to_string();
        Command::new("taskset")
            .args(["-pc", GENERATOR_CORE, &pid])
            .stdout(Stdio::null())
            .status()
            .ok();
    } else {
        eprintln!("[bench] taskset not available: servers and generator are not pinned");
    }
    let peers = if args.peers.is_empty() {
        PeerKind::ALL.to_vec()
    } else {
        args.peers.clone()
    };
    let scenarios = if args.scenarios.is_empty() || args.all {
        ScenarioKind::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    let settings = if args.quick {
        Settings::quick()
    } else {
        Settings::full()
    };
    if !args.no_build {
        for &kind in &peers {
            eprintln!("[bench] building {}", kind.name());
            if let Err(e) = peer::build(kind, &paths) {
                eprintln!("[bench] {e}");
                std::process::exit(1);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("[bench] cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    for i in 0..args.runs {
        if args.runs > 1 {
            eprintln!("[bench] run {} of {}", i + 1, args.runs);
        }
        runs.push(runtime.block_on(run::run(
            &paths,
            &peers,
            &scenarios,
            &settings,
            pin,
            args.note.clone(),
        )));
    }
    let results = match run::fold(runs) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("[bench] the runs could not be folded into one: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "[bench] measured in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    write_outputs(&args, &paths, &results);
    report_problems(&results);
}

/// results.json, the charts and the report.
/// Where the analysis written by hand lives (profiles, what limits each figure).
const ANALYSIS: &str = "bench/ANALYSIS.md";

fn write_outputs(args: &Args, paths: &Paths, results: &run::Results) {
    let charts_dir = paths.repo.join(&args.charts);
    if let Err(e) = std::fs::create_dir_all(&charts_dir) {
        eprintln!("[bench] {}: {e}", charts_dir.display());
        std::process::exit(1);
    }
    match serde_json::to_string_pretty(results) {
        Ok(json) => {
            if let Err(e) = std::fs::write(charts_dir.join("results.json"), json) {
                eprintln!("[bench] results.json: {e}");
            }
        }
        Err(e) => eprintln!("[bench] results.json: {e}"),
    }
    if let Err(e) = sockeye_bench::charts::write_all(results, &charts_dir) {
        eprintln!("[bench] charts not drawn: {e}");
    }
    // The hand-written analysis goes into the report as it is.
    let analysis = std::fs::read_to_string(paths.repo.join(ANALYSIS)).ok();
    let report = sockeye_bench::report::markdown(results, &args.charts, analysis.as_deref());
    let out = paths.repo.join(&args.out);
    if let Err(e) = std::fs::write(&out, report) {
        eprintln!("[bench] {}: {e}", out.display());
        std::process::exit(1);
    }
    eprintln!(
        "[bench] wrote {} and the charts in {}",
        out.display(),
        charts_dir.display()
    );
}

/// Says how many checks failed (the details are in the report).
fn report_problems(results: &run::Results) {
    let failed: u64 = results
        .peers
        .iter()
        .map(|p| {
            p.errors.len() as u64
                + p.idle.iter().map(|r| r.checks.total()).sum::<u64>()
                + p.fanout.iter().map(|r| r.checks.total()).sum::<u64>()
                + p.echo.as_ref().map_or(0, |r| r.checks.total())
                + p.connect.iter().map(|r| r.checks.total()).sum::<u64>()
                + p.cluster.iter().map(|r| r.checks.total()).sum::<u64>()
        })
        .sum();
    if failed > 0 {
        eprintln!("[bench] {failed} correctness problems or failed scenarios: see the report");
    }
}

/// Raises the soft open-files limit to the hard one (children inherit it).
fn raise_open_files_limit() {
    let pid = std::process::id().to_string();
    let hard = sockeye_bench::procfs::open_files_hard_limit();
    Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok();
}
