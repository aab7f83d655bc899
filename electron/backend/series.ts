// The series the console's history keeps (issue 14), computed from one ClusterSnapshot and the
// counters of the one before it. Pure: no SQLite, no clock (the store passes both snapshots in).
//
// A snapshot comes from the attached cluster, so it is read as untrusted data: every figure is
// checked to be a finite number within valueAbsMax (else it is recorded as null), node ids are
// checked against nodeIdPattern (others are skipped) and at most nodesPerSampleMax nodes are kept,
// so one sample is bounded in series and in bytes whatever the cluster sends.

import type { ClusterSnapshot, OpKind } from '../../node-core/src/wire/control.js';

const opKinds: readonly OpKind[] = ['get', 'put', 'delete'];

/** Nodes whose series one sample keeps at most (the first by id; the cluster-wide series are always kept). */
export const nodesPerSampleMax = 200;
/** A node id fit to be part of a series name; ids that are not are skipped. */
export const nodeIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
/** A series name as the query API accepts it. */
export const seriesNamePattern = /^[A-Za-z0-9._-]{1,100}$/;
/** Larger magnitudes (and NaN, Infinity, non-numbers) are recorded as null. */
export const valueAbsMax = 1e15;
/** A counter's previous reading older than this gives no rate (an average over a long gap would be drawn as a point). */
export const rateGapMaxMs = 10_000;
/** Two readings of one node whose start times (at - uptimeMs) differ by more are two processes: the counter restarted. */
const incarnationJitterMs = 1000;

export type Aggregate = 'avg' | 'max' | 'min';

export interface SeriesInfo {
  readonly unit: string;
  /** How buckets of samples are merged: the mean, or the peak so that a spike (or a dip) survives downsampling. */
  readonly aggregate: Aggregate;
  readonly description: string;
}

const cluster: Readonly<Record<string, SeriesInfo>> = {
  ...Object.fromEntries(opKinds.map((op) => [`ops.${op}`, { unit: 'req/s', aggregate: 'avg', description: `${op} requests completed per second, all nodes` }])),
  ...Object.fromEntries(opKinds.map((op) => [`p50.${op}`, { unit: 'ms', aggregate: 'avg', description: `median ${op} latency (the worst node's), null with no requests` }])),
  ...Object.fromEntries(opKinds.map((op) => [`p99.${op}`, { unit: 'ms', aggregate: 'max', description: `99th percentile ${op} latency (the worst node's)` }])),
  ...Object.fromEntries(opKinds.map((op) => [`p999.${op}`, { unit: 'ms', aggregate: 'max', description: `99.9th percentile ${op} latency (the worst node's)` }])),
  errors: { unit: 'req/s', aggregate: 'avg', description: 'answers 5xx and transport failures per second, all operations and nodes' },
  unavailable: { unit: 'req/s', aggregate: 'avg', description: '503 answers per second, all operations and nodes' },
  hints: { unit: 'hints', aggregate: 'avg', description: 'hints held for down replicas, all nodes' },
  hintsDrain: { unit: 'hints/s', aggregate: 'avg', description: 'hints delivered per second' },
  siblings: { unit: 'keys', aggregate: 'avg', description: 'keys with siblings (the largest count any replica reports)' },
  keys: { unit: 'keys', aggregate: 'avg', description: 'keys stored, all replicas' },
  bytes: { unit: 'bytes', aggregate: 'avg', description: 'bytes stored, all replicas' },
  aeRepaired: { unit: 'keys/s', aggregate: 'avg', description: 'keys repaired by anti-entropy per second' },
  readRepairs: { unit: 'repairs/s', aggregate: 'avg', description: 'read repairs per second' },
  nodesUp: { unit: 'nodes', aggregate: 'avg', description: 'members the attached node sees up' },
  nodesDown: { unit: 'nodes', aggregate: 'max', description: 'members the attached node sees down (suspect, joining and leaving count in neither)' },
  merkleDisagree: { unit: 'partitions', aggregate: 'max', description: "partitions whose replicas' Merkle roots disagree" },
};

/** The cluster-wide series, in the order a sample lists them. */
export const clusterSeries: readonly string[] = Object.keys(cluster);

const perNode: Readonly<Record<string, SeriesInfo>> = {
  ops: { unit: 'req/s', aggregate: 'avg', description: 'requests this node completed in the last second, all operations' },
  p99: { unit: 'ms', aggregate: 'max', description: "the worst of this node's operations' 99th percentile latency" },
  hints: { unit: 'hints', aggregate: 'avg', description: 'hints this node holds for others' },
  keys: { unit: 'keys', aggregate: 'avg', description: 'keys this node stores' },
  bytes: { unit: 'bytes', aggregate: 'avg', description: 'bytes this node stores' },
  up: { unit: '1/0', aggregate: 'min', description: 'whether the node answered and the attached node sees it up (a bucket shows its lowest, so a dip survives)' },
};

