// Anti-entropy (Dynamo 4.7, riak_kv exchange_fsm): replicas of a partition compare Merkle
// trees and exchange only the keys whose versions differ, so they converge even when nobody
// reads those keys (after partitions, kills, or a wiped data folder).
//
// One tree per partition this node holds, built from SQLite once at start and kept current
// by the store's change events (core/merkle.ts: O(1) per write). Each round this node picks
// a random peer it shares partitions with, compares the roots of all shared partitions in one
// message, and for a few differing ones compares leaves, then key digests in the differing
// leaves, then pulls the peer's versions and pushes its own for the differing keys. Repairs
// go through the ordinary merge, so they are durable and idempotent.

import { Periodic } from '../core/periodic.js';
import { ringOf } from '../core/gossip.js';
import { MerkleTree, diffLeaves, keyDigest, leafOf } from '../core/merkle.js';
import { keyHash } from '../core/partitioner.js';
import { computePreferenceList } from '../core/ring.js';
import type { Store, StoredKey } from '../core/store.js';
import type { VClock } from '../core/vclock.js';
import type { LoopHost } from './host.js';
import { byteBounded } from './handoff.js';
import type { Version } from '../core/siblings.js';
import { aeKeysMax, batchKeysMax, encodeFoldReply, isAck, parseFoldReply, parseKeysReply, parseLeavesReply, parseRootsReply } from '../net/messages.js';

export const aeIntervalMs = 1000;
/** Pause between rounds while the last one still found differences. */
export const aeBusyIntervalMs = 20;
/**
 * Keys one round must repair for the next to follow at once. Under write load replicas
 * always differ a little (writes in flight); only a real backlog (a wiped or long-partitioned
 * replica) is worth exchanging back to back.
 */
export const aeBusyKeysMin = 64;
export const aeLeavesPerPartition = 256;
/** Partitions repaired per round (after one roots comparison covering all shared ones). */
export const aePartitionsPerRoundMax = 4;
/** Keys repaired per partition per round. */
export const aeKeysPerPartitionMax = 1024;
export const aeTimeoutMs = 5000;
const scanBatch = 512;

export interface ExchangeStatus {
  readonly exchanges: number;
  readonly keysRepaired: number;
  readonly lastExchangeMs: Record<number, number>;
  readonly partitionsInSync: number;
  readonly partitionsDiffering: number;
}

/** Keys read per scan when a partition's tree is rebuilt. */
const aeRebuildBatchKeys = 512;

/** What anti-entropy needs from its node. */
export interface ExchangeHost extends LoopHost {
  readonly store: Pick<Store, 'onChange' | 'onQuarantine' | 'read' | 'reapedClock' | 'scanPartition'>;
  /** Merges a replica's versions into the local store; true if anything changed. */
  mergeLocal(key: Uint8Array, partition: number, versions: readonly Version[], reaped: VClock | undefined): Promise<boolean>;
  exchanged(outcome: 'in_sync' | 'repairing' | 'error'): void;
  /** `keys` keys of `partition` were repaired from `peer` (either direction). */
  repaired(peer: string, partition: number, keys: number): void;
}

export class AntiEntropy {
  private readonly loop: Periodic;
  private readonly trees = new Map<number, MerkleTree>();
  private running = false;
  private exchanges = 0;
  private keysRepaired = 0;
  private readonly lastExchange = new Map<number, number>();
  private readonly lastAgreed = new Map<number, boolean>();
  /** Keys repaired per partition since start (GET /admin/partitions). */
  private readonly repairedIn = new Map<number, number>();

  constructor(private readonly host: ExchangeHost) {
    // While replicas disagree, keep exchanging back to back; once in sync, at the base rate.
    this.loop = new Periodic(host.env, aeIntervalMs, async () => ((await this.round()) >= aeBusyKeysMin ? aeBusyIntervalMs : aeIntervalMs));
    host.store.onChange((key, partition, before, after) => {
      this.tree(partition).update(leafOf(keyHash(key), aeLeavesPerPartition), keyDigest(key, before), keyDigest(key, after));
    });
    // A quarantined row's old digest cannot be taken out of its leaf (what it held is unknown):
    // rebuild that partition's tree from the store, once the commit that found it is over.
    host.store.onQuarantine?.((_key, partition, space) => {
      if (space.kind !== 'data' || this.rebuilding.has(partition)) return;
      this.rebuilding.add(partition);
      host.env.setTimer(0, () => {
        this.rebuilding.delete(partition);
        this.rebuild(partition);
      });
    });
  }

  private readonly rebuilding = new Set<number>();

  /**
   * The tree of partition p anew, from one synchronous scan of what the store holds, in place
   * of whatever it held (writes committed since the scan update the new tree); `each` is told
   * of every key scanned.
   */
  rebuild(p: number, each?: (k: StoredKey) => void): void {
    const tree = new MerkleTree(aeLeavesPerPartition);
    let after: Uint8Array | undefined;
    for (;;) {
      const batch = this.host.store.scanPartition(p, after, aeRebuildBatchKeys);
      for (const k of batch) {
        tree.update(leafOf(keyHash(k.key), aeLeavesPerPartition), undefined, keyDigest(k.key, k.versions));
        each?.(k);
      }
      if (batch.length < aeRebuildBatchKeys) break;
      after = batch[batch.length - 1]!.key;
    }
    this.trees.set(p, tree);
  }

