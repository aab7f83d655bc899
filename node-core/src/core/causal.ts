// A key's causal graph (issue 14), pure: which write saw which. Given the versions of one key
// that the replicas hold (the console's SiblingView: version id, vector clock, tombstone,
// holders), it draws an edge a -> b where b's clock dominates a's (b was written by someone who
// had seen a), keeps only the edges no third version explains (transitive reduction), and
// marks the siblings: the versions nothing held dominates. Concurrent siblings usually forked
// from a common state the replicas no longer hold (it was superseded everywhere); for each pair
// of them that state is the element-wise minimum of their clocks, added as an 'ancestor' node
// so the fork is visible. Layers (longest path from a root) place the nodes for drawing.
//
// A clock is a set of events (core/vclock.ts): every counter of an actor up to its prefix, plus
// single events beyond it (the dot cloud). "b saw a" is set inclusion. A version may come with
// only the summary (the highest counter per actor, as /replicas's `clock` and SiblingView carry
// it), which is read as a prefix; that summary orders too much: two blind writes through one
// node, n1:1 and then n1:2 (whose events are {n1:2} alone), summarise as {n1:1} and {n1:2} and
// would look ordered. With `events` (as /replicas sends them) they are the siblings they are.

export type CausalClock = Readonly<Record<string, number>>;

/** A clock's exact events: every counter up to entries[actor], and each of dots. */
export interface CausalEvents {
  readonly entries: CausalClock;
  readonly dots: readonly { readonly actor: string; readonly counter: number }[];
}

export interface CausalVersion {
  readonly version: string;
  /** The summary (highest counter per actor): what is drawn, and the events when `events` is absent. */
  readonly clock: CausalClock;
  readonly events?: CausalEvents | undefined;
  readonly deleted: boolean;
  readonly heldBy: readonly string[];
}

export interface CausalNode {
  /** The version id (the smallest of those merged), or "ancestor(actor:n,...)" for an implied ancestor. */
  readonly id: string;
  readonly kind: 'version' | 'ancestor';
  readonly clock: Record<string, number>;
  /** Version nodes only: every version id with this clock (replicas holding the same event). */
  readonly versions?: string[];
  /** Version nodes only: true when every version merged here is a tombstone. */
  readonly deleted?: boolean;
  /** Version nodes only: the replicas holding it. */
  readonly heldBy?: string[];
  /** A maximal version: nothing held dominates it (ancestors never are). */
  readonly sibling: boolean;
  /** Longest path from a root (a node nothing precedes): 0 for the oldest. */
  readonly layer: number;
}

export interface CausalEdge {
  /** The earlier write... */
  readonly from: string;
  /** ...seen by this one. */
  readonly to: string;
}

export interface CausalGraph {
  readonly nodes: CausalNode[];
  readonly edges: CausalEdge[];
  /** Implied ancestors left out past causalAncestorsMax. */
  readonly ancestorsOmitted: number;
}

/** Versions taken at most: a key never has more siblings worth drawing (the write path refuses past 100). */
export const causalVersionsMax = 64;
/** Actors in one clock at most. */
export const causalActorsMax = 64;
/** Implied ancestors added at most (pairs of siblings grow quadratically). */
export const causalAncestorsMax = 64;
/** Replicas named as holders of one version at most. */
export const causalHoldersMax = 64;

/** Dots beyond the prefixes taken in one clock at most. */
export const causalDotsMax = 256;

/** A set of events: each actor's contiguous prefix, and the counters beyond it (never prefix + 1: normalized). */
interface Clock {
  readonly prefix: Map<string, number>;
  readonly dots: Map<string, Set<number>>;
}

function counter(n: unknown, what: string, min: number): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) throw new RangeError(`${what} must be an integer of at least ${min}`);
  return n;
}

function counters(raw: unknown, what: string): Map<string, number> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RangeError(`${what} must be an object of counters`);
  const entries = Object.entries(raw);
  if (entries.length > causalActorsMax) throw new RangeError(`${what}: more than ${causalActorsMax} actors`);
  const out = new Map<string, number>();
  for (const [actor, n] of entries) {
    // A zero counter is the same clock as no entry.
    if (counter(n, `${what}: the counter of ${actor}`, 0) > 0) out.set(actor, n as number);
  }
  return out;
}

