// Request tracing (issue 5): what one get or put did, step by step, as the coordinator saw it:
// which replicas it asked (and for whom a stand-in held a hint), who answered when and with
// which versions, which were stale, what read repair sent, where a write was forwarded.
// Times are ms since the trace began, on the env's clock (pure: the simulator can trace too).

import type { Env } from './env.js';
import type { Version } from './siblings.js';

export type TraceStep =
  | 'plan'
  | 'ask'
  | 'reply'
  | 'fail'
  | 'decided'
  | 'stale'
  | 'repair'
  | 'forward'
  | 'forwarded'
  | 'commit'
  | 'send'
  | 'ack'
  | 'hint'
  | 'note';

export interface TraceVersion {
  readonly version: string;
  readonly deleted: boolean;
  readonly size: number;
}

export interface TraceEvent {
  /** ms since the trace began. */
  readonly at: number;
  readonly step: TraceStep;
  /** The node this step concerns (asked, answering, written to). */
  readonly node: string | undefined;
  /** For a stand-in: the preference-list node it holds a hint for. */
  readonly hintFor?: string | undefined;
  readonly versions?: readonly TraceVersion[] | undefined;
  readonly detail: string;
}

export const traceEventsMax = 256;

export function traceVersions(versions: readonly Version[]): TraceVersion[] {
  return versions.map((v) => ({ version: `${v.dot.actor}:${v.dot.counter}`, deleted: v.deleted, size: v.value.byteLength }));
}

export class Trace {
  readonly events: TraceEvent[] = [];
  private readonly startedAt: number;
  private readonly pending: Promise<unknown>[] = [];
  dropped = 0;

  constructor(private readonly env: Env) {
    this.startedAt = env.now();
  }

  add(step: TraceStep, node: string | undefined, detail: string, extra: { hintFor?: string | undefined; versions?: readonly Version[] } = {}): void {
    if (this.events.length >= traceEventsMax) {
      this.dropped++;
      return;
    }
    this.events.push({ at: this.env.now() - this.startedAt, step, node, detail, ...(extra.hintFor !== undefined ? { hintFor: extra.hintFor } : {}), ...(extra.versions ? { versions: traceVersions(extra.versions) } : {}) });
  }

  /** Work that continues after the answer (the rest of the replies, read repair): the trace waits for it. */
  follow(p: Promise<unknown>): void {
    this.pending.push(p.catch(() => undefined));
  }

  /** Resolves once every followed step has finished. */
  async settled(): Promise<void> {
    for (let i = 0; i < this.pending.length; i++) await this.pending[i];
  }
}
