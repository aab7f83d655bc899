// Vector clocks (Dynamo 4.4), extended with a dot cloud so that every clock is an exact
// description of the events it covers.
//
// A clock is a set of events. `entries` says "every event of actor A up to counter n";
// `dots` lists single events beyond that contiguous prefix. Plain vector clocks cannot
// describe "the client saw A:5 but not A:4"; without the cloud, the context returned for a
// new version would either claim a concurrent sibling it never saw (and a later PUT would
// silently drop it) or fail to cover the new version. See docs/architecture.md, "Versions".
//
// Pure: no wall clock. Timestamps (ms) are passed in by the caller and only serve pruning
// and display; comparisons use counters alone.

export type ActorId = string;

export interface Entry {
  readonly actor: ActorId;
  readonly counter: number;
  readonly ts: number;
}

export interface VClock {
  /** Sorted by actor, one per actor, counter >= 1. */
  readonly entries: readonly Entry[];
  /** Sorted by (actor, counter); each strictly above its actor's entry + 1 (normalized). */
  readonly dots: readonly Entry[];
}

export type Order = 'equal' | 'before' | 'after' | 'concurrent';

export const emptyClock: VClock = Object.freeze({ entries: Object.freeze([]), dots: Object.freeze([]) });

function byActor(a: Entry, b: Entry): number {
  return a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : 0;
}

function byActorCounter(a: Entry, b: Entry): number {
  return byActor(a, b) || a.counter - b.counter;
}

export function entryCounter(clock: VClock, actor: ActorId): number {
  // Linear scan: clocks hold a handful of actors (the replicas of one key).
  for (const e of clock.entries) if (e.actor === actor) return e.counter;
  return 0;
}

/** True when the event (actor, counter) is one of the clock's events. */
export function covers(clock: VClock, dot: { actor: ActorId; counter: number }): boolean {
  if (dot.counter <= entryCounter(clock, dot.actor)) return true;
  return clock.dots.some((d) => d.actor === dot.actor && d.counter === dot.counter);
}

/** Highest counter of `actor` anywhere in the clock (prefix or cloud). */
export function maxCounter(clock: VClock, actor: ActorId): number {
  let max = entryCounter(clock, actor);
  for (const d of clock.dots) if (d.actor === actor && d.counter > max) max = d.counter;
  return max;
}

/**
 * Canonical form: dots covered by the prefix are dropped, a dot that extends its actor's
 * prefix by one is folded into it (repeatedly), everything sorted. Two clocks with the same
 * events have the same normal form, which is what makes `equal` a plain comparison.
 */
export function normalize(entries: readonly Entry[], dots: readonly Entry[]): VClock {
  const prefix = new Map<ActorId, Entry>();
  for (const e of entries) {
    if (e.counter <= 0) continue;
    const old = prefix.get(e.actor);
    if (!old || e.counter > old.counter || (e.counter === old.counter && e.ts > old.ts)) prefix.set(e.actor, e);
  }
  // Sorted ascending per actor, so a dot that folds into the prefix lets the next one fold too.
  const sortedDots = [...dots].sort(byActorCounter);
  const cloud: Entry[] = [];
  for (const d of sortedDots) {
    const p = prefix.get(d.actor);
    const have = p ? p.counter : 0;
    if (d.counter <= have) continue;
    if (d.counter === have + 1) {
      prefix.set(d.actor, d);
      continue;
    }
    const last = cloud[cloud.length - 1];
    if (last && last.actor === d.actor && last.counter === d.counter) {
      if (d.ts > last.ts) cloud[cloud.length - 1] = d;
      continue;
    }
    cloud.push(d);
  }
  return { entries: [...prefix.values()].sort(byActor), dots: cloud };
}

/** Least upper bound: the union of both event sets. Commutative, associative, idempotent. */
export function join(a: VClock, b: VClock): VClock {
  if (a.entries.length === 0 && a.dots.length === 0) return b;
  if (b.entries.length === 0 && b.dots.length === 0) return a;
  return normalize([...a.entries, ...b.entries], [...a.dots, ...b.dots]);
}

export function addEvent(clock: VClock, dot: Entry): VClock {
  return normalize(clock.entries, [...clock.dots, dot]);
}

