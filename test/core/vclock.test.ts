// Vector clock laws (Dynamo 4.4), checked against a reference model: a clock is the Set of
// its events ("actor:counter"); join is set union, covers is membership, compare is the
// subset order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type Entry,
  type VClock,
  type PruneLimits,
  clockToJson,
  compare,
  covers,
  descends,
  emptyClock,
  increment,
  join,
  maxCounter,
  normalize,
  prune,
} from '../../node-core/src/core/vclock.js';
import {
  type ModelClock,
  actors,
  build,
  canonicalClock,
  counterMax,
  ev,
  eventSetArb,
  eventsOf,
  isSubset,
  modelClockArb,
  representationArb,
  sameSet,
  union,
} from './gen.js';

const runs = { numRuns: 400 };

/** Pairs and triples that are often related, so order laws are exercised on both sides. */
const relatedPairArb: fc.Arbitrary<[ModelClock, ModelClock]> = fc.oneof(
  fc.tuple(modelClockArb, modelClockArb),
  fc.tuple(modelClockArb, modelClockArb).map(([a, x]): [ModelClock, ModelClock] => [a, { events: union(a.events, x.events), clock: join(a.clock, x.clock) }]),
  fc.tuple(modelClockArb, modelClockArb).map(([a, x]): [ModelClock, ModelClock] => [{ events: union(a.events, x.events), clock: join(a.clock, x.clock) }, a]),
  fc.tuple(eventSetArb, representationArb, representationArb).map(([s, r1, r2]): [ModelClock, ModelClock] => [build(s, r1), build(new Set(s), r2)]),
);

function expectedOrder(a: ReadonlySet<string>, b: ReadonlySet<string>): string {
  const ab = isSubset(a, b);
  const ba = isSubset(b, a);
  return ab && ba ? 'equal' : ab ? 'before' : ba ? 'after' : 'concurrent';
}

test('Dynamo 4.4: normalize is canonical: every representation of one event set gives the same clock', () => {
  fc.assert(
    fc.property(eventSetArb, representationArb, (events, r) => {
      const clock = build(events, r).clock;
      assert.deepEqual(clock, canonicalClock(events));
    }),
    runs,
  );
});

test('Dynamo 4.4: normalize keeps exactly the events it is given (no event added or lost)', () => {
  fc.assert(
    fc.property(modelClockArb, ({ events, clock }) => {
      assert.ok(sameSet(eventsOf(clock), events));
    }),
    runs,
  );
});

test('Dynamo 4.4: vector clock join is the union of the event sets', () => {
  fc.assert(
    fc.property(modelClockArb, modelClockArb, (a, b) => {
      assert.deepEqual(join(a.clock, b.clock), canonicalClock(union(a.events, b.events)));
    }),
    runs,
  );
});

test('Dynamo 4.4: vector clock join is commutative', () => {
  fc.assert(
    fc.property(modelClockArb, modelClockArb, (a, b) => {
      assert.deepEqual(join(a.clock, b.clock), join(b.clock, a.clock));
    }),
    runs,
  );
});

test('Dynamo 4.4: vector clock join is associative', () => {
  fc.assert(
    fc.property(modelClockArb, modelClockArb, modelClockArb, (a, b, c) => {
      assert.deepEqual(join(join(a.clock, b.clock), c.clock), join(a.clock, join(b.clock, c.clock)));
    }),
    runs,
  );
});

test('Dynamo 4.4: vector clock join is idempotent and has the empty clock as identity', () => {
  fc.assert(
    fc.property(modelClockArb, ({ clock }) => {
      assert.deepEqual(join(clock, clock), clock);
      assert.deepEqual(join(clock, emptyClock), clock);
      assert.deepEqual(join(emptyClock, clock), clock);
    }),
    runs,
  );
});

test('Dynamo 4.4: covers(clock, event) is event-set membership', () => {
  const probeActors = [...actors, 'z'];
  fc.assert(
    fc.property(modelClockArb, ({ events, clock }) => {
      for (const actor of probeActors) {
        for (let counter = 1; counter <= counterMax + 2; counter++) {
          assert.equal(covers(clock, { actor, counter }), events.has(ev(actor, counter)), `covers ${actor}:${counter}`);
        }
      }
    }),
    runs,
  );
});

