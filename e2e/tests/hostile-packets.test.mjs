// Malformed input sent with raw websockets and raw HTTP polling requests: each case
// asserts what the server answers (the reference server's answer; where Sockeye is
// deliberately stricter, both answers are stated by server kind) and that the server
// still serves an honest client afterwards.
//
// Every case ends with a probe, `message-with-ack("probe")` sent on the same connection:
// `alive` means the server ignored or refused the bad packet and answered the probe,
// `closed` means it closed the connection.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, serverKind } from './lib/servers.mjs';
import { ioV4, emitAck, withTimeout, TEST_TIMEOUT } from './lib/sio.mjs';

const WAIT = 5000;
const rust = serverKind === 'rust';

/** A raw Engine.IO websocket connection (v3 or v4) joined to namespace `/`. */
async function rawWs(port, eio) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=${eio}&transport=websocket`);
  const inbox = [];
  const waiters = new Set();
  let isClosed = false;
  const closed = new Promise((resolve) =>
    ws.on('close', () => {
      isClosed = true;
      for (const w of waiters) w.check();
      resolve('closed');
    }),
  );
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? data : data.toString();
    // Heartbeat: the v4 server pings, the v3 client does (below).
    if (msg === '2') return ws.send('3');
    if (msg === '3') return;
    inbox.push(msg);
    for (const w of waiters) w.check();
  });
  const pinger = eio === 3 ? setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('2'), 150) : null;
  closed.then(() => clearInterval(pinger));

  /** The first message (from the oldest not yet taken) matching `pred`, or 'closed'. */
  const next = (pred, what) =>
    withTimeout(
      new Promise((resolve) => {
        const w = {
          check() {
            const i = inbox.findIndex((m) => typeof m === 'string' && pred(m));
            if (i >= 0) {
              waiters.delete(w);
              resolve(inbox.splice(i, 1)[0]);
            } else if (isClosed) {
              waiters.delete(w);
              resolve('closed');
            }
          },
        };
        waiters.add(w);
        w.check();
      }),
      WAIT,
      what,
    );

  const conn = {
    ws,
    inbox,
    next,
    send: (data, opts) => ws.send(data, opts),
    close() {
      clearInterval(pinger);
      ws.terminate();
    },
    /** Sends the probe; 'alive' when it is acknowledged, 'closed' when the connection ends. */
    async probe() {
      if (isClosed || ws.readyState !== WebSocket.OPEN) {
        await closed;
        return 'closed';
      }
      ws.send('4299["message-with-ack","probe"]');
      const got = await Promise.race([next((m) => m === '4399["probe"]', 'the probe ack'), closed]);
      return got === 'closed' ? 'closed' : 'alive';
    },
  };
  const open = await next((m) => m.startsWith('0'), 'the open packet');
  assert.notEqual(open, 'closed', 'the handshake failed');
  if (eio === 4) ws.send('40');
  const connect = await next((m) => m.startsWith('40'), 'the CONNECT answer');
  assert.notEqual(connect, 'closed', 'the connection to / failed');
  return conn;
}

/** An official client connects, and its message-with-ack is answered. */
async function assertServes(url) {
  const socket = ioV4(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    const reply = await emitAck(socket, 'message-with-ack', 'still serving');
    assert.deepEqual(reply, ['still serving']);
  } finally {
    socket.close();
  }
}

const deep = (depth) => '['.repeat(depth) + ']'.repeat(depth);
const invalidUtf8 = Buffer.from([0x34, 0x32, 0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]); // 42["\xff\xfe"]

// [name, frames to send, expected outcome] — an outcome is a string or {rust, node}.
const wsCases = [
  ['truncated JSON', ['42["message"'], 'closed'],
  // The reference decoder only validates a payload that is there: an EVENT without one
  // reaches the socket as an event with no name, which no handler sees. Sockeye rejects
  // it as malformed (ParseError::InvalidPayload).
  ['EVENT without data', ['42'], { rust: 'closed', node: 'alive' }],
  ['unknown Socket.IO packet type', ['49["message"]'], 'closed'],
  ['unknown Engine.IO packet type', ['9hello'], 'closed'],
  ['empty message', [''], 'closed'],
  ['EVENT whose data is an object', ['42{"a":1}'], 'closed'],
  ['EVENT with an empty array', ['42[]'], 'closed'],
  ['letters where the ack id goes', ['42abc["message"]'], 'closed'],
  ['ACK with an unknown id', ['437777["x"]'], 'alive'],
  // Ignored by the reference server (no callback has the id `undefined`); an ack id is
  // required by Sockeye's decoder (ParseError::InvalidAckId).
  ['ACK without an id', ['43["x"]'], { rust: 'closed', node: 'alive' }],
  ['ACK whose data is not an array', ['431"x"'], 'closed'],
  ['binary placeholder out of range', ['451-["message",{"_placeholder":true,"num":5}]', Buffer.from([1])], 'closed'],
  ['binary placeholder with a string index', ['451-["message",{"_placeholder":true,"num":"0"}]', Buffer.from([1])], 'closed'],
  ['attachment count that is not a number', ['45x-["message"]'], 'closed'],
  ['too many attachments announced', ['4511-["message"]'], 'closed'],
  // Engine.IO v3 binary frames start with the packet type (4, message).
  ['binary message nobody announced', (eio) => [Buffer.from(eio === 3 ? [4, 1, 2, 3] : [1, 2, 3])], 'closed'],
  ['text while attachments are awaited', ['451-["message",{"_placeholder":true,"num":0}]', '42["message","x"]'], 'closed'],
  ['invalid UTF-8 in a text frame', [invalidUtf8], 'closed'],
  ['event name longer than 1024 bytes', [`42["${'e'.repeat(2000)}"]`], { rust: 'closed', node: 'alive' }],
  // The reference process dies of a stack overflow decoding this (so it is not run
  // against it); Sockeye's decoder stops at 128 levels and closes the connection.
  ['JSON nested 100 000 deep', [`42["message",${deep(100000)}]`], { rust: 'closed', node: 'crashes' }],
  ['JSON nested 200 deep', [`42["message",${deep(200)}]`], { rust: 'closed', node: 'alive' }],
  ['message larger than maxPayload', [`42["message","${'x'.repeat(1_100_000)}"]`], 'closed'],
];

const expectedFor = (outcome) => (typeof outcome === 'string' ? outcome : outcome[serverKind]);

for (const eio of [4, 3]) {
  describe(`malformed packets over a raw websocket (Engine.IO v${eio})`, { timeout: 120000 }, () => {
    let server;
    before(async () => {
      server = await startServer('echo');
    });
    after(() => server?.stop());

    for (const [name, frames, outcome] of wsCases) {
      const expected = expectedFor(outcome);
      const skip = expected === 'crashes' && 'the reference server crashes on this input';
      test(name, { timeout: TEST_TIMEOUT, skip }, async () => {
        const conn = await rawWs(server.port, eio);
        try {
          for (const frame of typeof frames === 'function' ? frames(eio) : frames) {
            if (frame === invalidUtf8) conn.send(frame, { binary: false });
            else conn.send(frame);
          }
          assert.equal(await conn.probe(), expected);
        } finally {
          conn.close();
        }
        await assertServes(server.url);
      });
    }

    test('CONNECT to an unknown namespace is refused, the connection stays', { timeout: TEST_TIMEOUT }, async () => {
      const conn = await rawWs(server.port, eio);
      try {
        conn.send('40/nope,');
        const answer = await conn.next((m) => m.startsWith('44/nope,'), 'the CONNECT_ERROR');
        const payload = JSON.parse(answer.slice('44/nope,'.length));
        // The object form for both protocol revisions, as from the reference server.
        assert.deepEqual(payload, { message: 'Invalid namespace' });
        assert.equal(await conn.probe(), 'alive');
      } finally {
        conn.close();
      }
      await assertServes(server.url);
    });

    test('EVENT to a namespace the client has not joined', { timeout: TEST_TIMEOUT }, async () => {
      const conn = await rawWs(server.port, eio);
      try {
        conn.send('42/custom,["message","x"]');
        assert.equal(await conn.probe(), 'closed');
      } finally {
        conn.close();
      }
      await assertServes(server.url);
    });
  });
}

describe('namespaces per connection', { timeout: 60000 }, () => {
  let server;
  before(async () => {
    server = await startServer('echo');
  });
  after(() => server?.stop());

  test('a connection joining 101 namespaces: Sockeye refuses the 101st, the reference accepts it', { timeout: 30000 }, async () => {
    const conn = await rawWs(server.port, 4); // already in '/', the first namespace
    try {
      const names = Array.from({ length: 100 }, (_, i) => `/dynamic-9${process.pid}${i}`);
      for (const nsp of names) conn.send(`40${nsp},`);
      const answers = [];
      for (const nsp of names) answers.push(await conn.next((m) => m.startsWith(`40${nsp},`) || m.startsWith(`44${nsp},`), `the answer for ${nsp}`));
      const refused = answers.filter((a) => a.startsWith('44'));
      if (rust) {
        // 100 namespaces per connection by default: '/' and 99 dynamic ones.
        assert.equal(refused.length, 1);
        assert.deepEqual(JSON.parse(refused[0].slice(refused[0].indexOf(',') + 1)), { message: 'Too many namespaces' });
        assert.ok(answers.at(-1).startsWith('44'), 'the last one is refused');
      } else {
        assert.equal(refused.length, 0);
      }
      assert.equal(await conn.probe(), 'alive');
    } finally {
      conn.close();
    }
    await assertServes(server.url);
  });
});

/** Raw polling: handshake and CONNECT to `/`; returns the session id. */
async function pollingSession(url, eio) {
  const base = `${url}/socket.io/?EIO=${eio}&transport=polling`;
  const open = await (await fetch(base)).text();
  const sid = JSON.parse(open.slice(open.indexOf('{'), open.lastIndexOf('}') + 1)).sid;
  const q = `${base}&sid=${sid}`;
  if (eio === 4) {
    assert.equal((await fetch(q, { method: 'POST', body: '40' })).status, 200);
  }
  const connect = await (await fetch(q)).text();
  assert.match(connect, /40/);
  return q;
}

/** Splits a polling payload into packets (v4: record separators, v3: `length:packet`). */
function packets(text, eio) {
  if (eio === 4) return text.split('\x1e');
  const out = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const len = Number(text.slice(i, colon));
    out.push(text.slice(colon + 1, colon + 1 + len));
    i = colon + 1 + len;
  }
  return out;
}

const frame = (eio, packet) => (eio === 3 ? `${packet.length}:${packet}` : packet);

/**
 * POSTs `body` and returns its response, read to the end. A body over the limit is
 * refused with 413, and both servers read the rest of what the client is still sending
 * (the reference server after answering, Sockeye before, up to a bound) instead of
 * closing on unread data, which would make the kernel reset the connection before the
 * client reads the answer.
 */
async function postRefusable(q, body) {
  const res = await fetch(q, { method: 'POST', body });
  await res.arrayBuffer();
  return res;
}

/** Sends `body` in a POST; returns its status and whether the session still answers a probe. */
async function postAndProbe(q, eio, body) {
  const res = await postRefusable(q, body);
  const sent = await fetch(q, { method: 'POST', body: frame(eio, '4299["message-with-ack","probe"]') });
  await sent.arrayBuffer();
  if (sent.status !== 200) return { status: res.status, session: 'closed' };
  // Read until the probe's ack arrives or the server says the session is gone, keeping
  // the heartbeat going (the v4 server pings, the v3 client does).
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    if (eio === 3) await (await fetch(q, { method: 'POST', body: frame(3, '2') })).arrayBuffer();
    const poll = await fetch(q);
    const text = await poll.text();
    if (poll.status !== 200) return { status: res.status, session: 'closed' };
    for (const packet of packets(text, eio)) {
      if (packet === '4399["probe"]') return { status: res.status, session: 'alive' };
      if (packet === '1') return { status: res.status, session: 'closed' };
      if (packet === '2' && eio === 4) await (await fetch(q, { method: 'POST', body: '3' })).arrayBuffer();
    }
  }
  throw new Error('the session neither answered the probe nor closed');
}

// After a 413 the reference server keeps the session (the official client closes it on
// the failed POST); Sockeye closes it at once, silently, so the client still reports the
// HTTP error (see Session::close_silently).
const tooLarge = { rust: { status: 413, session: 'closed' }, node: { status: 413, session: 'alive' } };

const pollingCases = [
  // [name, eio, body, {status, session}]
  ['v4 payload larger than maxPayload', 4, `42["message","${'x'.repeat(1_100_000)}"]`, tooLarge],
  ['v3 payload larger than maxPayload', 3, `1100010:42["message","${'x'.repeat(1_100_000)}"]`, tooLarge],
  ['v4 unknown Engine.IO packet type', 4, '9hello', { status: 200, session: 'closed' }],
  ['v4 truncated Socket.IO packet', 4, '42["message"', { status: 200, session: 'closed' }],
  ['v3 length prefix longer than the payload', 3, '100:42["message"]', { status: 200, session: 'closed' }],
  ['v3 length prefix that is not a number', 3, 'ab:42["message"]', { status: 200, session: 'closed' }],
  ['v3 truncated Socket.IO packet', 3, '12:42["message"', { status: 200, session: 'closed' }],
];

describe('malformed payloads over raw HTTP polling', { timeout: 120000 }, () => {
  let server;
  before(async () => {
    server = await startServer('echo');
  });
  after(() => server?.stop());

  for (const [name, eio, body, expected] of pollingCases) {
    test(name, { timeout: TEST_TIMEOUT }, async () => {
      const q = await pollingSession(server.url, eio);
      assert.deepEqual(await postAndProbe(q, eio, body), expected[serverKind] ?? expected);
      await assertServes(server.url);
    });
  }
});
