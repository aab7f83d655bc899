// Tombstone reaping. A delete is a tombstone version; keeping every tombstone forever costs
// space, dropping one too early lets a stale replica bring the value back. A key whose
// versions are all tombstones is reaped only when
//   - its newest tombstone is older than the grace period (time for hints and anti-entropy
//     to spread it), and
//   - every node of its preference list is up and holds either exactly the same tombstones
//     or nothing,
// and then every replica deletes it conditionally (only if it still holds exactly those
// tombstones) and remembers their clock for a retention period, during which a stale copy
// arriving from a hint or a lagging peer is recognised as covered and dropped, and a new
// write covers the reaped history (coordinator).
//
// Any replica holding a candidate may drive the reaping; concurrent attempts are harmless
// because each step is conditional and idempotent.

import { Periodic } from '../core/periodic.js';
import { type Siblings, type Version, contextOf, sameSiblings } from '../core/siblings.js';
import { covers } from '../core/vclock.js';
import type { Store } from '../core/store.js';
import type { LoopHost } from './host.js';
import { ackReply } from '../net/messages.js';

export const reapIntervalMs = 2000;
/** Candidates examined per round. */
export const reapBatchMax = 64;
export const reapTimeoutMs = 3000;
/** In-memory candidate index entries; past this, new candidates wait for a later scan. */
export const reapCandidatesMax = 1_000_000;

interface Candidate {
  readonly key: Buffer;
  readonly partition: number;
  readonly newestMs: number;
}

export function isTombstoneOnly(versions: Siblings): boolean {
  return versions.length > 0 && versions.every((v) => v.deleted);
}

/** What tombstone reaping needs from its node. */
export interface ReaperHost extends Pick<LoopHost, 'selfId' | 'env' | 'log' | 'isUp' | 'preferenceList'> {
  readonly store: Pick<Store, 'onChange' | 'read' | 'expireReaped' | 'update'>;
  /** A replica's versions of `key` (the internode read). */
  readReplica(node: string, key: Uint8Array, timeoutMs: number): Promise<Version[]>;
  /** Asks a replica to delete `key` iff it holds exactly `versions` (tombstones); true once it did or had nothing. */
  reapReplica(node: string, key: Uint8Array, partition: number, versions: readonly Version[]): Promise<boolean>;
  reaped(): void;
}

export class Reaper {
  private readonly loop: Periodic;
  private readonly candidates = new Map<string, Candidate>();
  private running = false;
  reapedKeys = 0;

  constructor(
    private readonly host: ReaperHost,
    private readonly graceMs: number,
    private readonly retainMs: number,
  ) {
    host.store.onChange((key, partition, _before, after) => this.note(key, partition, after));
    this.loop = new Periodic(host.env, reapIntervalMs, () => this.round());
  }

  /** Tracks whether a key is a reaping candidate (called for every key at start and on every change). */
  note(key: Uint8Array, partition: number, versions: Siblings): void {
    const hex = Buffer.from(key).toString('hex');
    if (!isTombstoneOnly(versions)) {
      this.candidates.delete(hex);
      return;
    }
    if (this.candidates.size >= reapCandidatesMax && !this.candidates.has(hex)) return;
    this.candidates.set(hex, { key: Buffer.from(key), partition, newestMs: Math.max(...versions.map((v) => v.dot.ts)) });
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** A replica's answer to a reap request from the key's reaper. */
  async answerReap(key: Uint8Array, partition: number, versions: readonly Version[]): Promise<readonly unknown[]> {
    return reapReply(await this.host.store.update(key, partition, reapUpdate(versions)));
  }

  status(): { candidates: number; reaped: number; graceMs: number } {
    return { candidates: this.candidates.size, reaped: this.reapedKeys, graceMs: this.graceMs };
  }

  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = this.host.env.now();
      this.host.store.expireReaped(now - this.retainMs);
      // Only keys this node replicates: stray copies wait for handoff, and must not take the batch's places.
      const due = [...this.candidates.values()].filter((c) => c.newestMs + this.graceMs <= now && this.host.preferenceList(c.partition).includes(this.host.selfId)).slice(0, reapBatchMax);
      for (const c of due) await this.tryReap(c);
    } catch (e) {
      this.host.log.warn({ err: String(e) }, 'reaping round failed');
    } finally {
      this.running = false;
    }
  }

  private async tryReap(c: Candidate): Promise<void> {
    const pref = this.host.preferenceList(c.partition);
    // Only a replica reaps: a stray copy here (awaiting handoff, or a transfer in flight) would
    // reap the replicas and keep itself, then ask again every round, counting each as a reap.
    if (!pref.includes(this.host.selfId)) return;
    if (!pref.every((id) => this.host.isUp(id))) return; // every replica must be asked
    const local = await this.host.store.read(c.key);
    if (!isTombstoneOnly(local)) return;
    const replies = await Promise.all(pref.map((id) => this.host.readReplica(id, c.key, reapTimeoutMs).catch(() => undefined)));
    // Every replica holds these exact tombstones or nothing; anything else (a newer write, an
    // older value a tombstone does not cover yet) means not now.
    if (!replies.every((r) => r !== undefined && (r.length === 0 || sameSiblings(r, local)))) return;
    const acks = await Promise.all(pref.map((id) => this.host.reapReplica(id, c.key, c.partition, local).catch(() => false)));
    if (acks.every(Boolean)) {
      this.reapedKeys++;
      this.host.reaped();
    }
  }
}

/** The reply to a reap request, as the replica's store decided it (see reapUpdate). */
export function reapReply(reaped: boolean): readonly unknown[] {
  return reaped ? ackReply : ['kept'];
}

/** What a replica does on a reap request: delete iff it holds exactly these tombstones. */
export function reapUpdate(expected: Siblings) {
  const reaped = contextOf(expected);
  return (cur: Siblings) => {
    // What the tombstones cover (including a stale copy that arrived since the check) goes;
    // anything newer means the key was written again: keep everything.
    if (cur.some((v) => !covers(reaped, v.dot))) return { versions: undefined, result: false };
    // Every replica, empty or not, remembers the reaped clock: it is where a stale hint would land.
    return { versions: [], result: true, reaped };
  };
}

