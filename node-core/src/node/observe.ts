// What a node knows about itself for the control plane (issue 5): request latencies in HDR
// histograms (per operation, per second), the keys that have siblings right now, and a
// bounded log of events. Recording is cheap and always on; snapshots are built only when a
// control client (or a peer serving one) asks.

import { build, type Histogram } from 'hdr-histogram-js';
import type { ControlEvent, ControlEventBody, OpKind, OpWindow } from '../wire/control.js';

export const eventsKeptMax = 1000;
export const eventsPerSnapshotMax = 200;
/** Keys with siblings tracked by name; past this only the count is exact. */
export const conflictKeysTrackedMax = 10_000;
export const conflictSampleMax = 50;
/** Latencies are recorded in microseconds, up to an hour. */
const latencyMaxUs = 3_600_000_000;

function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: latencyMaxUs, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

/** One operation's latencies: the second being filled and the last whole one. */
class OpRecorder {
  private current = newHistogram();
  private previous = newHistogram();
  private currentSecond = 0;
  private previousSecond = -1;
  total = 0;
  errors = 0;
  unavailable = 0;

  private roll(second: number): void {
    if (second === this.currentSecond) return;
    // The second before this one is the "last whole second"; anything older is empty.
    const tmp = this.previous;
    this.previous = this.current;
    this.previousSecond = this.currentSecond;
    this.current = tmp;
    this.current.reset();
    if (second - this.previousSecond > 1) {
      this.previous.reset();
      this.previousSecond = second - 1;
    }
    this.currentSecond = second;
  }

  record(nowMs: number, ms: number, status: number): void {
    this.roll(Math.floor(nowMs / 1000));
    this.current.recordValue(Math.min(latencyMaxUs, Math.max(1, Math.round(ms * 1000))));
    this.total++;
    if (status >= 500 || status === 0) this.errors++;
    if (status === 503) this.unavailable++;
  }

  window(nowMs: number): OpWindow {
    this.roll(Math.floor(nowMs / 1000));
    const h = this.previous;
    const count = h.totalCount;
    const ms = (p: number) => (count === 0 ? null : Math.round(h.getValueAtPercentile(p) / 10) / 100);
    return { lastSecond: count, total: this.total, p50: ms(50), p99: ms(99), p999: ms(99.9), max: count === 0 ? null : Math.round(h.maxValue / 10) / 100, errors: this.errors, unavailable: this.unavailable };
  }
}

function showKey(key: Uint8Array): string {
  const b = Buffer.from(key);
  const text = b.toString('utf8');
  // Printable text shows as is; anything else as base64.
  const printable = [...text].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f);
  return Buffer.from(text, 'utf8').equals(b) && printable ? text : `base64:${b.toString('base64')}`;
}

export class Observatory {
  private readonly ops: Record<OpKind, OpRecorder> = { get: new OpRecorder(), put: new OpRecorder(), delete: new OpRecorder() };
  private readonly events: ControlEvent[] = [];
  private seq = 0;
  /** Keys (shown form) with more than one version stored here. */
  private readonly conflicted = new Set<string>();
  private conflictedUntracked = 0;
  siblingsCreated = 0;
  siblingsResolved = 0;
  readRepairs = 0;
  /** Called for every event (the control server pushes them to subscribers at once). */
  onEvent: ((e: ControlEvent) => void) | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly now: () => number,
  ) {}

  recordOp(op: OpKind, ms: number, status: number): void {
    this.ops[op].record(this.now(), ms, status);
  }

  opWindows(): Record<OpKind, OpWindow> {
    const now = this.now();
    return { get: this.ops.get.window(now), put: this.ops.put.window(now), delete: this.ops.delete.window(now) };
  }

  event(body: ControlEventBody): void {
    const e = { ...body, seq: ++this.seq, at: this.now(), node: this.nodeId } as ControlEvent;
    this.events.push(e);
    if (this.events.length > eventsKeptMax) this.events.shift();
    this.onEvent?.(e);
  }

  /** Events after `seq` (oldest first, at most `max`). */
  eventsAfter(seq: number, max = eventsPerSnapshotMax): ControlEvent[] {
    const out: ControlEvent[] = [];
    for (const e of this.events) {
      if (e.seq <= seq) continue;
      out.push(e);
      if (out.length >= max) break;
    }
    return out;
  }

  get lastEventSeq(): number {
    return this.seq;
  }

  /** A key's stored sibling count changed (data space only). */
  noteVersions(key: Uint8Array, before: number, after: number): void {
    if (before <= 1 && after <= 1) return;
    const k = showKey(key);
    if (after > 1) {
      if (this.conflicted.has(k)) return;
      if (this.conflicted.size < conflictKeysTrackedMax) this.conflicted.add(k);
      else if (before <= 1) this.conflictedUntracked++;
      return;
    }
    if (this.conflicted.delete(k)) this.siblingsResolved++;
    else if (before > 1 && this.conflictedUntracked > 0) {
      this.conflictedUntracked--;
      this.siblingsResolved++;
    }
  }

  /** The count, and the keys that most recently got siblings (newest first). */
  conflicts(): { keysWithSiblings: number; sample: string[] } {
    // A Set iterates in insertion order: the newest are at the end.
    const all = [...this.conflicted];
    const sample = all.slice(-conflictSampleMax).reverse();
    return { keysWithSiblings: this.conflicted.size + this.conflictedUntracked, sample };
  }
}
