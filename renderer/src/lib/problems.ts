// The Overview's "Problems": what an operator should look at, computed from the snapshot (and
// the recent history for trends), worst first.

import { fmtList, fmtRate, plural } from './format';
import { type Sample, hintsGrowing } from './history';
import type { ClusterSnapshot } from './types';

export type Severity = 'critical' | 'warning' | 'info';

export interface Problem {
  /** Stable per problem kind (and node), for keyed lists and tests. */
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly detail: string;
  /** The screen that shows more. */
  readonly route: string;
}

const rank: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export function computeProblems(s: ClusterSnapshot, history: readonly Sample[]): Problem[] {
  const out: Problem[] = [];
  const { n, w, r } = s.config;

  for (const m of s.members) {
    if (m.status === 'down') out.push({ id: `node-down-${m.id}`, severity: 'critical', title: `${m.id} is down`, detail: `${s.via} has not heard from ${m.id} (${m.address}) for ${m.heartbeatAgeMs === null ? 'a while' : `${Math.round(m.heartbeatAgeMs / 1000)} s`}.`, route: 'membership' });
    else if (m.status === 'suspect') out.push({ id: `node-suspect-${m.id}`, severity: 'warning', title: `${m.id} is suspect`, detail: `phi ${m.phi === null ? '?' : m.phi.toFixed(1)}: heartbeats from ${m.id} are late.`, route: 'membership' });
    else if (m.status === 'joining' || m.status === 'leaving') out.push({ id: `node-${m.status}-${m.id}`, severity: 'info', title: `${m.id} is ${m.status}`, detail: `Partitions move ${m.status === 'joining' ? 'to' : 'away from'} ${m.id}.`, route: 'membership' });
  }
  for (const x of s.nodes) {
    if ('unreachable' in x && !s.members.some((m) => m.id === x.id && m.status === 'down')) {
      out.push({ id: `node-unreachable-${x.id}`, severity: 'warning', title: `No report from ${x.id}`, detail: x.unreachable, route: 'membership' });
    }
  }

  // Split view: observers that disagree about a target.
  const { observers, targets, status } = s.matrix;
  const split: string[] = [];
  targets.forEach((t, j) => {
    const seen = new Set(observers.map((_, i) => status[i]?.[j]).filter((v) => v !== null && v !== undefined));
    if (seen.size > 1) split.push(t);
  });
  if (split.length > 0) out.push({ id: 'split-view', severity: 'warning', title: 'Nodes disagree about membership', detail: `Different observers see different states for ${fmtList(split)} (a partition, or a failure being detected).`, route: 'membership' });

  const belowW = s.partitions.filter((p) => p.replicasUp < w);
  const belowR = s.partitions.filter((p) => p.replicasUp < r);
  if (belowW.length > 0 || belowR.length > 0) {
    const worst = belowW.length >= belowR.length ? belowW : belowR;
    out.push({
      id: 'quorum-at-risk',
      severity: 'critical',
      title: `Quorum at risk in ${plural(worst.length, 'partition')}`,
      detail: `Fewer than ${belowW.length >= belowR.length ? `W=${w}` : `R=${r}`} preference-list replicas up (sloppy quorum relies on stand-ins): ${fmtList(worst.map((p) => `p${p.partition}`))}.`,
      route: 'replicas',
    });
  }
  const under = s.partitions.filter((p) => p.replicasUp < n && p.replicasUp >= w);
  if (under.length > 0) out.push({ id: 'under-replicated', severity: 'warning', title: `${plural(under.length, 'partition')} under-replicated`, detail: `Fewer than N=${n} replicas up: ${fmtList(under.map((p) => `p${p.partition}`))}.`, route: 'replicas' });

  if (hintsGrowing(history)) {
    out.push({ id: 'hints-growing', severity: 'warning', title: 'Hint backlog growing', detail: `${s.hints.total} hints held for down replicas and rising (draining at ${fmtRate(s.hints.drainPerSecond)}).`, route: 'hints' });
  } else if (s.hints.total > 0) {
    out.push({ id: 'hints-pending', severity: 'info', title: `${plural(s.hints.total, 'hint')} pending`, detail: `Held for ${fmtList(Object.keys(s.hints.byTarget).filter((t) => (s.hints.byTarget[t] ?? 0) > 0))}; draining at ${fmtRate(s.hints.drainPerSecond)}.`, route: 'hints' });
  }

  const disagree = s.partitions.filter((p) => p.merkleAgree === false);
  if (disagree.length > 0) out.push({ id: 'merkle-disagree', severity: 'warning', title: `Replicas disagree in ${plural(disagree.length, 'partition')}`, detail: `Merkle roots differ (anti-entropy repairs them): ${fmtList(disagree.map((p) => `p${p.partition}`))}.`, route: 'replicas' });

  const transfers = s.partitions.filter((p) => p.pendingTo !== null);
  if (transfers.length > 0) out.push({ id: 'transfers', severity: 'info', title: `${plural(transfers.length, 'partition')} transferring`, detail: fmtList(transfers.map((p) => `p${p.partition} ${p.owner}→${p.pendingTo}`)), route: 'ring' });

  if (s.faults.length > 0) out.push({ id: 'faults', severity: 'warning', title: `${plural(s.faults.length, 'fault')} injected`, detail: s.faults.map((f) => f.description || f.kind).join('; '), route: 'chaos' });

  const last = history[history.length - 1];
  if (last && (last.errorsPerSecond > 0 || last.unavailablePerSecond > 0)) {
    out.push({ id: 'errors', severity: 'warning', title: 'Requests failing', detail: `${fmtRate(last.errorsPerSecond)} errors, ${fmtRate(last.unavailablePerSecond)} 503s.`, route: 'throughput' });
  }

  if (s.conflicts.keysWithSiblings > 0) out.push({ id: 'siblings', severity: 'info', title: `${plural(s.conflicts.keysWithSiblings, 'key')} with siblings`, detail: 'Concurrent writes kept side by side: read and resolve them.', route: 'conflicts' });

  return out.sort((a, b) => rank[a.severity] - rank[b.severity]);
}
