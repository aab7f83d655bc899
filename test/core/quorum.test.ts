// Quorum decisions (Dynamo 4.5: R and W of N) as a three-way result, and gatherQuorum,
// which turns replica calls into that result.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type VoteResult, quorumResult } from '../../node-core/src/core/quorum.js';
import { gatherQuorum } from '../../node-core/src/core/coordinator.js';
import type { Env, TimerHandle } from '../../node-core/src/core/env.js';

// successes, failures, needed, total -> result
const cases: readonly [s: number, f: number, needed: number, total: number, want: VoteResult, why: string][] = [
  [0, 0, 2, 3, 'pending', 'nobody answered yet'],
  [1, 0, 2, 3, 'pending', 'one of two acks'],
  [2, 0, 2, 3, 'won', 'W=2 reached'],
  [3, 0, 2, 3, 'won', 'more than needed'],
  [1, 1, 2, 3, 'pending', 'the last replica can still make it'],
  [0, 1, 2, 3, 'pending', 'two replicas left, two needed'],
  [0, 2, 2, 3, 'lost', 'one replica left, two needed'],
  [1, 2, 2, 3, 'lost', 'all answered, one short'],
  [2, 1, 2, 3, 'won', 'won despite a failure'],
  [0, 0, 1, 1, 'pending', 'N=1, waiting'],
  [1, 0, 1, 1, 'won', 'N=1, acked'],
  [0, 1, 1, 1, 'lost', 'N=1, failed'],
  [0, 0, 3, 3, 'pending', 'W=N waits for all'],
  [2, 0, 3, 3, 'pending', 'W=N, one missing'],
  [2, 1, 3, 3, 'lost', 'W=N fails on any failure'],
  [0, 1, 3, 3, 'lost', 'W=N fails fast on the first failure'],
  [0, 0, 0, 3, 'won', 'nothing needed'],
  [0, 3, 0, 3, 'won', 'nothing needed, even if all fail'],
  [0, 0, 4, 3, 'lost', 'more needed than voters'],
  [0, 0, 1, 0, 'lost', 'no voters at all'],
  [0, 0, 0, 0, 'won', 'no voters, none needed'],
  [2, 2, 3, 5, 'pending', 'N=5: one remaining, one more needed'],
  [2, 3, 3, 5, 'lost', 'N=5: all answered, one short'],
  [2, 3, 3, 6, 'pending', 'N=6: the last one can still make it'],
  [1, 3, 3, 5, 'lost', 'N=5: one remaining, two needed'],
];

for (const [s, f, needed, total, want, why] of cases) {
  test(`Dynamo 4.5: quorumResult(successes=${s}, failures=${f}, needed=${needed}, total=${total}) is ${want}: ${why}`, () => {
    assert.equal(quorumResult(s, f, needed, total), want);
  });
}

test('Dynamo 4.5: quorumResult is won iff enough succeeded, lost iff too few can still answer', () => {
  fc.assert(
    fc.property(fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.nat({ max: 9 }), (total, a, b, needed) => {
      const s = a % (total + 1);
      const f = b % (total - s + 1);
      const r = quorumResult(s, f, needed, total);
      const want: VoteResult = s >= needed ? 'won' : total - f < needed ? 'lost' : 'pending';
      assert.equal(r, want);
      // Monotone: one more success never turns won into anything else, one more failure never un-loses.
      if (r === 'won' && s + f < total) assert.equal(quorumResult(s, f + 1, needed, total), 'won');
      if (r === 'lost' && s + f < total) assert.equal(quorumResult(s + 1, f, needed, total), 'lost');
    }),
    { numRuns: 500 },
  );
});

// --- gatherQuorum ---

