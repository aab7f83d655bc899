// The console's history of each cluster's series (issue 14): one sample a second per cluster
// in SQLite (through `sqlite3`), rolled up per minute, queried downsampled to a number of points.
// series.ts says what a sample holds; this file is the storage and the bucketing around it.
//
// Layout on disk (docs/console-history.md): a sample is one row per (cluster, second) whose
// values are a JSON array, in the order of a "layout" (the list of series names, stored once and
// shared by every row with the same series). A narrow table (one row per series and second) was
// measured at about 3x the bytes and 10x the write time for a 3-node cluster; see the doc.

import sqlite3 from 'sqlite3';
import { chmodSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { ClusterSnapshot } from '../../node-core/src/wire/control.js';
import { type Counters, aggregateOf, clusterSeries, nodeIdPattern, nodeSeries, sampleOf, seriesNamePattern, value } from './series.js';

const secondMs = 1000;
const minuteMs = 60_000;
const hourMs = 3_600_000;
const dayMs = 86_400_000;

/** Raw 1 s samples are kept this long by default (the issue asks for at least 24 h). */
export const rawRetentionDefaultMs = 26 * hourMs;
/** Per-minute rollups are kept this long by default. */
export const minuteRetentionDefaultMs = 8 * dayMs;
/** Old rows are deleted every this many recorded samples (about every 5 minutes with one cluster). */
const pruneEveryRecords = 300;
/** A cluster's name, as the backend gives it, in bytes at most. */
const clusterNameBytesMax = 200;
/** Buckets a query returns at most, series it names at most, and cells (buckets x series) at most. */
export const maxPointsMax = 10_000;
export const seriesPerQueryMax = 300;
const cellsPerQueryMax = 1_000_000;
/** The longest range a query may span. */
const querySpanMaxMs = 400 * dayMs;
/**
 * New layouts (sets of series) one cluster may add per hour; past it, samples keep the
 * cluster-wide series only. A real cluster changes its node set a few times a day; a cluster
 * renaming its nodes every second would otherwise store a new layout (up to ~40 KB) each second.
 */
const layoutsPerHourMax = 60;
/** Layouts kept decoded in memory at most (cleared past it). */
const layoutsCachedMax = 1000;
const schemaVersion = 1;
/** A clock further back than this from the last sample was set back: recording goes on from the new time. */
const clockStepBackSeconds = 60;
/** Minutes rolled up per transaction when catching up at open, and rows a query reads per page: bounds the rows in memory. */
const catchUpMinutes = 60;
const rawPageRows = 600;
const minutePageRows = 200;

export type Tier = 'raw' | 'minute';
export type SeriesSelector = readonly string[] | 'cluster' | { readonly node: string };

export interface HistoryQuery {
  readonly cluster: string;
  /** Range in ms since the epoch, from inclusive, to exclusive. */
  readonly from: number;
  readonly to: number;
  readonly series: SeriesSelector;
  /** Buckets at most (1 to maxPointsMax). */
  readonly maxPoints: number;
}

export interface HistoryResult {
  /** Each bucket's start, ms since the epoch, ascending; every bucket of the range is listed. */
  readonly t: number[];
  /** Per series, one value per bucket (null: no sample in it). */
  readonly series: Record<string, (number | null)[]>;
  readonly stepMs: number;
  readonly tier: Tier;
}

export interface ClusterRange {
  readonly cluster: string;
  /** The oldest and the newest sample kept, ms since the epoch. */
  readonly from: number;
  readonly to: number;
}

export interface SeriesStoreOptions {
  readonly now?: () => number;
  readonly rawRetentionMs?: number;
  readonly minuteRetentionMs?: number;
}

/** A refusal with a code for the caller's `{ error, message }` answer. */
export class HistoryError extends Error {
  constructor(
    readonly code: 'bad-query' | 'too-large' | 'history-unreadable',
    message: string,
  ) {
    super(message);
  }
}

function run(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (e) => (e ? reject(e) : resolve())));
}

