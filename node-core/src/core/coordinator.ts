// The request coordinator (Dynamo 4.5). Any node takes any request:
// - a read asks every replica in the key's preference list, answers once R replied (merging
//   what they hold), keeps listening until all replied or the timeout, then read-repairs
//   the replicas that were stale;
// - a write is coordinated by a replica of the key (a node outside the preference list
//   forwards it to the first replica that answers): the coordinator makes the new version
//   locally, commits it, sends the resulting sibling set to the other replicas, and answers
//   once W of them (itself included) have committed it.
// Every wait is bounded by the request's timeout: a request ends in an answer or a 503.
//
// Reached only through interfaces (store, replicas, env), so the simulator runs it as is.

import type { Env } from './env.js';
import type { Trace } from './trace.js';
import { quorumResult, type VoteResult } from './quorum.js';
import { mergeReplies, staleReplicas, type ReplicaReply } from './read-repair.js';
import { type Payload, type Version, contextOf, coordinatePut, siblingsBytes } from './siblings.js';
import { type VClock, defaultPruneLimits, join } from './vclock.js';
import { versionsProblem } from './codec.js';
import type { Store } from './store.js';

export type NodeId = string;

/** A coordinator's answer to the node that forwarded a request to it. */
export type CoordinateReply = { readonly status: number; readonly clock: VClock | undefined; readonly error: string | undefined; readonly message: string | undefined; readonly dot?: { readonly actor: string; readonly counter: number } | undefined };

export interface CoordinateRequest {
  readonly key: Uint8Array;
  readonly payload: Payload;
  readonly context: VClock;
  readonly w: number;
  readonly timeoutMs: number;
  /**
   * Also supersede every version the coordinating replica holds, as if the context named them
   * (RESP SET: a blind overwrite, Redis's last-writer-wins as far as this replica has seen).
   * Versions the coordinator has not seen still survive as siblings: nothing acknowledged
   * elsewhere is dropped. A coordinator outside the preference list has seen nothing.
   */
  readonly supersede?: boolean;
  /** Record what this write does, step by step. */
  readonly trace?: Trace | undefined;
}

/**
 * Where a key's replicas go right now (Dynamo 4.6): `pref` is the strict preference list;
 * `targets` replaces each preference-list node that this node sees down by the next healthy
 * node beyond the list, tagged with a hint naming the node it stands in for.
 */
export interface Target {
  readonly node: NodeId;
  readonly hintFor: NodeId | undefined;
}

export interface Placement {
  readonly pref: readonly NodeId[];
  readonly targets: readonly Target[];
  /**
   * Hints for down preference-list nodes that no spare node could stand in for (a cluster of
   * N nodes has none): kept by a node that already holds a replica, as Cassandra keeps them
   * on the coordinator. They bring the node up to date as soon as it is back, but add no
   * durability, so they do not count towards W.
   */
  readonly extraHints: readonly Target[];
  /** Preference-list nodes this node sees up, in preference order. */
  readonly upPref: readonly NodeId[];
}

/** How the coordinator reaches one replica: the local store for itself, the network otherwise. */
export interface Replicas {
  read(target: Target, key: Uint8Array, timeoutMs: number): Promise<Version[]>;
  /**
   * `fresh`: the versions carry a new write by a coordinator that holds no copy of the key,
   * so the receiver applies the sibling limit (and refuses with `too_many_siblings`).
   */
  write(target: Target, key: Uint8Array, partition: number, versions: readonly Version[], timeoutMs: number, fresh?: boolean): Promise<void>;
  coordinate(node: NodeId, req: CoordinateRequest, timeoutMs: number): Promise<CoordinateReply>;
}

export interface CoordinatorEvents {
  readRepair?(key: Uint8Array, nodes: readonly NodeId[]): void;
  replicaFailed?(node: NodeId, error: unknown): void;
  /** A write went to a stand-in for a down preference-list node. */
  hinted?(key: Uint8Array, standIn: NodeId, target: NodeId): void;
  siblingsCreated?(key: Uint8Array, count: number): void;
}

