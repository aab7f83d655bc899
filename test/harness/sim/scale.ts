// Membership at scale, on paper: no nodes, no network, only the pure core (ring claim,
// preference lists, gossip merge). For each cluster size n it reports
// - ring balance: partitions per node (max / mean) of a ring grown by joins to n-1 nodes,
//   and after the n-th node joins; Q is the smallest power of two >= 2n;
// - what the join moves: partitions that change owner, preference-list entries that change
//   (replicas to copy) and the share of a sample of keys whose owner changes, each against
//   the ideal (Q/n partitions, N*Q/n replicas, 1/n of the keys);
// - gossip: rounds of push-pull with random peers (each node, once a round, merges states
//   with one peer, as node.ts does every gossipIntervalMs) until every node holds the
//   joiner's claim.
//
// The ring of n-1 nodes starts striped over half of them (a fresh cluster) and grows one join
// at a time (claimForJoin). Gossip merges are memoized by state identity: only a handful of
// distinct states exist while one change spreads, so a round costs O(n), not O(n * (n + Q)).

import { createHash } from 'node:crypto';
import { type ClusterState, type MemberRecord, activeMembers, joiningState, mergeStates, planJoin, sameState } from '../../../node-core/src/core/gossip.js';
import { partitionOf } from '../../../node-core/src/core/partitioner.js';
import { type Ring, claimForJoin, computePreferenceList, movedPartitions, ownerCounts, stripedRing } from '../../../node-core/src/core/ring.js';
import type { MemberInfo } from '../../../node-core/src/net/messages.js';
import { Rng } from './random.js';

export const scaleN = 3;
const sampleKeys = 100_000;
const gossipRoundsMax = 200;

export interface ScaleRow {
  readonly nodes: number;
  readonly partitions: number;
  readonly balanceBefore: { max: number; mean: number; min: number };
  readonly balanceAfter: { max: number; mean: number; min: number };
  readonly partitionsMoved: number;
  readonly partitionsIdeal: number;
  readonly replicasMoved: number;
  readonly replicasIdeal: number;
  readonly keysMovedShare: number;
  readonly keysIdealShare: number;
  readonly gossipRounds: number;
  readonly ms: number;
}

function nodeId(i: number): string {
  return `m${String(i).padStart(5, '0')}`;
}

function info(id: string): MemberInfo {
  return { id, http: `${id}:80`, internode: `${id}:1` };
}

function balance(ring: Ring, members: number): { max: number; mean: number; min: number } {
  const counts = [...ownerCounts(ring).values()];
  while (counts.length < members) counts.push(0);
  return { max: Math.max(...counts), mean: ring.partitions / members, min: Math.min(...counts) };
}

function stateOf(ring: Ring, ids: readonly string[]): ClusterState {
  const members = new Map<string, MemberRecord>(ids.map((id) => [id, { ...info(id), state: 'member', version: 2, heartbeat: 0 }]));
  return { partitions: ring.partitions, n: scaleN, members, ring: ring.owners.map((owner) => ({ owner, epoch: 1, pendingTo: undefined })) };
}

/** Merges with memoization by identity; a merge equal to one side returns that side. */
class Merger {
  private readonly ids = new Map<ClusterState, number>();
  private readonly memo = new Map<string, ClusterState>();

  private id(s: ClusterState): number {
    let i = this.ids.get(s);
    if (i === undefined) {
      i = this.ids.size;
      this.ids.set(s, i);
    }
    return i;
  }

  merge(a: ClusterState, b: ClusterState): ClusterState {
    if (a === b) return a;
    const key = `${this.id(a)},${this.id(b)}`;
    const have = this.memo.get(key);
    if (have) return have;
    const m = mergeStates(a, b);
    const out = sameState(m, a) ? a : sameState(m, b) ? b : m;
    this.memo.set(key, out);
    return out;
  }
}

/**
 * Rounds until every node's state equals the join of all of them. A node picks its peer as
 * pickGossipPeer does (uniformly among the active members it knows, other than itself), from
 * member lists computed once per distinct state.
 */
