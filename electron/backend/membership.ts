// Membership changes from the console (issue 14), planned then committed: a plan says what a
// join (of a new local node, or of a node started alone that the operator names by address),
// or a node's leave, would move (core/membership-plan.ts, the same claim the nodes run), with
// the sizes the nodes report per partition; committing it launches the node (local clusters),
// asks the named node to join through the members (POST /admin/join) or asks the node to leave
// (POST /admin/leave), and the change is then followed on every snapshot until the ring shows
// it done. The change is kept per cluster (the console's settings), so it is followed again after
// a detach or a console restart. A node that left a local
// cluster is stopped and dropped from the cluster file, so a restart of the cluster does not
// bring it back.

import { randomUUID } from 'node:crypto';
import { seedProblem } from '../../node-core/src/core/ids.js';
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
  /** What a started node at `address` says of itself (its GET /status). */
  inspect(address: string): Promise<StartedNode>;
  /** Asks the started node at `address` to join through the members (POST /admin/join). */
  joinStarted(address: string): Promise<void>;
  leave(node: string): Promise<void>;
  /** After a local node has left: stop it and forget it. */
  retire(node: string): Promise<void>;
  push(p: MembershipProgress): void;
  log(line: string): void;
  /** Keeps the change of cluster `cluster` (null: none) across a detach or a console restart. */
  save(cluster: string, p: MembershipProgress | null): Promise<void>;
  load(cluster: string): Promise<unknown>;
}

const progressStates: readonly MembershipProgress['state'][] = ['starting', 'moving', 'done', 'failed'];

/** A kept change as read back (the file is outside input like any other): undefined if it is not one. */
export function checkProgress(v: unknown): MembershipProgress | undefined {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return undefined;
  const ints = ['startedAt', 'partitionsTotal', 'partitionsMoved'].every((k) => Number.isSafeInteger(o[k]) && (o[k] as number) >= 0);
  const ok =
    ints &&
    typeof o.planId === 'string' &&
    o.planId.length <= 64 &&
    typeof o.node === 'string' &&
    /^[A-Za-z0-9._-]{1,64}$/.test(o.node) &&
    (o.kind === 'join' || o.kind === 'leave') &&
    progressStates.includes(o.state as MembershipProgress['state']) &&
    (o.endedAt === null || (Number.isSafeInteger(o.endedAt) && (o.endedAt as number) >= 0)) &&
    typeof o.message === 'string' &&
    o.message.length <= 1000;
  if (!ok) return undefined;
  return { planId: o.planId as string, node: o.node as string, kind: o.kind as 'join' | 'leave', state: o.state as MembershipProgress['state'], startedAt: o.startedAt as number, endedAt: o.endedAt as number | null, partitionsTotal: o.partitionsTotal as number, partitionsMoved: o.partitionsMoved as number, message: o.message as string };
}

/** A started node as its /status describes it: whether it can join, and as whom. */
export interface StartedNode {
  readonly id: string;
  readonly partitions: number;
  readonly n: number;
  /** The members it knows (itself alone, if it was started without seeds). */
  readonly members: readonly string[];
  /** Keys it holds (null: its /status did not say). */
  readonly keys: number | null;
}

interface Pending {
  readonly plan: MembershipPlan;
}

export function checkChange(v: unknown): MembershipChange {
  const o = v as Record<string, unknown> | null;
  if (o?.kind === 'join' && o.address !== undefined) {
    const address = typeof o.address === 'string' ? o.address.trim() : '';
    const problem = seedProblem(address);
    if (problem) throw new Error(`the node to add is named by its client address, host:port: ${problem}`);
    return { kind: 'join', address };
  }
  if (o?.kind === 'join') return { kind: 'join' };
  if (o?.kind === 'leave' && typeof o.node === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(o.node)) return { kind: 'leave', node: o.node };
  throw new Error("a membership change is {kind: 'join'} or {kind: 'leave', node}");
}

export class MembershipChanges {
  private readonly plans = new Map<string, Pending>();
  private current: MembershipProgress | null = null;
  private retiring = false;
  /** The cluster attached to: changes are planned, followed and kept for it alone. */
  private cluster: string | null = null;