export interface CoordinatorDeps {
  readonly selfId: NodeId;
  readonly env: Env;
  readonly store: Store;
  readonly replicas: Replicas;
  readonly partitionOf: (key: Uint8Array) => number;
  readonly placement: (partition: number) => Placement;
  readonly events?: CoordinatorEvents;
  /** A write that would leave more siblings than this is refused (resolve them first). */
  readonly siblingsMax?: number;
  /** A write that would leave a key's versions larger than this is refused. */
  readonly objectBytesMax?: number;
}

export const defaultSiblingsMax = 100;
/** Of a forwarded write's time budget, what the remote coordinator leaves for its reply to travel back. */
export const forwardMarginMs = 200;
export const defaultObjectBytesMax = 16 * 1024 * 1024;
/** The error code of a write refused because it would leave too many siblings. */
export const tooManySiblings = 'too_many_siblings';

/** `dot`: a write that failed but may still be applied names the version it would be. */
export type Failure = { readonly status: 400 | 413 | 503; readonly error: string; readonly message: string; readonly dot?: { readonly actor: string; readonly counter: number } | undefined };

export type ReadResult =
  | { readonly status: 200 | 300 | 404; readonly versions: Version[]; readonly context: VClock | undefined; readonly replied: number }
  | Failure;

/** An acknowledged write: the new version's clock (the context handed back) and its event (its id). */
export type WriteResult = { readonly status: 204; readonly clock: VClock; readonly dot: { readonly actor: string; readonly counter: number } | undefined } | Failure;

interface Outcome<T, N = NodeId> {
  readonly vote: VoteResult;
  readonly replies: { node: N; value: T }[];
  readonly failures: { node: N; error: unknown }[];
}

/**
 * Calls every target, resolving `decided` as soon as `needed` succeeded or can no longer
 * succeed (or at the timeout, with vote 'pending'), and `settled` once every call ended or
 * the timeout passed.
 */
export function gatherQuorum<T, N = NodeId>(
  env: Env,
  targets: readonly N[],
  needed: number,
  timeoutMs: number,
  call: (node: N) => Promise<T>,
): { decided: Promise<Outcome<T, N>>; settled: Promise<Outcome<T, N>> } {
  const replies: { node: N; value: T }[] = [];
  const failures: { node: N; error: unknown }[] = [];
  let decide!: (o: Outcome<T, N>) => void;
  let settle!: (o: Outcome<T, N>) => void;
  const decided = new Promise<Outcome<T, N>>((r) => (decide = r));
  const settled = new Promise<Outcome<T, N>>((r) => (settle = r));
  let isDecided = false;
  let isSettled = false;
  const snapshot = (vote: VoteResult): Outcome<T, N> => ({ vote, replies: [...replies], failures: [...failures] });
  const check = () => {
    const vote = quorumResult(replies.length, failures.length, needed, targets.length);
    if (!isDecided && vote !== 'pending') {
      isDecided = true;
      decide(snapshot(vote));
    }
    if (!isSettled && replies.length + failures.length === targets.length) {
      isSettled = true;
      timer.cancel();
      settle(snapshot(vote));
    }
  };
  const timer = env.setTimer(timeoutMs, () => {
    const vote = quorumResult(replies.length, failures.length, needed, targets.length);
    if (!isDecided) {
      isDecided = true;
      decide(snapshot(vote));
    }
    if (!isSettled) {
      isSettled = true;
      settle(snapshot(vote));
    }
  });
  for (const node of targets) {
    call(node).then(
      (value) => {
        replies.push({ node, value });
        check();
      },
      (error: unknown) => {
        failures.push({ node, error });
        check();
      },
    );
  }
  if (targets.length === 0) check();
  return { decided, settled };
}

function unavailable(message: string): Failure {
  return { status: 503, error: 'unavailable', message };
}

export class Coordinator {
  private lastOneShotMs = 0;
  private readonly bootNonce: string;

  constructor(private readonly deps: CoordinatorDeps) {
    this.bootNonce = Math.floor(deps.env.random() * 36 ** 4)
      .toString(36)
      .padStart(4, '0');
  }

