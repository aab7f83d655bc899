// Membership as this node sees it: who is in the cluster (explicit, persisted, never changed
// by a node merely failing to answer: Dynamo 4.8.1, a transient outage is not a departure)
// and how each peer looks from here. The ring is a function of the member set.
// This is the seed-based first version; gossip and an accrual detector replace the
// liveness part in the membership issue.

import type { MemberInfo } from '../net/messages.js';
import { type Ring, stripedRing } from './ring.js';

export type MemberStatus = 'up' | 'suspect' | 'down';

/** Consecutive failed exchanges before a peer is reported down (one makes it suspect). */
export const failuresForDown = 2;

interface Health {
  failures: number;
  lastOkMs: number | undefined;
  everSeen: boolean;
}

export class Membership {
  private readonly infos = new Map<string, MemberInfo>();
  private readonly health = new Map<string, Health>();
  private cachedRing: Ring | undefined;

  constructor(
    readonly self: MemberInfo,
    readonly partitions: number,
  ) {
    this.infos.set(self.id, self);
  }

  /** Adds or updates a member; true when the member set or an address changed. */
  add(info: MemberInfo): boolean {
    // Our own entry is authoritative here: a peer's stale copy of it must not overwrite it.
    if (info.id === this.self.id) return false;
    const old = this.infos.get(info.id);
    if (old && old.http === info.http && old.internode === info.internode) return false;
    this.infos.set(info.id, info);
    if (!old) this.cachedRing = undefined;
    return true;
  }

  get(id: string): MemberInfo | undefined {
    return this.infos.get(id);
  }

  members(): MemberInfo[] {
    return [...this.infos.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  observe(id: string, ok: boolean, nowMs: number): void {
    if (id === this.self.id) return;
    const h = this.health.get(id) ?? { failures: 0, lastOkMs: undefined, everSeen: false };
    if (ok) {
      h.failures = 0;
      h.lastOkMs = nowMs;
      h.everSeen = true;
    } else h.failures++;
    this.health.set(id, h);
  }

  status(id: string): MemberStatus {
    if (id === this.self.id) return 'up';
    const h = this.health.get(id);
    if (!h || !h.everSeen) return 'down';
    if (h.failures === 0) return 'up';
    return h.failures >= failuresForDown ? 'down' : 'suspect';
  }

  lastSeenMs(id: string): number | undefined {
    return this.health.get(id)?.lastOkMs;
  }

  ring(): Ring {
    if (!this.cachedRing) this.cachedRing = stripedRing([...this.infos.keys()], this.partitions);
    return this.cachedRing;
  }
}
