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
import { quorumResult, type VoteResult } from './quorum.js';
import { mergeReplies, staleReplicas, type ReplicaReply } from './read-repair.js';
import { type Payload, type Version, contextOf, coordinatePut, siblingsBytes } from './siblings.js';
import { type VClock, defaultPruneLimits } from './vclock.js';
import type { Store } from '../store/store.js';
import type { CoordinateReply } from '../net/messages.js';

export type NodeId = string;

export interface CoordinateRequest {
  readonly key: Uint8Array;
  readonly payload: Payload;
  readonly context: VClock;
  readonly w: number;
  readonly timeoutMs: number;
}

/** How the coordinator reaches one replica: the local store for itself, the network otherwise. */
export interface Replicas {
  read(node: NodeId, key: Uint8Array, timeoutMs: number): Promise<Version[]>;
  write(node: NodeId, key: Uint8Array, partition: number, versions: readonly Version[], timeoutMs: number): Promise<void>;
  coordinate(node: NodeId, req: CoordinateRequest, timeoutMs: number): Promise<CoordinateReply>;
}

export interface CoordinatorEvents {
  readRepair?(key: Uint8Array, nodes: readonly NodeId[]): void;
  replicaFailed?(node: NodeId, error: unknown): void;
}

export interface CoordinatorDeps {
  readonly selfId: NodeId;
  readonly env: Env;
  readonly store: Store;
  readonly replicas: Replicas;
  readonly partitionOf: (key: Uint8Array) => number;
  readonly preferenceList: (partition: number) => NodeId[];
  readonly events?: CoordinatorEvents;
  /** A write that would leave more siblings than this is refused (resolve them first). */
  readonly siblingsMax?: number;
  /** A write that would leave a key's versions larger than this is refused. */
  readonly objectBytesMax?: number;
}

export const defaultSiblingsMax = 100;
export const defaultObjectBytesMax = 16 * 1024 * 1024;

export type Failure = { readonly status: 400 | 413 | 503; readonly error: string; readonly message: string };

export type ReadResult =
  | { readonly status: 200 | 300 | 404; readonly versions: Version[]; readonly context: VClock | undefined; readonly replied: number }
  | Failure;

export type WriteResult = { readonly status: 204; readonly clock: VClock } | Failure;

interface Outcome<T> {
  readonly vote: VoteResult;
  readonly replies: { node: NodeId; value: T }[];
  readonly failures: { node: NodeId; error: unknown }[];
}

/**
 * Calls every target, resolving `decided` as soon as `needed` succeeded or can no longer
 * succeed (or at the timeout, with vote 'pending'), and `settled` once every call ended or
 * the timeout passed.
 */
