// A mixed cluster on Redis sharded pub/sub: one Sockeye node (the `redis-node` example
// with `--adapter sharded`) and one Node.js socket.io 4.8.1 node with
// `createShardedAdapter` of @socket.io/redis-adapter 8.3.0 (e2e/reference/redis-node.mjs
// with `--adapter sharded`), sharing a redis-server 7 started by the test (SSUBSCRIBE and
// SPUBLISH on a single server, not a Redis Cluster), in each subscription mode.
//
// "Exactly once" without timing: after the events under test, the same client asks for
// a `broadcast` marker; one server delivers a publisher's messages to a subscriber in
// order, even across channels, so every client must have received exactly the expected
// events when its marker arrives.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { startRedis, startRedisNode } from './lib/redis.mjs';
import { emitAck, sleep, withTimeout, TEST_TIMEOUT } from './lib/sio.mjs';
import { member, waitForCount, sorted, WAIT } from './lib/cluster.mjs';

for (const mode of ['dynamic', 'static', 'dynamic-private']) {
  describe(`mixed sharded cluster (${mode}): Sockeye + Node.js createShardedAdapter`, { timeout: 90000 }, () => {
    let redis;
    let rust;
    let node;
    let kv;
    before(async () => {
      redis = await startRedis();
      const opts = { adapter: 'sharded', subscriptionMode: mode };
      rust = await startRedisNode('rust', redis.url, opts);
      node = await startRedisNode('node', redis.url, opts);
      kv = createClient({ url: redis.url });
      kv.on('error', () => {});
      await kv.connect();
    });
    after(async () => {
      await kv?.quit().catch(() => {});
      await rust?.stop();
      await node?.stop();
      await redis?.stop();
    });

    /** Waits until `n` connections listen on the shard channel of `room` (dynamic modes). */
    async function roomSubscribers(room, n) {
      if (mode === 'static') return;
      const channel = `socket.io#/#${room}#`;
      const deadline = Date.now() + WAIT;
      let last;
      while (Date.now() < deadline) {
        last = (await kv.sendCommand(['PUBSUB', 'SHARDNUMSUB', channel]))[1];
        if (last === n) return;
        await sleep(50);
      }
      assert.fail(`${channel} has ${last} subscribers, expected ${n}`);
    }

    /** Two members on each node; r1 and n1 in room "room-a", all counted by both nodes. */
    async function members(t) {
      const m = {
        r1: await member(t, rust), r2: await member(t, rust),
        n1: await member(t, node), n2: await member(t, node),
      };
      assert.deepEqual(await emitAck(m.r1.socket, 'join', 'room-a'), ['ok']);
      assert.deepEqual(await emitAck(m.n1.socket, 'join', 'room-a'), ['ok']);
      await roomSubscribers('room-a', 2);
      await waitForCount(m.r2, 4);
      await waitForCount(m.n2, 4);
      return m;
    }

    /** Waits until the clients of earlier tests have left the cluster. */
    async function quiet(t) {
      const probe = await member(t, rust);
      await waitForCount(probe, 1);
      probe.socket.close();
    }

    it('room messages and broadcasts flow both ways exactly once, binary included', { timeout: TEST_TIMEOUT * 2 }, async (t) => {
      await quiet(t);
      const m = await members(t);
      const all = Object.values(m);
      const cases = [
        ['r2', ['from rust', 1, Buffer.from([1, 2, 3])]],
        ['n2', [{ from: 'node' }, [1.5, null], Buffer.from([4, 5])]],
      ];
      for (const [sender, args] of cases) {
        assert.deepEqual(await emitAck(m[sender].socket, 'to-room', 'room-a', ...args), ['ok']);
        assert.deepEqual(await emitAck(m[sender].socket, 'broadcast-request', `mark-${sender}`), ['ok']);
        assert.deepEqual(await m.r1.untilMarker(`mark-${sender}`), [['room-message', ...args]]);
        assert.deepEqual(await m.n1.untilMarker(`mark-${sender}`), [['room-message', ...args]]);
        assert.deepEqual(await m.r2.untilMarker(`mark-${sender}`), []);
        assert.deepEqual(await m.n2.untilMarker(`mark-${sender}`), []);
      }
      // To one socket id of the other node (its own channel in dynamic-private mode).
      if (mode === 'dynamic-private') {
        await roomSubscribers(m.n2.id, 1);
        await roomSubscribers(m.r2.id, 1);
      }
      for (const [sender, target] of [['r1', 'n2'], ['n1', 'r2']]) {
        assert.deepEqual(await emitAck(m[sender].socket, 'to-room', m[target].id, 'direct'), ['ok']);
        assert.deepEqual(await emitAck(m[sender].socket, 'broadcast-request', `d-${sender}`), ['ok']);
        for (const [name, member_] of Object.entries(m)) {
          const expected = name === target ? [['room-message', 'direct']] : [];
          assert.deepEqual(await member_.untilMarker(`d-${sender}`), expected, `${name} after d-${sender}`);
        }
      }
      // Except a room, from both sides.
      for (const sender of ['r2', 'n2']) {
        assert.deepEqual(await emitAck(m[sender].socket, 'broadcast-request', 'everyone', sender), ['ok']);
        assert.deepEqual(await emitAck(m[sender].socket, 'to-room-except', 'room-a', 'nobody', 'x'), ['ok']);
        assert.deepEqual(await emitAck(m[sender].socket, 'broadcast-request', `e-${sender}`), ['ok']);
        for (const [name, member_] of Object.entries(m)) {
          const expected = [['broadcast', 'everyone', sender]];
          if (name.endsWith('1')) expected.push(['room-message', 'x']);
          assert.deepEqual(await member_.untilMarker(`e-${sender}`), expected, `${name} after e-${sender}`);
        }
      }
      for (const x of all) x.socket.close();
    });

    it('fetchSockets sees the sockets of both nodes, from either node', { timeout: TEST_TIMEOUT }, async (t) => {
      await quiet(t);
      const m = await members(t);
      const ids = sorted(Object.values(m).map((x) => x.id));
      for (const asker of [m.r2, m.n2]) {
        assert.deepEqual(await emitAck(asker.socket, 'fetch-ids', null), [ids]);
        assert.deepEqual(await emitAck(asker.socket, 'fetch-ids', 'room-a'), [sorted([m.r1.id, m.n1.id])]);
      }
    });

    for (const from of ['rust', 'node']) {
      it(`remote join, leave and disconnect asked on the ${from} node reach both nodes`, { timeout: TEST_TIMEOUT * 2 }, async (t) => {
        await quiet(t);
        const m = await members(t);
        const asker = from === 'rust' ? m.r2 : m.n2;
        for (const target of [m.r1, m.n1]) {
          assert.deepEqual(await emitAck(asker.socket, 'remote-join', target.id, 'room-b'), ['ok']);
        }
        await roomSubscribers('room-b', 2);
        await withTimeout((async () => {
          for (;;) {
            const [ids] = await emitAck(asker.socket, 'fetch-ids', 'room-b');
            if (ids.length === 2) return;
            await sleep(50);
          }
        })(), WAIT, 'both sockets in room-b');
        assert.deepEqual(await emitAck(m.n2.socket, 'to-room', 'room-b', 'in b'), ['ok']);
        assert.deepEqual(await emitAck(m.n2.socket, 'broadcast-request', 'b'), ['ok']);
        assert.deepEqual(await m.r1.untilMarker('b'), [['room-message', 'in b']]);
        assert.deepEqual(await m.n1.untilMarker('b'), [['room-message', 'in b']]);
        assert.deepEqual(await m.r2.untilMarker('b'), []);

        for (const target of [m.r1, m.n1]) {
          assert.deepEqual(await emitAck(asker.socket, 'remote-leave', target.id, 'room-b'), ['ok']);
        }
        await roomSubscribers('room-b', 0);
        await withTimeout((async () => {
          for (;;) {
            const [ids] = await emitAck(asker.socket, 'fetch-ids', 'room-b');
            if (ids.length === 0) return;
            await sleep(50);
          }
        })(), WAIT, 'nobody left in room-b');

        const gone = [m.r1, m.n1].map((x) =>
          withTimeout(new Promise((resolve) => x.socket.once('disconnect', resolve)), WAIT, 'a disconnect'));
        for (const target of [m.r1, m.n1]) {
          assert.deepEqual(await emitAck(asker.socket, 'remote-disconnect', target.id), ['ok']);
        }
        assert.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
        await waitForCount(m.r2, 2);
        await waitForCount(m.n2, 2);
      });
    }

    it('server-side emits with and without acks go both ways', { timeout: TEST_TIMEOUT }, async (t) => {
      await quiet(t);
      const m = await members(t);
      for (const [asker, other] of [[m.r2, node], [m.n2, rust]]) {
        const [[err, answers]] = await emitAck(asker.socket, 'server-side-emit-with-ack', 'q', { n: 1 });
        assert.equal(err, null);
        assert.deepEqual(answers, [{ port: other.port, args: ['q', { n: 1 }] }]);
      }
      // Without acks: the other node's clients get the note, the sender's node's do not
      // (their first note is the one sent afterwards from the other side).
      assert.deepEqual(await emitAck(m.r1.socket, 'server-side-emit', 'from rust'), ['ok']);
      await m.n1.waitFor(([e, a]) => e === 'cluster-note' && a === 'from rust', 'note on node');
      assert.deepEqual(await emitAck(m.n1.socket, 'server-side-emit', 'from node'), ['ok']);
      await m.r1.waitFor(([e, a]) => e === 'cluster-note' && a === 'from node', 'note on rust');
      assert.deepEqual(m.r1.take(), [['cluster-note', 'from node']]);
      assert.deepEqual(m.n1.take(), [['cluster-note', 'from rust']]);
    });

    it('a broadcast with acks collects the acks of every client of both nodes', { timeout: TEST_TIMEOUT }, async (t) => {
      await quiet(t);
      const m = await members(t);
      const ids = sorted(Object.values(m).map((x) => x.id));
      for (const asker of [m.r1, m.n1]) {
        const [[err, responses]] = await emitAck(asker.socket, 'broadcast-with-ack', 2000, null, 'hi');
        assert.equal(err, null);
        assert.deepEqual(sorted(responses), ids);
        const [[err2, inRoom]] = await emitAck(asker.socket, 'broadcast-with-ack', 2000, 'room-a', 'hi');
        assert.equal(err2, null);
        assert.deepEqual(sorted(inRoom), sorted([m.r1.id, m.n1.id]));
      }
    });
  });
}
