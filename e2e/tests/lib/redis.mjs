// A private redis-server for the cluster suites, and the `redis-node` fixture in both
// implementations (the Rust example and e2e/reference/redis-node.mjs).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, repoRoot } from './servers.mjs';

async function waitForPort(port, child, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on port ${port} within ${timeoutMs} ms`);
}

function spawnLogged(cmd, argv, what) {
  let stderr = '';
  const child = spawn(cmd, argv, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  child.once('error', (e) => { stderr += `cannot start ${cmd}: ${e.message}`; });
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.SOCKEYE_E2E_VERBOSE) process.stderr.write(`[${what}] ${d}`);
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  return { child, stop, stderr: () => stderr };
}

/**
 * Starts /usr/bin/redis-server on a free port (never 6379).
 * Returns { url, port, stop(), restart() }: `stop` kills it, `restart` starts it again on
 * the same port (after `stop`), as when Redis comes back after an outage.
 */
export async function startRedis() {
  const port = await freePort();
  let proc;
  const launch = async () => {
    proc = spawnLogged('/usr/bin/redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], 'redis');
    await waitForPort(port, proc.child, 'redis-server');
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => proc.stop(),
    restart: launch,
  };
}

/**
 * Starts one node of the `redis-node` fixture: kind 'rust' (the example binary, built
 * with `cargo build --release -p sockeye-redis --example redis-node`) or 'node'.
 * `adapter: 'sharded'` (with `subscriptionMode`) selects the sharded adapter.
 */
export async function startRedisNode(kind, redisUrl, { requestTimeout, adapter, subscriptionMode } = {}) {
  const port = await freePort();
  let cmd;
  let argv;
  if (kind === 'node') {
    cmd = 'node';
    argv = [path.join(repoRoot, 'e2e/reference/redis-node.mjs')];
  } else {
    const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
    cmd = path.join(target, 'release/examples/redis-node');
    if (!fs.existsSync(cmd)) {
      throw new Error(`${cmd} is missing: run cargo build --release -p sockeye-redis --example redis-node`);
    }
    argv = [];
  }
  argv.push('--port', String(port), '--redis', redisUrl);
  if (requestTimeout) argv.push('--request-timeout', String(requestTimeout));
  if (adapter) argv.push('--adapter', adapter);
  if (subscriptionMode) argv.push('--subscription-mode', subscriptionMode);
  const proc = spawnLogged(cmd, argv, `${kind}-node`);
  await waitForPort(port, proc.child, `${kind} redis-node`);
  return {
    kind,
    port,
    url: `http://127.0.0.1:${port}`,
    stop: proc.stop,
    stderr: proc.stderr,
    pid: proc.child.pid,
    /** Sends a signal (SIGSTOP to freeze it, SIGKILL to kill it). */
    signal: (sig) => proc.child.kill(sig),
    /** Freezes the process (SIGSTOP) and resolves once Linux reports it stopped. */
    async freeze() {
      proc.child.kill('SIGSTOP');
      const deadline = Date.now() + 10000;
      for (;;) {
        const stat = fs.readFileSync(`/proc/${proc.child.pid}/stat`, 'utf8');
        // The state follows the parenthesised command name.
        if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'T') return;
        if (Date.now() > deadline) throw new Error(`${kind} redis-node did not stop: ${stat}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    exited: () => proc.child.exitCode !== null || proc.child.signalCode !== null,
  };
}
