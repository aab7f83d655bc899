// The node's side of fault injection (the pure part is core/faults.ts). One fault table per
// cluster, a CRDT: a change made on any node is pushed at once to every member, and tables are
// also merged with a random member each gossip round, so a node that missed the push (it was
// down, or cut off by the very partition) catches up. Control messages
// travel outside the faults they carry, like a test harness's own network: otherwise a
// partition could never be healed from one side.
//
// Each node enforces the table on its own traffic: on a request it sends (the request's link,
// then the reply's link) and on a request it receives (a node that has not heard of a
// partition yet is still cut off). A pause or crash naming this node is carried out here,
// once, and only if it was injected after this process started (a restarted node must not
// crash again on an old entry).

import type { Env } from '../core/env.js';
import { type Fault, type FaultSpec, type FaultTable, type LinkEffect, activeFaults, crashListedMs, describeFault, emptyFaultTable, linkEffect, mergeFaultTables, parseFaultSpec, sameFaultTable, withFault, withoutFaults } from '../core/faults.js';
import { type WireFaultTable, fromWireFaults, parseFaultsReply, toWireFaults } from '../net/messages.js';

/** What a node can do to its own process; the simulator supplies its own. */
export interface ProcessControl {
  /** Stop processing anything for `ms` (blocks the event loop in a real process). */
  pause(ms: number): void;
  /** Die at once, as with SIGKILL. */
  crash(): void;
}

export type FaultEvent =
  | { readonly type: 'fault-injected'; readonly at: number; readonly fault: Fault }
  | { readonly type: 'fault-healed'; readonly at: number; readonly fault: Fault; readonly reason: 'healed' | 'expired' };

export interface FaultDeps {
  readonly selfId: string;
  readonly env: Env;
  /** When this process started (env time). */
  readonly startedAtMs: number;
  readonly log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
  /** Members other than this node that should hear of a change. */
  peers(): string[];
  /** Sends a control message to a member, outside the faults. */
  sendControl(node: string, table: WireFaultTable, timeoutMs: number): Promise<unknown>;
  readonly control: ProcessControl | undefined;
  /** Whether this node was started with --allow-faults: without it nothing is injected here. */
  readonly allowed: boolean;
  onEvent?: (e: FaultEvent) => void;
}

const pushTimeoutMs = 2000;
export const faultsDisabledMessage = 'fault injection is not enabled on this cluster: its nodes must be started with --allow-faults';

/** Delay before a node pauses or crashes itself: the reply to whoever asked goes out first. */
const actDelayMs = 50;

export interface FaultChange {
  readonly faults: Fault[];
  /** Members that confirmed the new table, and those that did not (they catch up by gossip). */
  readonly reached: string[];
  readonly missed: string[];
}

export class FaultInjector {
  private table: FaultTable = emptyFaultTable;
  private counter = 0;
  /** Local changes to the table so far (shown by GET /admin/faults). */
  private changes = 0;
  private readonly acted = new Set<string>();
  private deferActs = false;
  private readonly deferred: Fault[] = [];
  /** Faults in force at the last look, to report expiries. */
  private known = new Map<string, Fault>();

  constructor(private readonly deps: FaultDeps) {}

  get version(): number {
    return this.changes;
  }

  /** The faults in force now. */
  list(): Fault[] {
    this.expire();
    return activeFaults(this.table, this.deps.env.now());
  }

  private effect(from: string, to: string): LinkEffect {
    if (this.table.faults.length === 0) return { dropBy: undefined, delayMs: 0 };
    return linkEffect(this.list(), from, to, () => this.deps.env.random());
  }

  /** The fate of a message this node sends to `to`. */
  outbound(to: string): LinkEffect {
    return this.effect(this.deps.selfId, to);
  }

  /** The fate of a message `from` sends to this node. */
  inbound(from: string): LinkEffect {
    return this.effect(from, this.deps.selfId);
  }

  /** Whether a partition (not loss: the sender already drew for that) cuts from -> this node. */
  cutFrom(from: string): boolean {
    if (this.table.faults.length === 0) return false;
    const now = this.deps.env.now();
    return activeFaults(this.table, now).some((f) => f.spec.kind === 'partition' && linkEffect([f], from, this.deps.selfId, () => 1).dropBy !== undefined);
  }

  /**
   * A fault asked for by a client (HTTP, Socket.IO): validated, its nodes checked against the
   * membership, then injected.
   */
  async request(raw: unknown): Promise<{ ok: true; value: FaultChange & { fault: Fault } } | { ok: false; error: 'bad_fault' | 'unknown_node' | 'faults_disabled'; message: string }> {
    if (!this.deps.allowed) return { ok: false, error: 'faults_disabled', message: faultsDisabledMessage };
    const parsed = parseFaultSpec(raw);
    if (!parsed.ok) return { ok: false, error: 'bad_fault', message: parsed.reason };
    const s = parsed.spec;
    const named = s.kind === 'partition' ? [...s.from, ...(s.to ?? [])] : s.kind === 'pause' || s.kind === 'crash' ? [s.node] : (s.nodes ?? []);
    const members = new Set([this.deps.selfId, ...this.deps.peers()]);
    const unknown = named.filter((n) => !members.has(n));
    if (unknown.length > 0) return { ok: false, error: 'unknown_node', message: `not a member of this cluster: ${unknown.join(', ')}` };
    return { ok: true, value: await this.inject(s, parsed.durationMs) };
  }

