// Rooms and broadcasts between several clients of the `echo` fixture: exactly the right
// clients receive, exactly once, the sender excluded where it must be; namespace isolation;
// `broadcast-request` and `broadcast-with-ack-request`; clients of both generations mixed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/servers.mjs';
import {
  V4_TRANSPORTS, V2_TRANSPORTS, SETTLE, TEST_TIMEOUT, sleep, emitAck, clientV4, clientV2,
  barrier, freshNamespace, buf,
} from './lib/sio.mjs';

const EVENTS = ['room-message', 'broadcast', 'ping-all'];

async function freshServer(t) {
  const server = await startServer('echo');
  t.after(() => server.stop());
  return server;
}

/**
 * Connects named clients: `specs` maps a name to { v: 2 | 4, nsp, opts }.
 * Each client answers `ping-all` with its name unless `silent`.
 */
async function group(t, url, specs) {
  const clients = {};
  for (const [name, { v = 4, nsp = '/', opts = {}, silent = false }] of Object.entries(specs)) {
    const open = v === 2 ? clientV2 : clientV4;
    clients[name] = await open(t, url, { nsp, events: EVENTS, ...opts });
    if (!silent) {
      clients[name].socket.on('ping-all', (...args) => {
        const ack = args.at(-1);
        if (typeof ack === 'function') ack(name);
      });
    }
  }
  return clients;
}

/** { name: [argument lists of `event` received since the last call] }, ack callbacks removed. */
function received(clients, event) {
  return Object.fromEntries(
    Object.entries(clients).map(([name, c]) => [
      name,
      c.rec.take(event).map((args) => args.filter((a) => typeof a !== 'function')),
    ]),
  );
}

const sockets = (clients) => Object.values(clients).map((c) => c.socket);

for (const tr of V4_TRANSPORTS) {
  describe(`rooms and broadcasts: socket.io-client 4 over ${tr.name}`, { timeout: 60000 }, () => {
    const v4 = (nsp = '/', extra = {}) => ({ v: 4, nsp, opts: { ...tr.opts, ...extra } });

    for (const nspKind of ['/', '/custom', 'dynamic']) {
      it(`join, to-room and leave deliver to exactly the room members in ${nspKind}`, { timeout: TEST_TIMEOUT }, async (t) => {
        const server = await freshServer(t);
        const nsp = nspKind === 'dynamic' ? freshNamespace() : nspKind;
        const c = await group(t, server.url, { A: v4(nsp), B: v4(nsp), C: v4(nsp), D: v4(nsp) });
        const all = sockets(c);
        const { A, B, C, D } = c;

        assert.deepEqual(await emitAck(A.socket, 'join', 'r1'), ['ok']);
        assert.deepEqual(await emitAck(B.socket, 'join', 'r1'), ['ok']);
        assert.deepEqual(await emitAck(B.socket, 'join', 'r1'), ['ok'], 'joining twice is harmless');
        assert.deepEqual(await emitAck(B.socket, 'join', 'r2'), ['ok']);

        // A non-member sends to r1: both members, once each.
        assert.deepEqual(await emitAck(C.socket, 'to-room', 'r1', 'from C', { n: 1 }), ['ok']);
        await barrier(all);
        assert.deepEqual(received(c, 'room-message'), { A: [['from C', { n: 1 }]], B: [['from C', { n: 1 }]], C: [], D: [] });

        // A member sends to its own room: the sender is excluded.
        assert.deepEqual(await emitAck(A.socket, 'to-room', 'r1', 'from A'), ['ok']);
        await barrier(all);
        assert.deepEqual(received(c, 'room-message'), { A: [], B: [['from A']], C: [], D: [] });

        // r2 only has B, which is in two rooms but receives once.
        assert.deepEqual(await emitAck(A.socket, 'to-room', 'r2', Buffer.from([1, 2])), ['ok']);
        await barrier(all);
        const r2 = received(c, 'room-message');
        assert.deepEqual(r2, { A: [], B: [[Buffer.from([1, 2])]], C: [], D: [] });
        buf(r2.B[0][0]);

        // After leaving, B no longer receives r1 messages; leaving twice is harmless.
        assert.deepEqual(await emitAck(B.socket, 'leave', 'r1'), ['ok']);
        assert.deepEqual(await emitAck(B.socket, 'leave', 'r1'), ['ok']);
        assert.deepEqual(await emitAck(C.socket, 'to-room', 'r1', 'after leave'), ['ok']);
        await barrier(all);
        assert.deepEqual(received(c, 'room-message'), { A: [['after leave']], B: [], C: [], D: [] });

        // Nobody in the room: nobody receives; unknown room names are fine.
        assert.deepEqual(await emitAck(A.socket, 'to-room', 'empty-room', 'x'), ['ok']);
        // Each socket is in the room named after its own id.
        assert.deepEqual(await emitAck(A.socket, 'to-room', D.socket.id, 'private'), ['ok']);
        await barrier(all);
        await sleep(SETTLE);
        assert.deepEqual(received(c, 'room-message'), { A: [], B: [], C: [], D: [['private']] });
      });
    }

    it('rooms belong to a namespace', { timeout: TEST_TIMEOUT }, async (t) => {
      const server = await freshServer(t);
      const c = await group(t, server.url, { A: v4('/'), B: v4('/custom'), C: v4('/'), D: v4('/custom') });
      for (const name of ['A', 'B']) assert.deepEqual(await emitAck(c[name].socket, 'join', 'shared'), ['ok']);
      assert.deepEqual(await emitAck(c.C.socket, 'to-room', 'shared', 'in /'), ['ok']);
      assert.deepEqual(await emitAck(c.D.socket, 'to-room', 'shared', 'in /custom'), ['ok']);
      await barrier(sockets(c));
      await sleep(SETTLE);
      assert.deepEqual(received(c, 'room-message'), { A: [['in /']], B: [['in /custom']], C: [], D: [] });
    });

    for (const nspKind of ['/', '/custom', 'dynamic']) {
      it(`broadcast-request reaches every socket of ${nspKind} once and acks the count`, { timeout: TEST_TIMEOUT }, async (t) => {
        const server = await freshServer(t);
        const nsp = nspKind === 'dynamic' ? freshNamespace() : nspKind;
        const other = nsp === '/' ? '/custom' : '/';
        const c = await group(t, server.url, { A: v4(nsp), B: v4(nsp), C: v4(nsp), X: v4(other) });
        const args = ['hello', { bin: Buffer.from([0, 255]) }, [1, 2]];
        assert.deepEqual(await emitAck(c.B.socket, 'broadcast-request', ...args), [3]);
        await barrier(sockets(c));
        const got = received(c, 'broadcast');
        assert.deepEqual(got, { A: [args], B: [args], C: [args], X: [] });
        buf(got.C[0][1].bin);

        // A closed client is no longer counted nor reached.
        c.C.socket.close();
        await sleep(SETTLE);
        assert.deepEqual(await emitAck(c.A.socket, 'broadcast-request'), [2]);
        await barrier([c.A.socket, c.B.socket, c.X.socket]);
        await sleep(SETTLE);
        assert.deepEqual(received(c, 'broadcast'), { A: [[]], B: [[]], C: [], X: [] });
      });
    }

    it('broadcast-with-ack-request collects the ack of every socket of the namespace', { timeout: TEST_TIMEOUT }, async (t) => {
      const nsp = freshNamespace();
      const server = await freshServer(t);
      const c = await group(t, server.url, { A: v4(nsp), B: v4(nsp), C: v4(nsp), X: v4('/custom') });
      const [[err, responses]] = await emitAck(c.A.socket, 'broadcast-with-ack-request', 'q', { n: 1 });
      assert.equal(err, null);
      assert.deepEqual([...responses].sort(), ['A', 'B', 'C']);
      await barrier(sockets(c));
      await sleep(SETTLE);
      assert.deepEqual(received(c, 'ping-all'), { A: [['q', { n: 1 }]], B: [['q', { n: 1 }]], C: [['q', { n: 1 }]], X: [] });
    });

    it('broadcast-with-ack-request reports the timeout and the acks it got', { timeout: TEST_TIMEOUT }, async (t) => {
      const nsp = freshNamespace();
      const server = await freshServer(t);
      const c = await group(t, server.url, { A: v4(nsp), B: v4(nsp), Mute: { ...v4(nsp), silent: true } });
      const start = Date.now();
      const [[err, responses]] = await emitAck(c.B.socket, 'broadcast-with-ack-request');
      const elapsed = Date.now() - start;
      assert.equal(err, 'operation has timed out');
      assert.deepEqual([...responses].sort(), ['A', 'B']);
      assert.ok(elapsed >= 900, `answered after ${elapsed} ms, expected about 1000 ms`);
      assert.deepEqual(received(c, 'ping-all'), { A: [[]], B: [[]], Mute: [[]] });
    });
  });
}

