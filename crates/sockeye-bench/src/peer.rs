//! The peer servers: how each is built, started (pinned to one core) and stopped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::http;

/// The core the servers run on; the load generator takes [`GENERATOR_CORE`].
pub const SERVER_CORE: &str = "1";
pub const GENERATOR_CORE: &str = "0";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    Sockeye,
    Socketioxide,
    Node,
}

impl PeerKind {
    pub const ALL: [PeerKind; 3] = [PeerKind::Sockeye, PeerKind::Socketioxide, PeerKind::Node];

    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Sockeye => "Sockeye",
            PeerKind::Socketioxide => "socketioxide",
            PeerKind::Node => "Node socket.io",
        }
    }
}

/// Where things are: the repository and the Cargo target directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub repo: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    /// The repository this crate is in, and `$CARGO_TARGET_DIR` (or `target/`).
    pub fn discover() -> Paths {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let repo = repo.canonicalize().unwrap_or(repo);
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_relative() { repo.join(t) } else { t })
            .unwrap_or_else(|| repo.join("target"));
        Paths { repo, target }
    }

    fn socketioxide_target(&self) -> PathBuf {
        self.target.join("socketioxide")
    }

    fn node_dir(&self) -> PathBuf {
        self.repo.join("bench/node")
    }
}

/// Builds a peer (release mode), or installs its npm packages from the lockfile.
pub fn build(kind: PeerKind, paths: &Paths) -> Result<()> {
    let mut command = match kind {
        PeerKind::Sockeye => {
            let mut c = Command::new("cargo");
            c.args([
                "build",
                "--release",
                "-p",
                "sockeye",
                "--example",
                "bench-server",
            ]);
            c.current_dir(&paths.repo)
                .env("CARGO_TARGET_DIR", &paths.target);
            c
        }
        PeerKind::Socketioxide => {
            let mut c = Command::new("cargo");
            c.args(["build", "--release", "--manifest-path"])
                .arg(paths.repo.join("bench/socketioxide/Cargo.toml"));
            c.env("CARGO_TARGET_DIR", paths.socketioxide_target());
            c
        }
        PeerKind::Node => {
            if paths.node_dir().join("node_modules/socket.io").exists() {
                return Ok(());
            }
            let mut c = Command::new("npm");
            c.args(["ci", "--no-audit", "--no-fund"])
                .current_dir(paths.node_dir());
            c
        }
    };
    let status = command
        .status()
        .map_err(|e| peer_error(kind, format!("build: {e}")))?;
    if !status.success() {
        return Err(peer_error(kind, format!("build failed ({status})")));
    }
    Ok(())
}

fn peer_error(kind: PeerKind, message: String) -> BenchError {
    BenchError::Peer {
        peer: kind.name().into(),
        message,
    }
}

/// The command line of a peer listening on `port` (a cluster node with `redis`).
fn command_line(kind: PeerKind, paths: &Paths, port: u16, redis: Option<&str>) -> Vec<String> {
    let port = port.to_string();
    let mut line: Vec<String> = match kind {
        PeerKind::Sockeye if redis.is_some() => vec![
            path_string(&paths.target.join("release/sockeye-bench-redis-node")),
            "--port".into(),
            port,
        ],
        PeerKind::Sockeye => vec![
            path_string(&paths.target.join("release/examples/bench-server")),
            "--port".into(),
            port,
        ],
        PeerKind::Socketioxide => vec![
            path_string(
                &paths
                    .socketioxide_target()
                    .join("release/bench-socketioxide"),
            ),
            "--port".into(),
            port,
        ],
        PeerKind::Node => vec![
            "node".into(),
            path_string(&paths.node_dir().join("server.mjs")),
            "--port".into(),
            port,
        ],
    };
    if let Some(url) = redis {
        line.extend(["--redis".into(), url.into()]);
    }
    line
}

