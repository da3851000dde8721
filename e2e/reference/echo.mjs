// Reference `echo` fixture (see e2e/FIXTURES.md) on the Node.js socket.io 4.8 server.
// Usage: node e2e/reference/echo.mjs --port PORT [--parser msgpack] [--recovery-ms MS [--recovery-with-middlewares]] [--max-queue N] [--ping-interval MS] [--ping-timeout MS]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import msgpackParser from 'socket.io-msgpack-parser';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    parser: { type: 'string', default: 'json' },
    'recovery-ms': { type: 'string' },
    'recovery-with-middlewares': { type: 'boolean', default: false },
    // Accepted for symmetry: the reference server has no outgoing queue cap.
    'max-queue': { type: 'string' },
    'ping-interval': { type: 'string', default: '300' },
    'ping-timeout': { type: 'string', default: '200' },
  },
});
if (!opts.port) throw new Error('--port is required');
if (!['json', 'msgpack'].includes(opts.parser)) throw new Error(`unknown parser ${opts.parser}`);

// Why each socket disconnected (socket id -> reason), for the `stats` event.
const disconnects = {};

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: '/socket.io/',
  pingInterval: Number(opts['ping-interval']),
  pingTimeout: Number(opts['ping-timeout']),
  maxHttpBufferSize: 1e6,
  connectTimeout: 1000,
  allowEIO3: true,
  ...(opts.parser === 'msgpack' ? { parser: msgpackParser } : {}),
  ...(opts['recovery-ms']
    ? { connectionStateRecovery: { maxDisconnectionDuration: Number(opts['recovery-ms']), skipMiddlewares: !opts['recovery-with-middlewares'] } }
    : {}),
});

function setup(nsp) {
  // Connect middleware: v4 clients ask for refusal in their auth payload, v2 clients
  // (Engine.IO v3) in the handshake query.
  nsp.use((socket, next) => {
    const { auth, query } = socket.handshake;
    const refuse = auth?.refuse === true || (socket.conn.protocol === 3 && query.refuse === '1');
    if (!refuse) return next();
    const err = new Error('refused by middleware');
    err.data = { reason: 'test' };
    next(err);
  });

  nsp.on('connection', (socket) => {
    // Registers a handler that gets (args, ack); ack is a no-op when the client sent none.
    const on = (event, handler) =>
      socket.on(event, (...args) => {
        const ack = typeof args.at(-1) === 'function' ? args.pop() : () => {};
        handler(args, ack);
      });

    // Counts every incoming event; onAny runs before the socket.use middleware, so
    // refused events are counted too. `count-events` is answered here, before counting itself.
    let seen = 0;
    socket.onAny((event, ...args) => {
      if (event === 'count-events' && typeof args.at(-1) === 'function') args.at(-1)(seen);
      seen++;
    });

    socket.use(([event], next) => next(event === 'blocked' ? new Error('blocked event') : undefined));

    on('message', (args) => socket.emit('message-back', ...args));
    on('message-with-ack', (args, ack) => ack(...args));
    on('broadcast-request', (args, ack) => {
      socket.nsp.emit('broadcast', ...args);
      ack(socket.nsp.sockets.size);
    });
    on('join', ([room], ack) => {
      socket.join(room);
      ack('ok');
    });
    on('leave', ([room], ack) => {
      socket.leave(room);
      ack('ok');
    });
    on('to-room', ([room, ...args], ack) => {
      socket.to(room).emit('room-message', ...args);
      ack('ok');
    });
    on('volatile-request', ([n], ack) => {
      for (let i = 0; i < n; i++) socket.volatile.emit('volatile', i);
      ack('ok');
    });
    on('to-room-volatile', ([room, n, ...args], ack) => {
      for (let i = 0; i < n; i++) socket.to(room).volatile.emit('room-volatile', i, ...args);
      ack('ok');
    });
    // No engine counters in the reference server: `engine` is null.
    on('stats', (args, ack) => ack({ engine: null, disconnects }));
    socket.on('disconnect', (reason) => {
      disconnects[socket.id] = reason;
    });
    on('server-ack-request', (args) => {
      socket.timeout(1000).emit('server-ack', ...args, (err, ...reply) => {
        socket.emit('server-ack-result', ...(err ? ['timeout'] : reply));
      });
    });
    on('broadcast-with-ack-request', (args, ack) => {
      socket.nsp.timeout(1000).emit('ping-all', ...args, (err, responses) => {
        ack([err ? err.message : null, responses]);
      });
    });
    on('set-data', ([value], ack) => {
      socket.data = value ?? null;
      ack('ok');
    });
    on('state', (args, ack) =>
      ack({ id: socket.id, recovered: socket.recovered, rooms: [...socket.rooms].sort(), data: socket.data ?? null }),
    );
    on('disconnect-me', () => socket.disconnect());

    socket.emit('auth', socket.handshake.auth);
  });
}

setup(io.of('/'));
setup(io.of('/custom'));
setup(io.of(/^\/dynamic-\d+$/));

httpServer.listen(Number(opts.port), '127.0.0.1');
