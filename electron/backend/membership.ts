// Membership changes from the console (issue 14), planned then committed: a plan says what a
// join of a new local node, or a node's leave, would move (core/membership-plan.ts, the same
// claim the nodes run), with the sizes the nodes report per partition; committing it launches
// the node (local clusters) or asks the node to leave (POST /admin/leave), and the change is
// then followed on every snapshot until the ring shows it done. A node that left a local
// cluster is stopped and dropped from the cluster file, so a restart of the cluster does not
// bring it back.

import { randomUUID } from 'node:crypto';
import { type PartitionSize, planChange } from '../../node-core/src/core/membership-plan.js';
import type { ClusterSnapshot, MembershipChange, MembershipPlan, MembershipProgress } from '../../node-core/src/wire/console.js';

/** A plan is kept this long for its commit; the ring may have changed after that. */
const planTtlMs = 10 * 60_000;
const plansMax = 16;
/** A change that has not finished in this long is reported failed (the operator looks why). */
const changeTimeoutMs = 15 * 60_000;

export interface MembershipHost {
  /** The latest snapshot (the ring and members the plan starts from). */
  snapshot(): ClusterSnapshot | undefined;
  /** What each member holds per partition (GET /admin/partitions), for the plan's sizes. */
  partitionSizes(): Promise<Map<string, Map<number, PartitionSize>>>;
  /** The id a new local node would get, or an error saying why no node can be launched. */
  nextLocalNode(): string;
  launchNode(): Promise<string>;
  leave(node: string): Promise<void>;
  /** After a local node has left: stop it and forget it. */
  retire(node: string): Promise<void>;
  push(p: MembershipProgress): void;
  log(line: string): void;
}

interface Pending {
  readonly plan: MembershipPlan;
}

export function checkChange(v: unknown): MembershipChange {
  const o = v as Record<string, unknown> | null;
  if (o?.kind === 'join') return { kind: 'join' };
  if (o?.kind === 'leave' && typeof o.node === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(o.node)) return { kind: 'leave', node: o.node };
  throw new Error("a membership change is {kind: 'join'} or {kind: 'leave', node}");
}

export class MembershipChanges {
  private readonly plans = new Map<string, Pending>();
  private current: MembershipProgress | null = null;
  private retiring = false;

  constructor(private readonly host: MembershipHost, private readonly now: () => number = Date.now) {}

  progress(): MembershipProgress | null {
    return this.current;
  }

  async plan(change: MembershipChange): Promise<MembershipPlan> {
    const s = this.host.snapshot();
    if (!s) throw new Error('no cluster snapshot yet');
    const node = change.kind === 'join' ? this.host.nextLocalNode() : change.node;
    const members = s.members.filter((m) => m.state !== 'left').map((m) => m.id);
    const ring = { partitions: s.config.partitions, owners: s.partitions.map((p) => p.owner) };
    const sizes = await this.host.partitionSizes().catch(() => new Map<string, Map<number, PartitionSize>>());
    const warnings: string[] = [];
    const moving = s.partitions.filter((p) => p.pendingTo !== null).length;
    if (moving > 0) warnings.push(`${moving} partition(s) are still moving from an earlier change: the plan starts from the current owners and will change as they land`);
    const down = s.members.filter((m) => m.status === 'down' || m.status === 'suspect').map((m) => m.id);
    if (down.length > 0) warnings.push(`not every member is up (${down.join(', ')}): transfers from or to them wait until they are back`);
    if (this.current && this.current.state !== 'done' && this.current.state !== 'failed') warnings.push(`a change is in progress (${this.current.kind} of ${this.current.node})`);
    const c = planChange(ring, members, change.kind === 'join' ? { kind: 'join', node } : change, s.config.n, (p, id) => sizes.get(id)?.get(p) ?? null);
    const plan: MembershipPlan = { id: randomUUID(), change, node, createdAt: this.now(), ownership: c.ownership.length, moves: c.moves, totals: c.totals, flows: c.flows, atRisk: c.atRisk, load: c.load, warnings: [...warnings, ...c.warnings] };
    this.prune();
    this.plans.set(plan.id, { plan });
    return plan;
  }

