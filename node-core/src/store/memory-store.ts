// In-memory Store: the same contract as SqliteStore (commit before resolve, updaters applied
// in order, change listeners after commit), for unit tests and the simulator, where
// "durable" means "survives a simulated crash" because the simulator keeps this object
// across restarts of the node built on it.

import type { Version } from '../core/siblings.js';
import type { ActorId, VClock } from '../core/vclock.js';
import { type ChangeListener, type PartitionUsage, type Space, type Store, type StoreStats, type StoredKey, type Updater, UnstorableError, assertStorableAddress, checkMetaName, dataSpace, makeActorId } from '../core/store.js';
import { clockProblem, encodeStored } from '../core/codec.js';
import { type KeyRange, type ListedKey, type ReplicaListing, inRange, listedKey } from '../core/listing.js';

interface Row {
  readonly key: Buffer;
  readonly partition: number;
  readonly versions: readonly Version[];
}

function hex(key: Uint8Array): string {
  return Buffer.from(key).toString('hex');
}

export class MemoryStore implements Store {
  private readonly data = new Map<string, Row>();
  private readonly hints = new Map<string, Map<string, Row>>();
  private readonly meta = new Map<string, Uint8Array>();
  private readonly actors = new Map<number, ActorId>();
  private readonly listeners: ChangeListener[] = [];
  private readonly reaped = new Map<string, { clock: VClock; at: number }>();
  private lastActorMs = 0;

  constructor(
    private readonly nodeId: string,
    private readonly now: () => number,
  ) {}

  private table(space: Space): Map<string, Row> {
    if (space.kind === 'data') return this.data;
    let t = this.hints.get(space.target);
    if (!t) {
      t = new Map();
      this.hints.set(space.target, t);
    }
    return t;
  }

  async read(key: Uint8Array, space: Space = dataSpace): Promise<Version[]> {
    return [...(this.table(space).get(hex(key))?.versions ?? [])];
  }

  async update<T>(key: Uint8Array, partition: number, f: Updater<T>, space: Space = dataSpace): Promise<T> {
    assertStorableAddress(key, partition);
    const t = this.table(space);
    const k = hex(key);
    const cur = t.get(k)?.versions ?? [];
    const { versions, result, reaped } = f(cur, { actorFor: (p) => this.actorFor(p), reaped: () => (space.kind === 'data' ? this.reaped.get(k)?.clock : undefined) });
    // The same invariant at the disk as SqliteStore: nothing is kept that could not be read back.
    if (versions !== undefined && versions.length > 0) {
      const encoded = encodeStored(versions);
      if (!encoded.ok) throw new UnstorableError(encoded.reason);
    }
    const reapedProblem = reaped ? clockProblem(reaped) : undefined;
    if (reapedProblem) throw new UnstorableError(`reaped clock: ${reapedProblem}`);
    if (versions !== undefined) {
      if (reaped && space.kind === 'data') this.reaped.set(k, { clock: reaped, at: this.now() });
      if (versions.length === 0) t.delete(k);
      else t.set(k, { key: Buffer.from(key), partition, versions });
      if (space.kind === 'data') for (const l of this.listeners) l(key, partition, cur, versions);
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

  private static scan(rows: Iterable<Row>, afterKey: Uint8Array | undefined, limit: number): StoredKey[] {
    const after = afterKey ? Buffer.from(afterKey) : undefined;
    return [...rows]
      .filter((r) => !after || Buffer.compare(r.key, after) > 0)
      .sort((a, b) => Buffer.compare(a.key, b.key))
      .slice(0, limit)
      .map((r) => ({ key: r.key, partition: r.partition, versions: [...r.versions] }));
  }

  scanPartition(partition: number, afterKey: Uint8Array | undefined, limit: number): StoredKey[] {
    return MemoryStore.scan([...this.data.values()].filter((r) => r.partition === partition), afterKey, limit);
  }

  scanHints(target: string, afterKey: Uint8Array | undefined, limit: number): StoredKey[] {
    return MemoryStore.scan(this.hints.get(target)?.values() ?? [], afterKey, limit);
  }

  listKeys(range: KeyRange, rowBytesMax: number): ReplicaListing {
    const rows = [...this.data.values()].filter((r) => r.partition === range.partition && inRange(r.key, range)).sort((a, b) => Buffer.compare(a.key, b.key));
    const keys: ListedKey[] = [];
    let read = 0;
    let i = 0;
    for (; i < rows.length && i < range.limit; i++) {
      const row = rows[i]!;
      const bytes = rowBytes(row.versions);
      if (keys.length > 0 && read + bytes > rowBytesMax) break;
      read += bytes;
      keys.push(listedKey(row.key, row.versions));
    }
    return { keys, more: i < rows.length };
  }

  partitionUsage(): Map<number, PartitionUsage> {
    const out = new Map<number, { keys: number; bytes: number }>();
    for (const r of this.data.values()) {
      const u = out.get(r.partition) ?? { keys: 0, bytes: 0 };
      out.set(r.partition, { keys: u.keys + 1, bytes: u.bytes + rowBytes(r.versions) });
    }
    return out;
  }

  partitionsHeld(): number[] {
    return [...new Set([...this.data.values()].map((r) => r.partition))].sort((a, b) => a - b);
  }

  hintCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [target, t] of this.hints) if (t.size > 0) out.set(target, t.size);
    return out;
  }

  reapedClock(key: Uint8Array): VClock | undefined {
    return this.reaped.get(hex(key))?.clock;
  }

  expireReaped(beforeMs: number): number {
    let n = 0;
    for (const [k, r] of this.reaped) {
      if (r.at < beforeMs) {
        this.reaped.delete(k);
        n++;
      }
    }
    return n;
  }

  retireActor(partition: number): void {
    this.actors.delete(partition);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  getMeta(name: string): Uint8Array | undefined {
    checkMetaName(name);
    return this.meta.get(name);
  }

  async setMeta(name: string, value: Uint8Array): Promise<void> {
    checkMetaName(name);
    this.meta.set(name, value);
  }

  stats(): StoreStats {
    let bytes = 0;
    for (const { versions } of this.data.values()) for (const v of versions) bytes += v.value.byteLength;
    return { keys: this.data.size, bytes, quarantined: 0, writable: true };
  }

  async close(): Promise<void> {}
}

/** A row's size as SqliteStore stores it: the encoded sibling set. */
function rowBytes(versions: readonly Version[]): number {
  const encoded = encodeStored(versions);
  return encoded.ok ? encoded.value.byteLength : 0;
}
