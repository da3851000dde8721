// Connection state recovery (socket.io 4.6+ `connectionStateRecovery`) with the official
// socket.io-client 4.8.1 against the `echo` fixture started with `--recovery-ms`.
//
// The connection is cut the hard way: the client talks to the server through a small TCP
// proxy in this file that resets both sides (RST) and refuses new connections for a while,
// so the client is away while the server goes on broadcasting to its room.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tcpProxy } from './lib/proxy.mjs';
import { startServer } from './lib/servers.mjs';
import { TEST_TIMEOUT, emitAck, clientV4, clientV2, sleep, withTimeout } from './lib/sio.mjs';

const RECONNECT = {
  reconnection: true,
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  randomizationFactor: 0,
};

/** The numbers carried by the `room-message` events received so far. */
const numbers = (rec) => rec.all('room-message').map((args) => args[0]);

/** Sends `room-message` n to `room` for every n in [from, to), one after the other. */
async function sendRange(sender, room, from, to) {
  for (let n = from; n < to; n++) {
    assert.deepEqual(await emitAck(sender, 'to-room', room, n), ['ok']);
  }
}

/**
 * Waits until the server counts `n` sockets in namespace `/` (asked through `sender`), so a
 * cut client's old socket is surely gone (and its session kept) before it comes back.
 */
async function waitForSocketCount(sender, n) {
  const deadline = Date.now() + 8000;
  for (;;) {
    const [count] = await emitAck(sender, 'broadcast-request', 'count');
    if (count === n) return;
    if (Date.now() > deadline) throw new Error(`the server still counts ${count} sockets, expected ${n}`);
    await sleep(50);
  }
}

