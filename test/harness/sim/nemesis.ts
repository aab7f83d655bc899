// The nemesis: a seeded plan of faults, applied at their virtual times, and a log of what was
// in force when (the checker's availability rule only judges writes made in calm weather).
//
// Two independent tracks, so faults overlap sometimes:
// Half the runs keep a quiet window of 14-20 s (nothing, or one node down throughout), so
// the availability rule has writes to judge.
// - nodes: crash then restart, crash with data loss (at most once a run, so every
//   acknowledged write keeps a copy on some disk), pause then resume, now and then two
//   crashes at once;
// - network: a symmetric split, an isolated node, one-way cuts, message loss, duplication,
//   heavy reordering, or a mix of the last three.
// Everything heals at `healAt`.

import type { FaultLog } from '../../../node-core/src/verify/fault-log.js';
import type { SimCluster } from './cluster.js';
import type { LinkFaults } from './network.js';
import type { Rng } from './random.js';

export type NodeFaultKind = 'crash' | 'wipe' | 'pause';
export type NetFaultKind = 'split' | 'isolate' | 'oneway' | 'loss' | 'dup' | 'reorder' | 'mix';

export type FaultStep =
  | { readonly track: 'node'; readonly kind: NodeFaultKind; readonly nodes: readonly string[]; readonly at: number; readonly until: number }
  | {
      readonly track: 'net';
      readonly kind: NetFaultKind;
      readonly at: number;
      readonly until: number;
      /** Directed cuts [from, to]. */
      readonly cuts: readonly (readonly [string, string])[];
      readonly links: LinkFaults;
    };

export interface FaultPlan {
  readonly steps: readonly FaultStep[];
  readonly healAt: number;
}

export interface PlanOptions {
  readonly nodes: readonly string[];
  readonly startMs: number;
  readonly healAt: number;
  /** No faults at all (a calm run). */
  readonly calm: boolean;
  readonly baseLinks: LinkFaults;
}

function describeStep(s: FaultStep): string {
  if (s.track === 'node') return `${s.kind} ${s.nodes.join(',')}`;
  const cuts = s.cuts.length ? ` cuts ${s.cuts.map(([a, b]) => `${a}>${b}`).join(' ')}` : '';
  const l = s.links;
  const link = [l.lossRate ? `loss ${l.lossRate.toFixed(2)}` : '', l.dupRate ? `dup ${l.dupRate.toFixed(2)}` : '', l.spikeRate ? `reorder ${l.spikeRate.toFixed(2)}/${l.spikeMaxMs}ms` : ''].filter(Boolean).join(' ');
  return `${s.kind}${cuts}${link ? ` ${link}` : ''}`;
}