fn path_string(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A process started for the benchmark (a peer server, redis-server); killed when
/// dropped.
pub struct Running {
    pub port: u16,
    pub pid: u32,
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether `taskset` can pin processes here.
pub fn can_pin() -> bool {
    Command::new("taskset")
        .args(["-c", SERVER_CORE, "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `line` (pinned to [`SERVER_CORE`] with `pin`), its stderr into
/// `<target>/bench-logs/<name>-<port>.log`.
fn spawn(
    line: &[String],
    port: u16,
    name: &str,
    paths: &Paths,
    pin: bool,
) -> std::io::Result<Running> {
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", SERVER_CORE]).args(line);
        c
    } else {
        let mut c = Command::new(&line[0]);
        c.args(&line[1..]);
        c
    };
    let logs = paths.target.join("bench-logs");
    std::fs::create_dir_all(&logs)?;
    let log = File::create(logs.join(format!("{name}-{port}.log")))?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let child = command.spawn()?;
    // taskset execs the program: the pid is the server's.
    Ok(Running {
        port,
        pid: child.id(),
        child,
    })
}

/// Starts a peer pinned to [`SERVER_CORE`] and waits until `GET /health` answers 200.
/// With `redis`, a cluster node using that Redis server.
pub async fn start(
    kind: PeerKind,
    paths: &Paths,
    redis: Option<&str>,
    pin: bool,
) -> Result<Running> {
    let port = free_port()?;
    let line = command_line(kind, paths, port, redis);
    let name = format!("{kind:?}").to_lowercase();
    let mut peer = spawn(&line, port, &name, paths, pin)
        .map_err(|e| peer_error(kind, format!("cannot start {}: {e}", line.join(" "))))?;
    let limit = Duration::from_secs(30);
    let start = Instant::now();
    loop {
        if let Ok(200) = http::get_status(port, "/health").await {
            return Ok(peer);
        }
        if let Ok(Some(status)) = peer.child.try_wait() {
            return Err(peer_error(
                kind,
                format!(
                    "exited at start ({status}); see {}",
                    paths.target.join("bench-logs").display()
                ),
            ));
        }
        if start.elapsed() > limit {
            return Err(peer_error(kind, "no answer on /health within 30 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a throw-away `redis-server` (no persistence) on a free port and waits until
/// it answers PING.
pub async fn start_redis(paths: &Paths, pin: bool) -> Result<Running> {
    let port = free_port()?;
    let line: Vec<String> = [
        "redis-server",
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let redis_error = |message: String| BenchError::Peer {
        peer: "redis-server".into(),
        message,
    };
    let mut redis = spawn(&line, port, "redis", paths, pin).map_err(|e| {
        redis_error(format!(
            "cannot start redis-server ({e}); install it with `apt-get install redis-server`"
        ))
    })?;
    let start = Instant::now();
    loop {
        if ping_redis(port).await {
            return Ok(redis);
        }
        if let Ok(Some(status)) = redis.child.try_wait() {
            return Err(redis_error(format!("exited at start ({status})")));
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(redis_error("no PONG within 10 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ping_redis(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut answer).await.is_ok()
        && &answer == b"+PONG\r\n"
}

/// The version of each peer, for the report.
pub fn version(kind: PeerKind, paths: &Paths) -> String {
    match kind {
        PeerKind::Sockeye => {
            let rev = run_text(
                Command::new("git")
                    .args(["rev-parse", "--short", "HEAD"])
                    .current_dir(&paths.repo),
            );
            format!(
                "{} ({})",
                env!("CARGO_PKG_VERSION"),
                rev.unwrap_or_else(|| "unknown commit".into())
            )
        }
        PeerKind::Socketioxide => {
            let lock = std::fs::read_to_string(paths.repo.join("bench/socketioxide/Cargo.lock"))
                .unwrap_or_default();
            let version = lock
                .split("[[package]]")
                .find(|p| p.contains("name = \"socketioxide\""))
                .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
                .map(|v| v.trim_matches('"').to_owned());
            version.unwrap_or_else(|| "unknown".into())
        }
        PeerKind::Node => {
            let package = std::fs::read_to_string(
                paths.node_dir().join("node_modules/socket.io/package.json"),
            )
            .unwrap_or_default();
            let socketio = serde_json::from_str::<serde_json::Value>(&package)
                .ok()
                .and_then(|v| v["version"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown".into());
            let node =
                run_text(Command::new("node").arg("--version")).unwrap_or_else(|| "unknown".into());
            format!("socket.io {socketio} on Node.js {node}")
        }
    }
}

/// The trimmed stdout of a command that succeeded.
pub fn run_text(command: &mut Command) -> Option<String> {
    let output = command.stderr(Stdio::null()).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
