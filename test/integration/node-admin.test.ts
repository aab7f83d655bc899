// The admin routes an operator console reads one node by (http/node-admin.ts), on a real
// 3-node cluster with N=2 (so each node replicates only some partitions) and an admin token:
// GET /admin/log, GET /admin/partitions, POST /admin/repair, GET /admin/config; and the
// internode listKeys request GET /keys sends, spoken by hand, valid and hostile.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type HttpResponse, TestCluster, bearer, jsonBody, sleep, uniqueKey } from '../helpers/cluster.js';
import { connectForChallenge, decodeFrames, frameKind, helloFor, packed } from '../helpers/internode.js';
import { packVersions } from '../../node-core/src/core/codec.js';
import { partitionOf } from '../../node-core/src/core/partitioner.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import type { ConfigDocument, LogDocument, PartitionsDocument, RepairDocument } from '../../node-core/src/wire/api.js';

const partitions = 16;
const cluster = new TestCluster({ nodes: 3, adminToken: true, args: ['--partitions', String(partitions), '--n', '2'] });
const json = { 'content-type': 'application/json' };

before(() => cluster.start());
after(() => cluster.stop());

function admin(node: string, method: string, path: string, body?: string): Promise<HttpResponse> {
  return cluster.request(node, method, path, { headers: { ...bearer(cluster.adminToken), ...(body !== undefined ? json : {}) }, ...(body !== undefined ? { body } : {}) });
}

function ok<T>(res: HttpResponse, what: string): T {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  return jsonBody(res) as T;
}

function refused(res: HttpResponse, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  assert.equal((jsonBody(res) as { error: string }).error, code, what);
}

/** The partitions `node` replicates (N=2: it is in their preference list), from the ring in /status. */
async function replicated(node: string): Promise<number[]> {
  const doc = ok<PartitionsDocument>(await admin(node, 'GET', '/admin/partitions'), 'partitions');
  return doc.partitions.filter((p) => p.replica).map((p) => p.partition);
}

// --- the internode wire, by hand ------------------------------------------------------------------

const peerWaitMs = 5000;

/** One internode request to `node` as a peer that proves the cluster token; the node's reply or failure frame. */
async function peerCall(node: string, body: unknown): Promise<unknown[]> {
  const status = await cluster.status(node);
  const address = status.listeners.internode;
  const { socket, nonce, rest } = await connectForChallenge(address);
  return new Promise((resolve, reject) => {
    let received = rest;
    let welcomed = false;
    const timer = setTimeout(() => done(new Error(`no reply from ${node} within ${peerWaitMs} ms`)), peerWaitMs);
    const done = (e: Error | undefined, msg?: unknown[]) => {
      clearTimeout(timer);
      socket.destroy();
      if (e) reject(e);
      else resolve(msg!);
    };
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c]);
      const { frames, rest: left } = decodeFrames(received);
      received = left;
      for (const f of frames) {
        if (!Array.isArray(f)) return done(new Error('a frame that is not an array'));
        if (!welcomed) {
          if (f[0] !== frameKind.welcome) return done(new Error(`not welcomed: ${JSON.stringify(f).slice(0, 200)}`));
          welcomed = true;
          continue;
        }
        if ((f[0] === frameKind.reply || f[0] === frameKind.failure) && f[1] === 1) return done(undefined, f);
      }
    });
    socket.on('error', (e) => done(e));
    socket.resume();
    const to = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.write(Buffer.concat([helloFor(cluster.token, 'n1', nonce, to), packed([frameKind.request, 1, body])]));
  });
}

// --- GET /admin/log ------------------------------------------------------------------------------

