// What the charts plot: one compact sample per cluster snapshot, the last few minutes only
// (bounded memory), and the fault markers drawn across every chart.

import type uPlot from 'uplot';
import type { ClusterSnapshot, ControlEvent, FaultView, HistorySeries, OpKind } from './types';
import { opKinds } from './types';

/** 5 minutes at one snapshot a second. */
export const historyMax = 300;
export const windowSeconds = 300;
export const marksMax = 200;

export interface OpSample {
  readonly perSecond: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
}

export interface Sample {
  /** ms since the epoch (the snapshot's time). */
  readonly t: number;
  readonly ops: Readonly<Record<OpKind, OpSample>>;
  readonly errorsTotal: number;
  readonly unavailableTotal: number;
  readonly errorsPerSecond: number;
  readonly unavailablePerSecond: number;
  readonly hintsTotal: number;
  readonly hintsByTarget: Readonly<Record<string, number>>;
  readonly drainPerSecond: number;
  readonly membersUp: number;
  readonly membersTotal: number;
  /** Rebuilt from the backend's history (its counters' totals are unknown: no rate from it). */
  readonly fromHistory?: true;
}

export interface FaultMark {
  readonly at: number;
  readonly kind: 'injected' | 'healed' | 'action';
  /** The fault id (or a unique key for console actions). */
  readonly id: string;
  readonly label: string;
}

export function toSample(s: ClusterSnapshot, prev: Sample | undefined): Sample {
  const ops = {} as Record<OpKind, OpSample>;
  let errorsTotal = 0;
  let unavailableTotal = 0;
  for (const op of opKinds) {
    const o = s.ops[op];
    ops[op] = { perSecond: o?.perSecond ?? 0, p50: o?.p50 ?? null, p99: o?.p99 ?? null, p999: o?.p999 ?? null };
    errorsTotal += o?.errors ?? 0;
    unavailableTotal += o?.unavailable ?? 0;
  }
  const dt = prev ? (s.at - prev.t) / 1000 : 0;
  // Counters restart with a node: never a negative rate.
  const rate = (now: number, before: number | undefined) => (prev && dt > 0 && before !== undefined ? Math.max(0, now - before) / dt : 0);
  return {
    t: s.at,
    ops,
    errorsTotal,
    unavailableTotal,
    errorsPerSecond: rate(errorsTotal, prev?.errorsTotal),
    unavailablePerSecond: rate(unavailableTotal, prev?.unavailableTotal),
    hintsTotal: s.hints.total,
    hintsByTarget: { ...s.hints.byTarget },
    drainPerSecond: s.hints.drainPerSecond,
    membersUp: s.members.filter((m) => m.status === 'up').length,
    membersTotal: s.members.length,
  };
}

export function appendBounded<T>(list: readonly T[], items: readonly T[], max: number): T[] {
  const out = list.length + items.length > max ? list.slice(Math.max(0, list.length + items.length - max)) : list.slice();
  for (const x of items.slice(-max)) out.push(x);
  return out;
}

function faultLabel(f: FaultView): string {
  return typeof f.description === 'string' && f.description !== '' ? f.description : f.kind;
}

/** Fault markers from streamed events (deduplicated: every node reports the same fault). */
export function marksFromEvents(marks: readonly FaultMark[], events: readonly ControlEvent[]): FaultMark[] {
  let out: FaultMark[] | null = null;
  for (const e of events) {
    if (e.type !== 'fault-injected' && e.type !== 'fault-healed') continue;
    const kind = e.type === 'fault-injected' ? 'injected' : 'healed';
    const list: readonly FaultMark[] = out ?? marks;
    const have = list.find((m) => m.id === e.fault.id && m.kind === kind);
    if (have) {
      // Keep the earliest sighting of the event.
      if (e.at < have.at) out = list.map((m) => (m === have ? { ...m, at: e.at } : m));
      continue;
    }
    out = [...list, { at: e.at, kind, id: e.fault.id, label: `${kind === 'injected' ? '' : e.type === 'fault-healed' && e.reason === 'expired' ? 'expired: ' : 'healed: '}${faultLabel(e.fault)}` }];
  }
  return out ? tidyMarks(out) : (marks as FaultMark[]);
}