/** An Env whose timers fire only when the test says so. */
class ManualEnv implements Env {
  readonly timers: { ms: number; fn: () => void; cancelled: boolean; fired: boolean }[] = [];
  now(): number {
    return 0;
  }
  random(): number {
    return 0.5;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = { ms, fn, cancelled: false, fired: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }
  fireAll(): void {
    for (const t of this.timers) {
      if (t.cancelled || t.fired) continue;
      t.fired = true;
      t.fn();
    }
  }
}

test('Dynamo 4.5: gatherQuorum decides the moment the needed acks arrive (or can no longer arrive), whatever the reply order', async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), fc.nat({ max: 8 }), async (s, outcomes, rawNeeded) => {
      const env = new ManualEnv();
      const targets = outcomes.map((_, i) => `n${i}`);
      // 1..N: the coordinator refuses R or W above the replica count before it gathers.
      const needed = 1 + (rawNeeded % targets.length);
      // The scheduler picks the order replies arrive in; the failure is raised after delivery so
      // that only gatherQuorum's own handler ever sees the rejected promise.
      const call = (node: string): Promise<number> =>
        s.schedule(Promise.resolve(Number(node.slice(1))), `reply from ${node}`).then((i) => {
          if (!outcomes[i]) throw new Error(`${node} down`);
          return i;
        });
      const { decided, settled } = gatherQuorum(env, targets, needed, 1000, call);
      // After each reply (and the microtasks it triggers), note whether a decision exists yet.
      let isDecided = false;
      void decided.then(() => (isDecided = true));
      let decidedAt = -1;
      let answered = 0;
      while (s.count() > 0) {
        await s.waitOne();
        answered++;
        await new Promise((r) => setImmediate(r));
        if (isDecided && decidedAt < 0) decidedAt = answered;
      }
      const d = await decided;
      const st = await settled;
      const successes = outcomes.filter(Boolean).length;
      const want: VoteResult = successes >= needed ? 'won' : 'lost';
      assert.equal(d.vote, want);
      if (want === 'won') {
        assert.equal(d.replies.length, needed, 'decided later than the needed-th ack');
      } else {
        assert.equal(d.failures.length, targets.length - needed + 1, 'decided later than the first hopeless failure');
        assert.ok(d.replies.length < needed);
      }
      assert.equal(decidedAt, d.replies.length + d.failures.length);
      assert.equal(st.vote, want);
      assert.equal(st.replies.length + st.failures.length, targets.length);
      assert.deepEqual(st.replies.map((r) => r.value).sort(), outcomes.flatMap((ok, i) => (ok ? [i] : [])));
      assert.ok(env.timers.every((t) => t.cancelled), 'timer left running after every replica answered');
    }),
    { numRuns: 200 },
  );
});

test('Dynamo 4.5: gatherQuorum with replicas that never answer ends as pending at the timeout, and later replies change nothing', async () => {
  const env = new ManualEnv();
  let release!: (v: string) => void;
  const late = new Promise<string>((r) => (release = r));
  const { decided, settled } = gatherQuorum(env, ['a', 'b', 'c'], 2, 500, async (node) => (node === 'a' ? 'fast' : late));
  await new Promise((r) => setImmediate(r));
  assert.equal(env.timers.length, 1);
  assert.equal(env.timers[0]!.ms, 500);
  env.fireAll();
  const d = await decided;
  const st = await settled;
  assert.equal(d.vote, 'pending');
  assert.deepEqual(d.replies, [{ node: 'a', value: 'fast' }]);
  assert.equal(st.vote, 'pending');
  release('slow');
  await new Promise((r) => setImmediate(r));
  assert.equal(d.replies.length, 1, 'a decided outcome was mutated after the fact');
  assert.equal(st.replies.length, 1);
});

test('Dynamo 4.5: gatherQuorum with no targets decides at once (won if none needed, else lost)', async () => {
  const env = new ManualEnv();
  assert.equal((await gatherQuorum(env, [], 0, 100, async () => 1).decided).vote, 'won');
  assert.equal((await gatherQuorum(env, [], 1, 100, async () => 1).decided).vote, 'lost');
  assert.equal((await gatherQuorum(env, [], 1, 100, async () => 1).settled).vote, 'lost');
});
