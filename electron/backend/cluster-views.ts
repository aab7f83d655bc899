// What the console's data, anti-entropy, what-if and causal screens ask of the attached
// cluster (issue 14): each a small composition of the nodes' HTTP API (GET /keys,
// /admin/partitions, POST /admin/repair, /replicas) with a pure core function (core/what-if,
// core/causal). Every answer from a node is read as untrusted: shapes are checked and sizes
// capped before anything reaches the renderer.

import { type CausalEvents, type CausalGraph, type CausalVersion, causalActorsMax, causalDotsMax, causalGraph } from '../../node-core/src/core/causal.js';
import type { PartitionSize } from '../../node-core/src/core/membership-plan.js';
import { whatIf } from '../../node-core/src/core/what-if.js';
import type { CausalGraphView, ClusterSnapshot, KeyListEntry, KeyListQuery, KeyPage, PartitionDetail, PartitionReplicaState, RepairReport, WhatIfView } from '../../node-core/src/wire/console.js';

export interface NodeAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A request to one member (by id) or, with null, to the node the console is attached through. */
export type AskNode = (node: string | null, method: string, path: string, json?: unknown, timeoutMs?: number) => Promise<NodeAnswer>;

const keyListLimitMax = 1000;
const prefixCharsMax = 1024;
const cursorCharsMax = 4096;
const partitionsMax = 1 << 16;

export function checkKeyListQuery(v: unknown): KeyListQuery {
  const o = (v ?? {}) as Record<string, unknown>;
  const prefix = o.prefix ?? null;
  if (prefix !== null && (typeof prefix !== 'string' || prefix.length > prefixCharsMax)) throw new Error(`prefix is text of at most ${prefixCharsMax} characters`);
  const cursor = o.cursor ?? null;
  if (cursor !== null && (typeof cursor !== 'string' || cursor.length > cursorCharsMax)) throw new Error('cursor is the text a previous page returned');
  const limit = o.limit ?? 100;
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > keyListLimitMax) throw new Error(`limit is an integer from 1 to ${keyListLimitMax}`);
  return { prefix: prefix === '' ? null : (prefix as string | null), cursor: cursor as string | null, limit: limit as number, tombstones: o.tombstones === true };
}

const errorText = (a: NodeAnswer) => (a.body as { message?: unknown })?.message ?? String(a.body).slice(0, 200);

/** A page of the cluster's keys (GET /keys on the attached node). */
export async function listKeys(ask: AskNode, q: KeyListQuery): Promise<KeyPage> {
  const params = new URLSearchParams({ limit: String(q.limit) });
  if (q.prefix !== null) params.set('prefix', q.prefix);
  if (q.cursor !== null) params.set('cursor', q.cursor);
  if (q.tombstones) params.set('tombstones', '1');
  const started = Date.now();
  const a = await ask(null, 'GET', `/keys?${params}`, undefined, 15_000);
  if (a.status !== 200) throw new Error(`GET /keys answered ${a.status}: ${String(errorText(a))}`);
  const b = a.body as { keys?: unknown; cursor?: unknown; scanned?: { partitions?: unknown; total?: unknown }; unavailable?: unknown };
  if (!Array.isArray(b?.keys)) throw new Error('GET /keys answered without a key list');
  const keys: KeyListEntry[] = [];
  for (const k of b.keys.slice(0, keyListLimitMax) as Record<string, unknown>[]) {
    if (typeof k?.key64 !== 'string' || k.key64.length > 2000) continue;
    keys.push({
      key: typeof k.key === 'string' && k.key.length <= 1024 ? k.key : null,
      key64: k.key64,
      siblings: Number.isInteger(k.siblings) ? (k.siblings as number) : 0,
      bytes: Number.isFinite(k.bytes) ? (k.bytes as number) : 0,
      deleted: k.deleted === true,
      partition: Number.isInteger(k.partition) ? (k.partition as number) : -1,
    });
  }
  return {
    keys,
    cursor: typeof b.cursor === 'string' && b.cursor.length <= cursorCharsMax ? b.cursor : null,
    scanned: { partitions: Number.isInteger(b.scanned?.partitions) ? (b.scanned!.partitions as number) : 0, total: Number.isInteger(b.scanned?.total) ? (b.scanned!.total as number) : 0 },
    unavailable: Array.isArray(b.unavailable) ? (b.unavailable as unknown[]).filter((p): p is number => Number.isInteger(p)).slice(0, partitionsMax) : [],
    elapsedMs: Date.now() - started,
  };
}

interface PartitionsAnswer {
  readonly node: string;
  readonly parts: Map<number, PartitionReplicaState>;
}

