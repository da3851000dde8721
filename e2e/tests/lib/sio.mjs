// Helpers for the Socket.IO end-to-end tests (tests/sio-*.test.mjs).
//
// Every wait has a timeout so that a missing packet fails the test quickly with a message
// that says what was awaited, instead of hanging the runner.
import { createRequire } from 'node:module';
import { io as ioV4, Manager as ManagerV4 } from 'socket.io-client';
import msgpackParser from 'socket.io-msgpack-parser';

const require = createRequire(import.meta.url);
/** socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4). */
export const ioV2 = require('socket.io-client-v2');
export { ioV4, ManagerV4, msgpackParser };

/** Default time to wait for an expected packet. */
export const TIMEOUT = 3000;
/** Time to wait before asserting that nothing (else) arrived. */
export const SETTLE = 200;
/** Per-test time limit for node:test. */
export const TEST_TIMEOUT = 15000;

/** Transport variants of socket.io-client 4.x; `final` is the transport once settled. */
export const V4_TRANSPORTS = [
  { name: 'websocket', opts: { transports: ['websocket'] }, final: 'websocket' },
  { name: 'polling', opts: { transports: ['polling'] }, final: 'polling' },
  { name: 'polling+upgrade', opts: { transports: ['polling', 'websocket'] }, final: 'websocket' },
];

/**
 * Transport variants of socket.io-client 2.x: its default (polling then upgrade), websocket
 * only, and polling only (the upgrade is quick, so only this one exercises the Engine.IO v3
 * polling payload format for more than the first packets).
 */
export const V2_TRANSPORTS = [
  { name: 'polling+upgrade', opts: {}, final: 'websocket' },
  { name: 'websocket', opts: { transports: ['websocket'] }, final: 'websocket' },
  { name: 'polling', opts: { transports: ['polling'] }, final: 'polling' },
];

import { sleep, withTimeout } from './wait.mjs';

export { sleep, withTimeout } from './wait.mjs';

/** Resolves with the argument list of the next `event` on `emitter`. */
export function once(emitter, event, { timeout = TIMEOUT } = {}) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (...args) => resolve(args);
    emitter.once(event, listener);
  });
  return withTimeout(p, timeout, `event "${event}"`).finally(() => emitter.off(event, listener));
}

/**
 * Emits `event` with `args` and an ack callback; resolves with the ack's argument list.
 * Works with both client generations (2.x has no emitWithAck).
 */
export function emitAck(socket, event, ...args) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, ...args, (...reply) => resolve(reply))),
    TIMEOUT,
    `the ack of "${event}"`,
  );
}

/**
 * Records every occurrence of `events` on `socket` (argument lists, in arrival order).
 * Attach it before connecting so that packets sent right after CONNECT are not missed.
 */
export function record(socket, ...events) {
  const log = new Map(events.map((e) => [e, []]));
  const waiters = new Set();
  for (const event of events) {
    socket.on(event, (...args) => {
      log.get(event).push(args);
      for (const w of waiters) w();
    });
  }
  return {
    /** Argument lists received so far for `event`. */
    all: (event) => log.get(event),
    /** Returns the argument lists received so far for `event` and forgets them. */
    take: (event) => log.get(event).splice(0),
    /** Resolves with all argument lists once at least `n` `event`s arrived. */
    waitFor(event, n = 1, { timeout = TIMEOUT } = {}) {
      const list = log.get(event);
      if (!list) throw new Error(`event "${event}" is not recorded`);
      if (list.length >= n) return Promise.resolve(list);
      let check;
      const p = new Promise((resolve) => {
        check = () => list.length >= n && resolve(list);
        waiters.add(check);
      });
      return withTimeout(p, timeout, `${n} "${event}" event(s) (got ${list.length})`).finally(() =>
        waiters.delete(check),
      );
    },
  };
}

/** Resolves once `socket` is connected; rejects on a connection error (both client versions). */
export function connected(socket, { timeout = TIMEOUT } = {}) {
  if (socket.connected) return Promise.resolve();
  const handlers = {};
  const p = new Promise((resolve, reject) => {
    handlers.connect = () => resolve();
    handlers.connect_error = (err) => reject(new Error(`connect_error: ${err?.message ?? JSON.stringify(err)}`));
    handlers.error = (err) => reject(new Error(`error event: ${JSON.stringify(err)}`));
    for (const [e, h] of Object.entries(handlers)) socket.on(e, h);
  });
  return withTimeout(p, timeout, `the connection of namespace ${socket.nsp}`).finally(() => {
    for (const [e, h] of Object.entries(handlers)) socket.off(e, h);
  });
}

/**
 * Opens a socket.io-client 4.x socket on `url + nsp` (forceNew, no reconnection unless
 * overridden), closed after the test. `events` are recorded from the start.
 * Resolves with { socket, rec } once connected (or right away with `wait: false`).
 */
export async function clientV4(t, url, { nsp = '/', events = [], wait = true, ...opts } = {}) {
  const socket = ioV4(url + nsp, { forceNew: true, reconnection: false, timeout: TIMEOUT, ...opts });
  t.after(() => socket.close());
  const rec = record(socket, 'auth', ...events);
  if (wait) await connected(socket);
  return { socket, rec };
}

/** Same as clientV4 with socket.io-client 2.x. */
export async function clientV2(t, url, { nsp = '/', events = [], wait = true, ...opts } = {}) {
  const socket = ioV2(url + nsp, { forceNew: true, reconnection: false, timeout: TIMEOUT, ...opts });
  t.after(() => socket.close());
  const rec = record(socket, 'auth', ...events);
  if (wait) await connected(socket);
  return { socket, rec };
}

/**
 * Waits until every packet the server sent to `sockets` before now has been received: each
 * socket does a `message-with-ack` round trip, whose ack the server queues behind anything
 * it sent earlier on the same connection.
 */
export async function barrier(sockets) {
  await Promise.all(sockets.map((s) => emitAck(s, 'message-with-ack', 'barrier')));
}

/** Engine.IO transport name currently used by a socket of either client version. */
export const transportOf = (socket) => socket.io.engine.transport.name;

/** Resolves once the socket's Engine.IO connection uses `name` (waits for an upgrade). */
export async function waitTransport(socket, name, { timeout = TIMEOUT } = {}) {
  const deadline = Date.now() + timeout;
  while (transportOf(socket) !== name) {
    if (Date.now() > deadline) throw new Error(`transport is still ${transportOf(socket)}, expected ${name}`);
    await sleep(20);
  }
}

let namespaceCounter = 0;
/** A dynamic namespace (`/dynamic-N`) no other test uses, so socket counts are exact. */
export const freshNamespace = () => `/dynamic-${process.pid}${namespaceCounter++}`;

/** Asserts `value` is a Buffer and returns it (so deepStrictEqual compares bytes). */
export function buf(value) {
  if (!Buffer.isBuffer(value)) throw new Error(`expected a Buffer, got ${Object.prototype.toString.call(value)}`);
  return value;
}
