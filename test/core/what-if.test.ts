// What-if analysis (issue 14): which partitions keep R and W if some nodes fail, and where the
// hints go. Examples as a table over real rings (core/ring.ts, as control/server.ts builds
// PartitionHealth), then properties checked against a separate statement of the coordinator's
// rules: replicas left = preference list minus failed and down; sloppy targets = replicas left
// plus one stand-in per missing replica while nodes seen up remain beyond the list.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type WhatIfInput, type WhatIfMemberStatus, whatIf } from '../../node-core/src/core/what-if.js';
import { type Ring, claimForJoin, computePreferenceList, stripedRing } from '../../node-core/src/core/ring.js';

function partitionsOf(ring: Ring, n: number): WhatIfInput['partitions'] {
  return ring.owners.map((_, p) => ({ partition: p, preferenceList: computePreferenceList(ring, p, n) }));
}

function members(ids: readonly string[], statuses: Readonly<Record<string, WhatIfMemberStatus>> = {}): WhatIfInput['members'] {
  return ids.map((id) => ({ id, status: Object.hasOwn(statuses, id) ? statuses[id]! : 'up' }));
}

const five = ['a', 'b', 'c', 'd', 'e'];
// Striped: partition p is owned by five[p % 5], so pref(0) = a,b,c and the walk goes on d, e.
const ring5 = stripedRing(five, 8);

test('issue 14: failing nothing loses nothing and leaves no hints', () => {
  const out = whatIf({ n: 3, r: 2, w: 2, partitions: partitionsOf(ring5, 3), members: members(five), failed: [], putsPerSecond: 100, durationMs: 10_000 });
  assert.equal(out.partitions.length, 8);
  for (const p of out.partitions) assert.deepEqual(p, { partition: p.partition, replicasLeft: 3, strictRead: true, strictWrite: true, sloppyRead: true, sloppyWrite: true, standIns: [] });
  assert.deepEqual(out.summary, { strictReadLost: 0, strictWriteLost: 0, sloppyWriteLost: 0, keysAtRisk: 0, expectedHints: 0, hintsByStandIn: {} });
});

interface Case {
  readonly name: string;
  readonly ids: readonly string[];
  readonly q?: number;
  readonly n?: number;
  readonly r: number;
  readonly w: number;
  readonly statuses?: Readonly<Record<string, WhatIfMemberStatus>>;
  readonly failed: readonly string[];
  /** Expected for partition 0, whose preference list is ids[0..n). */
  readonly p0: { replicasLeft: number; strictRead: boolean; strictWrite: boolean; sloppyRead: boolean; sloppyWrite: boolean; standIns: string[] };
}

