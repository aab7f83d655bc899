// The console's history of a cluster's series (issue 14): electron/backend/history.ts over a real
// SQLite file in a temp folder, fed generated snapshots at simulated times (an injected clock),
// and once the snapshots a real 3-node cluster streams. Raw 1 s samples, minute rollups, the
// tier a range is answered from, downsampling that keeps spikes, CSV, reopening, pruning, and
// the bounds a hostile or huge snapshot meets.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { io, type Socket } from 'socket.io-client';
import fc from 'fast-check';
import { HistoryError, SeriesStore, csvCell, maxPointsMax, planQuery } from '../../electron/backend/history.js';
import { clusterSeries } from '../../electron/backend/series.js';
import type { ClientToServerEvents, ClusterSnapshot, ServerToClientEvents } from '../../node-core/src/wire/control.js';
import { TestCluster, jsonBody, sleep, uniqueKey } from '../helpers/cluster.js';
import { busyCluster, clusterSnapshot } from '../helpers/snapshots.js';

const root = mkdtempSync(join(tmpdir(), 'gyre-history-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const fresh = () => join(root, `h${++files}.db`);

const t0 = Date.UTC(2030, 0, 1);
const sec = 1000;
const min = 60_000;
const hour = 3_600_000;

/** A store on a new file with a clock the test moves. */
async function store(path = fresh(), opts: { rawRetentionMs?: number; minuteRetentionMs?: number } = {}): Promise<{ s: SeriesStore; clock: { now: number }; path: string }> {
  const clock = { now: t0 };
  const s = await SeriesStore.open(path, { now: () => clock.now, ...opts });
  return { s, clock, path };
}

function count(path: string, sql: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (e) => {
      if (e) return reject(e);
      db.get(sql, (e2, row: { n: number } | undefined) => db.close(() => (e2 ? reject(e2) : resolve(row?.n ?? 0))));
    });
  });
}

const spike = (at: number, p99: number | null, errors = 0) => clusterSnapshot({ at, nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, at, errors })), p99, perSecond: 10 });

test('history: one sample a second at most (a second snapshot in the same second is dropped); rates from the previous sample, a restart is a reset not a negative rate', async (t) => {
  const { s, clock } = await store();
  t.after(() => s.close());
  const at = (i: number) => t0 + i * sec;
  await s.record('c', spike(at(0), 1, 100));
  clock.now = at(0) + 500;
  await s.record('c', spike(at(0) + 500, 99, 100));
  clock.now = at(1);
  await s.record('c', spike(at(1), 2, 110));
  clock.now = at(2);
  // Every node restarted: counters back to 1 per op.
  await s.record('c', clusterSnapshot({ at: at(2), nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, at: at(2), errors: 1, startedAt: at(2) - 200 })), p99: 3 }));
  const r = await s.query({ cluster: 'c', from: at(0), to: at(3), series: ['p99.get', 'errors'], maxPoints: 100 });
  assert.equal(r.tier, 'raw');
  assert.equal(r.stepMs, sec);
  assert.deepEqual(r.t, [at(0), at(1), at(2)]);
  assert.deepEqual(r.series['p99.get'], [1, 2, 3], 'the snapshot half a second later was dropped');
  assert.deepEqual(r.series.errors, [null, 90, 9], 'null first; 3 nodes x 3 ops x 10 in 1 s; after the restart 9, not -981');
});

