// The checker catches what it claims to (STYLE 13, 14): with a bug planted in the storage of
// real nodes, some seed of a handful shows a violation of the rule the bug breaks. Without the
// plant, the same seeds are clean (clean.test.ts runs many more).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed, type Features } from '../harness/sim/run.js';
import type { Rule } from '../harness/sim/checker.js';
import type { Store } from '../../node-core/src/core/store.js';
import { dropSiblingOnN1, n1AcksWithoutWriting, plainVersionVectors } from './planted-bugs.js';

const seedsMax = 6;
const fixedMembership: Features = { membership: false, reaping: true, faults: true, adversary: false };

async function firstViolation(wrapStore: (nodeId: string, store: Store) => Store, expect: readonly Rule[]): Promise<{ seed: number; rules: Set<Rule> }> {
  for (let seed = 1; seed <= seedsMax; seed++) {
    const r = await runSeed(seed, { wrapStore, features: fixedMembership });
    const rules = new Set(r.violations.map((v) => v.rule));
    if (expect.some((e) => rules.has(e))) return { seed, rules };
  }
  assert.fail(`no seed of 1..${seedsMax} showed any of ${expect.join(', ')}`);
}

test('checker: a node that drops a sibling when it commits a merge is caught (rule 2 or 4, and its counters repeat)', async () => {
  const { rules } = await firstViolation(dropSiblingOnN1, ['sibling-lost', 'divergence', 'dot-reused']);
  assert.ok(rules.has('divergence') || rules.has('sibling-lost'), `rules seen: ${[...rules].join(', ')}`);
});

test('checker: plain version vectors (a higher counter of the same actor wins) lose concurrent writes: rule 1 or 2', async () => {
  const { rules } = await firstViolation(plainVersionVectors, ['lost-write', 'sibling-lost']);
  assert.ok(rules.has('lost-write') || rules.has('sibling-lost'));
});

test('checker: a node that acknowledges writes without storing them is caught (its replicas never converge)', async () => {
  const { rules } = await firstViolation(n1AcksWithoutWriting, ['divergence', 'lost-write']);
  assert.ok(rules.size > 0);
});

test('checker: the same seeds without a planted bug are clean', async () => {
  for (let seed = 1; seed <= 3; seed++) {
    const r = await runSeed(seed, { features: fixedMembership });
    assert.deepEqual(
      r.violations.map((v) => `${v.rule}: ${v.message}`),
      [],
      `seed ${seed}`,
    );
  }
});