describe('GET /admin/log', () => {
  test('the last lines, numbered; following with after=next gets exactly the lines logged since (a fault injection logs on every node)', async () => {
    const tail = ok<LogDocument>(await admin('n2', 'GET', '/admin/log?lines=5'), 'tail');
    assert.ok(tail.lines.length > 0 && tail.lines.length <= 5, `${tail.lines.length} lines`);
    for (let i = 1; i < tail.lines.length; i++) assert.equal(tail.lines[i]!.seq, tail.lines[i - 1]!.seq + 1, 'consecutive numbers');
    assert.equal(tail.next, tail.lines[tail.lines.length - 1]!.seq);
    assert.equal((JSON.parse(tail.lines[0]!.text) as { node?: string }).node, 'n2', 'pino JSON of this node');

    const delayMs = 3 + Math.floor(Math.random() * 90);
    const injected = await admin('n1', 'POST', '/admin/faults', JSON.stringify({ kind: 'latency', delayMs, jitterMs: 0, durationMs: 2000 }));
    assert.equal(injected.status, 201, injected.body.toString('utf8'));
    const id = (jsonBody(injected) as { fault: { id: string } }).fault.id;
    let found: LogDocument | undefined;
    const deadline = Date.now() + 5000;
    while (!found && Date.now() < deadline) {
      const page = ok<LogDocument>(await admin('n2', 'GET', `/admin/log?after=${tail.next}&filter=${encodeURIComponent(id.toUpperCase())}`), 'follow');
      if (page.lines.length > 0) found = page;
      else await sleep(100);
    }
    assert.ok(found, `n2 did not log fault ${id}`);
    assert.ok(found.lines.every((l) => l.seq > tail.next && l.text.toLowerCase().includes(id.toLowerCase())), 'only later lines, and only matching ones (any case)');
    assert.equal(found.dropped, false);
    await admin('n1', 'DELETE', '/admin/faults');
  });

  test('400 for lines out of 1..1000, a bad after, a filter over 256 characters; the cluster token is refused with 403', async () => {
    refused(await admin('n1', 'GET', '/admin/log?lines=0'), 400, 'bad_lines', 'lines=0');
    refused(await admin('n1', 'GET', '/admin/log?lines=1001'), 400, 'bad_lines', 'lines=1001');
    refused(await admin('n1', 'GET', '/admin/log?after=-1'), 400, 'bad_after', 'after=-1');
    refused(await admin('n1', 'GET', `/admin/log?filter=${'f'.repeat(257)}`), 400, 'bad_filter', 'long filter');
    const asCluster = await cluster.request('n1', 'GET', '/admin/log');
    refused(asCluster, 403, 'admin_required', 'the cluster token');
  });

  test('from after=0 on a fresh node: the lines from the first one, nothing dropped yet', async () => {
    const all = ok<LogDocument>(await admin('n1', 'GET', '/admin/log?lines=1000&after=0'), 'from the start');
    assert.ok(all.lines.length <= 1000);
    if (all.lines.length > 0) assert.equal(all.lines[0]!.seq, 1, 'nothing dropped yet on a fresh node, so reading from 0 starts at line 1');
    assert.equal(all.dropped, false);
  });
});

// --- GET /admin/partitions -------------------------------------------------------------------------