test('history: a bucket of several minutes averages their samples, not the minutes (each minute keeps how many samples each series had)', async (t) => {
  const { s, clock } = await store();
  t.after(() => s.close());
  const at = (i: number, perSecond: number, p50: number | null) => clusterSnapshot({ at: i, nodes: [{ id: 'n1', at: i }], perSecond, p50 });
  // Minute 0: 60 samples of 10 req/s, p50 2 but null in 20 of them; minute 1: one sample of 40 req/s, p50 8.
  for (let i = 0; i < 60; i++) {
    clock.now = t0 + i * sec;
    await s.record('c', at(clock.now, 10, i < 20 ? null : 2));
  }
  clock.now = t0 + 60 * sec;
  await s.record('c', at(clock.now, 40, 8));
  clock.now = t0 + 2 * min;
  await s.record('c', at(clock.now, 0, 0));
  clock.now = t0 + 30 * hour;
  const r = await s.query({ cluster: 'c', from: t0, to: t0 + 2 * min, series: ['ops.get', 'p50.get'], maxPoints: 1 });
  assert.equal(r.tier, 'minute');
  assert.deepEqual(r.series['ops.get'], [Math.round((600 + 40) / 61 * 1000) / 1000]);
  assert.deepEqual(r.series['p50.get'], [Math.round((40 * 2 + 8) / 41 * 1000) / 1000], '40 samples of 2 and one of 8');
});

test('history: a clock set back by more than a minute does not stop the recording: samples go on from the new time, minutes are rolled up again, no second is written twice', async (t) => {
  const { s, clock } = await store();
  t.after(() => s.close());
  const late = t0 + hour;
  for (let i = 0; i < 90; i++) {
    clock.now = late + i * sec;
    await s.record('c', spike(clock.now, 5));
  }
  // Back 30 s: jitter, dropped. Back an hour (a clock corrected): recorded.
  clock.now = late + 60 * sec;
  await s.record('c', spike(clock.now, 999));
  for (let i = 0; i < 130; i++) {
    clock.now = t0 + i * sec;
    await s.record('c', spike(clock.now, 1));
  }
  const early = await s.query({ cluster: 'c', from: t0, to: t0 + 130 * sec, series: ['p99.get'], maxPoints: 130 });
  assert.equal(early.series['p99.get']!.filter((x) => x === 1).length, 130, 'the hour before, recorded after the clock went back');
  const minutes = await s.query({ cluster: 'c', from: t0, to: late + 2 * min, series: ['p99.get'], maxPoints: 62 });
  assert.equal(minutes.tier, 'minute');
  assert.deepEqual([minutes.series['p99.get']![0], minutes.series['p99.get']![1], minutes.series['p99.get']![2]], [1, 1, 1]);
  assert.deepEqual(minutes.series['p99.get']!.slice(-2), [5, 5], 'the samples from before the step back are kept, and 999 was dropped');
});

