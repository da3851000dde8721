// Emitters publishing into Redis clusters, with socket.io-client 4 clients on the nodes:
// - the npm `@socket.io/redis-emitter` 5 and Sockeye's Rust emitter (the `redis-emit`
//   example, built with `cargo build --release -p sockeye-redis --example redis-emit`),
// - into two Sockeye nodes (the `redis-node` example), two Node.js socket.io 4.8 nodes
//   with @socket.io/redis-adapter 8 (e2e/reference/redis-node.mjs), and the `sockeye`
//   gateway binary started with `--redis`.
// Every combination runs the same scenarios; a redis-server of the suite's own on a
// free port carries the messages.
//
// "Exactly once" without timing: after the messages under test, the emitter publishes a
// `marker` on the same Redis connection (or, for the Rust CLI, after the previous
// process has published), so every client must have received exactly the expected
// events when its marker arrives.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { Emitter } from '@socket.io/redis-emitter';
import { startRedis, startRedisNode } from './lib/redis.mjs';
import { freePort, repoRoot } from './lib/servers.mjs';
import { clientV4, emitAck, once, withTimeout, sleep } from './lib/sio.mjs';

const WAIT = 10000;
const TEST_TIMEOUT = 30000;
const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
const redisEmitBin = path.join(target, 'release/examples/redis-emit');
const sockeyeBin = path.join(target, 'release/sockeye');

/** Records every event of a socket in arrival order. */
function recorder(socket) {
  const log = [];
  const waiters = new Set();
  socket.onAny((event, ...args) => {
    log.push([event, ...args]);
    for (const w of waiters) w();
  });
  return {
    /** The events before the next `marker`, which is consumed with them. */
    async untilMarker(what = 'the marker') {
      const index = () => log.findIndex(([e]) => e === 'marker');
      if (index() < 0) {
        let check;
        const p = new Promise((resolve) => {
          check = () => index() >= 0 && resolve();
          waiters.add(check);
        });
        await withTimeout(p, WAIT, what).finally(() => waiters.delete(check));
      }
      return log.splice(0, index() + 1).slice(0, -1);
    },
  };
}

/** Selection `{ nsp, to, except, volatile, compress }` applied to an npm emitter. */
function npmOperator(emitter, { nsp = '/', to = [], except = [], volatile = false, compress }) {
  let op = emitter.of(nsp).to(to).except(except);
  if (volatile) op = op.volatile;
  if (compress !== undefined) op = op.compress(compress);
  return op;
}

/** The npm @socket.io/redis-emitter behind the interface every scenario uses. */
async function npmEmitter(redisUrl) {
  const client = createClient({ url: redisUrl });
  await client.connect();
  const emitter = new Emitter(client);
  return {
    name: 'npm @socket.io/redis-emitter',
    async emit(sel, event, ...args) { npmOperator(emitter, sel).emit(event, ...args); },
    async join(sel, rooms) { npmOperator(emitter, sel).socketsJoin(rooms); },
    async leave(sel, rooms) { npmOperator(emitter, sel).socketsLeave(rooms); },
    async disconnect(sel, close) { npmOperator(emitter, sel).disconnectSockets(close); },
    async serverSideEmit(nsp, event, ...args) { emitter.of(nsp).serverSideEmit(event, ...args); },
    close: () => client.quit(),
  };
}

