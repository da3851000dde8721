// Reference `streams-node` fixture: one node of a cluster sharing a Redis stream, on the
// Node.js socket.io 4.8 server with @socket.io/redis-streams-adapter 0.3 and connection
// state recovery on (the same fixture as crates/sockeye-redis/examples/streams-node.rs).
// Usage: node e2e/reference/streams-node.mjs --port PORT --redis URL [--recovery-ms MS]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    redis: { type: 'string' },
    'recovery-ms': { type: 'string', default: '10000' },
  },
});
if (!opts.port) throw new Error('--port is required');
if (!opts.redis) throw new Error('--redis is required');

const redisClient = createClient({ url: opts.redis });
redisClient.on('error', (err) => console.error('redis:', err.message));
await redisClient.connect();

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: '/socket.io/',
  pingInterval: 300,
  pingTimeout: 200,
  connectionStateRecovery: { maxDisconnectionDuration: Number(opts['recovery-ms']), skipMiddlewares: true },
  adapter: createAdapter(redisClient),
});

const port = Number(opts.port);
io.on('cluster-note', (...args) => {
  io.local.emit('cluster-note', ...args);
});
io.on('cluster-question', (...args) => {
  const ack = args.pop();
  ack({ port, args });
});

io.on('connection', (socket) => {
  const on = (event, handler) =>
    socket.on(event, (...args) => {
      const ack = typeof args.at(-1) === 'function' ? args.pop() : () => {};
      handler(args, ack);
    });
  on('join', ([room], ack) => {
    socket.join(room);
    ack('ok');
  });
  on('to-room', ([room, ...args], ack) => {
    io.to(room).emit('room-message', ...args);
    ack('ok');
  });
  on('broadcast-request', (args, ack) => {
    io.emit('broadcast', ...args);
    ack('ok');
  });
  on('fetch-count', async (args, ack) => {
    try {
      ack((await io.fetchSockets()).length);
    } catch (err) {
      ack(null, err.message);
    }
  });
  on('set-data', ([value], ack) => {
    socket.data = value;
    ack('ok');
  });
  on('state', (args, ack) =>
    ack({ id: socket.id, recovered: socket.recovered, rooms: [...socket.rooms].sort(), data: socket.data ?? null }),
  );
  on('remote-join', ([target, room], ack) => {
    io.in(target).socketsJoin(room);
    ack('ok');
  });
  on('remote-leave', ([target, room], ack) => {
    io.in(target).socketsLeave(room);
    ack('ok');
  });
  on('broadcast-with-ack-request', async (args, ack) => {
    try {
      ack([null, await io.timeout(1000).emitWithAck('ping-all', ...args)]);
    } catch (err) {
      ack([err.message, err.responses ?? []]);
    }
  });
  on('remote-disconnect', ([target], ack) => {
    io.in(target).disconnectSockets(false);
    ack('ok');
  });
  on('server-side-emit', (args, ack) => {
    io.serverSideEmit('cluster-note', ...args);
    ack('ok');
  });
  on('server-side-emit-with-ack', (args, ack) => {
    io.serverSideEmit('cluster-question', ...args, (err, answers) => {
      ack(err ? ['timeout', answers] : [null, answers]);
    });
  });
});

httpServer.listen(Number(opts.port), '127.0.0.1');