test('history: 3 days of samples with gaps, at simulated times: ranges within raw retention come from raw rows, older or wider ones from the minute rollups; maxPoints is respected; MAX keeps a 1 s spike through both tiers, AVG does not; pruning removes what is past retention', async (t) => {
  const { s, clock, path } = await store();
  t.after(() => s.close());
  const end = t0 + 72 * hour;
  const spikeAt = t0 + 10 * hour + 30 * sec;
  // Bursts of 2 minutes every 2 hours (gaps between), 1 Hz; one second of p99 = 500 ms.
  for (let burst = t0; burst < end; burst += 2 * hour) {
    for (let i = 0; i < 120; i++) {
      clock.now = burst + i * sec;
      await s.record('c', spike(clock.now, clock.now === spikeAt ? 500 : 2));
    }
  }
  clock.now = end;
  // Old: 62 h ago is past raw retention (26 h): the minute tier, even when asked for 1 s points.
  const old = await s.query({ cluster: 'c', from: spikeAt - 5 * min, to: spikeAt + 5 * min, series: ['p99.get', 'ops.get'], maxPoints: 600 });
  assert.equal(old.tier, 'minute');
  assert.equal(old.stepMs, min);
  assert.ok(old.t.length <= 600);
  assert.equal(Math.max(...old.series['p99.get']!.filter((x): x is number => x !== null)), 500, 'the spike survives in its minute (MAX)');
  const avgMinute = old.series['p99.get']!;
  assert.ok(avgMinute.includes(2), 'the other minute of the burst is 2');
  // Recent: within raw retention, fine buckets: raw rows.
  const lastBurst = t0 + 70 * hour;
  const recent = await s.query({ cluster: 'c', from: lastBurst, to: lastBurst + 2 * min, series: 'cluster', maxPoints: 120 });
  assert.equal(recent.tier, 'raw');
  assert.equal(recent.t.length, 120);
  assert.deepEqual(Object.keys(recent.series), [...clusterSeries]);
  assert.ok(recent.series['ops.get']!.every((x) => x === 10));
  // Wide: 3 days in 100 points: minute tier, 44-minute buckets (72 h / 100 rounded up to whole minutes), the spike kept.
  const wide = await s.query({ cluster: 'c', from: t0, to: end, series: ['p99.get', 'p50.get'], maxPoints: 100 });
  assert.equal(wide.tier, 'minute');
  assert.ok(wide.t.length <= 100, `${wide.t.length} points`);
  assert.equal(wide.stepMs % min, 0);
  assert.equal(Math.max(...wide.series['p99.get']!.filter((x): x is number => x !== null)), 500, 'MAX keeps the spike in a 44-minute bucket');
  assert.ok(wide.series['p99.get']!.some((x) => x === null), 'the gaps between bursts are empty buckets');
  // A 24 h range wide enough for minute buckets comes from the rollups even inside raw retention.
  const day = await s.query({ cluster: 'c', from: end - 24 * hour, to: end, series: ['ops.get'], maxPoints: 1000 });
  assert.equal(day.tier, 'minute');
  for (const maxPoints of [1, 7, 999, maxPointsMax]) {
    const r = await s.query({ cluster: 'c', from: t0 + 3 * sec, to: end - 17 * sec, series: ['ops.get'], maxPoints });
    assert.ok(r.t.length <= maxPoints && r.t.length >= 1, `maxPoints ${maxPoints}: ${r.t.length}`);
    assert.equal(r.series['ops.get']!.length, r.t.length, 'columns aligned');
    assert.ok(r.t.every((x, i) => i === 0 || x - r.t[i - 1]! === r.stepMs), 'ascending, one step apart');
  }
  // Pruned every 300 records (here the last prune ran at 68 h) and at open: once reopened, no raw row older than 26 h.
  assert.ok((await count(path, `SELECT count(*) AS n FROM raw WHERE t < ${Math.floor((end - 26 * hour) / sec)}`)) > 0, 'not pruned since 68 h');
  await s.close();
  const reopened = await SeriesStore.open(path, { now: () => end });
  await reopened.close();
  assert.equal(await count(path, `SELECT count(*) AS n FROM raw WHERE t < ${Math.floor((end - 26 * hour) / sec)}`), 0, 'raw rows past retention are gone');
  assert.ok((await count(path, `SELECT count(*) AS n FROM raw WHERE t >= ${Math.floor((end - 24 * hour) / sec)}`)) >= 12 * 120, 'the last 24 h of raw rows are all there');
  assert.equal(await count(path, 'SELECT count(*) AS n FROM minute'), 36 * 2, 'one rollup per minute with samples (the last one, in progress when the store closed, rolled up at open)');
});

test('history: minute rollups and raw rows past their retention are pruned (short retentions), and the minute tier still answers the range raw rows left', async (t) => {
  const { s, clock, path } = await store(fresh(), { rawRetentionMs: 10 * min, minuteRetentionMs: 30 * min });
  t.after(() => s.close());
  // One sample every second for 50 minutes: 3000 records (prunes every 300).
  for (let i = 0; i < 3000; i++) {
    clock.now = t0 + i * sec;
    await s.record('c', spike(clock.now, 1 + (i % 60)));
  }
  const oldestRaw = await count(path, 'SELECT min(t) AS n FROM raw');
  const oldestMinute = await count(path, 'SELECT min(t) AS n FROM minute');
  assert.ok(oldestRaw * sec >= clock.now - 10 * min - 300 * sec, `raw from ${(clock.now - oldestRaw * sec) / min} min ago`);
  assert.ok(oldestMinute * min >= clock.now - 30 * min - 6 * min, `minutes from ${(clock.now - oldestMinute * min) / min} min ago`);
  const r = await s.query({ cluster: 'c', from: clock.now - 25 * min, to: clock.now - 15 * min, series: ['p99.get', 'p50.get'], maxPoints: 600 });
  assert.equal(r.tier, 'minute');
  assert.ok(r.t.length >= 10 && r.series['p99.get']!.every((x) => x === 60), `each minute saw p99 = 60 once: ${r.series['p99.get']}`);
});