/** The Rust emitter, one `redis-emit` process per message. */
async function rustEmitter(redisUrl) {
  if (!fs.existsSync(redisEmitBin)) {
    throw new Error(`${redisEmitBin} is missing: run cargo build --release -p sockeye-redis --example redis-emit`);
  }
  const run = async (sel, action, ...rest) => {
    const { nsp = '/', to = [], except = [], volatile = false, compress } = sel;
    const argv = ['--redis', redisUrl, '--nsp', nsp];
    // `--to=ROOM`: socket ids may start with '-'.
    for (const room of to) argv.push(`--to=${room}`);
    for (const room of except) argv.push(`--except=${room}`);
    if (volatile) argv.push('--volatile');
    if (compress !== undefined) argv.push('--compress', String(compress));
    argv.push(action, ...rest);
    const { stdout } = await promisify(execFile)(redisEmitBin, argv, { timeout: WAIT });
    return Number(stdout.trim());
  };
  const arg = (a) => (Buffer.isBuffer(a) ? `hex:${a.toString('hex')}` : JSON.stringify(a));
  return {
    name: 'Rust emitter',
    emit: (sel, event, ...args) => run(sel, 'emit', event, ...args.map(arg)),
    join: (sel, rooms) => run(sel, 'join', ...rooms),
    leave: (sel, rooms) => run(sel, 'leave', ...rooms),
    disconnect: (sel, close) => run(sel, 'disconnect', ...(close ? ['--close'] : [])),
    serverSideEmit: (nsp, event, ...args) => run({ nsp }, 'server-side-emit', event, ...args.map(arg)),
    close: async () => {},
  };
}

/** Polls PUBSUB NUMSUB until each request channel counts `n` subscribers (nodes). */
async function waitForSubscribers(redisUrl, namespaces, n) {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const channels = namespaces.map((nsp) => `socket.io-request#${nsp}#`);
    const deadline = Date.now() + WAIT;
    let counts;
    while (Date.now() < deadline) {
      counts = await client.pubSubNumSub(channels);
      if (channels.every((c) => Number(counts[c]) >= n)) return;
      await sleep(50);
    }
    assert.fail(`nodes did not subscribe: ${JSON.stringify(counts)}`);
  } finally {
    await client.quit();
  }
}

async function waitForPort(port, child, what) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on port ${port}`);
}

/** The `sockeye` gateway binary joined to the cluster (no auth mode: anyone connects). */
async function startGateway(redisUrl) {
  if (!fs.existsSync(sockeyeBin)) {
    throw new Error(`${sockeyeBin} is missing: run cargo build --release -p sockeye-server`);
  }
  const port = await freePort();
  let stderr = '';
  const child = spawn(sockeyeBin, ['--listen', `127.0.0.1:${port}`, '--redis', redisUrl], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.SOCKEYE_E2E_VERBOSE) process.stderr.write(`[gateway] ${d}`);
  });
  await waitForPort(port, child, `sockeye gateway (${stderr})`);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  return { url: `http://127.0.0.1:${port}`, stop };
}

async function connect(t, server, nsp = '/') {
  const { socket } = await clientV4(t, server.url, { nsp });
  return { socket, rec: recorder(socket), id: socket.id };
}

const bytes = Buffer.from([1, 2, 255]);

/** Emits to everyone, a room, a room but another, several rooms with binary, a namespace. */
async function broadcastScenario(t, emitter, [a, b], { namespaces = true } = {}) {
  const a1 = await connect(t, a);
  const b1 = await connect(t, b);
  const b2 = await connect(t, b);
  const admin = namespaces ? await connect(t, b, '/admin') : null;
  if (namespaces) {
    assert.deepEqual(await emitAck(a1.socket, 'join', 'r1'), ['ok']);
    assert.deepEqual(await emitAck(b1.socket, 'join', 'r1'), ['ok']);
    assert.deepEqual(await emitAck(b1.socket, 'join', 'muted'), ['ok']);
  } else {
    // The gateway has no `join` event: the emitter puts the sockets in rooms.
    await emitter.join({ to: [a1.id, b1.id] }, ['r1']);
    await emitter.join({ to: [b1.id] }, ['muted']);
  }

  await emitter.emit({}, 'all', 'hello', 1);
  await emitter.emit({ to: ['r1'] }, 'room', 'r1');
  await emitter.emit({ to: ['r1'], except: ['muted'] }, 'room-unmuted');
  // Not volatile: a Node.js node may drop a volatile packet (a polling client between
  // requests); the wire test below checks the flag.
  await emitter.emit({ except: [b2.id], compress: true }, 'not-b2');
  await emitter.emit({ to: ['muted', 'r1'] }, 'bytes', bytes, { n: 1 });
  if (admin) await emitter.emit({ nsp: '/admin' }, 'admin-only', { x: [1, 2] });
  await emitter.emit({}, 'marker');
  if (admin) await emitter.emit({ nsp: '/admin' }, 'marker');

  const withBytes = ['bytes', bytes, { n: 1 }];
  assert.deepEqual(await a1.rec.untilMarker('marker of a1 (line 205)'),
    [['all', 'hello', 1], ['room', 'r1'], ['room-unmuted'], ['not-b2'], withBytes]);
  assert.deepEqual(await b1.rec.untilMarker('marker of b1 (line 207)'),
    [['all', 'hello', 1], ['room', 'r1'], ['not-b2'], withBytes]);
  assert.deepEqual(await b2.rec.untilMarker('marker of b2 (line 209)'), [['all', 'hello', 1]]);
  if (admin) assert.deepEqual(await admin.rec.untilMarker('marker of admin (line 210)'), [['admin-only', { x: [1, 2] }]]);
}