/** Absorbs the dots that extend a prefix, so each event has one spelling and inclusion is a prefix check. */
function normalized(prefix: Map<string, number>, dots: Map<string, Set<number>>): Clock {
  for (const [actor, set] of dots) {
    let p = prefix.get(actor) ?? 0;
    for (const c of [...set]) if (c <= p) set.delete(c);
    while (set.delete(p + 1)) p++;
    if (p > 0) prefix.set(actor, p);
    if (set.size === 0) dots.delete(actor);
  }
  return { prefix, dots };
}

/** Throws RangeError naming what is wrong (the caller's boundary maps it to a 400). */
function clockOf(v: CausalVersion): Clock {
  const what = `version ${String(v?.version)}`;
  const summary = counters(v?.clock, `${what}: the clock`);
  if (v.events === undefined) return { prefix: summary, dots: new Map() };
  const e = v.events as Partial<CausalEvents> | null;
  if (typeof e !== 'object' || e === null || !Array.isArray(e.dots)) throw new RangeError(`${what}: events are {entries, dots}`);
  if (e.dots.length > causalDotsMax) throw new RangeError(`${what}: more than ${causalDotsMax} dots`);
  const prefix = counters(e.entries, `${what}: the events' entries`);
  const dots = new Map<string, Set<number>>();
  for (const d of e.dots as unknown[]) {
    const o = d as { actor?: unknown; counter?: unknown } | null;
    if (typeof o?.actor !== 'string') throw new RangeError(`${what}: a dot is {actor, counter}`);
    const c = counter(o.counter, `${what}: a dot's counter`, 1);
    let set = dots.get(o.actor);
    if (!set) dots.set(o.actor, (set = new Set()));
    set.add(c);
  }
  if (new Set([...prefix.keys(), ...dots.keys()]).size > causalActorsMax) throw new RangeError(`${what}: more than ${causalActorsMax} actors`);
  return normalized(prefix, dots);
}

function has(c: Clock, actor: string, n: number): boolean {
  return n <= (c.prefix.get(actor) ?? 0) || c.dots.get(actor)?.has(n) === true;
}

/** Every event of a is one of b's. */
function leq(a: Clock, b: Clock): boolean {
  // Normalized: b lacks its own prefix + 1, so a longer prefix of a is an event b lacks.
  for (const [actor, n] of a.prefix) if ((b.prefix.get(actor) ?? 0) < n) return false;
  for (const [actor, set] of a.dots) for (const n of set) if (!has(b, actor, n)) return false;
  return true;
}

function sameClock(a: Clock, b: Clock): boolean {
  return leq(a, b) && leq(b, a);
}

/** a happened strictly before b. */
function before(a: Clock, b: Clock): boolean {
  // Do not drop the size-or-value difference: leq alone makes equal clocks precede each other.
  return leq(a, b) && !leq(b, a);
}

/** The events both saw. */
function meet(a: Clock, b: Clock): Clock {
  const prefix = new Map<string, number>();
  for (const [actor, n] of a.prefix) {
    const m = Math.min(n, b.prefix.get(actor) ?? 0);
    if (m > 0) prefix.set(actor, m);
  }
  const dots = new Map<string, Set<number>>();
  const keep = (from: Clock, other: Clock) => {
    for (const [actor, set] of from.dots) {
      for (const n of set) {
        if (!has(other, actor, n) || n <= (prefix.get(actor) ?? 0)) continue;
        let out = dots.get(actor);
        if (!out) dots.set(actor, (out = new Set()));
        out.add(n);
      }
    }
  };
  keep(a, b);
  keep(b, a);
  return normalized(prefix, dots);
}

function isEmpty(c: Clock): boolean {
  return c.prefix.size === 0 && c.dots.size === 0;
}

/** The summary drawn: the highest counter per actor. */
function summary(c: Clock): Map<string, number> {
  const out = new Map(c.prefix);
  for (const [actor, set] of c.dots) out.set(actor, Math.max(out.get(actor) ?? 0, ...set));
  return out;
}

function sortedRecord(c: Clock): Record<string, number> {
  const m = summary(c);
  const out: Record<string, number> = {};
  // Defined, not assigned: an actor named __proto__ would otherwise vanish (a number cannot be a prototype).
  for (const actor of [...m.keys()].sort()) Object.defineProperty(out, actor, { value: m.get(actor)!, enumerable: true, writable: true, configurable: true });
  return out;
}

function clockLabel(c: Clock): string {
  const m = summary(c);
  return [...m.keys()]
    .sort()
    .map((a) => `${a}:${m.get(a)!}`)
    .join(',');
}

