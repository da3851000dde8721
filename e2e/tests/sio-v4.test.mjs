// socket.io-client 4.x against the `echo` fixture (e2e/FIXTURES.md), over each transport:
// connection and auth, middleware, namespaces, events and acks both ways, binary,
// volatile, per-event middleware, onAny, disconnections, payload limits and heartbeat.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/servers.mjs';
import {
  V4_TRANSPORTS, SETTLE, TEST_TIMEOUT, sleep, emitAck, connected, clientV4,
  transportOf, waitTransport, freshNamespace, buf,
} from './lib/sio.mjs';

/** Every byte value, to catch any text/encoding mangling of binary data. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const UNICODE = 'héllo ☃ 😀 \u0000 "quoted" \\ end';

for (const tr of V4_TRANSPORTS) {
  describe(`socket.io-client 4 over ${tr.name}`, { timeout: 60000 }, () => {
    let server;
    before(async () => {
      server = await startServer('echo');
    });
    after(() => server?.stop());

    const connect = (t, opts = {}) => clientV4(t, server.url, { ...tr.opts, ...opts });

    it('connects, receives `auth` {} once and settles on the expected transport', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t);
      assert.equal(socket.connected, true);
      assert.equal(typeof socket.id, 'string');
      assert.ok(socket.id.length > 0);
      const [[auth]] = await rec.waitFor('auth');
      assert.deepEqual(auth, {});
      await waitTransport(socket, tr.final);
      await sleep(SETTLE);
      assert.equal(rec.all('auth').length, 1);
      assert.equal(transportOf(socket), tr.final);
    });

    it('`auth` carries the CONNECT payload', { timeout: TEST_TIMEOUT }, async (t) => {
      const payload = { token: 'abc', n: 1.5, list: [1, 'two', null, true], nested: { s: UNICODE } };
      const { rec } = await connect(t, { auth: payload });
      const [[auth]] = await rec.waitFor('auth');
      assert.deepEqual(auth, payload);
    });

    it('the connect middleware refuses auth.refuse === true with message and data', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { auth: { refuse: true }, wait: false, events: ['connect', 'connect_error'] });
      const [[err]] = await rec.waitFor('connect_error');
      assert.ok(err instanceof Error);
      assert.equal(err.message, 'refused by middleware');
      assert.deepEqual(err.data, { reason: 'test' });
      await sleep(SETTLE);
      assert.equal(rec.all('connect_error').length, 1);
      assert.equal(rec.all('connect').length, 0);
      assert.equal(rec.all('auth').length, 0);
      assert.equal(socket.connected, false);
    });

    it('the connect middleware only refuses the boolean true', { timeout: TEST_TIMEOUT }, async (t) => {
      const { rec } = await connect(t, { auth: { refuse: 'true' } });
      const [[auth]] = await rec.waitFor('auth');
      assert.deepEqual(auth, { refuse: 'true' });
    });

    for (const nsp of ['/nope', '/dynamic-', '/dynamic-12x', '/custom/sub', '/Custom']) {
      it(`refuses the unknown namespace ${nsp} with "Invalid namespace"`, { timeout: TEST_TIMEOUT }, async (t) => {
        const { socket, rec } = await connect(t, { nsp, wait: false, events: ['connect', 'connect_error'] });
        const [[err]] = await rec.waitFor('connect_error');
        assert.equal(err.message, 'Invalid namespace');
        assert.equal(err.data, undefined);
        await sleep(SETTLE);
        assert.equal(rec.all('connect').length, 0);
        assert.equal(rec.all('connect_error').length, 1);
        assert.equal(socket.connected, false);
      });
    }

    it('echoes `message` args back to the sender as `message-back`', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back'] });
      const args = ['hello', 42, -1.5, true, false, null, { a: [1, 'b', { c: null }] }, [1, [2, [3]]], UNICODE, ''];
      socket.emit('message', ...args);
      socket.emit('message');
      socket.emit('message', { only: 'one' });
      const got = await rec.waitFor('message-back', 3);
      await sleep(SETTLE);
      assert.deepEqual(got, [args, [], [{ only: 'one' }]]);
    });

    it('acks `message-with-ack` with the same args', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket } = await connect(t);
      assert.deepEqual(await emitAck(socket, 'message-with-ack', 'a', 1, { b: [null, UNICODE] }), ['a', 1, { b: [null, UNICODE] }]);
      assert.deepEqual(await emitAck(socket, 'message-with-ack'), []);
      assert.equal(await socket.timeout(2000).emitWithAck('message-with-ack', 'first', 'second'), 'first');
      // Several acks in flight at once are matched to the right callbacks.
      const replies = await Promise.all([1, 2, 3, 4, 5].map((i) => emitAck(socket, 'message-with-ack', i)));
      assert.deepEqual(replies, [[1], [2], [3], [4], [5]]);
    });

    it('server-to-client ack: the client answer comes back in `server-ack-result`', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['server-ack-result'] });
      const received = [];
      socket.on('server-ack', (...args) => {
        const ack = args.pop();
        assert.equal(typeof ack, 'function', 'server-ack must request an ack');
        received.push(args);
        ack('pong', { n: 1 }, [UNICODE]);
      });
      socket.emit('server-ack-request', 'ping', 7, { x: null });
      const [result] = await rec.waitFor('server-ack-result');
      assert.deepEqual(received, [['ping', 7, { x: null }]]);
      assert.deepEqual(result, ['pong', { n: 1 }, [UNICODE]]);
      await sleep(SETTLE);
      assert.equal(rec.all('server-ack-result').length, 1);
    });

    it('server-to-client ack: "timeout" after 1000 ms when the client does not answer', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['server-ack', 'server-ack-result'] });
      const start = Date.now();
      socket.emit('server-ack-request', 'ignored');
      const [[arg, ack]] = await rec.waitFor('server-ack');
      assert.equal(arg, 'ignored');
      assert.equal(typeof ack, 'function');
      const [result] = await rec.waitFor('server-ack-result', 1, { timeout: 3000 });
      const elapsed = Date.now() - start;
      assert.deepEqual(result, ['timeout']);
      assert.ok(elapsed >= 900, `timeout reported after ${elapsed} ms, expected about 1000 ms`);
      // Answering late changes nothing.
      ack('too late');
      await sleep(SETTLE);
      assert.equal(rec.all('server-ack-result').length, 1);
    });

    it('binary: Buffer arguments round-trip', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back'] });
      socket.emit('message', ALL_BYTES);
      const [[back]] = await rec.waitFor('message-back');
      assert.deepEqual(buf(back), ALL_BYTES);
    });

    it('binary: several buffers and nested buffers in one event', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back'] });
      const args = [
        Buffer.from('first'),
        { nested: { deep: [Buffer.from([0, 1, 2]), 'text', { b: ALL_BYTES }] }, n: 1 },
        'a string between',
        Buffer.alloc(0),
        [Buffer.from([255]), Buffer.from([254])],
      ];
      socket.emit('message', ...args);
      const [back] = await rec.waitFor('message-back');
      assert.deepEqual(back, args);
      buf(back[0]);
      buf(back[1].nested.deep[0]);
      buf(back[1].nested.deep[2].b);
      buf(back[3]);
      buf(back[4][1]);
    });

    it('binary in acks, both ways', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['server-ack', 'server-ack-result'] });
      const reply = await emitAck(socket, 'message-with-ack', Buffer.from([1, 2, 3]), { b: ALL_BYTES }, 'x');
      assert.deepEqual(reply, [Buffer.from([1, 2, 3]), { b: ALL_BYTES }, 'x']);
      buf(reply[0]);

      socket.emit('server-ack-request', Buffer.from('to client'), { nested: Buffer.from([9]) });
      const [[b1, obj, ack]] = await rec.waitFor('server-ack');
      assert.deepEqual(buf(b1), Buffer.from('to client'));
      assert.deepEqual(buf(obj.nested), Buffer.from([9]));
      ack(Buffer.from('from client'), { list: [Buffer.from([7, 8])] });
      const [result] = await rec.waitFor('server-ack-result');
      assert.deepEqual(result, [Buffer.from('from client'), { list: [Buffer.from([7, 8])] }]);
      buf(result[0]);
    });

    for (const nsp of ['/custom', '/dynamic-42']) {
      it(`namespace ${nsp} behaves like /`, { timeout: TEST_TIMEOUT }, async (t) => {
        const { socket, rec } = await connect(t, { nsp, events: ['message-back'], auth: { here: nsp } });
        const [[auth]] = await rec.waitFor('auth');
        assert.deepEqual(auth, { here: nsp });
        socket.emit('message', nsp, Buffer.from([1]));
        const [back] = await rec.waitFor('message-back');
        assert.deepEqual(back, [nsp, Buffer.from([1])]);
        assert.deepEqual(await emitAck(socket, 'message-with-ack', 1, 2), [1, 2]);
        assert.deepEqual(await emitAck(socket, 'join', 'room'), ['ok']);
        assert.deepEqual(await emitAck(socket, 'count-events'), [3]);
        const refused = await connect(t, { nsp, auth: { refuse: true }, wait: false, events: ['connect_error'] });
        const [[err]] = await refused.rec.waitFor('connect_error');
        assert.equal(err.message, 'refused by middleware');
        assert.deepEqual(err.data, { reason: 'test' });
      });
    }

    it('a fresh dynamic namespace counts only its own sockets', { timeout: TEST_TIMEOUT }, async (t) => {
      const nsp = freshNamespace();
      const a = await connect(t, { nsp, events: ['broadcast'] });
      assert.deepEqual(await emitAck(a.socket, 'broadcast-request', 'x'), [1]);
      const b = await connect(t, { nsp, events: ['broadcast'] });
      assert.deepEqual(await emitAck(b.socket, 'broadcast-request', 'y'), [2]);
    });

    it('volatile packets: at least one arrives, in order, without duplicates, before the ack', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['volatile'] });
      await waitTransport(socket, tr.final);
      const n = 20;
      let total = 0;
      // Volatile packets may be dropped whenever the transport is busy; an idle client gets
      // at least the first one. Up to 3 attempts, in case a heartbeat made the transport busy.
      for (let attempt = 0; attempt < 3 && total === 0; attempt++) {
        await sleep(50);
        const before = rec.all('volatile').length;
        assert.deepEqual(await emitAck(socket, 'volatile-request', n), ['ok']);
        const atAck = rec.all('volatile').length;
        await sleep(SETTLE);
        const got = rec.all('volatile').slice(before).map((args) => {
          assert.equal(args.length, 1);
          return args[0];
        });
        assert.equal(got.length, atAck - before, 'volatile packets arrived after the ack that followed them');
        for (let i = 0; i < got.length; i++) {
          assert.ok(Number.isInteger(got[i]) && got[i] >= 0 && got[i] < n, `unexpected volatile value ${got[i]}`);
          if (i > 0) assert.ok(got[i] > got[i - 1], `volatile values out of order or duplicated: ${got}`);
        }
        total += got.length;
      }
      assert.ok(total >= 1, 'an idle connected client received no volatile packet in 3 attempts');
    });

    it('`blocked` is stopped by the per-event middleware: no ack, socket stays usable', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['disconnect'] });
      await assert.rejects(socket.timeout(500).emitWithAck('blocked', 'arg'), { message: 'operation has timed out' });
      assert.equal(socket.connected, true);
      assert.deepEqual(await emitAck(socket, 'message-with-ack', 'still'), ['still']);
      assert.equal(rec.all('disconnect').length, 0);
    });

    it('`count-events` counts every event sent before it (onAny, blocked ones included)', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket } = await connect(t, { events: ['message-back'] });
      assert.deepEqual(await emitAck(socket, 'count-events'), [0]);
      socket.emit('message', 1);
      socket.emit('blocked');
      socket.emit('no-such-event', Buffer.from([1]));
      socket.emit('message-with-ack', 'no callback');
      assert.deepEqual(await emitAck(socket, 'join', 'r'), ['ok']);
      assert.deepEqual(await emitAck(socket, 'count-events'), [6]);
      assert.deepEqual(await emitAck(socket, 'count-events', 'with', 'args'), [7]);
      const other = await connect(t);
      assert.deepEqual(await emitAck(other.socket, 'count-events'), [0], 'the count is per socket');
    });

    it('`disconnect-me`: "io server disconnect" and no automatic reconnection', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, {
        reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, events: ['disconnect', 'connect'],
      });
      const attempts = [];
      socket.io.on('reconnect_attempt', (n) => attempts.push(n));
      socket.emit('disconnect-me');
      const [[reason]] = await rec.waitFor('disconnect');
      assert.equal(reason, 'io server disconnect');
      await sleep(500);
      assert.deepEqual(attempts, []);
      assert.equal(rec.all('connect').length, 1);
      assert.equal(rec.all('disconnect').length, 1);
      assert.equal(socket.connected, false);
      assert.equal(socket.active, false);
    });

    it('client-side disconnect, then connect again on the same socket', { timeout: TEST_TIMEOUT }, async (t) => {
      const nsp = freshNamespace();
      const { socket, rec } = await connect(t, { nsp, events: ['disconnect', 'message-back'] });
      const firstId = socket.id;
      await rec.waitFor('auth');
      socket.disconnect();
      const [[reason]] = await rec.waitFor('disconnect');
      assert.equal(reason, 'io client disconnect');
      assert.equal(socket.connected, false);
      socket.connect();
      await connected(socket);
      assert.notEqual(socket.id, firstId);
      const auths = await rec.waitFor('auth', 2);
      assert.deepEqual(auths, [[{}], [{}]]);
      socket.emit('message', 'again');
      assert.deepEqual((await rec.waitFor('message-back'))[0], ['again']);
      // The server forgot the first socket: it is alone in its namespace.
      assert.deepEqual(await emitAck(socket, 'broadcast-request'), [1]);
      assert.deepEqual(await emitAck(socket, 'count-events'), [2]);
    });

    it('a payload close to maxHttpBufferSize (1 MB) goes through', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back', 'disconnect'] });
      await waitTransport(socket, tr.final);
      const big = 'é'.repeat(10) + 'x'.repeat(990_000 - 20); // 990 000 bytes once UTF-8 encoded
      assert.deepEqual(await emitAck(socket, 'message-with-ack', big), [big]);
      socket.emit('message', big);
      const [[back]] = await rec.waitFor('message-back');
      assert.equal(back, big);
      if (tr.final === 'websocket') {
        // Binary is base64-encoded over polling (+33 %), so only websocket carries ~1 MB of bytes.
        const bytes = Buffer.alloc(990_000, 0xab);
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
      // websocket: the server closes the connection; polling: the POST is answered with an error status.
      assert.equal(reason, tr.final === 'websocket' ? 'transport close' : 'transport error');
    });

    it('heartbeat: stays connected across several ping intervals', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['disconnect', 'message-back'] });
      const id = socket.id;
      let pings = 0;
      socket.io.engine.on('ping', () => pings++);
      await sleep(2000);
      assert.equal(rec.all('disconnect').length, 0, `disconnected: ${JSON.stringify(rec.all('disconnect'))}`);
      assert.equal(socket.connected, true);
      assert.equal(socket.id, id);
      // pingInterval is 300 ms: about 6 pings in 2 s.
      assert.ok(pings >= 4 && pings <= 8, `received ${pings} pings in 2 s`);
      socket.emit('message', 'alive');
      assert.deepEqual((await rec.waitFor('message-back'))[0], ['alive']);
    });
  });
}