describe('GET /admin/partitions', () => {
  test('every partition the node replicates, with its keys and bytes counted as written, and anti-entropy state', async () => {
    const doc = ok<PartitionsDocument>(await admin('n1', 'GET', '/admin/partitions'), 'partitions');
    assert.equal(doc.node, 'n1');
    const mine = doc.partitions.filter((p) => p.replica).map((p) => p.partition);
    // N=2 of 3 nodes: about two thirds of the partitions, never all.
    assert.ok(mine.length > 0 && mine.length < partitions, `n1 replicates ${mine.length} of ${partitions}`);
    const before = new Map(doc.partitions.map((p) => [p.partition, p]));
    const p = mine[0]!;
    const keys: string[] = [];
    for (let i = 0; keys.length < 5 && i < 10_000; i++) {
      const k = uniqueKey(`pa-${i}`);
      if (partitionOf(Buffer.from(k), partitions) === p) keys.push(k);
    }
    for (const k of keys) {
      const res = await cluster.put('n1', k, 'x'.repeat(100), { query: 'w=2' });
      assert.equal(res.status, 204);
    }
    const after = ok<PartitionsDocument>(await admin('n1', 'GET', '/admin/partitions'), 'after the writes');
    const entry = after.partitions.find((e) => e.partition === p)!;
    assert.equal(entry.keys, (before.get(p)?.keys ?? 0) + keys.length);
    assert.ok(entry.bytes >= (before.get(p)?.bytes ?? 0) + keys.length * 100, `${entry.bytes} bytes`);
    assert.match(entry.merkleRoot ?? '', /^[0-9a-f]{32}$/);
    for (const e of after.partitions) {
      assert.ok(e.lastExchangeMs === null || e.lastExchangeMs > 0);
      assert.ok(e.keysRepaired >= 0);
    }
    // The partitions one node leaves out are replicated by the others: each is on exactly two.
    const counts = new Map<number, number>();
    for (const n of ['n1', 'n2', 'n3']) for (const q of await replicated(n)) counts.set(q, (counts.get(q) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort((a, b) => a - b), Array.from({ length: partitions }, (_, i) => i));
    assert.ok([...counts.values()].every((c) => c === 2));
  });
});

// --- POST /admin/repair -----------------------------------------------------------------------------

function version(value: string): Version {
  const dot = { actor: `t${randomBytes(4).toString('hex')}.1`, counter: 1, ts: Date.now() };
  return { dot, clock: { entries: [dot], dots: [] }, deleted: false, contentType: 'text/plain', value: Buffer.from(value) };
}

describe('POST /admin/repair', () => {
  test('after a write that only one replica took (sent to it directly), the repair answers with the replicas agreeing, and /replicas shows it at once', async () => {
    const mine = await replicated('n1');
    // Keys spread over every partition n1 replicates, written to n1 alone: its peers do not have them.
    const items: [Buffer, number, unknown, null][] = [];
    const keys: string[] = [];
    for (let i = 0; items.length < 120 && i < 100_000; i++) {
      const k = uniqueKey(`rp-${i}`);
      const p = partitionOf(Buffer.from(k), partitions);
      if (!mine.includes(p)) continue;
      keys.push(k);
      items.push([Buffer.from(k), p, packVersions([version(`direct-${k}`)]), null]);
    }
    const reply = await peerCall('n1', ['writeMany', items]);
    assert.equal(reply[0], frameKind.reply, JSON.stringify(reply).slice(0, 200));
    const res = await admin('n1', 'POST', '/admin/repair', '{}');
    const doc = ok<RepairDocument>(res, 'repair');
    assert.equal(doc.complete, true);
    assert.deepEqual(doc.partitions.map((e) => e.partition).sort((a, b) => a - b), [...mine].sort((a, b) => a - b));
    for (const e of doc.partitions) {
      assert.equal(e.peers.length, 1, `N=2: one other replica of partition ${e.partition}`);
      assert.deepEqual(e.skipped, []);
      assert.equal(e.agreed, true, `partition ${e.partition}`);
    }
    const repaired = doc.partitions.reduce((n, e) => n + e.keysRepaired, 0);
    assert.ok(repaired > 0, 'the repair found the keys only n1 had (a background round may have taken some first)');
    for (const k of keys.slice(0, 20)) {
      const r = await cluster.replicas('n2', k);
      assert.equal(r.replicas.length, 2);
      for (const rep of r.replicas) assert.equal(rep.versions.length, 1, `${k} on ${rep.node}: ${JSON.stringify(rep)}`);
    }
  });

  test('one partition: {"partition": p} exchanges only it; 400 for a partition out of range, one this node does not replicate, or a body that is not {partition}', async () => {
    const mine = await replicated('n1');
    const doc = ok<RepairDocument>(await admin('n1', 'POST', '/admin/repair', JSON.stringify({ partition: mine[0] })), 'one partition');
    assert.deepEqual(doc.partitions.map((e) => e.partition), [mine[0]]);
    const notMine = Array.from({ length: partitions }, (_, i) => i).find((q) => !mine.includes(q))!;
    refused(await admin('n1', 'POST', '/admin/repair', JSON.stringify({ partition: notMine })), 400, 'not_replica', 'not a replica');
    refused(await admin('n1', 'POST', '/admin/repair', JSON.stringify({ partition: partitions })), 400, 'bad_partition', 'out of range');
    refused(await admin('n1', 'POST', '/admin/repair', JSON.stringify({ partition: 1.5 })), 400, 'bad_partition', 'not an integer');
    refused(await admin('n1', 'POST', '/admin/repair', JSON.stringify({ partitions: [1] })), 400, 'bad_request', 'an unknown field');
    refused(await admin('n1', 'POST', '/admin/repair', '[1]'), 400, 'bad_request', 'an array');
    refused(await admin('n1', 'POST', '/admin/repair', '{"partition":'), 400, 'bad_request', 'not JSON');
  });
});

// --- GET /admin/config ---------------------------------------------------------------------------------

describe('GET /admin/config', () => {
  test('the effective settings, with the tokens only as set or unset: no secret appears anywhere in the answer', async () => {
    const res = await admin('n1', 'GET', '/admin/config');
    const doc = ok<ConfigDocument>(res, 'config');
    assert.equal(doc.node, 'n1');
    assert.equal(doc.settings.partitions, partitions);
    assert.equal(doc.settings.n, 2);
    assert.equal(doc.settings.port, cluster.node('n1').port);
    assert.equal(doc.settings.token, 'set');
    assert.equal(doc.settings.adminToken, 'set');
    const text = res.body.toString('utf8');
    assert.ok(!text.includes(cluster.token), 'the cluster token');
    assert.ok(!text.includes(cluster.adminToken), 'the admin token');
  });
});

// --- the internode listKeys request -------------------------------------------------------------------

describe('internode listKeys', () => {
  test('a peer gets the smallest keys of a partition, without values; malformed requests are refused and the node keeps serving', async () => {
    const mine = await replicated('n3');
    const p = mine[0]!;
    const keys: string[] = [];
    for (let i = 0; keys.length < 3 && i < 10_000; i++) {
      const k = uniqueKey(`lk-${i}`);
      if (partitionOf(Buffer.from(k), partitions) === p) keys.push(k);
    }
    for (const k of keys) assert.equal((await cluster.put('n3', k, 'valuable', { query: 'w=2' })).status, 204);
    const reply = await peerCall('n3', ['listKeys', p, null, Buffer.from(keys[0]!.slice(0, 3)), 1000]);
    assert.equal(reply[0], frameKind.reply, JSON.stringify(reply).slice(0, 300));
    const body = reply[2] as [string, [Uint8Array, unknown[], number[]][], boolean];
    assert.equal(body[0], 'listKeys');
    const listed = body[1].map((e) => Buffer.from(e[0]).toString('utf8'));
    for (const k of keys) assert.ok(listed.includes(k), k);
    for (const e of body[1]) assert.ok(!Buffer.from(packed(e)).includes(Buffer.from('valuable')), 'no value travels');
    const hostile: unknown[] = [
      ['listKeys', p, null, null, 1001],
      ['listKeys', p, null, null, 0],
      ['listKeys', partitions * 4096, null, null, 10],
      ['listKeys', p, Buffer.alloc(0), null, 10],
      ['listKeys', p, null, Buffer.alloc(1025), 10],
      ['listKeys', p, 'text', null, 10],
      ['listKeys', p],
    ];
    for (const h of hostile) {
      const r = await peerCall('n3', h);
      assert.equal(r[0], frameKind.failure, `${JSON.stringify(h).slice(0, 80)}: ${JSON.stringify(r).slice(0, 200)}`);
    }
    assert.equal((await cluster.get('n3', keys[0]!)).status, 200, 'still serving');
  });
});

// --- GET /keys when no replica of a partition answers (N=2: n1 is not a replica of every partition) ---

describe('GET /keys with n1 cut off (last)', () => {
  test('the partitions only n2 and n3 replicate are listed as unavailable, the others are listed in full', async () => {
    const mine = await replicated('n1');
    const tag = uniqueKey('un');
    const keys = Array.from({ length: 40 }, (_, i) => `${tag}-${i}`);
    for (const k of keys) assert.equal((await cluster.put('n2', k, 'v', { query: 'w=2' })).status, 204);
    const injected = await admin('n2', 'POST', '/admin/faults', JSON.stringify({ kind: 'partition', from: ['n1'], durationMs: 120_000 }));
    assert.equal(injected.status, 201, injected.body.toString('utf8'));
    try {
      await cluster.waitForStatus(['n1'], ['n2', 'n3'], 'down');
      const listed: string[] = [];
      const unavailable = new Set<number>();
      let cursor: string | null = null;
      for (let pages = 0; pages === 0 || cursor !== null; pages++) {
        assert.ok(pages < 100, 'the cursor does not advance');
        const res = await cluster.request('n1', 'GET', `/keys?prefix=${encodeURIComponent(tag)}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        const page = ok<{ keys: { key: string }[]; cursor: string | null; unavailable: number[] }>(res, 'a page');
        listed.push(...page.keys.map((k) => k.key));
        for (const p of page.unavailable) unavailable.add(p);
        cursor = page.cursor;
      }
      const theirs = Array.from({ length: partitions }, (_, i) => i).filter((p) => !mine.includes(p));
      assert.deepEqual([...unavailable].sort((a, b) => a - b), theirs);
      assert.deepEqual(listed.sort(), keys.filter((k) => mine.includes(partitionOf(Buffer.from(k), partitions))).sort());
    } finally {
      await admin('n2', 'DELETE', '/admin/faults');
    }
    await cluster.waitUntilUp();
  });
});
