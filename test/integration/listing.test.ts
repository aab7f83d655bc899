// GET /keys on a real 3-node cluster (N=3, R=2, W=2, Q=32): a paged, cursor-based listing of
// the whole cluster's keys, merged from every replica of each partition (http/keys.ts,
// core/listing.ts). Observed only through the HTTP API.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type HttpResponse, TestCluster, downTimeoutMs, header, jsonBody, uniqueKey } from '../helpers/cluster.js';
import type { KeyListingDocument, ListedKeyJson } from '../../node-core/src/wire/api.js';

const partitions = 32;
const cluster = new TestCluster({ nodes: 3, args: ['--partitions', String(partitions)] });

before(() => cluster.start());
after(() => cluster.stop());

/** Pages a listing walks at most here: 250 keys at 50 a page, plus pages cut short by the budgets. */
const pagesMax = 200;

function listing(res: HttpResponse, what: string): KeyListingDocument {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  assert.equal(header(res, 'x-gyre-cost'), 'scan', `${what}: X-Gyre-Cost`);
  return jsonBody(res) as KeyListingDocument;
}

/** Every page of a listing from `node`, following the cursor to the end. */
async function listAll(node: string, query: string): Promise<{ keys: ListedKeyJson[]; pages: number; unavailable: number[] }> {
  const keys: ListedKeyJson[] = [];
  const unavailable: number[] = [];
  let cursor: string | null | undefined;
  let pages = 0;
  do {
    assert.ok(pages < pagesMax, `more than ${pagesMax} pages: the cursor does not advance`);
    const q = [query, cursor ? `cursor=${encodeURIComponent(cursor)}` : ''].filter(Boolean).join('&');
    const page = listing(await cluster.request(node, 'GET', `/keys?${q}`), `GET /keys?${q}`);
    keys.push(...page.keys);
    unavailable.push(...page.unavailable);
    assert.equal(page.scanned.total, partitions);
    cursor = page.cursor;
    pages++;
  } while (cursor !== null);
  return { keys, pages, unavailable };
}

const tag = uniqueKey('ls');
const alpha = `${tag}-alpha/`;
const beta = `${tag}-beta/`;
const alphaKeys = Array.from({ length: 150 }, (_, i) => `${alpha}${String(i).padStart(3, '0')}`);
const betaKeys = Array.from({ length: 100 }, (_, i) => `${beta}${String(i).padStart(3, '0')}`);

async function putOk(node: string, key: string, value: string, query = ''): Promise<void> {
  const res = await cluster.put(node, key, value, { query });
  assert.equal(res.status, 204, `PUT ${key}: ${res.status} ${res.body.toString('utf8')}`);
}

describe('GET /keys: paging over the whole cluster', () => {
  before(async () => {
    const all = [...alphaKeys, ...betaKeys];
    const batch = 25;
    // w=3: every replica holds every key before the listings below (they read all three).
    for (let i = 0; i < all.length; i += batch) await Promise.all(all.slice(i, i + batch).map((k, j) => putOk(['n1', 'n2', 'n3'][(i + j) % 3]!, k, `value-${k}`, 'w=3')));
  });

  test('limit=50: every key written is on exactly one page, and no key is listed twice', async () => {
    const { keys, pages } = await listAll('n1', 'limit=50');
    const names = keys.map((k) => Buffer.from(k.key64, 'base64').toString('utf8'));
    assert.equal(new Set(names).size, names.length, 'a key listed twice');
    const ours = names.filter((n) => n.startsWith(tag));
    assert.deepEqual(ours.sort(), [...alphaKeys, ...betaKeys].sort());
    assert.ok(pages >= 5, `${pages} pages for at least 250 keys at 50 a page`);
    for (const k of keys.filter((x) => x.key?.startsWith(tag))) {
      assert.equal(k.siblings, 1, k.key ?? '');
      assert.equal(k.bytes, Buffer.byteLength(`value-${k.key}`), k.key ?? '');
      assert.equal(k.deleted, false);
      assert.equal(k.key64, Buffer.from(k.key!).toString('base64'));
    }
    // Partition order, then key order within a partition: the order the cursor walks.
    for (let i = 1; i < keys.length; i++) {
      const a = keys[i - 1]!;
      const b = keys[i]!;
      assert.ok(a.partition < b.partition || (a.partition === b.partition && Buffer.compare(Buffer.from(a.key64, 'base64'), Buffer.from(b.key64, 'base64')) < 0), `out of order at ${i}`);
    }
  });

  test('each listed key is in the partition the page says (MD5 of the key, top bits)', async () => {
    const { keys } = await listAll('n2', `prefix=${encodeURIComponent(beta)}&limit=1000`);
    for (const k of keys) {
      const top = createHash('md5').update(Buffer.from(k.key64, 'base64')).digest().readUInt32BE(0);
      assert.equal(k.partition, top >>> (32 - Math.log2(partitions)), k.key ?? k.key64);
    }
  });

  test('prefix: exactly the keys with the prefix, whichever node is asked, and pages of 7 still see each once', async () => {
    for (const node of ['n1', 'n3']) {
      const { keys } = await listAll(node, `prefix=${encodeURIComponent(alpha)}&limit=7`);
      assert.deepEqual(keys.map((k) => k.key).sort(), [...alphaKeys].sort(), `via ${node}`);
    }
    const { keys: b } = await listAll('n2', `prefix=${encodeURIComponent(beta)}`);
    assert.deepEqual(b.map((k) => k.key).sort(), [...betaKeys].sort());
    const { keys: none } = await listAll('n2', `prefix=${encodeURIComponent(`${tag}-gamma/`)}`);
    assert.deepEqual(none, []);
  });
});

