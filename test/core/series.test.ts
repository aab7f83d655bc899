// The console history's series (issue 14), computed from generated ClusterSnapshots by the pure
// electron/backend/series.ts: what each series is, rates from cumulative counters (a restart is a
// reset, never a negative rate), and the bounds that hold whatever the cluster sends.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clusterSeries, describe, nodeSeries, nodeSeriesSuffixes, nodesPerSampleMax, sampleOf, seriesOf, valueAbsMax } from '../../electron/backend/series.js';
import type { ClusterSnapshot } from '../../node-core/src/wire/control.js';
import { type NodeFigures, clusterSnapshot } from '../helpers/snapshots.js';

const t0 = Date.UTC(2030, 0, 1);
const three = (at: number, f: Partial<NodeFigures> = {}): NodeFigures[] => ['n1', 'n2', 'n3'].map((id) => ({ id, at, ...f }));

test('history series: the cluster-wide figures come from the snapshot as they are (ops per second, percentiles null without requests, storage, hints, levels)', () => {
  const s = seriesOf(clusterSnapshot({ at: t0, nodes: three(t0), perSecond: 42, p50: null, p99: null, p999: null, hints: 7, drainPerSecond: 1.5, siblings: 3, repairedPerSecond: 2, readRepairsPerSecond: 0.25, merkleAgree: [true, false, null, false] }));
  assert.deepEqual([...s.keys()].slice(0, clusterSeries.length), [...clusterSeries], 'cluster-wide series first, in the exported order');
  assert.equal(s.get('ops.get'), 42);
  assert.equal(s.get('ops.delete'), 42);
  for (const p of ['p50', 'p99', 'p999']) assert.equal(s.get(`${p}.put`), null, `${p} is null with no requests`);
  assert.equal(s.get('hints'), 7);
  assert.equal(s.get('hintsDrain'), 1.5);
  assert.equal(s.get('siblings'), 3);
  assert.equal(s.get('aeRepaired'), 2);
  assert.equal(s.get('readRepairs'), 0.25);
  assert.equal(s.get('keys'), 3 * 12_345);
  assert.equal(s.get('bytes'), 3 * 4_567_890);
  assert.equal(s.get('merkleDisagree'), 2, 'false counts, null (not every replica reported) does not');
  assert.equal(s.get('nodesUp'), 3);
  assert.equal(s.get('nodesDown'), 0);
});

test('history series: per node, ops is the sum of the ops last second, p99 the worst op, hints the sum held; an unreachable node has only up = 0; suspect is neither up nor down', () => {
  const nodes: NodeFigures[] = [
    { id: 'n1', at: t0, lastSecond: 5, p99: 4, hintsFor: { n3: 2, n4: 5 }, keys: 10, bytes: 100 },
    { id: 'n2', at: t0, status: 'suspect' },
    { id: 'n3', at: t0, unreachable: true, status: 'down' },
  ];
  const s = seriesOf(clusterSnapshot({ at: t0, nodes }));
  assert.equal(s.get('node.n1.ops'), 15);
  assert.equal(s.get('node.n1.p99'), 4);
  assert.equal(s.get('node.n1.hints'), 7);
  assert.equal(s.get('node.n1.keys'), 10);
  assert.equal(s.get('node.n1.bytes'), 100);
  assert.equal(s.get('node.n1.up'), 1);
  assert.equal(s.get('node.n2.up'), 0, 'answered, but the attached node suspects it');
  assert.equal(s.get('node.n3.up'), 0);
  assert.equal(s.has('node.n3.keys'), false, 'nothing else for an unreachable node');
  assert.equal(s.get('nodesUp'), 1);
  assert.equal(s.get('nodesDown'), 1);
  assert.deepEqual(nodeSeries('n1'), nodeSeriesSuffixes.map((x) => `node.n1.${x}`));
});

test('history series: errors and unavailable are per second from the cumulative counters of each node against the previous snapshot (null on the first, and after a gap over 10 s)', () => {
  const first = clusterSnapshot({ at: t0, nodes: three(t0, { errors: 10, unavailable: 1 }) });
  const second = clusterSnapshot({ at: t0 + 2000, nodes: three(t0 + 2000, { errors: 14, unavailable: 1 }) });
  assert.equal(seriesOf(first).get('errors'), null, 'no previous snapshot: no rate');
  // 3 nodes x 3 ops x 4 more errors in 2 s.
  assert.equal(seriesOf(second, first).get('errors'), 18);
  assert.equal(seriesOf(second, first).get('unavailable'), 0);
  const late = clusterSnapshot({ at: t0 + 12_000, nodes: three(t0 + 12_000, { errors: 20 }) });
  assert.equal(seriesOf(late, first).get('errors'), null, 'a reading 12 s old gives no rate');
});