function gossipRounds(initial: ClusterState[], ids: readonly string[], rng: Rng): number {
  const merger = new Merger();
  const states = [...initial];
  let target = states[0]!;
  for (const s of states) target = merger.merge(target, s);
  const index = new Map(ids.map((id, i) => [id, i]));
  const known = new Map<ClusterState, number[]>();
  const peersOf = (s: ClusterState): number[] => {
    let list = known.get(s);
    if (!list) {
      list = activeMembers(s).map((m) => index.get(m.id)!);
      known.set(s, list);
    }
    return list;
  };
  const equal = new Map<ClusterState, boolean>([[target, true]]);
  const isTarget = (s: ClusterState): boolean => {
    let e = equal.get(s);
    if (e === undefined) {
      e = sameState(s, target);
      equal.set(s, e);
    }
    return e;
  };
  const converged = () => states.every(isTarget);
  for (let round = 1; round <= gossipRoundsMax; round++) {
    for (const i of rng.shuffle(states.map((_, k) => k))) {
      const peers = peersOf(states[i]!);
      if (peers.length < 2) continue;
      let peer = peers[rng.int(peers.length)]!;
      while (peer === i) peer = peers[rng.int(peers.length)]!;
      const merged = merger.merge(states[i]!, states[peer]!);
      states[i] = merged;
      states[peer] = merged;
    }
    if (converged()) return round;
  }
  return Infinity;
}

export function scaleRow(nodes: number, seed = 1): ScaleRow {
  const started = performance.now();
  if (nodes < 2) throw new RangeError('scale needs at least 2 nodes');
  let q = 1;
  while (q < 2 * nodes) q *= 2;
  if (q > 65_536) throw new RangeError(`${nodes} nodes need more than 65536 partitions`);
  const rng = new Rng(`scale/${nodes}/${seed}`);
  const ids = Array.from({ length: nodes }, (_, i) => nodeId(i + 1));
  const before = ids.slice(0, nodes - 1);
  const joiner = ids[nodes - 1]!;
  // A fresh cluster of half the nodes, grown by joins to n-1 nodes.
  const start = Math.max(1, Math.floor(before.length / 2));
  let ring = stripedRing(before.slice(0, start), q);
  for (const id of before.slice(start)) ring = claimForJoin(ring, id);
  const after = claimForJoin(ring, joiner);

  const moved = movedPartitions(ring, after).length;
  let replicasMoved = 0;
  for (let p = 0; p < q; p++) {
    const was = computePreferenceList(ring, p, scaleN);
    replicasMoved += computePreferenceList(after, p, scaleN).filter((x) => !was.includes(x)).length;
  }
  let keysMoved = 0;
  for (let k = 0; k < sampleKeys; k++) {
    const key = createHash('md5').update(`key-${k}`).digest();
    const p = partitionOf(key, q);
    if (ring.owners[p] !== after.owners[p]) keysMoved++;
  }

  // Gossip: the joiner merged a seed's state and planned its claim; everyone else holds the old state.
  const old = stateOf(ring, before);
  const claimed = planJoin(mergeStates(joiningState(info(joiner), q, scaleN, undefined), old), info(joiner));
  const states = [...before.map(() => old), claimed];
  const rounds = gossipRounds(states, ids, rng);

  return {
    nodes,
    partitions: q,
    balanceBefore: balance(ring, before.length),
    balanceAfter: balance(after, nodes),
    partitionsMoved: moved,
    partitionsIdeal: q / nodes,
    replicasMoved,
    replicasIdeal: (scaleN * q) / nodes,
    keysMovedShare: keysMoved / sampleKeys,
    keysIdealShare: 1 / nodes,
    gossipRounds: rounds,
    ms: performance.now() - started,
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

export function scaleReport(sizes: readonly number[]): string {
  const head = ['nodes', 'Q', 'max/mean before', 'max/mean after', 'min after', 'partitions moved (ideal)', 'replicas moved (ideal)', 'keys moved % (ideal)', 'gossip rounds (log2 n)', 'ms'];
  const rows: string[][] = [];
  for (const n of sizes) {
    const r = scaleRow(n);
    rows.push([
      String(r.nodes),
      String(r.partitions),
      `${r.balanceBefore.max}/${r.balanceBefore.mean.toFixed(2)} = ${(r.balanceBefore.max / r.balanceBefore.mean).toFixed(2)}`,
      `${r.balanceAfter.max}/${r.balanceAfter.mean.toFixed(2)} = ${(r.balanceAfter.max / r.balanceAfter.mean).toFixed(2)}`,
      String(r.balanceAfter.min),
      `${r.partitionsMoved} (${r.partitionsIdeal.toFixed(1)})`,
      `${r.replicasMoved} (${r.replicasIdeal.toFixed(1)})`,
      `${(100 * r.keysMovedShare).toFixed(3)} (${(100 * r.keysIdealShare).toFixed(3)})`,
      `${r.gossipRounds} (${Math.log2(r.nodes).toFixed(1)})`,
      r.ms.toFixed(0),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => pad(c, widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}