/** Runs a statement and says how many rows it changed. */
function change(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<number> {
  return new Promise((resolve, reject) =>
    db.run(sql, params, function (this: sqlite3.RunResult, e: Error | null) {
      if (e) reject(e);
      else resolve(this.changes);
    }),
  );
}

function all<T>(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => db.all(sql, params, (e, rows) => (e ? reject(e) : resolve(rows as T[]))));
}

function runStatement(s: sqlite3.Statement, params: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => s.run(params, (e) => (e ? reject(e) : resolve())));
}

/** Opens (creating, mode 0600) the file, or fails naming it. */
async function openFile(path: string): Promise<sqlite3.Database> {
  try {
    writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new HistoryError('history-unreadable', `cannot create the history file ${path}: ${(e as Error).message}`);
  }
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (e) => (e ? reject(new HistoryError('history-unreadable', `cannot open the history file ${path}: ${e.message}`)) : resolve(d)));
  });
  try {
    await run(db, 'PRAGMA journal_mode = WAL');
    // WAL with NORMAL: a power cut may lose the last samples, never the file's consistency.
    await run(db, 'PRAGMA synchronous = NORMAL');
    const [version] = await all<{ user_version: number }>(db, 'PRAGMA user_version');
    const tables = await all<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table'");
    if (version?.user_version === 0 && tables.length > 0) throw new Error('it holds other tables (not a history file)');
    if (version?.user_version !== 0 && version?.user_version !== schemaVersion) throw new Error(`its schema version is ${version?.user_version}, this console knows ${schemaVersion}`);
    await run(db, 'BEGIN');
    await run(db, 'CREATE TABLE IF NOT EXISTS clusters (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)');
    await run(db, 'CREATE TABLE IF NOT EXISTS layouts (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, names TEXT NOT NULL)');
    // t in seconds (raw) and minutes (minute): 4-byte integers where ms would take 6.
    await run(db, 'CREATE TABLE IF NOT EXISTS raw (cluster INTEGER NOT NULL, t INTEGER NOT NULL, layout INTEGER NOT NULL, v TEXT NOT NULL, PRIMARY KEY (cluster, t))');
    await run(db, 'CREATE TABLE IF NOT EXISTS minute (cluster INTEGER NOT NULL, t INTEGER NOT NULL, layout INTEGER NOT NULL, avg TEXT NOT NULL, peak TEXT NOT NULL, n TEXT NOT NULL, PRIMARY KEY (cluster, t))');
    // Which layouts rows use (pruning layouts, listing nodes) is read from these, not from the rows and their values.
    await run(db, 'CREATE INDEX IF NOT EXISTS raw_layout ON raw (layout, cluster, t)');
    await run(db, 'CREATE INDEX IF NOT EXISTS minute_layout ON minute (layout, cluster, t)');
    await run(db, `PRAGMA user_version = ${schemaVersion}`);
    await run(db, 'COMMIT');
    chmodSync(path, 0o600);
    return db;
  } catch (e) {
    await new Promise<void>((resolve) => db.close(() => resolve()));
    if (e instanceof HistoryError) throw e;
    throw new HistoryError('history-unreadable', `${path} is not a readable history file (${(e as Error).message}); move it away and the console starts a new history`);
  }
}

/** What the store keeps in memory per cluster it records. */
interface ClusterState {
  readonly id: number;
  counters: Counters | undefined;
  /** The last second recorded. */
  lastSecond: number;
  /** Minutes before this one are rolled up for good; from it on the minute tier reads raw rows. */
  rolled: number;
  layoutsThisHour: { hour: number; count: number };
}

interface RawRow {
  t: number;
  layout: number;
  v: string;
}

interface MinuteRow {
  t: number;
  layout: number;
  avg: string;
  peak: string;
  n: string;
}

/** One minute's rollup of a series: the mean over its non-null samples, how many, and the peak its aggregate keeps. */
interface Rolled {
  readonly avg: number;
  readonly n: number;
  readonly peak: number;
}

/** A minute's sample counts per series: one number when they are all the same (a third of a rollup row saved), else the list. */
function countsText(counts: readonly number[]): string {
  return JSON.stringify(counts.length > 0 && counts.every((n) => n === counts[0]) ? counts[0] : counts);
}