/** The series kept for each node, as `node.<id>.<suffix>`. */
export const nodeSeriesSuffixes: readonly string[] = Object.keys(perNode);

export function nodeSeries(id: string): string[] {
  return nodeSeriesSuffixes.map((s) => `node.${id}.${s}`);
}

const nodeSeriesName = /^node\.([A-Za-z0-9._-]{1,64})\.([a-z0-9]+)$/;

/** Unit, aggregate and meaning of a series; undefined for a name this module never records. */
export function describe(series: string): SeriesInfo | undefined {
  if (Object.hasOwn(cluster, series)) return cluster[series];
  const m = nodeSeriesName.exec(series);
  if (!m || !Object.hasOwn(perNode, m[2]!) || !nodeIdPattern.test(m[1]!)) return undefined;
  return perNode[m[2]!];
}

/** How a series is merged into buckets (unknown names: the mean). */
export function aggregateOf(series: string): Aggregate {
  return describe(series)?.aggregate ?? 'avg';
}

/** One node's cumulative counters, as last read, to turn the next reading into rates. */
export interface NodeCounters {
  readonly at: number;
  readonly startedAt: number;
  readonly errors: number;
  readonly unavailable: number;
}

export type Counters = ReadonlyMap<string, NodeCounters>;

export interface Sample {
  /** Series name to value, cluster-wide series first, then each node's in id order. */
  readonly values: ReadonlyMap<string, number | null>;
  /** What the next sample derives its rates from. */
  readonly counters: Counters;
}

type Obj = Readonly<Record<string, unknown>>;

function obj(x: unknown): Obj | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Obj) : undefined;
}

function list(x: unknown): readonly unknown[] {
  return Array.isArray(x) ? x : [];
}

/** A finite number within valueAbsMax, fractions to 3 decimals (µs for latencies in ms); else null. */
export function value(x: unknown): number | null {
  if (typeof x !== 'number' || !Number.isFinite(x) || Math.abs(x) > valueAbsMax) return null;
  return Number.isInteger(x) ? x : Math.round(x * 1000) / 1000;
}

function at(o: Obj | undefined, ...path: string[]): unknown {
  let x: unknown = o;
  for (const p of path) x = Object.hasOwn(obj(x) ?? {}, p) ? obj(x)![p] : undefined;
  return x;
}

/** Sum of the values that are numbers (null when none is). */
function sum(xs: readonly (number | null)[]): number | null {
  return xs.reduce<number | null>((a, x) => (x === null ? a : (a ?? 0) + x), null);
}

function max(xs: readonly (number | null)[]): number | null {
  return xs.reduce<number | null>((a, x) => (x === null ? a : Math.max(a ?? x, x)), null);
}

interface NodeEntry {
  readonly id: string;
  /** The node's own report, or undefined when it was unreachable. */
  readonly report: Obj | undefined;
}

/** The snapshot's nodes with acceptable ids, each once, the first nodesPerSampleMax by id. */
function nodesOf(s: Obj | undefined): NodeEntry[] {
  const seen = new Map<string, NodeEntry>();
  for (const x of list(at(s, 'nodes'))) {
    const o = obj(x);
    const id = at(o, 'id');
    // Not a name we can put in a series (or a second report of one node): skipped.
    if (typeof id !== 'string' || !nodeIdPattern.test(id) || seen.has(id)) continue;
    seen.set(id, { id, report: Object.hasOwn(o!, 'unreachable') ? undefined : o });
  }
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, nodesPerSampleMax);
}

function countersOfNode(report: Obj): NodeCounters | undefined {
  const t = value(at(report, 'at'));
  const uptime = value(at(report, 'uptimeMs'));
  if (t === null || uptime === null) return undefined;
  const total = (field: string) => sum(opKinds.map((op) => value(at(report, 'ops', op, field)))) ?? 0;
  return { at: t, startedAt: t - uptime, errors: total('errors'), unavailable: total('unavailable') };
}

/** The cumulative counters of a snapshot's reachable nodes. */
export function countersOf(snapshot: ClusterSnapshot): Counters {
  const out = new Map<string, NodeCounters>();
  for (const n of nodesOf(obj(snapshot))) {
    const c = n.report && countersOfNode(n.report);
    if (c) out.set(n.id, c);
  }
  return out;
}

/**
 * Per second, summed over the nodes that have a recent previous reading (null when none has).
 * A counter read lower than before, or from a process that started since, restarted from zero:
 * its increase is its whole value, never a negative rate.
 */
