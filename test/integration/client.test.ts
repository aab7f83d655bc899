// The client library (issue 13) against real node processes, imported as a user imports it:
// `from 'gyre'` (the package's main entry). Resolvers under concurrent writers lose no
// acknowledged add; a SIGKILLed node, a dead seed and a 503 are ridden out on other nodes;
// token and TLS options; typed errors.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Attempt, AuthError, GyreClient, SiblingsError, UnavailableError, jsonSetUnion, lastWriterWins, resolvers } from 'gyre';
import { TestCluster, freePort, sleep, uniqueKey } from '../helpers/cluster.js';
import { type Ca, makeCa, makeLeaf, opensslMissing } from '../helpers/certs.js';

const setOf = (v: Buffer): string[] => JSON.parse(v.toString('utf8')) as string[];

describe('GyreClient on a 3-node cluster', () => {
  const cluster = new TestCluster({ args: ['--partitions', '16', '--timeout-ms', '1000'] });
  before(() => cluster.start());
  after(() => cluster.stop());
  const clientFor = (first: string, extra: Partial<ConstructorParameters<typeof GyreClient>[0]> = {}) => new GyreClient({ urls: [cluster.url(first)], token: cluster.token, keepAlive: false, ...extra });

  test('Dynamo 4.4: concurrent writers updating one JSON set through update() and the union resolver lose no acknowledged add', async () => {
    const key = uniqueKey('set');
    // Two writes from the same (empty) context: siblings for certain, before the race starts.
    const a = clientFor('n1');
    const b = clientFor('n2');
    await a.put(key, JSON.stringify(['seed-a']), { contentType: 'application/json' });
    await b.put(key, JSON.stringify(['seed-b']), { contentType: 'application/json' });
    assert.equal((await a.get(key)).siblings.length, 2, 'the two blind writes are siblings');
    await assert.rejects(a.getValue(key), SiblingsError, 'no resolver, no silent pick');

    const acknowledged: string[] = ['seed-a', 'seed-b'];
    let merges = 0;
    const writer = async (w: number) => {
      const c = clientFor(`n${(w % 3) + 1}`, { resolve: jsonSetUnion });
      for (let i = 0; i < 12; i++) {
        const item = `w${w}-${i}`;
        const wrote = await c.update(key, (cur) => JSON.stringify([...(cur ? setOf(cur.value) : []), item]), { contentType: 'application/json' });
        if (wrote && wrote.merged > 1) merges++;
        acknowledged.push(item); // update resolved: W replicas have it
      }
    };
    await Promise.all([0, 1, 2, 3].map(writer));
    const final = await clientFor('n3').getValue(key, { resolve: resolvers.jsonSetUnion, r: 3 });
    assert.ok(final, 'the set exists');
    const got = new Set(setOf(final.value));
    const lost = acknowledged.filter((x) => !got.has(x));
    assert.deepEqual(lost, [], `acknowledged adds missing from the merged set (${merges} updates merged siblings)`);
    assert.equal(final.contentType, 'application/json');
    assert.ok(merges > 0, 'the updates did merge siblings');
  });

  test('last-writer-wins picks the version written last, by the time each sibling carries', async () => {
    const key = uniqueKey('lww');
    const a = clientFor('n1');
    await a.put(key, 'older');
    await sleep(20);
    await clientFor('n2').put(key, 'newer');
    const read = await a.get(key);
    assert.equal(read.siblings.length, 2);
    for (const s of read.siblings) assert.ok(typeof s.lastModified === 'number' && s.lastModified > 1.7e12, 'each sibling says when it was written');
    const v = await a.getValue(key, { resolve: lastWriterWins });
    assert.equal(v?.value.toString(), 'newer');
    assert.equal(v?.merged, 2);
    // update writes the resolution back with the read's context: one version is left.
    await a.update(key, (cur) => cur, { resolve: lastWriterWins });
    const after = await a.get(key, { r: 3 });
    assert.equal(after.siblings.length, 1);
    assert.equal(after.siblings[0]!.value.toString(), 'newer');
  });

  test('update returning undefined deletes; on an absent key it writes nothing', async () => {
    const key = uniqueKey('upd-del');
    const c = clientFor('n1');
    assert.equal(await c.update(key, () => undefined), undefined);
    assert.equal((await c.get(key)).status, 404);
    await c.update(key, (cur) => (cur ? undefined : 'v1'));
    assert.equal((await c.getValue(key))?.value.toString(), 'v1');
    await c.update(key, () => undefined);
    assert.equal((await c.get(key)).status, 404);
  });

  test('a dead seed is skipped: the call goes on to the next node, and the retry is reported', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const retried: Attempt[] = [];
    const c = new GyreClient({ urls: [dead, cluster.url('n2')], token: cluster.token, keepAlive: false, discover: false, onRetry: (a) => retried.push(a) });
    const key = uniqueKey('dead-seed');
    await c.put(key, 'v');
    assert.equal((await c.getValue(key))?.value.toString(), 'v');
    assert.equal(retried.length, 1);
    assert.equal(retried[0]!.url, dead);
    assert.equal(retried[0]!.status, 0);
    assert.equal(retried[0]!.code, 'ECONNREFUSED');
  });

  test('a 503 from one coordinator is retried on another node; a pinned client gets it as UnavailableError', async () => {
    // n1 cut off from its peers coordinates nothing: a write through it has 1 ack of W=2.
    const fault = await cluster.request('n2', 'POST', '/admin/faults', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'partition', from: ['n1'] }), timeoutMs: 10_000 });
    assert.equal(fault.status, 201, fault.body.toString());
    try {
      const key = uniqueKey('retry-503');
      const pinned = new GyreClient({ url: cluster.url('n1'), token: cluster.token, keepAlive: false, failover: false });
      const e = await pinned.put(key, 'x').then(() => undefined, (err: unknown) => err);
      assert.ok(e instanceof UnavailableError, `pinned: ${String(e)}`);
      assert.equal(e.status, 503);
      const retried: Attempt[] = [];
      const c = new GyreClient({ urls: [cluster.url('n1'), cluster.url('n2'), cluster.url('n3')], token: cluster.token, keepAlive: false, discover: false, onRetry: (a) => retried.push(a) });
      await c.put(key, 'through another node');
      assert.ok(retried.length >= 1 && retried[0]!.url === cluster.url('n1') && retried[0]!.status === 503, JSON.stringify(retried));
      assert.equal((await new GyreClient({ url: cluster.url('n3'), token: cluster.token, keepAlive: false }).getValue(key, { resolve: lastWriterWins }))?.value.toString(), 'through another node');
    } finally {
      await cluster.request('n2', 'DELETE', '/admin/faults', { timeoutMs: 10_000 });
      await cluster.waitUntilUp();
    }
  });

  test('without the token: AuthError at once, not retried', async () => {
    const retried: Attempt[] = [];
    const c = new GyreClient({ urls: [cluster.url('n1'), cluster.url('n2')], keepAlive: false, discover: false, onRetry: (a) => retried.push(a) });
    await assert.rejects(c.get('k'), (e: unknown) => e instanceof AuthError && e.status === 401);
    const wrong = new GyreClient({ urls: [cluster.url('n1')], token: 'not-the-token-at-all', keepAlive: false });
    await assert.rejects(wrong.put('k', 'v'), AuthError);
    assert.equal(retried.length, 0);
  });

  test('failover: a client that knew one node learns the others, and rides out that node being SIGKILLed', async () => {
    const c = new GyreClient({ url: cluster.url('n1'), token: cluster.token, keepAlive: true });
    try {
      const key = uniqueKey('failover');
      await c.put(key, 'before');
      assert.deepEqual([...c.members].sort(), ['n1', 'n2', 'n3'].map((id) => cluster.url(id)).sort(), 'members learned from /status');
      await cluster.kill('n1', 'SIGKILL');
      const read = await c.getValue(key);
      assert.equal(read?.value.toString(), 'before');
      await c.update(key, () => 'after');
      assert.equal((await c.getValue(key))?.value.toString(), 'after');
      const gone = new GyreClient({ urls: [cluster.url('n1')], token: cluster.token, keepAlive: false, discover: false, retry: { attempts: 3, baseDelayMs: 10 } });
      const e = await gone.get(key).then(() => undefined, (err: unknown) => err);
      assert.ok(e instanceof UnavailableError && e.attempts.length === 3 && e.attempts.every((a) => a.code === 'ECONNREFUSED'), String(e));
    } finally {
      c.close();
      if (!cluster.isRunning('n1')) {
        cluster.restart('n1');
        await cluster.waitUntilUp();
      }
    }
  });
});

