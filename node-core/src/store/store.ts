// Storage behind a small interface (STYLE 5): SQLite in production, a Map in unit tests and
// the simulator. The one write primitive is `update`: read a key's sibling set, apply a pure
// function, commit durably, and only then resolve. Every replica write, coordinated put,
// read repair and handoff goes through it, so "acknowledged means committed" has one home.

import type { ActorId } from '../core/vclock.js';
import type { Version } from '../core/siblings.js';

export interface UpdateTools {
  /**
   * The actor this node uses for coordinated writes in `partition`. An actor is retired
   * when the node drops the partition's data, so no actor ever issues a counter twice.
   */
  actorFor(partition: number): ActorId;
}

export interface UpdateResult<T> {
  /** The key's new sibling set, or undefined to leave it unchanged. */
  readonly versions: readonly Version[] | undefined;
  readonly result: T;
}

export type Updater<T> = (current: readonly Version[], tools: UpdateTools) => UpdateResult<T>;

export interface StoreStats {
  readonly keys: number;
  readonly bytes: number;
}

export interface Store {
  read(key: Uint8Array): Promise<Version[]>;
  /** Resolves after the result is committed; rejects (and commits nothing for this key) if `f` throws. */
  update<T>(key: Uint8Array, partition: number, f: Updater<T>): Promise<T>;
  getMeta(name: string): Uint8Array | undefined;
  setMeta(name: string, value: Uint8Array): Promise<void>;
  stats(): StoreStats;
  close(): Promise<void>;
}

/** Actor ids: node id plus a base-36 time stamp unique to this store's life (see actorFor). */
export function makeActorId(nodeId: string, uniqueMs: number): ActorId {
  return `${nodeId}.${uniqueMs.toString(36)}`;
}
