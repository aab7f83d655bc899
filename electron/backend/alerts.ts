// Alerts (issue 14): thresholds on figures the console already has, evaluated on every
// snapshot by the backend (so they fire whichever screen is open, and in the desktop app with
// the window hidden). Pure: a rule set, the previous states and one observation in, the new
// states out; the backend pushes them and the renderer raises desktop notifications for the
// ones that just started firing.
//
// Each rule holds for `forSeconds` before it fires (pending meanwhile) and clears at once when
// the condition stops. "Growing" rules compare against the figure `forSeconds` ago, kept in a
// small window of observations.

import type { AlertMetric, AlertRule, AlertState, ClusterSnapshot } from '../../node-core/src/wire/console.js';

export const alertMetrics: readonly AlertMetric[] = ['nodesDown', 'hintsGrowing', 'p99', 'siblingsGrowing', 'merkleDisagree'];
export const alertRulesMax = 32;

export const defaultAlertRules: readonly AlertRule[] = [
  { id: 'nodes-down', metric: 'nodesDown', threshold: 1, forSeconds: 5, enabled: true },
  { id: 'hints-growing', metric: 'hintsGrowing', threshold: 100, forSeconds: 30, enabled: true },
  { id: 'p99-high', metric: 'p99', threshold: 250, forSeconds: 15, enabled: true },
  { id: 'siblings-growing', metric: 'siblingsGrowing', threshold: 50, forSeconds: 60, enabled: true },
  { id: 'merkle-disagree', metric: 'merkleDisagree', threshold: 1, forSeconds: 120, enabled: true },
];

/** The figures the rules look at, from one snapshot. */
export interface Observation {
  readonly at: number;
  readonly nodesDown: number;
  readonly hints: number;
  readonly p99: number | null;
  readonly siblings: number;
  readonly merkleDisagree: number;
}

export function observe(s: ClusterSnapshot): Observation {
  const p99s = Object.values(s.ops).map((o) => o.p99).filter((x): x is number => x !== null);
  return {
    at: s.at,
    nodesDown: s.members.filter((m) => m.status === 'down').length,
    hints: s.hints.total,
    p99: p99s.length ? Math.max(...p99s) : null,
    siblings: s.conflicts.keysWithSiblings,
    merkleDisagree: s.partitions.filter((p) => p.merkleAgree === false).length,
  };
}

/** Validates rules coming from the renderer. */
export function checkAlertRules(v: unknown): AlertRule[] {
  if (!Array.isArray(v) || v.length > alertRulesMax) throw new Error(`alert rules: a list of at most ${alertRulesMax}`);
  const ids = new Set<string>();
  return v.map((r: unknown, i) => {
    const o = r as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw new Error(`alert rule ${i}: an object`);
    const id = o.id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(id) || ids.has(id)) throw new Error(`alert rule ${i}: id must be 1-40 letters, digits, - or _, and unique`);
    ids.add(id);
    if (!alertMetrics.includes(o.metric as AlertMetric)) throw new Error(`alert rule ${id}: metric is one of ${alertMetrics.join(', ')}`);
    const threshold = o.threshold;
    if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0 || threshold > 1e12) throw new Error(`alert rule ${id}: threshold is a number from 0 to 1e12`);
    const forSeconds = o.forSeconds;
    if (!Number.isInteger(forSeconds) || (forSeconds as number) < 0 || (forSeconds as number) > 86_400) throw new Error(`alert rule ${id}: forSeconds is an integer from 0 to 86400`);
    if (typeof o.enabled !== 'boolean') throw new Error(`alert rule ${id}: enabled is true or false`);
    return { id, metric: o.metric as AlertMetric, threshold, forSeconds: forSeconds as number, enabled: o.enabled };
  });
}

/** The observation at or just before `at` in `window` (ascending). */
function before(window: readonly Observation[], at: number): Observation | undefined {
  let found: Observation | undefined;
  for (const o of window) {
    if (o.at <= at) found = o;
    else break;
  }
  return found;
}

function condition(rule: AlertRule, now: Observation, window: readonly Observation[]): { breached: boolean; value: number | null; message: string } {
  switch (rule.metric) {
    case 'nodesDown':
      return { breached: now.nodesDown >= rule.threshold, value: now.nodesDown, message: `${now.nodesDown} node(s) down (alert at ${rule.threshold})` };
    case 'p99':
      return { breached: now.p99 !== null && now.p99 > rule.threshold, value: now.p99, message: now.p99 === null ? 'no requests' : `p99 ${now.p99.toFixed(1)} ms (alert above ${rule.threshold} ms)` };
    case 'merkleDisagree':
      return { breached: now.merkleDisagree >= rule.threshold, value: now.merkleDisagree, message: `${now.merkleDisagree} partition(s) whose replicas' Merkle roots differ (alert at ${rule.threshold})` };
    case 'hintsGrowing':
    case 'siblingsGrowing': {
      const field = rule.metric === 'hintsGrowing' ? 'hints' : 'siblings';
      // Growth over the rule's window (at least 10 s, so one burst does not count as a trend).
      const span = Math.max(rule.forSeconds, 10) * 1000;
      const then = before(window, now.at - span);
      const grown = then ? now[field] - then[field] : 0;
      const what = field === 'hints' ? 'hint backlog' : 'keys with siblings';
      return { breached: then !== undefined && grown >= rule.threshold, value: grown, message: `${what} grew by ${grown} in ${Math.round(span / 1000)} s (alert at ${rule.threshold}); now ${now[field]}` };
    }
  }
}

/** How much history the growing rules need. */
export function windowMs(rules: readonly AlertRule[]): number {
  return Math.max(60_000, ...rules.map((r) => Math.max(r.forSeconds, 10) * 1000 + 5000));
}

/**
 * The rules' states after `now`: pending from the first breach, firing once it held
 * forSeconds, ok as soon as it stops. `window` holds recent observations (ascending, `now`
 * last or absent).
 */
export function evaluate(rules: readonly AlertRule[], previous: readonly AlertState[], now: Observation, window: readonly Observation[]): AlertState[] {
  const prev = new Map(previous.map((s) => [s.ruleId, s]));
  return rules
    .filter((r) => r.enabled)
    .map((rule) => {
      const c = condition(rule, now, window);
      const was = prev.get(rule.id);
      if (!c.breached) return { ruleId: rule.id, metric: rule.metric, state: 'ok', value: c.value, since: null, message: c.message };
      const since = was && was.state !== 'ok' && was.since !== null ? was.since : now.at;
      const state = now.at - since >= rule.forSeconds * 1000 ? 'firing' : 'pending';
      return { ruleId: rule.id, metric: rule.metric, state, value: c.value, since, message: c.message };
    });
}

/** The rules that started firing between two evaluations (what gets a desktop notification). */
export function newlyFiring(previous: readonly AlertState[], next: readonly AlertState[]): AlertState[] {
  const was = new Map(previous.map((s) => [s.ruleId, s.state]));
  return next.filter((s) => s.state === 'firing' && was.get(s.ruleId) !== 'firing');
}