describe('connection state recovery', { timeout: 60000 }, () => {
  for (const transport of ['websocket', 'polling']) {
    it(`a client cut off within the window gets its socket back with every missed event once, in order (${transport})`, { timeout: TEST_TIMEOUT }, async (t) => {
      const server = await startServer('echo', { args: ['--recovery-ms', '10000'] });
      t.after(() => server.stop());
      const proxy = await tcpProxy(t, server.port);
      const { socket, rec } = await clientV4(t, proxy.url, {
        ...RECONNECT, transports: [transport], events: ['connect', 'disconnect', 'room-message'],
      });
      const { socket: sender } = await clientV4(t, server.url);

      assert.deepEqual(await emitAck(socket, 'join', 'news'), ['ok']);
      assert.deepEqual(await emitAck(socket, 'set-data', { name: 'alice' }), ['ok']);
      const [before] = await emitAck(socket, 'state');
      assert.equal(before.recovered, false);
      assert.equal(before.id, socket.id);
      assert.equal(socket.recovered, false);
      assert.equal(typeof socket._pid, 'string', 'the CONNECT reply carries a pid');

      await sendRange(sender, 'news', 0, 5);
      await rec.waitFor('room-message', 5);
      // Each broadcast event carries its offset as last argument, which the client tracks.
      for (const args of rec.all('room-message')) {
        assert.equal(args.length, 2);
        assert.equal(typeof args[1], 'string');
      }

      proxy.cut();
      // Some events leave while the server may still think the client is there...
      await sendRange(sender, 'news', 5, 10);
      const [[reason]] = await rec.waitFor('disconnect');
      assert.ok(['transport close', 'transport error'].includes(reason), `unexpected disconnect reason ${reason}`);
      // ...and more once the server has seen it go.
      await waitForSocketCount(sender, 1);
      await sendRange(sender, 'news', 10, 15);
      proxy.restore();

      await rec.waitFor('connect', 2, { timeout: 8000 });
      assert.equal(socket.recovered, true);
      assert.equal(socket.id, before.id);
      await sendRange(sender, 'news', 15, 20);
      await rec.waitFor('room-message', 20, { timeout: 8000 });
      // The server queues this ack behind everything it sent before: a duplicate would show now.
      const [after] = await emitAck(socket, 'state');
      assert.deepEqual(numbers(rec), Array.from({ length: 20 }, (_, n) => n));
      const offsets = rec.all('room-message').map((args) => args[1]);
      assert.equal(new Set(offsets).size, 20, 'every event has its own offset');
      assert.deepEqual(after, { id: before.id, recovered: true, rooms: [before.id, 'news'].sort(), data: { name: 'alice' } });
      assert.equal(rec.all('disconnect').length, 1);
    });
  }

  // The fixture's connect middleware refuses a CONNECT whose auth has `refuse: true`; the
  // client sends its current `auth` (plus pid and offset) when it reconnects.
  for (const { skip, args } of [
    { skip: true, args: [] },
    { skip: false, args: ['--recovery-with-middlewares'] },
  ]) {
    it(`a recovered client ${skip ? 'skips' : 'goes through'} the connect middleware (skipMiddlewares: ${skip})`, { timeout: TEST_TIMEOUT }, async (t) => {
      const server = await startServer('echo', { args: ['--recovery-ms', '10000', ...args] });
      t.after(() => server.stop());
      const proxy = await tcpProxy(t, server.port);
      const { socket, rec } = await clientV4(t, proxy.url, {
        ...RECONNECT, transports: ['websocket'], events: ['connect', 'disconnect'],
      });
      const { socket: sender } = await clientV4(t, server.url);
      await rec.waitFor('auth');
      const oldId = socket.id;

      proxy.cut();
      await rec.waitFor('disconnect');
      await waitForSocketCount(sender, 1);
      socket.auth = { refuse: true };
      proxy.restore();

      if (skip) {
        await rec.waitFor('connect', 2, { timeout: 8000 });
        assert.equal(socket.recovered, true);
        assert.equal(socket.id, oldId);
      } else {
        // Refused reconnection attempts through the closed proxy are connect_errors too.
        const refused = new Promise((resolve) =>
          socket.on('connect_error', (err) => err.message === 'refused by middleware' && resolve(err)),
        );
        const err = await withTimeout(refused, 8000, 'the refusal of the middleware');
        assert.deepEqual(err.data, { reason: 'test' });
        assert.equal(socket.connected, false);
        assert.equal(rec.all('connect').length, 1);
      }
    });
  }

  it('a client that comes back after the window gets a new socket', { timeout: TEST_TIMEOUT }, async (t) => {
    const windowMs = 500;
    const server = await startServer('echo', { args: ['--recovery-ms', String(windowMs)] });
    t.after(() => server.stop());
    const proxy = await tcpProxy(t, server.port);
    const { socket, rec } = await clientV4(t, proxy.url, { ...RECONNECT, transports: ['websocket'], events: ['connect', 'disconnect'] });
    await rec.waitFor('auth');
    assert.deepEqual(await emitAck(socket, 'join', 'news'), ['ok']);
    const oldId = socket.id;
    assert.equal(typeof socket._lastOffset, 'string', 'the client has an offset to present');

    proxy.cut();
    await rec.waitFor('disconnect');
    // Staying away for longer than the window is the point of this test.
    await sleep(windowMs * 4);
    proxy.restore();

    await rec.waitFor('connect', 2, { timeout: 8000 });
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, oldId);
    const [state] = await emitAck(socket, 'state');
    assert.equal(state.recovered, false);
    assert.equal(state.id, socket.id);
    assert.deepEqual(state.rooms, [socket.id]);
  });

  it('a client that disconnects on purpose is not recovered when it connects again', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer('echo', { args: ['--recovery-ms', '10000'] });
    t.after(() => server.stop());
    const { socket, rec } = await clientV4(t, server.url, { events: ['connect'] });
    await rec.waitFor('auth');
    assert.deepEqual(await emitAck(socket, 'join', 'news'), ['ok']);
    const oldId = socket.id;
    assert.equal(typeof socket._pid, 'string');
    assert.equal(typeof socket._lastOffset, 'string');

    socket.disconnect();
    socket.connect();
    await rec.waitFor('connect', 2);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, oldId);
    const [state] = await emitAck(socket, 'state');
    assert.equal(state.recovered, false);
    assert.deepEqual(state.rooms, [socket.id]);
  });

  it('socket.io-client 2.x connects as before (no recovery for protocol v4)', { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer('echo', { args: ['--recovery-ms', '10000'] });
    t.after(() => server.stop());
    const { socket, rec } = await clientV2(t, server.url, { events: ['message-back'] });
    await rec.waitFor('auth');
    const [state] = await emitAck(socket, 'state');
    assert.equal(state.recovered, false);
    assert.equal(state.id, socket.id);
    assert.deepEqual(await emitAck(socket, 'message-with-ack', 'hi'), ['hi']);
    socket.emit('message', 'hello');
    const [[first]] = await rec.waitFor('message-back');
    assert.equal(first, 'hello');
  });
});