  async get(key: Uint8Array, r: number, timeoutMs: number, trace?: Trace): Promise<ReadResult> {
    const { env, replicas } = this.deps;
    const partition = this.deps.partitionOf(key);
    const { pref, targets } = this.deps.placement(partition);
    trace?.add('plan', this.deps.selfId, `partition ${partition}, preference list ${pref.join(', ')}; asking ${targets.map((t) => (t.hintFor ? `${t.node} (for ${t.hintFor})` : t.node)).join(', ')}; r=${r}`);
    if (r > targets.length) return unavailable(`r=${r} but only ${targets.length} healthy replicas can be reached for this key`);
    const read = (t: Target) => {
      trace?.add('ask', t.node, t.hintFor ? `read the hint held for ${t.hintFor}` : 'read', { hintFor: t.hintFor });
      const p = replicas.read(t, key, timeoutMs);
      if (trace) p.then((v) => trace.add('reply', t.node, `${v.length} version(s)`, { hintFor: t.hintFor, versions: v }), (e: unknown) => trace.add('fail', t.node, String((e as Error).message ?? e), { hintFor: t.hintFor }));
      return p;
    };
    const { decided, settled } = gatherQuorum(env, targets, r, timeoutMs, read);
    const repaired = settled.then((o) => this.readRepair(key, partition, o, trace));
    trace?.follow(repaired);
    void repaired;
    const o = await decided;
    trace?.add('decided', this.deps.selfId, `${o.vote}: ${o.replies.length} of r=${r} replied, ${o.failures.length} failed`);
    if (o.vote !== 'won') {
      return unavailable(`only ${o.replies.length} of r=${r} replicas answered within ${timeoutMs} ms`);
    }
    const versions = mergeReplies(o.replies.map((x) => ({ node: x.node.node, versions: x.value })));
    const context = versions.length > 0 ? contextOf(versions) : undefined;
    const live = versions.filter((v) => !v.deleted);
    const status = live.length === 0 ? 404 : versions.length === 1 ? 200 : 300;
    return { status, versions, context, replied: o.replies.length };
  }

  private readRepair(key: Uint8Array, partition: number, o: Outcome<Version[], Target>, trace?: Trace): void {
    // Stand-ins hold hints, which handoff delivers: only real replicas are repaired.
    const replies: ReplicaReply[] = o.replies.filter((x) => x.node.hintFor === undefined).map((x) => ({ node: x.node.node, versions: x.value }));
    if (replies.length < 2 && o.replies.length < 2) return;
    const merged = mergeReplies(o.replies.map((x) => ({ node: x.node.node, versions: x.value })));
    const stale = staleReplicas(replies, merged);
    if (stale.length === 0) {
      trace?.add('note', this.deps.selfId, `all ${replies.length} replicas that answered agree: no read repair`);
      return;
    }
    this.deps.events?.readRepair?.(key, stale);
    for (const node of stale) {
      trace?.add('stale', node, 'missing versions the others hold');
      const sent = this.deps.replicas.write({ node, hintFor: undefined }, key, partition, merged, 5000);
      if (trace) trace.follow(sent.then(() => trace.add('repair', node, 'read repair committed', { versions: merged }), (e: unknown) => trace.add('fail', node, `read repair failed: ${String((e as Error).message ?? e)}`)));
      sent.catch((e: unknown) => this.deps.events?.replicaFailed?.(node, e));
    }
  }

  /** A put or delete (a delete is a put of a tombstone). */
  async put(req: CoordinateRequest, forwarded = false): Promise<WriteResult> {
    const partition = this.deps.partitionOf(req.key);
    const placement = this.deps.placement(partition);
    const trace = req.trace;
    trace?.add('plan', this.deps.selfId, `partition ${partition}, preference list ${placement.pref.join(', ')}; targets ${placement.targets.map((t) => (t.hintFor ? `${t.node} (for ${t.hintFor})` : t.node)).join(', ')}; w=${req.w}`);
    if (req.w > placement.targets.length) return unavailable(`w=${req.w} but only ${placement.targets.length} healthy nodes can take this key`);
    if (placement.pref.includes(this.deps.selfId)) return this.coordinate(req, partition, placement, true);
    // A forwarded request is coordinated here even if our ring disagrees, so it never loops.
    if (!forwarded) {
      const reply = await this.forward(req, placement);
      if (reply) return reply;
    }
    // No replica of the key could coordinate: stay writeable (4.6) and coordinate here.
    return this.coordinate(req, partition, placement, false);
  }

