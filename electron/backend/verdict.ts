// An experiment's verdict (issue 14): what the checker (node-core/src/verify/checker.ts) said
// of the run's history, summed up for the console and bounded for its run history. Pure.

import type { Violation } from '../../node-core/src/verify/checker.js';
import type { History } from '../../node-core/src/verify/history.js';

/** Violations kept in a verdict (the counts per rule cover all that were reported). */
export const verdictViolationsMax = 50;
/** Characters kept of each violation's message. */
export const violationMessageCharsMax = 500;

export interface VerdictViolation {
  readonly rule: string;
  readonly key: string | null;
  readonly message: string;
}

export interface Verdict {
  /** No rule broken. */
  readonly ok: boolean;
  /** The first violations, capped at verdictViolationsMax. */
  readonly violations: readonly VerdictViolation[];
  /** Violations reported, by rule (the checker reports at most 3 per rule and key). */
  readonly violationCounts: Readonly<Record<string, number>>;
  /** Writes of the workload the cluster acknowledged. */
  readonly acknowledgedWrites: number;
  /** Acknowledged writes reported lost (rules lost-write and sibling-lost). */
  readonly lostWrites: number;
  /** The replicas did not agree after settling, or a final read disagreed with them (rule 4). */
  readonly divergence: boolean;
  /** The workload's operations: attempted, answered ok, and their ratio (1 when none were attempted). */
  readonly availability: { readonly attempted: number; readonly ok: number; readonly ratio: number };
  readonly durationMs: number;
}

/** The client id of the reads of the settled state (they are not the workload's). */
export const finalReaderId = 'final';

export function verdictOf(violations: readonly Violation[], history: History, durationMs: number): Verdict {
  const violationCounts: Record<string, number> = {};
  for (const v of violations) violationCounts[v.rule] = (violationCounts[v.rule] ?? 0) + 1;
  const ops = history.ops.filter((o) => o.client !== finalReaderId);
  const ok = ops.filter((o) => o.outcome === 'ok').length;
  return {
    ok: violations.length === 0,
    violations: violations.slice(0, verdictViolationsMax).map((v) => ({ rule: v.rule, key: v.key ?? null, message: v.message.slice(0, violationMessageCharsMax) })),
    violationCounts,
    acknowledgedWrites: history.writes().filter((w) => w.client !== finalReaderId && w.outcome === 'ok').length,
    lostWrites: (violationCounts['lost-write'] ?? 0) + (violationCounts['sibling-lost'] ?? 0),
    divergence: (violationCounts.divergence ?? 0) > 0,
    availability: { attempted: ops.length, ok, ratio: ops.length === 0 ? 1 : ok / ops.length },
    durationMs: Math.round(durationMs),
  };
}
