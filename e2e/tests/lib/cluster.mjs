// Helpers of the Redis cluster suites (redis-cluster*.test.mjs, redis-mixed.test.mjs):
// clients that record what the cluster sends them, and waits with deadlines.
import assert from 'node:assert/strict';
import { clientV4, sleep, withTimeout } from './sio.mjs';

/** Generous deadline for anything that crosses Redis. */
export const WAIT = 10000;

/** Emits `event` with an ack and resolves with the ack's arguments, within `ms`. */
export function ask(socket, ms, event, ...args) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, ...args, (...reply) => resolve(reply))),
    ms,
    `the ack of "${event}"`,
  );
}

/**
 * A socket.io-client 4 socket on `node` that records `room-message`, `broadcast` and
 * `cluster-note` events in arrival order and answers `ping-all` with its own id.
 */
export async function member(t, node) {
  const { socket } = await clientV4(t, node.url);
  const log = [];
  const waiters = new Set();
  for (const event of ['room-message', 'broadcast', 'cluster-note']) {
    socket.on(event, (...args) => {
      log.push([event, ...args]);
      for (const w of waiters) w();
    });
  }
  socket.on('ping-all', (...args) => {
    const ack = args.pop();
    ack(socket.id);
  });
  return {
    socket,
    node,
    get id() {
      return socket.id;
    },
    /** Resolves once an event matching `pred` arrived (it stays in the log). */
    async waitFor(pred, what, ms = WAIT) {
      if (log.some(pred)) return;
      let check;
      const p = new Promise((resolve) => {
        check = () => log.some(pred) && resolve();
        waiters.add(check);
      });
      await withTimeout(p, ms, what).finally(() => waiters.delete(check));
    },
    /** The events before the marker `broadcast(marker)`, which is consumed with them. */
    async untilMarker(marker) {
      const index = () => log.findIndex(([e, m]) => e === 'broadcast' && m === marker);
      await this.waitFor(([e, m]) => e === 'broadcast' && m === marker, `marker ${marker}`);
      return log.splice(0, index() + 1).slice(0, -1);
    },
    /** Everything received so far (forgotten). */
    take: () => log.splice(0),
  };
}

/** Polls `fetch-count` from `client` until it sees `n` sockets (every node subscribed). */
export async function waitForCount(client, n) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    last = await ask(client.socket, WAIT, 'fetch-count');
    if (last[0] === n) return last;
    await sleep(50);
  }
  assert.fail(`fetch-count never reached ${n}: last answer ${JSON.stringify(last)}`);
}

/** Sorted copy. */
export const sorted = (list) => [...list].sort();
