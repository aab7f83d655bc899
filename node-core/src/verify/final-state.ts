// A black-box run's final state, from what the nodes answered: every key's replicas as
// `GET /replicas/{key}?values=1` shows them, in the checker's shape (FinalKey), every version
// in it observed; and the tombstones reads saw in a 404 (an id, no writer) named after the
// deletes that made them. Pure: the runs fetch the documents, these functions read them.

import type { ReplicasDocument } from '../wire/api.js';
import type { FinalKey } from './checker.js';
import { type History, type VersionSeen, tombstoneTypePrefix, writerOf } from './history.js';
import type { ObservedVersions } from './observed.js';

/** A /replicas snapshot in the checker's shape; every version in it is observed at `at`. */
export function finalKeysOf(snap: ReadonlyMap<string, ReplicasDocument>, observed: ObservedVersions, at: number): FinalKey[] {
  return [...snap].map(([key, doc]) => ({
    key,
    pref: doc.preferenceList,
    replicas: doc.replicas.map((rep) => ({
      node: rep.node,
      left: false,
      hints: [],
      reaped: undefined,
      data: rep.versions.map((v): VersionSeen => {
        const value = Buffer.from(v.value ?? '', 'base64');
        // A node that leaves out the version id or the content type shows an unplaceable version: observed as malformed.
        const dot = v.version ?? '(no version id)';
        const contentType = v.contentType ?? '';
        observed.add({ key, dot, deleted: v.deleted, contentType, value, context: v.context, at, node: rep.node });
        return { dot, writeId: writerOf({ deleted: v.deleted, contentType, value }), deleted: v.deleted };
      }),
    })),
  }));
}

/** The node that coordinated a version: its actor is `node.tenure` or `node~oneshot`. */
function actorNode(dot: string): string {
  const actor = dot.slice(0, dot.lastIndexOf(':'));
  return actor.split(/[.~]/)[0]!;
}

/**
 * Names the writers of tombstones that reads saw without one: from any other sighting, or else
 * from the deletes whose answer never came back (so whose version id is unknown): the one whose
 * coordinator made the tombstone's actor, when that singles one out. Each delete names at most
 * one tombstone. Returns the keys where some stayed nameless (the checker is less strict there).
 */
export function identifyTombstones(history: History, observed: ObservedVersions): Set<string> {
  const unidentified = new Set<string>();
  const reads = history.reads().filter((r) => r.versions?.some((v) => v.writeId === undefined));
  for (const op of reads) op.versions = op.versions!.map((v) => (v.writeId !== undefined ? v : { ...v, writeId: observed.version(op.key, v.dot)?.writeId }));
  const named = new Set<string>();
  for (const k of observed.keys()) for (const v of observed.versionsOf(k)) if (v.writeId) named.add(v.writeId);
  const firstSeen = new Map<string, { key: string; dot: string; at: number }>();
  for (const op of reads) for (const v of op.versions!) if (v.writeId === undefined && !firstSeen.has(`${op.key} ${v.dot}`)) firstSeen.set(`${op.key} ${v.dot}`, { key: op.key, dot: v.dot, at: op.completedAt ?? op.invokedAt });
  const assigned = new Map<string, string>();
  for (const t of [...firstSeen.values()].sort((a, b) => a.at - b.at)) {
    const candidates = history.writes().filter((w) => w.key === t.key && w.kind === 'delete' && w.outcome !== 'ok' && !named.has(w.writeId) && w.invokedAt <= t.at);
    const byNode = candidates.filter((w) => w.node === actorNode(t.dot));
    const pick = byNode.length === 1 ? byNode[0] : candidates.length === 1 ? candidates[0] : undefined;
    if (!pick) {
      unidentified.add(t.key);
      continue;
    }
    named.add(pick.writeId);
    assigned.set(`${t.key} ${t.dot}`, pick.writeId);
    observed.add({ key: t.key, dot: t.dot, deleted: true, contentType: `${tombstoneTypePrefix}${pick.writeId}`, value: Buffer.alloc(0), context: undefined, at: t.at, node: pick.node });
  }
  for (const op of reads) op.versions = op.versions!.map((v) => (v.writeId !== undefined ? v : { ...v, writeId: assigned.get(`${op.key} ${v.dot}`) }));
  return unidentified;
}

/** Why the replicas of one key differ (each replica's version ids), or undefined if they agree. */
export function replicasDiffer(key: string, doc: ReplicasDocument): string | undefined {
  const sets = doc.replicas.map((x) => (x.reachable ? x.versions.map((v) => v.version).sort().join(' ') : '(unreachable)'));
  if (new Set(sets).size <= 1) return undefined;
  return `${key}: replicas differ (${doc.replicas.map((x, i) => `${x.node}=[${sets[i]}]`).join(' ')})`;
}