test('history: the minute in progress is answered from raw rows; reopening the file keeps every sample and rolls up the minute a stop cut short', async () => {
  const path = fresh();
  const first = await store(path);
  for (let i = 0; i < 150; i++) {
    first.clock.now = t0 + i * sec;
    await first.s.record('c', spike(first.clock.now, i === 140 ? 90 : 1));
  }
  const q = { cluster: 'c', from: t0, to: t0 + 3 * min, series: ['p99.get'], maxPoints: 3 } as const;
  const before = await first.s.query(q);
  assert.equal(before.tier, 'minute');
  assert.deepEqual(before.series['p99.get'], [1, 1, 90], 'the third minute, not rolled up yet, comes from raw rows');
  await first.s.close();
  const again = await store(path);
  again.clock.now = t0 + 10 * min;
  assert.deepEqual((await again.s.query(q)).series['p99.get'], [1, 1, 90], 'after reopening, the cut minute is rolled up');
  const raw = await again.s.query({ cluster: 'c', from: t0, to: t0 + 150 * sec, series: ['p99.get'], maxPoints: 150 });
  assert.equal(raw.tier, 'raw');
  assert.equal(raw.series['p99.get']!.filter((x) => x !== null).length, 150);
  assert.deepEqual(await again.s.clusters(), [{ cluster: 'c', from: t0, to: t0 + 149 * sec }]);
  assert.deepEqual(await again.s.nodes('c', t0, t0 + 10 * min), ['n1', 'n2', 'n3']);
  assert.deepEqual(await again.s.nodes('c', t0 + 5 * min, t0 + 10 * min), [], 'no samples then');
  assert.deepEqual(await again.s.nodes('nobody', t0, t0 + 10 * min), []);
  // Recording goes on after the restart, in the same minute as the last sample before it (no duplicate second).
  again.clock.now = t0 + 150 * sec;
  await again.s.record('c', spike(again.clock.now, 7));
  again.clock.now = t0 + 149 * sec;
  await again.s.record('c', spike(again.clock.now, 1000));
  const later = await again.s.query({ cluster: 'c', from: t0 + 149 * sec, to: t0 + 151 * sec, series: ['p99.get'], maxPoints: 2 });
  assert.deepEqual(later.series['p99.get'], [1, 7], 'a second already recorded is not recorded again');
  await again.s.close();
});