/** Classic increment: the next event of `actor` after everything this clock knows of it. */
export function increment(clock: VClock, actor: ActorId, nowMs: number): { clock: VClock; dot: Entry } {
  const dot: Entry = { actor, counter: maxCounter(clock, actor) + 1, ts: nowMs };
  return { clock: addEvent(clock, dot), dot };
}

/** a's events are a subset of b's. */
function leq(a: VClock, b: VClock): boolean {
  for (const e of a.entries) {
    // A prefix 1..n is covered only by a prefix: normalized dots sit above a gap.
    if (entryCounter(b, e.actor) < e.counter) return false;
  }
  for (const d of a.dots) if (!covers(b, d)) return false;
  return true;
}

export function compare(a: VClock, b: VClock): Order {
  const ab = leq(a, b);
  const ba = leq(b, a);
  if (ab && ba) return 'equal';
  if (ab) return 'before';
  if (ba) return 'after';
  return 'concurrent';
}

/** a descends b: a has seen every event of b (equal clocks descend each other). */
export function descends(a: VClock, b: VClock): boolean {
  return leq(b, a);
}

export function equalClocks(a: VClock, b: VClock): boolean {
  return compare(a, b) === 'equal';
}

export interface PruneLimits {
  /** Never prune at or below this many entries. */
  readonly entriesSmall: number;
  /** Above this many entries, prune even young-ish entries (older than youngMs). */
  readonly entriesBig: number;
  /** Entries younger than this are never pruned. */
  readonly youngMs: number;
  /** Entries older than this are pruned once the clock is above entriesSmall. */
  readonly oldMs: number;
}

// Riak's defaults (small_vclock 50, big_vclock 50, young 20 s, old 1 day). A key's clock only
// names the actors that coordinated writes to it, so real clocks stay far below the bound.
export const defaultPruneLimits: PruneLimits = { entriesSmall: 50, entriesBig: 50, youngMs: 20_000, oldMs: 86_400_000 };

/**
 * Bounds the clock's size by dropping the oldest prefix entries (riak_core vclock:prune/3).
 * Pruning only forgets events, so it can turn a descendant into a sibling but never makes
 * a version supersede one it did not see.
 *
 * `keep` names actors that must survive: the version's own actor and every actor that may
 * still coordinate writes to the key. Forgetting an actor that writes again would let it
 * reissue a counter it already used (its next counter is derived from what the key's clocks
 * remember of it), and two versions with one dot are taken for one version.
 */
export function prune(clock: VClock, nowMs: number, limits: PruneLimits = defaultPruneLimits, keep?: ActorId | ((actor: ActorId) => boolean)): VClock {
  const isKept = typeof keep === 'function' ? keep : (a: ActorId) => a === keep;
  if (clock.entries.length <= limits.entriesSmall) return clock;
  const byAge = [...clock.entries].sort((x, y) => x.ts - y.ts || byActor(x, y));
  const dropped = new Set<ActorId>();
  let remaining = byAge.length;
  for (const e of byAge) {
    if (remaining <= limits.entriesSmall) break;
    if (isKept(e.actor)) continue;
    const age = nowMs - e.ts;
    if (age <= limits.youngMs) break;
    if (remaining > limits.entriesBig || age > limits.oldMs) {
      dropped.add(e.actor);
      remaining--;
    } else break;
  }
  if (dropped.size === 0) return clock;
  return normalize(
    clock.entries.filter((e) => !dropped.has(e.actor)),
    clock.dots.filter((d) => !dropped.has(d.actor)),
  );
}

/** Display form used by the HTTP API: {actor: highest counter}. */
export function clockToJson(clock: VClock): Record<string, number> {
  // No prototype: an actor named `constructor` must not meet Object's.
  const out: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const e of clock.entries) out[e.actor] = e.counter;
  for (const d of clock.dots) out[d.actor] = Math.max(out[d.actor] ?? 0, d.counter);
  return out;
}

/** The exact form for tools: the prefix per actor, and each dot beyond it (GET /replicas `events`). */
export function clockEvents(clock: VClock): { entries: Record<string, number>; dots: { actor: string; counter: number }[] } {
  const entries: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const e of clock.entries) entries[e.actor] = e.counter;
  return { entries, dots: clock.dots.map((d) => ({ actor: d.actor, counter: d.counter })) };
}

export function clockSize(clock: VClock): number {
  return clock.entries.length + clock.dots.length;
}
