// The simulated disk: a per-incarnation view of a node's durable MemoryStore.
//
// - Group commit like SqliteStore: an update is queued and applied (and resolved) by a commit
//   event a little later, in call order; reads in between see the last commit, as they do
//   between SQLite's enqueue and its setImmediate flush.
// - A crash kills the view: queued updates are never applied (they were not committed) and
//   nothing the dead process started ever resolves. The MemoryStore below it is what
//   survives; the simulator swaps in a fresh one to simulate losing the disk.
// - Every committed sibling set is shown to an observer (the simulator's oracle), which
//   learns each version's dot, clock and writer.

import type { Env, TimerHandle } from '../../../node-core/src/core/env.js';
import type { Version } from '../../../node-core/src/core/siblings.js';
import type { VClock } from '../../../node-core/src/core/vclock.js';
import type { ChangeListener, Space, Store, StoreStats, StoredKey, Updater } from '../../../node-core/src/core/store.js';
import { dataSpace } from '../../../node-core/src/core/store.js';
import type { Watchdog } from './env.js';
import type { Rng } from './random.js';

export interface CommitObserver {
  committed(node: string, key: Uint8Array, space: Space, versions: readonly Version[], reaped: VClock | undefined): void;
}

interface Queued {
  readonly key: Uint8Array;
  readonly partition: number;
  readonly f: Updater<unknown>;
  readonly space: Space;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

export class SimStore implements Store {
  private queue: Queued[] = [];
  private commitTimer: TimerHandle | undefined;
  private dead = false;
  private readonly listeners: ChangeListener[] = [];
  commits = 0;

  constructor(
    private readonly inner: Store,
    private readonly nodeId: string,
    private readonly env: Env,
    private readonly rng: Rng,
    private readonly commitDelayMaxMs: number,
    private readonly observer: CommitObserver | undefined,
    private readonly watchdog?: Watchdog,
  ) {
    // The durable store outlives this view; only a live view passes change events on.
    inner.onChange((key, partition, before, after) => {
      if (this.dead) return;
      for (const l of this.listeners) l(key, partition, before, after);
    });
  }

  /** The process died: pending commits are lost, and nothing it asked for completes. */
  kill(): void {
    this.dead = true;
    this.commitTimer?.cancel();
    this.queue = [];
  }

  private never<T>(): Promise<T> {
    return new Promise<T>(() => {});
  }

  read(key: Uint8Array, space: Space = dataSpace): Promise<Version[]> {
    this.watchdog?.beat();
    if (this.dead) return this.never();
    return this.inner.read(key, space);
  }

  update<T>(key: Uint8Array, partition: number, f: Updater<T>, space: Space = dataSpace): Promise<T> {
    this.watchdog?.beat();
    if (this.dead) return this.never();
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ key: Uint8Array.from(key), partition, f: f as Updater<unknown>, space, resolve: resolve as (v: unknown) => void, reject });
      this.commitTimer ??= this.env.setTimer(this.rng.int(this.commitDelayMaxMs + 1), () => this.commit());
    });
  }

  /** One group commit: every queued update, in call order. */
  private commit(): void {
    this.commitTimer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.commits++;
    for (const u of batch) {
      let made: ReturnType<Updater<unknown>> | undefined;
      const observed: Updater<unknown> = (cur, tools) => {
        made = u.f(cur, tools);
        return made;
      };
      // Told only once the store took it: an update it refused (a version it could not read
      // back) was never committed, and its dot may be issued again.
      this.inner.update(u.key, u.partition, observed, u.space).then((v) => {
        if (made?.versions !== undefined) this.observer?.committed(this.nodeId, u.key, u.space, made.versions, made.reaped);
        u.resolve(v);
      }, u.reject);
    }
  }

  scanPartition(partition: number, afterKey: Uint8Array | undefined, limit: number): StoredKey[] {
    return this.inner.scanPartition(partition, afterKey, limit);
  }

  scanHints(target: string, afterKey: Uint8Array | undefined, limit: number): StoredKey[] {
    return this.inner.scanHints(target, afterKey, limit);
  }

  partitionsHeld(): number[] {
    return this.inner.partitionsHeld();
  }

  hintCounts(): Map<string, number> {
    return this.inner.hintCounts();
  }

  reapedClock(key: Uint8Array): VClock | undefined {
    return this.inner.reapedClock(key);
  }

  expireReaped(beforeMs: number): number {
    return this.inner.expireReaped(beforeMs);
  }

  retireActor(partition: number): void {
    if (this.dead) return;
    this.inner.retireActor(partition);
  }

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  getMeta(name: string): Uint8Array | undefined {
    return this.inner.getMeta(name);
  }

  setMeta(name: string, value: Uint8Array): Promise<void> {
    if (this.dead) return this.never();
    return this.inner.setMeta(name, value);
  }

  stats(): StoreStats {
    return this.inner.stats();
  }

  async close(): Promise<void> {
    this.kill();
  }
}
