// Two `sockeye` gateway nodes (one Redis cluster) behind a real nginx configured with
// docs/nginx/sockeye.conf, with socket.io-client 4 clients connecting through nginx:
// long-polling works because ip_hash keeps each client on one node, the WebSocket upgrade
// passes through, and a broadcast published into Redis reaches the clients of both nodes.
// The same configuration without ip_hash shows why polling needs sticky sessions.
//
// Clients come from different source addresses (127.0.N.1, all loopback on Linux) so that
// ip_hash, which keys on the first three bytes of the address, spreads them over the nodes.
// Skipped, with a message, only when nginx is not installed (apt-get install nginx).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { Emitter } from '@socket.io/redis-emitter';
import { startRedis } from './lib/redis.mjs';
import { freePort, repoRoot } from './lib/servers.mjs';
import { ioV4, once, withTimeout, sleep, waitTransport } from './lib/sio.mjs';

const WAIT = 10000;
const TEST_TIMEOUT = 60000;
const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
const sockeyeBin = path.join(target, 'release/sockeye');
const nginxBin = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'].find((p) => fs.existsSync(p));
const confPath = path.join(repoRoot, 'docs/nginx/sockeye.conf');

async function waitForPort(port, child, what, log) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}: ${log()}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on port ${port}: ${log()}`);
}

/** Runs `cmd argv` until stop(); resolves once `port` accepts connections. */
async function startProcess(cmd, argv, port, what) {
  let stderr = '';
  const child = spawn(cmd, argv, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.SOCKEYE_E2E_VERBOSE) process.stderr.write(`[${what}] ${d}`);
  });
  await waitForPort(port, child, what, () => stderr);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  return { stop };
}

async function startGateway(redisUrl) {
  if (!fs.existsSync(sockeyeBin)) {
    throw new Error(`${sockeyeBin} is missing: run cargo build --release -p sockeye-server`);
  }
  const port = await freePort();
  const proc = await startProcess(sockeyeBin, ['--listen', `127.0.0.1:${port}`, '--redis', redisUrl], port, 'gateway');
  return { port, stop: proc.stop };
}

/**
 * nginx with the documented configuration, its upstream pointed at `ports` and its
 * listener at a free port; `sticky: false` removes ip_hash (round robin).
 */
async function startNginx(ports, { sticky = true } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockeye-nginx-'));
  const port = await freePort();
  let site = fs.readFileSync(confPath, 'utf8');
  const servers = ports.map((p) => `    server 127.0.0.1:${p};`).join('\n');
  let replaced = false;
  site = site.replace(/^\s*server\s+[\d.]+:\d+;\n/gm, () => {
    if (replaced) return '';
    replaced = true;
    return `${servers}\n`;
  });
  assert.ok(replaced, `${confPath} lists no upstream server`);
  assert.match(site, /^\s*listen 80;$/m, `${confPath} has no "listen 80;"`);
  site = site.replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
  if (!sticky) {
    assert.match(site, /^\s*ip_hash;$/m);
    site = site.replace(/^\s*ip_hash;$/m, '');
  }
  fs.writeFileSync(path.join(dir, 'site.conf'), site);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), [
    'daemon off;',
    // One process, so that stopping it leaves no orphaned worker behind.
    'master_process off;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    `  include ${dir}/site.conf;`,
    '}',
    '',
  ].join('\n'));
  const proc = await startProcess(nginxBin, ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`], port, 'nginx');
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await proc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GET /health of a gateway node, directly. */
async function health(port) {
  return new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${port}/health`, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
}

/** A client whose connections come from 127.0.N.1. */
function clientFrom(t, url, n, opts) {
  const localAddress = `127.0.${n}.1`;
  const agent = new http.Agent({ localAddress, keepAlive: true });
  const socket = ioV4(url, { forceNew: true, reconnection: false, timeout: WAIT, agent, localAddress, ...opts });
  const events = [];
  socket.onAny((event, ...args) => events.push([event, ...args]));
  t.after(() => { socket.close(); agent.destroy(); });
  return { socket, events };
}

async function waitUntil(what, predicate) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('two sockeye gateways behind nginx', { timeout: 120000 }, () => {
  if (!nginxBin) {
    it('needs nginx', (t) => t.skip('nginx is not installed (apt-get install nginx): load-balancing test skipped'));
    return;
  }
  let redis;
  let gateways = [];
  let publisher;
  let emitter;
  before(async () => {
    redis = await startRedis();
    gateways = [await startGateway(redis.url), await startGateway(redis.url)];
    publisher = createClient({ url: redis.url });
    await publisher.connect();
    emitter = new Emitter(publisher);
    await waitUntil('both gateways subscribed to Redis', async () => {
      const counts = await publisher.pubSubNumSub('socket.io-request#/#');
      return Number(counts['socket.io-request#/#']) >= 2;
    });
  });
  after(async () => {
    await publisher?.quit();
    for (const gateway of gateways) await gateway.stop();
    await redis?.stop();
  });

  it('with ip_hash, polling clients stay on their node and broadcasts reach both nodes', { timeout: TEST_TIMEOUT }, async (t) => {
    const lb = await startNginx(gateways.map((g) => g.port));
    t.after(() => lb.stop());
    const clients = [];
    for (let n = 1; n <= 8; n++) {
      const c = clientFrom(t, lb.url, n, { transports: ['polling'] });
      await withTimeout(once(c.socket, 'connect', { timeout: WAIT }), WAIT, `client ${n} connecting through nginx`);
      clients.push(c);
    }
    // ip_hash spread the clients over both nodes.
    const counts = await Promise.all(gateways.map((g) => health(g.port)));
    assert.deepEqual(counts.map((h) => h.connections > 0), [true, true],
      `connections per node: ${counts.map((h) => h.connections)}`);
    assert.equal(counts[0].connections + counts[1].connections, clients.length);

    // Several messages, each a separate long-polling response through nginx.
    for (let i = 1; i <= 3; i++) {
      emitter.emit('tick', i);
      await waitUntil(`tick ${i} on every client`, () => clients.every((c) => c.events.length === i));
    }
    for (const c of clients) {
      assert.deepEqual(c.events, [['tick', 1], ['tick', 2], ['tick', 3]]);
      assert.equal(c.socket.connected, true);
    }
  });

  it('the WebSocket upgrade passes through nginx', { timeout: TEST_TIMEOUT }, async (t) => {
    const lb = await startNginx(gateways.map((g) => g.port));
    t.after(() => lb.stop());
    const c = clientFrom(t, lb.url, 3, { transports: ['polling', 'websocket'] });
    await withTimeout(once(c.socket, 'connect', { timeout: WAIT }), WAIT, 'connecting through nginx');
    await waitTransport(c.socket, 'websocket', { timeout: WAIT });
    emitter.emit('over-websocket', { ok: true });
    await waitUntil('the event over the upgraded connection', () => c.events.length === 1);
    assert.deepEqual(c.events, [['over-websocket', { ok: true }]]);
  });

  it('without ip_hash, polling fails but websocket-only clients still work', { timeout: TEST_TIMEOUT }, async (t) => {
    const lb = await startNginx(gateways.map((g) => g.port), { sticky: false });
    t.after(() => lb.stop());
    // Round robin sends the second request of the session to the other node, which
    // does not know the session id.
    const polling = clientFrom(t, lb.url, 1, { transports: ['polling'] });
    const [err] = await once(polling.socket, 'connect_error', { timeout: WAIT });
    // The other node answers 400 (unknown session id) to a request of the session.
    assert.match(String(err?.message), /^xhr (post|poll) error$/);
    assert.match(String(err?.description?.message ?? err?.description), /400/);
    assert.equal(polling.socket.connected, false);

    // One WebSocket is one TCP connection: it needs no stickiness.
    const ws = clientFrom(t, lb.url, 1, { transports: ['websocket'] });
    await withTimeout(once(ws.socket, 'connect', { timeout: WAIT }), WAIT, 'websocket client connecting');
    emitter.emit('still-works');
    await waitUntil('the event', () => ws.events.length === 1);
    assert.deepEqual(ws.events, [['still-works']]);
  });
});
