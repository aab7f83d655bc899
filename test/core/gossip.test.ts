// Gossiped cluster state (Dynamo 4.8): the merge is a join (commutative, associative,
// idempotent), membership steps move only what they must, peer choice follows Cassandra's
// rule, and push-pull gossip converges in O(log n) rounds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { MemberInfo } from '../../node-core/src/net/messages.js';
import {
  type ClusterState,
  activeMembers,
  admitIfSettled,
  claimStep,
  beat,
  completeTransfer,
  confirmPlaceholders,
  foundState,
  joiningState,
  markLeftIfDone,
  mergeStates,
  pickGossipPeers,
  planJoin,
  planLeave,
  sameState,
  targetRingOf,
} from '../../node-core/src/core/gossip.js';
import { Rng } from '../harness/sim/random.js';

const nodeCount = 6;

function info(i: number, moved = false): MemberInfo {
  const port = 7000 + i * 10 + (moved ? 5 : 0);
  return { id: `n${i}`, http: `127.0.0.1:${port}`, internode: `127.0.0.1:${port + 1}` };
}

function describe(s: ClusterState): string {
  const members = [...s.members.values()].map((m) => `${m.id}:${m.state}/v${m.version}/h${m.heartbeat}`).sort();
  const ring = s.ring.map((r, p) => `${p}=${r.owner}@${r.epoch}${r.pendingTo ? `->${r.pendingTo}` : ''}`);
  return `members [${members.join(' ')}] ring [${ring.join(' ')}]`;
}

function assertSame(a: ClusterState, b: ClusterState, what: string): void {
  assert.ok(sameState(a, b), `${what}\n  ${describe(a)}\n  ${describe(b)}`);
}

function completeAll(s: ClusterState): ClusterState {
  let out = s;
  out.ring.forEach((r, p) => {
    if (r.pendingTo !== undefined) out = completeTransfer(out, p, r.pendingTo);
  });
  return out;
}

// ---- Generated histories: several replicas of the cluster state, each changed by its own
// node's steps and occasionally synced with another, as real nodes do between rounds.

type Step =
  | { readonly t: 'join'; readonly r: number; readonly node: number }
  | { readonly t: 'leave'; readonly r: number; readonly node: number }
  | { readonly t: 'complete'; readonly r: number; readonly pick: number; readonly wrongTarget: boolean }
  | { readonly t: 'beat'; readonly r: number; readonly node: number; readonly moved: boolean }
  | { readonly t: 'confirm'; readonly r: number; readonly node: number }
  | { readonly t: 'admit'; readonly r: number; readonly node: number }
  | { readonly t: 'settle'; readonly r: number }
  | { readonly t: 'left'; readonly r: number }
  | { readonly t: 'sync'; readonly r: number; readonly from: number };

const replicaIx = fc.nat({ max: 7 });
const nodeIx = fc.nat({ max: nodeCount - 1 });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('join' as const), r: replicaIx, node: nodeIx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('leave' as const), r: replicaIx, node: nodeIx }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('complete' as const), r: replicaIx, pick: fc.nat(), wrongTarget: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('beat' as const), r: replicaIx, node: nodeIx, moved: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('confirm' as const), r: replicaIx, node: nodeIx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('admit' as const), r: replicaIx, node: nodeIx }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('settle' as const), r: replicaIx }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('left' as const), r: replicaIx }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('sync' as const), r: replicaIx, from: replicaIx }) },
);

interface History {
  readonly q: number;
  readonly n: number;
  /** Replica i starts as node i's own state: n0 founded the cluster; others are joining, with placeholders. */
  readonly replicas: number;
  /** Whether replica i (i > 0) starts from n0's state merged in (it has heard from the seed). */
  readonly seeded: readonly boolean[];
  readonly steps: readonly Step[];
}

