// A mixed cluster on one Redis stream: Sockeye nodes (the `streams-node` example, with the
// streams adapter) and a Node.js socket.io 4.8 node with @socket.io/redis-streams-adapter
// 0.3.1 (e2e/reference/streams-node.mjs), sharing a redis-server started by the test, all
// with connection state recovery on. socket.io-client 4 clients.
//
// "Exactly once" without timing: after the events under test, a client asks for a
// `broadcast` marker; every node delivers the stream in order, so every client must have
// received exactly the expected events when its marker arrives.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createClient } from 'redis';
import { tcpProxy } from './lib/proxy.mjs';
import { startRedis } from './lib/redis.mjs';
import { freePort, repoRoot } from './lib/servers.mjs';
import { clientV4, emitAck, withTimeout, sleep } from './lib/sio.mjs';

const WAIT = 10000;
const TEST_TIMEOUT = 40000;
const OFFSET = /^\d+-\d+$/;

/** Starts one `streams-node` fixture: kind 'rust' (the example binary) or 'node'. */
async function startStreamsNode(kind, redisUrl) {
  const port = await freePort();
  let cmd;
  let argv;
  if (kind === 'node') {
    cmd = 'node';
    argv = [path.join(repoRoot, 'e2e/reference/streams-node.mjs')];
  } else {
    const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
    cmd = path.join(target, 'release/examples/streams-node');
    if (!fs.existsSync(cmd)) {
      throw new Error(`${cmd} is missing: run cargo build --release -p sockeye-redis --example streams-node`);
    }
    argv = [];
  }
  let stderr = '';
  const child = spawn(cmd, [...argv, '--port', String(port), '--redis', redisUrl], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.SOCKEYE_E2E_VERBOSE) process.stderr.write(`[${kind}-streams] ${d}`);
  });
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${kind} streams-node exited with ${child.exitCode}: ${stderr}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${kind} streams-node did not listen on ${port}`);
    await sleep(50);
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  return { kind, port, url: `http://127.0.0.1:${port}`, stop, stderr: () => stderr };
}

/**
 * Records `room-message` and `broadcast` events in arrival order. With recovery on,
 * each carries its offset (a stream entry id) as last argument, checked and removed here.
 */
function recorder(socket) {
  const log = [];
  const offsets = [];
  const waiters = new Set();
  for (const event of ['room-message', 'broadcast']) {
    socket.on(event, (...args) => {
      const offset = args.pop();
      assert.match(String(offset), OFFSET, `${event} ${JSON.stringify(args)} carries its offset`);
      offsets.push(offset);
      log.push([event, ...args]);
      for (const w of waiters) w();
    });
  }
  const until = (test, what) => {
    if (test()) return Promise.resolve();
    let check;
    const p = new Promise((resolve) => {
      check = () => test() && resolve();
      waiters.add(check);
    });
    return withTimeout(p, WAIT, what).finally(() => waiters.delete(check));
  };
  return {
    log,
    offsets,
    /** The events before the marker `broadcast(marker)`, which is consumed with them. */
    async untilMarker(marker) {
      const index = () => log.findIndex(([e, m]) => e === 'broadcast' && m === marker);
      await until(() => index() >= 0, `marker ${marker}`);
      return log.splice(0, index() + 1).slice(0, -1);
    },
    /** Waits until `n` events were logged. */
    count: (n) => until(() => log.length >= n, `${n} events (got ${log.length})`),
  };
}

/** Polls fetch-count from `socket` until it sees `n` sockets. */
async function waitForCount(socket, n) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    last = await emitAck(socket, 'fetch-count');
    if (last[0] === n) return last;
    await sleep(50);
  }
  assert.fail(`fetch-count never reached ${n}: last answer ${JSON.stringify(last)}`);
}

