// A black-box run's index of versions (the chaos run's, the console experiments'): everything
// a black-box client was shown (reads, write acknowledgements, the final /replicas snapshot),
// in the shape the simulator's oracle gives the checker. A version is known by its id (`X-Gyre-Version`); its clock only
// where a context for exactly that version was handed out (an acknowledged write's, or
// /replicas'). The same id shown with two different contents is a reused dot.

import { readContextUnverified } from '../core/context.js';
import type { DotConflict, KnownVersion, VersionIndex } from './history.js';
import { writerOf } from './history.js';
import type { Observed } from './recorder.js';

function parseDot(dot: string): { actor: string; counter: number } | undefined {
  const i = dot.lastIndexOf(':');
  const counter = Number(dot.slice(i + 1));
  if (i <= 0 || !Number.isSafeInteger(counter) || counter < 1) return undefined;
  return { actor: dot.slice(0, i), counter };
}

/** Malformed version ids remembered at most (the first ones say enough). */
const malformedKeptMax = 100;

export class ObservedVersions implements VersionIndex {
  readonly conflicts: DotConflict[] = [];
  readonly reapedKeys = new Set<string>();
  /** Version ids that do not parse (reported by the run as malformed answers). */
  readonly malformed: string[] = [];
  private readonly byKey = new Map<string, Map<string, KnownVersion>>();

  add(o: Observed): void {
    const event = parseDot(o.dot);
    if (!event) {
      if (this.malformed.length < malformedKeptMax) this.malformed.push(`${o.key}: ${o.dot}`);
      return;
    }
    // A black-box judge holds no context key: it reads the clock a context names unverified.
    const clock = o.context !== undefined ? readContextUnverified(o.context) : undefined;
    let m = this.byKey.get(o.key);
    if (!m) {
      m = new Map();
      this.byKey.set(o.key, m);
    }
    const v: KnownVersion = { key: o.key, dot: o.dot, event, writeId: writerOf(o), deleted: o.deleted, value: o.value.toString('utf8'), clock, firstAt: o.at, firstNode: o.node };
    const have = m.get(o.dot);
    if (!have) {
      m.set(o.dot, v);
      return;
    }
    if (have.writeId !== v.writeId || have.deleted !== v.deleted || have.value !== v.value) {
      const show = (x: KnownVersion) => `${x.deleted ? 'tombstone of ' : ''}${x.writeId ?? JSON.stringify(x.value.slice(0, 24))}`;
      this.conflicts.push({ key: o.key, dot: o.dot, first: show(have), second: show(v), at: o.at, node: o.node });
      return;
    }
    // Same version: keep the earliest sighting, and a clock once one is known.
    if (!have.clock && clock) m.set(o.dot, { ...have, clock });
  }

  version(key: string, dot: string): KnownVersion | undefined {
    return this.byKey.get(key)?.get(dot);
  }

  versionsOf(key: string): KnownVersion[] {
    return [...(this.byKey.get(key)?.values() ?? [])];
  }

  keys(): string[] {
    return [...this.byKey.keys()];
  }
}
