// Soak run of the `sockeye` gateway: connection churn with the official client, then a
// check that memory came back and nothing was left behind. Run through `scripts/soak`
// (which builds the gateway); see the comment there for what it checks.
//
// Usage: node e2e/soak/soak.mjs --minutes N [--workers N]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { freePort, repoRoot } from '../tests/lib/servers.mjs';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    workers: { type: 'string', default: '24' },
    // Diagnostics: run one kind of cycle only ('chat' or 'abandoned').
    only: { type: 'string' },
    // Diagnostics: before each RSS reading, make glibc return its free memory to the
    // system (malloc_trim(0) through gdb), so that what is measured is memory in use.
    trim: { type: 'boolean', default: false },
  },
});
const minutes = Number(opts.minutes);
const workers = Number(opts.workers);
if (!(minutes > 0) || !(workers > 0)) throw new Error('--minutes and --workers must be positive numbers');

// Short heartbeats and upgrade timeout, so abandoned sessions are reaped within seconds.
const PING_INTERVAL = 2000;
const PING_TIMEOUT = 2000;
const UPGRADE_TIMEOUT = 3000;
const ROOMS = 16; // chat rooms the churn uses (their histories are bounded: 100 messages)
const WARMUP_MS = Math.min(60000, (minutes * 60000) / 5);
const SETTLE_MS = 20000; // after the churn stops, before RSS is read
const TOLERANCE = 0.10;
const CALL_TIMEOUT = 10000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...args) => console.log(new Date().toISOString().slice(11, 19), ...args);

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// --- the gateway ---------------------------------------------------------------------

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
const bin = path.join(target, 'release/sockeye');
if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run cargo build --release -p sockeye-server`);
const gateway = spawn(
  bin,
  [
    '--listen', `127.0.0.1:${port}`,
    '--ping-interval', String(PING_INTERVAL),
    '--ping-timeout', String(PING_TIMEOUT),
    '--upgrade-timeout', String(UPGRADE_TIMEOUT),
    // More gateway flags, for experiments.
    ...(process.env.SOAK_GATEWAY_ARGS ? process.env.SOAK_GATEWAY_ARGS.split(' ') : []),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } },
);
let gatewayExited = false;
gateway.on('exit', (code, signal) => {
  gatewayExited = true;
  if (!stopping) {
    console.error(`FAIL: the gateway exited during the soak (code ${code}, signal ${signal})`);
    process.exit(1);
  }
});
let stopping = false;
const stopGateway = () => {
  stopping = true;
  if (!gatewayExited) gateway.kill('SIGKILL');
};
process.on('exit', stopGateway);

const deadline = Date.now() + 15000;
for (;;) {
  try {
    if ((await fetch(`${url}/health`)).status < 500) break;
  } catch { /* not listening yet */ }
  if (Date.now() > deadline) throw new Error('the gateway did not start');
  await sleep(100);
}

function trim() {
  execFileSync('gdb', ['-p', String(gateway.pid), '-batch', '-ex', 'call (int) malloc_trim(0)'], { stdio: 'ignore' });
}

/** Open file descriptors of the gateway: sockets left open betray connections left behind. */
const fds = () => fs.readdirSync(`/proc/${gateway.pid}/fd`).length;

function rssKb() {
  const status = fs.readFileSync(`/proc/${gateway.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

/** The gauges of /metrics that must return to zero: connections, sockets and rooms. */
async function gauges() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = { connections: 0, sockets: {}, rooms: {} };
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^sockeye_connections (\d+)/.exec(line))) out.connections = Number(m[1]);
    else if ((m = /^sockeye_sockets\{namespace="([^"]*)"\} (\d+)/.exec(line))) out.sockets[m[1]] = Number(m[2]);
    else if ((m = /^sockeye_rooms\{namespace="([^"]*)"\} (\d+)/.exec(line))) out.rooms[m[1]] = Number(m[2]);
  }
  return out;
}

const leftovers = (g) =>
  g.connections + Object.values(g.sockets).reduce((a, b) => a + b, 0) + Object.values(g.rooms).reduce((a, b) => a + b, 0);
const describe = (g) =>
  `connections ${g.connections}, sockets ${JSON.stringify(g.sockets)}, rooms ${JSON.stringify(g.rooms)}`;

// --- the churn -------------------------------------------------------------------------

const counts = { chat: 0, abandoned: 0, failed: 0 };
let sequence = 0;

/** A chat user: connects, joins a room, chats, then leaves and disconnects (or just drops). */
async function chatCycle() {
  const n = sequence++;
  const transports = n % 2 ? ['websocket'] : ['polling', 'websocket'];
  const socket = io(`${url}/chat`, { transports, forceNew: true, reconnection: false, timeout: CALL_TIMEOUT });
  const ask = (event, arg) => withTimeout(socket.emitWithAck(event, arg), CALL_TIMEOUT, `the ack of ${event}`);
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      }),
      CALL_TIMEOUT,
      'the connection',
    );
    const room = `soak ${n % ROOMS}`;
    const joined = await ask('join', { room, nick: `user${n}` });
    if (!joined.ok) throw new Error(`join refused: ${JSON.stringify(joined)}`);
    const text = `hello ${n}`;
    const echoed = new Promise((resolve) => socket.on('message', (m) => m.text === text && resolve()));
    const sent = await ask('message', text);
    if (!sent.ok) throw new Error(`message refused: ${JSON.stringify(sent)}`);
    await withTimeout(echoed, CALL_TIMEOUT, 'the own message');
    if (n % 3 === 0) {
      // Leaves properly; the others just go.
      const left = await ask('leave');
      if (!left.ok) throw new Error(`leave refused: ${JSON.stringify(left)}`);
    }
    counts.chat++;
  } finally {
    if (n % 5 === 0) socket.io.engine?.transport?.ws?.terminate?.(); // a cut connection, no close frame
    socket.disconnect();
  }
}

