// Sibling sets (Dynamo 4.4 syntactic reconciliation, with dotted version vectors), checked
// on versions produced by random histories of clients and replicas (see history.ts), so every
// input is one a real cluster could hold.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Siblings, type Version, contextOf, coordinatePut, sameSiblings, syncSiblings } from '../../node-core/src/core/siblings.js';
import { mergeReplies, staleReplicas } from '../../node-core/src/core/read-repair.js';
import { type VClock, covers, defaultPruneLimits, emptyClock, join } from '../../node-core/src/core/vclock.js';
import { eventsOf, sameSet } from './gen.js';
import { History, type Op, actorOf, dotKey, historyArb, replicaCount } from './history.js';

const runs = { numRuns: 300 };

function dots(vs: Siblings): string[] {
  return vs.map(dotKey).sort();
}

function pick<T>(items: readonly T[], mask: readonly boolean[]): T[] {
  return items.filter((_, i) => mask[i % mask.length] ?? false);
}

const maskArb = fc.array(fc.boolean(), { minLength: 1, maxLength: 48 });

/** Three sibling sets drawn from the versions one history ever wrote. */
const threeSetsArb = fc.tuple(historyArb, maskArb, maskArb, maskArb).map(([ops, m1, m2, m3]) => {
  const h = History.run(ops);
  const all = [...h.written.values()];
  return { h, a: pick(all, m1), b: pick(all, m2), c: pick(all, m3) };
});

/** The versions of `vs` no other version of `vs` supersedes, by the reference model. */
function maximal(h: History, vs: Siblings): string[] {
  const keys = [...new Set(vs.map(dotKey))];
  return keys.filter((d) => !keys.some((w) => w !== d && h.history.get(w)!.has(d))).sort();
}

const payload = { deleted: false, contentType: 'text/plain', value: new Uint8Array([1, 2, 3]) };

// --- model-based histories ---

test('Dynamo 4.4: a version\'s clock names exactly the writes its client observed, plus its own dot', () => {
  fc.assert(
    fc.property(historyArb, (ops) => {
      const h = History.run(ops);
      for (const p of h.puts) {
        assert.ok(sameSet(eventsOf(p.context), p.observed), `context of op ${p.op} differs from what its client observed`);
        assert.ok(sameSet(eventsOf(p.version.clock), h.history.get(dotKey(p.version))!), `clock of op ${p.op}`);
        assert.ok(covers(p.version.clock, p.version.dot), 'a version covers its own dot');
      }
    }),
    runs,
  );
});

test('Dynamo 4.4: no acknowledged write is lost unless a later write\'s context covered it (checked after every step)', () => {
  fc.assert(
    fc.property(historyArb, (ops: Op[]) => {
      const h = new History();
      ops.forEach((op, i) => {
        h.apply(op, i);
        const held = new Set(h.replicas.flatMap((r) => r.map(dotKey)));
        const superseded = h.supersededDots();
        for (const d of h.written.keys()) {
          assert.ok(held.has(d) || superseded.has(d), `write ${d} vanished after op ${i} (${op.kind}) though no write observed it`);
        }
        for (const r of h.replicas) {
          // Each replica holds an antichain with unique dots: nothing it holds is obsolete.
          assert.deepEqual(dots(r), maximal(h, r));
          assert.equal(new Set(dots(r)).size, r.length);
        }
      });
    }),
    runs,
  );
});

test('Dynamo 4.7: after full sync all replicas hold identical sibling sets: exactly the writes nobody observed being overwritten', () => {
  fc.assert(
    fc.property(historyArb, (ops) => {
      const h = History.run(ops);
      h.fullSync();
      const first = h.replicas[0]!;
      for (const r of h.replicas) {
        assert.deepEqual(r, first);
        assert.ok(sameSiblings(r, first));
      }
      const superseded = h.supersededDots();
      const expected = [...h.written.keys()].filter((d) => !superseded.has(d)).sort();
      assert.deepEqual(dots(first), expected);
      // Same dot, same write: the version kept is the one acknowledged, payload and all.
      for (const v of first) assert.deepEqual(v, h.written.get(dotKey(v)));
    }),
    runs,
  );
});

// --- syncSiblings laws ---

test('Dynamo 4.4: syncSiblings keeps exactly the versions no other version in either set supersedes', () => {
  fc.assert(
    fc.property(threeSetsArb, ({ h, a, b }) => {
      assert.deepEqual(dots(syncSiblings(a, b)), maximal(h, [...a, ...b]));
    }),
    runs,
  );
});

