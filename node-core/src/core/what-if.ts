// What-if analysis (issue 14), pure: "if these nodes failed now, which partitions could still
// be read and written, who would hold the hints, and how many?" It runs the coordinator's own
// rules rather than re-stating them: each partition's placement comes from
// `computePlacement` (core/placement.ts) with every failed node, and every node already seen
// down, as 'down'; then the same checks the coordinator makes (core/coordinator.ts):
//
// - a read is refused when r > the targets (`get`: "only N healthy replicas can be reached"),
//   and a write when w > the targets (`put`); targets are the reachable preference-list nodes
//   plus the stand-ins (sloppy quorum, Dynamo 4.6). That is `sloppyRead` / `sloppyWrite`.
// - `strictRead` / `strictWrite`: R (or W) answers can come from the preference list alone,
//   i.e. without any stand-in. A sloppy read that needs a stand-in is answered, but a stand-in
//   holds only the hints written since the failure: it may answer not-found for older keys.
// - hints: each put to a partition leaves one hint per missing preference-list node, on its
//   stand-in, or (no spare node, a cluster of N) as an extra hint on the coordinator, which
//   adds no durability. With no target at all the write is refused and leaves none.
//
// Who sees whom: statuses are one node's view (a ClusterSnapshot's `via`), like the
// coordinator's. 'suspect' nodes are still tried as replicas but never stand in; 'joining' and
// 'leaving' are up as far as the failure detector goes; a node absent from `members` is down
// (the detector's answer for a peer it never heard from).

import { computePlacement } from './placement.js';
import { partitionsMax } from './partitioner.js';
import type { Liveness } from './failure-detector.js';

export type NodeId = string;
export type WhatIfMemberStatus = 'up' | 'suspect' | 'down' | 'joining' | 'leaving';

/** The most replicas per key a node accepts (--n). */
export const whatIfReplicasMax = 16;
/** Members considered at most: the walk derivation costs partitions x members. */
export const whatIfMembersMax = 1024;

export interface WhatIfInput {
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: readonly { readonly partition: number; readonly preferenceList: readonly NodeId[] }[];
  readonly members: readonly { readonly id: NodeId; readonly status: WhatIfMemberStatus }[];
  /**
   * Every distinct member clockwise from partition p (the node's `ringWalk`). Without it the
   * walk is derived as the node derives it: the preference list, then the owners of the
   * partitions that follow around the ring (the first node of each preference list), each
   * once. Members that own no partition are never in a walk, so they never stand in.
   */
  readonly ringWalk?: (p: number) => readonly NodeId[];
  readonly failed: readonly NodeId[];
  readonly keysPerPartition?: Readonly<Record<number, number>>;
  /** Puts per second across the whole cluster; MD5 spreads them evenly over the partitions. */
  readonly putsPerSecond?: number;
  readonly durationMs?: number;
}

export interface PartitionOutlook {
  readonly partition: number;
  /** Preference-list nodes neither failed nor seen down. */
  readonly replicasLeft: number;
  readonly strictRead: boolean;
  readonly strictWrite: boolean;
  readonly sloppyWrite: boolean;
  readonly sloppyRead: boolean;
  /** Nodes that would hold hints for this partition's missing replicas, in preference order. */
  readonly standIns: NodeId[];
}

export interface WhatIfSummary {
  readonly strictReadLost: number;
  readonly strictWriteLost: number;
  readonly sloppyWriteLost: number;
  /** Keys in partitions that lose strict R (from keysPerPartition; 0 without it). */
  readonly keysAtRisk: number;
  /**
   * Expected hint writes over the duration: one per put to an affected partition per missing
   * replica that someone keeps a hint for. A hint is a row per (target, key), so the backlog
   * (`hintsPending`) is at most this, less when puts repeat keys.
   */
  readonly expectedHints: number;
  readonly hintsByStandIn: Record<NodeId, number>;
}

export interface WhatIfResult {
  readonly partitions: PartitionOutlook[];
  readonly summary: WhatIfSummary;
}

function isCount(x: unknown, min: number, max: number): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
}