describe('rooms and broadcasts: clients of both generations and all transports together', { timeout: 60000 }, () => {
  const specs = (nsp) => ({
    ...Object.fromEntries(V4_TRANSPORTS.map((tr) => [`v4 ${tr.name}`, { v: 4, nsp, opts: tr.opts }])),
    ...Object.fromEntries(V2_TRANSPORTS.map((tr) => [`v2 ${tr.name}`, { v: 2, nsp, opts: tr.opts }])),
  });
  const names = Object.keys(specs('/'));

  for (const nspKind of ['/', '/custom']) {
    it(`broadcasts, rooms and broadcast acks across versions in ${nspKind}`, { timeout: TEST_TIMEOUT }, async (t) => {
      const server = await freshServer(t);
      const c = await group(t, server.url, specs(nspKind));
      const all = sockets(c);
      const each = (value) => Object.fromEntries(names.map((n) => [n, value(n)]));

      const args = ['to all', Buffer.from('bytes'), { nested: [Buffer.from([7])], s: 'héllo ☃' }];
      assert.deepEqual(await emitAck(c['v2 websocket'].socket, 'broadcast-request', ...args), [names.length]);
      await barrier(all);
      const got = received(c, 'broadcast');
      assert.deepEqual(got, each(() => [args]));
      for (const n of names) buf(got[n][0][2].nested[0]);

      // v2 and v4 clients in one room, a v4 client sends.
      for (const n of ['v2 polling+upgrade', 'v4 polling', 'v4 websocket']) {
        assert.deepEqual(await emitAck(c[n].socket, 'join', 'mixed'), ['ok']);
      }
      assert.deepEqual(await emitAck(c['v4 websocket'].socket, 'to-room', 'mixed', Buffer.from([1])), ['ok']);
      await barrier(all);
      await sleep(SETTLE);
      const expected = each(() => []);
      expected['v2 polling+upgrade'] = [[Buffer.from([1])]];
      expected['v4 polling'] = [[Buffer.from([1])]];
      assert.deepEqual(received(c, 'room-message'), expected);

      const [[err, responses]] = await emitAck(c['v4 polling'].socket, 'broadcast-with-ack-request', 'who');
      assert.equal(err, null);
      assert.deepEqual([...responses].sort(), [...names].sort());
      await barrier(all);
      assert.deepEqual(received(c, 'ping-all'), each(() => [['who']]));
    });
  }
});