const cases: readonly Case[] = [
  { name: 'one replica fails: R=W=2 hold strictly, the next node up beyond the list stands in', ids: five, r: 2, w: 2, failed: ['b'], p0: { replicasLeft: 2, strictRead: true, strictWrite: true, sloppyRead: true, sloppyWrite: true, standIns: ['d'] } },
  { name: 'two replicas fail: strict R=2 is lost, sloppy quorum keeps both', ids: five, r: 2, w: 2, failed: ['b', 'c'], p0: { replicasLeft: 1, strictRead: false, strictWrite: false, sloppyRead: true, sloppyWrite: true, standIns: ['d', 'e'] } },
  { name: 'r=1 survives two failures strictly', ids: five, r: 1, w: 3, failed: ['a', 'c'], p0: { replicasLeft: 1, strictRead: true, strictWrite: false, sloppyRead: true, sloppyWrite: true, standIns: ['d', 'e'] } },
  { name: 'w=n is lost strictly by any failure; sloppy only while stand-ins remain (the uncovered one is an extra hint on the coordinator)', ids: five, r: 1, w: 3, failed: ['a', 'b', 'd'], p0: { replicasLeft: 1, strictRead: true, strictWrite: false, sloppyRead: true, sloppyWrite: false, standIns: ['e', 'c'] } },
  { name: 'a node already seen down counts as failed', ids: five, r: 2, w: 2, statuses: { c: 'down' }, failed: ['b'], p0: { replicasLeft: 1, strictRead: false, strictWrite: false, sloppyRead: true, sloppyWrite: true, standIns: ['d', 'e'] } },
  { name: 'a suspect replica is still a replica, but a suspect node never stands in', ids: five, r: 2, w: 2, statuses: { b: 'suspect', d: 'suspect' }, failed: ['c'], p0: { replicasLeft: 2, strictRead: true, strictWrite: true, sloppyRead: true, sloppyWrite: true, standIns: ['e'] } },
  { name: 'joining and leaving nodes are up: they stand in', ids: five, r: 2, w: 2, statuses: { d: 'joining', e: 'leaving' }, failed: ['a', 'b'], p0: { replicasLeft: 1, strictRead: false, strictWrite: false, sloppyRead: true, sloppyWrite: true, standIns: ['d', 'e'] } },
  { name: 'N nodes: no stand-in, the coordinator (first replica left) keeps an extra hint that adds no target', ids: ['a', 'b', 'c'], r: 2, w: 2, failed: ['a'], p0: { replicasLeft: 2, strictRead: true, strictWrite: true, sloppyRead: true, sloppyWrite: true, standIns: ['b'] } },
  { name: 'N nodes, two fail: R=W=2 lost even sloppily, the survivor keeps both hints', ids: ['a', 'b', 'c'], r: 2, w: 2, failed: ['a', 'c'], p0: { replicasLeft: 1, strictRead: false, strictWrite: false, sloppyRead: false, sloppyWrite: false, standIns: ['b'] } },
  { name: 'every node failed: nothing reachable, nobody to keep hints', ids: five, r: 1, w: 1, failed: five, p0: { replicasLeft: 0, strictRead: false, strictWrite: false, sloppyRead: false, sloppyWrite: false, standIns: [] } },
  { name: 'the whole preference list fails: stand-ins only, sloppy R=W=2 still answered', ids: ['a', 'b', 'c', 'd', 'e', 'f'], r: 2, w: 2, failed: ['a', 'b', 'c'], p0: { replicasLeft: 0, strictRead: false, strictWrite: false, sloppyRead: true, sloppyWrite: true, standIns: ['d', 'e', 'f'] } },
  { name: 'stand-ins run out: the rest of the hints go to the first target', ids: ['a', 'b', 'c', 'd'], r: 1, w: 1, failed: ['a', 'b'], p0: { replicasLeft: 1, strictRead: true, strictWrite: true, sloppyRead: true, sloppyWrite: true, standIns: ['d', 'c'] } },
  { name: 'N=1: the only replica fails, the next owner stands in', ids: ['a', 'b'], n: 1, r: 1, w: 1, failed: ['a'], p0: { replicasLeft: 0, strictRead: false, strictWrite: false, sloppyRead: true, sloppyWrite: true, standIns: ['b'] } },
];

for (const c of cases) {
  test(`issue 14, Dynamo 4.6: what-if: ${c.name}`, () => {
    const n = c.n ?? 3;
    const ring = stripedRing(c.ids, c.q ?? 8);
    const out = whatIf({ n, r: c.r, w: c.w, partitions: partitionsOf(ring, n), members: members(c.ids, c.statuses), failed: c.failed });
    const { partition, ...p0 } = out.partitions[0]!;
    assert.equal(partition, 0);
    assert.deepEqual(p0, c.p0);
  });
}

test('issue 14: a member missing from the list is down (the detector never heard from it)', () => {
  const out = whatIf({ n: 3, r: 2, w: 2, partitions: partitionsOf(ring5, 3), members: members(['a', 'c', 'd', 'e']), failed: [] });
  assert.deepEqual(out.partitions[0]!.standIns, ['d']);
  assert.equal(out.partitions[0]!.replicasLeft, 2);
});

