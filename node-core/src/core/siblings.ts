// Sibling sets: the versions of one key that no other known version supersedes
// (Dynamo 4.4, "syntactic reconciliation").
//
// Every version carries its dot (the one event that created it) and its clock (every event
// its writer had seen, plus the dot). A version is obsolete exactly when another version's
// clock contains its dot. This is the dotted-version-vector rule (Preguiça et al.): unlike
// comparing whole clocks, it never lets a write by actor A supersede a concurrent sibling
// that A also wrote but the client never saw.

import { type ActorId, type Entry, type VClock, addEvent, covers, join, emptyClock, maxCounter, clockToJson, prune, type PruneLimits, defaultPruneLimits } from './vclock.js';

export interface Version {
  readonly dot: Entry;
  readonly clock: VClock;
  readonly deleted: boolean;
  readonly contentType: string;
  readonly value: Uint8Array;
}

export type Siblings = readonly Version[];

export interface Payload {
  readonly deleted: boolean;
  readonly contentType: string;
  readonly value: Uint8Array;
}

function sameDot(a: Entry, b: Entry): boolean {
  return a.actor === b.actor && a.counter === b.counter;
}

function byDot(a: Version, b: Version): number {
  return a.dot.actor < b.dot.actor ? -1 : a.dot.actor > b.dot.actor ? 1 : a.dot.counter - b.dot.counter;
}

/**
 * Merges two sibling sets (replica sync, read repair, hinted handoff, anti-entropy).
 * Commutative, associative and idempotent, so replicas converge whatever order states
 * arrive in. The result is sorted by dot, so equal sets are equal arrays.
 */
export function syncSiblings(a: Siblings, b: Siblings): Version[] {
  const all: Version[] = [];
  for (const v of [...a, ...b]) {
    // A dot names one write; the same dot seen twice is the same version.
    if (!all.some((w) => sameDot(w.dot, v.dot))) all.push(v);
  }
  const live = all.filter((v) => !all.some((w) => w !== v && !sameDot(w.dot, v.dot) && covers(w.clock, v.dot)));
  return live.sort(byDot);
}

/** The clock covering every version in the set: the context a GET returns. */
export function contextOf(versions: Siblings): VClock {
  let clock = emptyClock;
  for (const v of versions) clock = join(clock, v.clock);
  return clock;
}

/**
 * A coordinated write (Dynamo 4.5): the new version gets the next event of `actor`, its
 * clock is the client's context plus that event, and it supersedes exactly the local
 * versions the context covers. `actor` must be an actor whose every earlier event on this
 * key is in `local` (see store actors), or the counter could repeat.
 */
export function coordinatePut(
  local: Siblings,
  context: VClock,
  actor: ActorId,
  nowMs: number,
  payload: Payload,
  limits: PruneLimits = defaultPruneLimits,
  replicaNodes: readonly string[] = [],
): { versions: Version[]; version: Version } {
  const counter = Math.max(maxCounter(contextOf(local), actor), maxCounter(context, actor)) + 1;
  const dot: Entry = { actor, counter, ts: nowMs };
  const full = addEvent(context, dot);
  const clock = prune(full, nowMs, limits, activeActors(full, actor, replicaNodes));
  const version: Version = { dot, clock, deleted: payload.deleted, contentType: payload.contentType, value: payload.value };
  return { versions: syncSiblings(local, [version]), version };
}

/** The node part of an actor id (`node.tenure`). */
export function actorNode(actor: ActorId): string {
  const i = actor.lastIndexOf('.');
  return i < 0 ? actor : actor.slice(0, i);
}

function actorTenure(actor: ActorId): number {
  const i = actor.lastIndexOf('.');
  return i < 0 ? 0 : parseInt(actor.slice(i + 1), 36) || 0;
}

/**
 * Actors that may still coordinate writes to a key: our own, and for each replica node the
 * newest tenure named in the clock (a node has one live actor per partition; older tenures
 * of the same node, and actors of nodes that no longer replicate the key, are retired: they
 * dropped the key's data and will never issue on it again).
 */
export function activeActors(clock: VClock, own: ActorId, replicaNodes: readonly string[]): (actor: ActorId) => boolean {
  const newest = new Map<string, ActorId>();
  for (const e of [...clock.entries, ...clock.dots]) {
    const node = actorNode(e.actor);
    if (!replicaNodes.includes(node)) continue;
    const have = newest.get(node);
    if (!have || actorTenure(e.actor) > actorTenure(have)) newest.set(node, e.actor);
  }
  const keep = new Set([own, ...newest.values()]);
  return (actor) => keep.has(actor);
}


export function sameSiblings(a: Siblings, b: Siblings): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort(byDot);
  const sb = [...b].sort(byDot);
  return sa.every((v, i) => sameDot(v.dot, sb[i]!.dot));
}

/** Live (non-tombstone) versions. */
export function liveVersions(versions: Siblings): Version[] {
  return versions.filter((v) => !v.deleted);
}

/** Bytes per clock event in `siblingsBytes`: keeps batches bounded in decoded values too (net/msgpack-guard.ts). */
export const clockEventBytes = 16;

/** About the bytes a sibling set takes in memory and on the wire: values, types, and clocks. */
export function siblingsBytes(versions: Siblings): number {
  let n = 0;
  for (const v of versions) n += v.value.byteLength + Buffer.byteLength(v.contentType) + 64 + clockEventBytes * (v.clock.entries.length + v.clock.dots.length);
  return n;
}

export function versionToJson(v: Version): { clock: Record<string, number>; dot: { actor: string; counter: number }; timestamp: number; deleted: boolean; size: number } {
  return {
    clock: clockToJson(v.clock),
    dot: { actor: v.dot.actor, counter: v.dot.counter },
    timestamp: v.dot.ts,
    deleted: v.deleted,
    size: v.value.byteLength,
  };
}