  /** Hands the write to the first preference-list node that takes it; undefined if none could. */
  private async forward(req: CoordinateRequest, placement: Placement): Promise<WriteResult | undefined> {
    const { env } = this.deps;
    const deadline = env.now() + req.timeoutMs;
    for (const node of placement.upPref) {
      // Keep half of what is left for the fallback path, and give the remote coordinator a
      // little less than we wait, so its own answer (even a 503) arrives before our timeout.
      const left = Math.floor((deadline - env.now()) / 2);
      const remote = left - Math.min(forwardMarginMs, Math.floor(left / 4));
      if (remote <= 0) break;
      try {
        req.trace?.add('forward', node, `not a replica here: forwarded to ${node}, the first replica seen up`);
        const reply = await this.deps.replicas.coordinate(node, { ...req, trace: undefined, timeoutMs: remote }, left);
        req.trace?.add('forwarded', node, `${node} answered ${reply.status}${reply.dot ? ` (version ${reply.dot.actor}:${reply.dot.counter})` : ''}`);
        if (reply.status === 204 && reply.clock) return { status: 204, clock: reply.clock, dot: reply.dot };
        if (reply.status === 400 || reply.status === 413 || reply.status === 503) {
          return { status: reply.status, error: reply.error ?? 'error', message: reply.message ?? '', dot: reply.dot };
        }
        return unavailable(`coordinator ${node} answered ${reply.status}`);
      } catch (e) {
        // That replica is unreachable: try the next one in preference order.
        req.trace?.add('fail', node, `forward failed: ${String((e as Error).message ?? e)}`);
        this.deps.events?.replicaFailed?.(node, e);
      }
    }
    return undefined;
  }

  /**
   * An actor used for exactly one write, by a coordinator outside the preference list: it
   * holds no copy of the key, so it cannot know its own earlier counters there, and a fresh
   * actor makes the dot unique by construction. `~` keeps it apart from partition actors
   * (node.tenure), so pruning treats it as retired.
   */
  private oneShotActor(): string {
    const ms = Math.max(this.deps.env.now(), this.lastOneShotMs + 1);
    this.lastOneShotMs = ms;
    // The boot nonce keeps ids unique across a restart even if a burst ran ahead of the clock.
    return `${this.deps.selfId}~${ms.toString(36)}${this.bootNonce}`;
  }