/** GET /admin/partitions of every member that answers. */
async function allPartitions(ask: AskNode, s: ClusterSnapshot): Promise<PartitionsAnswer[]> {
  const members = s.members.filter((m) => m.status === 'up' && m.state !== 'left').slice(0, 256);
  const got = await Promise.all(
    members.map(async (m): Promise<PartitionsAnswer | null> => {
      try {
        const a = await ask(m.id, 'GET', '/admin/partitions', undefined, 5000);
        const list = (a.body as { partitions?: unknown })?.partitions;
        if (a.status !== 200 || !Array.isArray(list)) return null;
        const parts = new Map<number, PartitionReplicaState>();
        for (const p of list.slice(0, partitionsMax) as Record<string, unknown>[]) {
          if (!Number.isInteger(p?.partition)) continue;
          const num = (x: unknown) => (Number.isFinite(x) ? (x as number) : null);
          parts.set(p.partition as number, { node: m.id, keys: num(p.keys), bytes: num(p.bytes), lastExchangeMs: num(p.lastExchangeMs), keysRepaired: num(p.keysRepaired), merkleRoot: typeof p.merkleRoot === 'string' && p.merkleRoot.length <= 128 ? p.merkleRoot : null });
        }
        return { node: m.id, parts };
      } catch {
        return null;
      }
    }),
  );
  return got.filter((x): x is PartitionsAnswer => x !== null);
}

/** What each member that answered holds per partition (keys and bytes), for a membership plan. */
export async function partitionSizes(ask: AskNode, s: ClusterSnapshot): Promise<Map<string, Map<number, PartitionSize>>> {
  const out = new Map<string, Map<number, PartitionSize>>();
  for (const a of await allPartitions(ask, s)) {
    const sizes = new Map<number, PartitionSize>();
    for (const [p, r] of a.parts) if (r.keys !== null && r.bytes !== null) sizes.set(p, { keys: r.keys, bytes: r.bytes });
    out.set(a.node, sizes);
  }
  return out;
}

/** Per partition: its replicas' anti-entropy state, as each reports it. */
export async function partitionsDetail(ask: AskNode, s: ClusterSnapshot): Promise<PartitionDetail[]> {
  const answers = new Map((await allPartitions(ask, s)).map((a) => [a.node, a.parts]));
  return s.partitions.map((p) => ({
    partition: p.partition,
    preferenceList: p.preferenceList,
    merkleAgree: p.merkleAgree,
    replicas: p.preferenceList.map((node) => answers.get(node)?.get(p.partition) ?? { node, keys: null, bytes: null, lastExchangeMs: null, keysRepaired: null, merkleRoot: null }),
  }));
}

/** Keys per partition, from the partition's first replica that reported it. */
export async function keysPerPartition(ask: AskNode, s: ClusterSnapshot): Promise<{ counts: Record<number, number>; complete: boolean }> {
  const answers = new Map((await allPartitions(ask, s)).map((a) => [a.node, a.parts]));
  const counts: Record<number, number> = {};
  let complete = true;
  for (const p of s.partitions) {
    const found = p.preferenceList.map((n) => answers.get(n)?.get(p.partition)?.keys).find((k): k is number => k !== null && k !== undefined);
    if (found === undefined) complete = false;
    else counts[p.partition] = found;
  }
  return { counts, complete };
}

/**
 * "Repair now": an exchange of the partition (or of every partition) with its other
 * replicas, started on each replica of it (POST /admin/repair), so every pair compares.
 */
export async function repair(ask: AskNode, s: ClusterSnapshot, partition: number | null): Promise<RepairReport> {
  if (partition !== null && (!Number.isInteger(partition) || partition < 0 || partition >= s.config.partitions)) throw new Error(`partition is an integer from 0 to ${s.config.partitions - 1}`);
  const targets = partition === null ? s.members.filter((m) => m.status === 'up' && m.state !== 'left').map((m) => m.id) : (s.partitions[partition]?.preferenceList ?? []);
  const out: RepairReport['partitions'][number][] = [];
  const errors: string[] = [];
  await Promise.all(
    targets.map(async (node) => {
      try {
        const a = await ask(node, 'POST', '/admin/repair', partition === null ? {} : { partition }, 30_000);
        const list = (a.body as { partitions?: unknown })?.partitions;
        if (a.status !== 200 || !Array.isArray(list)) {
          errors.push(`${node}: ${a.status} ${String(errorText(a))}`);
          return;
        }
        for (const r of list.slice(0, partitionsMax) as Record<string, unknown>[]) {
          if (!Number.isInteger(r?.partition)) continue;
          out.push({ partition: r.partition as number, node, peers: Array.isArray(r.peers) ? (r.peers as unknown[]).filter((x): x is string => typeof x === 'string').slice(0, 64) : [], keysRepaired: Number.isInteger(r.keysRepaired) ? (r.keysRepaired as number) : 0 });
        }
      } catch (e) {
        errors.push(`${node}: ${(e as Error).message}`);
      }
    }),
  );
  out.sort((a, b) => a.partition - b.partition || a.node.localeCompare(b.node));
  return { partitions: out, errors };
}