test('issue 14: the summary counts lost partitions, keys at risk and hints per stand-in', () => {
  // Q=8 over a..e striped (owners a b c d e a b c): the preference lists are 0 abc, 1 bcd, 2 cde,
  // 3 dea, 4 eab, 5 abc, 6 bca, 7 cab.
  const keysPerPartition: Record<number, number> = { 0: 10, 1: 20, 2: 30, 3: 40, 4: 50, 5: 60, 6: 70, 7: 80 };
  const out = whatIf({ n: 3, r: 2, w: 3, partitions: partitionsOf(ring5, 3), members: members(five, { c: 'down' }), failed: ['b'], keysPerPartition, putsPerSecond: 80, durationMs: 1000 });
  const lostRead = out.partitions.filter((p) => !p.strictRead).map((p) => p.partition);
  const missing = out.partitions.map((p) => 3 - p.replicasLeft);
  // Both b and c are in the lists of partitions 0, 1, 5, 6 and 7: those lose strict R=2.
  assert.deepEqual(lostRead, [0, 1, 5, 6, 7]);
  assert.equal(out.summary.strictReadLost, 5);
  assert.equal(out.summary.keysAtRisk, 10 + 20 + 60 + 70 + 80);
  // Strict W=3 needs all three: lost wherever b or c is in the list, i.e. everywhere but partition 3 (dea).
  assert.equal(out.summary.strictWriteLost, out.partitions.filter((p) => p.replicasLeft < 3).length);
  assert.deepEqual(out.partitions.filter((p) => p.replicasLeft === 3).map((p) => p.partition), [3]);
  // 80 puts over 8 partitions: 10 each; every missing replica gets a hint (5 nodes: stand-ins exist).
  assert.equal(out.summary.sloppyWriteLost, 0);
  assert.equal(out.summary.expectedHints, 10 * missing.reduce((s, m) => s + m, 0));
  const total = Object.values(out.summary.hintsByStandIn).reduce((s, x) => s + x, 0);
  assert.equal(total, out.summary.expectedHints);
  assert.ok(!('b' in out.summary.hintsByStandIn) && !('c' in out.summary.hintsByStandIn), 'a failed node holds no hints');
});

test('issue 14: a stand-in named __proto__ is counted like any other', () => {
  const ids = ['a', 'b', 'c', '__proto__'];
  const out = whatIf({ n: 3, r: 2, w: 2, partitions: partitionsOf(stripedRing(ids, 4), 3), members: members(ids), failed: ['a'], putsPerSecond: 4, durationMs: 1000 });
  assert.ok(Object.hasOwn(out.summary.hintsByStandIn, '__proto__'), JSON.stringify(out.summary.hintsByStandIn));
  assert.equal(Object.values(out.summary.hintsByStandIn).reduce((s, x) => s + x, 0), out.summary.expectedHints);
});

test('issue 14: a write refused for want of targets leaves no hint', () => {
  const out = whatIf({ n: 3, r: 1, w: 3, partitions: partitionsOf(stripedRing(['a', 'b', 'c'], 4), 3), members: members(['a', 'b', 'c']), failed: ['a'], putsPerSecond: 40, durationMs: 1000 });
  assert.equal(out.summary.sloppyWriteLost, 4);
  assert.equal(out.summary.expectedHints, 0);
  assert.deepEqual(out.summary.hintsByStandIn, {});
});

