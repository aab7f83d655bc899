// Virtual time for the simulator: one event queue ordered by (virtual time, sequence number),
// and the Env (core/env.ts) each simulated node gets, whose timers are events in that queue.
//
// Determinism: events run one at a time; after each one the run loop lets the microtask
// queue drain completely (one setImmediate turn) before taking the next, so every promise
// continuation an event started runs "at" that event's instant and in a fixed order. Nothing
// else in the process does I/O, so a seed replays exactly; `traceHash` folds every executed
// event's description into one number to prove it.
//
// Every event has an owner: a node incarnation (its timers, replies to its requests), a node
// whatever its incarnation (messages addressed to it), or nobody (the simulator itself). The
// cluster's gate decides per owner: run, hold (the node is paused: SIGSTOP keeps timers and
// messages waiting) or drop (that incarnation crashed: its timers die with it).

import type { Env, TimerHandle } from '../../../node-core/src/core/env.js';
import { hash32, type Rng } from './random.js';

export interface Owner {
  readonly node: string;
  /** Undefined: whichever incarnation of the node is current when the event runs. */
  readonly incarnation: number | undefined;
}

export type Gate = 'run' | 'hold' | 'drop';

interface SimEvent {
  readonly at: number;
  readonly seq: number;
  readonly owner: Owner | undefined;
  readonly label: string;
  readonly fn: () => void;
  canceled: boolean;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A binary min-heap of events by (at, seq). */
class EventHeap {
  private readonly items: SimEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): SimEvent | undefined {
    return this.items[0];
  }

  push(e: SimEvent): void {
    const h = this.items;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}

/** An exception thrown by an event (a timer callback, a handler): a crash in production. */
export interface EventError {
  readonly at: number;
  readonly label: string;
  readonly owner: string;
  readonly error: string;
}

export const flushTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export class Scheduler {
  now = 0;
  private seq = 0;
  private readonly heap = new EventHeap();
  private readonly held = new Map<string, SimEvent[]>();
  /** Set by the cluster: what happens to an event of this owner right now. */
  gate: (owner: Owner) => Gate = () => 'run';
  /** Every executed event and every noted line folded into one 32-bit hash. */
  traceHash = 0x811c9dc5;
  eventsRun = 0;
  readonly errors: EventError[] = [];
  /** Called with each trace line (verbose replay). */
  onTrace: ((line: string) => void) | undefined;

  /** Runs `fn` after `delayMs` of virtual time, on behalf of `owner`. */
  schedule(delayMs: number, owner: Owner | undefined, label: string, fn: () => void): TimerHandle {
    const at = this.now + (Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0);
    const e: SimEvent = { at, seq: this.seq++, owner, label, fn, canceled: false };
    this.heap.push(e);
    return { cancel: () => (e.canceled = true) };
  }

  /** Folds a line into the trace (faults, client operations) and shows it when verbose. */
  note(line: string, stamped = false): void {
    const text = stamped ? line : `${this.now} ${line}`;
    this.traceHash = hash32(text, this.traceHash);
    this.onTrace?.(text);
  }

  /** Shows a line in a verbose replay without folding it into the trace hash (node logs). */
  show(line: string): void {
    this.onTrace?.(line);
  }

  /** The time of the next pending event, if any. */
  nextAt(): number | undefined {
    return this.heap.peek()?.at;
  }

  /**
   * Runs events in order until virtual time `untilMs` (events at exactly `untilMs` included),
   * or until `stop()` says so (checked after each event). Leaves `now` at `untilMs` unless stopped.
   */
  async runUntil(untilMs: number, stop?: () => boolean): Promise<void> {
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.at > untilMs) break;
      this.heap.pop();
      if (top.canceled) continue;
      const gate = top.owner ? this.gate(top.owner) : 'run';
      if (gate === 'drop') continue;
      if (gate === 'hold') {
        const list = this.held.get(top.owner!.node) ?? [];
        list.push(top);
        this.held.set(top.owner!.node, list);
        continue;
      }
      this.now = top.at;
      this.eventsRun++;
      const owner = top.owner ? `${top.owner.node}${top.owner.incarnation === undefined ? '' : `#${top.owner.incarnation}`}` : 'sim';
      const line = `${top.at} ${owner} ${top.label}`;
      this.traceHash = hash32(line, this.traceHash);
      this.onTrace?.(line);
      try {
        top.fn();
      } catch (e) {
        this.fail(owner, top.label, e instanceof Error ? (e.stack ?? e.message) : String(e));
      }
      await flushTurn();
      if (stop?.()) return;
    }
    if (this.now < untilMs) this.now = untilMs;
  }

  /** Records a failure that is a crash in production (an exception, a hung process). */
  fail(owner: string, label: string, error: string): void {
    this.errors.push({ at: this.now, label, owner, error });
    // The text (a stack) depends on source maps being on: only the fact goes into the hash.
    this.note(`FAILURE ${owner} ${label}`);
    this.show(`  ${error.split('\n')[0] ?? ''}`);
  }

  /** A paused node resumes: its held events run now, in the order they were due. */
  release(node: string): void {
    const list = this.held.get(node);
    if (!list) return;
    this.held.delete(node);
    for (const e of list) {
      if (e.canceled) continue;
      this.heap.push({ at: this.now, seq: this.seq++, owner: e.owner, label: e.label, fn: e.fn, canceled: false });
    }
  }

  /** Drops held events of a node (it crashed while paused); those owned by "any incarnation" stay due. */
  dropHeld(node: string): void {
    const list = this.held.get(node);
    if (!list) return;
    this.held.delete(node);
    for (const e of list) {
      if (e.canceled || e.owner?.incarnation !== undefined) continue;
      this.heap.push({ at: this.now, seq: this.seq++, owner: e.owner, label: e.label, fn: e.fn, canceled: false });
    }
  }
}

/**
 * Catches a node spinning inside one event: a loop of promise continuations that never yields
 * to the event loop would hang the whole simulator (and, in production, the node's process).
 * The node's clock, store and transport count their calls per event; past `limit` the
 * watchdog trips once, with the stack of the call that tripped it.
 */
export class Watchdog {
  private event = -1;
  private count = 0;
  tripped = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly limit: number,
    private readonly onTrip: (stack: string) => void,
  ) {}

  beat(): void {
    if (this.scheduler.eventsRun !== this.event) {
      this.event = this.scheduler.eventsRun;
      this.count = 0;
    }
    if (++this.count === this.limit && !this.tripped) {
      this.tripped = true;
      this.onTrip(new Error('livelock').stack ?? '');
    }
  }
}

/** Calls of a node's clock, store or transport within one event that make it a livelock. */
export const livelockCallsMax = 50_000;

/** The Env a simulated node runs on: the shared virtual clock, its own seeded stream, its timers. */
export function nodeEnv(scheduler: Scheduler, owner: Owner, rng: Rng, watchdog?: Watchdog): Env {
  return {
    now: () => {
      watchdog?.beat();
      return scheduler.now;
    },
    random: () => rng.next(),
    setTimer: (ms, fn) => scheduler.schedule(ms, owner, 'timer', fn),
  };
}

/** An Env for the simulator's own actors (clients, the nemesis): timers owned by nobody. */
export function simEnv(scheduler: Scheduler, rng: Rng, label = 'sim'): Env {
  return {
    now: () => scheduler.now,
    random: () => rng.next(),
    setTimer: (ms, fn) => scheduler.schedule(ms, undefined, label, fn),
  };
}
