// socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4, accepted thanks to allowEIO3)
// against the `echo` fixture: what these older clients see from a 4.x server.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/servers.mjs';
import {
  V2_TRANSPORTS, SETTLE, TEST_TIMEOUT, sleep, emitAck, connected, clientV2, transportOf,
  waitTransport, freshNamespace, buf, barrier,
} from './lib/sio.mjs';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
// Astral characters count as 2 in Engine.IO v3 polling length prefixes (UTF-16 code units).
const UNICODE = 'héllo ☃ 😀 \u0000 "quoted" \\ end';

for (const tr of V2_TRANSPORTS) {
  describe(`socket.io-client 2 over ${tr.name}`, { timeout: 60000 }, () => {
    let server;
    before(async () => {
      server = await startServer('echo');
    });
    after(() => server?.stop());

    const connect = (t, opts = {}) => clientV2(t, server.url, { ...tr.opts, ...opts });

    it('connects, receives `auth` {} once and settles on the expected transport', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t);
      assert.equal(socket.connected, true);
      const [[auth]] = await rec.waitFor('auth');
      assert.deepEqual(auth, {});
      await waitTransport(socket, tr.final);
      await sleep(SETTLE);
      assert.equal(rec.all('auth').length, 1);
      assert.equal(transportOf(socket), tr.final);
    });

    it('in another namespace, `auth` is the query of the CONNECT packet ({} without one)', { timeout: TEST_TIMEOUT }, async (t) => {
      const plain = await connect(t, { nsp: '/custom' });
      assert.deepEqual((await plain.rec.waitFor('auth'))[0], [{}]);
      const withQuery = await connect(t, { nsp: '/custom', query: { foo: 'bar', n: '1' } });
      assert.deepEqual((await withQuery.rec.waitFor('auth'))[0], [{ foo: 'bar', n: '1' }]);
    });

    it('the connect middleware refuses the handshake query refuse=1: `error` with the data', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { query: { refuse: '1' }, wait: false, events: ['connect', 'error'] });
      const [[err]] = await rec.waitFor('error');
      // A 4.x server sends `err.data || err.message` to protocol v4 clients.
      assert.deepEqual(err, { reason: 'test' });
      await sleep(SETTLE);
      assert.equal(rec.all('error').length, 1);
      assert.equal(rec.all('connect').length, 0);
      assert.equal(rec.all('auth').length, 0);
      assert.equal(socket.connected, false);
    });

    it('refused in /custom: the implicit / connection is refused too, both errors reach the socket', { timeout: TEST_TIMEOUT }, async (t) => {
      const { rec } = await connect(t, { nsp: '/custom', query: { refuse: '1' }, wait: false, events: ['connect', 'error'] });
      const errors = await rec.waitFor('error', 2);
      await sleep(SETTLE);
      assert.deepEqual(errors, [[{ reason: 'test' }], [{ reason: 'test' }]]);
      assert.equal(rec.all('connect').length, 0);
    });

    it('other values of the refuse query are accepted', { timeout: TEST_TIMEOUT }, async (t) => {
      const { rec } = await connect(t, { query: { refuse: '0' } });
      assert.deepEqual((await rec.waitFor('auth'))[0], [{}]);
    });

    for (const nsp of ['/nope', '/dynamic-x']) {
      it(`refuses the unknown namespace ${nsp}: \`error\` {message: "Invalid namespace"}`, { timeout: TEST_TIMEOUT }, async (t) => {
        const { socket, rec } = await connect(t, { nsp, wait: false, events: ['connect', 'error'] });
        const [[err]] = await rec.waitFor('error');
        assert.deepEqual(err, { message: 'Invalid namespace' });
        await sleep(SETTLE);
        assert.equal(rec.all('error').length, 1);
        assert.equal(rec.all('connect').length, 0);
        assert.equal(socket.connected, false);
      });
    }

    it('echoes `message` args back as `message-back`', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back'] });
      const args = ['hello', 42, -1.5, true, null, { a: [1, 'b', { c: null }] }, UNICODE, ''];
      socket.emit('message', ...args);
      socket.emit('message');
      socket.emit('message', UNICODE.repeat(100));
      const got = await rec.waitFor('message-back', 3);
      await sleep(SETTLE);
      assert.deepEqual(got, [args, [], [UNICODE.repeat(100)]]);
    });

    it('acks `message-with-ack` with the same args', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket } = await connect(t);
      assert.deepEqual(await emitAck(socket, 'message-with-ack', 'a', 1, { b: [null, UNICODE] }), ['a', 1, { b: [null, UNICODE] }]);
      assert.deepEqual(await emitAck(socket, 'message-with-ack'), []);
      const replies = await Promise.all([1, 2, 3, 4, 5].map((i) => emitAck(socket, 'message-with-ack', i)));
      assert.deepEqual(replies, [[1], [2], [3], [4], [5]]);
    });

    it('server-to-client ack: the answer comes back in `server-ack-result`', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['server-ack-result'] });
      const received = [];
      socket.on('server-ack', (...args) => {
        const ack = args.pop();
        assert.equal(typeof ack, 'function');
        received.push(args);
        ack('pong', { n: 1 });
      });
      socket.emit('server-ack-request', 'ping', 7);
      const [result] = await rec.waitFor('server-ack-result');
      assert.deepEqual(received, [['ping', 7]]);
      assert.deepEqual(result, ['pong', { n: 1 }]);
    });

    it('server-to-client ack: "timeout" when the client does not answer', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['server-ack', 'server-ack-result'] });
      const start = Date.now();
      socket.emit('server-ack-request');
      const [result] = await rec.waitFor('server-ack-result');
      assert.deepEqual(result, ['timeout']);
      assert.ok(Date.now() - start >= 900);
      assert.equal(rec.all('server-ack').length, 1);
    });

    it('binary: buffers, nested and several in one event', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back'] });
      const args = [ALL_BYTES, { nested: { deep: [Buffer.from([0, 1]), 'text'] } }, 'between', Buffer.alloc(0), [Buffer.from('x')]];
      socket.emit('message', ...args);
      const [back] = await rec.waitFor('message-back');
      assert.deepEqual(back, args);
      buf(back[0]);
      buf(back[1].nested.deep[0]);
      buf(back[3]);
      buf(back[4][0]);
    });

    it('binary in acks, both ways', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['server-ack', 'server-ack-result'] });
      const reply = await emitAck(socket, 'message-with-ack', Buffer.from([1, 2, 3]), { b: ALL_BYTES });
      assert.deepEqual(reply, [Buffer.from([1, 2, 3]), { b: ALL_BYTES }]);
      buf(reply[0]);
      socket.emit('server-ack-request', Buffer.from('to client'));
      const [[b1, ack]] = await rec.waitFor('server-ack');
      assert.deepEqual(buf(b1), Buffer.from('to client'));
      ack(Buffer.from('from client'), { list: [Buffer.from([7, 8])] });
      const [result] = await rec.waitFor('server-ack-result');
      assert.deepEqual(result, [Buffer.from('from client'), { list: [Buffer.from([7, 8])] }]);
      buf(result[0]);
    });

    for (const nsp of ['/custom', '/dynamic-42']) {
      it(`namespace ${nsp} behaves like /`, { timeout: TEST_TIMEOUT }, async (t) => {
        const { socket, rec } = await connect(t, { nsp, events: ['message-back'] });
        assert.deepEqual((await rec.waitFor('auth'))[0], [{}]);
        socket.emit('message', nsp, Buffer.from([1]));
        assert.deepEqual((await rec.waitFor('message-back'))[0], [nsp, Buffer.from([1])]);
        assert.deepEqual(await emitAck(socket, 'message-with-ack', 1, 2), [1, 2]);
        assert.deepEqual(await emitAck(socket, 'count-events'), [2]);
      });
    }

    it('broadcast-request and rooms in a fresh namespace; a socket id is a room', { timeout: TEST_TIMEOUT }, async (t) => {
      const nsp = freshNamespace();
      const a = await connect(t, { nsp, events: ['broadcast', 'room-message'] });
      const b = await connect(t, { nsp, events: ['broadcast', 'room-message'] });
      assert.deepEqual(await emitAck(a.socket, 'broadcast-request', 'hi', Buffer.from([5])), [2]);
      await barrier([a.socket, b.socket]);
      assert.deepEqual(a.rec.take('broadcast'), [['hi', Buffer.from([5])]]);
      assert.deepEqual(b.rec.take('broadcast'), [['hi', Buffer.from([5])]]);
      // Protocol v4 socket ids are `nsp#engineId` (`engineId` in /), computed by the 2.x client.
      assert.equal(b.socket.id, `${nsp}#${b.socket.io.engine.id}`);
      assert.deepEqual(await emitAck(a.socket, 'to-room', b.socket.id, 'direct'), ['ok']);
      assert.deepEqual(await emitAck(b.socket, 'join', 'r'), ['ok']);
      assert.deepEqual(await emitAck(a.socket, 'to-room', 'r', 'room'), ['ok']);
      await barrier([a.socket, b.socket]);
      await sleep(SETTLE);
      assert.deepEqual(a.rec.take('room-message'), []);
      assert.deepEqual(b.rec.take('room-message'), [['direct'], ['room']]);
    });

    it('a socket of / can be reached through the room named after its id', { timeout: TEST_TIMEOUT }, async (t) => {
      const a = await connect(t, { events: ['room-message'] });
      const b = await connect(t, { events: ['room-message'] });
      assert.equal(b.socket.id, b.socket.io.engine.id);
      assert.deepEqual(await emitAck(a.socket, 'to-room', b.socket.id, 'direct'), ['ok']);
      await barrier([a.socket, b.socket]);
      await sleep(SETTLE);
      assert.deepEqual(a.rec.take('room-message'), []);
      assert.deepEqual(b.rec.take('room-message'), [['direct']]);
    });

    it('volatile packets: at least one arrives, in order, without duplicates', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['volatile'] });
      await waitTransport(socket, tr.final);
      let total = 0;
      for (let attempt = 0; attempt < 3 && total === 0; attempt++) {
        await sleep(50);
        const before = rec.all('volatile').length;
        assert.deepEqual(await emitAck(socket, 'volatile-request', 10), ['ok']);
        const atAck = rec.all('volatile').length;
        await sleep(SETTLE);
        const got = rec.all('volatile').slice(before).map(([n]) => n);
        assert.equal(got.length, atAck - before, 'volatile packets arrived after the ack');
        for (let i = 0; i < got.length; i++) {
          assert.ok(Number.isInteger(got[i]) && got[i] >= 0 && got[i] < 10);
          if (i > 0) assert.ok(got[i] > got[i - 1], `out of order or duplicated: ${got}`);
        }
        total += got.length;
      }
      assert.ok(total >= 1, 'an idle client received no volatile packet in 3 attempts');
    });

    it('`blocked` is never acked and the socket stays usable', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['disconnect'] });
      let acked = false;
      socket.emit('blocked', 'x', () => {
        acked = true;
      });
      await sleep(500);
      assert.equal(acked, false);
      assert.deepEqual(await emitAck(socket, 'message-with-ack', 'still'), ['still']);
      assert.equal(rec.all('disconnect').length, 0);
    });

    it('`count-events` counts every event sent before it', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket } = await connect(t);
      assert.deepEqual(await emitAck(socket, 'count-events'), [0]);
      socket.emit('message', 1);
      socket.emit('blocked');
      socket.emit('no-such-event', Buffer.from([1]));
      assert.deepEqual(await emitAck(socket, 'count-events'), [4]);
    });

    it('`disconnect-me`: "io server disconnect" and no automatic reconnection', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, {
        reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, events: ['disconnect', 'connect', 'reconnect_attempt'],
      });
      socket.emit('disconnect-me');
      const [[reason]] = await rec.waitFor('disconnect');
      assert.equal(reason, 'io server disconnect');
      await sleep(500);
      assert.equal(rec.all('reconnect_attempt').length, 0);
      assert.equal(rec.all('connect').length, 1);
      assert.equal(rec.all('disconnect').length, 1);
      assert.equal(socket.connected, false);
    });

    it('client-side close, then open again', { timeout: TEST_TIMEOUT }, async (t) => {
      const nsp = freshNamespace();
      const { socket, rec } = await connect(t, { nsp, events: ['disconnect', 'message-back'] });
      await rec.waitFor('auth');
      // Closing a 2.x client in the middle of an upgrade lets the old engine's late `close`
      // tear down the reopened connection (a client-side race): let the upgrade finish first.
      await waitTransport(socket, tr.final);
      socket.close();
      const [[reason]] = await rec.waitFor('disconnect');
      assert.equal(reason, 'io client disconnect');
      await sleep(50);
      socket.open();
      await connected(socket);
      assert.deepEqual(await rec.waitFor('auth', 2), [[{}], [{}]]);
      socket.emit('message', 'again');
      assert.deepEqual((await rec.waitFor('message-back'))[0], ['again']);
      assert.deepEqual(await emitAck(socket, 'broadcast-request'), [1]);
    });

    it('a payload close to maxHttpBufferSize (1 MB) goes through', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back', 'disconnect'] });
      await waitTransport(socket, tr.final);
      // 990 000 bytes in UTF-8 but fewer UTF-16 code units: v3 polling lengths count the latter.
      const big = '😀'.repeat(10) + 'é'.repeat(10) + 'x'.repeat(990_000 - 60);
      assert.deepEqual(await emitAck(socket, 'message-with-ack', big), [big]);
      socket.emit('message', big);
      assert.equal((await rec.waitFor('message-back'))[0][0], big);
      if (tr.final === 'websocket') {
        const bytes = Buffer.alloc(990_000, 0xcd);
        const [reply] = await emitAck(socket, 'message-with-ack', bytes);
        assert.deepEqual(buf(reply), bytes);
      }
      assert.equal(rec.all('disconnect').length, 0);
    });

    it('a payload above maxHttpBufferSize closes the connection', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['disconnect'] });
      await waitTransport(socket, tr.final);
      socket.emit('message', 'x'.repeat(1_100_000));
      const [[reason]] = await rec.waitFor('disconnect');
      assert.equal(reason, tr.final === 'websocket' ? 'transport close' : 'transport error');
    });

    it('heartbeat: stays connected across several ping intervals', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['disconnect', 'message-back'] });
      let pongs = 0;
      // Engine.IO v3: the client pings every pingInterval and the server answers pong.
      socket.io.engine.on('pong', () => pongs++);
      await sleep(2000);
      assert.equal(rec.all('disconnect').length, 0, `disconnected: ${JSON.stringify(rec.all('disconnect'))}`);
      assert.equal(socket.connected, true);
      assert.ok(pongs >= 4 && pongs <= 8, `received ${pongs} pongs in 2 s`);
      socket.emit('message', 'alive');
      assert.deepEqual((await rec.waitFor('message-back'))[0], ['alive']);
    });
  });
}