test('history series: a counter that goes down is a reset (the node restarted): its increase is its new value, never a negative rate; a restart seen in the start time is a reset too', () => {
  const before = clusterSnapshot({ at: t0, nodes: three(t0, { errors: 100 }) });
  const restarted = clusterSnapshot({ at: t0 + 1000, nodes: [{ id: 'n1', at: t0 + 1000, errors: 2, startedAt: t0 + 500 }, { id: 'n2', at: t0 + 1000, errors: 100 }, { id: 'n3', at: t0 + 1000, errors: 100 }] });
  // n1 counts 2 per op since its restart: 6 per second; the others nothing.
  assert.equal(seriesOf(restarted, before).get('errors'), 6);
  const restartedHigher = clusterSnapshot({ at: t0 + 1000, nodes: [{ id: 'n1', at: t0 + 1000, errors: 150, startedAt: t0 + 900 }, { id: 'n2', at: t0 + 1000, errors: 100 }, { id: 'n3', at: t0 + 1000, errors: 100 }] });
  assert.equal(seriesOf(restartedHigher, before).get('errors'), 450, 'a new process: all of its 150 x 3 errors are new, not 50 x 3');
});

test('history series: node ids that cannot name a series are skipped, a repeated id counts once, and at most 200 nodes (the first by id) are kept', () => {
  const nodes: NodeFigures[] = [{ id: 'ok-1', at: t0 }, { id: 'bad id', at: t0 }, { id: 'x'.repeat(65), at: t0 }, { id: 'a/b', at: t0 }, { id: 'ok-1', at: t0, keys: 999 }];
  const s = seriesOf(clusterSnapshot({ at: t0, nodes }));
  assert.deepEqual([...s.keys()].filter((k) => k.startsWith('node.')), nodeSeries('ok-1'));
  assert.equal(s.get('node.ok-1.keys'), 12_345, 'the first report of a repeated id');
  const many = Array.from({ length: 1000 }, (_, i) => ({ id: `n${String(i).padStart(4, '0')}`, at: t0 }));
  const big = seriesOf(clusterSnapshot({ at: t0, nodes: many }));
  assert.equal(big.size, clusterSeries.length + nodesPerSampleMax * nodeSeriesSuffixes.length);
  assert.ok(big.has('node.n0199.up') && !big.has('node.n0200.up'));
});

test('history series: figures that are not finite numbers within 1e15 are recorded as null; fractions are kept to 3 decimals', () => {
  const s = clusterSnapshot({ at: t0, nodes: three(t0) });
  const hostile = { ...s, ops: { ...s.ops, get: { ...s.ops.get, perSecond: Number.NaN, p99: 1e300 }, put: { ...s.ops.put, perSecond: '12' }, delete: { ...s.ops.delete, p50: 1.23456789 } }, storage: { keys: -Infinity, bytes: valueAbsMax * 10 } } as unknown as ClusterSnapshot;
  const v = seriesOf(hostile);
  assert.equal(v.get('ops.get'), null);
  assert.equal(v.get('p99.get'), null);
  assert.equal(v.get('ops.put'), null, 'a string is not a number');
  assert.equal(v.get('p50.delete'), 1.235);
  assert.equal(v.get('keys'), null);
  assert.equal(v.get('bytes'), null);
});

test('history series: whatever JSON the cluster sends, a sample is computed without throwing, bounded in series, every value a finite number or null', () => {
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const snapshotLike = fc.record({ at: anyJson, nodes: fc.array(fc.oneof(anyJson, fc.record({ id: fc.oneof(fc.string(), fc.constant('n1')), at: fc.oneof(fc.integer(), anyJson), uptimeMs: anyJson, ops: anyJson, hints: anyJson, storage: anyJson, unreachable: fc.option(fc.string()) }, { requiredKeys: ['id'] })), { maxLength: 8 }), members: anyJson, ops: anyJson, storage: anyJson, partitions: anyJson, hints: anyJson }, { requiredKeys: [] });
  fc.assert(
    fc.property(fc.oneof(anyJson, snapshotLike), fc.oneof(anyJson, snapshotLike), (a, b) => {
      const first = sampleOf(a as unknown as ClusterSnapshot, undefined);
      const s = sampleOf(b as unknown as ClusterSnapshot, first.counters);
      assert.ok(s.values.size <= clusterSeries.length + nodesPerSampleMax * nodeSeriesSuffixes.length);
      for (const [k, v] of s.values) assert.ok(v === null || (Number.isFinite(v) && Math.abs(v) <= valueAbsMax), `${k} = ${v}`);
      for (const k of clusterSeries) assert.ok(s.values.has(k), `${k} is always there`);
    }),
    { numRuns: 500 },
  );
});

test('history series: describe gives a unit and an aggregate for every series recorded, MAX for the peaks (p99, p999, nodesDown, merkleDisagree), MIN for up', () => {
  const s = seriesOf(clusterSnapshot({ at: t0, nodes: three(t0) }));
  for (const k of s.keys()) assert.ok(describe(k)?.unit, `${k} has a unit`);
  assert.equal(describe('p99.get')?.aggregate, 'max');
  assert.equal(describe('p999.put')?.aggregate, 'max');
  assert.equal(describe('node.n1.p99')?.aggregate, 'max');
  assert.equal(describe('nodesDown')?.aggregate, 'max');
  assert.equal(describe('merkleDisagree')?.aggregate, 'max');
  assert.equal(describe('node.n1.up')?.aggregate, 'min');
  assert.equal(describe('ops.get')?.aggregate, 'avg');
  assert.equal(describe('p50.get')?.aggregate, 'avg');
  assert.equal(describe('node.n1.nope'), undefined);
  assert.equal(describe('toString'), undefined, 'no prototype names');
});