  async inject(spec: FaultSpec, durationMs: number | undefined): Promise<FaultChange & { fault: Fault }> {
    const now = this.deps.env.now();
    const until = spec.kind === 'crash' ? now + crashListedMs : durationMs === undefined ? undefined : now + durationMs;
    const fault: Fault = { id: `${this.deps.selfId}-${now.toString(36)}-${++this.counter}`, spec, startedAt: now, until };
    // A pause or crash of this very node waits until the others heard of it and the caller
    // got its answer (actDelayMs after the push).
    this.deferActs = true;
    try {
      this.adopt(withFault(this.table, fault, now), 'injected here');
    } finally {
      this.deferActs = false;
    }
    const pushed = await this.push();
    const acts = this.deferred.splice(0);
    for (const f of acts) this.act(f, this.deps.env.now());
    return { fault, ...pushed };
  }

  /** Heals one fault, or every fault when `id` is undefined; the healed ones are returned. */
  async heal(id: string | undefined): Promise<FaultChange & { healed: Fault[] }> {
    const now = this.deps.env.now();
    const before = activeFaults(this.table, now);
    const healed = id === undefined ? before : before.filter((f) => f.id === id);
    this.adopt(withoutFaults(this.table, id, now), 'healed here');
    const pushed = await this.push();
    return { healed, ...pushed };
  }

  /** A peer's table arrived: merged into ours, and ours (merged) goes back. */
  receive(wire: WireFaultTable, from: string): WireFaultTable {
    // Chaos by consent holds over the wire too: a peer (or whoever has the cluster token) cannot
    // pause or partition a node that was not started to be broken on purpose.
    if (!this.deps.allowed) throw Object.assign(new Error(faultsDisabledMessage), { code: 'faults_disabled' });
    const now = this.deps.env.now();
    const merged = mergeFaultTables(this.table, fromWireFaults(wire, now), now);
    if (!sameFaultTable(merged, this.table)) this.adopt(merged, `from ${from}`);
    else this.table = merged;
    return toWireFaults(this.table, now);
  }

  /** Whether there is anything to compare (faults in force, or heals to remember). */
  get inUse(): boolean {
    return this.table.faults.length > 0 || this.table.healed.length > 0;
  }

  /** Merges tables with one peer (each gossip round, while faults are in use). */
  async syncWith(node: string): Promise<void> {
    if (!this.inUse) return;
    const reply = parseFaultsReply(await this.deps.sendControl(node, toWireFaults(this.table, this.deps.env.now()), pushTimeoutMs));
    if (reply.ok) this.receive(reply.value, node);
  }

  /** Reports faults that ran out since the last look; called each gossip round. */
  expire(): void {
    const now = this.deps.env.now();
    if (this.known.size === 0) return;
    for (const [id, f] of this.known) {
      if (f.until !== undefined && f.until <= now) {
        this.known.delete(id);
        this.deps.log.info({ fault: id }, `fault expired: ${describeFault(f.spec)}`);
        this.deps.onEvent?.({ type: 'fault-healed', at: now, fault: f, reason: 'expired' });
      }
    }
  }

  private async push(): Promise<{ faults: Fault[]; reached: string[]; missed: string[] }> {
    const peers = this.deps.peers();
    const wire = toWireFaults(this.table, this.deps.env.now());
    const results = await Promise.all(
      peers.map(async (p) => {
        try {
          const reply = parseFaultsReply(await this.deps.sendControl(p, wire, pushTimeoutMs));
          if (reply.ok) this.receive(reply.value, p);
          return { p, ok: reply.ok };
        } catch {
          return { p, ok: false };
        }
      }),
    );
    return { faults: this.list(), reached: results.filter((r) => r.ok).map((r) => r.p), missed: results.filter((r) => !r.ok).map((r) => r.p) };
  }

  private adopt(next: FaultTable, why: string): void {
    const now = this.deps.env.now();
    this.table = next;
    this.changes++;
    const active = activeFaults(next, now);
    const ids = new Set(active.map((f) => f.id));
    for (const [id, f] of this.known) {
      if (ids.has(id)) continue;
      this.known.delete(id);
      this.deps.log.info({ fault: id, why }, `fault healed: ${describeFault(f.spec)}`);
      this.deps.onEvent?.({ type: 'fault-healed', at: now, fault: f, reason: 'healed' });
    }
    for (const f of active) {
      if (this.known.has(f.id)) continue;
      this.known.set(f.id, f);
      this.deps.log.warn({ fault: f.id, why }, `fault injected: ${describeFault(f.spec)}`);
      this.deps.onEvent?.({ type: 'fault-injected', at: now, fault: f });
      this.act(f, now);
    }
  }

  /** Carries out a pause or crash that names this node. */
  private act(f: Fault, now: number): void {
    const s = f.spec;
    if ((s.kind !== 'pause' && s.kind !== 'crash') || s.node !== this.deps.selfId) return;
    if (this.deferActs) {
      this.deferred.push(f);
      return;
    }
    if (this.acted.has(f.id)) return;
    this.acted.add(f.id);
    // Injected before this process started: it was meant for an earlier incarnation.
    if (f.startedAt < this.deps.startedAtMs) return;
    const control = this.deps.control;
    if (!control) {
      this.deps.log.warn({ fault: f.id }, `cannot ${s.kind} this node: no process control here`);
      return;
    }
    if (s.kind === 'crash') {
      this.deps.env.setTimer(actDelayMs, () => control.crash());
      return;
    }
    const ms = f.until === undefined ? 0 : f.until - now - actDelayMs;
    if (ms > 0) this.deps.env.setTimer(actDelayMs, () => control.pause(ms));
  }
}