test('history: CSV is a header time,<series>, ISO times, CRLF lines, RFC 4180 quoting, and no cell a spreadsheet would run as a formula', async (t) => {
  const { s, clock } = await store();
  t.after(() => s.close());
  for (let i = 0; i < 3; i++) {
    clock.now = t0 + i * sec;
    await s.record('c', spike(clock.now, i === 1 ? null : 2.5));
  }
  const csv = await s.csv({ cluster: 'c', from: t0, to: t0 + 3 * sec, series: ['p99.get', 'ops.get', '-x'], maxPoints: 10 });
  assert.equal(csv, ["time,p99.get,ops.get,'-x", '2030-01-01T00:00:00.000Z,2.5,10,', '2030-01-01T00:00:01.000Z,,10,', '2030-01-01T00:00:02.000Z,2.5,10,', ''].join('\r\n'));
  const cases: [string | number | null, string][] = [
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['+cmd', "'+cmd"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['-2+3', "'-2+3"],
    ['\tx', "'\tx"],
    ['-1.5', '-1.5'],
    ['+2e3', '+2e3'],
    [-7, '-7'],
    [null, ''],
  ];
  for (const [input, out] of cases) assert.equal(csvCell(input), out, JSON.stringify(input));
});

test('history: a bad query is refused with a HistoryError naming what is wrong; an unknown cluster answers empty buckets', async (t) => {
  const { s, clock } = await store();
  t.after(() => s.close());
  clock.now = t0 + hour;
  const ok = { cluster: 'c', from: t0, to: t0 + min, series: 'cluster' as const, maxPoints: 10 };
  const bad: [string, unknown][] = [
    ['from after to', { ...ok, from: ok.to + 1 }],
    ['NaN', { ...ok, from: Number.NaN }],
    ['maxPoints 0', { ...ok, maxPoints: 0 }],
    ['maxPoints huge', { ...ok, maxPoints: maxPointsMax + 1 }],
    ['a span of years', { ...ok, to: t0 + 3 * 365 * 24 * hour }],
    ['no cluster', { ...ok, cluster: '' }],
    ['series name', { ...ok, series: ['ops.get', 'a b'] }],
    ['no series', { ...ok, series: [] }],
    ['node id', { ...ok, series: { node: '../x' } }],
    ['series type', { ...ok, series: 42 }],
  ];
  for (const [what, q] of bad) {
    await assert.rejects(s.query(q as never), (e: unknown) => e instanceof HistoryError && e.code === 'bad-query', what);
  }
  await assert.rejects(s.query({ ...ok, series: Array.from({ length: 300 }, (_, i) => `s${i}`), maxPoints: maxPointsMax, to: t0 + 10 * hour }), (e: unknown) => e instanceof HistoryError && e.code === 'too-large');
  const empty = await s.query({ ...ok, cluster: 'nobody' });
  assert.equal(empty.t.length, 10);
  assert.ok(Object.values(empty.series).every((col) => col.every((x) => x === null)));
  await assert.rejects(s.record('', spike(t0, 1)), HistoryError);
});

test('history: a huge or hostile snapshot is bounded: 1000 nodes keep 200, a row stays under 25 KB even with the longest numbers, and a cluster renaming its nodes every second adds at most 60 layouts an hour', async (t) => {
  const { s, clock, path } = await store();
  t.after(() => s.close());
  const huge = busyCluster(1000, t0, 1);
  // The longest numbers a value may be (within 1e15, 3 decimals): 17 significant digits, a sign and a point.
  const long = -(1e15 - 1) / 7;
  const widest = huge.nodes.map((n) => ('unreachable' in n ? n : { ...n, storage: { keys: long, bytes: long }, ops: { get: { ...n.ops.get, lastSecond: long, p99: long }, put: n.ops.put, delete: n.ops.delete }, hints: { byTarget: { a: long }, delivered: 0 } }));
  const hostile = { ...huge, nodes: [...widest, { id: 'x'.repeat(10_000), at: 1 }, { id: 'n5', at: Number.NaN, ops: 'no' }, null, 42] } as unknown as ClusterSnapshot;
  await s.record('big', hostile);
  const longest = await count(path, 'SELECT max(length(v)) AS n FROM raw');
  assert.ok(longest > 12_000 && longest < 25_000, `a row of ${longest} bytes`);
  const nodeQuery = await s.query({ cluster: 'big', from: t0, to: t0 + sec, series: { node: 'n999' }, maxPoints: 1 });
  assert.deepEqual(nodeQuery.series['node.n999.keys'], [null], 'beyond the first 200 by id (ids sort as text: n1, n10, n100, n1000, n101, ...)');
  const kept = await s.query({ cluster: 'big', from: t0, to: t0 + sec, series: { node: 'n100' }, maxPoints: 1 });
  assert.equal(kept.series['node.n100.up']![0], 1);
  for (let i = 1; i <= 100; i++) {
    clock.now = t0 + i * sec;
    await s.record('churn', clusterSnapshot({ at: clock.now, nodes: [{ id: `a${i}`, at: clock.now }, { id: `b${i}`, at: clock.now }] }));
  }
  const layouts = await count(path, 'SELECT count(*) AS n FROM layouts');
  assert.ok(layouts <= 1 + 60 + 2, `${layouts} layouts`);
  const last = await s.query({ cluster: 'churn', from: t0 + 100 * sec, to: t0 + 101 * sec, series: ['ops.get', 'node.a100.up'], maxPoints: 1 });
  assert.deepEqual({ ...last.series }, { 'ops.get': [30], 'node.a100.up': [null] }, 'past the budget: the cluster-wide series only');
});

test('history: rows damaged on disk (values that are not JSON, or not as long as their layout, a layout that is not a list) are skipped when read, the others answered', async (t) => {
  const { s, clock, path } = await store();
  t.after(() => s.close());
  for (let i = 0; i < 5; i++) {
    clock.now = t0 + i * sec;
    await s.record('c', spike(clock.now, i));
  }
  await s.close();
  const exec = (sql: string) => new Promise<void>((resolve, reject) => {
    const db = new sqlite3.Database(path, (e) => (e ? reject(e) : db.exec(sql, (e2) => db.close(() => (e2 ? reject(e2) : resolve())))));
  });
  await exec(`UPDATE raw SET v = 'not json' WHERE t = ${t0 / sec + 1}; UPDATE raw SET v = '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]' WHERE t = ${t0 / sec + 2}; UPDATE raw SET v = '"text"' WHERE t = ${t0 / sec + 3}`);
  const again = await SeriesStore.open(path, { now: () => clock.now });
  t.after(() => again.close());
  const r = await again.query({ cluster: 'c', from: t0, to: t0 + 5 * sec, series: ['p99.get'], maxPoints: 5 });
  assert.deepEqual(r.series['p99.get'], [0, null, null, null, 4]);
  await again.close();
  await exec(`UPDATE layouts SET names = '{"a": 1}'`);
  const third = await SeriesStore.open(path, { now: () => clock.now });
  t.after(() => third.close());
  assert.deepEqual((await third.query({ cluster: 'c', from: t0, to: t0 + 5 * sec, series: ['p99.get'], maxPoints: 5 })).series['p99.get'], [null, null, null, null, null]);
});

test('history: the file is created 0600; a corrupt file or another program\'s database fails to open with an error naming the file, and is left as it was', async () => {
  const { s, path } = await store();
  await s.close();
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const garbage = fresh();
  writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
  await assert.rejects(SeriesStore.open(garbage), (e: unknown) => e instanceof HistoryError && e.code === 'history-unreadable' && e.message.includes(garbage));
  assert.equal(statSync(garbage).size, 8192, 'left for the operator');
  const other = fresh();
  await new Promise<void>((resolve, reject) => {
    const db = new sqlite3.Database(other, (e) => (e ? reject(e) : db.run('CREATE TABLE profiles (id TEXT)', (e2) => db.close(() => (e2 ? reject(e2) : resolve())))));
  });
  await assert.rejects(SeriesStore.open(other), (e: unknown) => e instanceof HistoryError && e.message.includes(other) && e.message.includes('not a history file'));
});

test('history: buckets never number more than maxPoints, cover the whole range, are whole seconds or minutes, and are planned without a search (any range, any maxPoints)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 1, max: 400 * 24 * hour }), fc.integer({ min: 1, max: maxPointsMax }), fc.integer({ min: 0, max: 4e12 }), (from, span, maxPoints, now) => {
      const p = planQuery(from, from + span, maxPoints, now, 26 * hour);
      const unit = p.tier === 'raw' ? sec : min;
      assert.ok(p.buckets >= 1 && p.buckets <= maxPoints, `${p.buckets} buckets for ${maxPoints}`);
      assert.ok(p.start <= from && p.start + p.buckets * p.stepMs >= from + span, 'the range is covered');
      assert.equal(p.stepMs % unit, 0);
      assert.equal(p.start % unit, 0);
      if (p.tier === 'raw') assert.ok(from >= now - 26 * hour && p.stepMs < min, 'raw only within retention and for sub-minute buckets');
    }),
    { numRuns: 5000 },
  );
  // The case that made an earlier version widen its step one unit at a time, 59 times over.
  assert.deepEqual(planQuery(59 * sec, 61 * sec, 1, 61 * sec, 26 * hour), { tier: 'raw', stepMs: 2 * sec, start: 59 * sec, buckets: 1 });
});

