// Many seeds of real nodes under faults (STYLE 13): crash/restart, crash with data loss,
// pauses, symmetric and one-way partitions, message loss, duplication and reordering, with
// tombstone reaping in some runs and a node joining or leaving in others. The checker must find
// nothing, and a seed must replay exactly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatViolation, runSeed } from '../harness/sim/run.js';

const cleanSeeds = 150;

test('determinism: the same seed replays the same run (event trace hash, history, outcome)', async () => {
  for (const seed of [11, 12]) {
    const a = await runSeed(seed);
    const b = await runSeed(seed);
    assert.equal(a.traceHash, b.traceHash, `seed ${seed}`);
    assert.deepEqual(a.stats, b.stats);
    assert.deepEqual(a.violations, b.violations);
  }
  assert.notEqual((await runSeed(11)).traceHash, (await runSeed(13)).traceHash);
});

test(`Dynamo under faults: ${cleanSeeds} seeds of 3-5 real nodes, no violation of rules 1-5`, async () => {
  const bad: string[] = [];
  let acked = 0;
  let judged = 0;
  const faults = new Set<string>();
  for (let seed = 1; seed <= cleanSeeds; seed++) {
    const r = await runSeed(seed);
    for (const v of r.violations) bad.push(formatViolation(r, v, 8));
    acked += r.stats.check.ackedWrites;
    judged += r.stats.check.availabilityJudged;
    for (const k of Object.keys(r.stats.faults)) faults.add(k);
  }
  assert.deepEqual(bad, []);
  // The runs did what they are for: many acknowledged writes, calm writes for rule 5, every fault.
  assert.ok(acked > 50 * cleanSeeds, `${acked} acknowledged writes`);
  assert.ok(judged > 0, 'some writes were judged for availability');
  for (const f of ['crash', 'wipe', 'pause', 'split', 'isolate', 'oneway', 'loss', 'dup', 'reorder', 'mix', 'join', 'leave']) assert.ok(faults.has(f), `fault ${f} happened`);
});