const historyArb: fc.Arbitrary<History> = fc.record({
  q: fc.constantFrom(4, 8, 16),
  n: fc.constantFrom(1, 2, 3),
  replicas: fc.integer({ min: 2, max: nodeCount }),
  seeded: fc.array(fc.boolean(), { minLength: nodeCount, maxLength: nodeCount }),
  steps: fc.array(stepArb, { maxLength: 40 }),
});

/** The i-th (mod) node this replica knows of, so most steps act on someone it has heard of. */
function memberOf(s: ClusterState, i: number): string {
  const ids = [...s.members.keys()].sort();
  return ids[i % ids.length]!;
}

function play(h: History): ClusterState[] {
  const found = foundState(info(0), h.q, h.n);
  const states: ClusterState[] = [found];
  for (let i = 1; i < h.replicas; i++) {
    const own = joiningState(info(i), h.q, h.n, undefined);
    states.push(h.seeded[i] ? mergeStates(own, found) : own);
  }
  for (const s of h.steps) {
    const r = s.r % states.length;
    const cur = states[r]!;
    switch (s.t) {
      case 'join':
        states[r] = planJoin(cur, info(s.node % nodeCount));
        break;
      case 'leave':
        states[r] = planLeave(cur, memberOf(cur, s.node));
        break;
      case 'complete': {
        const pending = cur.ring.flatMap((x, p) => (x.pendingTo === undefined ? [] : [{ p, to: x.pendingTo }]));
        const c = pending[s.pick % Math.max(1, pending.length)];
        if (c) states[r] = completeTransfer(cur, c.p, s.wrongTarget ? 'n-stranger' : c.to);
        break;
      }
      case 'beat':
        states[r] = beat(cur, info(Number(memberOf(cur, s.node).slice(1)), s.moved));
        break;
      case 'confirm':
        states[r] = confirmPlaceholders(cur, memberOf(cur, s.node));
        break;
      case 'admit':
        states[r] = admitIfSettled(cur, memberOf(cur, s.node));
        break;
      case 'settle':
        // Every transfer this replica knows of completes, and whoever is done leaving has left.
        states[r] = [...cur.members.keys()].reduce(markLeftIfDone, completeAll(cur));
        break;
      case 'left':
        // Every leaving node that has handed everything off is marked left.
        states[r] = [...cur.members.keys()].reduce(markLeftIfDone, cur);
        break;
      case 'sync':
        states[r] = mergeStates(cur, states[s.from % states.length]!);
        break;
    }
  }
  return states;
}

/** Three states from one history (the last replicas it changed), so they share a cluster shape. */
const tripleArb = fc.tuple(historyArb, fc.nat(), fc.nat(), fc.nat()).map(([h, i, j, k]) => {
  const states = play(h);
  return [states[i % states.length]!, states[j % states.length]!, states[k % states.length]!] as const;
});

const stateArb = historyArb.chain((h) => {
  const states = play(h);
  return fc.constantFrom(...states);
});

// ---- Merge laws

test('Dynamo 4.8: merging gossiped cluster states is commutative', () => {
  fc.assert(
    fc.property(tripleArb, ([a, b]) => {
      assertSame(mergeStates(a, b), mergeStates(b, a), 'merge(a, b) vs merge(b, a)');
    }),
    { numRuns: 300 },
  );
});

test('Dynamo 4.8: merging gossiped cluster states is associative', () => {
  fc.assert(
    fc.property(tripleArb, ([a, b, c]) => {
      assertSame(mergeStates(mergeStates(a, b), c), mergeStates(a, mergeStates(b, c)), '(a+b)+c vs a+(b+c)');
    }),
    { numRuns: 300 },
  );
});

test('Dynamo 4.8: merging gossiped cluster states is idempotent, and a merge absorbs both inputs', () => {
  fc.assert(
    fc.property(tripleArb, ([a, b]) => {
      assertSame(mergeStates(a, a), a, 'a+a vs a');
      const ab = mergeStates(a, b);
      assertSame(mergeStates(ab, a), ab, '(a+b)+a vs a+b');
      assertSame(mergeStates(ab, b), ab, '(a+b)+b vs a+b');
    }),
    { numRuns: 300 },
  );
});

