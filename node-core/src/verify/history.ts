// What a run records for the checker (verify/checker.ts), whoever runs it (the simulator,
// the chaos run, the console's experiments):
// - the history: every client operation's invocation and completion, on the run's clock, with
//   what it saw (versions by dot and by writer), the context it sent and the one it got back;
// - the index of versions (VersionIndex): each version's dot, clock and writer (writes carry
//   unique values, tombstones their writer in the content type); the simulator's oracle sees
//   every commit (test/harness/sim/history.ts), a black-box run what responses showed
//   (observed.ts);
// - per key, the last events that touched it (client ops, messages, commits), printed with a
//   violation so it can be replayed and read.

import type { Version } from '../core/siblings.js';
import type { VClock } from '../core/vclock.js';

export type Outcome = 'ok' | 'fail' | 'unknown';

/** A version as a client or the oracle saw it. */
export interface VersionSeen {
  /** "actor:counter": unique per key. */
  readonly dot: string;
  /** The write that made it (from its value, or a tombstone's content type), if recognisable. */
  readonly writeId: string | undefined;
  readonly deleted: boolean;
}

export interface ReadOp {
  readonly kind: 'get';
  readonly op: number;
  readonly client: string;
  readonly key: string;
  readonly node: string;
  readonly r: number;
  readonly invokedAt: number;
  /** A read of the final state (after the faults healed and the cluster settled). */
  readonly final: boolean;
  completedAt?: number;
  outcome?: Outcome;
  status?: number;
  versions?: VersionSeen[];
  /** The context returned, encoded as the HTTP API hands it out. */
  context?: string;
  /** The writes whose versions that context covered (of those committed so far). */
  covers?: string[];
  error?: string;
}

/** Where the context of a write came from. */
export type Basis =
  | { readonly kind: 'none' }
  /** The versions a read returned (by dot). */
  | { readonly kind: 'read'; readonly op: number; readonly dots: readonly string[] }
  /** The context a previous write of this client returned. */
  | { readonly kind: 'put'; readonly writeId: string };

export interface WriteOp {
  readonly kind: 'put' | 'delete';
  readonly op: number;
  readonly writeId: string;
  readonly client: string;
  readonly key: string;
  readonly node: string;
  readonly w: number;
  readonly invokedAt: number;
  readonly basis: Basis;
  /** The context sent, if any. */
  readonly context: string | undefined;
  completedAt?: number;
  outcome?: Outcome;
  status?: number;
  /** The context the write returned. */
  returned?: string;
  /** The writes whose versions the returned context covered (of those committed so far). */
  covers?: string[];
  error?: string;
}

export type Op = ReadOp | WriteOp;

export const tombstoneTypePrefix = 'application/x-gyre-sim-tombstone;writer=';

/** The write a stored version came from: values are write ids; tombstones name it in their content type. */
export function writerOf(v: Pick<Version, 'deleted' | 'contentType' | 'value'>): string | undefined {
  if (v.deleted) return v.contentType.startsWith(tombstoneTypePrefix) ? v.contentType.slice(tombstoneTypePrefix.length) : undefined;
  const text = Buffer.from(v.value).toString('utf8');
  return /^c\d+-w\d+$/.test(text) ? text : undefined;
}

export function dotOf(v: Pick<Version, 'dot'>): string {
  return `${v.dot.actor}:${v.dot.counter}`;
}

export function seen(v: Version): VersionSeen {
  return { dot: dotOf(v), writeId: writerOf(v), deleted: v.deleted };
}

const keyTraceMax = 40;

export class History {
  readonly ops: Op[] = [];
  private nextOp = 1;
  private readonly keyTraces = new Map<string, string[]>();
  /** Called with client operation lines (they join the run's trace). */
  onNote: ((line: string) => void) | undefined;

  newOpId(): number {
    return this.nextOp++;
  }

  add(op: Op): void {
    this.ops.push(op);
  }

  /** Remembers a line about `key` (the last few per key are kept); `note` also puts it in the run's trace. */
  traceKey(key: string, line: string, note = false): void {
    if (note) this.onNote?.(line);
    let t = this.keyTraces.get(key);
    if (!t) {
      t = [];
      this.keyTraces.set(key, t);
    }
    t.push(line);
    if (t.length > keyTraceMax) t.shift();
  }

  keyTrace(key: string): readonly string[] {
    return this.keyTraces.get(key) ?? [];
  }

  writes(): WriteOp[] {
    return this.ops.filter((o): o is WriteOp => o.kind !== 'get');
  }

  reads(): ReadOp[] {
    return this.ops.filter((o): o is ReadOp => o.kind === 'get');
  }
}

export interface KnownVersion {
  readonly key: string;
  readonly dot: string;
  readonly event: { readonly actor: string; readonly counter: number };
  readonly writeId: string | undefined;
  readonly deleted: boolean;
  readonly value: string;
  /** Undefined when only a client saw the version, without its clock (the chaos checker). */
  readonly clock: VClock | undefined;
  readonly firstAt: number;
  readonly firstNode: string;
}

export interface DotConflict {
  readonly key: string;
  readonly dot: string;
  readonly first: string;
  readonly second: string;
  readonly at: number;
  readonly node: string;
}

export function describeVersion(v: { writeId: string | undefined; deleted: boolean; value: string }): string {
  return `${v.deleted ? 'tombstone of ' : ''}${v.writeId ?? `unknown value ${JSON.stringify(v.value.slice(0, 24))}`}`;
}

/** What the checker needs to know of every version: the simulator's oracle, or what a chaos run observed. */
export interface VersionIndex {
  readonly conflicts: readonly DotConflict[];
  /** Keys some replica reaped (its tombstones' clock is then joined into later writes). */
  readonly reapedKeys: ReadonlySet<string>;
  versionsOf(key: string): KnownVersion[];
  keys(): string[];
}
