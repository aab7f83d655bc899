// The bench's HTTP peer: bare node:http holding a Map, the same routes as Gyre's key-value API
// (GET and PUT /kv/{key}) and nothing else: no replication, no disk, no checks. What Gyre's
// HTTP front end is measured against (npm run bench); never a product.
//
//   node dist/test/bench/bare-http.js --port 7399

import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const store = new Map<string, Buffer>();

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/status') {
    res.writeHead(200, { 'content-type': 'application/json' });
    // Just enough of Gyre's status document for `gyre bench` to find this process's CPU.
    res.end(JSON.stringify({ node: { id: 'bare-http', pid: process.pid }, config: { n: 1, r: 1, w: 1, partitions: 1 }, members: [], hintsPending: 0 }));
    return;
  }
  if (!url.startsWith('/kv/')) {
    res.writeHead(404).end();
    return;
  }
  const key = url.slice(4);
  if (req.method === 'GET') {
    const v = store.get(key);
    if (v === undefined) res.writeHead(404, { 'content-length': 0 }).end();
    else res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': v.length }).end(v);
    return;
  }
  if (req.method === 'PUT') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      store.set(key, Buffer.concat(chunks));
      res.writeHead(204).end();
    });
    return;
  }
  res.writeHead(405).end();
});
server.keepAliveTimeout = 30_000;
server.listen(Number(values.port), values.host, () => {
  const a = server.address();
  console.log(`bare-http listening on ${values.host}:${typeof a === 'object' && a ? a.port : values.port}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
