// A key's causal graph (issue 14): edges by clock dominance, transitively reduced, equal
// clocks merged, implied fork points of concurrent siblings, layers for drawing. Examples as
// the console meets them, then properties against the pointwise order stated directly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type CausalGraph, type CausalVersion, causalGraph, causalVersionsMax } from '../../node-core/src/core/causal.js';

const v = (version: string, clock: Record<string, number>, heldBy: string[] = ['n1'], deleted = false): CausalVersion => ({ version, clock, deleted, heldBy });

function shape(g: CausalGraph): { nodes: string[]; edges: string[] } {
  return {
    nodes: g.nodes.map((x) => `${x.id}|${x.kind}|L${x.layer}${x.sibling ? '|sibling' : ''}`),
    edges: g.edges.map((e) => `${e.from}->${e.to}`),
  };
}

test('issue 14: one version is one sibling node, no edges', () => {
  const g = causalGraph([v('a:1', { a: 1 }, ['n1', 'n2', 'n3'])]);
  assert.deepEqual(shape(g), { nodes: ['a:1|version|L0|sibling'], edges: [] });
  assert.deepEqual(g.nodes[0]!.heldBy, ['n1', 'n2', 'n3']);
});

test('issue 14: two concurrent writes from the same (superseded) base get that base as an implied ancestor', () => {
  // Both writers read {a:1}; one wrote through a (a:2), the other through b (b:1).
  const g = causalGraph([v('a:2', { a: 2 }, ['n1']), v('b:1', { a: 1, b: 1 }, ['n2', 'n3'])]);
  assert.deepEqual(shape(g), {
    nodes: ['ancestor(a:1)|ancestor|L0', 'a:2|version|L1|sibling', 'b:1|version|L1|sibling'],
    edges: ['ancestor(a:1)->a:2', 'ancestor(a:1)->b:1'],
  });
  const anc = g.nodes[0]!;
  assert.deepEqual(anc.clock, { a: 1 });
  assert.equal(anc.heldBy, undefined, 'nobody holds an implied ancestor');
});

test('issue 14: a stale replica holding the ancestor: it is a version node, not implied, and not a sibling', () => {
  const g = causalGraph([v('a:1', { a: 1 }, ['n3']), v('a:2', { a: 2 }, ['n1']), v('b:1', { a: 1, b: 1 }, ['n2'])]);
  assert.deepEqual(shape(g), {
    nodes: ['a:1|version|L0', 'a:2|version|L1|sibling', 'b:1|version|L1|sibling'],
    edges: ['a:1->a:2', 'a:1->b:1'],
  });
});

test('issue 14: a chain is transitively reduced (no a:1 -> a:3 shortcut)', () => {
  const g = causalGraph([v('a:3', { a: 3 }), v('a:1', { a: 1 }), v('a:2', { a: 2 })]);
  assert.deepEqual(shape(g), { nodes: ['a:1|version|L0', 'a:2|version|L1', 'a:3|version|L2|sibling'], edges: ['a:1->a:2', 'a:2->a:3'] });
});

test('issue 14: three-way siblings from one base share one implied ancestor', () => {
  const base = { a: 4, b: 2 };
  const g = causalGraph([v('a:5', { ...base, a: 5 }), v('b:3', { ...base, b: 3 }), v('c:1', { ...base, c: 1 })]);
  assert.deepEqual(shape(g), {
    nodes: ['ancestor(a:4,b:2)|ancestor|L0', 'a:5|version|L1|sibling', 'b:3|version|L1|sibling', 'c:1|version|L1|sibling'],
    edges: ['ancestor(a:4,b:2)->a:5', 'ancestor(a:4,b:2)->b:3', 'ancestor(a:4,b:2)->c:1'],
  });
});

test('issue 14: siblings that forked at different points get each fork, and the forks are ordered', () => {
  // x and y forked from {a:1}; z forked from {a:1,b:1} against y.
  const g = causalGraph([v('x', { a: 2 }), v('y', { a: 1, b: 2 }), v('z', { a: 1, b: 1, c: 1 })]);
  assert.deepEqual(shape(g), {
    nodes: ['ancestor(a:1)|ancestor|L0', 'ancestor(a:1,b:1)|ancestor|L1', 'x|version|L1|sibling', 'y|version|L2|sibling', 'z|version|L2|sibling'],
    edges: ['ancestor(a:1)->ancestor(a:1,b:1)', 'ancestor(a:1)->x', 'ancestor(a:1,b:1)->y', 'ancestor(a:1,b:1)->z'],
  });
});

