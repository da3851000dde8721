// Several namespaces multiplexed over one connection (both client generations), and the
// server's connectTimeout for an Engine.IO connection that never joins a namespace.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket as EngineSocket } from 'engine.io-client';
import { startServer } from './lib/servers.mjs';
import {
  V4_TRANSPORTS, V2_TRANSPORTS, SETTLE, TEST_TIMEOUT, sleep, once, emitAck, connected, record,
  ManagerV4, ioV2, barrier, freshNamespace, waitTransport,
} from './lib/sio.mjs';

const EVENTS = ['auth', 'message-back', 'broadcast', 'disconnect'];

describe('namespaces multiplexed over one connection', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer('echo');
  });
  after(() => server?.stop());

  for (const tr of V4_TRANSPORTS) {
    it(`socket.io-client 4 over ${tr.name}: /, /custom and a dynamic namespace on one Manager`, { timeout: TEST_TIMEOUT }, async (t) => {
      const manager = new ManagerV4(server.url, { reconnection: false, ...tr.opts });
      t.after(() => manager.disconnect());
      const dyn = freshNamespace();
      const nsps = ['/', '/custom', dyn];
      const sockets = nsps.map((nsp) => manager.socket(nsp, { auth: { nsp } }));
      const recs = sockets.map((s) => record(s, ...EVENTS));
      for (const s of sockets) s.connect();
      await Promise.all(sockets.map((s) => connected(s)));
      const [root, custom, dynamic] = sockets;
      assert.equal(new Set(sockets.map((s) => s.io.engine)).size, 1, 'one Engine.IO connection');

      for (let i = 0; i < nsps.length; i++) assert.deepEqual((await recs[i].waitFor('auth'))[0], [{ nsp: nsps[i] }]);

      // Events stay in their namespace.
      custom.emit('message', 'to custom');
      assert.deepEqual((await recs[1].waitFor('message-back'))[0], ['to custom']);
      assert.deepEqual(await emitAck(dynamic, 'broadcast-request', 'dyn'), [1]);
      assert.deepEqual(await emitAck(root, 'count-events'), [0]);
      await barrier(sockets);
      await sleep(SETTLE);
      assert.deepEqual(recs.map((r) => r.take('message-back')), [[], [['to custom']], []]);
      assert.deepEqual(recs.map((r) => r.take('broadcast')), [[], [], [['dyn']]]);

      // disconnect-me only ends the namespace it was sent on; the connection stays up.
      root.emit('disconnect-me');
      assert.deepEqual((await recs[0].waitFor('disconnect'))[0][0], 'io server disconnect');
      await waitTransport(custom, tr.final);
      assert.equal(custom.connected, true);
      assert.equal(dynamic.connected, true);
      assert.deepEqual(await emitAck(custom, 'message-with-ack', 'still here'), ['still here']);

      // So does a client-side disconnect of one namespace.
      custom.disconnect();
      assert.deepEqual(await emitAck(dynamic, 'message-with-ack', 'me too'), ['me too']);
      assert.equal(recs[2].all('disconnect').length, 0);

      // And the root namespace can be joined again on the same connection.
      root.connect();
      await connected(root);
      assert.equal((await recs[0].waitFor('auth', 2)).length, 2);
      assert.deepEqual(await emitAck(root, 'count-events'), [0]);
    });
  }

  for (const tr of V2_TRANSPORTS) {
    it(`socket.io-client 2 over ${tr.name}: / and /custom on one Manager`, { timeout: TEST_TIMEOUT }, async (t) => {
      const manager = new ioV2.Manager(server.url, { reconnection: false, autoConnect: false, ...tr.opts });
      const root = manager.socket('/');
      const custom = manager.socket('/custom');
      t.after(() => {
        root.close();
        custom.close();
      });
      const recs = [root, custom].map((s) => record(s, ...EVENTS));
      root.open();
      custom.open();
      await Promise.all([connected(root), connected(custom)]);
      assert.deepEqual((await recs[0].waitFor('auth'))[0], [{}]);
      assert.deepEqual((await recs[1].waitFor('auth'))[0], [{}]);
      custom.emit('message', 'to custom');
      assert.deepEqual(await emitAck(custom, 'broadcast-request'), [1]);
      await barrier([root, custom]);
      await sleep(SETTLE);
      assert.deepEqual(recs.map((r) => r.take('message-back')), [[], [['to custom']]]);
      assert.deepEqual(recs.map((r) => r.take('broadcast')), [[], [[]]]);
      custom.emit('disconnect-me');
      assert.deepEqual((await recs[1].waitFor('disconnect'))[0][0], 'io server disconnect');
      assert.deepEqual(await emitAck(root, 'message-with-ack', 'still here'), ['still here']);
      assert.equal(recs[0].all('disconnect').length, 0);
    });
  }
});

describe('connectTimeout', { timeout: 30000 }, () => {
  let server;
  before(async () => {
    server = await startServer('echo');
  });
  after(() => server?.stop());

  for (const transports of [['websocket'], ['polling']]) {
    it(`closes an Engine.IO v4 connection (${transports[0]}) that joins no namespace within 1000 ms`, { timeout: TEST_TIMEOUT }, async (t) => {
      const start = Date.now();
      const socket = new EngineSocket(server.url, { path: '/socket.io/', transports });
      t.after(() => socket.close());
      const messages = [];
      socket.on('message', (m) => messages.push(m));
      await once(socket, 'open');
      const [reason] = await once(socket, 'close', { timeout: 3000 });
      const elapsed = Date.now() - start;
      assert.equal(reason, 'transport close');
      assert.ok(elapsed >= 900 && elapsed < 2500, `closed after ${elapsed} ms`);
      assert.deepEqual(messages, []);
    });
  }

  it('keeps a connection that joined a namespace in time', { timeout: TEST_TIMEOUT }, async (t) => {
    const socket = new EngineSocket(server.url, { path: '/socket.io/', transports: ['websocket'] });
    t.after(() => socket.close());
    const messages = [];
    socket.on('message', (m) => messages.push(m));
    await once(socket, 'open');
    socket.send('0/custom,');
    await sleep(1500);
    assert.equal(socket.readyState, 'open');
    assert.equal(messages.length, 2);
    assert.match(messages[0], /^0\/custom,\{"sid":"[^"]+"\}$/);
    assert.equal(messages[1], '2/custom,["auth",{}]');
  });
});
