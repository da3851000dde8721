// Engine.IO v4 end to end: engine.io-client 6.x against the `engine-echo` fixture.
// Every test passes against the Rust server and the Node.js reference
// (SOCKEYE_E2E_SERVER=node).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'engine.io-client';
import { startServer } from './lib/servers.mjs';
import { TEST_TIMEOUT, sleep, once, messages, closeQuietly, asBytes } from './lib/engine.mjs';

const VARIANTS = [
  { name: 'polling', opts: { transports: ['polling'] }, final: 'polling' },
  { name: 'websocket', opts: { transports: ['websocket'] }, final: 'websocket' },
  { name: 'polling+upgrade', opts: { transports: ['polling', 'websocket'] }, final: 'websocket' },
];

let server;
before(async () => {
  server = await startServer('engine-echo');
});
after(async () => {
  await server?.stop();
});

/** Opens a client and waits until it runs on `variant.final`. */
async function connect(variant, extra = {}) {
  const socket = new Socket(server.url, { path: '/engine.io/', ...variant.opts, ...extra });
  await once(socket, 'open');
  if (socket.transport.name !== variant.final) {
    await once(socket, 'upgrade');
  }
  assert.equal(socket.transport.name, variant.final);
  return socket;
}

for (const variant of VARIANTS) {
  test(`v4 ${variant.name}: handshake and text echo`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    assert.equal(typeof socket.id, 'string');
    assert.equal(socket.id.length, 20);
    const reply = messages(socket, 1);
    socket.send('hello');
    assert.deepEqual(await reply, ['hello']);
    closeQuietly(socket);
  });

  test(`v4 ${variant.name}: binary echo`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    const data = Uint8Array.from([0, 1, 2, 253, 254, 255]);
    const reply = messages(socket, 2);
    socket.send(data);
    socket.send(new Uint8Array(0));
    const [first, second] = await reply;
    assert.equal(typeof first, 'object');
    assert.deepEqual(asBytes(first), Buffer.from(data));
    assert.equal(asBytes(second).length, 0);
    closeQuietly(socket);
  });

  test(`v4 ${variant.name}: unicode and emoji text echo`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    const texts = ['héllo wörld', '😀🎉 emoji', '𝄞 clef', '中文字符', 'mixed é😀中\u0000end', ''];
    const reply = messages(socket, texts.length);
    for (const t of texts) socket.send(t);
    // An empty message is the bare packet `4`, which the client decodes as no data.
    assert.deepEqual(await reply, texts.map((t) => (t === '' ? undefined : t)));
    closeQuietly(socket);
  });

  test(`v4 ${variant.name}: a burst of messages arrives in order`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    const n = 500;
    const reply = messages(socket, n, 10000);
    for (let i = 0; i < n; i++) socket.send(i % 7 === 0 ? Uint8Array.from([i & 255, i >> 8]) : `m${i}`);
    const got = await reply;
    got.forEach((m, i) => {
      if (i % 7 === 0) assert.deepEqual(asBytes(m), Buffer.from([i & 255, i >> 8]), `message ${i}`);
      else assert.equal(m, `m${i}`, `message ${i}`);
    });
    closeQuietly(socket);
  });

  test(`v4 ${variant.name}: heartbeat keeps the session alive`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    let pings = 0;
    let closed = null;
    socket.on('ping', () => pings++);
    socket.on('close', (reason) => (closed = reason));
    await sleep(1600); // more than 5 ping intervals
    assert.equal(closed, null);
    assert.ok(pings >= 3, `only ${pings} pings`);
    const reply = messages(socket, 1);
    socket.send('still here');
    assert.deepEqual(await reply, ['still here']);
    closeQuietly(socket);
  });

  test(`v4 ${variant.name}: a message over maxPayload closes the session`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    const closed = once(socket, 'close');
    socket.send('x'.repeat(1_000_001));
    const [reason] = await closed;
    assert.equal(reason, variant.final === 'websocket' ? 'transport close' : 'transport error');
  });
}

test('v4 messages sent during the upgrade are delivered once, in order', { timeout: TEST_TIMEOUT }, async () => {
  const socket = new Socket(server.url, { path: '/engine.io/', transports: ['polling', 'websocket'] });
  await once(socket, 'open');
  const n = 300;
  const reply = messages(socket, n, 10000);
  const upgraded = once(socket, 'upgrade');
  for (let i = 0; i < n; i++) {
    socket.send(`u${i}`);
    if (i % 50 === 0) await sleep(5);
  }
  const got = await reply;
  assert.deepEqual(got, Array.from({ length: n }, (_, i) => `u${i}`));
  await upgraded;
  assert.equal(socket.transport.name, 'websocket');
  await sleep(100);
  closeQuietly(socket);
});

test('v4 client close is clean', { timeout: TEST_TIMEOUT }, async () => {
  const socket = await connect(VARIANTS[0]);
  const closed = once(socket, 'close');
  socket.close();
  const [reason] = await closed;
  assert.equal(reason, 'forced close');
});

test('v4 server going away is seen by the client', { timeout: TEST_TIMEOUT }, async () => {
  const own = await startServer('engine-echo');
  try {
    for (const variant of VARIANTS) {
      const socket = new Socket(own.url, { path: '/engine.io/', ...variant.opts, reconnection: false });
      await once(socket, 'open');
      if (socket.transport.name !== variant.final) await once(socket, 'upgrade');
      const closed = once(socket, 'close');
      await own.restart();
      const [reason] = await closed;
      assert.ok(['transport close', 'transport error', 'ping timeout'].includes(reason), `${variant.name}: ${reason}`);
    }
  } finally {
    await own.stop();
  }
});
