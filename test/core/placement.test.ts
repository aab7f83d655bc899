// Sloppy-quorum placement (Dynamo 4.6) as a table, the way riak_core tests get_apl: a ring
// walk, who is up, suspect or down as the placing node sees it, and where the replicas go.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computePlacement } from '../../node-core/src/core/placement.js';
import type { Liveness } from '../../node-core/src/core/failure-detector.js';

interface Case {
  readonly name: string;
  /** Distinct members clockwise from the partition (left members are not in a walk). */
  readonly walk: readonly string[];
  readonly n?: number;
  readonly self: string;
  readonly down?: readonly string[];
  readonly suspect?: readonly string[];
  /** Targets as "node" or "standIn>for". */
  readonly targets: readonly string[];
  readonly extraHints?: readonly string[];
  readonly upPref?: readonly string[];
}

const cases: readonly Case[] = [
  { name: 'all up: the first N of the walk', walk: ['a', 'b', 'c', 'd', 'e'], self: 'a', targets: ['a', 'b', 'c'] },
  { name: 'placed by a node outside the list: same list', walk: ['a', 'b', 'c', 'd', 'e'], self: 'e', targets: ['a', 'b', 'c'] },
  { name: 'one replica down: the next node up beyond the list stands in', walk: ['a', 'b', 'c', 'd', 'e'], self: 'a', down: ['b'], targets: ['a', 'd>b', 'c'], upPref: ['a', 'c'] },
  { name: 'two down: stand-ins in walk order', walk: ['a', 'b', 'c', 'd', 'e'], self: 'a', down: ['b', 'c'], targets: ['a', 'd>b', 'e>c'], upPref: ['a'] },
  { name: 'a stand-in that is itself down is skipped', walk: ['a', 'b', 'c', 'd', 'e'], self: 'a', down: ['b', 'd'], targets: ['a', 'e>b', 'c'] },
  { name: 'a suspect replica is still tried, and a suspect node never stands in', walk: ['a', 'b', 'c', 'd', 'e'], self: 'a', down: ['c'], suspect: ['b', 'd'], targets: ['a', 'b', 'e>c'], upPref: ['a', 'b'] },
  { name: 'every replica down, placed from outside: all stand-ins', walk: ['a', 'b', 'c', 'd', 'e', 'f'], self: 'f', down: ['a', 'b', 'c'], targets: ['d>a', 'e>b', 'f>c'], upPref: [] },
  { name: 'N nodes and one down: no stand-in, this replica keeps an extra hint', walk: ['a', 'b', 'c'], self: 'a', down: ['c'], targets: ['a', 'b'], extraHints: ['a>c'] },
  { name: 'N nodes, one down, placed by another replica: that replica keeps it', walk: ['a', 'b', 'c'], self: 'b', down: ['a'], targets: ['b', 'c'], extraHints: ['b>a'] },
  { name: 'fewer nodes than N: the list is what there is', walk: ['a', 'b'], self: 'a', targets: ['a', 'b'] },
  { name: 'one node: itself', walk: ['a'], self: 'a', targets: ['a'] },
  { name: 'fewer nodes than N, the other down: the extra hint stays here', walk: ['a', 'b'], self: 'a', down: ['b'], targets: ['a'], extraHints: ['a>b'] },
  { name: 'stand-ins run out: the rest become extra hints on the first target', walk: ['a', 'b', 'c', 'd'], self: 'd', down: ['a', 'b'], targets: ['d>a', 'c'], extraHints: ['d>b'] },
  { name: 'everything down but a node outside the list: nobody to keep hints', walk: ['a', 'b', 'c'], self: 'z', down: ['a', 'b', 'c'], targets: [], extraHints: [] },
  { name: 'this node is never seen down by itself', walk: ['a', 'b', 'c', 'd'], self: 'a', down: ['a'], targets: ['a', 'b', 'c'] },
  { name: 'a join in flight: the walk already includes the joining owner', walk: ['j', 'a', 'b', 'c'], self: 'a', targets: ['j', 'a', 'b'] },
  { name: 'N=2', walk: ['a', 'b', 'c'], n: 2, self: 'a', down: ['b'], targets: ['a', 'c>b'] },
];

function show(t: { node: string; hintFor: string | undefined }): string {
  return t.hintFor === undefined ? t.node : `${t.node}>${t.hintFor}`;
}

for (const c of cases) {
  test(`Dynamo 4.6: placement: ${c.name}`, () => {
    const liveness = (id: string): Liveness => (c.down?.includes(id) ? 'down' : c.suspect?.includes(id) ? 'suspect' : 'up');
    const p = computePlacement(c.walk, c.n ?? 3, c.self, liveness);
    assert.deepEqual(p.pref, c.walk.slice(0, c.n ?? 3), 'the preference list is the first N of the walk');
    assert.deepEqual(p.targets.map(show), c.targets);
    assert.deepEqual(p.extraHints.map(show), c.extraHints ?? []);
    if (c.upPref) assert.deepEqual(p.upPref, c.upPref);
    // Every target is distinct: a node never takes two replicas of one key.
    assert.equal(new Set(p.targets.map((t) => t.node)).size, p.targets.length);
  });
}