const noOpenssl = opensslMissing();
describe('GyreClient over TLS', { skip: noOpenssl }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-client-tls-'));
  let ca: Ca | undefined;
  const certs = new Map<string, { cert: string; key: string }>();
  if (!noOpenssl) {
    ca = makeCa(dir, 'client-ca');
    for (const id of ['n1', 'n2', 'n3']) certs.set(id, makeLeaf(dir, ca, id));
  }
  const cluster = new TestCluster({ tlsCa: ca ? readFileSync(ca.cert) : undefined, argsFor: (id) => ['--tls-cert', certs.get(id)!.cert, '--tls-key', certs.get(id)!.key, '--tls-ca', ca!.cert] });
  before(() => cluster.start());
  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with the CA and the token it reads and writes over https and discovers https members; without the CA it fails at once', async () => {
    const https = (id: string) => cluster.url(id).replace(/^http:/, 'https:');
    const c = new GyreClient({ urls: [https('n1')], token: cluster.token, ca: readFileSync(ca!.cert), keepAlive: false });
    const key = uniqueKey('tls-client');
    await c.put(key, 'secret value');
    assert.equal((await c.getValue(key))?.value.toString(), 'secret value');
    assert.ok(c.members.length === 3 && c.members.every((m) => m.startsWith('https://')), c.members.join(' '));
    const retried: Attempt[] = [];
    const untrusting = new GyreClient({ urls: [https('n1'), https('n2')], token: cluster.token, keepAlive: false, discover: false, onRetry: (a) => retried.push(a) });
    await assert.rejects(untrusting.get(key), (e: unknown) => !(e instanceof UnavailableError) && /certificate|self.signed|verify/i.test(String(e)));
    assert.equal(retried.length, 0, 'an untrusted certificate is not retried');
  });
});