/** Per series, the sum, count and peak of the values in each bucket. */
class Buckets {
  private readonly sum: Float64Array;
  private readonly count: Float64Array;
  private readonly peak: (number | null)[];

  constructor(
    readonly size: number,
    private readonly aggregate: 'avg' | 'max' | 'min',
  ) {
    this.sum = new Float64Array(size);
    this.count = new Float64Array(size);
    this.peak = new Array<number | null>(size).fill(null);
  }

  add(b: number, avg: number, n: number, peak: number): void {
    // Rows are read for the buckets' range only; one outside it would be a bug here, not data.
    if (!(b >= 0 && b < this.size)) throw new Error(`bucket ${b} outside 0..${this.size - 1}`);
    this.sum[b] = this.sum[b]! + avg * n;
    this.count[b] = this.count[b]! + n;
    const p = this.peak[b];
    this.peak[b] = p === null || p === undefined ? peak : this.aggregate === 'min' ? Math.min(p, peak) : Math.max(p, peak);
  }

  values(): (number | null)[] {
    return Array.from({ length: this.size }, (_, b) => (this.count[b] === 0 ? null : this.aggregate === 'avg' ? value(this.sum[b]! / this.count[b]!) : this.peak[b]!));
  }
}

/** Rolls rows of raw samples up, per minute: for each, the union of their series and each one's mean, count and peak. */
export function rollUp(rows: readonly { t: number; names: readonly string[]; values: readonly (number | null)[] }[]): Map<number, Map<string, Rolled>> {
  const out = new Map<number, Map<string, { sum: number; n: number; peak: number }>>();
  for (const r of rows) {
    const m = Math.floor(r.t / 60);
    let acc = out.get(m);
    if (!acc) out.set(m, (acc = new Map()));
    r.names.forEach((name, i) => {
      const v = r.values[i];
      if (v === null || v === undefined) return;
      const a = acc.get(name);
      if (!a) return void acc.set(name, { sum: v, n: 1, peak: v });
      a.sum += v;
      a.n += 1;
      a.peak = aggregateOf(name) === 'min' ? Math.min(a.peak, v) : Math.max(a.peak, v);
    });
  }
  return new Map([...out].map(([m, acc]) => [m, new Map([...acc].map(([name, a]) => [name, { avg: value(a.sum / a.n) ?? 0, n: a.n, peak: a.peak }]))]));
}

function checkQuery(q: HistoryQuery): void {
  if (typeof q !== 'object' || q === null) throw new HistoryError('bad-query', 'a query is an object');
  if (typeof q.cluster !== 'string' || q.cluster === '' || Buffer.byteLength(q.cluster) > clusterNameBytesMax) throw new HistoryError('bad-query', `cluster is a name of 1 to ${clusterNameBytesMax} bytes`);
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to) || q.from < 0 || q.to <= q.from) throw new HistoryError('bad-query', 'from and to are ms since the epoch, from < to');
  if (q.to - q.from > querySpanMaxMs) throw new HistoryError('bad-query', `a query spans at most ${querySpanMaxMs / dayMs} days`);
  if (!Number.isSafeInteger(q.maxPoints) || q.maxPoints < 1 || q.maxPoints > maxPointsMax) throw new HistoryError('bad-query', `maxPoints is an integer from 1 to ${maxPointsMax}`);
}

/** The series names a selector stands for, checked. */
export function seriesNames(sel: SeriesSelector): string[] {
  if (sel === 'cluster') return [...clusterSeries];
  if (Array.isArray(sel)) {
    if (sel.length === 0 || sel.length > seriesPerQueryMax) throw new HistoryError('bad-query', `name 1 to ${seriesPerQueryMax} series`);
    const bad = sel.find((s) => typeof s !== 'string' || !seriesNamePattern.test(s));
    if (bad !== undefined) throw new HistoryError('bad-query', `not a series name: ${String(bad).slice(0, 100)}`);
    return [...new Set(sel as readonly string[])];
  }
  const node = (sel as { node?: unknown }).node;
  if (typeof sel !== 'object' || sel === null || typeof node !== 'string' || !nodeIdPattern.test(node)) throw new HistoryError('bad-query', "series is a list of names, 'cluster' or { node: id }");
  return nodeSeries(node);
}

