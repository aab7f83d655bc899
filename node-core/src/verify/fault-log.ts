// What faults were in force when, on a run's clock: the checker's availability rule (rule 5)
// only judges writes made in calm weather with enough replicas up. The simulator's nemesis,
// the chaos run and the console's experiments each open an interval per fault they inject.

/** A fault as it was in force, for the checker. `to` is when it ended (Infinity while in force). */
export interface FaultInterval {
  /** What the fault was: 'crash' and 'wipe' take nodes down; others are the injector's names (split, pause, loss...). */
  readonly kind: string;
  readonly nodes: readonly string[];
  /** Whether it stops messages between running nodes (cuts, loss) or stops a node (pause). */
  readonly disruptive: boolean;
  readonly from: number;
  to: number;
}

/** Kinds that take a node down (its process is gone until restarted). */
const downKinds: ReadonlySet<string> = new Set(['crash', 'wipe']);

export class FaultLog {
  readonly intervals: FaultInterval[] = [];

  open(i: Omit<FaultInterval, 'to'>): FaultInterval {
    const full: FaultInterval = { ...i, to: Infinity };
    this.intervals.push(full);
    return full;
  }

  /** Nodes down (crashed, not yet restarted) at time t. */
  downAt(t: number): Set<string> {
    const out = new Set<string>();
    for (const i of this.intervals) if (downKinds.has(i.kind) && i.from <= t && t < i.to) for (const n of i.nodes) out.add(n);
    return out;
  }

  /** Whether any fault other than duplication or reordering (or a join or leave) was in force during [from, to]. */
  disruptedDuring(from: number, to: number): boolean {
    return this.intervals.some((i) => i.disruptive && i.from <= to && from < i.to);
  }

  /** Whether some node crashed or restarted during [from, to]. */
  membershipChangedDuring(from: number, to: number): boolean {
    return this.intervals.some((i) => downKinds.has(i.kind) && ((from <= i.from && i.from <= to) || (from <= i.to && i.to <= to)));
  }

  wasWiped(): boolean {
    return this.intervals.some((i) => i.kind === 'wipe');
  }

  /** Closes every interval still open (or ending later) at `t`: everything healed then. */
  healAll(t: number): void {
    for (const i of this.intervals) if (i.to === Infinity || i.to > t) i.to = t;
  }
}
