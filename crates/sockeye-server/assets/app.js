// Shared by the Sockeye app pages: a namespace connection that reports its trouble,
// and requests answered through acknowledgements.
'use strict';

window.SockeyeApp = {
  /**
   * Connects to namespace `nsp`. `onStatus(text)` hears about connection trouble;
   * `onConnect()` runs on every (re)connection. Returns `{ socket, request }`, where
   * `request(event, arg)` resolves with the server's acknowledgement, or with
   * `{ ok: false, code: 'timeout' }` when none comes within 10 s.
   */
  connect(nsp, { onStatus, onConnect }) {
    const socket = io(nsp);

    async function request(event, arg) {
      try {
        const emitter = socket.timeout(10000);
        return await (arg === undefined ? emitter.emitWithAck(event) : emitter.emitWithAck(event, arg));
      } catch {
        return { ok: false, error: 'The server did not answer. Check your connection.', code: 'timeout' };
      }
    }

    socket.on('connect', onConnect);
    socket.on('disconnect', () => onStatus('Connection lost. Reconnecting…'));
    socket.on('connect_error', (err) => onStatus(`Cannot connect: ${err.message}. Retrying…`));
    return { socket, request };
  },
};
