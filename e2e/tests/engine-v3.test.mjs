// Engine.IO v3 end to end: engine.io-client 3.5 (the engine of socket.io-client 2.x)
// against the `engine-echo` fixture. Every test passes against the Rust server and the
// Node.js reference (SOCKEYE_E2E_SERVER=node).
//
// v3 has three polling payload formats, all covered: text (`<len>:<packet>`, lengths
// in UTF-16 units), binary XHR2 (`application/octet-stream`) when binary data is
// present (the `xhr2` variant, see below), and base64 (`b4…`) for clients without
// XHR2 (plain Node) or created with `forceBase64`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { startServer } from './lib/servers.mjs';
import { TEST_TIMEOUT, sleep, once, messages, closeQuietly, asBytes } from './lib/engine.mjs';

const require = createRequire(import.meta.url);

// In Node, engine.io-client 3.x polls through xmlhttprequest-ssl 1.x, which can neither
// read binary responses nor send a binary Content-Type, so the client always falls back
// to base64. To exercise the XHR2 binary payloads that browsers use, the tests give it
// xmlhttprequest-ssl 2.x (binary responses, proper headers) and, for the `xhr2`
// variant only, let the polling transport claim binary support.
const clientDir = path.dirname(require.resolve('engine.io-client-v3/package.json'));
const bundledXhr = require.resolve('xmlhttprequest-ssl', { paths: [clientDir] });
require(bundledXhr);
require.cache[bundledXhr].exports = require('xmlhttprequest-ssl');
const eio = require('engine.io-client-v3');
const XHR = require('engine.io-client-v3/lib/transports/polling-xhr');
let emulateXhr2 = false;
Object.defineProperty(XHR.prototype, 'supportsBinary', {
  configurable: true,
  get() {
    return this.binarySupport ?? true;
  },
  set(value) {
    this.binarySupport = value || emulateXhr2;
  },
});

const VARIANTS = [
  { name: 'polling', opts: { transports: ['polling'] }, final: 'polling' },
  { name: 'polling xhr2', opts: { transports: ['polling'] }, xhr2: true, final: 'polling' },
  { name: 'polling base64', opts: { transports: ['polling'], forceBase64: true }, final: 'polling' },
  { name: 'websocket', opts: { transports: ['websocket'] }, final: 'websocket' },
  { name: 'websocket base64', opts: { transports: ['websocket'], forceBase64: true }, final: 'websocket' },
  { name: 'polling+upgrade', opts: { transports: ['polling', 'websocket'] }, final: 'websocket' },
];

let server;
before(async () => {
  server = await startServer('engine-echo');
});
after(async () => {
  await server?.stop();
});

async function connect(variant, url = server.url) {
  emulateXhr2 = !!variant.xhr2;
  const socket = eio(url, { path: '/engine.io', ...variant.opts });
  emulateXhr2 = false;
  if (variant.opts.transports[0] === 'polling') {
    assert.equal(socket.transport.supportsBinary, !!variant.xhr2);
  }
  await once(socket, 'open');
  if (socket.transport.name !== variant.final) {
    await once(socket, 'upgrade');
  }
  assert.equal(socket.transport.name, variant.final);
  return socket;
}

for (const variant of VARIANTS) {
  test(`v3 ${variant.name}: handshake and text echo`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    assert.equal(typeof socket.id, 'string');
    assert.equal(socket.id.length, 20);
    assert.equal(socket.pingInterval, 300);
    assert.equal(socket.pingTimeout, 200);
    const reply = messages(socket, 1);
    socket.send('hello');
    assert.deepEqual(await reply, ['hello']);
    closeQuietly(socket);
  });

  test(`v3 ${variant.name}: binary echo`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    const data = Buffer.from([0, 1, 2, 253, 254, 255]);
    const reply = messages(socket, 3);
    socket.send(data);
    socket.send('between');
    socket.send(Buffer.from([42]));
    const [first, text, last] = await reply;
    assert.deepEqual(asBytes(first), data);
    assert.equal(text, 'between');
    assert.deepEqual(asBytes(last), Buffer.from([42]));
    closeQuietly(socket);
  });

  test(`v3 ${variant.name}: unicode and emoji text echo`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    const texts = ['héllo wörld', '😀🎉 emoji', '𝄞 clef', '中文字符', 'mixed é😀中 end', '1:2:3'];
    const reply = messages(socket, texts.length);
    for (const t of texts) socket.send(t);
    assert.deepEqual(await reply, texts);
    closeQuietly(socket);
  });

  test(`v3 ${variant.name}: a burst of messages arrives in order`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    const n = 300;
    const reply = messages(socket, n, 10000);
    for (let i = 0; i < n; i++) socket.send(i % 5 === 0 ? Buffer.from([i & 255, i >> 8]) : `m${i} é😀`);
    const got = await reply;
    got.forEach((m, i) => {
      if (i % 5 === 0) assert.deepEqual(asBytes(m), Buffer.from([i & 255, i >> 8]), `message ${i}`);
      else assert.equal(m, `m${i} é😀`, `message ${i}`);
    });
    closeQuietly(socket);
  });

  test(`v3 ${variant.name}: heartbeat keeps the session alive`, { timeout: TEST_TIMEOUT }, async () => {
    const socket = await connect(variant);
    let pongs = 0;
    let closed = null;
    socket.on('pong', () => pongs++);
    socket.on('close', (reason) => (closed = reason));
    await sleep(1600); // more than 5 ping intervals
    assert.equal(closed, null);
    assert.ok(pongs >= 3, `only ${pongs} pongs`);
    const reply = messages(socket, 1);
    socket.send('still here');
    assert.deepEqual(await reply, ['still here']);
    closeQuietly(socket);
  });
}

test('v3 messages sent during the upgrade are delivered once, in order', { timeout: TEST_TIMEOUT }, async () => {
  emulateXhr2 = true;
  const socket = eio(server.url, { path: '/engine.io', transports: ['polling', 'websocket'] });
  emulateXhr2 = false;
  await once(socket, 'open');
  const n = 200;
  const reply = messages(socket, n, 10000);
  const upgraded = once(socket, 'upgrade');
  for (let i = 0; i < n; i++) {
    socket.send(i % 9 === 0 ? Buffer.from([i & 255]) : `u${i}`);
    if (i % 40 === 0) await sleep(5);
  }
  const got = await reply;
  got.forEach((m, i) => {
    if (i % 9 === 0) assert.deepEqual(asBytes(m), Buffer.from([i & 255]), `message ${i}`);
    else assert.equal(m, `u${i}`, `message ${i}`);
  });
  await upgraded;
  assert.equal(socket.transport.name, 'websocket');
  closeQuietly(socket);
});

test('v3 server going away is seen by the client', { timeout: TEST_TIMEOUT }, async () => {
  const own = await startServer('engine-echo');
  try {
    for (const variant of [VARIANTS[0], VARIANTS[2]]) {
      const socket = await connect(variant, own.url);
      const closed = once(socket, 'close');
      await own.restart();
      const [reason] = await closed;
      assert.ok(['transport close', 'transport error', 'ping timeout'].includes(reason), `${variant.name}: ${reason}`);
    }
  } finally {
    await own.stop();
  }
});

test('v3 client close is clean', { timeout: TEST_TIMEOUT }, async () => {
  const socket = await connect(VARIANTS[0]);
  const closed = once(socket, 'close');
  socket.close();
  const [reason] = await closed;
  assert.equal(reason, 'forced close');
});
