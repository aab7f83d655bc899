// Ownership transfers (Dynamo 4.9, riak_core handoff_receiver): a partition pending to this
// node (it joins, or takes over from a leaving node) switches owner only after this node has
// pulled, from the partition's current replicas, the data of every partition whose
// preference list it enters with the switch. Reads and writes keep going to the current
// replicas meanwhile; writes that land there after the pull reach this node afterwards by
// the old replica's stray-data handoff (handoff.ts) and by anti-entropy.
//
// The same pull serves partitions this node enters incidentally (a preference list that
// walks one step further when a node leaves): pulled as soon as the ring says so.

import { Periodic } from '../core/periodic.js';
import { ringOf } from '../core/gossip.js';
import { type Ring, computePreferenceList } from '../core/ring.js';
import type { Version } from '../core/siblings.js';
import type { VClock } from '../core/vclock.js';
import type { LoopHost } from './host.js';
import { encodeFoldReply, parseFoldReply } from '../net/messages.js';
import type { Store } from '../core/store.js';
import { byteBounded } from './handoff.js';

export const transferIntervalMs = 500;
export const transferBatchKeysMax = 256;
export const transferTimeoutMs = 10_000;
/** Partitions pulled at once. */
export const transfersConcurrentMax = 8;

export interface TransferStatus {
  readonly partition: number;
  readonly from: string;
  readonly to: string;
  readonly keys: number;
}

/** What ownership transfer needs from its node. */
export interface TransferHost extends LoopHost {
  /** What a pulling peer is sent (the fold request this loop answers). */
  readonly store: Pick<Store, 'scanPartition' | 'reapedClock'>;
  /** Merges versions pulled from a replica into the local store; true if anything changed. */
  mergeLocal(key: Uint8Array, partition: number, versions: readonly Version[], reaped: VClock | undefined): Promise<boolean>;
  /** Partition p's data is here: switch its ownership to this node (a gossiped state change). */
  completeTransfer(partition: number): void;
  isStopped(): boolean;
  transferStarted(partition: number, from: string): void;
  transferFinished(partition: number, keys: number, ms: number): void;
  /** `count` keys pulled for a transfer changed the local store. */
  keysReceived(count: number): void;
}

export class Transfers {
  private readonly loop: Periodic;
  private readonly inFlight = new Map<number, { keys: number; from: string }>();
  /** Partitions this node replicated under the last ring it acted on. */
  private replicated: Set<number> | undefined;
  private readonly toPull = new Set<number>();
  private pulling = false;
  completed = 0;
  keysReceived = 0;