test('Dynamo 4.8: states of different cluster shapes do not merge', () => {
  assert.throws(() => mergeStates(foundState(info(0), 8, 3), foundState(info(1), 16, 3)), RangeError);
  assert.throws(() => mergeStates(foundState(info(0), 8, 3), foundState(info(1), 8, 2)), RangeError);
});

// ---- Joins

interface JoinPlan {
  readonly q: number;
  /** Joiner k (node k+1) plans from the view of replica view % (replicas so far). */
  readonly joins: readonly { readonly view: number; readonly completeFirst: number }[];
  /** Syncs between replicas, interleaved after each join. */
  readonly syncs: readonly (readonly [number, number])[];
}

const joinPlanArb: fc.Arbitrary<JoinPlan> = fc.record({
  q: fc.constantFrom(8, 16, 32, 64),
  joins: fc.array(fc.record({ view: fc.nat(), completeFirst: fc.nat({ max: 64 }) }), { minLength: 1, maxLength: 7 }),
  syncs: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 10 }),
});

/** Joins planned on divergent views, some transfers completed in some views, everything merged. */
function playJoins(plan: JoinPlan): ClusterState {
  const views: ClusterState[] = [foundState(info(0), plan.q, 3)];
  plan.joins.forEach((j, k) => {
    const me = info(k + 1);
    const seen = views[j.view % views.length]!;
    let mine = planJoin(mergeStates(joiningState(me, plan.q, 3, undefined), seen), me);
    // The joiner finishes some of its transfers before anyone else hears of them.
    for (let p = 0, done = 0; p < plan.q && done < j.completeFirst; p++) {
      if (mine.ring[p]!.pendingTo === me.id) {
        mine = completeTransfer(mine, p, me.id);
        done++;
      }
    }
    views.push(mine);
    const sync = plan.syncs[k];
    if (sync) {
      const a = sync[0] % views.length;
      views[a] = mergeStates(views[a]!, views[sync[1] % views.length]!);
    }
  });
  return views.reduce((acc, v) => mergeStates(acc, v));
}

/**
 * Six joins on divergent views (found by fast-check, views written out): n1 completes two of
 * its transfers before anyone hears; n3 plans on n1's view, n4 and n5 on views descending from
 * n3's, n6 on n2's view (which n3's plan was merged into). Each plan takes different
 * partitions from n0, so after the merge n0 is left with 1 of 16, below floor(16/7) = 2.
 */
const overdrawnDonor: JoinPlan = {
  q: 16,
  joins: [
    { view: 0, completeFirst: 2 },
    { view: 0, completeFirst: 0 },
    { view: 1, completeFirst: 0 },
    { view: 3, completeFirst: 0 },
    { view: 4, completeFirst: 0 },
    { view: 2, completeFirst: 0 },
  ],
  syncs: [
    [0, 0],
    [0, 0],
    [2, 3],
  ],
};

test('Dynamo 4.8: concurrent joins on divergent views can overdraw a donor below floor(Q/m); its own claim step tops it up', () => {
  // The transient is by design (claims resolve per partition, with no coordinator): what the
  // claim step promises is the repair, which the property below checks for every plan.
  let s = completeAll(playJoins(overdrawnDonor));
  for (const m of [...s.members.keys()]) s = admitIfSettled(s, m);
  const owned = (st: ClusterState, id: string) => st.ring.filter((r) => r.owner === id).length;
  const floor = Math.floor(overdrawnDonor.q / activeMembers(s).length);
  assert.equal(s.members.get('n0')?.state, 'member');
  assert.ok(owned(s, 'n0') < floor, `the example overdraws n0 (owns ${owned(s, 'n0')}, floor ${floor})\n  ${describe(s)}`);
  const topped = completeAll(claimStep(s, info(0)));
  assert.ok(owned(topped, 'n0') >= floor, `n0's claim step tops it up to floor ${floor}: owns ${owned(topped, 'n0')}\n  ${describe(topped)}`);
});