describe('GET /keys: what a key shows', () => {
  test('two PUTs without a context make two siblings: siblings 2, bytes the sum of both values', async () => {
    const key = `${uniqueKey('ls-sib')}`;
    await putOk('n1', key, 'first', 'w=3');
    await putOk('n2', key, 'second!', 'w=3');
    const page = listing(await cluster.request('n3', 'GET', `/keys?prefix=${encodeURIComponent(key)}&limit=10`), 'siblings');
    const all = (await listAll('n3', `prefix=${encodeURIComponent(key)}`)).keys;
    assert.ok(page.keys.length <= 1);
    assert.equal(all.length, 1);
    assert.equal(all[0]!.siblings, 2);
    assert.equal(all[0]!.bytes, 'first'.length + 'second!'.length);
  });

  test('a deleted key is left out; with tombstones=1 it is listed, deleted, with no live versions', async () => {
    const key = uniqueKey('ls-del');
    const kept = `${key}-kept`;
    await putOk('n1', key, 'doomed', 'w=3');
    await putOk('n1', kept, 'stays', 'w=3');
    const del = await cluster.del('n2', key, { query: 'w=3' });
    assert.equal(del.status, 204, del.body.toString('utf8'));
    const live = (await listAll('n1', `prefix=${encodeURIComponent(key)}`)).keys;
    assert.deepEqual(live.map((k) => k.key), [kept]);
    const withTombstones = (await listAll('n1', `prefix=${encodeURIComponent(key)}&tombstones=1`)).keys;
    assert.deepEqual(withTombstones.map((k) => [k.key, k.deleted, k.siblings, k.bytes]).sort(), [[key, true, 0, 0], [kept, false, 1, 'stays'.length]].sort());
  });

  test('a key that is not UTF-8 is listed with key null and its bytes in key64; a byte prefix finds it', async () => {
    const stem = uniqueKey('ls-bin');
    const bytes = Buffer.concat([Buffer.from(stem), Buffer.from([0xff, 0x00, 0xfe])]);
    const path = [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    await putOk('n1', path, 'binary', 'w=3');
    const prefix = [...Buffer.concat([Buffer.from(stem), Buffer.from([0xff])])].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    const { keys } = await listAll('n2', `prefix=${prefix}`);
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.key, null);
    assert.ok(Buffer.from(keys[0]!.key64, 'base64').equals(bytes));
  });
});

