// Partitioning (Dynamo 4.2, strategy 3): MD5 position on the ring, Q equal partitions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isValidPartitionCount, keyHash, partitionOf, partitionOfHash, partitionStart, partitionsMax } from '../../node-core/src/core/partitioner.js';

const runs = { numRuns: 300 };
const log2QArb = fc.integer({ min: 0, max: 16 });

/** The top log2(q) bits of the 128-bit hash, computed with BigInt as an independent reference. */
function referencePartition(hash: Uint8Array, q: number): number {
  const position = BigInt(`0x${Buffer.from(hash).toString('hex')}`);
  return Number(position >> BigInt(128 - Math.log2(q)));
}

test('Dynamo 4.2: partitionOf is in 0..Q-1 for any key and any Q = 2^0..2^16', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), log2QArb, (key, bits) => {
      const q = 2 ** bits;
      const p = partitionOf(key, q);
      assert.ok(Number.isInteger(p) && p >= 0 && p < q, `partition ${p} out of range for Q=${q}`);
    }),
    runs,
  );
});

test('Dynamo 4.2: a key\'s partition is the top log2(Q) bits of its MD5 position', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), log2QArb, (hash, bits) => {
      const q = 2 ** bits;
      assert.equal(partitionOfHash(hash, q), referencePartition(hash, q));
    }),
    runs,
  );
});

test('Dynamo 4.2: md5("") = d41d8cd98f00b204e9800998ecf8427e, so the empty key is in partition 53 of 64 (0xd4 >> 2)', () => {
  const empty = new Uint8Array();
  assert.equal(keyHash(empty).toString('hex'), 'd41d8cd98f00b204e9800998ecf8427e');
  const table: readonly [q: number, partition: number][] = [
    [1, 0],
    [2, 1],
    [64, 0xd4 >> 2],
    [256, 0xd4],
    [65536, 0xd41d],
  ];
  for (const [q, partition] of table) assert.equal(partitionOf(empty, q), partition, `Q=${q}`);
  assert.equal(partitionOf(new TextEncoder().encode('a'), 64), 0x0c >> 2); // md5('a') = 0cc175b9...
});

test('Dynamo 4.2: partitions are equal slices: partitionStart(p) lies in p and just below p+1', () => {
  fc.assert(
    fc.property(log2QArb, fc.nat(), (bits, raw) => {
      const q = 2 ** bits;
      const p = raw % q;
      const start = Buffer.from(partitionStart(p, q), 'hex');
      assert.equal(start.length, 16);
      assert.equal(partitionOfHash(start, q), p);
      if (p > 0) {
        const below = BigInt(`0x${partitionStart(p, q)}`) - 1n;
        assert.equal(partitionOfHash(Buffer.from(below.toString(16).padStart(32, '0'), 'hex'), q), p - 1);
      }
    }),
    runs,
  );
});

test('Dynamo 4.2: Q must be a power of two in 1..65536; anything else is refused', () => {
  const hash = new Uint8Array(16);
  for (const q of [1, 2, 4, 1024, partitionsMax]) assert.ok(isValidPartitionCount(q), `${q}`);
  for (const q of [0, -2, 3, 6, 100, 1.5, partitionsMax * 2, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.equal(isValidPartitionCount(q), false, `${q}`);
    assert.throws(() => partitionOfHash(hash, q), RangeError);
  }
});
