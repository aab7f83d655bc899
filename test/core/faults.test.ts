// Injected faults (issue 5), the pure part: what a fault request may say, what a fault does to
// one message, and the fault table as a CRDT (union of faults minus union of heals), so that
// injections and heals made at once on different nodes never undo each other.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type Fault,
  type FaultTable,
  activeFaults,
  cuts,
  emptyFaultTable,
  faultsMax,
  linkEffect,
  mergeFaultTables,
  parseFaultSpec,
  sameFaultTable,
  withFault,
  withoutFaults,
} from '../../node-core/src/core/faults.js';
import { pack, unpack } from 'msgpackr';
import { encodeRequest, fromWireFaults, parseFaultTable, parseRequest, toWireFaults } from '../../node-core/src/net/messages.js';

const now = 1_000_000;

function fault(id: string, spec: Fault['spec'] = { kind: 'loss', nodes: undefined, probability: 0.5 }, until: number | undefined = undefined, startedAt = now): Fault {
  return { id, spec, startedAt, until };
}

test('faults: a fault request is validated: kinds, node lists, probabilities, durations, sides of a partition', () => {
  const bad: [unknown, RegExp][] = [
    [null, /JSON object/],
    [{ kind: 'flood' }, /kind must be one of/],
    [{ kind: 'loss', probability: 2 }, /probability/],
    [{ kind: 'loss' }, /probability is required/],
    [{ kind: 'latency', delayMs: -1 }, /delayMs/],
    [{ kind: 'partition' }, /from is required/],
    [{ kind: 'partition', from: ['n1'], to: ['n1', 'n2'] }, /both sides/],
    [{ kind: 'partition', from: ['bad id!'] }, /not a node id/],
    [{ kind: 'pause' }, /node must name/],
    [{ kind: 'pause', node: 'n1', durationMs: 10 * 60_000 }, /durationMs/],
    [{ kind: 'loss', probability: 0.1, durationMs: 0 }, /durationMs/],
  ];
  for (const [raw, why] of bad) {
    const p = parseFaultSpec(raw);
    assert.equal(p.ok, false, JSON.stringify(raw));
    if (!p.ok) assert.match(p.reason, why, JSON.stringify(raw));
  }
  const ok = parseFaultSpec({ kind: 'partition', from: 'n1, n2', oneWay: true, durationMs: '5000' });
  assert.deepEqual(ok, { ok: true, spec: { kind: 'partition', from: ['n1', 'n2'], to: undefined, oneWay: true }, durationMs: 5000 });
  const pause = parseFaultSpec({ kind: 'pause', node: 'n3' });
  assert.ok(pause.ok && pause.durationMs === 10_000, 'a pause lasts 10 s unless told otherwise');
  const crash = parseFaultSpec({ kind: 'crash', node: 'n3', durationMs: 5000 });
  assert.ok(crash.ok && crash.durationMs === undefined, 'a crash has no duration');
});

test('faults: a partition cuts exactly the links between its sides (both ways unless one-way)', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4'];
  const both = { kind: 'partition' as const, from: ['n1', 'n2'], to: undefined, oneWay: false };
  const oneWay = { kind: 'partition' as const, from: ['n1'], to: ['n3'], oneWay: true };
  for (const a of nodes) {
    for (const b of nodes) {
      if (a === b) continue;
      const sideA = both.from.includes(a);
      const sideB = both.from.includes(b);
      assert.equal(cuts(both, a, b), sideA !== sideB, `${a}->${b} across the split`);
      assert.equal(cuts(oneWay, a, b), a === 'n1' && b === 'n3', `${a}->${b} one-way n1->n3`);
    }
  }
});

test('faults: loss drops with its probability, latency adds delay and jitter, only on links touching its nodes', () => {
  const loss = [fault('l', { kind: 'loss', nodes: ['n2'], probability: 0.25 })];
  assert.equal(linkEffect(loss, 'n1', 'n3', () => 0).dropBy, undefined, 'a link not touching n2 is spared');
  assert.equal(linkEffect(loss, 'n1', 'n2', () => 0.2).dropBy, 'l');
  assert.equal(linkEffect(loss, 'n2', 'n1', () => 0.3).dropBy, undefined);
  const latency = [fault('d', { kind: 'latency', nodes: undefined, delayMs: 100, jitterMs: 50 })];
  assert.equal(linkEffect(latency, 'n1', 'n2', () => 0).delayMs, 100);
  assert.equal(linkEffect(latency, 'n1', 'n2', () => 0.999).delayMs, 150);
  const healed = activeFaults({ faults: [fault('x', undefined, now - 1)], healed: [] }, now);
  assert.deepEqual(healed, [], 'an expired fault is not in force');
});

