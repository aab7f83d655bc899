// The ring and its claim (Dynamo 4.2 strategy 3, 4.3 replication; riak_core claim).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type NodeId, type Ring, claimForJoin, claimForLeave, computeFallbacks, computePreferenceList, movedPartitions, ownerCounts, stripedRing } from '../../node-core/src/core/ring.js';

function assertBalanced(ring: Ring, members: readonly NodeId[], what: string): void {
  const q = ring.partitions;
  const m = new Set(members).size;
  const counts = ownerCounts(ring);
  assert.equal(ring.owners.length, q, `${what}: owners length`);
  for (const owner of counts.keys()) assert.ok(members.includes(owner), `${what}: ${owner} owns partitions but is not a member`);
  const floor = Math.floor(q / m);
  const ceil = Math.ceil(q / m);
  for (const node of new Set(members)) {
    const c = counts.get(node) ?? 0;
    assert.ok(c <= ceil && c >= floor, `${what}: ${node} owns ${c}, expected ${floor}..${ceil} (Q=${q}, ${m} nodes)`);
  }
}

function nodeName(i: number): NodeId {
  return `node-${i}`;
}

for (const q of [64, 256]) {
  test(`Dynamo 4.2: adding nodes one at a time (1..64 nodes, Q=${q}) keeps every node within floor(Q/n)..ceil(Q/n), moving only to the new node`, () => {
    let ring = stripedRing([nodeName(1)], q);
    const members = [nodeName(1)];
    assertBalanced(ring, members, 'start');
    for (let n = 2; n <= 64; n++) {
      const node = nodeName(n);
      const next = claimForJoin(ring, node);
      members.push(node);
      assertBalanced(next, members, `after joining ${node}`);
      const moved = movedPartitions(ring, next);
      for (const p of moved) assert.equal(next.owners[p], node, `partition ${p} moved to ${next.owners[p]}, not to the joining node`);
      assert.ok(moved.length <= Math.ceil(q / n), `joining ${node} moved ${moved.length} > ceil(${q}/${n})`);
      ring = next;
    }
  });

  test(`Dynamo 4.2: a striped ring of 1..64 nodes (Q=${q}) is balanced`, () => {
    for (let n = 1; n <= 64; n++) {
      const members = Array.from({ length: n }, (_, i) => nodeName(i + 1));
      assertBalanced(stripedRing(members, q), members, `striped ${n}`);
    }
  });
}

type Change = { readonly join: true } | { readonly join: false; readonly pick: number };

const changesArb = fc.array(fc.oneof(fc.constant<Change>({ join: true }), fc.nat().map((pick): Change => ({ join: false, pick }))), { maxLength: 30 });

test('Dynamo 4.2: any sequence of joins and leaves (at most Q nodes) keeps the ring balanced and moves only what must move', () => {
  fc.assert(
    fc.property(fc.constantFrom(8, 64, 256), fc.integer({ min: 1, max: 6 }), changesArb, (q, initial, changes) => {
      let members = Array.from({ length: initial }, (_, i) => nodeName(i));
      let ring = stripedRing(members, q);
      let nextId = initial;
      assertBalanced(ring, members, 'striped');
      for (const change of changes) {
        if (change.join) {
          const node = nodeName(nextId++);
          const next = claimForJoin(ring, node);
          const moved = movedPartitions(ring, next);
          for (const p of moved) assert.equal(next.owners[p], node);
          members = [...members, node];
          assert.ok(moved.length <= Math.ceil(q / members.length));
          ring = next;
        } else {
          if (members.length === 1) continue;
          const node = members[change.pick % members.length]!;
          const next = claimForLeave(ring, node, members.filter((x) => x !== node));
          const moved = movedPartitions(ring, next);
          const owned = ring.owners.flatMap((o, p) => (o === node ? [p] : []));
          assert.deepEqual(moved, owned, `leaving ${node} moved partitions it did not own`);
          members = members.filter((x) => x !== node);
          ring = next;
        }
        assertBalanced(ring, members, JSON.stringify(change));
      }
    }),
    { numRuns: 200 },
  );
});

test(
  'Dynamo 4.2: claimForLeave keeps balance when some member owns no partition (more nodes than partitions)',
  () => {
    const joined = claimForJoin(stripedRing(['a', 'b'], 2), 'c'); // 3 nodes, 2 partitions: c owns none (balanced)
    assertBalanced(joined, ['a', 'b', 'c'], 'after join');
    const left = claimForLeave(joined, 'a', ['b', 'c']);
    assertBalanced(left, ['b', 'c'], 'after a leaves'); // c, which owned nothing, must take a's partition
  },
);

test('Dynamo 4.2: joining a member of a balanced ring or removing a stranger changes nothing; the last member cannot leave', () => {
  const ring = stripedRing(['a', 'b', 'c'], 16);
  assert.deepEqual(claimForJoin(ring, 'b'), ring);
  assert.deepEqual(claimForLeave(ring, 'z'), ring);
  assert.throws(() => claimForLeave(stripedRing(['a'], 8), 'a'), RangeError);
  assert.throws(() => stripedRing([], 8), RangeError);
  // Duplicates are one member.
  assert.deepEqual(ownerCounts(stripedRing(['b', 'a', 'b'], 8)), new Map([['a', 4], ['b', 4]]));
});

/** Any ring: random owners from a small pool, Q a power of two. */
const ringArb: fc.Arbitrary<Ring> = fc
  .integer({ min: 0, max: 6 })
  .chain((bits) => fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { minLength: 2 ** bits, maxLength: 2 ** bits }))
  .map((owners) => ({ partitions: owners.length, owners }));

test('Dynamo 4.3: the preference list is the first min(N, distinct nodes) distinct owners clockwise, starting with the partition\'s owner', () => {
  fc.assert(
    fc.property(ringArb, fc.nat(), fc.integer({ min: 1, max: 8 }), (ring, raw, n) => {
      const p = raw % ring.partitions;
      const list = computePreferenceList(ring, p, n);
      const distinct = new Set(ring.owners).size;
      assert.equal(list.length, Math.min(n, distinct));
      assert.equal(new Set(list).size, list.length, 'duplicate node in the preference list');
      assert.equal(list[0], ring.owners[p]);
      // Reference walk.
      const expected: NodeId[] = [];
      for (let i = 0; i < ring.partitions; i++) {
        const o = ring.owners[(p + i) % ring.partitions]!;
        if (!expected.includes(o) && expected.length < n) expected.push(o);
      }
      assert.deepEqual(list, expected);
      // Fallbacks continue the same walk: together they name every node once.
      assert.deepEqual([...list, ...computeFallbacks(ring, p, n)], computePreferenceList(ring, p, distinct));
    }),
    { numRuns: 300 },
  );
});

test('Dynamo 4.3: on a striped ring every preference list of N=3 holds 3 distinct nodes when there are at least 3', () => {
  const ring = stripedRing(['n1', 'n2', 'n3', 'n4', 'n5'], 64);
  for (let p = 0; p < 64; p++) {
    const list = computePreferenceList(ring, p, 3);
    assert.deepEqual(list, [0, 1, 2].map((i) => ring.owners[(p + i) % 64]));
  }
});
