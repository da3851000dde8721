// A mixed Redis cluster: one Sockeye node (the `redis-node` example) and one Node.js
// socket.io 4.8 node with @socket.io/redis-adapter 8 (e2e/reference/redis-node.mjs),
// sharing a redis-server started by the test. socket.io-client 4 clients on both nodes.
//
// "Exactly once" without timing: after the events under test, the same client asks for
// a `broadcast` marker; one node's messages stay in order through Redis, so every client
// must have received exactly the expected events when its marker arrives. A duplicate
// arriving later would show up before the next marker.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startRedisNode } from './lib/redis.mjs';
import { clientV4, emitAck, withTimeout, sleep, TEST_TIMEOUT } from './lib/sio.mjs';
import { ask, member, waitForCount as waitForMembers, sorted } from './lib/cluster.mjs';

const WAIT = 10000;

/** Records `room-message` and `broadcast` events of a socket in arrival order. */
function recorder(socket) {
  const log = [];
  const waiters = new Set();
  for (const event of ['room-message', 'broadcast']) {
    socket.on(event, (...args) => {
      log.push([event, ...args]);
      for (const w of waiters) w();
    });
  }
  return {
    /** The events before the marker `broadcast(marker)`, which is consumed with them. */
    async untilMarker(marker) {
      const index = () => log.findIndex(([e, m]) => e === 'broadcast' && m === marker);
      if (index() < 0) {
        let check;
        const p = new Promise((resolve) => {
          check = () => index() >= 0 && resolve();
          waiters.add(check);
        });
        await withTimeout(p, WAIT, `marker ${marker}`).finally(() => waiters.delete(check));
      }
      return log.splice(0, index() + 1).slice(0, -1);
    },
  };
}