/** Which tier answers a range, and its buckets: about the finest width whose buckets, aligned to multiples of it, number at most maxPoints. */
export function planQuery(from: number, to: number, maxPoints: number, now: number, rawRetentionMs: number): { tier: Tier; stepMs: number; start: number; buckets: number } {
  const rawStep = secondMs * Math.ceil((to - from) / (maxPoints * secondMs));
  // Raw rows are gone before now - retention; and buckets of a minute or more are what the rollups hold already.
  const tier: Tier = from < now - rawRetentionMs || rawStep >= minuteMs ? 'minute' : 'raw';
  const unit = tier === 'raw' ? secondMs : minuteMs;
  const span = to - from;
  const fits = (stepMs: number) => {
    const start = Math.floor(from / stepMs) * stepMs;
    return { tier, stepMs, start, buckets: Math.ceil((to - start) / stepMs) };
  };
  const narrow = fits(unit * Math.ceil(span / (maxPoints * unit)));
  if (narrow.buckets <= maxPoints) return narrow;
  // Aligning the start down added a bucket. With room for one bucket less the aligned range
  // fits for sure: to - start < span + step <= maxPoints x step.
  if (maxPoints >= 2) return fits(unit * Math.ceil(span / ((maxPoints - 1) * unit)));
  // One bucket: not aligned to its width, starting at the unit the range starts in.
  const start = Math.floor(from / unit) * unit;
  return { tier, stepMs: unit * Math.ceil((to - start) / unit), start, buckets: 1 };
}

