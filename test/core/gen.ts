// Shared generators and reference models for the core property tests.
//
// A clock's reference model is the plain Set of its events ("actor:counter"); the generators
// build the same event set through many different (entries, dots) representations, so the
// tests can check that the core's compact form says exactly what the set says.

import fc from 'fast-check';
import { type Entry, type VClock, normalize } from '../../node-core/src/core/vclock.js';

export const actors = ['a', 'b', 'c', 'd'] as const;
/** Highest counter the event-set generator uses; tests probe one beyond it. */
export const counterMax = 12;

export type EventSet = ReadonlySet<string>;

export function ev(actor: string, counter: number): string {
  return `${actor}:${counter}`;
}

/** A deterministic timestamp per event, as in a real cluster (one event is created once). */
export function tsOf(actor: string, counter: number): number {
  let h = 0;
  for (const ch of actor) h = (h * 31 + ch.charCodeAt(0)) % 997;
  return counter * 1000 + h;
}

export function parseEv(e: string): { actor: string; counter: number } {
  const i = e.lastIndexOf(':');
  return { actor: e.slice(0, i), counter: Number(e.slice(i + 1)) };
}

/** The events a clock describes, read off its structure (prefixes expanded, plus the cloud). */
export function eventsOf(clock: VClock): Set<string> {
  const out = new Set<string>();
  for (const e of clock.entries) for (let c = 1; c <= e.counter; c++) out.add(ev(e.actor, c));
  for (const d of clock.dots) out.add(ev(d.actor, d.counter));
  return out;
}

export function union(...sets: EventSet[]): Set<string> {
  const out = new Set<string>();
  for (const s of sets) for (const e of s) out.add(e);
  return out;
}

export function isSubset(a: EventSet, b: EventSet): boolean {
  for (const e of a) if (!b.has(e)) return false;
  return true;
}

export function sameSet(a: EventSet, b: EventSet): boolean {
  return a.size === b.size && isSubset(a, b);
}

function countersByActor(events: EventSet): Map<string, number[]> {
  const by = new Map<string, number[]>();
  for (const e of events) {
    const { actor, counter } = parseEv(e);
    const list = by.get(actor) ?? [];
    list.push(counter);
    by.set(actor, list);
  }
  for (const list of by.values()) list.sort((x, y) => x - y);
  return by;
}

function truePrefix(counters: readonly number[]): number {
  let t = 0;
  for (const c of counters) {
    if (c === t + 1) t = c;
    else if (c > t + 1) break;
  }
  return t;
}

/**
 * The canonical clock of an event set, computed independently of the core: per actor the
 * longest contiguous prefix 1..t as an entry, every other event as a dot, all sorted.
 */
export function canonicalClock(events: EventSet): VClock {
  const by = countersByActor(events);
  const names = [...by.keys()].sort();
  const entries: Entry[] = [];
  const dots: Entry[] = [];
  for (const actor of names) {
    const counters = by.get(actor)!;
    const t = truePrefix(counters);
    if (t > 0) entries.push({ actor, counter: t, ts: tsOf(actor, t) });
    for (const c of counters) if (c > t) dots.push({ actor, counter: c, ts: tsOf(actor, c) });
  }
  return { entries, dots };
}

const actorEventsArb = fc.record({
  present: fc.boolean(),
  prefix: fc.nat({ max: 5 }),
  extra: fc.uniqueArray(fc.integer({ min: 1, max: counterMax }), { maxLength: 4 }),
});

/** A random event set over `actors`: per actor a prefix 1..p plus a few scattered counters. */
export const eventSetArb: fc.Arbitrary<Set<string>> = fc.tuple(...actors.map(() => actorEventsArb)).map((specs) => {
  const out = new Set<string>();
  specs.forEach((s, i) => {
    if (!s.present) return;
    const actor = actors[i]!;
    for (let c = 1; c <= s.prefix; c++) out.add(ev(actor, c));
    for (const c of s.extra) out.add(ev(actor, c));
  });
  return out;
});

export interface Representation {
  /** Per actor: how much of the contiguous prefix to state as an entry (mod prefix + 1). */
  readonly cuts: readonly number[];
  /** Per actor: also state a redundant, shorter entry. */
  readonly redundant: readonly boolean[];
  /** Per event (in order): also state it (again) as a dot. */
  readonly dup: readonly boolean[];
  /** Sort keys that shuffle the entries and the dots. */
  readonly keys: readonly number[];
}

export const representationArb: fc.Arbitrary<Representation> = fc.record({
  cuts: fc.array(fc.nat(), { minLength: actors.length, maxLength: actors.length }),
  redundant: fc.array(fc.boolean(), { minLength: actors.length, maxLength: actors.length }),
  dup: fc.array(fc.boolean(), { maxLength: 48 }),
  keys: fc.array(fc.nat(), { minLength: 1, maxLength: 48 }),
});

function shuffled<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items
    .map((item, i) => ({ item, k: keys[i % keys.length]! * 64 + i }))
    .sort((x, y) => x.k - y.k)
    .map((x) => x.item);
}

/** Raw (unnormalized) entries and dots that together describe exactly `events`. */
export function represent(events: EventSet, r: Representation): { entries: Entry[]; dots: Entry[] } {
  const by = countersByActor(events);
  const entries: Entry[] = [];
  const dots: Entry[] = [];
  let j = 0;
  for (const [actor, counters] of by) {
    const i = Math.max(0, actors.indexOf(actor as (typeof actors)[number]));
    const t = truePrefix(counters);
    const k = (r.cuts[i] ?? 0) % (t + 1);
    if (k > 0) entries.push({ actor, counter: k, ts: tsOf(actor, k) });
    if (k > 1 && r.redundant[i]) entries.push({ actor, counter: k - 1, ts: tsOf(actor, k - 1) });
    for (const c of counters) {
      const dup = r.dup[j++ % Math.max(1, r.dup.length)] ?? false;
      if (c > k) dots.push({ actor, counter: c, ts: tsOf(actor, c) });
      if (dup) dots.push({ actor, counter: c, ts: tsOf(actor, c) });
    }
  }
  return { entries: shuffled(entries, r.keys), dots: shuffled(dots, r.keys) };
}

export interface ModelClock {
  readonly events: Set<string>;
  readonly clock: VClock;
}

export function build(events: Set<string>, r: Representation): ModelClock {
  const { entries, dots } = represent(events, r);
  return { events, clock: normalize(entries, dots) };
}

/** A normalized clock together with its event set. */
export const modelClockArb: fc.Arbitrary<ModelClock> = fc.tuple(eventSetArb, representationArb).map(([s, r]) => build(s, r));
