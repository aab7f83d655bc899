// core/listing.ts, the pure part of GET /keys: the merge of what replicas answer, key ranges,
// and the cursor. The walk below is the one http/keys.ts drives, over replicas modelled as
// sorted key sets that may cut their answers short (as a byte budget does).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type ListedKey, type ReplicaListing, decodeCursor, encodeCursor, inRange, keyText, listedKey, mergeListings, prefixUpperBound, rangeLowerBound } from '../../node-core/src/core/listing.js';
import { partitionOf } from '../../node-core/src/core/partitioner.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import { emptyClock } from '../../node-core/src/core/vclock.js';

function version(actor: string, counter: number, value: string, deleted = false): Version {
  const dot = { actor, counter, ts: 1 };
  return { dot, clock: { entries: [dot], dots: [] }, deleted, contentType: 'text/plain', value: Buffer.from(value) };
}

/** A replica's answer as a store gives it: its smallest keys after `after`, at most `limit`, maybe fewer (`cut`). */
function answer(keys: readonly Buffer[], after: Buffer | undefined, limit: number, cut: number): ReplicaListing {
  const rest = keys.filter((k) => after === undefined || Buffer.compare(k, after) > 0);
  const n = Math.max(1, Math.min(limit, cut));
  const out: ListedKey[] = rest.slice(0, n).map((k) => listedKey(k, [version('a.1', 1, k.toString('hex'))]));
  return { keys: out, more: rest.length > out.length };
}

/** The walk of one partition, pages of `pageSize`: what http/keys.ts does with the replies. */
function walk(replicas: readonly Buffer[][], pageSize: number, cuts: readonly number[]): Buffer[] {
  const seen: Buffer[] = [];
  let after: Buffer | undefined;
  for (let round = 0; round < 10_000; round++) {
    const replies = replicas.map((keys, i) => answer(keys, after, pageSize, cuts[(round + i) % cuts.length]!));
    const merged = mergeListings(replies);
    const page = merged.keys.slice(0, pageSize);
    seen.push(...page.map((k) => k.key));
    if (page.length > 0) after = page[page.length - 1]!.key;
    if (merged.exhausted && page.length === merged.keys.length) return seen;
  }
  throw new Error('the walk did not end');
}

const keySet = fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 3 }), { maxLength: 40, selector: (k) => Buffer.from(k).toString('hex') }).map((ks) => ks.map((k) => Buffer.from(k)).sort(Buffer.compare));

test('a walk over replicas that each hold some of the keys, answering short at random, lists their union exactly once, in order', () => {
  fc.assert(
    fc.property(fc.array(keySet, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 10 }), fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 5 }), (replicas, pageSize, cuts) => {
      const union = [...new Map(replicas.flat().map((k) => [k.toString('hex'), k])).values()].sort(Buffer.compare);
      const seen = walk(replicas, pageSize, cuts);
      assert.deepEqual(seen.map((k) => k.toString('hex')), union.map((k) => k.toString('hex')));
    }),
  );
});

test('a replica that answered `more` bounds the merge at its last key: a key past it from another replica waits for the next round', () => {
  const k = (s: string) => Buffer.from(s);
  const merged = mergeListings([
    { keys: [listedKey(k('b'), [version('a.1', 1, 'x')])], more: true },
    { keys: [listedKey(k('a'), [version('a.1', 1, 'x')]), listedKey(k('c'), [version('a.1', 1, 'x')])], more: false },
  ]);
  assert.deepEqual(merged.keys.map((m) => m.key.toString()), ['a', 'b']);
  assert.equal(merged.exhausted, false);
});

test('the versions of a key on several replicas merge as a read would: a superseded version is gone, concurrent ones are siblings, tombstones are not live', () => {
  const key = Buffer.from('k');
  const v1 = version('a.1', 1, 'one');
  const v2: Version = { ...version('a.1', 2, 'two!'), clock: { entries: [{ actor: 'a.1', counter: 2, ts: 1 }], dots: [] } };
  const other = version('b.1', 1, 'other');
  const superseded = mergeListings([
    { keys: [listedKey(key, [v1])], more: false },
    { keys: [listedKey(key, [v2])], more: false },
  ]);
  assert.deepEqual(superseded.keys.map((m) => [m.siblings, m.bytes, m.deleted]), [[1, 4, false]]);
  const concurrent = mergeListings([
    { keys: [listedKey(key, [v2])], more: false },
    { keys: [listedKey(key, [other])], more: false },
  ]);
  assert.deepEqual(concurrent.keys.map((m) => [m.siblings, m.bytes]), [[2, 4 + 5]]);
  const tomb = { ...version('a.1', 3, '', true), clock: { entries: [{ actor: 'a.1', counter: 3, ts: 1 }], dots: [] } };
  const deleted = mergeListings([
    { keys: [listedKey(key, [v2])], more: false },
    { keys: [listedKey(key, [tomb])], more: false },
  ]);
  assert.deepEqual(deleted.keys.map((m) => [m.siblings, m.bytes, m.deleted]), [[0, 0, true]]);
  assert.equal(emptyClock.entries.length, 0);
});

test('a listed key carries no value bytes, only their sizes', () => {
  const l = listedKey(Buffer.from('k'), [version('a.1', 1, 'hello')]);
  assert.equal(l.versions[0]!.value.byteLength, 0);
  assert.deepEqual(l.sizes, [5]);
});