export function ratePerSecond(now: Counters, previous: Counters | undefined, f: (c: NodeCounters) => number): number | null {
  let total: number | null = null;
  for (const [id, c] of now) {
    const p = previous?.get(id);
    const dt = p ? c.at - p.at : 0;
    // No earlier reading, the same one again, or one too old to give a rate at this instant.
    if (!p || dt <= 0 || dt > rateGapMaxMs) continue;
    const restarted = Math.abs(c.startedAt - p.startedAt) > incarnationJitterMs || f(c) < f(p);
    total = (total ?? 0) + (restarted ? f(c) : f(c) - f(p)) / (dt / 1000);
  }
  return total === null ? null : value(total);
}

function clusterValues(s: Obj | undefined, counters: Counters, previous: Counters | undefined): [string, number | null][] {
  const members = list(at(s, 'members')).map(obj).filter((m) => m !== undefined && at(m, 'state') !== 'left');
  const statusCount = (status: string) => members.filter((m) => at(m, 'status') === status).length;
  const out: [string, number | null][] = [];
  for (const op of opKinds) out.push([`ops.${op}`, value(at(s, 'ops', op, 'perSecond'))]);
  for (const p of ['p50', 'p99', 'p999']) for (const op of opKinds) out.push([`${p}.${op}`, value(at(s, 'ops', op, p))]);
  out.push(['errors', ratePerSecond(counters, previous, (c) => c.errors)]);
  out.push(['unavailable', ratePerSecond(counters, previous, (c) => c.unavailable)]);
  out.push(['hints', value(at(s, 'hints', 'total'))]);
  out.push(['hintsDrain', value(at(s, 'hints', 'drainPerSecond'))]);
  out.push(['siblings', value(at(s, 'conflicts', 'keysWithSiblings'))]);
  out.push(['keys', value(at(s, 'storage', 'keys'))]);
  out.push(['bytes', value(at(s, 'storage', 'bytes'))]);
  out.push(['aeRepaired', value(at(s, 'antiEntropy', 'repairedPerSecond'))]);
  out.push(['readRepairs', value(at(s, 'conflicts', 'readRepairsPerSecond'))]);
  out.push(['nodesUp', statusCount('up')]);
  out.push(['nodesDown', statusCount('down')]);
  out.push(['merkleDisagree', list(at(s, 'partitions')).filter((p) => at(obj(p), 'merkleAgree') === false).length]);
  return out;
}

/** Each member's status as the attached node sees it (the first entry of an id), looked up once per sample. */
function statuses(members: readonly unknown[]): ReadonlyMap<string, unknown> {
  const out = new Map<string, unknown>();
  for (const m of members) {
    const id = at(obj(m), 'id');
    if (typeof id === 'string' && !out.has(id)) out.set(id, at(obj(m), 'status'));
  }
  return out;
}

function nodeValues(n: NodeEntry, seen: ReadonlyMap<string, unknown>): [string, number | null][] {
  const status = seen.get(n.id);
  const up = n.report !== undefined && (status === undefined || status === 'up') ? 1 : 0;
  const name = (suffix: string) => `node.${n.id}.${suffix}`;
  if (!n.report) return [[name('up'), up]];
  const r = n.report;
  const byTarget = obj(at(r, 'hints', 'byTarget')) ?? {};
  return [
    [name('ops'), sum(opKinds.map((op) => value(at(r, 'ops', op, 'lastSecond'))))],
    [name('p99'), max(opKinds.map((op) => value(at(r, 'ops', op, 'p99'))))],
    [name('hints'), value(sum(Object.values(byTarget).map(value)) ?? 0)],
    [name('keys'), value(at(r, 'storage', 'keys'))],
    [name('bytes'), value(at(r, 'storage', 'bytes'))],
    [name('up'), up],
  ];
}

/**
 * The values to record for one snapshot. `previous` is what the sample before it returned as
 * `counters` (undefined for the first: its counter rates are null).
 */
export function sampleOf(snapshot: ClusterSnapshot, previous: Counters | undefined): Sample {
  const s = obj(snapshot);
  const counters = countersOf(snapshot);
  const values = new Map(clusterValues(s, counters, previous));
  const seen = statuses(list(at(s, 'members')));
  for (const n of nodesOf(s)) for (const [k, v] of nodeValues(n, seen)) values.set(k, v);
  return { values, counters };
}

/** The pure overload the tests use: a snapshot against the one before it. */
export function seriesOf(snapshot: ClusterSnapshot, previous?: ClusterSnapshot): ReadonlyMap<string, number | null> {
  return sampleOf(snapshot, previous && countersOf(previous)).values;
}
