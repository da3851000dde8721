// Reference `redis-node` fixture: one node of a Redis cluster on the Node.js socket.io
// 4.8 server with @socket.io/redis-adapter 8 (the same fixture as the Rust example
// crates/sockeye-redis/examples/redis-node.rs).
// Usage: node e2e/reference/redis-node.mjs --port PORT --redis URL
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const { values: opts } = parseArgs({
  options: { port: { type: 'string' }, redis: { type: 'string' } },
});
if (!opts.port) throw new Error('--port is required');
if (!opts.redis) throw new Error('--redis is required');

const pubClient = createClient({ url: opts.redis });
const subClient = pubClient.duplicate();
for (const client of [pubClient, subClient]) client.on('error', (err) => console.error('redis:', err.message));
await Promise.all([pubClient.connect(), subClient.connect()]);

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: '/socket.io/',
  pingInterval: 300,
  pingTimeout: 200,
  adapter: createAdapter(pubClient, subClient),
});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    ack?.('ok');
  });
  socket.on('to-room', (room, ...args) => {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : undefined;
    io.to(room).emit('room-message', ...args);
    ack?.('ok');
  });
  socket.on('broadcast-request', (...args) => {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : undefined;
    io.emit('broadcast', ...args);
    ack?.('ok');
  });
  socket.on('fetch-count', async (ack) => {
    try {
      ack((await io.fetchSockets()).length);
    } catch (err) {
      ack(null, err.message);
    }
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

httpServer.listen(Number(opts.port), '127.0.0.1');
