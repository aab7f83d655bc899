// Read repair (Dynamo 4.5/5): once a read has heard from the replicas it will hear from,
// every replica that answered with something other than the merged state gets the merge.
// Pure: the coordinator sends what this returns.

import { type Siblings, type Version, sameSiblings, syncSiblings } from './siblings.js';

export interface ReplicaReply {
  readonly node: string;
  readonly versions: Siblings;
}

export function mergeReplies(replies: readonly ReplicaReply[]): Version[] {
  let merged: Version[] = [];
  for (const r of replies) merged = syncSiblings(merged, r.versions);
  return merged;
}

/** Nodes whose reply differs from `merged` (missing versions or holding obsolete ones). */
export function staleReplicas(replies: readonly ReplicaReply[], merged: Siblings): string[] {
  return replies.filter((r) => !sameSiblings(r.versions, merged)).map((r) => r.node);
}
