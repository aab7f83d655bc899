// A membership change planned before it is made (issue 14; Riak Control's "stage, plan,
// commit"): what a join or a leave would move, computed with the same claim the nodes run
// (ring.ts: claimForJoin, claimForLeave), so the plan is what the cluster will do when no
// other change races it. Data moves as the transfers move it (replication/transfer.ts): a node
// pulls every partition whose preference list it enters, not only those it comes to own; so a
// move here is one partition copied to one new replica. Pure: the console backend feeds it the
// ring it sees and the sizes the nodes report per partition.

import { type NodeId, type Ring, claimForJoin, claimForLeave, computePreferenceList, movedPartitions } from './ring.js';

export type PlannedChange = { readonly kind: 'join'; readonly node: NodeId } | { readonly kind: 'leave'; readonly node: NodeId };

export interface PartitionSize {
  readonly keys: number;
  readonly bytes: number;
}

export interface ChangePlan {
  /** Partitions whose owner changes (the ring's claim). */
  readonly ownership: readonly { readonly partition: number; readonly from: NodeId; readonly to: NodeId }[];
  /** Partition copies to new replicas, from the partition's current owner. */
  readonly moves: readonly { readonly partition: number; readonly from: NodeId; readonly to: NodeId; readonly keys: number | null; readonly bytes: number | null }[];
  readonly totals: { readonly partitions: number; readonly keys: number; readonly bytes: number; readonly unknown: number };
  readonly flows: readonly { readonly from: NodeId; readonly to: NodeId; readonly partitions: number; readonly bytes: number }[];
  readonly atRisk: readonly { readonly partition: number; readonly before: readonly NodeId[]; readonly after: readonly NodeId[] }[];
  readonly load: readonly { readonly node: NodeId; readonly before: number; readonly after: number }[];
  readonly warnings: readonly string[];
  readonly target: Ring;
}

/**
 * The plan for `change` on `ring` (the current owners) with `members` (every active member,
 * the leaving node included for a leave), replication factor `n`; `size(p, node)` is what
 * `node` holds of partition `p`, or null when it did not say.
 */
export function planChange(ring: Ring, members: readonly NodeId[], change: PlannedChange, n: number, size: (p: number, node: NodeId) => PartitionSize | null): ChangePlan {
  const warnings: string[] = [];
  let target: Ring;
  if (change.kind === 'join') {
    if (members.includes(change.node)) warnings.push(`${change.node} is already a member`);
    target = claimForJoin(ring, change.node, n);
  } else {
    if (!members.includes(change.node)) throw new RangeError(`${change.node} is not a member`);
    const rest = members.filter((m) => m !== change.node);
    if (rest.length === 0) throw new RangeError('the last member cannot leave');
    if (rest.length < n) warnings.push(`after ${change.node} leaves, ${rest.length} member(s) remain for N=${n}: every partition will have fewer than N replicas`);
    target = claimForLeave(ring, change.node, rest);
  }
  const ownership = movedPartitions(ring, target).map((p) => ({ partition: p, from: ring.owners[p]!, to: target.owners[p]! }));
  const moves: { partition: number; from: NodeId; to: NodeId; keys: number | null; bytes: number | null }[] = [];
  for (let p = 0; p < ring.partitions; p++) {
    const b = computePreferenceList(ring, p, n);
    const a = computePreferenceList(target, p, n);
    const from = ring.owners[p]!;
    const s = size(p, from) ?? b.map((id) => size(p, id)).find((x) => x !== null) ?? null;
    for (const to of a) if (!b.includes(to)) moves.push({ partition: p, from, to, keys: s ? s.keys : null, bytes: s ? s.bytes : null });
  }
  const flowMap = new Map<string, { from: NodeId; to: NodeId; partitions: number; bytes: number }>();
  for (const m of moves) {
    const k = `${m.from}\u0000${m.to}`;
    const f = flowMap.get(k) ?? { from: m.from, to: m.to, partitions: 0, bytes: 0 };
    f.partitions++;
    f.bytes += m.bytes ?? 0;
    flowMap.set(k, f);
  }
  const atRisk: { partition: number; before: NodeId[]; after: NodeId[] }[] = [];
  const before = new Map<NodeId, number>();
  const after = new Map<NodeId, number>();
  for (let p = 0; p < ring.partitions; p++) {
    const b = computePreferenceList(ring, p, n);
    const a = computePreferenceList(target, p, n);
    for (const id of b) before.set(id, (before.get(id) ?? 0) + 1);
    for (const id of a) after.set(id, (after.get(id) ?? 0) + 1);
    if (b.length !== a.length || b.some((id) => !a.includes(id))) atRisk.push({ partition: p, before: b, after: a });
  }
  const nodes = [...new Set([...members, ...(change.kind === 'join' ? [change.node] : [])])].sort();
  if (ownership.length === 0 && change.kind === 'join') warnings.push('the join would move no partition (more members than partitions?)');
  return {
    ownership,
    moves,
    totals: { partitions: moves.length, keys: moves.reduce((a, m) => a + (m.keys ?? 0), 0), bytes: moves.reduce((a, m) => a + (m.bytes ?? 0), 0), unknown: moves.filter((m) => m.bytes === null).length },
    flows: [...flowMap.values()].sort((x, y) => y.partitions - x.partitions || x.from.localeCompare(y.from) || x.to.localeCompare(y.to)),
    atRisk,
    load: nodes.map((id) => ({ node: id, before: before.get(id) ?? 0, after: after.get(id) ?? 0 })),
    warnings,
    target,
  };
}