test('issue 14: bad input is refused with a RangeError naming it', () => {
  const base: WhatIfInput = { n: 3, r: 2, w: 2, partitions: partitionsOf(ring5, 3), members: members(five), failed: [] };
  const bad: [string, Partial<WhatIfInput> | Record<string, unknown>, RegExp][] = [
    ['n=0', { n: 0 }, /n must be/],
    ['n fractional', { n: 2.5 }, /n must be/],
    ['r>n', { r: 4 }, /r must be/],
    ['w=0', { w: 0 }, /w must be/],
    ['unknown status', { members: [{ id: 'a', status: 'gone' }] }, /status must be/],
    ['duplicate member', { members: [{ id: 'a', status: 'up' }, { id: 'a', status: 'up' }] }, /twice/],
    ['pref longer than n', { partitions: [{ partition: 0, preferenceList: ['a', 'b', 'c', 'd'] }] }, /preference list/],
    ['pref repeats a node', { partitions: [{ partition: 0, preferenceList: ['a', 'a'] }] }, /distinct/],
    ['partition twice', { partitions: [{ partition: 1, preferenceList: ['a'] }, { partition: 1, preferenceList: ['b'] }] }, /twice/],
    ['negative partition', { partitions: [{ partition: -1, preferenceList: ['a'] }] }, /partition number/],
    ['NaN puts', { putsPerSecond: Number.NaN }, /putsPerSecond/],
    ['negative keys', { keysPerPartition: { 0: -1 } }, /keysPerPartition/],
  ];
  for (const [what, patch, message] of bad) assert.throws(() => whatIf({ ...base, ...patch } as WhatIfInput), (e: unknown) => e instanceof RangeError && message.test(e.message), what);
});

// Properties over random rings (striped, then some joins so owners are not a plain stripe),
// random statuses and random failures, against the rules stated separately.

const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const statusArb = fc.constantFrom<WhatIfMemberStatus>('up', 'up', 'up', 'suspect', 'down', 'joining', 'leaving');
const scenarioArb = fc
  .record({
    start: fc.integer({ min: 1, max: 5 }),
    joins: fc.integer({ min: 0, max: 2 }),
    qBits: fc.integer({ min: 0, max: 5 }),
    n: fc.integer({ min: 1, max: 4 }),
    rw: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    statuses: fc.array(statusArb, { minLength: ids.length, maxLength: ids.length }),
    failed: fc.subarray(ids),
    puts: fc.integer({ min: 0, max: 1000 }),
  })
  .map((s) => {
    let ring = stripedRing(ids.slice(0, s.start), 1 << s.qBits);
    for (let j = 0; j < s.joins; j++) ring = claimForJoin(ring, ids[s.start + j]!, s.n);
    const memberIds = ids.slice(0, s.start + s.joins);
    const n = s.n;
    const r = Math.min(s.rw[0], n);
    const w = Math.min(s.rw[1], n);
    const status = Object.fromEntries(memberIds.map((id, i) => [id, s.statuses[i]!]));
    const input: WhatIfInput = { n, r, w, partitions: partitionsOf(ring, n), members: members(memberIds, status), failed: s.failed, putsPerSecond: s.puts, durationMs: 1000 };
    return { ring, input, status };
  });

const gone = (input: WhatIfInput, status: Record<string, WhatIfMemberStatus>, id: string) => input.failed.includes(id) || status[id] === undefined || status[id] === 'down';

test('issue 14, Dynamo 4.6 (property): replicas left, targets and hints follow the coordinator rules', () => {
  fc.assert(
    fc.property(scenarioArb, ({ ring, input, status }) => {
      const out = whatIf(input);
      let hints = 0;
      for (const p of out.partitions) {
        const pref = computePreferenceList(ring, p.partition, input.n);
        const walk = computePreferenceList(ring, p.partition, ring.partitions);
        const left = pref.filter((id) => !gone(input, status, id)).length;
        const missing = pref.length - left;
        // Stand-ins must be seen up: not failed, not down, not suspect.
        const spare = walk.slice(pref.length).filter((id) => !gone(input, status, id) && status[id] !== 'suspect').length;
        const targets = left + Math.min(missing, spare);
        assert.equal(p.replicasLeft, left);
        assert.equal(p.strictRead, left >= input.r);
        assert.equal(p.strictWrite, left >= input.w);
        assert.equal(p.sloppyRead, targets >= input.r);
        assert.equal(p.sloppyWrite, targets >= input.w);
        for (const s of p.standIns) assert.ok(!gone(input, status, s), `stand-in ${s} is not failed or down`);
        // Every missing replica gets a hint on someone, as long as the write is attempted.
        if (targets >= input.w) hints += missing;
      }
      const perPartition = (input.putsPerSecond ?? 0) / ring.partitions;
      assert.ok(Math.abs(out.summary.expectedHints - hints * perPartition) < 1e-6, `${out.summary.expectedHints} vs ${hints * perPartition}`);
      assert.equal(out.summary.strictReadLost, out.partitions.filter((p) => !p.strictRead).length);
    }),
    { numRuns: 400 },
  );
});