test('Dynamo 4.8: joiners that lost claim races, and donors overdrawn by concurrent joins, top up (claimStep) until every active node owns at least floor(Q/m) and all are members', () => {
  fc.assert(
    fc.property(joinPlanArb, (plan) => {
      let s = playJoins(plan);
      const ids = [...s.members.keys()];
      for (let round = 0; round < 20; round++) {
        const before = s;
        // Each node's claim step (what GyreNode runs after every gossip exchange), then its transfers.
        for (const id of ids) s = completeAll(claimStep(s, info(Number(id.slice(1)))));
        if (sameState(before, s)) break;
      }
      const active = activeMembers(s).length;
      const floor = Math.floor(plan.q / active);
      for (const m of s.members.values()) {
        assert.equal(m.state, 'member', `${m.id} still ${m.state}\n  ${describe(s)}`);
        const owned = s.ring.filter((r) => r.owner === m.id).length;
        assert.ok(owned >= floor, `${m.id} owns ${owned} < floor(${plan.q}/${active})\n  ${describe(s)}`);
      }
    }),
    { numRuns: 150, examples: [[overdrawnDonor]] },
  );
});

test('Dynamo 4.8: a single join claims exactly the fair share as pending transfers and leaves owners in place', () => {
  for (const q of [8, 16, 64]) {
    const a = foundState(info(0), q, 3);
    const b = info(1);
    const planned = planJoin(a, b);
    assert.equal(planned.members.get(b.id)?.state, 'joining');
    const pending = planned.ring.filter((r) => r.pendingTo === b.id);
    assert.equal(pending.length, q / 2);
    for (const r of planned.ring) assert.equal(r.owner, 'n0', 'ownership must not move before the data does');
    // Planning again changes nothing: the share is already claimed.
    assert.equal(planJoin(planned, b), planned);
    // Not a member until the transfers complete.
    assert.equal(admitIfSettled(planned, b.id), planned);
    const done = admitIfSettled(completeAll(planned), b.id);
    assert.equal(done.members.get(b.id)?.state, 'member');
    assert.equal(done.ring.filter((r) => r.owner === b.id).length, q / 2);
  }
});

// ---- Leaves

test('Dynamo 4.8: planLeave moves only the leaving node\'s partitions, as pending transfers to remaining members', () => {
  fc.assert(
    fc.property(stateArb, nodeIx, (s, i) => {
      const id = info(i).id;
      const me = s.members.get(id);
      const after = planLeave(s, id);
      if (!me || me.state === 'left') {
        assert.equal(after, s, 'a stranger or a departed node cannot leave');
        return;
      }
      const remaining = [...s.members.values()].filter((m) => m.id !== id && (m.state === 'member' || m.state === 'joining')).map((m) => m.id);
      const target = targetRingOf(s);
      if (remaining.length === 0 && target.owners.includes(id)) {
        assert.equal(after, s, 'the last member cannot leave');
        return;
      }
      assert.equal(after.members.get(id)?.state, 'leaving');
      assert.equal(after.members.get(id)?.version, me.version + 1);
      for (const [other, m] of s.members) if (other !== id) assert.deepEqual(after.members.get(other), m, `member ${other} changed`);
      after.ring.forEach((r, p) => {
        const b = s.ring[p]!;
        assert.equal(r.owner, b.owner, `partition ${p}: ownership moved before its data`);
        if (target.owners[p] !== id) {
          assert.deepEqual(r, b, `partition ${p} (target ${target.owners[p]}) is not the leaving node's but changed`);
          return;
        }
        assert.equal(r.epoch, b.epoch + 1, `partition ${p}: a changed plan must bump the epoch`);
        assert.notEqual(r.pendingTo, id);
        if (r.pendingTo !== undefined) assert.ok(remaining.includes(r.pendingTo), `partition ${p} handed to ${r.pendingTo}, not a remaining member`);
        else assert.notEqual(r.owner, id, `partition ${p} stays with the leaving node`);
      });
      // Once the hand-offs complete the node owns nothing and may be marked left.
      const done = markLeftIfDone(completeAll(after), id);
      assert.ok(done.ring.every((r) => r.owner !== id));
      assert.equal(done.members.get(id)?.state, 'left');
    }),
    { numRuns: 400 },
  );
});