function isAmount(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

const statuses: ReadonlySet<string> = new Set<WhatIfMemberStatus>(['up', 'suspect', 'down', 'joining', 'leaving']);

/** Throws RangeError naming the first thing wrong with the input (the caller's boundary maps it to a 400). */
function check(input: WhatIfInput): void {
  const { n, r, w } = input;
  if (!isCount(n, 1, whatIfReplicasMax)) throw new RangeError(`n must be an integer in 1..${whatIfReplicasMax}`);
  if (!isCount(r, 1, n)) throw new RangeError(`r must be an integer in 1..${n}`);
  if (!isCount(w, 1, n)) throw new RangeError(`w must be an integer in 1..${n}`);
  if (!Array.isArray(input.members) || input.members.length > whatIfMembersMax) throw new RangeError(`members must be a list of at most ${whatIfMembersMax}`);
  const ids = new Set<string>();
  for (const m of input.members) {
    if (typeof m?.id !== 'string' || m.id === '') throw new RangeError('a member id must be a non-empty string');
    if (!statuses.has(m.status)) throw new RangeError(`member ${m.id}: status must be one of ${[...statuses].join(', ')}`);
    if (ids.has(m.id)) throw new RangeError(`member ${m.id} is listed twice`);
    ids.add(m.id);
  }
  if (!Array.isArray(input.partitions) || input.partitions.length > partitionsMax) throw new RangeError(`partitions must be a list of at most ${partitionsMax}`);
  const seen = new Set<number>();
  for (const p of input.partitions) {
    if (!isCount(p?.partition, 0, partitionsMax - 1)) throw new RangeError(`a partition number must be an integer in 0..${partitionsMax - 1}`);
    if (seen.has(p.partition)) throw new RangeError(`partition ${p.partition} is listed twice`);
    seen.add(p.partition);
    const pref = p.preferenceList;
    if (!Array.isArray(pref) || pref.length === 0 || pref.length > n) throw new RangeError(`partition ${p.partition}: the preference list must hold 1..${n} nodes`);
    if (pref.some((id) => typeof id !== 'string' || id === '') || new Set(pref).size !== pref.length) throw new RangeError(`partition ${p.partition}: the preference list must hold distinct node ids`);
  }
  if (!Array.isArray(input.failed) || input.failed.some((id) => typeof id !== 'string')) throw new RangeError('failed must be a list of node ids');
  if (input.failed.length > whatIfMembersMax) throw new RangeError(`at most ${whatIfMembersMax} failed nodes`);
  for (const [p, k] of Object.entries(input.keysPerPartition ?? {})) if (!isAmount(k)) throw new RangeError(`keysPerPartition[${p}] must be a non-negative number`);
  if (input.putsPerSecond !== undefined && !isAmount(input.putsPerSecond)) throw new RangeError('putsPerSecond must be a non-negative number');
  if (input.durationMs !== undefined && !isAmount(input.durationMs)) throw new RangeError('durationMs must be a non-negative number');
}

/**
 * The ring walk of each listed partition, in descending partition order, as the node derives it
 * (`computePreferenceList` over the whole ring): walk(p) is owner(p) followed by walk(next)
 * without owner(p). Built one from the other, so Q partitions cost Q x members, not Q^2.
 */
function* derivedWalks(parts: readonly { readonly partition: number; readonly preferenceList: readonly NodeId[] }[]): Generator<readonly NodeId[], void> {
  const q = parts.length;
  const owner = (i: number) => parts[i]!.preferenceList[0]!;
  // The walk from the last partition wraps around the ring once.
  let walk: NodeId[] = [];
  for (let i = 0; i < q; i++) {
    const o = owner((q - 1 + i) % q);
    if (!walk.includes(o)) walk.push(o);
  }
  for (let i = q - 1; i >= 0; i--) {
    if (i < q - 1) walk = [owner(i), ...walk.filter((x) => x !== owner(i))];
    yield walk;
  }
}

export function whatIf(input: WhatIfInput): WhatIfResult {
  check(input);
  const { r, w } = input;
  const failed = new Set(input.failed);
  const status = new Map(input.members.map((m) => [m.id, m.status]));
  const liveness = (id: NodeId): Liveness => {
    if (failed.has(id)) return 'down';
    const s = status.get(id);
    if (s === undefined || s === 'down') return 'down';
    return s === 'suspect' ? 'suspect' : 'up';
  };
  const parts = [...input.partitions].sort((a, b) => a.partition - b.partition);
  const walks = input.ringWalk ? undefined : derivedWalks(parts);
  const q = parts.length;
  const putsPerPartition = q === 0 ? 0 : ((input.putsPerSecond ?? 0) * ((input.durationMs ?? 0) / 1000)) / q;
  const outlook: PartitionOutlook[] = new Array<PartitionOutlook>(q);
  const hintsByStandIn: Record<NodeId, number> = {};
  let expectedHints = 0;
  let keysAtRisk = 0;
  // Descending, the order the derived walks come in; the answer is in partition order.
  for (let i = q - 1; i >= 0; i--) {
    const { partition, preferenceList: pref } = parts[i]!;
    const around: readonly NodeId[] = input.ringWalk ? input.ringWalk(partition) : (walks!.next().value ?? []);
    const walk = [...pref, ...around.filter((id) => !pref.includes(id))];
    // Extra hints stay on the write's coordinator: a reachable replica. A request that lands on
    // a non-replica goes to the first one; one sent straight to another replica is coordinated
    // there (in a cluster of N every node is a replica), so this names the first as the keeper.
    // With no replica reachable, the node that took the request coordinates, which is no target
    // (computePlacement then keeps the hints on the first target): a name no member has.
    let self = pref.find((id) => liveness(id) !== 'down');
    if (self === undefined) {
      self = '\u0000what-if';
      while (walk.includes(self)) self += '\u0000';
    }
    const placement = computePlacement(walk, pref.length, self, liveness);
    const replicasLeft = placement.upPref.length;
    const reachable = placement.targets.length;
    const holders = [...placement.targets.filter((t) => t.hintFor !== undefined), ...placement.extraHints];
    const standIns = [...new Set(holders.map((t) => t.node))];
    const strictRead = replicasLeft >= r;
    outlook[i] = { partition, replicasLeft, strictRead, strictWrite: replicasLeft >= w, sloppyWrite: reachable >= w, sloppyRead: reachable >= r, standIns };
    if (!strictRead) keysAtRisk += input.keysPerPartition?.[partition] ?? 0;
    // A refused write (w beyond the targets) is not attempted, so it leaves no hint.
    if (putsPerPartition > 0 && reachable >= w) {
      for (const h of holders) {
        // Defined, not assigned: a node named __proto__ would otherwise vanish from the record.
        const had = Object.hasOwn(hintsByStandIn, h.node) ? hintsByStandIn[h.node]! : 0;
        Object.defineProperty(hintsByStandIn, h.node, { value: had + putsPerPartition, enumerable: true, writable: true, configurable: true });
        expectedHints += putsPerPartition;
      }
    }
  }
  return {
    partitions: outlook,
    summary: {
      strictReadLost: outlook.filter((p) => !p.strictRead).length,
      strictWriteLost: outlook.filter((p) => !p.strictWrite).length,
      sloppyWriteLost: outlook.filter((p) => !p.sloppyWrite).length,
      keysAtRisk,
      expectedHints,
      hintsByStandIn,
    },
  };
}