test('Dynamo 4.4: compare is the subset order on event sets (equal, before, after, concurrent)', () => {
  fc.assert(
    fc.property(relatedPairArb, ([a, b]) => {
      assert.equal(compare(a.clock, b.clock), expectedOrder(a.events, b.events));
    }),
    runs,
  );
});

test('Dynamo 4.4: compare is consistent with descends', () => {
  fc.assert(
    fc.property(relatedPairArb, ([a, b]) => {
      const ab = descends(a.clock, b.clock);
      const ba = descends(b.clock, a.clock);
      const expected = ab && ba ? 'equal' : ab ? 'after' : ba ? 'before' : 'concurrent';
      assert.equal(compare(a.clock, b.clock), expected);
      assert.equal(ab, isSubset(b.events, a.events));
    }),
    runs,
  );
});

test('Dynamo 4.4: descends is reflexive', () => {
  fc.assert(
    fc.property(modelClockArb, ({ clock }) => {
      assert.ok(descends(clock, clock));
      assert.equal(compare(clock, clock), 'equal');
    }),
    runs,
  );
});

test('Dynamo 4.4: descends is antisymmetric up to compare(...) === "equal"', () => {
  fc.assert(
    fc.property(relatedPairArb, ([a, b]) => {
      if (descends(a.clock, b.clock) && descends(b.clock, a.clock)) {
        assert.equal(compare(a.clock, b.clock), 'equal');
        // Canonical form: equal clocks are the same value, not just equivalent.
        assert.deepEqual(a.clock, b.clock);
      }
    }),
    runs,
  );
});

test('Dynamo 4.4: descends is transitive', () => {
  // Chains a <= b <= c built by joins, plus unrelated triples checked as an implication.
  const chainArb = fc.tuple(modelClockArb, modelClockArb, modelClockArb).map(([a, x, y]) => {
    const b = join(a.clock, x.clock);
    return [a.clock, b, join(b, y.clock)] as const;
  });
  fc.assert(
    fc.property(chainArb, ([a, b, c]) => {
      assert.ok(descends(b, a) && descends(c, b));
      assert.ok(descends(c, a));
    }),
    runs,
  );
  fc.assert(
    fc.property(modelClockArb, modelClockArb, modelClockArb, (a, b, c) => {
      if (descends(a.clock, b.clock) && descends(b.clock, c.clock)) assert.ok(descends(a.clock, c.clock));
    }),
    runs,
  );
});

test('Dynamo 4.4: increment adds exactly the next event of the actor, after everything the clock knows of it', () => {
  fc.assert(
    fc.property(modelClockArb, fc.constantFrom(...actors, 'z'), fc.nat(), ({ events, clock }, actor, nowMs) => {
      const { clock: next, dot } = increment(clock, actor, nowMs);
      const highest = Math.max(0, ...[...events].filter((e) => e.startsWith(`${actor}:`)).map((e) => Number(e.split(':')[1])));
      assert.equal(maxCounter(clock, actor), highest);
      assert.deepEqual(dot, { actor, counter: highest + 1, ts: nowMs });
      assert.ok(sameSet(eventsOf(next), union(events, new Set([ev(actor, highest + 1)]))));
      assert.equal(compare(next, clock), 'after');
    }),
    runs,
  );
});

test('Dynamo 4.4: clockToJson shows each actor\'s highest counter', () => {
  fc.assert(
    fc.property(modelClockArb, ({ events, clock }) => {
      const expected: Record<string, number> = {};
      for (const e of events) {
        const [actor, n] = e.split(':') as [string, string];
        expected[actor] = Math.max(expected[actor] ?? 0, Number(n));
      }
      assert.deepEqual({ ...clockToJson(clock) }, expected);
    }),
    runs,
  );
});

// --- pruning (riak_core vclock:prune/3) ---