const arbTable: fc.Arbitrary<FaultTable> = fc
  .record({
    faults: fc.uniqueArray(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), until: fc.option(fc.integer({ min: now + 1, max: now + 10_000 }), { nil: undefined }), startedAt: fc.integer({ min: now - 5000, max: now }) }), { selector: (f) => f.id }),
    healed: fc.uniqueArray(fc.record({ id: fc.constantFrom('a', 'b', 'c', 'x'), until: fc.integer({ min: now + 1, max: now + 10_000 }) }), { selector: (h) => h.id }),
  })
  .map((t) => mergeFaultTables(emptyFaultTable, { faults: t.faults.map((f) => fault(f.id, undefined, f.until, f.startedAt)), healed: t.healed }, now));

test('faults: merging fault tables is commutative, associative and idempotent', () => {
  const m = (a: FaultTable, b: FaultTable) => mergeFaultTables(a, b, now);
  fc.assert(
    fc.property(arbTable, arbTable, arbTable, (a, b, c) => {
      assert.ok(sameFaultTable(m(a, b), m(b, a)), 'commutative');
      assert.ok(sameFaultTable(m(m(a, b), c), m(a, m(b, c))), 'associative');
      assert.ok(sameFaultTable(m(a, a), a), 'idempotent');
    }),
  );
});

test('faults: two faults injected at once on different nodes both stay; a heal-all does not remove a fault it never saw; a stale copy does not bring a healed fault back', () => {
  const onN1 = withFault(emptyFaultTable, fault('n1-1'), now);
  const onN2 = withFault(emptyFaultTable, fault('n2-1'), now);
  const merged = mergeFaultTables(onN1, onN2, now);
  assert.deepEqual(activeFaults(merged, now).map((f) => f.id).sort(), ['n1-1', 'n2-1']);
  const healedOnN1 = withoutFaults(onN1, undefined, now);
  const later = mergeFaultTables(healedOnN1, onN2, now);
  assert.deepEqual(activeFaults(later, now).map((f) => f.id), ['n2-1'], 'the heal-all on n1 healed n1-1 only');
  const stale = mergeFaultTables(later, onN1, now);
  assert.deepEqual(activeFaults(stale, now).map((f) => f.id), ['n2-1'], 'n1-1 stays healed');
});

test('faults: the table is bounded, and survives the wire with relative times', () => {
  let t = emptyFaultTable;
  for (let i = 0; i < faultsMax + 10; i++) t = withFault(t, fault(`f${String(i).padStart(3, '0')}`, undefined, undefined, now + i), now);
  assert.equal(t.faults.length, faultsMax, 'the oldest give way');
  assert.equal(t.faults[0]!.id, 'f010');
  const one = withoutFaults(withFault(emptyFaultTable, fault('p', { kind: 'partition', from: ['n1'], to: undefined, oneWay: false }, now + 4000, now - 1000), now), 'none', now);
  const wire = toWireFaults(one, now);
  const req = parseRequest(unpack(pack(encodeRequest({ t: 'faults', table: wire }))));
  assert.ok(req.ok && req.value.t === 'faults', 'a packed table parses');
  const back = fromWireFaults(req.value.table, now + 500_000);
  assert.equal(back.faults[0]!.startedAt, now + 500_000 - 1000, 'age carried, not a clock');
  assert.equal(back.faults[0]!.until, now + 500_000 + 4000, 'time left carried');
  assert.equal(parseFaultTable([[['id', { kind: 'flood' }, 0, null]], []]), undefined, 'a bad spec in a table is refused');
  assert.equal(parseFaultTable([[], [['id', -5]]]), undefined, 'a bad healed entry is refused');
});