/**
 * Fault markers from the snapshots themselves, for faults whose events we missed (injected
 * before we attached, or events dropped): a new id is an injection at its start time, an id
 * gone from the list is a heal at the snapshot's time.
 */
export function marksFromFaults(marks: readonly FaultMark[], before: readonly FaultView[] | undefined, now: ClusterSnapshot): FaultMark[] {
  let out = marks as FaultMark[];
  const has = (id: string, kind: FaultMark['kind']) => out.some((m) => m.id === id && m.kind === kind);
  for (const f of now.faults) if (!has(f.id, 'injected')) out = [...out, { at: f.startedAt, kind: 'injected', id: f.id, label: faultLabel(f) }];
  if (before) {
    const ids = new Set(now.faults.map((f) => f.id));
    for (const f of before) if (!ids.has(f.id) && !has(f.id, 'healed')) out = [...out, { at: now.at, kind: 'healed', id: f.id, label: `ended: ${faultLabel(f)}` }];
  }
  return out === marks ? out : tidyMarks(out);
}

export function tidyMarks(marks: readonly FaultMark[]): FaultMark[] {
  return [...marks].sort((a, b) => a.at - b.at).slice(-marksMax);
}

// --- chart data (uPlot's columns; x in seconds) ---

const xs = (h: readonly Sample[]) => h.map((s) => s.t / 1000);

export function opsData(h: readonly Sample[]): uPlot.AlignedData {
  return [xs(h), ...opKinds.map((op) => h.map((s) => s.ops[op].perSecond))];
}

export function latencyData(h: readonly Sample[], op: OpKind): uPlot.AlignedData {
  return [xs(h), h.map((s) => s.ops[op].p50), h.map((s) => s.ops[op].p99), h.map((s) => s.ops[op].p999)];
}

export function errorsData(h: readonly Sample[]): uPlot.AlignedData {
  return [xs(h), h.map((s) => s.errorsPerSecond), h.map((s) => s.unavailablePerSecond)];
}

/** Every target that held hints at some point of the history, sorted. */
export function hintTargets(h: readonly Sample[]): string[] {
  const set = new Set<string>();
  for (const s of h) for (const [t, n] of Object.entries(s.hintsByTarget)) if (n > 0) set.add(t);
  return [...set].sort();
}

export function hintsData(h: readonly Sample[], targets: readonly string[]): uPlot.AlignedData {
  return [xs(h), h.map((s) => s.hintsTotal), ...targets.map((t) => h.map((s) => s.hintsByTarget[t] ?? 0))];
}

export function drainData(h: readonly Sample[]): uPlot.AlignedData {
  return [xs(h), h.map((s) => s.drainPerSecond)];
}

/** Whether the hint backlog rose over the last `n` samples (never falling, and higher at the end). */
export function hintsGrowing(h: readonly Sample[], n = 5): boolean {
  if (h.length < n) return false;
  const last = h.slice(-n);
  for (let i = 1; i < last.length; i++) if (last[i]!.hintsTotal < last[i - 1]!.hintsTotal) return false;
  return last[last.length - 1]!.hintsTotal > last[0]!.hintsTotal;
}

/** Samples rebuilt from the backend's recorded series (History), for the live charts' past. */
export function samplesFromHistory(h: HistorySeries): Sample[] {
  const col = (name: string) => h.series[name] ?? [];
  const out: Sample[] = [];
  h.t.forEach((t, i) => {
    const v = (name: string): number | null => col(name)[i] ?? null;
    if (v('ops.get') === null && v('nodesUp') === null) return; // a gap
    const ops = {} as Record<OpKind, OpSample>;
    for (const op of opKinds) ops[op] = { perSecond: v(`ops.${op}`) ?? 0, p50: v(`p50.${op}`), p99: v(`p99.${op}`), p999: v(`p999.${op}`) };
    out.push({
      t,
      ops,
      errorsTotal: 0,
      unavailableTotal: 0,
      errorsPerSecond: v('errors') ?? 0,
      unavailablePerSecond: v('unavailable') ?? 0,
      hintsTotal: v('hints') ?? 0,
      hintsByTarget: {},
      drainPerSecond: v('hintsDrain') ?? 0,
      membersUp: v('nodesUp') ?? 0,
      membersTotal: (v('nodesUp') ?? 0) + (v('nodesDown') ?? 0),
      fromHistory: true,
    });
  });
  return out;
}