/** Clocks over many actors with independent timestamps, the shape pruning acts on. */
const wideClockArb = fc
  .array(
    fc.record({
      actor: fc.integer({ min: 0, max: 15 }).map((i) => `x${i.toString().padStart(2, '0')}`),
      counter: fc.integer({ min: 1, max: 4 }),
      ts: fc.integer({ min: 0, max: 100_000 }),
      gapDot: fc.option(fc.integer({ min: 6, max: 9 }), { nil: undefined }),
    }),
    { maxLength: 16 },
  )
  .map((specs) => {
    const entries: Entry[] = specs.map((s) => ({ actor: s.actor, counter: s.counter, ts: s.ts }));
    const dots: Entry[] = specs.filter((s) => s.gapDot !== undefined).map((s) => ({ actor: s.actor, counter: s.gapDot!, ts: s.ts + 1 }));
    return normalize(entries, dots);
  });

const limitsArb: fc.Arbitrary<PruneLimits> = fc
  .record({ entriesSmall: fc.nat({ max: 10 }), extraBig: fc.nat({ max: 5 }), youngMs: fc.nat({ max: 50_000 }), extraOld: fc.nat({ max: 60_000 }) })
  .map((l) => ({ entriesSmall: l.entriesSmall, entriesBig: l.entriesSmall + l.extraBig, youngMs: l.youngMs, oldMs: l.youngMs + l.extraOld }));

function actorEvents(events: ReadonlySet<string>, actor: string): string[] {
  return [...events].filter((e) => e.startsWith(`${actor}:`));
}

test('riak vclock:prune: prune never adds events and forgets whole actors only', () => {
  fc.assert(
    fc.property(wideClockArb, fc.integer({ min: 0, max: 200_000 }), limitsArb, (clock, nowMs, limits) => {
      const before = eventsOf(clock);
      const after = eventsOf(prune(clock, nowMs, limits));
      assert.ok(isSubset(after, before), 'pruned clock names an event the original did not');
      for (const e of clock.entries) {
        const kept = actorEvents(after, e.actor).length;
        assert.ok(kept === 0 || kept === actorEvents(before, e.actor).length, `actor ${e.actor} partly pruned`);
      }
    }),
    runs,
  );
});

test('riak vclock:prune: prune never drops the `keep` actor (a version\'s own dot survives)', () => {
  fc.assert(
    fc.property(wideClockArb, fc.integer({ min: 0, max: 200_000 }), limitsArb, fc.nat({ max: 15 }), (clock, nowMs, limits, k) => {
      const keep = clock.entries[k % Math.max(1, clock.entries.length)]?.actor ?? 'x00';
      const before = eventsOf(clock);
      const after = eventsOf(prune(clock, nowMs, limits, keep));
      assert.deepEqual(actorEvents(after, keep).sort(), actorEvents(before, keep).sort());
    }),
    runs,
  );
});

test('riak vclock:prune: a clock at or below entriesSmall, and every entry younger than youngMs, is kept', () => {
  fc.assert(
    fc.property(wideClockArb, fc.integer({ min: 0, max: 200_000 }), limitsArb, (clock, nowMs, limits) => {
      const pruned = prune(clock, nowMs, limits);
      if (clock.entries.length <= limits.entriesSmall) assert.equal(pruned, clock);
      else assert.ok(pruned.entries.length >= limits.entriesSmall, 'pruned below entriesSmall');
      const keptActors = new Set(pruned.entries.map((e) => e.actor));
      for (const e of clock.entries) {
        if (nowMs - e.ts <= limits.youngMs) assert.ok(keptActors.has(e.actor), `young entry ${e.actor} pruned`);
      }
    }),
    runs,
  );
});

test('riak vclock:prune: with defaults, a clock over entriesSmall loses its oldest entries first', () => {
  const entries: Entry[] = [];
  for (let i = 0; i < 52; i++) entries.push({ actor: `n${i.toString().padStart(2, '0')}`, counter: 1, ts: i * 60_000 });
  const clock: VClock = normalize(entries, []);
  const nowMs = 52 * 60_000;
  const pruned = prune(clock, nowMs);
  assert.deepEqual(
    pruned.entries.map((e) => e.actor),
    entries.slice(2).map((e) => e.actor),
  );
  // The keep actor is skipped, so the next oldest goes instead.
  const keepOldest = prune(clock, nowMs, undefined, 'n00');
  assert.deepEqual(
    keepOldest.entries.map((e) => e.actor),
    ['n00', ...entries.slice(3).map((e) => e.actor)],
  );
});
