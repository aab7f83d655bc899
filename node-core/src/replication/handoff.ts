// Handoff (Dynamo 4.6, riak_core handoff_sender): data this node holds on behalf of others
// goes where it belongs, and only then is it deleted here.
// - Hints: replicas written here for a node that was down. Delivered once the failure
//   detector sees that node up, in bounded batches, with backoff on failure; each hint is
//   deleted only after the owner acknowledged committing it, and only if it did not change
//   meanwhile (a newer hint for the same key waits for the next batch).
// - Stray data: keys of partitions this node no longer replicates (after a join, a leave,
//   or a write coordinated under an older ring). Pushed to every node of the partition's
//   preference list, then dropped the same careful way; when a partition is empty its actor
//   is retired, so the counters it issued can never be reissued.

import { Periodic } from '../core/periodic.js';
import { targetRingOf } from '../core/gossip.js';
import { computePreferenceList } from '../core/ring.js';
import { type Version, sameSiblings, siblingsBytes } from '../core/siblings.js';
import { isAck } from '../net/messages.js';
import { type Space, type Store, type StoredKey, dataSpace, hintSpace } from '../core/store.js';
import type { MemberRecord } from '../core/gossip.js';
import type { LoopHost } from './host.js';

export const handoffIntervalMs = 500;
/** Keys per delivery batch (one writeMany message). */
export const handoffBatchKeysMax = 128;
export const handoffTimeoutMs = 5000;
export const handoffBackoffMinMs = 500;
export const handoffBackoffMaxMs = 10_000;
/** Bytes of sibling sets in one delivery batch: well under the 64 MiB frame limit. */
export const handoffBatchBytesMax = 16 * 1024 * 1024;
/** Batches per target (or per stray partition) in one round, so one backlog cannot starve the others. */
export const handoffBatchesPerRoundMax = 8;

/** The longest prefix of `items` within the byte budget (at least one item: a key fits a frame). */
export function byteBounded<T extends { versions: readonly Version[] }>(items: readonly T[], maxBytes = handoffBatchBytesMax): T[] {
  let bytes = 0;
  const out: T[] = [];
  for (const item of items) {
    bytes += siblingsBytes(item.versions);
    if (out.length > 0 && bytes > maxBytes) break;
    out.push(item);
  }
  return out;
}

/** What hinted handoff needs from its node. */
export interface HandoffHost extends LoopHost {
  readonly store: Pick<Store, 'hintCounts' | 'scanHints' | 'scanPartition' | 'partitionsHeld' | 'retireActor' | 'update'>;
  member(id: string): MemberRecord | undefined;
  /** `count` hints for `target` were delivered and dropped here. */
  hintsDelivered(target: string, count: number): void;
  /** `count` keys of a partition this node no longer replicates reached its replicas and were dropped here. */
  strayKeysHandedOff(count: number): void;
}

export class Handoff {
  private readonly loop: Periodic;
  private running = false;
  private readonly backoff = new Map<string, { until: number; ms: number }>();
  private delivered = 0;
  private lastDeliveryMs: number | undefined;

