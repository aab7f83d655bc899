// MemoryStore against a plain Map (STYLE 14): the Store contract is "updaters applied in
// order; a throwing updater rejects and commits nothing for its key".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryStore } from '../../node-core/src/store/memory-store.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import { normalize } from '../../node-core/src/core/vclock.js';

function version(n: number, bytes = 1): Version {
  const dot = { actor: 'w', counter: n, ts: n };
  return { dot, clock: normalize([], [dot]), deleted: false, contentType: 'application/octet-stream', value: new Uint8Array(bytes).fill(n % 256) };
}

type StoreOp =
  | { readonly kind: 'append'; readonly key: number; readonly bytes: number }
  | { readonly kind: 'keep'; readonly key: number }
  | { readonly kind: 'clear'; readonly key: number }
  | { readonly kind: 'throw'; readonly key: number };

const keyArb = fc.nat({ max: 3 });
const storeOpArb: fc.Arbitrary<StoreOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), key: keyArb, bytes: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('keep' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('throw' as const), key: keyArb }) },
);

function keyBytes(k: number): Uint8Array {
  return new TextEncoder().encode(`key-${k}`);
}

function counters(vs: readonly Version[]): number[] {
  return vs.map((v) => v.dot.counter);
}

test('Store contract: MemoryStore.update applies updaters in call order, like a Map (even when not awaited)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(storeOpArb, { maxLength: 30 }), async (ops) => {
      const store = new MemoryStore('n1', () => 1000);
      const model = new Map<number, Version[]>();
      const seen: number[][] = [];
      // Every update is started before any is awaited: order must still be call order.
      const pending = ops.map((op, i) =>
        store.update(keyBytes(op.key), op.key, (cur) => {
          seen[i] = counters(cur);
          switch (op.kind) {
            case 'append':
              return { versions: [...cur, version(i + 1, op.bytes)], result: cur.length };
            case 'keep':
              return { versions: undefined, result: -1 };
            case 'clear':
              return { versions: [], result: -2 };
            case 'throw':
              throw new Error(`updater ${i} failed`);
          }
        }),
      );
      const outcomes = await Promise.allSettled(pending);
      ops.forEach((op, i) => {
        const cur = model.get(op.key) ?? [];
        assert.deepEqual(seen[i], counters(cur), `updater ${i} saw the wrong state`);
        const out = outcomes[i]!;
        switch (op.kind) {
          case 'append':
            assert.deepEqual(out, { status: 'fulfilled', value: cur.length });
            model.set(op.key, [...cur, version(i + 1, op.bytes)]);
            break;
          case 'keep':
            assert.deepEqual(out, { status: 'fulfilled', value: -1 });
            break;
          case 'clear':
            assert.deepEqual(out, { status: 'fulfilled', value: -2 });
            model.delete(op.key);
            break;
          case 'throw':
            assert.equal(out.status, 'rejected');
            break;
        }
      });
      let bytes = 0;
      for (let k = 0; k <= 3; k++) {
        const want = model.get(k) ?? [];
        assert.deepEqual(await store.read(keyBytes(k)), want);
        for (const v of want) bytes += v.value.byteLength;
      }
      assert.deepEqual(store.stats(), { keys: model.size, bytes, quarantined: 0, writable: true });
    }),
    { numRuns: 300 },
  );
});

test('Store contract: an updater that throws rejects the update and leaves the key unchanged', async () => {
  const store = new MemoryStore('n1', () => 1000);
  const key = keyBytes(1);
  await store.update(key, 7, () => ({ versions: [version(1), version(2)], result: undefined }));
  const before = await store.read(key);
  await assert.rejects(
    store.update(key, 7, () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(await store.read(key), before);
  // The store still works for the key afterwards.
  await store.update(key, 7, (cur) => ({ versions: [...cur, version(3)], result: undefined }));
  assert.deepEqual(counters(await store.read(key)), [1, 2, 3]);
});

test('Store contract: read returns a copy; mutating it does not change the store', async () => {
  const store = new MemoryStore('n1', () => 1000);
  const key = keyBytes(2);
  await store.update(key, 0, () => ({ versions: [version(1)], result: undefined }));
  const got = await store.read(key);
  got.push(version(2));
  assert.deepEqual(counters(await store.read(key)), [1]);
});

test('Store contract: actorFor is stable per partition and unique across partitions, even with a frozen clock', async () => {
  const store = new MemoryStore('n1', () => 5000);
  const actor = async (p: number): Promise<string> => store.update(keyBytes(p), p, (_cur, tools) => ({ versions: undefined, result: tools.actorFor(p) }));
  const first = await Promise.all([0, 1, 2, 3].map(actor));
  assert.equal(new Set(first).size, 4, `actors repeat across partitions: ${first.join(', ')}`);
  assert.deepEqual(await Promise.all([0, 1, 2, 3].map(actor)), first);
  for (const a of first) assert.ok(a.startsWith('n1.'), a);
});
