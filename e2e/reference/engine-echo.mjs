// Reference `engine-echo` fixture (e2e/FIXTURES.md) on the Node.js `engine.io` server:
// path /engine.io/, pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000,
// Engine.IO v3 and v4; every text or binary message is sent back verbatim.
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Server } = require('engine.io');

const portIndex = process.argv.indexOf('--port');
const port = portIndex >= 0 ? Number(process.argv[portIndex + 1]) : 3000;

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});

const engine = new Server({
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  allowEIO3: true,
});
engine.attach(httpServer, { path: '/engine.io/' });

engine.on('connection', (socket) => {
  socket.on('message', (data) => socket.send(data));
});

httpServer.listen(port, '127.0.0.1');
