// A cluster of three nodes of the `redis-node` fixture (the Sockeye example, or the
// Node.js reference with SOCKEYE_E2E_SERVER=node) sharing a redis-server started by the
// test, with socket.io-client 4 clients spread over them.
//
// "Exactly once" without timing: after the events under test, the same node emits a
// `broadcast` marker; one node's messages stay in order through Redis, so every client
// must have received exactly the expected events when the marker arrives.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startRedisNode } from './lib/redis.mjs';
import { serverKind } from './lib/servers.mjs';
import { ask, member, waitForCount, sorted, WAIT } from './lib/cluster.mjs';
import { once } from './lib/sio.mjs';

const TEST_TIMEOUT = 30000;

describe(`Redis cluster of three ${serverKind} nodes`, { timeout: 120000 }, () => {
  let redis;
  let nodes;
  before(async () => {
    redis = await startRedis();
    nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await startRedisNode(serverKind, redis.url));
  });
  after(async () => {
    for (const node of nodes ?? []) await node.stop();
    await redis?.stop();
  });

  /** Two clients on each node (a1 a2 on A, b1 b2 on B, c1 c2 on C), all seen by every node. */
  async function clients(t) {
    const [A, B, C] = nodes;
    const c = {
      a1: await member(t, A), a2: await member(t, A),
      b1: await member(t, B), b2: await member(t, B),
      c1: await member(t, C), c2: await member(t, C),
    };
    for (const x of [c.a1, c.b1, c.c1]) await waitForCount(x, 6);
    return c;
  }

  it('a room broadcast reaches exactly the room members of every node, once; except works', { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await clients(t);
    for (const x of [c.a1, c.b1, c.c2]) assert.deepEqual(await ask(x.socket, WAIT, 'join', 'r'), ['ok']);
    assert.deepEqual(await ask(c.b1.socket, WAIT, 'join', 'muted'), ['ok']);

    assert.deepEqual(await ask(c.a2.socket, WAIT, 'to-room', 'r', 'hello', 1), ['ok']);
    assert.deepEqual(await ask(c.a2.socket, WAIT, 'to-room-except', 'r', 'muted', 'not b1'), ['ok']);
    assert.deepEqual(await ask(c.a2.socket, WAIT, 'broadcast-request', 'm1'), ['ok']);
    const hello = ['room-message', 'hello', 1];
    const notB1 = ['room-message', 'not b1'];
    assert.deepEqual(await c.a1.untilMarker('m1'), [hello, notB1]);
    assert.deepEqual(await c.b1.untilMarker('m1'), [hello]);
    assert.deepEqual(await c.c2.untilMarker('m1'), [hello, notB1]);
    for (const x of [c.a2, c.b2, c.c1]) assert.deepEqual(await x.untilMarker('m1'), []);

    // From another node, to a room of one remote member only.
    assert.deepEqual(await ask(c.c1.socket, WAIT, 'to-room', c.b2.id, 'direct'), ['ok']);
    assert.deepEqual(await ask(c.c1.socket, WAIT, 'broadcast-request', 'm2'), ['ok']);
    assert.deepEqual(await c.b2.untilMarker('m2'), [['room-message', 'direct']]);
    for (const x of [c.a1, c.a2, c.b1, c.c1, c.c2]) assert.deepEqual(await x.untilMarker('m2'), []);
  });

  it('fetchSockets from any node sees every socket of the cluster', { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await clients(t);
    const all = sorted(Object.values(c).map((x) => x.id));
    for (const x of [c.a1, c.b2, c.c1]) assert.deepEqual(await ask(x.socket, WAIT, 'fetch-ids', null), [all]);
    assert.deepEqual(await ask(c.c2.socket, WAIT, 'join', 'only-c2'), ['ok']);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'fetch-ids', 'only-c2'), [[c.c2.id]]);
  });

  it('remote join, leave and disconnect reach sockets of other nodes', { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await clients(t);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'remote-join', c.c1.id, 'vip'), ['ok']);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'remote-join', c.b2.id, 'vip'), ['ok']);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'to-room', 'vip', 'v1'), ['ok']);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'broadcast-request', 'm1'), ['ok']);
    assert.deepEqual(await c.c1.untilMarker('m1'), [['room-message', 'v1']]);
    assert.deepEqual(await c.b2.untilMarker('m1'), [['room-message', 'v1']]);
    for (const x of [c.a1, c.a2, c.b1, c.c2]) assert.deepEqual(await x.untilMarker('m1'), []);

    assert.deepEqual(await ask(c.a1.socket, WAIT, 'remote-leave', c.c1.id, 'vip'), ['ok']);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'to-room', 'vip', 'v2'), ['ok']);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'broadcast-request', 'm2'), ['ok']);
    assert.deepEqual(await c.c1.untilMarker('m2'), []);
    assert.deepEqual(await c.b2.untilMarker('m2'), [['room-message', 'v2']]);

    const gone = once(c.b1.socket, 'disconnect', { timeout: WAIT });
    assert.deepEqual(await ask(c.c2.socket, WAIT, 'remote-disconnect', c.b1.id), ['ok']);
    assert.equal((await gone)[0], 'io server disconnect');
    await waitForCount(c.a1, 5);
  });

  it('serverSideEmit reaches the other nodes, with and without acknowledgements', { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await clients(t);
    const [A, B, C] = nodes;
    // Without ack: B and C relay `cluster-note` to their own clients; A does not get it.
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'server-side-emit', 'note', { n: 1 }), ['ok']);
    assert.deepEqual(await ask(c.a1.socket, WAIT, 'broadcast-request', 'm1'), ['ok']);
    for (const x of [c.b1, c.b2, c.c1, c.c2]) assert.deepEqual(await x.untilMarker('m1'), [['cluster-note', 'note', { n: 1 }]]);
    for (const x of [c.a1, c.a2]) assert.deepEqual(await x.untilMarker('m1'), []);

    // With acks: one answer from each other node.
    const [[err, responses]] = await ask(c.b1.socket, WAIT, 'server-side-emit-with-ack', 'q', [1, 'two']);
    assert.equal(err, null);
    assert.deepEqual(
      responses.sort((x, y) => x.port - y.port),
      [A, C].map((n) => ({ port: n.port, args: ['q', [1, 'two']] })).sort((x, y) => x.port - y.port),
    );
    assert.ok(B);
  });

  it('a broadcast with acks collects the ack of every client of the cluster', { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await clients(t);
    const all = sorted(Object.values(c).map((x) => x.id));
    const [[err, responses]] = await ask(c.c1.socket, WAIT, 'broadcast-with-ack', 3000, null, 'p');
    assert.equal(err, null);
    assert.deepEqual(sorted(responses), all);

    // To a room spread over two nodes.
    for (const x of [c.a2, c.b1]) assert.deepEqual(await ask(x.socket, WAIT, 'join', 'acks'), ['ok']);
    const [[err2, responses2]] = await ask(c.b2.socket, WAIT, 'broadcast-with-ack', 3000, 'acks', 'p');
    assert.equal(err2, null);
    assert.deepEqual(sorted(responses2), sorted([c.a2.id, c.b1.id]));
  });
});
