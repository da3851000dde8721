// Reference `redis-node` fixture: one node of a Redis cluster on the Node.js socket.io
// 4.8 server with @socket.io/redis-adapter 8 (the same fixture as the Rust example
// crates/sockeye-redis/examples/redis-node.rs; the contract is in e2e/FIXTURES.md).
// Usage: node e2e/reference/redis-node.mjs --port PORT --redis URL [--request-timeout MS]
//   [--adapter classic|sharded] [--subscription-mode static|dynamic|dynamic-private]
// (`--adapter sharded`: createShardedAdapter, Redis 7, dynamic subscription mode by default)
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    redis: { type: 'string' },
    'request-timeout': { type: 'string', default: '5000' },
    adapter: { type: 'string', default: 'classic' },
    'subscription-mode': { type: 'string', default: 'dynamic' },
  },
});
if (!opts.port) throw new Error('--port is required');
if (!opts.redis) throw new Error('--redis is required');
const port = Number(opts.port);

// @socket.io/redis-adapter does not catch the rejection of a PUBLISH that was in
// flight when the Redis connection broke; unhandled, it would end the process during a
// Redis outage (Node.js 15+). A deployment needs this too.
process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err?.message ?? err));

const pubClient = createClient({ url: opts.redis });
const subClient = pubClient.duplicate();
for (const client of [pubClient, subClient]) client.on('error', (err) => console.error('redis:', err.message));
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: '/socket.io/',
  adapter:
    opts.adapter === 'sharded'
      ? createShardedAdapter(pubClient, subClient, { subscriptionMode: opts['subscription-mode'] })
      : createAdapter(pubClient, subClient, { requestsTimeout: Number(opts['request-timeout']) }),
});

/** Splits a trailing ack callback off an argument list. */
const split = (args) => {
  const ack = typeof args.at(-1) === 'function' ? args.pop() : () => {};
  return [args, ack];
};

// Events from the other nodes.
io.on('cluster-note', (...args) => {
  io.local.emit('cluster-note', ...args);
});
io.on('cluster-question', (...all) => {
  const [args, ack] = split(all);
  ack({ port, args });
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    ack?.('ok');
  });
  socket.on('leave', (room, ack) => {
    socket.leave(room);
    ack?.('ok');
  });
  socket.on('to-room', (room, ...all) => {
    const [args, ack] = split(all);
    io.to(room).emit('room-message', ...args);
    ack('ok');
  });
  socket.on('to-room-except', (room, except, ...all) => {
    const [args, ack] = split(all);
    io.to(room).except(except).emit('room-message', ...args);
    ack('ok');
  });
  socket.on('broadcast-request', (...all) => {
    const [args, ack] = split(all);
    io.emit('broadcast', ...args);
    ack('ok');
  });
  socket.on('fetch-count', async (ack) => {
    try {
      ack((await io.fetchSockets()).length);
    } catch (err) {
      ack(null, err.message);
    }
  });
  socket.on('fetch-ids', async (room, ack) => {
    try {
      const sockets = await (room == null ? io.fetchSockets() : io.in(room).fetchSockets());
      ack(sockets.map((s) => s.id).sort());
    } catch (err) {
      ack(null, err.message);
    }
  });
  socket.on('remote-join', (sid, room, ack) => {
    io.in(sid).socketsJoin(room);
    ack('ok');
  });
  socket.on('remote-leave', (sid, room, ack) => {
    io.in(sid).socketsLeave(room);
    ack('ok');
  });
  socket.on('remote-disconnect', (sid, ack) => {
    io.in(sid).disconnectSockets(false);
    ack('ok');
  });
  socket.on('broadcast-with-ack', (timeout, room, ...all) => {
    const [args, ack] = split(all);
    const target = room == null ? io : io.to(room);
    target.timeout(timeout).emit('ping-all', ...args, (err, responses) => {
      ack([err ? err.message : null, responses]);
    });
  });
  socket.on('server-side-emit', (...all) => {
    const [args, ack] = split(all);
    io.serverSideEmit('cluster-note', ...args);
    ack('ok');
  });
  socket.on('server-side-emit-with-ack', (...all) => {
    const [args, ack] = split(all);
    io.serverSideEmit('cluster-question', ...args, (err, responses) => {
      ack(err ? ['timeout', responses] : [null, responses]);
    });
  });
  socket.on('redis-state', (ack) => {
    ack(pubClient.isReady && subClient.isReady ? 'up' : 'down');
  });
});

// `/admin` lets clients join rooms too (namespace tests).
io.of('/admin').on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    ack?.('ok');
  });
});

// A server-side event `relay` (from another node or an emitter) is sent on to this
// node's own clients as `relayed`, so tests can see that every node received it.
io.on('relay', (...args) => io.local.emit('relayed', ...args));

httpServer.listen(port, '127.0.0.1');
