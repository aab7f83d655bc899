// Merkle trees for anti-entropy (Dynamo 4.7): roots agree exactly when replicas hold the same
// (key, versions) pairs, the leaves that differ are exactly those holding keys that differ
// (Merkle diff = set difference, mapped to buckets), and O(1) incremental updates give the
// tree a rebuild would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MerkleTree, diffLeaves, keyDigest, leafOf } from '../../node-core/src/core/merkle.js';
import { keyHash } from '../../node-core/src/core/partitioner.js';
import type { Version } from '../../node-core/src/core/siblings.js';
import type { Entry } from '../../node-core/src/core/vclock.js';
import { actors, tsOf } from './gen.js';

/** A version whose identity is its dot; clock, payload and tombstone flag vary freely. */
function version(actor: string, counter: number, extra: { deleted?: boolean; value?: number } = {}): Version {
  const dot: Entry = { actor, counter, ts: tsOf(actor, counter) };
  return {
    dot,
    clock: { entries: counter > 1 ? [{ actor, counter: counter - 1, ts: tsOf(actor, counter - 1) }] : [], dots: [] },
    deleted: extra.deleted ?? false,
    contentType: extra.deleted ? '' : 'application/octet-stream',
    value: new Uint8Array(extra.value === undefined ? [] : [extra.value]),
  };
}

/** A key's sibling set, as the set of its dots ("actor:counter"). */
type DotSet = ReadonlySet<string>;

function versionsOf(dots: DotSet): Version[] {
  return [...dots].map((d) => {
    const [actor, counter] = d.split(':');
    return version(actor!, Number(counter));
  });
}

const dotArb = fc.tuple(fc.constantFrom(...actors), fc.integer({ min: 1, max: 6 })).map(([a, c]) => `${a}:${c}`);
const dotSetArb: fc.Arbitrary<Set<string>> = fc.uniqueArray(dotArb, { minLength: 1, maxLength: 4 }).map((xs) => new Set(xs));

/** Keys are short byte strings, hex-encoded as map keys. */
const keyArb = fc.uint8Array({ minLength: 0, maxLength: 6 }).map((k) => Buffer.from(k).toString('hex'));

type Replica = ReadonlyMap<string, DotSet>;

const replicaArb: fc.Arbitrary<Map<string, Set<string>>> = fc.uniqueArray(fc.tuple(keyArb, dotSetArb), { selector: ([k]) => k, maxLength: 40 }).map((xs) => new Map(xs));

type Edit = { readonly t: 'keep' } | { readonly t: 'drop' } | { readonly t: 'change'; readonly dots: Set<string> };
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Edit>({ t: 'keep' }) },
  { weight: 1, arbitrary: fc.constant<Edit>({ t: 'drop' }) },
  { weight: 1, arbitrary: dotSetArb.map((dots): Edit => ({ t: 'change', dots })) },
);

/** Two replicas: the second is the first with some keys dropped, changed or added (often none). */
const replicaPairArb = fc
  .tuple(replicaArb, fc.array(editArb, { maxLength: 40 }), replicaArb, fc.boolean())
  .map(([a, edits, extra, addExtra]): [Replica, Replica] => {
    const b = new Map<string, Set<string>>();
    [...a].forEach(([k, dots], i) => {
      const e = edits[i] ?? { t: 'keep' };
      if (e.t === 'keep') b.set(k, new Set(dots));
      else if (e.t === 'change') b.set(k, e.dots);
    });
    if (addExtra) for (const [k, dots] of extra) if (!a.has(k)) b.set(k, dots);
    return [a, b];
  });

const leavesArb = fc.constantFrom(1, 2, 16, 17, 64, 256, 1024);

function keyBytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

function leafOfKey(hex: string, leaves: number): number {
  return leafOf(keyHash(keyBytes(hex)), leaves);
}

function digestOf(hex: string, dots: DotSet): Buffer {
  const d = keyDigest(keyBytes(hex), versionsOf(dots));
  assert.ok(d, 'a non-empty sibling set has a digest');
  return d;
}

function build(replica: Replica, leaves: number): MerkleTree {
  const tree = new MerkleTree(leaves);
  for (const [k, dots] of replica) tree.update(leafOfKey(k, leaves), undefined, digestOf(k, dots));
  return tree;
}