test('issue 14: equal clocks are one node: versions and holders merged, deleted only if all are', () => {
  const g = causalGraph([v('a:2', { a: 2, b: 0 }, ['n1']), v('a:2', { a: 2 }, ['n2']), v('a:2#copy', { a: 2 }, ['n3'], true)]);
  assert.equal(g.nodes.length, 1);
  const n = g.nodes[0]!;
  assert.deepEqual(n.versions, ['a:2', 'a:2#copy']);
  assert.deepEqual(n.heldBy, ['n1', 'n2', 'n3']);
  assert.equal(n.deleted, false);
  assert.equal(n.sibling, true);
});

test('issue 14: blind writes with no common history get no empty ancestor', () => {
  const g = causalGraph([v('a:1', { a: 1 }), v('b:1', { b: 1 })]);
  assert.deepEqual(shape(g), { nodes: ['a:1|version|L0|sibling', 'b:1|version|L0|sibling'], edges: [] });
});

test('issue 14: an actor named __proto__ or constructor is a counter like any other', () => {
  const g = causalGraph([v('x', JSON.parse('{"__proto__": 2, "constructor": 1}') as Record<string, number>), v('y', JSON.parse('{"__proto__": 1, "constructor": 2}') as Record<string, number>)]);
  const anc = g.nodes.find((x) => x.kind === 'ancestor')!;
  assert.deepEqual(Object.entries(anc.clock), [['__proto__', 1], ['constructor', 1]]);
});

test('issue 14: a tombstone sibling keeps its flag', () => {
  const g = causalGraph([v('a:2', { a: 2 }, ['n1'], true), v('b:1', { a: 1, b: 1 }, ['n2'])]);
  assert.equal(g.nodes.find((x) => x.id === 'a:2')!.deleted, true);
  assert.equal(g.nodes.find((x) => x.id === 'b:1')!.deleted, false);
});

test('issue 14: at most causalVersionsMax versions; bad clocks are refused with a RangeError', () => {
  const many = Array.from({ length: causalVersionsMax + 1 }, (_, i) => v(`a:${i + 1}`, { a: i + 1 }));
  assert.throws(() => causalGraph(many), /at most 64/);
  assert.equal(causalGraph(many.slice(0, causalVersionsMax)).nodes.length, causalVersionsMax);
  const bad: [string, unknown][] = [
    ['negative counter', [v('x', { a: -1 })]],
    ['fractional counter', [v('x', { a: 1.5 })]],
    ['string counter', [{ version: 'x', clock: { a: '1' }, deleted: false, heldBy: [] }]],
    ['clock is an array', [{ version: 'x', clock: [1], deleted: false, heldBy: [] }]],
    ['no version id', [{ version: '', clock: {}, deleted: false, heldBy: [] }]],
    ['one id, two clocks', [v('x', { a: 1 }), v('x', { a: 2 })]],
    ['holders not strings', [{ version: 'x', clock: {}, deleted: false, heldBy: [1] }]],
    ['not a list', { version: 'x' }],
  ];
  for (const [what, input] of bad) assert.throws(() => causalGraph(input as CausalVersion[]), RangeError, what);
});

test('issue 14: 64 pairwise concurrent siblings stay bounded (ancestors capped, quickly)', () => {
  // Each sibling bumps its own actor over a shared base: every pair meets at the base, one node.
  const base = { z: 1 };
  const wide = Array.from({ length: 64 }, (_, i) => v(`s${i}`, { ...base, [`s${i}`]: 1 }));
  const t0 = performance.now();
  const g = causalGraph(wide);
  assert.ok(performance.now() - t0 < 2000);
  assert.equal(g.nodes.filter((x) => x.kind === 'ancestor').length, 1);
  // Each pair forking at its own point: 2016 meets, capped.
  const pairs = Array.from({ length: 64 }, (_, i) => v(`p${i}`, Object.fromEntries(Array.from({ length: 64 }, (_, j) => [`a${j}`, j === i ? 3 : 2 + ((i + j) % 2)]))));
  const h = causalGraph(pairs);
  assert.ok(h.nodes.filter((x) => x.kind === 'ancestor').length <= 64);
  assert.equal(h.nodes.filter((x) => x.kind === 'ancestor').length + h.ancestorsOmitted > 0, true);
});

// Properties: random clocks over three actors.