test('Dynamo 4.8: the last member of a cluster cannot leave', () => {
  const alone = foundState(info(0), 8, 3);
  assert.equal(planLeave(alone, 'n0'), alone);
  // A cluster whose other node already left: still the last.
  let two = admitIfSettled(completeAll(planJoin(alone, info(1))), 'n1');
  two = markLeftIfDone(completeAll(planLeave(two, 'n0')), 'n0');
  assert.equal(two.members.get('n0')?.state, 'left');
  assert.equal(planLeave(two, 'n1'), two);
  assert.equal(planLeave(two, 'n0'), two, 'a node that left cannot leave again');
});

// ---- Transfers and placeholders

test('Dynamo 4.8: completeTransfer switches ownership of the planned target only; a superseded plan is ignored', () => {
  const base = planJoin(foundState(info(0), 8, 3), info(1));
  const p = base.ring.findIndex((r) => r.pendingTo === 'n1');
  assert.ok(p >= 0);
  const q = base.ring.findIndex((r) => r.pendingTo === undefined);
  // A newer plan for partition p (n2's claim, one epoch later) supersedes n1's.
  const newer: ClusterState = { ...base, ring: base.ring.map((r, i) => (i === p ? { owner: r.owner, epoch: r.epoch + 1, pendingTo: 'n2' } : r)) };
  const superseded = mergeStates(base, newer);
  const cases: readonly [what: string, s: ClusterState, p: number, to: string, changes: boolean][] = [
    ['the planned target', base, p, 'n1', true],
    ['another node', base, p, 'n2', false],
    ['the current owner', base, p, 'n0', false],
    ['a partition with nothing pending', base, q, 'n1', false],
    ['a partition out of range', base, 99, 'n1', false],
    ['the target of a superseded plan', superseded, p, 'n1', false],
    ['the target of the newer plan', superseded, p, 'n2', true],
  ];
  for (const [what, s, part, to, changes] of cases) {
    const after = completeTransfer(s, part, to);
    if (!changes) {
      assert.equal(after, s, `completing to ${what} must change nothing`);
      continue;
    }
    assert.deepEqual(after.ring[part], { owner: to, epoch: s.ring[part]!.epoch + 1, pendingTo: undefined }, what);
    after.ring.forEach((r, i) => i !== part && assert.equal(r, s.ring[i]));
    // The switch beats the plan it completes in any later merge.
    assertSame(mergeStates(s, after), after, `${what}: merge with the older plan`);
  }
});

test('Dynamo 4.8: completeTransfer ignores any target other than the current plan\'s', () => {
  fc.assert(
    fc.property(stateArb, fc.nat(), fc.constantFrom('n0', 'n1', 'n2', 'n3', 'n-stranger'), (s, raw, to) => {
      const p = raw % s.partitions;
      const after = completeTransfer(s, p, to);
      if (s.ring[p]!.pendingTo !== to) assert.equal(after, s);
      else assert.deepEqual(after.ring[p], { owner: to, epoch: s.ring[p]!.epoch + 1, pendingTo: undefined });
    }),
    { numRuns: 300 },
  );
});

