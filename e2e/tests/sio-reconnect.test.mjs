// Automatic reconnection of both client generations after the `echo` fixture is killed and
// started again on the same port.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/servers.mjs';
import { V4_TRANSPORTS, V2_TRANSPORTS, TEST_TIMEOUT, emitAck, clientV4, clientV2, waitTransport } from './lib/sio.mjs';

const RECONNECT = { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 200, randomizationFactor: 0 };

const variants = [
  ...V4_TRANSPORTS.map((tr) => ({ ...tr, client: 'socket.io-client 4', open: clientV4 })),
  ...V2_TRANSPORTS.map((tr) => ({ ...tr, client: 'socket.io-client 2', open: clientV2 })),
];

describe('reconnection after a server restart', { timeout: 60000 }, () => {
  for (const v of variants) {
    for (const nsp of ['/', '/custom']) {
      it(`${v.client} over ${v.name} reconnects to ${nsp} by itself`, { timeout: TEST_TIMEOUT }, async (t) => {
        const server = await startServer('echo');
        t.after(() => server.stop());
        const { socket, rec } = await v.open(t, server.url, {
          nsp, ...v.opts, ...RECONNECT, events: ['connect', 'disconnect', 'message-back'],
        });
        await rec.waitFor('auth');
        await waitTransport(socket, v.final);
        assert.deepEqual(await emitAck(socket, 'message-with-ack', 'before'), ['before']);
        assert.deepEqual(await emitAck(socket, 'join', 'room'), ['ok']);

        await server.restart();
        const [[reason]] = await rec.waitFor('disconnect');
        // The killed server just drops the connections: how the client notices depends on
        // what it was doing (a closed websocket, or a failed polling request).
        assert.ok(['transport close', 'transport error'].includes(reason), `unexpected disconnect reason ${reason}`);

        await rec.waitFor('connect', 2, { timeout: 5000 });
        assert.equal(socket.connected, true);
        assert.deepEqual(await rec.waitFor('auth', 2), [[{}], [{}]]);
        assert.deepEqual(await emitAck(socket, 'message-with-ack', 'after', Buffer.from([1])), ['after', Buffer.from([1])]);
        socket.emit('message', 'back again');
        assert.deepEqual((await rec.waitFor('message-back'))[0], ['back again']);
        // A brand new server-side socket: only the events sent since the reconnection count.
        assert.deepEqual(await emitAck(socket, 'count-events'), [2]);
        assert.deepEqual(await emitAck(socket, 'broadcast-request'), [1]);
        assert.equal(rec.all('disconnect').length, 1);
      });
    }
  }
});
