// Helpers for the Engine.IO suites (engine.io-client v3 and v6 share the same socket API).
import { withTimeout } from './wait.mjs';

export { sleep, withTimeout } from './wait.mjs';

export const TIMEOUT = 5000;
export const TEST_TIMEOUT = 20000;

/** The arguments of the next `event` of `emitter`. */
export function once(emitter, event, ms = TIMEOUT) {
  return withTimeout(new Promise((resolve) => emitter.once(event, (...args) => resolve(args))), ms, `"${event}"`);
}

/** Collects the next `count` messages of `socket`. */
export function messages(socket, count, ms = TIMEOUT) {
  const got = [];
  return withTimeout(
    new Promise((resolve) => {
      const onMessage = (data) => {
        got.push(data);
        if (got.length === count) {
          socket.off('message', onMessage);
          resolve(got);
        }
      };
      socket.on('message', onMessage);
    }),
    ms,
    `${count} messages (got ${got.length})`,
  );
}

/** Closes without the test's own `close` listeners firing. */
export function closeQuietly(socket) {
  socket.off('close');
  socket.close();
}

/** A received binary message as a Buffer. */
export const asBytes = (data) => Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
