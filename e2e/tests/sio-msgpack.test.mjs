// The `echo` fixture started with `--parser msgpack`, driven by socket.io-client 4.x with
// socket.io-msgpack-parser, over each transport.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/servers.mjs';
import {
  V4_TRANSPORTS, SETTLE, TEST_TIMEOUT, sleep, emitAck, clientV4, msgpackParser, waitTransport,
  freshNamespace, buf, barrier,
} from './lib/sio.mjs';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

for (const tr of V4_TRANSPORTS) {
  describe(`msgpack parser: socket.io-client 4 over ${tr.name}`, { timeout: 60000 }, () => {
    let server;
    before(async () => {
      server = await startServer('echo', { args: ['--parser', 'msgpack'] });
    });
    after(() => server?.stop());

    const connect = (t, opts = {}) => clientV4(t, server.url, { parser: msgpackParser, ...tr.opts, ...opts });

    it('connects and receives `auth` with the CONNECT payload', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { auth: { token: 'mp', n: 3, list: [1.5, null, true] } });
      assert.deepEqual((await rec.waitFor('auth'))[0], [{ token: 'mp', n: 3, list: [1.5, null, true] }]);
      await waitTransport(socket, tr.final);
      const plain = await connect(t);
      assert.deepEqual((await plain.rec.waitFor('auth'))[0], [{}]);
    });

    it('connect errors: middleware refusal with data, invalid namespace', { timeout: TEST_TIMEOUT }, async (t) => {
      const refused = await connect(t, { auth: { refuse: true }, wait: false, events: ['connect_error'] });
      const [[err]] = await refused.rec.waitFor('connect_error');
      assert.equal(err.message, 'refused by middleware');
      assert.deepEqual(err.data, { reason: 'test' });
      const invalid = await connect(t, { nsp: '/nope', wait: false, events: ['connect_error'] });
      const [[err2]] = await invalid.rec.waitFor('connect_error');
      assert.equal(err2.message, 'Invalid namespace');
    });

    it('emit both ways and acks', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back', 'server-ack-result'] });
      const args = ['héllo ☃ 😀', 42, -7, 1.25, true, null, { a: [1, { b: 'c' }] }, [], ''];
      socket.emit('message', ...args);
      assert.deepEqual((await rec.waitFor('message-back'))[0], args);
      assert.deepEqual(await emitAck(socket, 'message-with-ack', 'x', { y: [1, 2] }), ['x', { y: [1, 2] }]);
      assert.deepEqual(await emitAck(socket, 'message-with-ack'), []);
      socket.on('server-ack', (...a) => a.pop()('answer', a));
      socket.emit('server-ack-request', 'q', 1);
      assert.deepEqual((await rec.waitFor('server-ack-result'))[0], ['answer', ['q', 1]]);
      await sleep(SETTLE);
      assert.equal(rec.all('message-back').length, 1);
    });

    it('binary: buffers, nested buffers and binary acks both ways', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['message-back', 'server-ack', 'server-ack-result'] });
      const args = [ALL_BYTES, { nested: { deep: [Buffer.from([1, 2]), 'text'] } }, Buffer.alloc(0)];
      socket.emit('message', ...args);
      const [back] = await rec.waitFor('message-back');
      assert.deepEqual(back, args);
      buf(back[0]);
      buf(back[1].nested.deep[0]);
      const reply = await emitAck(socket, 'message-with-ack', Buffer.from('ack me'));
      assert.deepEqual(reply, [Buffer.from('ack me')]);
      buf(reply[0]);
      socket.emit('server-ack-request', Buffer.from([9]));
      const [[b, ack]] = await rec.waitFor('server-ack');
      assert.deepEqual(buf(b), Buffer.from([9]));
      ack({ bytes: Buffer.from([8, 7]) });
      const [[result]] = await rec.waitFor('server-ack-result');
      assert.deepEqual(result, { bytes: Buffer.from([8, 7]) });
      buf(result.bytes);
    });

    it('server ack timeout, blocked event and count-events', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['server-ack-result'] });
      socket.emit('server-ack-request');
      await assert.rejects(socket.timeout(500).emitWithAck('blocked'), { message: 'operation has timed out' });
      assert.deepEqual((await rec.waitFor('server-ack-result'))[0], ['timeout']);
      assert.deepEqual(await emitAck(socket, 'count-events'), [2]);
    });

    it('rooms and broadcasts', { timeout: TEST_TIMEOUT }, async (t) => {
      const nsp = freshNamespace();
      const events = ['broadcast', 'room-message'];
      const a = await connect(t, { nsp, events });
      const b = await connect(t, { nsp, events });
      const c = await connect(t, { nsp, events });
      assert.deepEqual(await emitAck(b.socket, 'join', 'r'), ['ok']);
      assert.deepEqual(await emitAck(c.socket, 'join', 'r'), ['ok']);
      assert.deepEqual(await emitAck(c.socket, 'to-room', 'r', Buffer.from([3]), 'm'), ['ok']);
      assert.deepEqual(await emitAck(a.socket, 'broadcast-request', { all: true }), [3]);
      await barrier([a.socket, b.socket, c.socket]);
      await sleep(SETTLE);
      assert.deepEqual([a, b, c].map((x) => x.rec.take('room-message')), [[], [[Buffer.from([3]), 'm']], []]);
      assert.deepEqual([a, b, c].map((x) => x.rec.take('broadcast')), [[[{ all: true }]], [[{ all: true }]], [[{ all: true }]]]);
    });

    it('disconnect-me', { timeout: TEST_TIMEOUT }, async (t) => {
      const { socket, rec } = await connect(t, { events: ['disconnect'] });
      socket.emit('disconnect-me');
      assert.deepEqual((await rec.waitFor('disconnect'))[0][0], 'io server disconnect');
    });
  });
}
