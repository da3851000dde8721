//! Fetches the official `socket.io-client` browser bundle at build time so that the
//! gateway can serve `/socket.io/socket.io.min.js` like the Node.js server does,
//! without the bundle being committed to this repository.
//!
//! `npm pack socket.io-client@<version>` downloads the package tarball into `OUT_DIR`
//! (once: the tarball stays there and this script only reruns when it changes), the
//! system `tar` extracts `package/dist/`, and a generated `client_bundle_files.rs`
//! lists the files with `include_bytes!`. Without npm, network or tar the build still
//! succeeds with an empty list (the routes answer 404 saying why), and a
//! `cargo:warning` says what happened. `SOCKEYE_SKIP_CLIENT_BUNDLE=1` skips the
//! download on purpose.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The client version served; the one the end-to-end tests use.
const VERSION: &str = "4.8.1";

/// The files the Node.js server serves next to its endpoint.
const FILES: &[&str] = &[
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
];

/// How long `npm pack` may take before the build gives up on it (offline machines
/// sometimes hang on DNS rather than fail).
const NPM_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOCKEYE_SKIP_CLIENT_BUNDLE");
    let out_dir = match std::env::var_os("OUT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            println!("cargo:warning=OUT_DIR is not set; not embedding the client bundle");
            return;
        }
    };
    let files = if std::env::var_os("SOCKEYE_SKIP_CLIENT_BUNDLE").is_some() {
        Err("SOCKEYE_SKIP_CLIENT_BUNDLE is set".to_string())
    } else {
        fetch(&out_dir)
    };
    let (files, reason) = match files {
        Ok(files) => (files, String::new()),
        Err(reason) => {
            println!(
                "cargo:warning=socket.io-client {VERSION} bundle not embedded ({reason}); \
                 /socket.io/socket.io.min.js will answer 404"
            );
            (Vec::new(), reason)
        }
    };
    let mut generated = String::new();
    let _ = writeln!(generated, "/// The bundled socket.io-client version.");
    let _ = writeln!(generated, "pub const VERSION: &str = {VERSION:?};");
    let _ = writeln!(
        generated,
        "/// Why nothing is embedded (empty when the files are there)."
    );
    let _ = writeln!(generated, "pub const MISSING_REASON: &str = {reason:?};");
    let _ = writeln!(
        generated,
        "/// (file name, contents, ETag) of each embedded file."
    );
    let _ = writeln!(generated, "pub static FILES: &[(&str, &[u8], &str)] = &[");
    for (name, path, etag) in &files {
        let _ = writeln!(
            generated,
            "    ({name:?}, include_bytes!({:?}), {etag:?}),",
            path.display().to_string()
        );
    }
    let _ = writeln!(generated, "];");
    if let Err(e) = std::fs::write(out_dir.join("client_bundle_files.rs"), generated) {
        // Without this file the crate does not compile: fail loudly.
        panic!("cannot write client_bundle_files.rs: {e}");
    }
}

/// Downloads (if needed) and extracts the bundle; returns (name, path, ETag) per file.
fn fetch(out_dir: &Path) -> Result<Vec<(String, PathBuf, String)>, String> {
    let tarball = out_dir.join(format!("socket.io-client-{VERSION}.tgz"));
    if !tarball.exists() {
        run(
            Command::new("npm")
                .args(["pack", &format!("socket.io-client@{VERSION}"), "--silent"])
                .current_dir(out_dir),
            "npm pack",
        )?;
        if !tarball.exists() {
            return Err(format!("npm pack did not produce {}", tarball.display()));
        }
    }
    let dist = out_dir.join("socket.io-client");
    std::fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    let mut args = vec![
        "-xzf".to_string(),
        tarball.display().to_string(),
        "-C".to_string(),
        dist.display().to_string(),
    ];
    args.extend(FILES.iter().map(|f| format!("package/dist/{f}")));
    let mut tar = Command::new("tar");
    tar.args(&args);
    if let Err(e) = run(&mut tar, "tar") {
        // A corrupt tarball (an interrupted download) is fetched again next build.
        let _ = std::fs::remove_file(&tarball);
        return Err(e);
    }
    let mut files = Vec::new();
    for name in FILES {
        let path = dist.join("package/dist").join(name);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let etag = format!("\"{VERSION}-{:016x}\"", fnv1a(&bytes));
        files.push((name.to_string(), path, etag));
    }
    Ok(files)
}

/// Runs a command with a deadline, its output hidden unless it fails.
fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                return Err(format!("{what} failed ({status}): {first}"));
            }
            Ok(None) if started.elapsed() > NPM_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} took longer than {NPM_TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

/// A content hash for the ETag (stable across builds of the same file).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