/** A CSV cell: RFC 4180 quoting, and text that a spreadsheet would run as a formula made inert. */
export function csvCell(x: string | number | null): string {
  if (x === null) return '';
  if (typeof x === 'number') return String(x);
  const inert = /^[=+\-@\t\r]/.test(x) && !/^[-+]?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(x) ? `'${x}` : x;
  return /[",\r\n]/.test(inert) ? `"${inert.replace(/"/g, '""')}"` : inert;
}

export class SeriesStore {
  private readonly states = new Map<string, ClusterState>();
  private readonly layoutIds = new Map<string, number>();
  private readonly layoutNames = new Map<number, { names: string[]; index: Map<string, number> }>();
  private writes: Promise<unknown> = Promise.resolve();
  private recordsSincePrune = 0;
  private closed = false;

  private constructor(
    private readonly db: sqlite3.Database,
    private readonly insertRaw: sqlite3.Statement,
    private readonly now: () => number,
    readonly rawRetentionMs: number,
    readonly minuteRetentionMs: number,
  ) {}

  /**
   * Opens the history file (created 0600 if missing). A file that is not a history database
   * (corrupt, another program's, a newer schema) fails with a HistoryError naming it: the
   * backend goes on without history and the file is left as it is for the operator.
   */
  static async open(path: string, opts: SeriesStoreOptions = {}): Promise<SeriesStore> {
    const rawRetentionMs = opts.rawRetentionMs ?? rawRetentionDefaultMs;
    const minuteRetentionMs = opts.minuteRetentionMs ?? minuteRetentionDefaultMs;
    if (!(rawRetentionMs >= minuteMs) || !(minuteRetentionMs >= rawRetentionMs)) throw new Error('retention: raw at least a minute, minutes at least as long as raw');
    const db = await openFile(path);
    const insertRaw = db.prepare('INSERT OR IGNORE INTO raw (cluster, t, layout, v) VALUES (?, ?, ?, ?)');
    const store = new SeriesStore(db, insertRaw, opts.now ?? Date.now, rawRetentionMs, minuteRetentionMs);
    await store.serial(async () => {
      for (const c of await all<{ id: number; name: string }>(db, 'SELECT id, name FROM clusters')) await store.catchUp(c.id);
      await store.prune();
    });
    return store;
  }

  /** Runs write transactions one after another (one connection: a BEGIN must not meet another). */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.writes.then(f, f);
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async transaction(f: () => Promise<void>): Promise<void> {
    await run(this.db, 'BEGIN');
    try {
      await f();
      await run(this.db, 'COMMIT');
    } catch (e) {
      await run(this.db, 'ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /**
   * Records one snapshot of a cluster at the store's clock. One sample per second at most: a
   * second snapshot within the same second is dropped (its counters then count in the next).
   */
  record(cluster: string, snapshot: ClusterSnapshot): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the history is closed'));
    if (typeof cluster !== 'string' || cluster === '' || Buffer.byteLength(cluster) > clusterNameBytesMax) return Promise.reject(new HistoryError('bad-query', `cluster is a name of 1 to ${clusterNameBytesMax} bytes`));
    return this.serial(async () => {
      const now = this.now();
      const second = Math.floor(now / secondMs);
      const state = await this.state(cluster);
      if (second <= state.lastSecond) {
        // The same second as the last sample (or the clock stepped back a little): dropped.
        if (state.lastSecond - second <= clockStepBackSeconds) return;
        // The clock was set back (a laptop's clock corrected): record from the new time on, and
        // roll its minutes up again from raw rows (seconds already recorded are kept, not overwritten).
        state.rolled = Math.min(state.rolled, Math.floor(second / 60));
      }
      const sample = sampleOf(snapshot, state.counters);
      state.counters = sample.counters;
      state.lastSecond = second;
      await this.transaction(async () => {
        const [names, values] = await this.layoutFor(state, sample.values, now);
        await runStatement(this.insertRaw, [state.id, second, names, JSON.stringify(values)]);
        const minute = Math.floor(second / 60);
        if (minute > state.rolled) {
          await this.rollMinutes(state.id, state.rolled, minute);
          state.rolled = minute;
        }
      });
      if (++this.recordsSincePrune >= pruneEveryRecords) await this.prune();
    });
  }

  /** The layout id for a sample's series (a new one if needed, within the hourly budget) and its values. */
  private async layoutFor(state: ClusterState, values: ReadonlyMap<string, number | null>, now: number): Promise<[number, (number | null)[]]> {
    const names = [...values.keys()];
    const known = this.layoutIds.get(names.join('\n'));
    if (known !== undefined) return [known, [...values.values()]];
    const hour = Math.floor(now / hourMs);
    if (state.layoutsThisHour.hour !== hour) state.layoutsThisHour = { hour, count: 0 };
    // Past the budget the node series are left out of this sample (the cluster-wide ones always have a layout).
    if (state.layoutsThisHour.count >= layoutsPerHourMax) {
      const { id } = await this.layoutId(clusterSeries);
      return [id, clusterSeries.map((s) => values.get(s) ?? null)];
    }
    const { id, created } = await this.layoutId(names);
    if (created) state.layoutsThisHour.count++;
    return [id, [...values.values()]];
  }

  private async layoutId(names: readonly string[]): Promise<{ id: number; created: boolean }> {
    const key = names.join('\n');
    const cached = this.layoutIds.get(key);
    if (cached !== undefined) return { id: cached, created: false };
    const hash = createHash('sha256').update(key).digest('base64url');
    const created = (await change(this.db, 'INSERT OR IGNORE INTO layouts (hash, names) VALUES (?, ?)', [hash, JSON.stringify(names)])) > 0;
    const [row] = await all<{ id: number }>(this.db, 'SELECT id FROM layouts WHERE hash = ?', [hash]);
    if (this.layoutIds.size >= layoutsCachedMax) this.layoutIds.clear();
    this.layoutIds.set(key, row!.id);
    return { id: row!.id, created };
  }

  /** A layout's names and their positions; undefined if the row points at none (a damaged file). */
  private async layout(id: number): Promise<{ names: string[]; index: Map<string, number> } | undefined> {
    const cached = this.layoutNames.get(id);
    if (cached) return cached;
    const [row] = await all<{ names: string }>(this.db, 'SELECT names FROM layouts WHERE id = ?', [id]);
    if (!row) return undefined;
    let names: unknown;
    try {
      names = JSON.parse(row.names);
    } catch {
      return undefined;
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return undefined;
    if (this.layoutNames.size >= layoutsCachedMax) this.layoutNames.clear();
    const entry = { names: names as string[], index: new Map((names as string[]).map((n, i) => [n, i])) };
    this.layoutNames.set(id, entry);
    return entry;
  }

  /** Rows as they leave the file are checked: an array of numbers and nulls as long as the layout, or skipped. */
  private async decode(row: { layout: number }, text: string): Promise<{ names: string[]; index: Map<string, number>; values: (number | null)[] } | undefined> {
    const layout = await this.layout(row.layout);
    if (!layout) return undefined;
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch {
      return undefined;
    }
    // A minute's counts are one number when every series had the same (the usual case: see countsText).
    if (typeof values === 'number') values = new Array<number>(layout.names.length).fill(values);
    if (!Array.isArray(values) || values.length !== layout.names.length || !values.every((v) => v === null || typeof v === 'number')) return undefined;
    return { ...layout, values: values as (number | null)[] };
  }

  private async state(cluster: string): Promise<ClusterState> {
    const known = this.states.get(cluster);
    if (known) return known;
    await run(this.db, 'INSERT OR IGNORE INTO clusters (name) VALUES (?)', [cluster]);
    const [c] = await all<{ id: number }>(this.db, 'SELECT id FROM clusters WHERE name = ?', [cluster]);
    const [last] = await all<{ t: number | null }>(this.db, 'SELECT max(t) AS t FROM raw WHERE cluster = ?', [c!.id]);
    const lastSecond = last?.t ?? -1;
    const state: ClusterState = { id: c!.id, counters: undefined, lastSecond, rolled: lastSecond < 0 ? 0 : Math.floor(lastSecond / 60), layoutsThisHour: { hour: 0, count: 0 } };
    this.states.set(cluster, state);
    return state;
  }

  /** At open: rolls up every minute of raw rows after the last rollup (a stop may have come mid-minute), an hour at a time. */
  private async catchUp(clusterId: number): Promise<void> {
    const [m] = await all<{ t: number | null }>(this.db, 'SELECT max(t) AS t FROM minute WHERE cluster = ?', [clusterId]);
    const [r] = await all<{ from: number | null; to: number | null }>(this.db, 'SELECT min(t) AS "from", max(t) AS "to" FROM raw WHERE cluster = ? AND t >= ?', [clusterId, (m?.t ?? 0) * 60]);
    if (r?.from === null || r?.from === undefined || r.to === null) return;
    const last = Math.floor(r.to / 60);
    for (let from = Math.floor(r.from / 60); from <= last; from += catchUpMinutes) {
      const to = Math.min(from + catchUpMinutes, last + 1);
      await this.transaction(() => this.rollMinutes(clusterId, from, to));
    }
  }

  /** Writes the rollups of minutes [from, to) from their raw rows (again, if written before: idempotent). */
  private async rollMinutes(clusterId: number, from: number, to: number): Promise<void> {
    const rows = await all<RawRow>(this.db, 'SELECT t, layout, v FROM raw WHERE cluster = ? AND t >= ? AND t < ? ORDER BY t', [clusterId, from * 60, to * 60]);
    const decoded = [];
    for (const row of rows) {
      const d = await this.decode(row, row.v);
      if (d) decoded.push({ t: row.t, names: d.names, values: d.values });
    }
    for (const [m, series] of rollUp(decoded)) {
      const names = [...series.keys()];
      const { id: layout } = await this.layoutId(names);
      const rolled = [...series.values()];
      await run(this.db, 'INSERT OR REPLACE INTO minute (cluster, t, layout, avg, peak, n) VALUES (?, ?, ?, ?, ?, ?)', [clusterId, m, layout, JSON.stringify(rolled.map((x) => x.avg)), JSON.stringify(rolled.map((x) => x.peak)), countsText(rolled.map((x) => x.n))]);
    }
  }

  /** Deletes raw rows and rollups past their retention, and layouts no row uses any more. */
  private async prune(): Promise<void> {
    this.recordsSincePrune = 0;
    const now = this.now();
    const rawBefore = Math.floor((now - this.rawRetentionMs) / secondMs);
    const minuteBefore = Math.floor((now - this.minuteRetentionMs) / minuteMs);
    const clusters = await all<{ id: number }>(this.db, 'SELECT id FROM clusters');
    await this.transaction(async () => {
      // Per cluster: the (cluster, t) key finds the old rows without reading the others.
      for (const { id } of clusters) {
        await run(this.db, 'DELETE FROM raw WHERE cluster = ? AND t < ?', [id, rawBefore]);
        await run(this.db, 'DELETE FROM minute WHERE cluster = ? AND t < ?', [id, minuteBefore]);
      }
      await run(this.db, 'DELETE FROM layouts WHERE id NOT IN (SELECT layout FROM raw UNION SELECT layout FROM minute)');
    });
    this.layoutIds.clear();
    this.layoutNames.clear();
  }

  /** The minute before which a cluster's rollups are final (the rest the minute tier reads from raw rows). */
  private rolledBefore(clusterId: number): number {
    for (const s of this.states.values()) if (s.id === clusterId) return s.rolled;
    return Math.floor(this.now() / minuteMs);
  }

  /** A cluster's series over a range, in at most maxPoints buckets (see HistoryResult). */
  async query(q: HistoryQuery): Promise<HistoryResult> {
    checkQuery(q);
    const names = seriesNames(q.series);
    const plan = planQuery(q.from, q.to, q.maxPoints, this.now(), this.rawRetentionMs);
    if (plan.buckets * names.length > cellsPerQueryMax) throw new HistoryError('too-large', `${plan.buckets} points of ${names.length} series is more than ${cellsPerQueryMax} values: ask for fewer`);
    const buckets = names.map((n) => new Buckets(plan.buckets, aggregateOf(n)));
    const bucketOf = (tMs: number) => Math.floor((tMs - plan.start) / plan.stepMs);
    const [c] = await all<{ id: number }>(this.db, 'SELECT id FROM clusters WHERE name = ?', [q.cluster]);
    if (c) {
      const addRaw = async (fromS: number, toS: number) => {
        // Paged by rows, not by time: a range reaching far into the future costs nothing.
        for (let cursor = fromS; cursor < toS; ) {
          const rows = await all<RawRow>(this.db, 'SELECT t, layout, v FROM raw WHERE cluster = ? AND t >= ? AND t < ? ORDER BY t LIMIT ?', [c.id, cursor, toS, rawPageRows]);
          for (const row of rows) {
            const d = await this.decode(row, row.v);
            if (!d) continue;
            const b = bucketOf(row.t * secondMs);
            names.forEach((name, i) => {
              const v = d.values[d.index.get(name) ?? -1];
              if (typeof v === 'number') buckets[i]!.add(b, v, 1, v);
            });
          }
          if (rows.length < rawPageRows) break;
          cursor = rows.at(-1)!.t + 1;
        }
      };
      const fromS = plan.start / secondMs;
      const toS = Math.ceil(q.to / secondMs);
      if (plan.tier === 'raw') await addRaw(fromS, toS);
      else {
        const rolled = this.rolledBefore(c.id);
        await this.addMinutes(c.id, Math.floor(plan.start / minuteMs), Math.min(rolled, Math.ceil(q.to / minuteMs)), names, buckets, bucketOf);
        await addRaw(Math.max(plan.start / secondMs, rolled * 60), toS);
      }
    }
    const series: Record<string, (number | null)[]> = Object.create(null) as Record<string, (number | null)[]>;
    names.forEach((n, i) => (series[n] = buckets[i]!.values()));
    return { t: Array.from({ length: plan.buckets }, (_, b) => plan.start + b * plan.stepMs), series, stepMs: plan.stepMs, tier: plan.tier };
  }

  private async addMinutes(clusterId: number, from: number, to: number, names: readonly string[], buckets: readonly Buckets[], bucketOf: (tMs: number) => number): Promise<void> {
    if (to <= from) return;
    for (let cursor = from; cursor < to; ) {
      const rows = await all<MinuteRow>(this.db, 'SELECT t, layout, avg, peak, n FROM minute WHERE cluster = ? AND t >= ? AND t < ? ORDER BY t LIMIT ?', [clusterId, cursor, to, minutePageRows]);
      for (const row of rows) {
        const [avg, peak, n] = [await this.decode(row, row.avg), await this.decode(row, row.peak), await this.decode(row, row.n)];
        if (!avg || !peak || !n) continue;
        const b = bucketOf(row.t * minuteMs);
        names.forEach((name, i) => {
          const j = avg.index.get(name);
          if (j === undefined) return;
          const [a, p, k] = [avg.values[j], peak.values[j], n.values[j]];
          if (typeof a === 'number' && typeof p === 'number' && typeof k === 'number' && k > 0) buckets[i]!.add(b, a, k, p);
        });
      }
      if (rows.length < minutePageRows) break;
      cursor = rows.at(-1)!.t + 1;
    }
  }

  /** The same query as CSV: a header `time,<series...>`, one line per bucket, ISO 8601 UTC times, CRLF line ends (RFC 4180). */
  async csv(q: HistoryQuery): Promise<string> {
    const r = await this.query(q);
    const names = Object.keys(r.series);
    const lines = [['time', ...names].map(csvCell).join(',')];
    r.t.forEach((t, b) => lines.push([new Date(t).toISOString(), ...names.map((n) => csvCell(r.series[n]![b] ?? null))].join(',')));
    return lines.join('\r\n') + '\r\n';
  }

  /** The clusters with samples kept, and the range each one's samples span. */
  async clusters(): Promise<ClusterRange[]> {
    const rows = await all<{ name: string; rawFrom: number | null; rawTo: number | null; minFrom: number | null; minTo: number | null }>(
      this.db,
      'SELECT name, (SELECT min(t) FROM raw WHERE cluster = c.id) AS rawFrom, (SELECT max(t) FROM raw WHERE cluster = c.id) AS rawTo, (SELECT min(t) FROM minute WHERE cluster = c.id) AS minFrom, (SELECT max(t) FROM minute WHERE cluster = c.id) AS minTo FROM clusters c ORDER BY name',
    );
    const out: ClusterRange[] = [];
    for (const r of rows) {
      const froms = [r.rawFrom === null ? null : r.rawFrom * secondMs, r.minFrom === null ? null : r.minFrom * minuteMs].filter((x): x is number => x !== null);
      const tos = [r.rawTo === null ? null : r.rawTo * secondMs, r.minTo === null ? null : r.minTo * minuteMs].filter((x): x is number => x !== null);
      if (froms.length > 0) out.push({ cluster: r.name, from: Math.min(...froms), to: Math.max(...tos) });
    }
    return out;
  }

  /**
   * The node ids with series in a cluster's samples over a range (ms, from inclusive, to
   * exclusive), sorted: for picking nodes that have left since (the live snapshot lists only
   * today's). Reads the rows' layouts, not their values.
   */
  async nodes(cluster: string, from: number, to: number): Promise<string[]> {
    checkQuery({ cluster, from, to, series: 'cluster', maxPoints: 1 });
    const [c] = await all<{ id: number }>(this.db, 'SELECT id FROM clusters WHERE name = ?', [cluster]);
    if (!c) return [];
    // One index probe per layout (there are few: see layoutsPerHourMax), not a read of every row in the range.
    const layouts = await all<{ layout: number }>(
      this.db,
      'SELECT id AS layout FROM layouts l WHERE EXISTS (SELECT 1 FROM raw WHERE layout = l.id AND cluster = ? AND t >= ? AND t < ?) OR EXISTS (SELECT 1 FROM minute WHERE layout = l.id AND cluster = ? AND t >= ? AND t < ?)',
      [c.id, Math.floor(from / secondMs), Math.ceil(to / secondMs), c.id, Math.floor(from / minuteMs), Math.ceil(to / minuteMs)],
    );
    const ids = new Set<string>();
    for (const { layout } of layouts) {
      for (const name of (await this.layout(layout))?.names ?? []) {
        const m = /^node\.(.+)\.up$/.exec(name);
        if (m && nodeIdPattern.test(m[1]!)) ids.add(m[1]!);
      }
    }
    return [...ids].sort();
  }

  /** Waits for the writes under way, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes;
    await new Promise<void>((resolve) => this.insertRaw.finalize(() => resolve()));
    await new Promise<void>((resolve) => this.db.close(() => resolve()));
  }
}