  private async coordinate(req: CoordinateRequest, partition: number, placement: Placement, asReplica: boolean): Promise<WriteResult> {
    const { env, store, selfId } = this.deps;
    const siblingsMax = this.deps.siblingsMax ?? defaultSiblingsMax;
    const objectBytesMax = this.deps.objectBytesMax ?? defaultObjectBytesMax;
    let made: { versions: Version[]; version: Version } | Failure;
    if (asReplica) {
      try {
        made = await store.update<{ versions: Version[]; version: Version } | Failure>(req.key, partition, (cur, tools) => {
          // Reaped tombstones are history the new version must cover, or replicas still
          // remembering them would take it for a stale copy (and its counter could repeat).
          const reaped = tools.reaped();
          const seen = req.supersede && cur.length > 0 ? join(req.context, contextOf(cur)) : req.context;
          const context = reaped ? join(seen, reaped) : seen;
          const out = coordinatePut(cur, context, tools.actorFor(partition), env.now(), req.payload, defaultPruneLimits, placement.pref);
          if (out.versions.length > siblingsMax) {
            return { versions: undefined, result: { status: 413, error: tooManySiblings, message: `the write would leave ${out.versions.length} siblings (limit ${siblingsMax}); read the key and write with its context to resolve them` } as Failure };
          }
          if (siblingsBytes(out.versions) > objectBytesMax) {
            return { versions: undefined, result: { status: 413, error: 'object_too_large', message: `the key's versions would exceed ${objectBytesMax} bytes; resolve its siblings first` } as Failure };
          }
          return { versions: out.versions, result: out };
        });
      } catch (e) {
        // The store refused a version it could not read back: the request made it, not the disk.
        if ((e as { code?: unknown }).code === 'unstorable') return { status: 400, error: 'bad_version', message: `the write cannot be stored: ${(e as Error).message}` };
        // Our own disk refuses writes (full, read-only): the others may still take it. Coordinate
        // as a node outside the preference list does (one-shot actor), so W can be reached there.
        if ((e as { code?: unknown }).code === 'storage') {
          req.trace?.add('note', selfId, `local commit failed (${(e as Error).message}): coordinating for the other replicas`);
          return this.coordinate(req, partition, placement, false);
        }
        return unavailable(`local commit failed: ${(e as Error).message}`);
      }
    } else {
      made = coordinatePut([], req.context, this.oneShotActor(), env.now(), req.payload, defaultPruneLimits, placement.pref);
      // No local store checks it here: refuse a version no replica could store before sending it.
      const problem = versionsProblem(made.versions);
      if (problem) return { status: 400, error: 'bad_version', message: `the write cannot be stored: ${problem}` };
    }
    if ('status' in made) return made;
    const { versions, version } = made;
    const trace = req.trace;
    trace?.add('commit', selfId, asReplica ? `new version ${version.dot.actor}:${version.dot.counter} committed locally; ${versions.length} sibling(s)` : `not a replica and none reachable: new version ${version.dot.actor}:${version.dot.counter} (one-shot actor), sent to the targets`, { versions });
    if (versions.length > 1) this.deps.events?.siblingsCreated?.(req.key, versions.length);
    // As a replica, the local commit is the first ack; the other W-1 come from the targets.
    const others = placement.targets.filter((t) => !(asReplica && t.node === selfId));
    for (const t of others) if (t.hintFor !== undefined) this.deps.events?.hinted?.(req.key, t.node, t.hintFor);
    const needed = req.w - (asReplica ? 1 : 0);
    // Without a local copy the limit on siblings is checked where the versions land.
    const fresh = !asReplica;
    const write = (t: Target) => {
      if (!trace) return this.deps.replicas.write(t, req.key, partition, versions, req.timeoutMs, fresh);
      trace.add(t.hintFor ? 'hint' : 'send', t.node, t.hintFor ? `stand-in for ${t.hintFor}: stored as a hint` : 'replica write', { hintFor: t.hintFor });
      const p = this.deps.replicas.write(t, req.key, partition, versions, req.timeoutMs, fresh);
      trace.follow(p.then(() => trace.add('ack', t.node, 'committed', { hintFor: t.hintFor }), (e: unknown) => trace.add('fail', t.node, String((e as Error).message ?? e), { hintFor: t.hintFor })));
      return p;
    };
    // A replica that did not take the write gets it later by hinted handoff: the coordinator
    // keeps the hint (it already holds the data, so the hint is cheap and not counted in W).
    const send = (t: Target) =>
      write(t).catch((e: unknown) => {
        if (asReplica && t.hintFor === undefined && t.node !== selfId) {
          this.deps.events?.hinted?.(req.key, selfId, t.node);
          write({ node: selfId, hintFor: t.node }).catch(() => {});
        }
        throw e;
      });
    for (const t of placement.extraHints) {
      this.deps.events?.hinted?.(req.key, t.node, t.hintFor!);
      send(t).catch((e: unknown) => this.deps.events?.replicaFailed?.(t.node, e));
    }
    if (needed <= 0) {
      for (const t of others) send(t).catch((e: unknown) => this.deps.events?.replicaFailed?.(t.node, e));
      return { status: 204, clock: version.clock, dot: version.dot };
    }
    const { decided } = gatherQuorum(env, others, needed, req.timeoutMs, send);
    const o = await decided;
    trace?.add('decided', selfId, `${o.vote}: ${o.replies.length + (asReplica ? 1 : 0)} of w=${req.w} acknowledged`);
    if (o.vote === 'won') return { status: 204, clock: version.clock, dot: version.dot };
    const acks = o.replies.length + (asReplica ? 1 : 0);
    if (fresh && o.failures.some((f) => String((f.error as Error)?.message ?? f.error).includes(tooManySiblings))) {
      return { status: 413, error: tooManySiblings, message: `the key has too many siblings on its replicas (limit ${siblingsMax}); read it and write with its context to resolve them`, dot: version.dot };
    }
    return { ...unavailable(`only ${acks} of w=${req.w} replicas acknowledged within ${req.timeoutMs} ms (the write may still be applied)`), dot: version.dot };
  }
}