  private prune(): void {
    const now = this.now();
    for (const [id, p] of this.plans) if (now - p.plan.createdAt > planTtlMs) this.plans.delete(id);
    while (this.plans.size >= plansMax) this.plans.delete(this.plans.keys().next().value!);
  }

  async commit(planId: string): Promise<MembershipProgress> {
    this.prune();
    const pending = this.plans.get(planId);
    if (!pending) throw new Error('no such plan (plans are kept 10 minutes): plan the change again');
    if (this.current && this.current.state !== 'done' && this.current.state !== 'failed') throw new Error(`a change is in progress (${this.current.kind} of ${this.current.node}): wait until it is done`);
    const { plan } = pending;
    this.plans.delete(planId);
    let node = plan.node;
    if (plan.change.kind === 'join') {
      node = await this.host.launchNode();
      if (node !== plan.node) this.host.log(`planned ${plan.node}, launched ${node}`);
    } else {
      await this.host.leave(node);
    }
    this.current = { planId, node, kind: plan.change.kind, state: 'starting', startedAt: this.now(), endedAt: null, partitionsTotal: plan.ownership, partitionsMoved: 0, message: plan.change.kind === 'join' ? `${node} launched; waiting for it to join` : `${node} asked to leave` };
    this.host.push(this.current);
    return this.current;
  }

  /** Called on every snapshot: advances the change in progress. */
  observe(s: ClusterSnapshot): void {
    const c = this.current;
    if (!c || c.state === 'done' || c.state === 'failed') return;
    const m = s.members.find((x) => x.id === c.node);
    const owned = s.partitions.filter((p) => p.owner === c.node).length;
    const incoming = s.partitions.filter((p) => p.pendingTo === c.node).length;
    const outgoing = s.partitions.filter((p) => p.owner === c.node && p.pendingTo !== null).length;
    let next: MembershipProgress;
    if (c.kind === 'join') {
      const moved = Math.min(owned, c.partitionsTotal);
      const done = m !== undefined && m.state === 'member' && incoming === 0 && owned > 0;
      next = { ...c, state: done ? 'done' : m ? 'moving' : 'starting', partitionsMoved: done ? c.partitionsTotal : moved, message: done ? `${c.node} joined: it owns ${owned} partition(s)` : m ? `${c.node} is ${m.state}: ${owned} partition(s) owned, ${incoming} on their way` : `waiting for ${c.node} to appear` };
    } else {
      const gone = m === undefined || m.state === 'left';
      const done = gone || (owned === 0 && outgoing === 0 && m.state !== 'leaving');
      const moved = Math.max(0, c.partitionsTotal - owned);
      next = { ...c, state: done ? 'done' : 'moving', partitionsMoved: done ? c.partitionsTotal : moved, message: done ? `${c.node} left: its partitions are with the others` : `${c.node} is ${m?.state ?? '?'}: ${owned} partition(s) still owned, ${outgoing} moving` };
      if (done && !this.retiring) {
        this.retiring = true;
        this.host
          .retire(c.node)
          .catch((e: Error) => this.host.log(`stopping ${c.node} after it left: ${e.message}`))
          .finally(() => (this.retiring = false));
      }
    }
    if (next.state !== 'done' && this.now() - c.startedAt > changeTimeoutMs) next = { ...next, state: 'failed', message: `not finished after ${changeTimeoutMs / 60_000} minutes: ${next.message}` };
    if (next.state === 'done' || next.state === 'failed') next = { ...next, endedAt: this.now() };
    if (next.state !== c.state || next.partitionsMoved !== c.partitionsMoved || next.message !== c.message) {
      this.current = next;
      this.host.push(next);
    }
  }
}
