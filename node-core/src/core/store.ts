// Storage behind a small interface (STYLE 5): SQLite in production, a Map in unit tests and
// the simulator. The one write primitive is `update`: read a key's sibling set, apply a pure
// function, commit durably, and only then resolve. Every replica write, coordinated put,
// read repair and handoff goes through it, so "acknowledged means committed" has one home.

import type { ActorId, VClock } from './vclock.js';
import type { Version } from './siblings.js';
import { invariant } from './assert.js';
import { keyBytesMax } from './codec.js';
import { partitionsMax } from './partitioner.js';
import type { KeyRange, ReplicaListing } from './listing.js';

export interface UpdateTools {
  /**
   * The actor this node uses for coordinated writes in `partition`. An actor is retired
   * when the node drops the partition's data, so no actor ever issues a counter twice.
   */
  actorFor(partition: number): ActorId;
  /** The clock of this key's reaped tombstones, if remembered: knowledge a new write must cover. */
  reaped(): VClock | undefined;
}

export interface UpdateResult<T> {
  /** The key's new sibling set, or undefined to leave it unchanged. */
  readonly versions: readonly Version[] | undefined;
  readonly result: T;
  /**
   * The key's reaped-tombstone clock to remember from now on (replacing the old one), in the
   * same transaction, so a stale copy arriving later is recognised and dropped.
   */
  readonly reaped?: VClock;
}

export type Updater<T> = (current: readonly Version[], tools: UpdateTools) => UpdateResult<T>;

export interface StoreStats {
  readonly keys: number;
  readonly bytes: number;
  /** Rows that could not be read back and were moved aside (their keys are repaired from replicas). */
  readonly quarantined: number;
  /** False after a commit failed (disk full, read-only folder), until one succeeds again. */
  readonly writable: boolean;
  /** The last commit failure, while `writable` is false. */
  readonly lastError?: string | undefined;
}

/**
 * Where a sibling set lives: the node's own data, or hints it holds for another node
 * (sloppy quorum, Dynamo 4.6), kept apart so they are never mistaken for its own replicas.
 */
export type Space = { readonly kind: 'data' } | { readonly kind: 'hint'; readonly target: string };

export const dataSpace: Space = Object.freeze({ kind: 'data' });

export function hintSpace(target: string): Space {
  return { kind: 'hint', target };
}

export interface StoredKey {
  readonly key: Buffer;
  readonly partition: number;
  readonly versions: Version[];
}

/** Called after a commit changed a key of the data space (the Merkle trees listen). */
export type ChangeListener = (key: Uint8Array, partition: number, before: readonly Version[], after: readonly Version[]) => void;

export interface Store {
  read(key: Uint8Array, space?: Space): Promise<Version[]>;
  /**
   * Resolves after the result is committed; rejects (and commits nothing for this key) if
   * `f` throws. An empty result deletes the key.
   */
  update<T>(key: Uint8Array, partition: number, f: Updater<T>, space?: Space): Promise<T>;
  /** Keys of a partition in key order after `afterKey`, at most `limit` (bounded batches). */
  scanPartition(partition: number, afterKey: Uint8Array | undefined, limit: number): StoredKey[];
  /** Hints held for `target`, in key order after `afterKey`, at most `limit`. */
  scanHints(target: string, afterKey: Uint8Array | undefined, limit: number): StoredKey[];
  /** Partitions this node holds any data for. */
  partitionsHeld(): number[];
  /** Hints held, by target node. */
  hintCounts(): Map<string, number>;
  /** The clock of a key's reaped tombstones, while remembered. */
  reapedClock(key: Uint8Array): VClock | undefined;
  /** Forgets reaped clocks recorded before `beforeMs`; returns how many. */
  expireReaped(beforeMs: number): number;
  /** Ends this node's actor for `partition` (after it dropped the partition's data). */
  retireActor(partition: number): void;
  onChange(listener: ChangeListener): void;
  /**
   * Called when a row that could not be read back was moved aside (stores that can find such
   * rows): what the key held is unknown, so whoever keeps a digest of it must recompute.
   */
  onQuarantine?(listener: (key: Uint8Array, partition: number, space: Space) => void): void;
  /** Small named values of the node (cluster state, context keys, shape); names in storeMetaReserved are the store's own. */
  getMeta(name: string): Uint8Array | undefined;
  /** Rejects (RangeError) a name in storeMetaReserved. */
  setMeta(name: string, value: Uint8Array): Promise<void>;
  stats(): StoreStats;
  /**
   * The smallest keys of `range` (data space), in key order, values left out (core/listing.ts):
   * at most `range.limit`, and fewer once the rows read pass `rowBytesMax` (then `more`). For
   * GET /keys; a store without it (the simulator's) lists nothing.
   */
  listKeys?(range: KeyRange, rowBytesMax: number): ReplicaListing;
  /** Keys and stored bytes per partition held (GET /admin/partitions), from counters, not a scan. */
  partitionUsage?(): Map<number, PartitionUsage>;
  close(): Promise<void>;
}

/** What a store holds of one partition: keys, and the bytes of their rows as stored. */
export interface PartitionUsage {
  readonly keys: number;
  readonly bytes: number;
}

/** A key and partition a row may have: what the node derives from a key it parsed at the boundary. */
export function isStorableAddress(key: Uint8Array, partition: number): boolean {
  return key.byteLength >= 1 && key.byteLength <= keyBytesMax && Number.isInteger(partition) && partition >= 0 && partition < partitionsMax;
}

/** Asserted by both stores on every update: any other address is a bug upstream, never input (rows read from disk are checked with isStorableAddress). */
export function assertStorableAddress(key: Uint8Array, partition: number): void {
  invariant(key.byteLength >= 1 && key.byteLength <= keyBytesMax, () => `a key of ${key.byteLength} bytes reached the store`);
  invariant(Number.isInteger(partition) && partition >= 0 && partition < partitionsMax, () => `partition ${partition} reached the store`);
}

/** Meta names a store keeps for itself: the last actor timestamp it issued (actor ids must never repeat). */
export const storeMetaReserved: ReadonlySet<string> = new Set(['lastActorMs']);

/** The guard both stores apply to setMeta and getMeta. */
export function checkMetaName(name: string): void {
  if (storeMetaReserved.has(name)) throw new RangeError(`meta name ${JSON.stringify(name)} is reserved by the store`);
}

/**
 * An update refused because its result could not be read back (a counter at the edge of the
 * safe integers, a clock too wide, a row too large): nothing was written for that key. The
 * coordinator answers it with 400 or 413; it never becomes a row a restart cannot parse.
 */
export class UnstorableError extends Error {
  readonly code = 'unstorable';
}

/** Actor ids: node id plus a base-36 time stamp unique to this store's life (see actorFor). */
export function makeActorId(nodeId: string, uniqueMs: number): ActorId {
  return `${nodeId}.${uniqueMs.toString(36)}`;
}