interface Draft {
  id: string;
  kind: 'version' | 'ancestor';
  clock: Clock;
  versions: string[];
  deleted: boolean;
  heldBy: Set<string>;
}

export function causalGraph(versions: readonly CausalVersion[]): CausalGraph {
  if (!Array.isArray(versions)) throw new RangeError('versions must be a list');
  if (versions.length > causalVersionsMax) throw new RangeError(`at most ${causalVersionsMax} versions can be drawn, got ${versions.length}`);
  const drafts: Draft[] = [];
  const clockById = new Map<string, Clock>();
  for (const v of versions) {
    if (typeof v?.version !== 'string' || v.version === '') throw new RangeError('a version id must be a non-empty string');
    if (typeof v.deleted !== 'boolean') throw new RangeError(`version ${v.version}: deleted must be a boolean`);
    if (!Array.isArray(v.heldBy) || v.heldBy.length > causalHoldersMax || v.heldBy.some((h: unknown) => typeof h !== 'string')) throw new RangeError(`version ${v.version}: heldBy must be a list of at most ${causalHoldersMax} node ids`);
    const clock = clockOf(v);
    const known = clockById.get(v.version);
    if (known && !sameClock(known, clock)) throw new RangeError(`version ${v.version} is listed twice with different clocks`);
    clockById.set(v.version, clock);
    // Equal clocks are the same event (one write held by several replicas): one node.
    const same = drafts.find((d) => sameClock(d.clock, clock));
    if (same) {
      if (!same.versions.includes(v.version)) same.versions.push(v.version);
      same.deleted &&= v.deleted;
      for (const h of v.heldBy) same.heldBy.add(h);
      continue;
    }
    drafts.push({ id: v.version, kind: 'version', clock, versions: [v.version], deleted: v.deleted, heldBy: new Set(v.heldBy) });
  }
  for (const d of drafts) {
    d.versions.sort();
    d.id = d.versions[0]!;
  }
  const held = [...drafts];
  const isSibling = (d: Draft) => !held.some((o) => before(d.clock, o.clock));
  const siblings = held.filter(isSibling);
  // The fork point of each pair of concurrent siblings, unless a held version is that state.
  // An empty meet means the two writes share no history (both blind): no node for "nothing".
  let ancestorsOmitted = 0;
  const ids = new Set(held.map((d) => d.id));
  for (let i = 0; i < siblings.length; i++) {
    for (let j = i + 1; j < siblings.length; j++) {
      const m = meet(siblings[i]!.clock, siblings[j]!.clock);
      if (isEmpty(m) || drafts.some((d) => sameClock(d.clock, m))) continue;
      if (drafts.length - held.length >= causalAncestorsMax) {
        ancestorsOmitted++;
        continue;
      }
      let id = `ancestor(${clockLabel(m)})`;
      while (ids.has(id)) id += "'";
      ids.add(id);
      drafts.push({ id, kind: 'ancestor', clock: m, versions: [], deleted: false, heldBy: new Set() });
    }
  }
  // Transitive reduction: a -> b unless some c sits strictly between them.
  const edges: CausalEdge[] = [];
  const preds = new Map<string, string[]>(drafts.map((d) => [d.id, []]));
  for (const a of drafts) {
    for (const b of drafts) {
      if (!before(a.clock, b.clock)) continue;
      if (drafts.some((c) => before(a.clock, c.clock) && before(c.clock, b.clock))) continue;
      edges.push({ from: a.id, to: b.id });
      preds.get(b.id)!.push(a.id);
    }
  }
  // Longest path from the roots; the order `before` induces is acyclic (a strict partial order).
  const layer = new Map<string, number>();
  const layerOf = (id: string): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    const ps = preds.get(id)!;
    const l = ps.length === 0 ? 0 : 1 + Math.max(...ps.map(layerOf));
    layer.set(id, l);
    return l;
  };
  const nodes: CausalNode[] = drafts.map((d) =>
    d.kind === 'version'
      ? { id: d.id, kind: d.kind, clock: sortedRecord(d.clock), versions: d.versions, deleted: d.deleted, heldBy: [...d.heldBy].sort(), sibling: isSibling(d), layer: layerOf(d.id) }
      : { id: d.id, kind: d.kind, clock: sortedRecord(d.clock), sibling: false, layer: layerOf(d.id) },
  );
  nodes.sort((a, b) => a.layer - b.layer || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  edges.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0));
  return { nodes, edges, ancestorsOmitted };
}