export function gatherQuorum<T>(
  env: Env,
  targets: readonly NodeId[],
  needed: number,
  timeoutMs: number,
  call: (node: NodeId) => Promise<T>,
): { decided: Promise<Outcome<T>>; settled: Promise<Outcome<T>> } {
  const replies: { node: NodeId; value: T }[] = [];
  const failures: { node: NodeId; error: unknown }[] = [];
  let decide!: (o: Outcome<T>) => void;
  let settle!: (o: Outcome<T>) => void;
  const decided = new Promise<Outcome<T>>((r) => (decide = r));
  const settled = new Promise<Outcome<T>>((r) => (settle = r));
  let isDecided = false;
  let isSettled = false;
  const snapshot = (vote: VoteResult): Outcome<T> => ({ vote, replies: [...replies], failures: [...failures] });
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
  constructor(private readonly deps: CoordinatorDeps) {}

  async get(key: Uint8Array, r: number, timeoutMs: number): Promise<ReadResult> {
    const { env, replicas } = this.deps;
    const partition = this.deps.partitionOf(key);
    const pref = this.deps.preferenceList(partition);
    if (r > pref.length) return unavailable(`r=${r} but the cluster has only ${pref.length} replicas for this key`);
    const { decided, settled } = gatherQuorum(env, pref, r, timeoutMs, (node) => replicas.read(node, key, timeoutMs));
    void settled.then((o) => this.readRepair(key, partition, o));
    const o = await decided;
    if (o.vote !== 'won') {
      return unavailable(`only ${o.replies.length} of r=${r} replicas answered within ${timeoutMs} ms`);
    }
    const versions = mergeReplies(o.replies.map((x) => ({ node: x.node, versions: x.value })));
    const context = versions.length > 0 ? contextOf(versions) : undefined;
    const live = versions.filter((v) => !v.deleted);
    const status = live.length === 0 ? 404 : versions.length === 1 ? 200 : 300;
    return { status, versions, context, replied: o.replies.length };
  }

  private readRepair(key: Uint8Array, partition: number, o: Outcome<Version[]>): void {
    const replies: ReplicaReply[] = o.replies.map((x) => ({ node: x.node, versions: x.value }));
    if (replies.length < 2) return;
    const merged = mergeReplies(replies);
    const stale = staleReplicas(replies, merged);
    if (stale.length === 0) return;
    this.deps.events?.readRepair?.(key, stale);
    for (const node of stale) {
      this.deps.replicas.write(node, key, partition, merged, 5000).catch((e: unknown) => this.deps.events?.replicaFailed?.(node, e));
    }
  }

  /** A put or delete (a delete is a put of a tombstone). */
  async put(req: CoordinateRequest, forwarded = false): Promise<WriteResult> {
    const partition = this.deps.partitionOf(req.key);
    const pref = this.deps.preferenceList(partition);
    if (req.w > pref.length) return unavailable(`w=${req.w} but the cluster has only ${pref.length} replicas for this key`);
    // A forwarded request is coordinated here even if our ring disagrees, so it never loops.
    if (!forwarded && !pref.includes(this.deps.selfId)) return this.forward(req, pref);
    return this.coordinate(req, partition, pref);
  }

  private async forward(req: CoordinateRequest, pref: readonly NodeId[]): Promise<WriteResult> {
    const { env } = this.deps;
    const deadline = env.now() + req.timeoutMs;
    for (const node of pref) {
      const left = deadline - env.now();
      if (left <= 0) break;
      try {
        const reply = await this.deps.replicas.coordinate(node, { ...req, timeoutMs: left }, left);
        if (reply.status === 204 && reply.clock) return { status: 204, clock: reply.clock };
        if (reply.status === 400 || reply.status === 413 || reply.status === 503) {
          return { status: reply.status, error: reply.error ?? 'error', message: reply.message ?? '' };
        }
        return unavailable(`coordinator ${node} answered ${reply.status}`);
      } catch (e) {
        // That replica is unreachable: try the next one in preference order.
        this.deps.events?.replicaFailed?.(node, e);
      }
    }
    return unavailable(`no replica of this key could coordinate the write within ${req.timeoutMs} ms`);
  }

  private async coordinate(req: CoordinateRequest, partition: number, pref: readonly NodeId[]): Promise<WriteResult> {
    const { env, store, selfId } = this.deps;
    const siblingsMax = this.deps.siblingsMax ?? defaultSiblingsMax;
    const objectBytesMax = this.deps.objectBytesMax ?? defaultObjectBytesMax;
    let made: { versions: Version[]; version: Version } | Failure;
    try {
      made = await store.update<{ versions: Version[]; version: Version } | Failure>(req.key, partition, (cur, tools) => {
        const out = coordinatePut(cur, req.context, tools.actorFor(partition), env.now(), req.payload, defaultPruneLimits, pref);
        if (out.versions.length > siblingsMax) {
          return { versions: undefined, result: { status: 413, error: 'too_many_siblings', message: `the write would leave ${out.versions.length} siblings (limit ${siblingsMax}); read the key and write with its context to resolve them` } as Failure };
        }
        if (siblingsBytes(out.versions) > objectBytesMax) {
          return { versions: undefined, result: { status: 413, error: 'object_too_large', message: `the key's versions would exceed ${objectBytesMax} bytes; resolve its siblings first` } as Failure };
        }
        return { versions: out.versions, result: out };
      });
    } catch (e) {
      return unavailable(`local commit failed: ${(e as Error).message}`);
    }
    if ('status' in made) return made;
    const { versions, version } = made;
    const others = pref.filter((n) => n !== selfId);
    // The local commit is the first ack; the remaining W-1 come from the other replicas.
    const needed = req.w - 1;
    if (needed <= 0) {
      for (const node of others) this.deps.replicas.write(node, req.key, partition, versions, req.timeoutMs).catch((e: unknown) => this.deps.events?.replicaFailed?.(node, e));
      return { status: 204, clock: version.clock };
    }
    const { decided } = gatherQuorum(env, others, needed, req.timeoutMs, (node) => this.deps.replicas.write(node, req.key, partition, versions, req.timeoutMs));
    const o = await decided;
    if (o.vote === 'won') return { status: 204, clock: version.clock };
    return unavailable(`only ${o.replies.length + 1} of w=${req.w} replicas acknowledged within ${req.timeoutMs} ms (the write may still be applied)`);
  }
}