test('issue 14 (property): failing nobody (all up) loses nothing; failing a whole preference list loses strict R', () => {
  fc.assert(
    fc.property(scenarioArb, ({ ring, input }) => {
      const allUp = whatIf({ ...input, failed: [], members: input.members.map((m) => ({ id: m.id, status: 'up' as const })) });
      for (const p of allUp.partitions) {
        const size = computePreferenceList(ring, p.partition, input.n).length;
        // A preference list is shorter than N only in a ring of fewer nodes than N.
        assert.equal(p.strictRead, input.r <= size);
        assert.equal(p.strictWrite, input.w <= size);
        assert.deepEqual(p.standIns, []);
      }
      assert.equal(allUp.summary.expectedHints, 0);
      const victim = computePreferenceList(ring, 0, input.n);
      const dead = whatIf({ ...input, failed: victim });
      assert.equal(dead.partitions[0]!.replicasLeft, 0);
      assert.equal(dead.partitions[0]!.strictRead, false);
      assert.equal(dead.partitions[0]!.strictWrite, false);
    }),
    { numRuns: 300 },
  );
});

test('issue 14 (property): failing one more node never makes a partition more available', () => {
  fc.assert(
    fc.property(scenarioArb, fc.constantFrom(...ids), ({ input }, extra) => {
      const before = whatIf(input);
      const after = whatIf({ ...input, failed: [...input.failed, extra] });
      for (let i = 0; i < before.partitions.length; i++) {
        const b = before.partitions[i]!;
        const a = after.partitions[i]!;
        assert.ok(a.replicasLeft <= b.replicasLeft);
        for (const k of ['strictRead', 'strictWrite', 'sloppyRead', 'sloppyWrite'] as const) assert.ok(!a[k] || b[k], `${k} came back after failing ${extra}`);
        // Strict implies sloppy: stand-ins only add targets.
        assert.ok(!a.strictRead || a.sloppyRead);
        assert.ok(!a.strictWrite || a.sloppyWrite);
      }
    }),
    { numRuns: 300 },
  );
});

test('issue 14 (property): the derived ring walk is the node\'s walk (computePreferenceList over the ring)', () => {
  fc.assert(
    fc.property(scenarioArb, ({ ring, input }) => {
      const derived = whatIf(input);
      const given = whatIf({ ...input, ringWalk: (p) => computePreferenceList(ring, p, ring.partitions) });
      assert.deepEqual(derived, given);
    }),
    { numRuns: 300 },
  );
});

test('issue 14: 65536 partitions over 64 members stay fast', () => {
  const many = Array.from({ length: 64 }, (_, i) => `n${String(i).padStart(2, '0')}`);
  const ring = stripedRing(many, 1 << 16);
  const input: WhatIfInput = { n: 3, r: 2, w: 2, partitions: partitionsOf(ring, 3), members: members(many), failed: many.slice(0, 20), putsPerSecond: 1000, durationMs: 60_000 };
  const t0 = performance.now();
  const out = whatIf(input);
  const ms = performance.now() - t0;
  assert.equal(out.partitions.length, 1 << 16);
  assert.ok(ms < 5000, `took ${Math.round(ms)} ms`);
});
