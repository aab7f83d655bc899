// A refused request (413 here; 503 overloaded takes the same path) is answered at once and
// closed with a lingering close: the client that goes on sending its body still reads the
// answer (no EPIPE, no reset), a keep-alive client does not reuse the closing connection, and
// a request pipelined after the refused one is not served.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { TestCluster, bearer, uniqueKey } from '../helpers/cluster.js';

const cluster = new TestCluster({ nodes: 1, args: ['--partitions', '16', '--n', '1', '--r', '1', '--w', '1'] });
before(() => cluster.start());
after(() => cluster.stop());

const oversized = Buffer.alloc(3 * 1024 * 1024, 0x61);

/** Writes a whole request (headers, then `body`, then `more`) without reading first; resolves with what came back before the close. */
function rawExchange(port: number, head: string, body: Buffer, more = ''): Promise<{ text: string; error: string | undefined }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let error: string | undefined;
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ text, error }));
    s.write(head);
    s.write(body);
    s.end(more);
  });
}

test('a client that sends its whole oversized body before reading still reads the 413, and the connection then closes cleanly', async () => {
  const port = cluster.node('n1').port;
  for (let i = 0; i < 5; i++) {
    const r = await rawExchange(port, `PUT /kv/${uniqueKey('big')} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${cluster.token}\r\ncontent-length: ${oversized.length}\r\n\r\n`, oversized);
    assert.equal(r.error, undefined, `the connection was reset under the client: ${r.error}; it read ${JSON.stringify(r.text.slice(0, 80))}`);
    assert.match(r.text, /^HTTP\/1\.1 413 /);
    assert.match(r.text, /connection: close/i);
    assert.match(r.text, /"error":"value_too_large"/);
  }
});

test('a request pipelined after a refused one is not served', async () => {
  const key = uniqueKey('after-refused');
  const small = `PUT /kv/${key} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${cluster.token}\r\ncontent-length: 1\r\n\r\nx`;
  const r = await rawExchange(cluster.node('n1').port, `PUT /kv/${uniqueKey('big')} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${cluster.token}\r\ncontent-length: ${oversized.length}\r\n\r\n`, oversized, small);
  assert.deepEqual(r.text.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 413']);
  assert.equal((await cluster.get('n1', key)).status, 404, 'the pipelined PUT was not applied');
});

test('a keep-alive client gets the 413 with Connection: close and its next requests go over a new connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (method: string, path: string, body?: Buffer | string) =>
    new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port: cluster.node('n1').port, method, path, agent, headers: bearer(cluster.token) }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      });
      r.on('error', reject);
      r.end(body);
    });
  try {
    const key = uniqueKey('ka');
    // Queued on one socket: the agent would hand it the next request as soon as the upload ends.
    const [big, put, get] = await Promise.all([send('PUT', `/kv/${uniqueKey('ka-big')}`, oversized), send('PUT', `/kv/${key}`, 'small'), send('GET', `/kv/${key}`)]);
    assert.deepEqual(big, { status: 413, connection: 'close' });
    assert.equal(put.status, 204);
    assert.equal(get.status, 200);
  } finally {
    agent.destroy();
  }
});
