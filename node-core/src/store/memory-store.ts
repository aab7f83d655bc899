// In-memory Store: the same contract as SqliteStore (commit before resolve, updaters applied
// in order), for unit tests and the simulator, where "durable" means "survives a simulated
// crash" because the simulator keeps this object across restarts.

import type { Version } from '../core/siblings.js';
import type { ActorId } from '../core/vclock.js';
import { type Store, type StoreStats, type Updater, makeActorId } from './store.js';

export class MemoryStore implements Store {
  private readonly data = new Map<string, { partition: number; versions: readonly Version[] }>();
  private readonly meta = new Map<string, Uint8Array>();
  private readonly actors = new Map<number, ActorId>();
  private lastActorMs = 0;

  constructor(
    private readonly nodeId: string,
    private readonly now: () => number,
  ) {}

  private static k(key: Uint8Array): string {
    return Buffer.from(key).toString('base64');
  }

  async read(key: Uint8Array): Promise<Version[]> {
    return [...(this.data.get(MemoryStore.k(key))?.versions ?? [])];
  }

  async update<T>(key: Uint8Array, partition: number, f: Updater<T>): Promise<T> {
    const k = MemoryStore.k(key);
    const cur = this.data.get(k)?.versions ?? [];
    const { versions, result } = f(cur, { actorFor: (p) => this.actorFor(p) });
    if (versions !== undefined) {
      if (versions.length === 0) this.data.delete(k);
      else this.data.set(k, { partition, versions });
    }
    return result;
  }

  private actorFor(partition: number): ActorId {
    const have = this.actors.get(partition);
    if (have) return have;
    const ms = Math.max(this.now(), this.lastActorMs + 1);
    this.lastActorMs = ms;
    const actor = makeActorId(this.nodeId, ms);
    this.actors.set(partition, actor);
    return actor;
  }

  getMeta(name: string): Uint8Array | undefined {
    return this.meta.get(name);
  }

  async setMeta(name: string, value: Uint8Array): Promise<void> {
    this.meta.set(name, value);
  }

  stats(): StoreStats {
    let bytes = 0;
    for (const { versions } of this.data.values()) for (const v of versions) bytes += v.value.byteLength;
    return { keys: this.data.size, bytes };
  }

  async close(): Promise<void> {}
}