/** socketsJoin, socketsLeave and disconnectSockets (with and without close). */
async function roomsScenario(t, emitter, [a, b]) {
  const a1 = await connect(t, a);
  const b1 = await connect(t, b);
  const b2 = await connect(t, b);
  await emitter.join({ to: [b2.id] }, ['quiet']);

  // Everyone but "quiet" joins "news"; b1, by its id, joins "vip" and "vip2".
  await emitter.join({ except: ['quiet'] }, ['news']);
  await emitter.join({ to: [b1.id] }, ['vip', 'vip2']);
  await emitter.emit({ to: ['news'] }, 'news');
  await emitter.emit({ to: ['vip2'] }, 'vip');
  await emitter.emit({}, 'marker');
  assert.deepEqual(await a1.rec.untilMarker('marker of a1 (line 226)'), [['news']]);
  assert.deepEqual(await b1.rec.untilMarker('marker of b1 (line 227)'), [['news'], ['vip']]);
  assert.deepEqual(await b2.rec.untilMarker('marker of b2 (line 228)'), []);

  await emitter.leave({ to: ['vip'] }, ['news']);
  await emitter.emit({ to: ['news'] }, 'news');
  await emitter.emit({}, 'marker');
  assert.deepEqual(await a1.rec.untilMarker('marker of a1 (line 233)'), [['news']]);
  assert.deepEqual(await b1.rec.untilMarker('marker of b1 (line 234)'), []);

  const b2Gone = once(b2.socket, 'disconnect', { timeout: WAIT });
  await emitter.disconnect({ to: ['quiet'] }, false);
  assert.equal((await b2Gone)[0], 'io server disconnect');
  const a1Gone = once(a1.socket, 'disconnect', { timeout: WAIT });
  await emitter.disconnect({ to: [a1.id] }, true);
  await a1Gone;
  await emitter.emit({}, 'marker');
  assert.deepEqual(await b1.rec.untilMarker('marker of b1 (line 243)'), []);
  assert.equal(b1.socket.connected, true);
}

/** serverSideEmit reaches every node once (every node relays `relay` to its clients as `relayed`). */
async function serverSideScenario(t, emitter, [a, b]) {
  const a1 = await connect(t, a);
  const b1 = await connect(t, b);
  await emitter.serverSideEmit('/', 'relay', 'x', { n: 2 });
  await emitter.emit({}, 'marker');
  assert.deepEqual(await a1.rec.untilMarker('marker of a1 (line 253)'), [['relayed', 'x', { n: 2 }]]);
  assert.deepEqual(await b1.rec.untilMarker('marker of b1 (line 254)'), [['relayed', 'x', { n: 2 }]]);
}