test('Dynamo 4.8: confirmPlaceholders only changes epoch-0 records of that node (to epoch 1)', () => {
  fc.assert(
    fc.property(stateArb, nodeIx, (s, i) => {
      const id = info(i).id;
      const after = confirmPlaceholders(s, id);
      assert.equal(after.members, s.members);
      const touched = s.ring.some((r) => r.epoch === 0 && r.owner === id);
      if (!touched) assert.equal(after, s);
      after.ring.forEach((r, p) => {
        const b = s.ring[p]!;
        if (b.epoch === 0 && b.owner === id) assert.deepEqual(r, { ...b, epoch: 1 });
        else assert.equal(r, b);
      });
    }),
    { numRuns: 300 },
  );
  // A joiner's placeholders lose to a confirmed ring, never win by tie-break.
  const a = confirmPlaceholders(joiningState(info(0), 8, 3, undefined), 'n0');
  const b = joiningState(info(1), 8, 3, undefined);
  assert.ok(mergeStates(a, b).ring.every((r) => r.owner === 'n0'));
});

// ---- Peer choice

function clusterOf(live: number, dead: number, left: number): { s: ClusterState; up: Set<string> } {
  let s = foundState(info(0), 64, 3);
  const up = new Set<string>();
  for (let i = 1; i <= live + dead + left; i++) {
    s = admitIfSettled(completeAll(planJoin(s, info(i))), `n${i}`);
    if (i <= live) up.add(`n${i}`);
  }
  for (let i = live + dead + 1; i <= live + dead + left; i++) s = markLeftIfDone(completeAll(planLeave(s, `n${i}`)), `n${i}`);
  return { s, up };
}

test('Dynamo 4.8: pickGossipPeers never returns self or a left member, and returns a live peer whenever one exists', () => {
  fc.assert(
    fc.property(stateArb, nodeIx, fc.array(fc.boolean(), { minLength: nodeCount, maxLength: nodeCount }), fc.integer(), (s, i, upFlags, seed) => {
      const self = info(i).id;
      const isUp = (id: string): boolean => upFlags[Number(id.slice(1))] ?? false;
      const rng = new Rng(seed);
      const { live, unreachable } = pickGossipPeers(s, self, isUp, () => rng.next());
      const candidates = [...s.members.values()].filter((m) => m.id !== self && m.state !== 'left');
      for (const x of [live, unreachable]) {
        if (x === undefined) continue;
        assert.notEqual(x, self);
        assert.notEqual(s.members.get(x)?.state, 'left');
        assert.ok(s.members.has(x));
      }
      if (live !== undefined) assert.ok(isUp(live), 'the live pick must be up');
      if (unreachable !== undefined) assert.ok(!isUp(unreachable), 'the probe must be a peer we see down');
      assert.equal(live !== undefined, candidates.some((m) => isUp(m.id)), 'a live peer exists iff one is picked');
    }),
    { numRuns: 300 },
  );
  const { s, up } = clusterOf(2, 1, 2);
  for (let seed = 0; seed < 200; seed++) {
    const rng = new Rng(seed);
    const { live, unreachable } = pickGossipPeers(s, 'n0', (id) => up.has(id), () => rng.next());
    assert.ok(live === 'n1' || live === 'n2');
    assert.ok(unreachable === undefined || unreachable === 'n3');
  }
});

// live peers, unreachable peers -> expected probe probability
const probeCases: readonly [live: number, dead: number][] = [
  [1, 1],
  [3, 1],
  [2, 3],
  [5, 2],
  [0, 2],
  [1, 4],
  [4, 0],
];