describe('mixed Redis streams cluster: Sockeye + Node.js @socket.io/redis-streams-adapter', { timeout: 240000 }, () => {
  let redis;
  let redisUrl;
  let nodes;
  let kv;
  before(async () => {
    redis = await startRedis();
    redisUrl = redis.url;
    nodes = {
      rust: await startStreamsNode('rust', redisUrl),
      rust2: await startStreamsNode('rust', redisUrl),
      node: await startStreamsNode('node', redisUrl),
    };
    kv = createClient({ url: redisUrl });
    kv.on('error', () => {});
    await kv.connect();
  });
  after(async () => {
    await kv?.quit().catch(() => {});
    for (const n of Object.values(nodes ?? {})) await n.stop();
    await redis?.stop();
  });

  /** Two clients on the Sockeye node and two on the Node.js one; r1 and n1 in room "r1". */
  async function clients(t) {
    const connect = async (server) => {
      const { socket } = await clientV4(t, server.url);
      return { socket, rec: recorder(socket) };
    };
    const c = {
      r1: await connect(nodes.rust), r2: await connect(nodes.rust),
      n1: await connect(nodes.node), n2: await connect(nodes.node),
    };
    assert.deepEqual(await emitAck(c.r1.socket, 'join', 'r1'), ['ok']);
    assert.deepEqual(await emitAck(c.n1.socket, 'join', 'r1'), ['ok']);
    return c;
  }

  /** Waits until no client of an earlier test is left in the cluster. */
  async function quiet(t) {
    const { socket } = await clientV4(t, nodes.rust.url);
    await waitForCount(socket, 1);
    socket.close();
  }

  it('room messages and broadcasts flow both ways exactly once, binary included', { timeout: TEST_TIMEOUT }, async (t) => {
    await quiet(t);
    const c = await clients(t);
    await waitForCount(c.r2.socket, 4);
    await waitForCount(c.n2.socket, 4);
    const all = Object.values(c);

    // Sockeye → Node.js: a room message with binary (base64 msgpack entry), then the marker.
    assert.deepEqual(await emitAck(c.r2.socket, 'to-room', 'r1', 'from rust', 1, Buffer.from([1, 2, 3])), ['ok']);
    assert.deepEqual(await emitAck(c.r2.socket, 'broadcast-request', 'm1'), ['ok']);
    const fromRust = [['room-message', 'from rust', 1, Buffer.from([1, 2, 3])]];
    assert.deepEqual(await c.r1.rec.untilMarker('m1'), fromRust);
    assert.deepEqual(await c.n1.rec.untilMarker('m1'), fromRust);
    assert.deepEqual(await c.r2.rec.untilMarker('m1'), []);
    assert.deepEqual(await c.n2.rec.untilMarker('m1'), []);

    // Node.js → Sockeye: JSON and binary entries.
    assert.deepEqual(await emitAck(c.n2.socket, 'to-room', 'r1', { from: 'node' }, [1.5, null]), ['ok']);
    assert.deepEqual(await emitAck(c.n2.socket, 'to-room', 'r1', Buffer.from([4, 5])), ['ok']);
    assert.deepEqual(await emitAck(c.n2.socket, 'broadcast-request', 'm2'), ['ok']);
    const fromNode = [['room-message', { from: 'node' }, [1.5, null]], ['room-message', Buffer.from([4, 5])]];
    assert.deepEqual(await c.r1.rec.untilMarker('m2'), fromNode);
    assert.deepEqual(await c.n1.rec.untilMarker('m2'), fromNode);
    assert.deepEqual(await c.r2.rec.untilMarker('m2'), []);
    assert.deepEqual(await c.n2.rec.untilMarker('m2'), []);

    // Broadcasts from both sides, then a last marker: nothing in between.
    assert.deepEqual(await emitAck(c.r1.socket, 'broadcast-request', 'b-rust', [true, null]), ['ok']);
    assert.deepEqual(await emitAck(c.r1.socket, 'broadcast-request', 'm3'), ['ok']);
    for (const { rec } of all) assert.deepEqual(await rec.untilMarker('m3'), [['broadcast', 'b-rust', [true, null]]]);
    assert.deepEqual(await emitAck(c.n1.socket, 'broadcast-request', 'b-node', 2.5), ['ok']);
    assert.deepEqual(await emitAck(c.n1.socket, 'broadcast-request', 'm4'), ['ok']);
    for (const { rec } of all) assert.deepEqual(await rec.untilMarker('m4'), [['broadcast', 'b-node', 2.5]]);
    assert.deepEqual(await emitAck(c.r2.socket, 'broadcast-request', 'm5'), ['ok']);
    for (const { rec } of all) assert.deepEqual(await rec.untilMarker('m5'), []);

    // Every node hands out the same offsets: the ids of the stream entries.
    assert.deepEqual(c.r1.rec.offsets, c.n1.rec.offsets);
    assert.deepEqual(c.r2.rec.offsets, c.n2.rec.offsets);
  });

  for (const from of ['rust', 'node']) {
    it(`remote join, leave and disconnect asked on the ${from} node reach both nodes`, { timeout: TEST_TIMEOUT }, async (t) => {
      await quiet(t);
      const c = await clients(t);
      await waitForCount(c.r2.socket, 4);
      const asker = from === 'rust' ? c.r2.socket : c.n2.socket;
      // r1 and n1 (room r1) join "extra" through the cluster.
      assert.deepEqual(await emitAck(asker, 'remote-join', 'r1', 'extra'), ['ok']);
      assert.deepEqual(await emitAck(asker, 'broadcast-request', 'j'), ['ok']);
      for (const { rec } of Object.values(c)) await rec.untilMarker('j');
      for (const s of [c.r1.socket, c.n1.socket]) {
        const [state] = await emitAck(s, 'state');
        assert.deepEqual(state.rooms, [s.id, 'extra', 'r1'].sort());
      }
      assert.deepEqual(await emitAck(c.r2.socket, 'to-room', 'extra', 'x'), ['ok']);
      assert.deepEqual(await emitAck(c.r2.socket, 'broadcast-request', 'k'), ['ok']);
      assert.deepEqual(await c.r1.rec.untilMarker('k'), [['room-message', 'x']]);
      assert.deepEqual(await c.n1.rec.untilMarker('k'), [['room-message', 'x']]);
      assert.deepEqual(await c.n2.rec.untilMarker('k'), []);

      assert.deepEqual(await emitAck(asker, 'remote-leave', 'r1', 'extra'), ['ok']);
      assert.deepEqual(await emitAck(asker, 'broadcast-request', 'l'), ['ok']);
      for (const { rec } of Object.values(c)) await rec.untilMarker('l');
      for (const s of [c.r1.socket, c.n1.socket]) {
        const [state] = await emitAck(s, 'state');
        assert.deepEqual(state.rooms, [s.id, 'r1'].sort());
      }

      // Disconnecting room r1 cluster-wide: r1 and n1 go, the others stay.
      const gone = [c.r1.socket, c.n1.socket].map((s) =>
        withTimeout(new Promise((resolve) => s.once('disconnect', resolve)), WAIT, 'a disconnect'));
      assert.deepEqual(await emitAck(asker, 'remote-disconnect', 'r1'), ['ok']);
      assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
      await waitForCount(c.r2.socket, 2);
      await waitForCount(c.n2.socket, 2);
    });
  }

  it('a broadcast with acks asked on either node collects the acks of every client of the cluster', { timeout: TEST_TIMEOUT }, async (t) => {
    await quiet(t);
    const c = await clients(t);
    await waitForCount(c.r2.socket, 4);
    await waitForCount(c.n2.socket, 4);
    for (const [name, { socket }] of Object.entries(c)) socket.on('ping-all', (arg, ack) => ack(`${name}:${arg}`));
    for (const asker of [c.r1.socket, c.n1.socket]) {
      const [[err, responses]] = await emitAck(asker, 'broadcast-with-ack-request', 'hi');
      assert.equal(err, null);
      assert.deepEqual(responses.sort(), ['n1:hi', 'n2:hi', 'r1:hi', 'r2:hi']);
    }
    // A client that never answers: the others' acks arrive, flagged as a timeout.
    c.n2.socket.off('ping-all');
    c.n2.socket.on('ping-all', () => {});
    for (const asker of [c.r1.socket, c.n1.socket]) {
      const [[err, responses]] = await emitAck(asker, 'broadcast-with-ack-request', 'yo');
      assert.equal(err, 'operation has timed out');
      assert.ok(responses.includes(asker === c.r1.socket ? 'r1:yo' : 'n1:yo'), JSON.stringify(responses));
      assert.ok(!responses.includes('n2:yo'));
    }
  });

  it('server-side emits, with and without acks, go between Sockeye and Node.js nodes both ways', { timeout: TEST_TIMEOUT }, async (t) => {
    await quiet(t);
    const names = Object.keys(nodes);
    const clientsOf = {};
    const notes = {};
    for (const name of names) {
      const { socket } = await clientV4(t, nodes[name].url);
      clientsOf[name] = socket;
      notes[name] = [];
      socket.on('cluster-note', (...args) => notes[name].push(args));
    }
    await waitForCount(clientsOf.rust, names.length);
    const noteAt = (name, n) => withTimeout((async () => {
      while (notes[name].length < n) await sleep(20);
    })(), WAIT, `${n} cluster-note on ${name}`);

    for (const origin of ['rust', 'node']) {
      const others = names.filter((n) => n !== origin);
      // With acks: one answer from each other node, carrying its port and our arguments.
      const [[err, answers]] = await emitAck(clientsOf[origin], 'server-side-emit-with-ack', 'q', { from: origin }, [1, 2.5]);
      assert.equal(err, null);
      assert.deepEqual(
        answers.map((a) => a.port).sort(),
        others.map((n) => nodes[n].port).sort(),
      );
      for (const a of answers) assert.deepEqual(a.args, ['q', { from: origin }, [1, 2.5]]);
    }

    // Without acks: every other node hands the event to its own clients, the sender's
    // node does not (its client's first note is the one sent from elsewhere afterwards).
    const seen = Object.fromEntries(names.map((n) => [n, 0]));
    for (const origin of ['rust', 'node']) {
      assert.deepEqual(await emitAck(clientsOf[origin], 'server-side-emit', 'note', origin, null), ['ok']);
      for (const other of names.filter((n) => n !== origin)) {
        seen[other] += 1;
        await noteAt(other, seen[other]);
        assert.deepEqual(notes[other][seen[other] - 1], ['note', origin, null]);
      }
    }
    assert.deepEqual(notes.rust, [['note', 'node', null]]);
    assert.deepEqual(notes.node, [['note', 'rust', null]]);
    assert.deepEqual(notes.rust2, [['note', 'rust', null], ['note', 'node', null]]);
  });

  for (const [origin, destination, transport] of [
    ['rust', 'node', 'websocket'], ['node', 'rust', 'websocket'], ['rust', 'rust2', 'websocket'],
    ['rust', 'node', 'polling'], ['node', 'rust', 'polling'], ['rust', 'rust2', 'polling'],
  ]) {
    it(`a client cut off from the ${origin} node recovers on the ${destination} node with every missed event once, in order (${transport})`, { timeout: TEST_TIMEOUT }, async (t) => {
      const A = nodes[origin];
      const B = nodes[destination];
      const proxy = await tcpProxy(t, A.port);
      const { socket, rec } = await clientV4(t, proxy.url, {
        reconnection: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
        randomizationFactor: 0,
        transports: [transport],
        events: ['connect', 'disconnect', 'room-message'],
      });
      // One sender for every event, so the stream holds them in the order they are sent.
      const { socket: sender } = await clientV4(t, A.url);
      const room = `news-${origin}-${destination}-${transport}`;
      assert.deepEqual(await emitAck(socket, 'join', room), ['ok']);
      assert.deepEqual(await emitAck(socket, 'set-data', { name: 'alice' }), ['ok']);
      const [before] = await emitAck(socket, 'state');
      assert.equal(before.recovered, false);
      assert.equal(typeof socket._pid, 'string', 'the CONNECT reply carries a pid');

      const send = async (from, to) => {
        for (let n = from; n < to; n++) assert.deepEqual(await emitAck(sender, 'to-room', room, n), ['ok']);
      };
      await send(0, 5);
      await rec.waitFor('room-message', 5, { timeout: WAIT });

      proxy.cut();
      await send(5, 10);
      await rec.waitFor('disconnect', 1, { timeout: WAIT });
      // The origin node stores the session in Redis once it has seen the socket go.
      const key = `sio:session:${socket._pid}`;
      const deadline = Date.now() + WAIT;
      while (!(await kv.exists(key))) {
        if (Date.now() > deadline) assert.fail(`${origin} node never stored ${key}`);
        await sleep(50);
      }
      await send(10, 15);
      proxy.restore(B.port);

      await rec.waitFor('connect', 2, { timeout: WAIT });
      assert.equal(socket.recovered, true);
      assert.equal(socket.id, before.id);
      assert.equal(await kv.exists(key), 0, 'the session is taken out of Redis');
      await send(15, 20);
      await rec.waitFor('room-message', 20, { timeout: WAIT });
      // The destination queues this ack behind everything it sent before: a duplicate
      // would show now.
      const [after] = await emitAck(socket, 'state');
      const got = rec.all('room-message');
      assert.deepEqual(got.map((args) => args[0]), Array.from({ length: 20 }, (_, n) => n));
      for (const args of got) assert.match(args[1], OFFSET);
      assert.equal(new Set(got.map((args) => args[1])).size, 20, 'every event has its own offset');
      assert.deepEqual(after, { id: before.id, recovered: true, rooms: [before.id, room].sort(), data: { name: 'alice' } });
      assert.equal(rec.all('disconnect').length, 1);
    });
  }

  it('a client with an unknown session gets a new socket', { timeout: TEST_TIMEOUT }, async (t) => {
    for (const server of [nodes.rust, nodes.node]) {
      const { socket } = await clientV4(t, server.url, { auth: { pid: 'nope', offset: '1-0' } });
      assert.equal(socket.recovered, false);
      const [state] = await emitAck(socket, 'state');
      assert.equal(state.recovered, false);
      assert.equal(state.id, socket.id);
      assert.deepEqual(state.rooms, [socket.id]);
    }
  });
});
