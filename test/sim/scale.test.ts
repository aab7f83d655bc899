// Membership at scale on paper (pure core): a join into a large ring moves about the ideal
// share, the ring stays balanced, and gossip spreads the claim in O(log n) rounds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scaleReport, scaleRow } from '../harness/sim/scale.js';

test('scale: joining the 200th node moves about Q/n partitions and 1/n of the keys; gossip takes O(log n) rounds', () => {
  const r = scaleRow(200);
  assert.equal(r.partitions, 512);
  assert.ok(r.partitionsMoved >= Math.floor(r.partitionsIdeal) && r.partitionsMoved <= Math.ceil(r.partitionsIdeal) + 1, `moved ${r.partitionsMoved}, ideal ${r.partitionsIdeal}`);
  assert.ok(r.replicasMoved <= 3 * (Math.ceil(r.partitionsIdeal) + 1));
  assert.ok(r.keysMovedShare < 2 * r.keysIdealShare);
  assert.ok(r.balanceAfter.max <= Math.ceil(r.balanceAfter.mean) && r.balanceAfter.min >= Math.floor(r.balanceAfter.mean), JSON.stringify(r.balanceAfter));
  assert.ok(r.gossipRounds <= 3 * Math.log2(200), `${r.gossipRounds} rounds`);
});

test('scale: the report has a row per size', () => {
  const lines = scaleReport([10, 20]).trim().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[2]!, /^\s*10\s+32\s/);
});