describe('GET /keys: every parameter is checked', () => {
  const cases: readonly [string, string, string][] = [
    ['limit=0', 'bad_limit', 'below 1'],
    ['limit=1001', 'bad_limit', 'above 1000'],
    ['limit=ten', 'bad_limit', 'not a number'],
    ['limit=1e2', 'bad_limit', 'not an integer literal'],
    ['limit=5&limit=6', 'bad_request', 'a parameter twice'],
    ['tombstones=yes', 'bad_tombstones', 'not 0/1/true/false'],
    [`prefix=${'p'.repeat(1025)}`, 'prefix_too_long', 'a prefix over 1024 bytes'],
    ['prefix=%zz', 'bad_prefix', 'malformed percent-encoding'],
    ['cursor=garbage', 'bad_cursor', 'not a cursor'],
    ['cursor=k1.32.AAAAAAAA.', 'bad_cursor', 'a partition this cluster does not have'],
    ['cursor=k1.0.AAAAAAAA.', 'bad_cursor', 'the tag of another prefix'],
    ['cursor=k1.0.AAAAAAAA.a2V5%3D', 'bad_cursor', 'base64 with padding (not the encoding a page hands out)'],
  ];
  for (const [query, code, why] of cases) {
    test(`400 ${code}: ${why} (${query.slice(0, 40)})`, async () => {
      const res = await cluster.request('n1', 'GET', `/keys?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
      const body = jsonBody(res) as { error: string; message: string };
      assert.equal(body.error, code);
      assert.ok(body.message.length > 0);
    });
  }

  test('a cursor is refused with another prefix, and with a key moved to another partition; the node keeps answering', async () => {
    const first = listing(await cluster.request('n1', 'GET', `/keys?prefix=${encodeURIComponent(alpha)}&limit=3`), 'first page');
    assert.ok(first.cursor);
    const other = await cluster.request('n1', 'GET', `/keys?prefix=${encodeURIComponent(beta)}&cursor=${encodeURIComponent(first.cursor)}`);
    assert.equal(other.status, 400);
    assert.equal((jsonBody(other) as { error: string }).error, 'bad_cursor');
    const [v, p, t, k] = first.cursor.split('.');
    assert.ok(k, 'the first page ended inside a partition');
    const moved = `${v}.${(Number(p) + 1) % partitions}.${t}.${k}`;
    const res = await cluster.request('n1', 'GET', `/keys?prefix=${encodeURIComponent(alpha)}&cursor=${encodeURIComponent(moved)}`);
    assert.equal(res.status, 400, res.body.toString('utf8'));
    assert.match((jsonBody(res) as { message: string }).message, /not in its partition/);
    listing(await cluster.request('n1', 'GET', `/keys?prefix=${encodeURIComponent(alpha)}&cursor=${encodeURIComponent(first.cursor)}`), 'the real cursor still works');
  });
});

describe('GET /keys: every wait is bounded', () => {
  test('with every message to and from n3 delayed 600 ms, a page answers within the 2 s budget plus one replica timeout, with a cursor, and the walk still ends with every key', async () => {
    const injected = await cluster.request('n1', 'POST', '/admin/faults', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'latency', delayMs: 600, jitterMs: 0, nodes: ['n3'], durationMs: 120_000 }) });
    assert.equal(injected.status, 201, injected.body.toString('utf8'));
    try {
      const started = Date.now();
      const page = listing(await cluster.request('n1', 'GET', '/keys?limit=1000'), 'a slow page');
      const ms = Date.now() - started;
      // Each round waits for n3 (1.2 s there and back); the budget stops the walk after the round it ends in.
      assert.ok(ms < 4000, `the page took ${ms} ms`);
      assert.notEqual(page.cursor, null, 'the budget ran out before the last partition');
      assert.ok(page.scanned.partitions < partitions);
      const { keys } = await listAll('n1', `prefix=${encodeURIComponent(tag)}&limit=1000`);
      assert.deepEqual(keys.map((k) => k.key).filter((k) => k?.startsWith(`${tag}-`)).sort(), [...alphaKeys, ...betaKeys].sort());
    } finally {
      const healed = await cluster.request('n1', 'DELETE', '/admin/faults');
      assert.equal(healed.status, 200);
    }
  });
});

describe('GET /keys with a node down (last: n3 is killed)', () => {
  test('with n3 SIGKILLed, a listing from n1 still lists every key: each partition has other replicas', async () => {
    await cluster.kill('n3');
    await cluster.waitForStatus(['n1'], ['n3'], 'down', downTimeoutMs);
    const { keys, unavailable } = await listAll('n1', `prefix=${encodeURIComponent(tag)}&limit=50`);
    assert.deepEqual(unavailable, []);
    assert.deepEqual(keys.map((k) => k.key).filter((k) => k?.startsWith(`${tag}-`)).sort(), [...alphaKeys, ...betaKeys].sort());
  });
});