  constructor(private readonly host: MembershipHost, private readonly now: () => number = Date.now) {}

  progress(): MembershipProgress | null {
    return this.current;
  }

  /**
   * On attach: the change kept for this cluster (if any) is followed again from the next
   * snapshot, so a change outlives a detach or a console restart.
   */
  async attachTo(cluster: string): Promise<void> {
    this.detach();
    this.cluster = cluster;
    let kept: MembershipProgress | undefined;
    try {
      kept = checkProgress(await this.host.load(cluster));
    } catch (e) {
      this.host.log(`the kept membership change of ${cluster} is unreadable: ${(e as Error).message}`);
    }
    if (this.cluster === cluster && kept) {
      this.current = kept;
      this.host.push(kept);
    }
  }

  /** On detach: plans and the followed change belong to the cluster left (which keeps the change). */
  detach(): void {
    this.cluster = null;
    this.current = null;
    this.plans.clear();
  }

  private keep(p: MembershipProgress): void {
    const cluster = this.cluster;
    if (cluster === null) return;
    this.host.save(cluster, p).catch((e: Error) => this.host.log(`keeping the membership change of ${cluster}: ${e.message}`));
  }

  async plan(change: MembershipChange): Promise<MembershipPlan> {
    const cluster = this.cluster;
    const s = this.host.snapshot();
    if (!s) throw new Error('no cluster snapshot yet');
    const members = s.members.filter((m) => m.state !== 'left').map((m) => m.id);
    const node = change.kind === 'leave' ? change.node : change.address === undefined ? this.host.nextLocalNode() : await this.startedNodeId(change.address, s, members);
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
    if (this.cluster !== cluster) throw new Error('the console attached elsewhere while planning: plan again');
    this.prune();
    this.plans.set(plan.id, { plan });
    return plan;
  }

  /** The id of the started node at `address`, once it is known to be able to join this cluster. */
  private async startedNodeId(address: string, s: ClusterSnapshot, members: readonly string[]): Promise<string> {
    if (s.members.some((m) => m.address === address && m.state !== 'left')) throw new Error(`${address} is already a member of this cluster`);
    let started: StartedNode;
    try {
      started = await this.host.inspect(address);
    } catch (e) {
      throw new Error(`cannot read ${address}'s /status (${(e as Error).message}): start the node first (gyre node, without --seeds, with this cluster's token)`, { cause: e });
    }
    const { partitions, n } = s.config;
    if (started.partitions !== partitions || started.n !== n) throw new Error(`${address} (${started.id}) runs Q=${started.partitions} N=${started.n}; this cluster runs Q=${partitions} N=${n}: start it with --partitions ${partitions} --n ${n} on an empty folder`);
    if (members.includes(started.id)) throw new Error(`${address} is named ${started.id}, like a member of this cluster: node ids are unique (start it with another --id on an empty folder)`);
    const others = started.members.filter((m) => m !== started.id);
    if (others.length > 0) throw new Error(`${address} (${started.id}) already belongs to a cluster with ${others.slice(0, 5).join(', ')}${others.length > 5 ? '…' : ''}: only a node started alone can be added`);
    if (started.keys !== null && started.keys > 0) throw new Error(`${address} (${started.id}) holds ${started.keys} key${started.keys === 1 ? '' : 's'}: only an empty node can be added (its keys would be merged into this cluster's)`);
    return started.id;
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
    let message: string;
    if (plan.change.kind === 'join' && plan.change.address !== undefined) {
      await this.host.joinStarted(plan.change.address);
      message = `${node} (${plan.change.address}) asked to join; waiting for it to claim its partitions`;
    } else if (plan.change.kind === 'join') {
      node = await this.host.launchNode();
      if (node !== plan.node) this.host.log(`planned ${plan.node}, launched ${node}`);
      message = `${node} launched; waiting for it to join`;
    } else {
      await this.host.leave(node);
      message = `${node} asked to leave`;
    }
    this.current = { planId, node, kind: plan.change.kind, state: 'starting', startedAt: this.now(), endedAt: null, partitionsTotal: plan.ownership, partitionsMoved: 0, message };
    this.host.push(this.current);
    this.keep(this.current);
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
      this.keep(next);
    }
  }
}