test('ranges: the lower bound is just past the cursor key and not below the prefix; the upper bound is the first key past the prefix', () => {
  assert.deepEqual(rangeLowerBound({ afterKey: Buffer.from('ab'), prefix: Buffer.from('a') }), Buffer.from('ab\0'));
  assert.deepEqual(rangeLowerBound({ afterKey: Buffer.from('a'), prefix: Buffer.from('b') }), Buffer.from('b'));
  assert.deepEqual(prefixUpperBound(Buffer.from('ab')), Buffer.from('ac'));
  assert.deepEqual(prefixUpperBound(Buffer.from([0x61, 0xff, 0xff])), Buffer.from([0x62]));
  assert.equal(prefixUpperBound(Buffer.from([0xff])), undefined);
  fc.assert(
    // The key is often the cursor key itself, or the prefix, or one just past either: where bounds are off by one.
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.option(fc.uint8Array({ minLength: 1, maxLength: 4 }), { nil: undefined }), fc.integer({ min: 0, max: 4 }), (random, prefix, after, pick) => {
      const key = [random, after ?? random, prefix, Buffer.concat([after ?? random, Buffer.of(0)]), Buffer.concat([prefix, Buffer.of(0xff)])][pick]!;
      const range = { afterKey: after ? Buffer.from(after) : undefined, prefix: Buffer.from(prefix) };
      const lower = rangeLowerBound(range);
      const upper = prefixUpperBound(range.prefix);
      const bySql = Buffer.compare(Buffer.from(key), lower) >= 0 && (upper === undefined || Buffer.compare(Buffer.from(key), upper) < 0);
      assert.equal(bySql, inRange(key, range), `key ${Buffer.from(key).toString('hex')}`);
    }),
  );
});

test('a cursor reads back as the position it was made from; anything else is refused with a reason', () => {
  const q = 64;
  const prefix = Buffer.from('user:');
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 1024 }), (raw) => {
      const key = Buffer.from(raw);
      const p = partitionOf(key, q);
      const decoded = decodeCursor(encodeCursor({ partition: p, afterKey: key }, prefix), q, prefix);
      assert.ok(decoded.ok);
      assert.equal(decoded.cursor.partition, p);
      assert.ok(decoded.cursor.afterKey?.equals(key));
    }),
  );
  const start = encodeCursor({ partition: 5, afterKey: undefined }, undefined);
  assert.deepEqual(decodeCursor(start, q, undefined), { ok: true, cursor: { partition: 5, afterKey: undefined } });
  assert.equal(decodeCursor(start, 4, undefined).ok, false, 'a partition past Q');
  assert.equal(decodeCursor(start, q, prefix).ok, false, 'another prefix');
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      const d = decodeCursor(s, q, undefined);
      if (d.ok) assert.ok(d.cursor.partition < q);
    }),
  );
});

test('keys as text: printable UTF-8 only', () => {
  assert.equal(keyText(Buffer.from('café/menu')), 'café/menu');
  assert.equal(keyText(Buffer.from([0xff])), null);
  assert.equal(keyText(Buffer.from('a\u0000b')), null);
  assert.equal(keyText(Buffer.from('tab\there')), null);
});

// --- the internode listKeys request and reply (net/messages.ts) ---------------------------------

test('listKeys on the wire: a request and a reply read back as sent; a reply out of order, with more and no key, or with sizes that do not match is refused', async () => {
  const { encodeRequest, parseRequest, encodeListKeysReply, parseListKeysReply } = await import('../../node-core/src/net/messages.js');
  const { pack, unpack } = await import('msgpackr');
  const req = { t: 'listKeys' as const, partition: 7, afterKey: Buffer.from('a'), prefix: Buffer.from('ab'), limit: 50 };
  const back = parseRequest(unpack(pack(encodeRequest(req))));
  assert.ok(back.ok);
  assert.deepEqual(back.value, { ...req, afterKey: Buffer.from('a'), prefix: Buffer.from('ab') });
  const keys = [listedKey(Buffer.from('a'), [version('a.1', 1, 'xyz')]), listedKey(Buffer.from('b'), [version('a.1', 2, 'w')])];
  const reply = parseListKeysReply(unpack(pack(encodeListKeysReply({ keys, more: true }))));
  assert.ok(reply.ok);
  assert.deepEqual(reply.value.keys.map((k) => [k.key.toString(), k.sizes]), [['a', [3]], ['b', [1]]]);
  const wire = (l: { keys: ListedKey[]; more: boolean }) => unpack(pack(encodeListKeysReply(l))) as unknown[];
  assert.equal(parseListKeysReply(wire({ keys: [keys[1]!, keys[0]!], more: false })).ok, false, 'out of order');
  assert.equal(parseListKeysReply(wire({ keys: [keys[0]!, keys[0]!], more: false })).ok, false, 'a key twice');
  assert.equal(parseListKeysReply(wire({ keys: [], more: true })).ok, false, 'more without a key');
  assert.equal(parseListKeysReply(wire({ keys: [{ ...keys[0]!, sizes: [] }], more: false })).ok, false, 'sizes short');
  assert.equal(parseListKeysReply(wire({ keys: [{ ...keys[0]!, sizes: [2 ** 21] }], more: false })).ok, false, 'a size past the value limit');
  const tooMany = Array.from({ length: 1001 }, (_, i) => listedKey(Buffer.from(String(i).padStart(5, '0')), [version('a.1', 1, '')]));
  assert.equal(parseListKeysReply(wire({ keys: tooMany, more: false })).ok, false, 'more than 1000 keys');
  for (const bad of [['listKeys', 7, null, null, 1001], ['listKeys', 7, null, Buffer.alloc(0), 10], ['listKeys', -1, null, null, 10], ['listKeys', 7, Buffer.alloc(1025), null, 10]]) assert.equal(parseRequest(bad).ok, false, JSON.stringify(bad).slice(0, 60));
});
