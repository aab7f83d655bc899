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
