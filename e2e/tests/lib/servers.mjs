// Starts the fixture servers described in e2e/FIXTURES.md on a free port.
//
// SOCKEYE_E2E_SERVER=node runs the Node.js reference fixtures from e2e/reference/
// instead of the Rust examples, to prove the tests assert the reference behaviour.
// The Rust examples must have been built with `cargo build --release --examples`.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const serverKind = process.env.SOCKEYE_E2E_SERVER === 'node' ? 'node' : 'rust';

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function command(fixture, port, extraArgs) {
  if (serverKind === 'node') {
    return ['node', [path.join(repoRoot, 'e2e/reference', `${fixture}.mjs`), '--port', String(port), ...extraArgs]];
  }
  const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
  return [path.join(target, 'release/examples', fixture), ['--port', String(port), ...extraArgs]];
}

async function waitForPort(port, child, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not listen on port ${port} within ${timeoutMs} ms`);
}

/**
 * Starts fixture `name` ('echo' or 'engine-echo').
 * Returns { port, url, stop(), restart() }; `restart` starts it again on the same port.
 */
export async function startServer(name, { args = [], port } = {}) {
  port = port ?? (await freePort());
  const [cmd, argv] = command(name, port, args);
  let child;
  let stderr = '';
  const launch = async () => {
    child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } });
    // A missing binary must fail the test that needs it, not crash the whole file.
    const spawnFailed = new Promise((_, reject) => child.once('error', (e) => reject(new Error(`cannot start ${cmd}: ${e.message} (build it with cargo build --release --examples)`))));
    spawnFailed.catch(() => {});
    child.stderr.on('data', (d) => {
      stderr += d;
      if (process.env.SOCKEYE_E2E_VERBOSE) process.stderr.write(d);
    });
    await Promise.race([waitForPort(port, child), spawnFailed]);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop,
    restart: async () => { await stop(); await launch(); },
    stderr: () => stderr,
  };
}