describe('mixed Redis cluster: Sockeye + Node.js @socket.io/redis-adapter', { timeout: 60000 }, () => {
  let redis;
  let rust;
  let node;
  before(async () => {
    redis = await startRedis();
    rust = await startRedisNode('rust', redis.url);
    node = await startRedisNode('node', redis.url);
  });
  after(async () => {
    await rust?.stop();
    await node?.stop();
    await redis?.stop();
  });

  /** Two clients on each node; r1 and n1 in room "r1". */
  async function clients(t) {
    const connect = async (server) => {
      const { socket } = await clientV4(t, server.url);
      return { socket, rec: recorder(socket) };
    };
    const c = {
      r1: await connect(rust), r2: await connect(rust),
      n1: await connect(node), n2: await connect(node),
    };
    assert.deepEqual(await emitAck(c.r1.socket, 'join', 'r1'), ['ok']);
    assert.deepEqual(await emitAck(c.n1.socket, 'join', 'r1'), ['ok']);
    return c;
  }

  /** Polls fetch-count from `socket` until it sees `n` sockets (both nodes subscribed). */
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

  it('fetch-count from either node sees every client of the cluster', { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await clients(t);
    assert.deepEqual(await waitForCount(c.r2.socket, 4), [4]);
    assert.deepEqual(await waitForCount(c.n2.socket, 4), [4]);
    assert.deepEqual(await emitAck(c.r1.socket, 'fetch-count'), [4]);
    assert.deepEqual(await emitAck(c.n1.socket, 'fetch-count'), [4]);
  });

  it('room messages and broadcasts flow both ways exactly once', { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await clients(t);
    await waitForCount(c.r2.socket, 4);
    await waitForCount(c.n2.socket, 4);
    const all = Object.values(c);

    // Sockeye → Node.js: a room message (binary included), then the marker.
    assert.deepEqual(await emitAck(c.r2.socket, 'to-room', 'r1', 'from rust', 1, Buffer.from([1, 2, 3])), ['ok']);
    assert.deepEqual(await emitAck(c.r2.socket, 'broadcast-request', 'm1'), ['ok']);
    const fromRust = [['room-message', 'from rust', 1, Buffer.from([1, 2, 3])]];
    assert.deepEqual(await c.r1.rec.untilMarker('m1'), fromRust);
    assert.deepEqual(await c.n1.rec.untilMarker('m1'), fromRust);
    assert.deepEqual(await c.r2.rec.untilMarker('m1'), []);
    assert.deepEqual(await c.n2.rec.untilMarker('m1'), []);

    // Node.js → Sockeye.
    assert.deepEqual(await emitAck(c.n2.socket, 'to-room', 'r1', { from: 'node' }, Buffer.from([4, 5])), ['ok']);
    assert.deepEqual(await emitAck(c.n2.socket, 'broadcast-request', 'm2'), ['ok']);
    const fromNode = [['room-message', { from: 'node' }, Buffer.from([4, 5])]];
    assert.deepEqual(await c.r1.rec.untilMarker('m2'), fromNode);
    assert.deepEqual(await c.n1.rec.untilMarker('m2'), fromNode);
    assert.deepEqual(await c.r2.rec.untilMarker('m2'), []);
    assert.deepEqual(await c.n2.rec.untilMarker('m2'), []);

    // Broadcasts from both sides, then a last marker from each side: nothing in between,
    // so no duplicate of anything above arrived late.
    assert.deepEqual(await emitAck(c.r1.socket, 'broadcast-request', 'b-rust', [true, null]), ['ok']);
    assert.deepEqual(await emitAck(c.r1.socket, 'broadcast-request', 'm3'), ['ok']);
    for (const { rec } of all) assert.deepEqual(await rec.untilMarker('m3'), [['broadcast', 'b-rust', [true, null]]]);
    assert.deepEqual(await emitAck(c.n1.socket, 'broadcast-request', 'b-node', 2.5), ['ok']);
    assert.deepEqual(await emitAck(c.n1.socket, 'broadcast-request', 'm4'), ['ok']);
    for (const { rec } of all) assert.deepEqual(await rec.untilMarker('m4'), [['broadcast', 'b-node', 2.5]]);
    assert.deepEqual(await emitAck(c.r2.socket, 'broadcast-request', 'm5'), ['ok']);
    for (const { rec } of all) assert.deepEqual(await rec.untilMarker('m5'), []);
  });

  it('broadcasts with acks and serverSideEmit flow both ways', { timeout: TEST_TIMEOUT }, async (t) => {
    const m = {
      r1: await member(t, rust), r2: await member(t, rust),
      n1: await member(t, node), n2: await member(t, node),
    };
    await waitForMembers(m.r1, 4);
    await waitForMembers(m.n1, 4);
    const all = sorted(Object.values(m).map((x) => x.id));

    // Broadcast with acks: every client's ack, whichever node emits.
    for (const from of [m.r1, m.n1]) {
      const [[err, responses]] = await ask(from.socket, WAIT, 'broadcast-with-ack', 3000, null, 'p');
      assert.equal(err, null, `from ${from.node.kind}`);
      assert.deepEqual(sorted(responses), all, `from ${from.node.kind}`);
    }
    // To a room with one member on each node.
    for (const x of [m.r2, m.n2]) assert.deepEqual(await ask(x.socket, WAIT, 'join', 'acks'), ['ok']);
    for (const from of [m.r1, m.n1]) {
      const [[err, responses]] = await ask(from.socket, WAIT, 'broadcast-with-ack', 3000, 'acks', 'p');
      assert.equal(err, null);
      assert.deepEqual(sorted(responses), sorted([m.r2.id, m.n2.id]));
    }

    // serverSideEmit with acks: the one other node answers.
    const [[errR, fromRust]] = await ask(m.r1.socket, WAIT, 'server-side-emit-with-ack', 'q', { k: [1] });
    assert.equal(errR, null);
    assert.deepEqual(fromRust, [{ port: node.port, args: ['q', { k: [1] }] }]);
    const [[errN, fromNode]] = await ask(m.n1.socket, WAIT, 'server-side-emit-with-ack', 'q2');
    assert.equal(errN, null);
    assert.deepEqual(fromNode, [{ port: rust.port, args: ['q2'] }]);

    // Without acks: the other node's clients get the note, the emitter's do not.
    assert.deepEqual(await ask(m.r1.socket, WAIT, 'server-side-emit', 'to-node'), ['ok']);
    assert.deepEqual(await ask(m.r1.socket, WAIT, 'broadcast-request', 'm1'), ['ok']);
    for (const x of [m.n1, m.n2]) assert.deepEqual(await x.untilMarker('m1'), [['cluster-note', 'to-node']]);
    for (const x of [m.r1, m.r2]) assert.deepEqual(await x.untilMarker('m1'), []);
    assert.deepEqual(await ask(m.n2.socket, WAIT, 'server-side-emit', 'to-rust', 7), ['ok']);
    assert.deepEqual(await ask(m.n2.socket, WAIT, 'broadcast-request', 'm2'), ['ok']);
    for (const x of [m.r1, m.r2]) assert.deepEqual(await x.untilMarker('m2'), [['cluster-note', 'to-rust', 7]]);
    for (const x of [m.n1, m.n2]) assert.deepEqual(await x.untilMarker('m2'), []);
  });
});
