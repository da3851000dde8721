// The Node.js socket.io 4.8 peer server of the Sockeye benchmarks (crates/sockeye-bench).
// Same contract as Sockeye's `bench-server` example, on namespace `/`:
//   join (room)          joins the room, acks "ok"
//   echo (...args)       acks with the same arguments
//   pub (room, payload)  emits `msg` (payload) to the whole room, sender included
//   GET /health          200
// With --redis URL the node joins a cluster through @socket.io/redis-adapter.
// Usage: node bench/node/server.mjs --port PORT [--redis URL]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';

const { values: opts } = parseArgs({
  options: { port: { type: 'string' }, redis: { type: 'string' } },
});
if (!opts.port) throw new Error('--port is required');

let adapter;
if (opts.redis) {
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { createClient } = await import('redis');
  const pubClient = createClient({ url: opts.redis });
  const subClient = pubClient.duplicate();
  for (const client of [pubClient, subClient]) client.on('error', (err) => console.error('redis:', err.message));
  await Promise.all([pubClient.connect(), subClient.connect()]);
  adapter = createAdapter(pubClient, subClient);
}

const httpServer = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  } else if (!req.url.startsWith('/socket.io/')) {
    res.writeHead(404).end();
  }
});
const io = new Server(httpServer, adapter ? { adapter } : {});

io.on('connection', (socket) => {
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack('ok');
  });
  socket.on('echo', (...args) => {
    const ack = typeof args.at(-1) === 'function' ? args.pop() : undefined;
    if (ack) ack(...args);
  });
  socket.on('pub', (room, payload) => {
    io.to(room).emit('msg', payload);
  });
});

httpServer.listen(Number(opts.port), '127.0.0.1');
