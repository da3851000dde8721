// A client that stops reading while the server broadcasts to its room: its bounded
// outgoing queue fills, volatile packets to it are dropped, it is disconnected as too
// slow, and the other clients of the room receive every non-volatile packet. Asserted
// with counts (the fixture's `stats` event: sockeye_engine::stats() and each socket's
// disconnect reason), not timings.
//
// Sockeye only: the reference server has no cap on a connection's outgoing buffer, so a
// client that stops reading makes it buffer without bound and is never disconnected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, serverKind } from './lib/servers.mjs';
import { ioV4, emitAck, connected, withTimeout, sleep } from './lib/sio.mjs';

const MAX_QUEUE = 128;
const VOLATILE = 800; // volatile packets of PAD bytes broadcast to the room
const NON_VOLATILE = 200; // then non-volatile packets of PAD bytes
const PAD = 'p'.repeat(32 * 1024);
const ROOM = 'slow-room';
const WAIT = 30000;

/** A raw websocket client (Engine.IO v4) in `/` that joined `room`; returns its socket id. */
async function rawMember(port, room) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  ws.on('error', () => {});
  const closed = new Promise((resolve) => ws.on('close', resolve));
  const next = (pred) =>
    withTimeout(
      new Promise((resolve) => {
        const listener = (data, isBinary) => {
          const msg = isBinary ? '' : data.toString();
          if (msg === '2') ws.send('3');
          if (pred(msg)) {
            ws.off('message', listener);
            resolve(msg);
          }
        };
        ws.on('message', listener);
      }),
      WAIT,
      'a message of the raw client',
    );
  await next((m) => m.startsWith('0'));
  ws.send('40');
  const id = JSON.parse((await next((m) => m.startsWith('40'))).slice(2)).sid;
  ws.send(`421["join","${room}"]`);
  await next((m) => m === '431["ok"]');
  return { ws, id, closed };
}

async function stats(socket) {
  const [s] = await emitAck(socket, 'stats');
  return s;
}

test(
  'a client that stops reading is dropped as too slow; the rest of its room gets every packet',
  { timeout: 120000, skip: serverKind === 'node' && 'the reference server buffers without bound for a client that stops reading' },
  async (t) => {
    // A long heartbeat, so that the stalled client is disconnected by its queue, not by
    // a missed pong.
    const server = await startServer('echo', {
      args: ['--max-queue', String(MAX_QUEUE), '--ping-interval', '60000', '--ping-timeout', '60000'],
    });
    t.after(() => server.stop());
    const client = (opts = {}) => {
      const s = ioV4(server.url, { transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
      t.after(() => s.close());
      return s;
    };

    // Two honest members of the room, counting what they receive, and a sender.
    const honest = [client(), client()];
    const received = honest.map(() => ({ nonVolatile: [], volatile: 0 }));
    honest.forEach((s, i) => {
      s.on('room-message', (n) => received[i].nonVolatile.push(n));
      s.on('room-volatile', () => received[i].volatile++);
    });
    const sender = client();
    await Promise.all([...honest, sender].map((s) => connected(s)));
    for (const s of honest) assert.deepEqual(await emitAck(s, 'join', ROOM), ['ok']);

    // The slow member: joins, then stops reading its TCP socket.
    const slow = await rawMember(server.port, ROOM);
    slow.ws._socket.pause();
    const before = await stats(sender);

    // Volatile broadcasts: once the stalled client's socket buffers and queue are full,
    // the rest are dropped for it, and it stays connected (volatile never disconnects).
    assert.deepEqual(await emitAck(sender, 'to-room-volatile', ROOM, VOLATILE, PAD), ['ok']);
    const afterVolatile = await stats(sender);
    const dropped = afterVolatile.engine.volatileDropped - before.engine.volatileDropped;
    assert.ok(dropped > 0, 'no volatile packet was dropped');
    assert.equal(afterVolatile.disconnects[slow.id], undefined, 'volatile packets do not disconnect');
    assert.equal(afterVolatile.engine.slowClientCloses, before.engine.slowClientCloses);

    // Non-volatile broadcasts: the first one that finds the stalled queue full
    // disconnects that client as too slow.
    for (let n = 0; n < NON_VOLATILE; n++) {
      assert.deepEqual(await emitAck(sender, 'to-room', ROOM, n, PAD), ['ok']);
    }
    const deadline = Date.now() + WAIT;
    let after = await stats(sender);
    while (!after.disconnects[slow.id] && Date.now() < deadline) {
      await sleep(100);
      after = await stats(sender);
    }
    assert.equal(after.disconnects[slow.id], 'slow client');
    assert.equal(after.engine.slowClientCloses - before.engine.slowClientCloses, 1);

    // The honest members get every non-volatile packet, in order, and stay connected.
    const want = Array.from({ length: NON_VOLATILE }, (_, n) => n);
    for (const r of received) {
      while (r.nonVolatile.length < NON_VOLATILE && Date.now() < deadline) await sleep(50);
      assert.deepEqual(r.nonVolatile, want);
    }
    for (const s of honest) assert.ok(s.connected);
    for (const s of honest) assert.equal(after.disconnects[s.id], undefined);

    // Volatile packets may be dropped for anyone whose queue is momentarily full; the
    // honest members have now read everything queued before the non-volatile packets
    // (queues are FIFO), so the drops that were not theirs were the stalled client's.
    // Its socket buffers take a few MB and its queue MAX_QUEUE packets; the rest of the
    // VOLATILE packets must have been dropped, not buffered.
    const droppedForHonest = received.reduce((sum, r) => sum + (VOLATILE - r.volatile), 0);
    const droppedForSlow = dropped - droppedForHonest;
    t.diagnostic(`volatile: ${dropped} dropped, ${droppedForSlow} of them for the stalled client; honest members received ${received.map((r) => r.volatile).join(', ')} of ${VOLATILE}`);
    assert.ok(droppedForSlow >= VOLATILE / 4, `only ${droppedForSlow} of ${VOLATILE} volatile packets were dropped for the stalled client`);
    assert.ok(droppedForSlow <= VOLATILE);

    // Reading again, the stalled client finds its connection closed.
    slow.ws._socket.resume();
    await withTimeout(slow.closed, WAIT, 'the stalled connection to close');

    // The server still serves a new client.
    const late = client();
    assert.deepEqual(await emitAck(late, 'message-with-ack', 'still serving'), ['still serving']);
  },
);
