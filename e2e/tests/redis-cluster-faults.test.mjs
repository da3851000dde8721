// Faults in a Redis cluster of `redis-node` fixtures (Sockeye, or the Node.js reference
// with SOCKEYE_E2E_SERVER=node): Redis stopped and restarted on the same port during
// traffic, and a node frozen then killed while a request waits for it.
//
// What the Node.js reference does differently is said where it matters: its Redis
// client queues commands while disconnected, so its remote operations wait for Redis
// instead of failing at once; Sockeye fails them with an "unreachable" error.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startRedisNode } from './lib/redis.mjs';
import { serverKind } from './lib/servers.mjs';
import { ask, member, waitForCount, sorted, WAIT } from './lib/cluster.mjs';
import { sleep } from './lib/sio.mjs';

const TEST_TIMEOUT = 60000;

/** Polls `redis-state` on `client`'s node until it answers `state`. */
async function waitForState(client, state) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    [last] = await ask(client.socket, WAIT, 'redis-state');
    if (last === state) return;
    await sleep(50);
  }
  assert.fail(`redis-state stayed ${last}, expected ${state}`);
}

describe(`Redis cluster faults (${serverKind} nodes)`, { timeout: 180000 }, () => {
  const started = [];
  after(async () => {
    for (const s of started.reverse()) await s.stop();
  });
  async function redisServer() {
    const redis = await startRedis();
    started.push(redis);
    return redis;
  }
  async function node(redis, opts) {
    const n = await startRedisNode(serverKind, redis.url, opts);
    started.push(n);
    return n;
  }

  it('Redis stopped and restarted during traffic: local delivery never stops, the cluster heals', { timeout: TEST_TIMEOUT }, async (t) => {
    const redis = await redisServer();
    // A long request timeout, so that failing fast cannot be mistaken for timing out.
    const A = await node(redis, { requestTimeout: 8000 });
    const B = await node(redis, { requestTimeout: 8000 });
    const a1 = await member(t, A);
    const a2 = await member(t, A);
    const b1 = await member(t, B);
    await waitForCount(a1, 3);
    await waitForCount(b1, 3);

    // Traffic: a1 keeps asking its node for broadcasts, one at a time.
    const sent = [];
    let running = true;
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        await ask(a1.socket, WAIT, 'broadcast-request', `t${i}`);
        sent.push(`t${i}`);
        await sleep(10);
      }
    })();
    await a2.waitFor(([e, m]) => e === 'broadcast' && m === 't3', 'traffic before the outage');

    await redis.stop();
    await waitForState(a1, 'down');
    await waitForState(b1, 'down');
    const during = sent.length;
    // Local delivery goes on during the outage.
    await a2.waitFor(([e, m]) => e === 'broadcast' && m === `t${during + 3}`, 'traffic during the outage');

    if (serverKind === 'rust') {
      // Operations that need the other nodes fail at once (well before the 8 s request
      // timeout), with the adapter's "unreachable" error.
      const [count, why] = await ask(a1.socket, 4000, 'fetch-count');
      assert.equal(count, null);
      assert.match(why, /unreachable/);
      const [[sseErr, sseAnswers]] = await ask(a1.socket, 4000, 'server-side-emit-with-ack', 'q');
      assert.match(sseErr, /unreachable/);
      assert.deepEqual(sseAnswers, []);
      const [[ackErr]] = await ask(a1.socket, 4000, 'broadcast-with-ack', 8000, null, 'p');
      assert.match(ackErr, /unreachable/);
    }

    await redis.restart();
    await waitForState(a1, 'up');
    await waitForState(b1, 'up');
    // Cross-node delivery resumes without restarting any node.
    const deadline = Date.now() + WAIT;
    for (let k = 0; ; k++) {
      await ask(a1.socket, WAIT, 'to-room', b1.id, `after-${k}`);
      try {
        await b1.waitFor(([e, m]) => e === 'room-message' && m === `after-${k}`, `after-${k}`, 500);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
    await waitForCount(b1, 3);

    running = false;
    await traffic;
    // Every broadcast a1 asked for reached a2 (same node) exactly once, in order.
    assert.deepEqual(await ask(a1.socket, WAIT, 'broadcast-request', 'end'), ['ok']);
    const got = (await a2.untilMarker('end')).filter(([e, m]) => e === 'broadcast' && m.startsWith('t')).map(([, m]) => m);
    assert.deepEqual(got, sent);
  });

  it('a node that dies during fetchSockets or a broadcast with acks does not make them hang', { timeout: TEST_TIMEOUT }, async (t) => {
    const redis = await redisServer();
    const A = await node(redis, { requestTimeout: 2000 });
    const B = await node(redis, { requestTimeout: 2000 });
    const C = await node(redis, { requestTimeout: 2000 });
    const a1 = await member(t, A);
    await member(t, B);
    await member(t, C);
    await waitForCount(a1, 3);

    // C is frozen (still subscribed, so counted, but silent), then killed while A waits
    // for its answer: fetchSockets ends with the timeout error.
    await C.freeze();
    const fetching = ask(a1.socket, WAIT, 'fetch-count');
    await sleep(200);
    C.signal('SIGKILL');
    const [count, why] = await fetching;
    assert.equal(count, null);
    assert.match(why, /timeout|within/);
    // Once Redis has seen C go, the cluster answers again.
    await waitForCount(a1, 2);

    // Same with a broadcast with acks: it ends at its timeout with the acks that came.
    await B.freeze();
    const broadcasting = ask(a1.socket, WAIT, 'broadcast-with-ack', 1500, null, 'p');
    await sleep(200);
    B.signal('SIGKILL');
    const [[err, responses]] = await broadcasting;
    assert.equal(err, 'operation has timed out');
    assert.deepEqual(sorted(responses), [a1.id]);
  });
});