test('history: a range reaching far into the future is answered at once (rows are paged by count, not by time)', async (t) => {
  const { s, clock } = await store();
  t.after(() => s.close());
  for (let i = 0; i < 130; i++) {
    clock.now = t0 + i * sec;
    await s.record('c', spike(clock.now, 1));
  }
  const started = Date.now();
  const r = await s.query({ cluster: 'c', from: t0, to: t0 + 399 * 24 * hour, series: ['p99.get'], maxPoints: 10 });
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
  assert.equal(r.tier, 'minute');
  assert.equal(r.series['p99.get']![0], 1);
});

type ControlSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

test('history: the snapshots a real 3-node cluster streams are recorded and read back (puts per second, nodes up, each node\'s keys)', async (t) => {
  const cluster = new TestCluster({ nodes: 3 });
  t.after(() => cluster.stop());
  await cluster.start();
  const status = jsonBody(await cluster.request('n1', 'GET', '/status', { timeoutMs: 2000 })) as { listeners?: { control?: string; controlPath?: string } };
  const socket: ControlSocket = io(status.listeners!.control!, { path: status.listeners!.controlPath!, transports: ['websocket'], reconnection: false, auth: { token: cluster.token } });
  t.after(() => socket.close());
  const s = await SeriesStore.open(fresh());
  t.after(() => s.close());
  const started = Date.now();
  const recorded: Promise<void>[] = [];
  socket.on('cluster', (snap) => recorded.push(s.record('local', snap)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no subscribe ack within 10 s')), 10_000);
    socket.emit('subscribe', (r) => {
      clearTimeout(timer);
      if (r.ok) resolve();
      else reject(new Error(r.message));
    });
  });
  // Writes over about 4 s of snapshots.
  for (let i = 0; i < 40 && Date.now() - started < 8000; i++) {
    await cluster.put(`n${(i % 3) + 1}`, uniqueKey('hist'), 'v');
    await sleep(100);
  }
  for (let i = 0; i < 40 && recorded.length < 5; i++) await sleep(250);
  await Promise.all(recorded);
  assert.ok(recorded.length >= 3, `${recorded.length} snapshots`);
  const r = await s.query({ cluster: 'local', from: started - sec, to: Date.now() + sec, series: ['ops.put', 'nodesUp', 'node.n1.keys', 'node.n2.up', 'errors'], maxPoints: 100 });
  assert.equal(r.tier, 'raw');
  const nonNull = (k: string) => r.series[k]!.filter((x): x is number => x !== null);
  assert.ok(nonNull('ops.put').some((x) => x > 0), `puts per second seen: ${nonNull('ops.put')}`);
  assert.ok(nonNull('nodesUp').length >= 3 && nonNull('nodesUp').every((x) => x === 3), `nodes up: ${nonNull('nodesUp')}`);
  assert.ok(nonNull('node.n1.keys').at(-1)! > 0);
  assert.ok(nonNull('node.n2.up').every((x) => x === 1));
  assert.ok(nonNull('errors').every((x) => x === 0), 'no errors');
});