  constructor(private readonly host: HandoffHost) {
    this.loop = new Periodic(host.env, handoffIntervalMs, () => this.tick());
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  status(): { delivered: number; lastDeliveryMs: number | undefined; backingOff: string[] } {
    const now = this.host.env.now();
    return { delivered: this.delivered, lastDeliveryMs: this.lastDeliveryMs, backingOff: [...this.backoff].filter(([, b]) => b.until > now).map(([t]) => t) };
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const target of this.host.store.hintCounts().keys()) await this.deliverHints(target);
      await this.handOffStrayData();
    } catch (e) {
      this.host.log.warn({ err: String(e) }, 'handoff round failed');
    } finally {
      this.running = false;
    }
  }

  private ready(target: string): boolean {
    const b = this.backoff.get(target);
    return this.host.isUp(target) && (!b || b.until <= this.host.env.now());
  }

  private failed(target: string): void {
    const prev = this.backoff.get(target)?.ms ?? handoffBackoffMinMs / 2;
    const ms = Math.min(handoffBackoffMaxMs, prev * 2);
    this.backoff.set(target, { until: this.host.env.now() + ms * (0.5 + this.host.env.random() / 2), ms });
  }

  /** Sends `batch` to `to` and deletes each key from `space` here if it is still what was sent. */
  private async push(to: string, batch: readonly StoredKey[]): Promise<boolean> {
    try {
      const reply = await this.host.call(to, { t: 'writeMany', items: batch }, handoffTimeoutMs);
      return isAck(reply);
    } catch {
      return false;
    }
  }

  private async dropIfUnchanged(batch: readonly StoredKey[], space: Space): Promise<number> {
    let dropped = 0;
    await Promise.all(
      batch.map((k) =>
        this.host.store.update(
          k.key,
          k.partition,
          (cur) => {
            if (!sameSiblings(cur, k.versions)) return { versions: undefined, result: undefined };
            dropped++;
            return { versions: [], result: undefined };
          },
          space,
        ),
      ),
    );
    return dropped;
  }

  private async deliverHints(target: string): Promise<void> {
    const member = this.host.member(target);
    // A hint for a node that has left (or was never known) goes to the key's replicas now.
    if (!member || member.state === 'left') return this.redirectHints(target);
    if (!this.ready(target)) return;
    // Bounded per round: at most a few batches per target, so one backlog cannot starve others.
    for (let round = 0; round < handoffBatchesPerRoundMax; round++) {
      const batch = byteBounded(this.host.store.scanHints(target, undefined, handoffBatchKeysMax));
      if (batch.length === 0) return;
      const space = hintSpace(target);
      if (!(await this.push(target, batch))) {
        this.failed(target);
        return;
      }
      this.backoff.delete(target);
      const n = await this.dropIfUnchanged(batch, space);
      this.delivered += n;
      this.lastDeliveryMs = this.host.env.now();
      this.host.hintsDelivered(target, n);
      if (n === 0) return; // every hint changed under us: try again next round
    }
  }

  /**
   * Hints for a node that left go to their keys' replicas instead: grouped by preference list,
   * one batch per replica, dropped here once every replica acknowledged. Pages through the
   * hints, so keys whose replicas are backing off do not hold up the rest.
   */
  private async redirectHints(target: string): Promise<void> {
    const space = hintSpace(target);
    let after: Uint8Array | undefined;
    for (let round = 0; round < handoffBatchesPerRoundMax; round++) {
      const page = byteBounded(this.host.store.scanHints(target, after, handoffBatchKeysMax));
      if (page.length === 0) return;
      after = page[page.length - 1]!.key;
      const groups = new Map<string, { pref: string[]; keys: StoredKey[] }>();
      for (const k of page) {
        const pref = this.host.preferenceList(k.partition);
        const id = pref.join(',');
        const g = groups.get(id) ?? { pref, keys: [] };
        g.keys.push(k);
        groups.set(id, g);
      }
      for (const { pref, keys } of groups.values()) {
        if (!pref.every((id) => this.ready(id))) continue;
        const acks = await Promise.all(pref.map((id) => this.push(id, keys)));
        if (!acks.every(Boolean)) {
          pref.forEach((id, i) => acks[i] || this.failed(id));
          continue;
        }
        const n = await this.dropIfUnchanged(keys, space);
        this.delivered += n;
        this.lastDeliveryMs = this.host.env.now();
        this.host.hintsDelivered(target, n);
      }
    }
  }

  private async handOffStrayData(): Promise<void> {
    const self = this.host.selfId;
    const target = targetRingOf(this.host.clusterState());
    for (const q of this.host.store.partitionsHeld()) {
      const pref = this.host.preferenceList(q);
      // Still a replica, or about to become one once pending transfers complete: keep it.
      if (pref.includes(self) || computePreferenceList(target, q, this.host.n).includes(self)) continue;
      if (!pref.every((id) => this.ready(id))) continue; // wait until every replica can take it
      // Retire our actor before dropping anything: once data starts leaving, a later tenure of
      // this partition must never derive counters from a copy that lost some of its events.
      // (A non-replica never coordinates with a partition actor, so nothing needs it meanwhile.)
      this.host.store.retireActor(q);
      for (let round = 0; round < handoffBatchesPerRoundMax; round++) {
        const batch = byteBounded(this.host.store.scanPartition(q, undefined, handoffBatchKeysMax));
        if (batch.length === 0) {
          this.host.log.info({ partition: q }, 'partition handed off');
          break;
        }
        const acks = await Promise.all(pref.map((id) => this.push(id, batch)));
        if (!acks.every(Boolean)) {
          pref.forEach((id, i) => acks[i] || this.failed(id));
          break;
        }
        const n = await this.dropIfUnchanged(batch, dataSpace);
        this.host.strayKeysHandedOff(n);
        if (n === 0) break;
      }
    }
  }
}