const clockArb = fc.record({ a: fc.integer({ min: 0, max: 3 }), b: fc.integer({ min: 0, max: 3 }), c: fc.integer({ min: 0, max: 3 }) });
const versionsArb = fc.array(clockArb, { minLength: 0, maxLength: 12 }).map((cs) => cs.map((clock, i) => v(`v${i}`, clock, [`n${i % 3}`])));
const leq = (x: Record<string, number>, y: Record<string, number>) => ['a', 'b', 'c'].every((k) => (x[k] ?? 0) <= (y[k] ?? 0));
const lt = (x: Record<string, number>, y: Record<string, number>) => leq(x, y) && !leq(y, x);

test('issue 14 (property): edges are exactly the covering pairs of the dominance order; siblings are the maximal held versions; layers are longest paths', () => {
  fc.assert(
    fc.property(versionsArb, (versions) => {
      const g = causalGraph(versions);
      const byId = new Map(g.nodes.map((n) => [n.id, n]));
      const edgeSet = new Set(g.edges.map((e) => `${e.from}>${e.to}`));
      // No two nodes share a clock.
      const clocks = g.nodes.map((n) => JSON.stringify(n.clock));
      assert.equal(new Set(clocks).size, clocks.length);
      for (const x of g.nodes) {
        for (const y of g.nodes) {
          const covering = lt(x.clock, y.clock) && !g.nodes.some((z) => lt(x.clock, z.clock) && lt(z.clock, y.clock));
          assert.equal(edgeSet.has(`${x.id}>${y.id}`), covering, `${x.id}->${y.id}`);
        }
        const preds = g.edges.filter((e) => e.to === x.id).map((e) => byId.get(e.from)!.layer);
        assert.equal(x.layer, preds.length === 0 ? 0 : 1 + Math.max(...preds));
      }
      // Every held version is in some node; siblings are those no held version dominates.
      for (const ver of versions) {
        const node = g.nodes.find((n) => n.versions?.includes(ver.version));
        assert.ok(node, `${ver.version} is drawn`);
        assert.equal(node.sibling, !versions.some((o) => lt(ver.clock, o.clock)));
      }
      for (const n of g.nodes) if (n.kind === 'ancestor') assert.equal(n.sibling, false);
      // Every implied ancestor precedes at least two siblings.
      for (const n of g.nodes) if (n.kind === 'ancestor') assert.ok(g.nodes.filter((s) => s.sibling && lt(n.clock, s.clock)).length >= 2);
    }),
    { numRuns: 500 },
  );
});

// --- exact events (the dot cloud), as /replicas sends them ---------------------------------------

const ev = (version: string, entries: Record<string, number>, dots: [string, number][], heldBy: string[] = ['n1']): CausalVersion => {
  const clock: Record<string, number> = { ...entries };
  for (const [a, c] of dots) clock[a] = Math.max(clock[a] ?? 0, c);
  return { version, clock, events: { entries, dots: dots.map(([actor, counter]) => ({ actor, counter })) }, deleted: false, heldBy };
};

test('issue 14: two blind writes through one node are siblings, not a chain, once their exact events are known', () => {
  // n1:1 is {n1:1}; the second blind write is the lone event n1:2, which never saw n1:1.
  const first = ev('n1:1', { n1: 1 }, []);
  const second = ev('n1:2', {}, [['n1', 2]]);
  assert.deepEqual(shape(causalGraph([first, second])), { nodes: ['n1:1|version|L0|sibling', 'n1:2|version|L0|sibling'], edges: [] });
  // The summaries alone ({n1:1}, {n1:2}) would order them: what the events are for.
  assert.deepEqual(shape(causalGraph([v('n1:1', { n1: 1 }), v('n1:2', { n1: 2 })])).edges, ['n1:1->n1:2']);
  // A write that read both supersedes both.
  const merged = ev('n1:3', { n1: 3 }, []);
  assert.deepEqual(shape(causalGraph([first, second, merged])), { nodes: ['n1:1|version|L0', 'n1:2|version|L0', 'n1:3|version|L1|sibling'], edges: ['n1:1->n1:3', 'n1:2->n1:3'] });
});