export function planFaults(rng: Rng, o: PlanOptions): FaultPlan {
  const steps: FaultStep[] = [];
  if (o.calm) return { steps, healAt: o.healAt };
  const ids = o.nodes;
  // Half the runs keep a quiet window (no faults, or one node down throughout) long enough for
  // the availability rule to judge the writes made in it.
  const quiet = rng.chance(0.5) ? { from: o.startMs + 4000 + rng.int(8000), to: 0 } : undefined;
  if (quiet) quiet.to = quiet.from + 14_000 + rng.int(6000);
  const skipQuiet = (t: number) => (quiet && t >= quiet.from - 1500 && t < quiet.to ? quiet.to + 500 : t);
  const endBeforeQuiet = (t: number, until: number) => (quiet && t < quiet.from && until > quiet.from - 1000 ? Math.max(t + 500, quiet.from - 1000) : until);
  if (quiet && rng.chance(0.5)) steps.push({ track: 'node', kind: 'crash', nodes: [rng.pick(ids)], at: quiet.from - 1000, until: Math.min(o.healAt, quiet.to + 1000) });
  let wiped = false;
  // Node track.
  for (let t = skipQuiet(o.startMs + rng.int(3000)); t < o.healAt - 1000; ) {
    const until = endBeforeQuiet(t, Math.min(o.healAt, t + 1000 + rng.int(7000)));
    const kind = rng.weighted<NodeFaultKind | 'double' | 'none'>([
      [40, 'crash'],
      [30, 'pause'],
      [wiped ? 0 : 10, 'wipe'],
      [ids.length >= 4 ? 10 : 3, 'double'],
      [10, 'none'],
    ]);
    if (kind === 'double') steps.push({ track: 'node', kind: 'crash', nodes: rng.shuffle(ids).slice(0, 2), at: t, until });
    else if (kind !== 'none') {
      if (kind === 'wipe') wiped = true;
      steps.push({ track: 'node', kind, nodes: [rng.pick(ids)], at: t, until });
    }
    t = skipQuiet(until + 500 + rng.int(3500));
  }
  // Network track.
  for (let t = skipQuiet(o.startMs + rng.int(3000)); t < o.healAt - 1000; ) {
    const until = endBeforeQuiet(t, Math.min(o.healAt, t + 1000 + rng.int(7000)));
    const kind = rng.weighted<NetFaultKind | 'none'>([
      [20, 'split'],
      [15, 'isolate'],
      [15, 'oneway'],
      [12, 'loss'],
      [10, 'dup'],
      [10, 'reorder'],
      [13, 'mix'],
      [5, 'none'],
    ]);
    if (kind !== 'none') {
      const cuts: [string, string][] = [];
      let links: LinkFaults = o.baseLinks;
      if (kind === 'split') {
        const shuffled = rng.shuffle(ids);
        const k = 1 + rng.int(ids.length - 1);
        const a = shuffled.slice(0, k);
        const b = shuffled.slice(k);
        for (const x of a) for (const y of b) cuts.push([x, y], [y, x]);
      } else if (kind === 'isolate') {
        const x = rng.pick(ids);
        for (const y of ids) if (y !== x) cuts.push([x, y], [y, x]);
      } else if (kind === 'oneway') {
        const count = 1 + rng.int(2);
        for (let i = 0; i < count; i++) {
          const [x, y] = rng.shuffle(ids);
          cuts.push([x!, y!]);
        }
      }
      if (kind === 'loss' || kind === 'mix') links = { ...links, lossRate: 0.05 + rng.next() * 0.25 };
      if (kind === 'dup' || kind === 'mix') links = { ...links, dupRate: 0.05 + rng.next() * 0.25 };
      if (kind === 'reorder' || kind === 'mix') links = { ...links, spikeRate: 0.1 + rng.next() * 0.3, spikeMaxMs: 50 + rng.int(400) };
      steps.push({ track: 'net', kind, at: t, until, cuts, links });
    }
    t = skipQuiet(until + 500 + rng.int(3500));
  }
  return { steps, healAt: o.healAt };
}

/** Schedules the plan's faults on the cluster; everything still in force ends at healAt. */
export function applyPlan(cluster: SimCluster, plan: FaultPlan, log: FaultLog, baseLinks: LinkFaults): void {
  const s = cluster.scheduler;
  const net = cluster.net;
  for (const step of plan.steps) {
    s.schedule(step.at - s.now, undefined, `fault ${describeStep(step)}`, () => {
      if (step.track === 'node') {
        const nodes = step.nodes.filter((id) => cluster.isRunning(id));
        if (nodes.length === 0) return;
        const interval = log.open({ kind: step.kind, nodes, disruptive: step.kind === 'pause', from: s.now });
        for (const id of nodes) {
          if (step.kind === 'pause') cluster.pause(id);
          else cluster.crash(id, step.kind === 'wipe');
        }
        s.schedule(step.until - s.now, undefined, `end ${describeStep(step)}`, () => {
          if (interval.to !== Infinity) return; // already healed
          interval.to = s.now;
          for (const id of nodes) {
            if (step.kind === 'pause') cluster.resume(id);
            else cluster.start(id);
          }
        });
        return;
      }
      const disruptive = step.cuts.length > 0 || step.links.lossRate > 0;
      const interval = log.open({ kind: step.kind, nodes: [...new Set(step.cuts.flat())], disruptive, from: s.now });
      for (const [a, b] of step.cuts) net.cut(a, b);
      net.faults = step.links;
      s.schedule(step.until - s.now, undefined, `end ${describeStep(step)}`, () => {
        if (interval.to !== Infinity) return;
        interval.to = s.now;
        net.heal();
        net.faults = baseLinks;
      });
    });
  }
  s.schedule(plan.healAt - s.now, undefined, 'heal everything', () => {
    for (const i of log.intervals) if (i.to === Infinity) i.to = s.now;
    net.heal();
    net.faults = baseLinks;
    for (const id of cluster.activeIds()) {
      if (cluster.isPaused(id)) cluster.resume(id);
      if (!cluster.isRunning(id)) cluster.start(id);
    }
  });
}

