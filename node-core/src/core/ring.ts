// The ring and its claim (Dynamo 4.2 strategy 3, riak_core claim): Q equal partitions, each
// owned by one node, claimed evenly (no node owns more than ceil(Q/nodes)); the preference
// list of a partition is the first N distinct nodes met walking the ring clockwise from it.

export type NodeId = string;

export interface Ring {
  readonly partitions: number;
  /** owners[p] is the node that owns partition p. */
  readonly owners: readonly NodeId[];
}

export function ownerCounts(ring: Ring): Map<NodeId, number> {
  const counts = new Map<NodeId, number>();
  for (const o of ring.owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

/**
 * The first `n` distinct nodes walking clockwise from partition `p` (Dynamo 4.3). With fewer
 * than n nodes in the ring, all of them. Pure: the impure wrapper lives on the node.
 */
export function computePreferenceList(ring: Ring, p: number, n: number): NodeId[] {
  const list: NodeId[] = [];
  const q = ring.partitions;
  for (let i = 0; i < q && list.length < n; i++) {
    const owner = ring.owners[(p + i) % q]!;
    if (!list.includes(owner)) list.push(owner);
  }
  return list;
}

/** The nodes after the preference list, in ring order: where sloppy-quorum fallbacks come from. */
export function computeFallbacks(ring: Ring, p: number, n: number): NodeId[] {
  const all = computePreferenceList(ring, p, ring.partitions);
  return all.slice(n);
}

/** A fresh ring for `members`: striped, so it is perfectly balanced and neighbours differ. */
export function stripedRing(members: readonly NodeId[], q: number): Ring {
  if (members.length === 0) throw new RangeError('a ring needs at least one member');
  const sorted = [...new Set(members)].sort();
  const owners: NodeId[] = [];
  for (let p = 0; p < q; p++) owners.push(sorted[p % sorted.length]!);
  return { partitions: q, owners };
}

function circularDistance(a: number, b: number, q: number): number {
  const d = Math.abs(a - b);
  return Math.min(d, q - d);
}

/** How far partition p is from the nearest partition `owned` (sorted) by the same node. */
function spacing(p: number, owned: readonly number[], q: number): number {
  let best = q;
  for (const o of owned) best = Math.min(best, circularDistance(p, o, q));
  return best;
}

function partitionsOf(owners: readonly NodeId[], node: NodeId): number[] {
  const out: number[] = [];
  owners.forEach((o, p) => {
    if (o === node) out.push(p);
  });
  return out;
}

/**
 * Adds `node` to the ring, moving as few partitions as balance needs (about Q/(m+1)):
 * it takes partitions one at a time from the most loaded node, choosing each time the one
 * farthest from partitions it already owns, until it holds at least floor(Q/m) and nobody
 * holds more than ceil(Q/m).
 */
/**
 * Windows of `n` consecutive partitions covering p in which some owner appears twice: each
 * makes a preference list walk further than n partitions, so some node ends up in more
 * preference lists (and holds more data) than its share.
 */
function crowdedWindows(owners: readonly NodeId[], p: number, n: number): number {
  const q = owners.length;
  if (n <= 1 || q < n) return 0;
  let crowded = 0;
  for (let start = p - n + 1; start <= p; start++) {
    const seen = new Set<NodeId>();
    for (let i = 0; i < n; i++) seen.add(owners[(((start + i) % q) + q) % q]!);
    if (seen.size < n) crowded++;
  }
  return crowded;
}

export function claimForJoin(ring: Ring, node: NodeId, n = 3): Ring {
  const owners = [...ring.owners];
  const counts = ownerCounts(ring);
  // A node that already owns some partitions (its earlier claim lost a race with another
  // join) tops up to its fair share the same way.
  if (!counts.has(node)) counts.set(node, 0);
  const q = ring.partitions;
  const m = counts.size;
  const floorT = Math.floor(q / m);
  const ceilT = Math.ceil(q / m);
  const mine: number[] = partitionsOf(owners, node);
  for (;;) {
    let donor: NodeId | undefined;
    let donorCount = -1;
    for (const [id, c] of counts) {
      if (id === node) continue;
      if (c > donorCount || (c === donorCount && donor !== undefined && id < donor)) {
        donor = id;
        donorCount = c;
      }
    }
    const have = counts.get(node)!;
    if (donor === undefined) break;
    if (have >= floorT && donorCount <= ceilT) break;
    if (have >= ceilT) break;
    if (donorCount <= have) break; // taking more would only unbalance the other way
    // Prefer the partition whose move leaves the fewest crowded windows, then the one
    // farthest from what the node already owns.
    let pick = -1;
    let pickCrowding = Infinity;
    let pickSpacing = -1;
    for (const p of partitionsOf(owners, donor)) {
      const before = crowdedWindows(owners, p, n);
      owners[p] = node;
      const crowding = crowdedWindows(owners, p, n) - before;
      owners[p] = donor;
      const s = spacing(p, mine, q);
      if (crowding < pickCrowding || (crowding === pickCrowding && s > pickSpacing)) {
        pick = p;
        pickCrowding = crowding;
        pickSpacing = s;
      }
    }
    owners[pick] = node;
    mine.push(pick);
    counts.set(donor, donorCount - 1);
    counts.set(node, have + 1);
  }
  return { partitions: q, owners };
}

/**
 * Removes `node`, handing each of its partitions to the least loaded remaining node.
 * `members` lists every remaining member, including any that own nothing yet (more nodes
 * than partitions): they are the least loaded of all.
 */
export function claimForLeave(ring: Ring, node: NodeId, members: readonly NodeId[] = []): Ring {
  const owned = ownerCounts(ring);
  if (!owned.has(node)) return ring;
  // Candidates: the given members (another node that is leaving too may still own partitions
  // in `ring`, but must not be handed more), or every other owner when none are given.
  const counts = new Map<NodeId, number>();
  for (const [id, c] of owned) if (id !== node && (members.length === 0 || members.includes(id))) counts.set(id, c);
  for (const m of members) if (m !== node && !counts.has(m)) counts.set(m, 0);
  if (counts.size === 0) throw new RangeError('cannot remove the last member of a ring');
  const owners = [...ring.owners];
  const q = ring.partitions;
  for (let p = 0; p < q; p++) {
    if (owners[p] !== node) continue;
    let best: NodeId | undefined;
    let bestKey: [number, number, string] | undefined;
    for (const [id, c] of counts) {
      // Least loaded first; then prefer a node that does not already own a neighbour.
      const neighbour = owners[(p + 1) % q] === id || owners[(p + q - 1) % q] === id ? 1 : 0;
      const key: [number, number, string] = [c, neighbour, id];
      if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))) {
        best = id;
        bestKey = key;
      }
    }
    owners[p] = best!;
    counts.set(best!, counts.get(best!)! + 1);
  }
  return { partitions: q, owners };
}

/** Partitions whose owner differs between two rings of the same size. */
export function movedPartitions(a: Ring, b: Ring): number[] {
  const out: number[] = [];
  for (let p = 0; p < a.partitions; p++) if (a.owners[p] !== b.owners[p]) out.push(p);
  return out;
}
