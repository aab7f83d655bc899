// A traced request laid out as a timeline: one row per node, bars from a request to its
// answer (ask -> reply, send/hint -> ack, forward -> forwarded, stale -> repair), ticks for
// every step.

import type { TraceResult, TraceStepView } from './types';

export type BarKind = 'read' | 'write' | 'hint' | 'repair' | 'forward';

export interface TimelineBar {
  readonly row: number;
  readonly from: number;
  /** null: never answered within the trace. */
  readonly to: number | null;
  readonly kind: BarKind;
  readonly failed: boolean;
  readonly label: string;
}

export interface TimelineTick {
  readonly row: number;
  readonly at: number;
  readonly step: string;
  readonly detail: string;
  readonly index: number;
}

export interface Timeline {
  readonly rows: readonly string[];
  readonly bars: readonly TimelineBar[];
  readonly ticks: readonly TimelineTick[];
  /** The end of the x axis, ms. */
  readonly end: number;
}

const pairs: Record<string, { ends: readonly string[]; kind: (s: TraceStepView) => BarKind }> = {
  ask: { ends: ['reply', 'fail'], kind: (s) => (s.hintFor ? 'hint' : 'read') },
  send: { ends: ['ack', 'fail'], kind: () => 'write' },
  hint: { ends: ['ack', 'fail'], kind: () => 'hint' },
  forward: { ends: ['forwarded', 'fail'], kind: () => 'forward' },
  stale: { ends: ['repair', 'fail'], kind: () => 'repair' },
};

export function layoutTrace(t: TraceResult): Timeline {
  const rows: string[] = [t.coordinator];
  const rowOf = (s: TraceStepView) => {
    const node = s.node ?? t.coordinator;
    let i = rows.indexOf(node);
    if (i < 0) i = rows.push(node) - 1;
    return i;
  };
  const steps = t.steps;
  const used = new Set<number>();
  const bars: TimelineBar[] = [];
  const ticks: TimelineTick[] = [];
  steps.forEach((s, i) => {
    const row = rowOf(s);
    ticks.push({ row, at: s.at, step: s.step, detail: s.detail, index: i });
    const pair = pairs[s.step];
    if (!pair) return;
    let end = -1;
    for (let j = i + 1; j < steps.length; j++) {
      const e = steps[j]!;
      if (used.has(j) || !pair.ends.includes(e.step) || (e.node ?? t.coordinator) !== (s.node ?? t.coordinator)) continue;
      if (s.step !== 'stale' && (e.hintFor ?? null) !== (s.hintFor ?? null)) continue;
      end = j;
      break;
    }
    if (end >= 0) used.add(end);
    const e = end >= 0 ? steps[end]! : undefined;
    bars.push({
      row,
      from: s.at,
      to: e ? e.at : null,
      kind: pair.kind(s),
      failed: e?.step === 'fail',
      label: `${s.step}${s.hintFor ? ` (for ${s.hintFor})` : ''} → ${e ? `${e.step} at ${e.at} ms` : 'no answer'}`,
    });
  });
  const last = steps.reduce((a, s) => Math.max(a, s.at), 0);
  const end = Math.max(1, last, t.durationMs) * 1.06;
  return { rows, bars, ticks, end };
}

export const stepColors: Record<string, string> = {
  plan: '#64748b',
  ask: '#2563eb',
  reply: '#2563eb',
  send: '#7c3aed',
  ack: '#7c3aed',
  hint: '#d97706',
  stale: '#dc2626',
  repair: '#059669',
  fail: '#b91c1c',
  decided: '#0f172a',
  commit: '#0f766e',
  forward: '#0891b2',
  forwarded: '#0891b2',
  note: '#94a3b8',
};

export const barColors: Record<BarKind, string> = {
  read: '#93c5fd',
  write: '#c4b5fd',
  hint: '#fcd34d',
  repair: '#6ee7b7',
  forward: '#67e8f9',
};
