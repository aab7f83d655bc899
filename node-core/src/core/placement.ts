// Sloppy-quorum placement (Dynamo 4.6), pure: where a key's replicas go right now, given the
// ring walk from its partition and how this node sees each member. The node's impure wrapper
// (`GyreNode.placement`) reads its current state and calls this (STYLE 3, riak_core's
// get_apl/3 and get_apl/4).
//
// - The preference list is the first N distinct members met walking clockwise.
// - A preference-list node this node does not see as down gets the replica itself (a suspect
//   node is still tried: if it fails, the coordinator keeps a hint for it).
// - A node seen down is replaced by the next node beyond the list that is seen up, which holds
//   the replica as a hint naming the node it stands in for.
// - When no such stand-in exists (a cluster of N nodes has none), a node that already takes a
//   replica (this node if it is one, else the first target) keeps an extra hint for it. Such
//   hints bring the node up to date when it is back but add no durability: they are not
//   counted towards W.

import type { Placement, Target } from './coordinator.js';
import type { Liveness } from './failure-detector.js';
import { invariant } from './assert.js';

export type NodeId = string;

/**
 * @param walk every distinct member clockwise from the partition (members that left excluded)
 * @param n replicas per key
 * @param selfId the node placing the request
 * @param liveness how this node sees each member
 */
export function computePlacement(walk: readonly NodeId[], n: number, selfId: NodeId, liveness: (id: NodeId) => Liveness): Placement {
  const pref = walk.slice(0, n);
  const seenUp = (id: NodeId) => id === selfId || liveness(id) === 'up';
  const reachable = (id: NodeId) => id === selfId || liveness(id) !== 'down';
  const fallbacks = walk.slice(n).filter(seenUp);
  const targets: Target[] = [];
  const upPref: NodeId[] = [];
  const uncovered: NodeId[] = [];
  for (const node of pref) {
    if (reachable(node)) {
      targets.push({ node, hintFor: undefined });
      upPref.push(node);
      continue;
    }
    const standIn = fallbacks.shift();
    if (standIn !== undefined) targets.push({ node: standIn, hintFor: node });
    else uncovered.push(node);
  }
  const keeper = targets.some((t) => t.node === selfId) ? selfId : targets[0]?.node;
  const extraHints = keeper === undefined ? [] : uncovered.map((node) => ({ node: keeper, hintFor: node }));
  invariant(new Set(targets.map((t) => t.node)).size === targets.length, () => `a node placed twice: ${targets.map((t) => t.node).join(',')}`);
  invariant(targets.length + uncovered.length === pref.length, 'every preference-list node has a target or is uncovered');
  return { pref, targets, upPref, extraHints };
}