test('Dynamo 4.4: syncSiblings is commutative (as sets of dots)', () => {
  fc.assert(
    fc.property(threeSetsArb, ({ a, b }) => {
      assert.deepEqual(dots(syncSiblings(a, b)), dots(syncSiblings(b, a)));
    }),
    runs,
  );
});

test('Dynamo 4.4: syncSiblings is associative (as sets of dots)', () => {
  fc.assert(
    fc.property(threeSetsArb, ({ a, b, c }) => {
      assert.deepEqual(dots(syncSiblings(syncSiblings(a, b), c)), dots(syncSiblings(a, syncSiblings(b, c))));
    }),
    runs,
  );
});

test('Dynamo 4.4: syncSiblings is idempotent (as sets of dots)', () => {
  fc.assert(
    fc.property(threeSetsArb, ({ a, b }) => {
      const ab = syncSiblings(a, b);
      assert.deepEqual(dots(syncSiblings(ab, ab)), dots(ab));
      assert.deepEqual(dots(syncSiblings(ab, a)), dots(ab));
      assert.deepEqual(dots(syncSiblings(ab, [])), dots(ab));
    }),
    runs,
  );
});

// --- coordinatePut ---

/** A replica's state somewhere in a history, plus versions for building contexts. */
const localAndPoolArb = fc.tuple(historyArb, fc.nat({ max: replicaCount - 1 }), maskArb).map(([ops, r, mask]) => {
  const h = History.run(ops);
  return { h, replica: r, local: h.replicas[r]!, chosen: pick([...h.written.values()], mask) };
});

test('Dynamo 4.5: a PUT with the context of the current siblings leaves exactly one version, the new one', () => {
  fc.assert(
    fc.property(localAndPoolArb, ({ replica, local }) => {
      const { versions, version } = coordinatePut(local, contextOf(local), actorOf(replica), 9e12, payload);
      assert.equal(versions.length, 1);
      assert.deepEqual(versions[0], version);
    }),
    runs,
  );
});

test('Dynamo 4.5: a PUT with an empty context never removes a version: the new one becomes a sibling', () => {
  fc.assert(
    fc.property(localAndPoolArb, ({ replica, local }) => {
      const { versions, version } = coordinatePut(local, emptyClock, actorOf(replica), 9e12, payload);
      assert.deepEqual(dots(versions), [...dots(local), dotKey(version)].sort());
    }),
    runs,
  );
});

test('Dynamo 4.5: a PUT supersedes exactly the versions whose dot its context covers, with a fresh dot', () => {
  fc.assert(
    fc.property(localAndPoolArb, ({ replica, local, chosen }) => {
      // Any context a client could hold: what some set of versions says.
      const context: VClock = contextOf(chosen);
      const { versions, version } = coordinatePut(local, context, actorOf(replica), 9e12, payload);
      const kept = local.filter((v) => !covers(context, v.dot));
      assert.deepEqual(dots(versions), [...dots(kept), dotKey(version)].sort());
      assert.ok(!covers(context, version.dot) && !covers(contextOf(local), version.dot), 'the new dot was already used');
      assert.ok(sameSet(eventsOf(version.clock), new Set([...eventsOf(context), dotKey(version)])));
    }),
    runs,
  );
});

test('Dynamo 4.5: coordinated PUTs in a history supersede exactly what their client observed', () => {
  fc.assert(
    fc.property(historyArb, (ops) => {
      const h = History.run(ops);
      for (const p of h.puts) {
        const removed = p.before.filter((v) => !p.after.some((w) => dotKey(w) === dotKey(v)));
        assert.deepEqual(dots(removed), dots(p.before.filter((v) => p.observed.has(dotKey(v)))));
        assert.ok(p.after.some((w) => dotKey(w) === dotKey(p.version)));
      }
    }),
    runs,
  );
});