/** A polling session that probes the websocket upgrade, then vanishes without finishing it. */
async function abandonedUpgrade() {
  const base = `${url}/socket.io/?EIO=4&transport=polling`;
  const open = await (await withTimeout(fetch(base), CALL_TIMEOUT, 'the handshake')).text();
  const { sid } = JSON.parse(open.slice(1));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  ws.on('error', () => {});
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        ws.once('open', () => ws.send('2probe'));
        ws.on('message', (data) => data.toString() === '3probe' && resolve());
        ws.once('close', () => reject(new Error('the probe connection closed')));
      }),
      CALL_TIMEOUT,
      'the probe answer',
    );
    counts.abandoned++;
  } finally {
    ws.terminate();
  }
}

async function worker(id, until) {
  while (Date.now() < until) {
    try {
      const abandon = opts.only ? opts.only === 'abandoned' : id % 4 === 3;
      if (abandon) await abandonedUpgrade();
      else await chatCycle();
    } catch (e) {
      counts.failed++;
      if (counts.failed <= 10) log(`cycle failed: ${e.message}`);
    }
  }
}

async function churn(ms) {
  const until = Date.now() + ms;
  const sampler = setInterval(async () => {
    try {
      log(`rss ${rssKb()} kB, ${fds()} fds; ${describe(await gauges())}; cycles: ${JSON.stringify(counts)}`);
    } catch { /* the next sample will tell */ }
  }, 15000);
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i, until)));
  clearInterval(sampler);
}

/** Waits until no connection, socket or room is left (or the settle time is over). */
async function settle() {
  const until = Date.now() + SETTLE_MS;
  let g = await gauges();
  while (leftovers(g) > 0 && Date.now() < until) {
    await sleep(500);
    g = await gauges();
  }
  await sleep(Math.max(0, until - Date.now()));
  if (opts.trim) trim();
  return { gauges: await gauges(), rss: rssKb(), fds: fds() };
}

/** Chat rooms the app still counts users in (presence left behind). */
async function occupiedRooms() {
  const socket = io(`${url}/chat`, { transports: ['websocket'], forceNew: true, reconnection: false });
  try {
    const answer = await withTimeout(socket.emitWithAck('rooms'), CALL_TIMEOUT, 'the rooms list');
    return answer.rooms.filter((r) => r.users > 0);
  } finally {
    socket.disconnect();
  }
}

log(`gateway on ${url} (pid ${gateway.pid}), idle rss ${rssKb()} kB; ${workers} workers, ${minutes} min`);
log(`warm-up: ${WARMUP_MS / 1000} s of churn (allocator pools, the rooms' bounded histories), then settle`);
await churn(WARMUP_MS);
const baseline = await settle();
log(`baseline: rss ${baseline.rss} kB, ${baseline.fds} fds; ${describe(baseline.gauges)}`);

const soakMs = minutes * 60000 - WARMUP_MS;
log(`soak: ${Math.round(soakMs / 1000)} s of churn`);
await churn(soakMs);
const final = await settle();
const occupied = await occupiedRooms();
log(`after: rss ${final.rss} kB, ${final.fds} fds; ${describe(final.gauges)}; chat rooms with users: ${occupied.length}`);
log(`cycles: ${JSON.stringify(counts)}`);

const problems = [];
const growth = (final.rss - baseline.rss) / baseline.rss;
if (growth > TOLERANCE) problems.push(`rss grew ${(growth * 100).toFixed(1)}% (${baseline.rss} -> ${final.rss} kB), more than ${TOLERANCE * 100}%`);
if (final.fds > baseline.fds) problems.push(`file descriptors left open: ${baseline.fds} -> ${final.fds}`);
if (leftovers(final.gauges) > 0) problems.push(`left behind: ${describe(final.gauges)}`);
if (occupied.length > 0) problems.push(`chat presence left behind: ${JSON.stringify(occupied)}`);
const total = counts.chat + counts.abandoned + counts.failed;
if ((!opts.only && counts.chat === 0) || (!opts.only && counts.abandoned === 0)) problems.push('a kind of cycle never completed');
if (counts.failed > total * 0.005) problems.push(`${counts.failed} of ${total} cycles failed`);

stopGateway();
if (problems.length) {
  for (const p of problems) console.error(`FAIL: ${p}`);
  process.exit(1);
}
console.log(`PASS: rss ${baseline.rss} -> ${final.rss} kB (${(growth * 100).toFixed(1)}%), nothing left behind, ${total} cycles`);
process.exit(0);
