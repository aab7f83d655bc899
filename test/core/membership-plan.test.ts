// The membership plan (issue 14): what a join or leave would move is exactly what the nodes'
// claim does, and the sizes, flows, load and at-risk partitions add up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planChange } from '../../node-core/src/core/membership-plan.js';
import { claimForJoin, claimForLeave, computePreferenceList, stripedRing } from '../../node-core/src/core/ring.js';

const ring = stripedRing(['n1', 'n2', 'n3'], 64);
const size = (p: number, node: string) => (p % 7 === 0 ? null : { keys: p + 1, bytes: (p + 1) * 100 + node.length });

test('a planned join claims exactly what claimForJoin hands the new node, and copies every partition whose replicas it joins', () => {
  const plan = planChange(ring, ['n1', 'n2', 'n3'], { kind: 'join', node: 'n4' }, 3, size);
  const target = claimForJoin(ring, 'n4', 3);
  assert.deepEqual(plan.target, target);
  const expected = target.owners.flatMap((o, p) => (o !== ring.owners[p] ? [p] : []));
  assert.deepEqual(plan.ownership.map((m) => m.partition), expected);
  assert.equal(plan.ownership.length, 16, 'a 4th node takes a quarter of 64 partitions');
  assert.ok(plan.ownership.every((o) => o.to === 'n4' && o.from === ring.owners[o.partition]));
  // What the transfers pull: each partition whose preference list n4 enters, once.
  const entered = Array.from({ length: 64 }, (_, p) => p).filter((p) => computePreferenceList(target, p, 3).includes('n4'));
  assert.deepEqual(plan.moves.map((m) => m.partition), entered);
  for (const m of plan.moves) {
    assert.equal(m.to, 'n4');
    assert.equal(m.from, ring.owners[m.partition]);
    assert.equal(m.bytes, size(m.partition, m.from)?.bytes ?? size(m.partition, computePreferenceList(ring, m.partition, 3)[1]!)?.bytes ?? null);
  }
  const known = plan.moves.filter((m) => m.bytes !== null);
  assert.equal(plan.totals.bytes, known.reduce((a, m) => a + m.bytes!, 0));
  assert.equal(plan.totals.unknown, plan.moves.length - known.length);
  assert.equal(plan.flows.reduce((a, f) => a + f.partitions, 0), plan.moves.length);
  assert.ok(plan.flows.every((f) => f.to === 'n4'));
  const load = Object.fromEntries(plan.load.map((l) => [l.node, l]));
  assert.equal(load.n4!.before, 0);
  assert.equal(load.n4!.after, plan.moves.length, 'every replica n4 will hold is copied to it');
  assert.equal(plan.load.reduce((a, l) => a + l.after, 0), 64 * 3, 'every partition still has N replicas');
  assert.equal(plan.atRisk.length, plan.moves.length, 'each copy is a partition running with a replica being rebuilt');
  assert.deepEqual(plan.warnings, []);
});

test('a planned leave hands every partition of the leaving node to the others, as claimForLeave does', () => {
  const plan = planChange(ring, ['n1', 'n2', 'n3'], { kind: 'leave', node: 'n2' }, 3, size);
  assert.deepEqual(plan.target, claimForLeave(ring, 'n2', ['n1', 'n3']));
  assert.equal(plan.ownership.length, ring.owners.filter((o) => o === 'n2').length);
  assert.ok(plan.ownership.every((m) => m.from === 'n2' && m.to !== 'n2'));
  assert.ok(plan.moves.every((m) => m.to !== 'n2'), 'nothing is copied to the leaving node');
  assert.equal(plan.load.find((l) => l.node === 'n2')!.after, 0);
  assert.match(plan.warnings.join(), /2 member\(s\) remain for N=3/);
});

test('planning refuses what the cluster would refuse', () => {
  assert.throws(() => planChange(ring, ['n1', 'n2', 'n3'], { kind: 'leave', node: 'n9' }, 3, size), /not a member/);
  const one = stripedRing(['n1'], 8);
  assert.throws(() => planChange(one, ['n1'], { kind: 'leave', node: 'n1' }, 3, size), /last member/);
});