test('Dynamo 4.4: a PUT on an empty key starts the actor at counter 1 and later PUTs count up', () => {
  const first = coordinatePut([], emptyClock, 'n1', 1000, payload);
  assert.deepEqual(first.version.dot, { actor: 'n1', counter: 1, ts: 1000 });
  const second = coordinatePut(first.versions, emptyClock, 'n1', 2000, payload);
  assert.deepEqual(second.version.dot, { actor: 'n1', counter: 2, ts: 2000 });
  assert.equal(second.versions.length, 2);
  // A context that saw only the second write supersedes only it (the first stays a sibling).
  const third = coordinatePut(second.versions, second.version.clock, 'n1', 3000, payload);
  assert.deepEqual(dots(third.versions), ['n1:1', 'n1:3']);
});

// --- read repair ---

test('Dynamo 4.5: read repair merges all replies and names exactly the replicas whose set differs from the merge', () => {
  fc.assert(
    fc.property(threeSetsArb, ({ h, a, b, c }) => {
      const replies = [
        { node: 'x', versions: syncSiblings(a, []) },
        { node: 'y', versions: syncSiblings(b, []) },
        { node: 'z', versions: syncSiblings(c, []) },
      ];
      const merged = mergeReplies(replies);
      assert.deepEqual(dots(merged), maximal(h, [...a, ...b, ...c]));
      const expected = replies.filter((r) => dots(r.versions).join() !== dots(merged).join()).map((r) => r.node);
      assert.deepEqual(staleReplicas(replies, merged), expected);
    }),
    runs,
  );
});

// --- pruning ---

// Every writer coordinates for a key whose replicas include node A, so A's actor is protected.
function writeChain(start: Version[], writers: readonly string[], t0: number, stepMs: number): Version[] {
  let cur = start;
  writers.forEach((actor, i) => {
    cur = coordinatePut(cur, contextOf(cur), actor, t0 + i * stepMs, payload, defaultPruneLimits, ['A']).versions;
  });
  return cur;
}

test(
  'Dynamo 4.4: a replica\'s actor is never pruned, so it never issues the same dot twice (default limits, 51 actors)',
  () => {
    const enc = new TextEncoder();
    const v1 = coordinatePut([], emptyClock, 'A', 0, { ...payload, value: enc.encode('v1') }).versions;
    let replicaA: Version[] = v1; // node A's replica
    const replicaOld: Version[] = syncSiblings([], v1); // a replica that then stays partitioned
    // 50 further actors (other owners over time) each overwrite with the current context.
    const writers = Array.from({ length: 50 }, (_, i) => `X${i.toString().padStart(2, '0')}`);
    const afterFirst = writeChain(v1, writers.slice(0, 1), 60_000, 60_000);
    replicaA = syncSiblings(replicaA, afterFirst);
    const afterAll = writeChain(afterFirst, writers.slice(1), 120_000, 60_000);
    replicaA = syncSiblings(replicaA, afterAll); // the 51-entry clock was pruned: A is gone
    // A client reads node A's replica and writes: coordinated by actor A.
    const v4 = coordinatePut(replicaA, contextOf(replicaA), 'A', 10_000_000, { ...payload, value: enc.encode('v4') });
    assert.notDeepEqual(v4.version.dot.counter, 1, 'dot A:1 was issued a second time');
    const old = syncSiblings(replicaOld, v4.versions);
    const fresh = syncSiblings(v4.versions, replicaOld);
    assert.deepEqual(old, fresh, 'replicas diverge after syncing each other');
  },
);

// Pruning forgets events, so "covered by" stops being transitive: sync(sync(u,w),v) keeps v
// while sync(u, sync(w,v)) does not. Merges still commute, so two replicas that exchange
// states agree afterwards; the cost is a resurrected sibling, never a lost write.
test('Dynamo 4.4: with a pruned clock, replicas that merged in different orders agree after one exchange', () => {
  const tight = { entriesSmall: 2, entriesBig: 2, youngMs: 0, oldMs: 0 };
  const v = coordinatePut([], emptyClock, 'A', 0, payload); // A:1
  const w = coordinatePut(v.versions, v.version.clock, 'B', 10, payload); // B:1 covers A:1
  const u = coordinatePut(w.versions, join(w.version.clock, emptyClock), 'C', 100_000, payload, tight); // C:1 covers B:1, A pruned
  const left = syncSiblings(syncSiblings([u.version], [w.version]), [v.version]);
  const right = syncSiblings([u.version], syncSiblings([w.version], [v.version]));
  assert.deepEqual(dots(syncSiblings(left, right)), dots(syncSiblings(right, left)));
  assert.ok(dots(syncSiblings(left, right)).includes(dots([u.version])[0]!), 'the newest write survives');
});