const failedMax = 1024;

export function checkFailed(v: unknown): string[] {
  if (!Array.isArray(v) || v.length > failedMax || v.some((x) => typeof x !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(x))) throw new Error('failed is a list of node ids');
  return [...new Set(v as string[])];
}

/** What-if: the snapshot's placement with `failed` down too, and the load to expect over `durationMs`. */
export async function whatIfView(ask: AskNode, s: ClusterSnapshot, failed: readonly string[], durationMs: number): Promise<WhatIfView> {
  if (!Number.isSafeInteger(durationMs) || durationMs < 0 || durationMs > 7 * 86_400_000) throw new Error('durationMs is an integer from 0 to 7 days');
  const known = await keysPerPartition(ask, s).catch(() => ({ counts: {}, complete: false }));
  const putsPerSecond = s.ops.put.perSecond + s.ops.delete.perSecond;
  const r = whatIf({
    n: s.config.n,
    r: s.config.r,
    w: s.config.w,
    partitions: s.partitions.map((p) => ({ partition: p.partition, preferenceList: p.preferenceList })),
    members: s.members.filter((m) => m.state !== 'left').map((m) => ({ id: m.id, status: m.status })),
    failed,
    keysPerPartition: known.counts,
    putsPerSecond,
    durationMs,
  });
  return { ...r, failed: [...failed], durationMs, putsPerSecond, keysKnown: known.complete };
}

interface ReplicasDoc {
  readonly replicas?: readonly { readonly node?: unknown; readonly versions?: readonly { readonly version?: unknown; readonly clock?: unknown; readonly events?: unknown; readonly deleted?: unknown }[] }[];
}

/** A version's exact events as /replicas sends them, bounded; undefined (the summary is used) when absent or malformed. */
function eventsOf(raw: unknown): CausalEvents | undefined {
  const o = raw as { entries?: unknown; dots?: unknown } | null;
  if (typeof o !== 'object' || o === null || typeof o.entries !== 'object' || o.entries === null || Array.isArray(o.entries) || !Array.isArray(o.dots)) return undefined;
  const entries: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [actor, c] of Object.entries(o.entries as Record<string, unknown>).slice(0, causalActorsMax)) if (Number.isSafeInteger(c) && (c as number) >= 0) entries[actor] = c as number;
  const dots = (o.dots as unknown[]).slice(0, causalDotsMax).flatMap((d) => {
    const x = d as { actor?: unknown; counter?: unknown } | null;
    return typeof x?.actor === 'string' && Number.isSafeInteger(x.counter) && (x.counter as number) >= 1 ? [{ actor: x.actor, counter: x.counter as number }] : [];
  });
  return { entries, dots };
}

/** A key's causal graph from what its replicas hold now (GET /replicas/{key}). */
export async function causal(ask: AskNode, key: string, encodedPath: string): Promise<CausalGraphView> {
  const a = await ask(null, 'GET', `/replicas/${encodedPath}`, undefined, 10_000);
  if (a.status !== 200) throw new Error(`/replicas answered ${a.status}: ${String(errorText(a))}`);
  const doc = a.body as ReplicasDoc;
  const versions = new Map<string, CausalVersion & { heldBy: string[] }>();
  for (const r of (doc.replicas ?? []).slice(0, 64)) {
    if (typeof r.node !== 'string') continue;
    for (const v of (r.versions ?? []).slice(0, 128)) {
      if (typeof v.version !== 'string' || typeof v.clock !== 'object' || v.clock === null) continue;
      const clock: Record<string, number> = Object.create(null) as Record<string, number>;
      for (const [actor, c] of Object.entries(v.clock as Record<string, unknown>).slice(0, 64)) if (Number.isSafeInteger(c) && (c as number) >= 0) clock[actor] = c as number;
      const have = versions.get(v.version);
      if (have) have.heldBy.push(r.node);
      else versions.set(v.version, { version: v.version, clock, events: eventsOf(v.events), deleted: v.deleted === true, heldBy: [r.node] });
    }
  }
  let g: CausalGraph;
  try {
    g = causalGraph([...versions.values()].slice(0, 64));
  } catch (e) {
    // What a node sent does not make a graph (causalGraph names why): say so, draw nothing.
    throw new Error(`the replicas' clocks of this key cannot be drawn: ${(e as Error).message}`, { cause: e });
  }
  return { key, nodes: g.nodes, edges: g.edges, ancestorsOmitted: g.ancestorsOmitted };
}