  constructor(private readonly host: TransferHost) {
    this.loop = new Periodic(host.env, transferIntervalMs, () => this.tick());
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** A pulling node's fold request: one page of a partition's keys after `afterKey`, within the byte budget. */
  foldReply(partition: number, afterKey: Uint8Array | undefined, limit: number): unknown[] {
    const scanned = this.host.store.scanPartition(partition, afterKey, limit);
    const items = byteBounded(scanned).map((k) => ({ ...k, reaped: this.host.store.reapedClock(k.key) }));
    return encodeFoldReply(items, items.length === scanned.length && scanned.length < limit);
  }

  active(): TransferStatus[] {
    return [...this.inFlight].map(([partition, t]) => ({ partition, from: t.from, to: this.host.selfId, keys: t.keys }));
  }

  private replicatedUnder(ring: Ring): Set<number> {
    const self = this.host.selfId;
    const out = new Set<number>();
    for (let q = 0; q < ring.partitions; q++) if (computePreferenceList(ring, q, this.host.n).includes(self)) out.add(q);
    return out;
  }

  tick(): void {
    const state = this.host.clusterState();
    const self = this.host.selfId;
    const me = state.members.get(self);
    if (!me || me.state === 'left') return;
    // Partitions entered since the last tick, incidentally or by a transfer that just completed.
    // After a transfer this pulls what it pulled once more, on purpose: writes coordinated under
    // the old ring while the first pull ran went to the old replicas only, and this second fold
    // brings them over at once instead of at the next anti-entropy exchange (merging is idempotent).
    const now = this.replicatedUnder(ringOf(state));
    if (this.replicated) for (const q of now) if (!this.replicated.has(q)) this.toPull.add(q);
    this.replicated = now;
    if (this.toPull.size > 0 && !this.pulling) {
      this.pulling = true;
      const qs = [...this.toPull];
      this.toPull.clear();
      void this.pullAll(qs)
        .catch((e: unknown) => {
          this.host.log.warn({ err: String(e) }, 'pull failed');
          return false;
        })
        .then((ok) => {
          if (!ok) for (const q of qs) this.toPull.add(q);
        })
        .finally(() => (this.pulling = false));
    }
    for (let p = 0; p < state.partitions && this.inFlight.size < transfersConcurrentMax; p++) {
      if (state.ring[p]!.pendingTo !== self || this.inFlight.has(p)) continue;
      this.inFlight.set(p, { keys: 0, from: state.ring[p]!.owner });
      void this.transfer(p)
        .catch((e: unknown) => {
          this.host.log.warn({ partition: p, err: String(e) }, 'transfer failed; retrying');
          return false;
        })
        .then((done) => {
          this.inFlight.delete(p);
          // After a success start the next one now; after a failure wait for the next tick
          // (retrying at once would spin when no source is reachable).
          if (done && !this.host.isStopped()) this.tick();
        });
    }
  }

  /** Pulls what partition p's switch to us makes us replicate, then switches it. */
  private async transfer(p: number): Promise<boolean> {
    const state = this.host.clusterState();
    const self = this.host.selfId;
    const ring = ringOf(state);
    const after: Ring = { partitions: ring.partitions, owners: ring.owners.map((o, i) => (i === p ? self : o)) };
    const needed: number[] = [];
    for (let q = 0; q < ring.partitions; q++) {
      const n = this.host.n;
      if (computePreferenceList(after, q, n).includes(self) && !computePreferenceList(ring, q, n).includes(self)) needed.push(q);
    }
    const started = this.host.env.now();
    this.host.transferStarted(p, ring.owners[p]!);
    const ok = await this.pullAll(needed, p);
    if (!ok) return false; // a source was unreachable: the next tick tries again
    if (this.host.clusterState().ring[p]!.pendingTo !== self) return false; // superseded meanwhile
    this.host.completeTransfer(p);
    this.completed++;
    this.host.transferFinished(p, this.inFlight.get(p)?.keys ?? 0, this.host.env.now() - started);
    this.host.log.info({ partition: p, partitionsPulled: needed.length, ms: this.host.env.now() - started, keys: this.inFlight.get(p)?.keys ?? 0 }, 'transfer complete');
    return true;
  }

  /**
   * Pulls every key of each partition from all its current replicas that are up (a write
   * acknowledged by W of them may be missing on any single one). True if every partition had
   * at least one reachable source and every pull finished.
   */
  private async pullAll(partitions: readonly number[], forTransfer?: number): Promise<boolean> {
    const self = this.host.selfId;
    for (const q of partitions) {
      const sources = this.host.preferenceList(q).filter((id) => id !== self && this.host.isUp(id));
      if (sources.length === 0) return false;
      for (const source of sources) {
        if (!(await this.pullPartition(q, source, forTransfer))) return false;
      }
    }
    return true;
  }

  private async pullPartition(q: number, source: string, forTransfer: number | undefined): Promise<boolean> {
    let after: Uint8Array | undefined;
    for (;;) {
      if (this.host.isStopped()) return false;
      let reply: unknown;
      try {
        reply = await this.host.call(source, { t: 'fold', partition: q, afterKey: after, limit: transferBatchKeysMax }, transferTimeoutMs);
      } catch {
        return false;
      }
      const parsed = parseFoldReply(reply);
      if (!parsed.ok) {
        this.host.log.warn({ source, partition: q, reason: parsed.reason }, 'bad fold reply');
        return false;
      }
      const { items, done } = parsed.value;
      let fresh = 0;
      await Promise.all(
        items.map(async (i) => {
          if (await this.host.mergeLocal(i.key, q, i.versions, i.reaped)) fresh++;
        }),
      );
      this.keysReceived += fresh;
      this.host.keysReceived(fresh);
      if (forTransfer !== undefined) {
        const t = this.inFlight.get(forTransfer);
        if (t) t.keys += fresh;
      }
      if (done || items.length === 0) return true;
      after = items[items.length - 1]!.key;
    }
  }
}
