// Merkle trees for anti-entropy (Dynamo 4.7): one tree per partition per node, over the
// (key, version) digests of the keys it holds there. Leaves are buckets of keys; a leaf's
// hash is the XOR of its keys' digests, so a write updates it in O(1) (remove the old digest,
// add the new) and no exchange ever needs a full rebuild. Inner levels are recomputed lazily
// from the leaves when a root is asked for and something changed.
//
// Two replicas compare roots; where they differ they compare leaves, and exchange only the
// keys of differing leaves. Pure: MD5 is computation, not effect.

import { createHash, hash } from 'node:crypto';
import type { Siblings } from './siblings.js';

export const digestBytes = 16;
const zero = Buffer.alloc(digestBytes);

/** The digest of one key's sibling set: equal iff the key and its set of versions (dots) are equal. */
export function keyDigest(key: Uint8Array, versions: Siblings): Buffer | undefined {
  if (versions.length === 0) return undefined;
  // MD5 of: the key's length (4 bytes, big-endian), the key, then each dot as
  // "actor\0counter\n" in sorted order. One buffer and a one-shot hash: this runs twice per
  // write on every replica (the key's old digest out of its leaf, the new one in).
  const dots = versions.length === 1 ? `${versions[0]!.dot.actor}\0${versions[0]!.dot.counter}\n` : versions.map((v) => `${v.dot.actor}\0${v.dot.counter}\n`).sort().join('');
  const dotBytes = Buffer.byteLength(dots);
  const buf = Buffer.allocUnsafe(4 + key.byteLength + dotBytes);
  buf.writeUInt32BE(key.byteLength, 0);
  buf.set(key, 4);
  buf.write(dots, 4 + key.byteLength);
  return hash('md5', buf, 'buffer');
}

function xorInto(target: Buffer, d: Uint8Array): void {
  for (let i = 0; i < digestBytes; i++) target[i]! ^= d[i]!;
}

/** The leaf (bucket) of a key within its partition, from ring-position bits below the partition bits. */
export function leafOf(keyHash: Uint8Array, leaves: number): number {
  const v = ((keyHash[4]! << 24) | (keyHash[5]! << 16) | (keyHash[6]! << 8) | keyHash[7]!) >>> 0;
  return v % leaves;
}

export class MerkleTree {
  private readonly leafHashes: Buffer[];
  private cachedRoot: Buffer | undefined;
  private keyCount = 0;

  constructor(readonly leaves: number) {
    this.leafHashes = Array.from({ length: leaves }, () => Buffer.alloc(digestBytes));
  }

  /** Replaces a key's old digest by its new one (either may be undefined: key absent). */
  update(leaf: number, oldDigest: Uint8Array | undefined, newDigest: Uint8Array | undefined): void {
    if (oldDigest && newDigest && Buffer.compare(Buffer.from(oldDigest), Buffer.from(newDigest)) === 0) return;
    const h = this.leafHashes[leaf]!;
    if (oldDigest) {
      xorInto(h, oldDigest);
      this.keyCount--;
    }
    if (newDigest) {
      xorInto(h, newDigest);
      this.keyCount++;
    }
    this.cachedRoot = undefined;
  }

  get size(): number {
    return this.keyCount;
  }

  leafHashesCopy(): Buffer[] {
    return this.leafHashes.map((b) => Buffer.from(b));
  }

  /** The root: a hash over inner nodes of fan-out 16 built from the leaves. */
  root(): Buffer {
    if (this.cachedRoot) return this.cachedRoot;
    let level: Buffer[] = this.leafHashes;
    while (level.length > 1) {
      const next: Buffer[] = [];
      for (let i = 0; i < level.length; i += 16) {
        const h = createHash('md5');
        for (const child of level.slice(i, i + 16)) h.update(child);
        next.push(h.digest());
      }
      level = next;
    }
    this.cachedRoot = level.length === 1 && this.leafHashes.length === 1 ? createHash('md5').update(level[0]!).digest() : level[0] ?? zero;
    return this.cachedRoot;
  }
}

/** Indices of leaves whose hashes differ: the only buckets two replicas need to exchange. */
export function diffLeaves(a: readonly Uint8Array[], b: readonly Uint8Array[]): number[] {
  if (a.length !== b.length) throw new RangeError(`trees of different shapes: ${a.length} vs ${b.length} leaves`);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (Buffer.compare(Buffer.from(a[i]!), Buffer.from(b[i]!)) !== 0) out.push(i);
  return out;
}
