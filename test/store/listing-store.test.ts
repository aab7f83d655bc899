// Store.listKeys (GET /keys, one replica's answer) and Store.partitionUsage, on SqliteStore and
// MemoryStore against a model: the smallest keys of a partition in a range (after a key, with a
// prefix, bytes compared as SQLite compares blobs), in order, at most `limit`, cut short by the
// row byte budget only after one key, with `more` exactly when keys of the range were left;
// and per-partition key and byte counts that match the rows, across writes, deletes and a reopen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryStore } from '../../node-core/src/store/memory-store.js';
import { SqliteStore } from '../../node-core/src/store/sqlite-store.js';
import type { Store } from '../../node-core/src/core/store.js';
import { inRange } from '../../node-core/src/core/listing.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import { encodeStored } from '../../node-core/src/core/codec.js';

const partitionsCount = 3;

function version(counter: number, value: Uint8Array): Version {
  const dot = { actor: 'n1.a', counter, ts: 1 };
  return { dot, clock: { entries: [dot], dots: [] }, deleted: false, contentType: 'x', value };
}

interface Row {
  readonly key: Buffer;
  readonly partition: number;
  readonly versions: Version[];
}

const rowArb = fc.record({
  key: fc.uint8Array({ minLength: 1, maxLength: 3 }).map((k) => Buffer.from(k)),
  partition: fc.integer({ min: 0, max: partitionsCount - 1 }),
  value: fc.uint8Array({ maxLength: 64 }),
});

async function fill(store: Store, rows: readonly { key: Buffer; partition: number; value: Uint8Array }[]): Promise<Map<string, Row>> {
  const model = new Map<string, Row>();
  let c = 0;
  for (const r of rows) {
    const hex = r.key.toString('hex');
    // A key's partition never changes: the first one written stands.
    const partition = model.get(hex)?.partition ?? r.partition;
    const versions = [version(++c, r.value)];
    await store.update(r.key, partition, () => ({ versions, result: undefined }));
    model.set(hex, { key: r.key, partition, versions });
  }
  return model;
}

function withStores(run: (store: Store) => Promise<void>): Promise<void>[] {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-listing-store-'));
  const sqlite = new SqliteStore(dir, { nodeId: 'n1', now: () => 1_000 });
  return [
    run(new MemoryStore('n1', () => 1_000)),
    run(sqlite).finally(async () => {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    }),
  ];
}

test('listKeys answers the smallest keys of the range, in byte order, at most limit, with more exactly when some were left', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(rowArb, { maxLength: 30 }),
      fc.integer({ min: 0, max: partitionsCount - 1 }),
      // The cursor key is often a key that is stored: the case where inclusive and exclusive bounds differ.
      fc.oneof(fc.constant(undefined), fc.nat().map((i) => ({ stored: i })), fc.uint8Array({ minLength: 1, maxLength: 2 })),
      fc.option(fc.oneof(fc.constant(new Uint8Array([0xff])), fc.uint8Array({ minLength: 1, maxLength: 2 })), { nil: undefined }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 400 }),
      async (rows, partition, afterChoice, prefix, limit, rowBytesMax) => {
        const picked = afterChoice === undefined || afterChoice instanceof Uint8Array || rows.length === 0 ? undefined : rows[afterChoice.stored % rows.length]!;
        const after = picked ? picked.key : afterChoice instanceof Uint8Array ? afterChoice : undefined;
        await Promise.all(
          withStores(async (store) => {
            const model = await fill(store, rows);
            // A stored cursor key is asked for in its own partition (the only place a page ends on it).
            const range = { partition: picked ? model.get(picked.key.toString('hex'))!.partition : partition, afterKey: after ? Buffer.from(after) : undefined, prefix: prefix ? Buffer.from(prefix) : undefined, limit };
            const want = [...model.values()].filter((r) => r.partition === range.partition && inRange(r.key, range)).sort((a, b) => Buffer.compare(a.key, b.key));
            const got = store.listKeys!(range, rowBytesMax);
            assert.ok(got.keys.length >= Math.min(1, want.length), 'at least one key when the range has one');
            assert.ok(got.keys.length <= limit);
            assert.deepEqual(got.keys.map((k) => k.key.toString('hex')), want.slice(0, got.keys.length).map((r) => r.key.toString('hex')));
            assert.equal(got.more, got.keys.length < want.length);
            let read = 0;
            for (const k of got.keys) {
              const row = model.get(k.key.toString('hex'))!;
              assert.deepEqual(k.sizes, row.versions.map((v) => v.value.byteLength));
              assert.ok(k.versions.every((v) => v.value.byteLength === 0), 'no value bytes');
              read += encodeStored(row.versions).ok ? (encodeStored(row.versions) as { value: Buffer }).value.byteLength : 0;
            }
            // Past the budget only by the one key a non-empty answer needs.
            if (got.keys.length > 1) assert.ok(read - (encodeStored(model.get(got.keys[got.keys.length - 1]!.key.toString('hex'))!.versions) as { value: Buffer }).value.byteLength < rowBytesMax);
          }),
        );
      },
    ),
    { numRuns: 100 },
  );
});

test('partitionUsage counts each partition\'s keys and stored bytes, across overwrites, deletes and (SQLite) a reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-usage-'));
  try {
    let store = new SqliteStore(dir, { nodeId: 'n1', now: () => 1_000 });
    const memory = new MemoryStore('n1', () => 1_000);
    const rows: { key: Buffer; partition: number; value: Uint8Array }[] = Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i % 25}`), partition: i % 25 % partitionsCount, value: Buffer.alloc(i * 7) }));
    const model = await fill(store, rows);
    await fill(memory, rows);
    for (const k of ['k1', 'k2', 'k3']) {
      await store.update(Buffer.from(k), model.get(Buffer.from(k).toString('hex'))!.partition, () => ({ versions: [], result: undefined }));
      await memory.update(Buffer.from(k), model.get(Buffer.from(k).toString('hex'))!.partition, () => ({ versions: [], result: undefined }));
      model.delete(Buffer.from(k).toString('hex'));
    }
    const expected = new Map<number, { keys: number; bytes: number }>();
    for (const r of model.values()) {
      const e = expected.get(r.partition) ?? { keys: 0, bytes: 0 };
      expected.set(r.partition, { keys: e.keys + 1, bytes: e.bytes + (encodeStored(r.versions) as { value: Buffer }).value.byteLength });
    }
    const sorted = (m: Map<number, { keys: number; bytes: number }>) => [...m.entries()].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(sorted(store.partitionUsage()), sorted(expected));
    assert.deepEqual(sorted(memory.partitionUsage()), sorted(expected));
    await store.close();
    store = new SqliteStore(dir, { nodeId: 'n1', now: () => 1_000 });
    assert.deepEqual(sorted(store.partitionUsage()), sorted(expected), 'summed again at open');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