test('issue 14: the fork point of siblings with dots is the events both saw', () => {
  // Both saw {a:1} and the lone event a:3; one added b:1, the other c:1.
  const g = causalGraph([ev('b:1', { a: 1, b: 1 }, [['a', 3]]), ev('c:1', { a: 1, c: 1 }, [['a', 3]])]);
  const anc = g.nodes.find((n) => n.kind === 'ancestor')!;
  assert.deepEqual(anc.clock, { a: 3 }, 'drawn by its summary');
  assert.deepEqual(shape(g).edges, [`${anc.id}->b:1`, `${anc.id}->c:1`]);
  // A held version with a:1 alone is below the fork, not the fork itself.
  const g2 = causalGraph([ev('a:1', { a: 1 }, []), ev('b:1', { a: 1, b: 1 }, [['a', 3]]), ev('c:1', { a: 1, c: 1 }, [['a', 3]])]);
  assert.equal(g2.nodes.filter((n) => n.kind === 'ancestor').length, 1);
  assert.ok(shape(g2).edges.includes(`a:1->${g2.nodes.find((n) => n.kind === 'ancestor')!.id}`));
});

test('issue 14: events are checked like clocks: bad dots are refused with a RangeError', () => {
  for (const bad of [{ entries: { a: 1 }, dots: 'x' }, { entries: { a: 1 }, dots: [{ actor: 'a', counter: 0 }] }, { entries: { a: -1 }, dots: [] }, { entries: {}, dots: [{ actor: 7, counter: 1 }] }, { entries: {}, dots: Array.from({ length: 300 }, (_, i) => ({ actor: 'a', counter: i + 2 })) }, null]) {
    assert.throws(() => causalGraph([{ version: 'x:1', clock: { a: 1 }, events: bad as never, deleted: false, heldBy: [] }]), RangeError, JSON.stringify(bad)?.slice(0, 80));
  }
});

/** Event sets over two actors, counters 1..4, as prefix + dots. */
const eventsArb = fc.record({ a: fc.subarray([1, 2, 3, 4]), b: fc.subarray([1, 2, 3, 4]) });
type EventSet = { a: number[]; b: number[] };
const asVersion = (id: string, e: EventSet): CausalVersion => {
  const entries: Record<string, number> = {};
  const dots: [string, number][] = [];
  for (const actor of ['a', 'b'] as const) {
    let p = 0;
    while (e[actor].includes(p + 1)) p++;
    if (p > 0) entries[actor] = p;
    for (const c of e[actor]) if (c > p) dots.push([actor, c]);
  }
  return ev(id, entries, dots);
};
const subset = (x: EventSet, y: EventSet) => x.a.every((c) => y.a.includes(c)) && x.b.every((c) => y.b.includes(c));

test('issue 14 (property): with exact events, an edge joins x to y exactly when y saw every event of x and no held version sits between', () => {
  fc.assert(
    fc.property(fc.uniqueArray(eventsArb, { minLength: 1, maxLength: 6, selector: (e) => JSON.stringify([e.a.slice().sort(), e.b.slice().sort()]) }), (sets) => {
      const nonEmpty = sets.filter((e) => e.a.length + e.b.length > 0);
      if (nonEmpty.length === 0) return;
      const versions = nonEmpty.map((e, i) => asVersion(`v${i}`, e));
      const g = causalGraph(versions);
      const lt = (x: EventSet, y: EventSet) => subset(x, y) && !subset(y, x);
      const edges = new Set(g.edges.map((e) => `${e.from}>${e.to}`));
      const reaches = (from: string, to: string, seen = new Set<string>()): boolean => g.edges.some((e) => e.from === from && (e.to === to || (!seen.has(e.to) && (seen.add(e.to), reaches(e.to, to, seen)))));
      for (const [i, x] of nonEmpty.entries()) {
        for (const [j, y] of nonEmpty.entries()) if (lt(x, y)) assert.ok(reaches(`v${i}`, `v${j}`), `v${j} saw v${i}: a path joins them`);
        const sibling = !nonEmpty.some((y) => lt(x, y));
        assert.equal(g.nodes.find((n) => n.id === `v${i}`)!.sibling, sibling, `v${i} sibling`);
        for (const [j, y] of nonEmpty.entries()) {
          if (!lt(x, y)) assert.ok(!edges.has(`v${i}>v${j}`), `no edge v${i}->v${j}`);
          // Held versions only: implied ancestors may sit between, so only check no edge skips a held one.
          if (lt(x, y) && nonEmpty.some((z) => lt(x, z) && lt(z, y))) assert.ok(!edges.has(`v${i}>v${j}`), `v${i}->v${j} skips a version between`);
        }
      }
    }),
    { numRuns: 500 },
  );
});