function sameDots(a: DotSet | undefined, b: DotSet | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && [...a].every((d) => b.has(d));
}

/** Keys on which the replicas disagree: held by one only, or held with different versions. */
function differingKeys(a: Replica, b: Replica): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => !sameDots(a.get(k), b.get(k)));
}

test('Dynamo 4.7: two Merkle trees have equal roots iff their replicas hold the same keys with the same versions', () => {
  fc.assert(
    fc.property(replicaPairArb, leavesArb, ([a, b], leaves) => {
      const equal = differingKeys(a, b).length === 0;
      const ta = build(a, leaves);
      const tb = build(b, leaves);
      assert.equal(ta.root().equals(tb.root()), equal, `roots ${equal ? 'differ' : 'agree'} for ${equal ? 'equal' : 'different'} replicas`);
      assert.equal(ta.size, a.size);
      assert.equal(tb.size, b.size);
    }),
    { numRuns: 300 },
  );
});

test('Dynamo 4.7: diffLeaves returns exactly the leaves holding keys whose digests differ (Merkle diff = set difference, mapped to leaves)', () => {
  fc.assert(
    fc.property(replicaPairArb, leavesArb, ([a, b], leaves) => {
      const want = [...new Set(differingKeys(a, b).map((k) => leafOfKey(k, leaves)))].sort((x, y) => x - y);
      const got = diffLeaves(build(a, leaves).leafHashesCopy(), build(b, leaves).leafHashesCopy());
      assert.deepEqual(got, want);
      // Symmetric, and empty against itself.
      assert.deepEqual(diffLeaves(build(b, leaves).leafHashesCopy(), build(a, leaves).leafHashesCopy()), want);
      assert.deepEqual(diffLeaves(build(a, leaves).leafHashesCopy(), build(a, leaves).leafHashesCopy()), []);
    }),
    { numRuns: 300 },
  );
});

test('Dynamo 4.7: exchanging only the differing leaves\' keys makes two replicas\' trees equal', () => {
  fc.assert(
    fc.property(replicaPairArb, leavesArb, ([a, b], leaves) => {
      const ta = build(a, leaves);
      const tb = build(b, leaves);
      const diff = new Set(diffLeaves(ta.leafHashesCopy(), tb.leafHashesCopy()));
      // Replica b adopts a's keys in the differing leaves only (a one-way repair).
      const repaired = new Map(b);
      for (const k of new Set([...a.keys(), ...b.keys()])) {
        if (!diff.has(leafOfKey(k, leaves))) continue;
        const mine = b.get(k);
        const next = a.get(k);
        tb.update(leafOfKey(k, leaves), mine && digestOf(k, mine), next && digestOf(k, next));
        if (next) repaired.set(k, next);
        else repaired.delete(k);
      }
      assert.ok(tb.root().equals(ta.root()));
      assert.equal(differingKeys(a, repaired).length, 0);
    }),
    { numRuns: 200 },
  );
});

const opsArb = fc.array(
  fc.record({ key: fc.nat({ max: 24 }), dots: fc.option(dotSetArb, { nil: undefined, freq: 4 }) }),
  { maxLength: 120 },
);

test('Dynamo 4.7: incremental updates (remove the old digest, add the new) give the same root as building from scratch', () => {
  fc.assert(
    fc.property(opsArb, leavesArb, fc.array(keyArb, { minLength: 25, maxLength: 25 }), (ops, leaves, keys) => {
      const tree = new MerkleTree(leaves);
      const model = new Map<string, Set<string>>();
      for (const op of ops) {
        const k = keys[op.key]!;
        const old = model.get(k);
        tree.update(leafOfKey(k, leaves), old && digestOf(k, old), op.dots && digestOf(k, op.dots));
        if (op.dots) model.set(k, op.dots);
        else model.delete(k);
        // Asking for the root between writes must not freeze a stale one.
        tree.root();
      }
      const fresh = build(model, leaves);
      assert.ok(tree.root().equals(fresh.root()), 'incremental root differs from a rebuild');
      assert.deepEqual(tree.leafHashesCopy(), fresh.leafHashesCopy());
      assert.equal(tree.size, model.size);
      // Inserting the same keys in reverse order builds the same tree.
      const reversed = new Map([...model].reverse());
      assert.ok(build(reversed, leaves).root().equals(fresh.root()));
    }),
    { numRuns: 200 },
  );
});

