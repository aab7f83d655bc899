// A key's causal graph (issue 14), pure: which write saw which. Given the versions of one key
// that the replicas hold (the console's SiblingView: version id, vector clock, tombstone,
// holders), it draws an edge a -> b where b's clock dominates a's (b was written by someone who
// had seen a), keeps only the edges no third version explains (transitive reduction), and
// marks the siblings: the versions nothing held dominates. Concurrent siblings usually forked
// from a common state the replicas no longer hold (it was superseded everywhere); for each pair
// of them that state is the element-wise minimum of their clocks, added as an 'ancestor' node
// so the fork is visible. Layers (longest path from a root) place the nodes for drawing.
//
// The clocks here are plain counters per actor (the dot cloud of core/vclock.ts flattened to
// the highest counter, as SiblingView carries them), so dominance is the pointwise order.

export type CausalClock = Readonly<Record<string, number>>;

export interface CausalVersion {
  readonly version: string;
  readonly clock: CausalClock;
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

type Clock = Map<string, number>;

/** Throws RangeError naming what is wrong (the caller's boundary maps it to a 400). */
function clockOf(v: CausalVersion): Clock {
  if (typeof v?.clock !== 'object' || v.clock === null || Array.isArray(v.clock)) throw new RangeError(`version ${String(v?.version)}: the clock must be an object of counters`);
  const entries = Object.entries(v.clock);
  if (entries.length > causalActorsMax) throw new RangeError(`version ${v.version}: more than ${causalActorsMax} actors in its clock`);
  const out: Clock = new Map();
  for (const [actor, n] of entries) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new RangeError(`version ${v.version}: counter of ${actor} must be a non-negative integer`);
    // A zero counter is the same clock as no entry.
    if (n > 0) out.set(actor, n);
  }
  return out;
}

function leq(a: Clock, b: Clock): boolean {
  for (const [actor, n] of a) if ((b.get(actor) ?? 0) < n) return false;
  return true;
}

function sameClock(a: Clock, b: Clock): boolean {
  return a.size === b.size && leq(a, b) && leq(b, a);
}

/** a happened strictly before b. */
function before(a: Clock, b: Clock): boolean {
  // Do not drop the size-or-value difference: leq alone makes equal clocks precede each other.
  return leq(a, b) && !leq(b, a);
}

function meet(a: Clock, b: Clock): Clock {
  const out: Clock = new Map();
  for (const [actor, n] of a) {
    const m = Math.min(n, b.get(actor) ?? 0);
    if (m > 0) out.set(actor, m);
  }
  return out;
}

function sortedRecord(c: Clock): Record<string, number> {
  const out: Record<string, number> = {};
  // Defined, not assigned: an actor named __proto__ would otherwise vanish (a number cannot be a prototype).
  for (const actor of [...c.keys()].sort()) Object.defineProperty(out, actor, { value: c.get(actor)!, enumerable: true, writable: true, configurable: true });
  return out;
}

function clockLabel(c: Clock): string {
  return [...c.keys()]
    .sort()
    .map((a) => `${a}:${c.get(a)!}`)
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
      if (m.size === 0 || drafts.some((d) => sameClock(d.clock, m))) continue;
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