for (const [live, dead] of probeCases) {
  const want = Math.min(1, dead / (live + 1));
  test(`Cassandra gossip rule: with ${live} live and ${dead} unreachable peers, an unreachable one is probed with probability ${want.toFixed(3)}, chosen uniformly`, () => {
    const { s, up } = clusterOf(live, dead, 1);
    const rng = new Rng(`probe-${live}-${dead}`);
    const draws = 20_000;
    let probes = 0;
    const liveHits = new Map<string, number>();
    const deadHits = new Map<string, number>();
    for (let k = 0; k < draws; k++) {
      const pick = pickGossipPeers(s, 'n0', (id) => up.has(id), () => rng.next());
      if (pick.live !== undefined) liveHits.set(pick.live, (liveHits.get(pick.live) ?? 0) + 1);
      else assert.equal(live, 0);
      if (pick.unreachable !== undefined) {
        probes++;
        deadHits.set(pick.unreachable, (deadHits.get(pick.unreachable) ?? 0) + 1);
      }
    }
    const tolerance = 5 * Math.sqrt((want * (1 - want)) / draws) + 0.005;
    assert.ok(Math.abs(probes / draws - want) <= tolerance, `probe frequency ${probes / draws}, expected ${want} ± ${tolerance}`);
    for (const [hits, count, total] of [
      [liveHits, live, draws],
      [deadHits, dead, probes],
    ] as const) {
      if (count === 0) continue;
      assert.equal(hits.size, count, 'every candidate gets picked sometimes');
      for (const [id, h] of hits) assert.ok(Math.abs(h / total - 1 / count) <= 0.03, `${id} picked ${h}/${total}, expected about 1/${count}`);
    }
  });
}

// ---- Convergence

/** One simulated cluster: node 0 founded it, the others start joining with n0 as their seed. */
function simulateGossip(nodes: number, seed: number): { rounds: number; converged: boolean } {
  const rng = new Rng(`gossip-${nodes}-${seed}`);
  const q = 64;
  const seedState = foundState(info(0), q, 3);
  const states: ClusterState[] = [seedState];
  for (let i = 1; i < nodes; i++) {
    const me: MemberInfo = { id: `n${i}`, http: `127.0.0.1:${8000 + i}`, internode: `127.0.0.1:${9000 + i}` };
    // Each node has heard from the seed once, and planned its join on that (divergent) view.
    let s = mergeStates(joiningState(me, q, 3, undefined), seedState);
    s = planJoin(s, me);
    if (rng.next() < 0.5) s = completeAll(s);
    for (let b = rng.int(4); b > 0; b--) s = beat(s, me);
    states.push(s);
  }
  const maxRounds = 200;
  for (let round = 1; round <= maxRounds; round++) {
    const order = Array.from({ length: nodes }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    // A round's exchanges start from the states at the round's start (they run concurrently);
    // each side merges what it received into whatever it holds by then.
    const start = [...states];
    for (const i of order) {
      const { live } = pickGossipPeers(start[i]!, `n${i}`, () => true, () => rng.next());
      if (live === undefined) continue;
      const j = Number(live.slice(1));
      const mine = start[i]!;
      const theirs = states[j]!;
      states[j] = mergeStates(theirs, mine); // push
      states[i] = mergeStates(states[i]!, theirs); // pull
    }
    if (states.every((s) => sameState(s, states[0]!))) return { rounds: round, converged: true };
  }
  return { rounds: maxRounds, converged: false };
}

test('Dynamo 4.8: push-pull gossip with random peers makes 3..30 nodes agree within c*log2(n) rounds', (t) => {
  const c = 4;
  let worst = 0;
  const worstByN: string[] = [];
  for (const nodes of [3, 4, 5, 8, 12, 16, 20, 25, 30]) {
    let maxRounds = 0;
    for (let seed = 0; seed < 10; seed++) {
      const { rounds, converged } = simulateGossip(nodes, seed);
      const bound = Math.ceil(c * Math.log2(nodes)) + 1;
      assert.ok(converged && rounds <= bound, `${nodes} nodes (seed ${seed}) took ${rounds} rounds > ${bound}`);
      maxRounds = Math.max(maxRounds, rounds);
    }
    worst = Math.max(worst, maxRounds / Math.log2(nodes));
    worstByN.push(`n=${nodes}: ${maxRounds}`);
  }
  t.diagnostic(`max rounds to agree over 10 seeds: ${worstByN.join(', ')}; worst rounds/log2(n) = ${worst.toFixed(2)} (bound c=${c})`);
});