test('Dynamo 4.7: keyDigest is independent of version order and payload, and differs when the dots or the key differ', () => {
  fc.assert(
    fc.property(keyArb, dotSetArb, dotSetArb, fc.array(fc.nat(), { minLength: 4, maxLength: 4 }), keyArb, (k, d1, d2, order, k2) => {
      const vs = versionsOf(d1);
      const shuffled = vs.map((v, i) => ({ v, o: order[i % order.length]! * 8 + i })).sort((x, y) => x.o - y.o).map((x) => x.v);
      const rewritten = shuffled.map((v, i) => version(v.dot.actor, v.dot.counter, { deleted: i % 2 === 0, value: i }));
      const base = keyDigest(keyBytes(k), vs)!;
      assert.ok(base.equals(keyDigest(keyBytes(k), shuffled)!), 'order of versions changed the digest');
      assert.ok(base.equals(keyDigest(keyBytes(k), rewritten)!), 'payload of versions changed the digest');
      assert.equal(base.equals(digestOf(k, d2)), sameDots(d1, d2), `dots ${[...d1]} vs ${[...d2]}`);
      assert.equal(base.equals(digestOf(k2, d1)), k === k2, `keys ${k} vs ${k2}`);
    }),
    { numRuns: 500 },
  );
});

// (key, versions) -> digest cases that a length prefix or separator must keep apart.
const digestCases: readonly [what: string, k1: string, d1: readonly string[], k2: string, d2: readonly string[]][] = [
  ['key bytes shifted into the versions', '61', ['b:1'], '6162', ['b:1']],
  ['counter digits regrouped', '00', ['a:1', 'a:12'], '00', ['a:11', 'a:2']],
  ['one dot vs two', '00', ['a:1'], '00', ['a:1', 'b:1']],
  ['same counter, other actor', '00', ['a:3'], '00', ['b:3']],
  ['empty key vs zero byte', '', ['a:1'], '00', ['a:1']],
];

for (const [what, k1, d1, k2, d2] of digestCases) {
  test(`Dynamo 4.7: keyDigest keeps apart ${what}`, () => {
    assert.ok(!digestOf(k1, new Set(d1)).equals(digestOf(k2, new Set(d2))));
  });
}

test('Dynamo 4.7: a key with no versions has no digest; an update that changes nothing leaves the tree alone', () => {
  assert.equal(keyDigest(Buffer.from('k'), []), undefined);
  const tree = new MerkleTree(16);
  const empty = Buffer.from(tree.root());
  const d = digestOf('6b', new Set(['a:1']));
  tree.update(3, undefined, d);
  assert.ok(!tree.root().equals(empty));
  tree.update(3, d, Buffer.from(d));
  assert.equal(tree.size, 1);
  tree.update(3, d, undefined);
  assert.equal(tree.size, 0);
  assert.ok(tree.root().equals(empty));
  tree.update(3, undefined, undefined);
  assert.ok(tree.root().equals(empty));
});

test('Dynamo 4.7: trees of different shapes cannot be compared', () => {
  assert.throws(() => diffLeaves(new MerkleTree(16).leafHashesCopy(), new MerkleTree(17).leafHashesCopy()), RangeError);
});

for (const leaves of [1, 2, 15, 16, 17, 256, 257, 4096]) {
  test(`Dynamo 4.7: with ${leaves} leaves, a change in any one leaf changes the root, and the leaf of a key is in range`, () => {
    const base = new MerkleTree(leaves);
    const r0 = Buffer.from(base.root());
    const d = digestOf('00', new Set(['a:1']));
    for (const leaf of new Set([0, leaves - 1, Math.floor(leaves / 2)])) {
      const t = new MerkleTree(leaves);
      t.update(leaf, undefined, d);
      assert.ok(!t.root().equals(r0), `leaf ${leaf} of ${leaves}`);
    }
    for (let i = 0; i < 200; i++) {
      const l = leafOf(keyHash(Buffer.from(`key-${i}`)), leaves);
      assert.ok(Number.isInteger(l) && l >= 0 && l < leaves);
    }
  });
}