  private tree(p: number): MerkleTree {
    let t = this.trees.get(p);
    if (!t) {
      t = new MerkleTree(aeLeavesPerPartition);
      this.trees.set(p, t);
    }
    return t;
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  status(): ExchangeStatus {
    const agreed = [...this.lastAgreed.values()];
    return {
      exchanges: this.exchanges,
      keysRepaired: this.keysRepaired,
      lastExchangeMs: Object.fromEntries(this.lastExchange),
      partitionsInSync: agreed.filter(Boolean).length,
      partitionsDiffering: agreed.filter((a) => !a).length,
    };
  }

  /** Partition p as GET /admin/partitions shows it: its last exchange, the keys repaired in it since start, its tree's root. */
  partitionStatus(p: number): { lastExchangeMs: number | null; keysRepaired: number; merkleRoot: string | null } {
    const tree = this.trees.get(p);
    return { lastExchangeMs: this.lastExchange.get(p) ?? null, keysRepaired: this.repairedIn.get(p) ?? 0, merkleRoot: tree ? Buffer.from(tree.root()).toString('hex') : null };
  }

  /**
   * An exchange of partition p with `peer` now (POST /admin/repair), beside the periodic
   * rounds: the same repair, repeated while it finds keys (a round repairs at most
   * aeKeysPerPartitionMax) until the replicas agree or `deadlineMs` (on the host's clock)
   * passes. Returns the keys repaired and whether the two trees agree at the end.
   */
  async repairNow(peer: string, p: number, deadlineMs: number): Promise<{ keysRepaired: number; agreed: boolean }> {
    let keysRepaired = 0;
    for (;;) {
      const n = await this.repairPartition(peer, p);
      keysRepaired += n;
      if (n === 0 || this.host.env.now() >= deadlineMs) break;
    }
    const roots = parseRootsReply(await this.host.call(peer, { t: 'aeRoots', partitions: [p] }, aeTimeoutMs));
    if (!roots.ok) throw new Error(roots.reason);
    const theirs = roots.value.get(p);
    const agreed = theirs !== undefined && Buffer.compare(Buffer.from(theirs), this.tree(p).root()) === 0;
    this.lastAgreed.set(p, agreed);
    this.lastExchange.set(p, this.host.env.now());
    return { keysRepaired, agreed };
  }

  /** Whether this node's tree for p matched its peer's at the last exchange (for /status). */
  agreed(p: number): boolean | undefined {
    return this.lastAgreed.get(p);
  }

  // Serving peers

  /** Merkle roots (hex) of the given partitions, for the control plane's agreement view. */
  rootsHex(partitions: readonly number[]): Record<string, string> {
    // A partition with no tree yet holds nothing here: its root is an empty tree's.
    this.emptyRoot ??= Buffer.from(new MerkleTree(aeLeavesPerPartition).root()).toString('hex');
    return Object.fromEntries(partitions.map((p) => [String(p), this.trees.has(p) ? Buffer.from(this.tree(p).root()).toString('hex') : this.emptyRoot!]));
  }

  private emptyRoot: string | undefined;

  /** A peer repairing from us reads these keys; a reply holds what fits the byte budget, the asker repairs the rest next round. */
  async readManyReply(partition: number, keys: readonly Uint8Array[]): Promise<unknown[]> {
    const store = this.host.store;
    const items = byteBounded(await Promise.all(keys.map(async (key) => ({ key, partition, versions: await store.read(key), reaped: store.reapedClock(key) }))));
    return encodeFoldReply(items, items.length === keys.length);
  }

  rootsReply(partitions: readonly number[]): unknown[] {
    return ['aeRoots', partitions.map((p) => [p, this.tree(p).root()])];
  }

  leavesReply(p: number): unknown[] {
    return ['aeLeaves', this.tree(p).leafHashesCopy()];
  }

  keysReply(p: number, leaves: readonly number[]): unknown[] {
    return ['aeKeys', this.localDigests(p, new Set(leaves), aeKeysMax).map(([key, digest]) => [key, digest])];
  }

  private localDigests(p: number, leaves: ReadonlySet<number>, max: number): [Buffer, Buffer][] {
    const out: [Buffer, Buffer][] = [];
    let after: Uint8Array | undefined;
    for (;;) {
      const batch = this.host.store.scanPartition(p, after, scanBatch);
      for (const k of batch) {
        if (!leaves.has(leafOf(keyHash(k.key), aeLeavesPerPartition))) continue;
        const d = keyDigest(k.key, k.versions);
        if (d) out.push([k.key, d]);
        if (out.length >= max) return out;
      }
      if (batch.length < scanBatch) return out;
      after = batch[batch.length - 1]!.key;
    }
  }

  // Exchanging

  /** Partitions both we and `peer` replicate under the current ring. */
  private shared(peer: string): number[] {
    const ring = ringOf(this.host.clusterState());
    const self = this.host.selfId;
    const out: number[] = [];
    for (let q = 0; q < ring.partitions; q++) {
      const pref = computePreferenceList(ring, q, this.host.n);
      if (pref.includes(self) && pref.includes(peer)) out.push(q);
    }
    return out;
  }

  /** One exchange with a random peer; returns the keys it repaired. */
  async round(): Promise<number> {
    if (this.running) return 0;
    const self = this.host.selfId;
    const peers = [...this.host.clusterState().members.values()].filter((m) => m.id !== self && m.state !== 'left' && this.host.isUp(m.id));
    if (peers.length === 0) return 0;
    const peer = peers[Math.floor(this.host.env.random() * peers.length)]!.id;
    this.running = true;
    try {
      return await this.exchangeWith(peer);
    } catch (e) {
      this.host.exchanged('error');
      this.host.log.debug({ peer, err: String(e) }, 'anti-entropy exchange failed');
      return 0;
    } finally {
      this.running = false;
    }
  }

  /** Exchanges with `peer`; returns the keys repaired. */
  async exchangeWith(peer: string): Promise<number> {
    const shared = this.shared(peer);
    if (shared.length === 0) return 0;
    const roots = parseRootsReply(await this.host.call(peer, { t: 'aeRoots', partitions: shared }, aeTimeoutMs));
    if (!roots.ok) throw new Error(roots.reason);
    const now = this.host.env.now();
    const differing: number[] = [];
    for (const p of shared) {
      const theirs = roots.value.get(p);
      if (!theirs) continue;
      const same = Buffer.compare(Buffer.from(theirs), this.tree(p).root()) === 0;
      this.lastAgreed.set(p, same);
      this.lastExchange.set(p, now);
      if (!same) differing.push(p);
    }
    this.exchanges++;
    this.host.exchanged(differing.length === 0 ? 'in_sync' : 'repairing');
    // Oldest-repaired first would need more state; a random start spreads rounds fairly.
    const start = differing.length ? Math.floor(this.host.env.random() * differing.length) : 0;
    let repaired = 0;
    for (let i = 0; i < Math.min(differing.length, aePartitionsPerRoundMax); i++) {
      repaired += await this.repairPartition(peer, differing[(start + i) % differing.length]!);
    }
    return repaired;
  }

  private async repairPartition(peer: string, p: number): Promise<number> {
    const leaves = parseLeavesReply(await this.host.call(peer, { t: 'aeLeaves', partition: p }, aeTimeoutMs));
    if (!leaves.ok) throw new Error(leaves.reason);
    const diff = diffLeaves(this.tree(p).leafHashesCopy(), leaves.value);
    if (diff.length === 0) return 0;
    const theirs = parseKeysReply(await this.host.call(peer, { t: 'aeKeys', partition: p, leaves: diff }, aeTimeoutMs));
    if (!theirs.ok) throw new Error(theirs.reason);
    const mine = new Map(this.localDigests(p, new Set(diff), aeKeysMax).map(([k, d]) => [k.toString('hex'), d]));
    const keys = new Map<string, Buffer>();
    const theirKeys = new Set<string>();
    for (const { key, digest } of theirs.value) {
      const hex = Buffer.from(key).toString('hex');
      theirKeys.add(hex);
      const local = mine.get(hex);
      if (!local || Buffer.compare(local, Buffer.from(digest)) !== 0) keys.set(hex, Buffer.from(key));
    }
    for (const hex of mine.keys()) if (!theirKeys.has(hex)) keys.set(hex, Buffer.from(hex, 'hex'));
    let repaired = 0;
    const todo = [...keys.values()].slice(0, aeKeysPerPartitionMax);
    for (let i = 0; i < todo.length; i += batchKeysMax) {
      // Both directions, a batch at a time: take theirs, merge, give them the merge.
      const batch = todo.slice(i, i + batchKeysMax);
      const remote = parseFoldReply(await this.host.call(peer, { t: 'readMany', partition: p, keys: batch }, aeTimeoutMs));
      if (!remote.ok) throw new Error(remote.reason);
      const merged = await Promise.all(
        remote.value.items.map(async (item) => {
          await this.host.mergeLocal(item.key, p, item.versions, item.reaped);
          return { key: item.key, partition: p, versions: await this.host.store.read(item.key), reaped: this.host.store.reapedClock(item.key) };
        }),
      );
      const toPush = merged.filter((m) => m.versions.length > 0 || m.reaped !== undefined);
      for (let j = 0; j < toPush.length; ) {
        const chunk = byteBounded(toPush.slice(j));
        const ack = await this.host.call(peer, { t: 'writeMany', items: chunk }, aeTimeoutMs);
        if (!isAck(ack)) throw new Error('bad writeMany reply');
        j += chunk.length;
      }
      repaired += remote.value.items.length;
      if (!remote.value.done) break; // the reply was cut to fit a frame: the rest waits for the next round
    }
    this.keysRepaired += repaired;
    if (repaired > 0) this.repairedIn.set(p, (this.repairedIn.get(p) ?? 0) + repaired);
    if (repaired > 0) this.host.repaired(peer, p, repaired);
    return repaired;
  }
}