for (const makeEmitter of [npmEmitter, rustEmitter]) {
  for (const kind of ['rust', 'node']) {
    const serverName = kind === 'rust' ? 'two Sockeye nodes' : 'two Node.js nodes';
    describe(`${makeEmitter === npmEmitter ? 'npm' : 'Rust'} emitter → ${serverName}`, { timeout: 90000 }, () => {
      let redis;
      let nodes = [];
      let emitter;
      before(async () => {
        redis = await startRedis();
        nodes = [await startRedisNode(kind, redis.url), await startRedisNode(kind, redis.url)];
        await waitForSubscribers(redis.url, ['/', '/admin'], 2);
        emitter = await makeEmitter(redis.url);
      });
      after(async () => {
        await emitter?.close();
        for (const node of nodes) await node.stop();
        await redis?.stop();
      });

      it('emits to all, a room, except a room, a namespace, with binary, exactly once', { timeout: TEST_TIMEOUT }, async (t) => {
        await broadcastScenario(t, emitter, nodes);
      });

      it('socketsJoin, socketsLeave and disconnectSockets reach sockets on every node', { timeout: TEST_TIMEOUT }, async (t) => {
        await roomsScenario(t, emitter, nodes);
      });

      it('serverSideEmit reaches every node once', { timeout: TEST_TIMEOUT }, async (t) => {
        await serverSideScenario(t, emitter, nodes);
      });
    });
  }
}

for (const makeEmitter of [npmEmitter, rustEmitter]) {
  describe(`${makeEmitter === npmEmitter ? 'npm' : 'Rust'} emitter → two sockeye gateway binaries (--redis)`, { timeout: 90000 }, () => {
    let redis;
    let gateways = [];
    let emitter;
    before(async () => {
      redis = await startRedis();
      gateways = [await startGateway(redis.url), await startGateway(redis.url)];
      await waitForSubscribers(redis.url, ['/'], 2);
      emitter = await makeEmitter(redis.url);
    });
    after(async () => {
      await emitter?.close();
      for (const gateway of gateways) await gateway.stop();
      await redis?.stop();
    });

    it('emits to all, rooms, except, with binary, exactly once', { timeout: TEST_TIMEOUT }, async (t) => {
      await broadcastScenario(t, emitter, gateways, { namespaces: false });
    });

    it('socketsJoin, socketsLeave and disconnectSockets', { timeout: TEST_TIMEOUT }, async (t) => {
      await roomsScenario(t, emitter, gateways);
    });
  });
}

describe('wire: the Rust emitter publishes what the npm emitter publishes', { timeout: 30000 }, () => {
  let redis;
  before(async () => { redis = await startRedis(); });
  after(async () => { await redis?.stop(); });

  it('same channels, same msgpack bytes, same JSON requests', { timeout: TEST_TIMEOUT }, async () => {
    const sub = createClient({ url: redis.url });
    await sub.connect();
    const seen = [];
    await sub.pSubscribe('socket.io*', (message, channel) => seen.push([channel, message]), true);
    const npm = await npmEmitter(redis.url);
    const rust = await rustEmitter(redis.url);
    try {
      const steps = [
        (e) => e.emit({}, 'plain', 'text', 1.5, -3, null, true),
        (e) => e.emit({ nsp: '/chat', to: ['r1'], volatile: true, compress: false }, 'one-room', { a: [1] }),
        (e) => e.emit({ to: ['r1', 'r2'], except: ['x'] }, 'bin', bytes, { n: 1 }, Buffer.from([])),
        (e) => e.join({ to: ['r1'], except: ['x'] }, ['a', 'b']),
        (e) => e.leave({}, ['a']),
        (e) => e.disconnect({ to: ['r2'] }, true),
        (e) => e.serverSideEmit('/', 'hello', { n: 1 }, 'two'),
      ];
      for (const [i, step] of steps.entries()) {
        for (const e of [npm, rust]) await step(e);
        const deadline = Date.now() + WAIT;
        while (seen.length < 2 && Date.now() < deadline) await sleep(20);
        assert.equal(seen.length, 2, `step ${i}: both messages arrive`);
        const [[npmChannel, npmBody], [rustChannel, rustBody]] = seen.splice(0, 2);
        assert.equal(rustChannel.toString(), npmChannel.toString(), `step ${i}: channel`);
        if (npmBody[0] === '{'.charCodeAt(0)) {
          // JSON requests: same content (key order is free).
          const parsed = (body) => JSON.parse(body.toString());
          assert.deepEqual(parsed(rustBody), parsed(npmBody), `step ${i}: request`);
        } else {
          assert.deepEqual(rustBody, npmBody, `step ${i}: msgpack bytes`);
        }
      }
    } finally {
      await npm.close();
      await sub.quit();
    }
  });
});
