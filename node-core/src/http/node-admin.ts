// The admin routes an operator console reads one node by: its recent log lines, what it holds
// per partition, an anti-entropy repair run now, and its effective settings. Admin role like
// every /admin/ route (guards.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { logReadLinesMax } from '../node/log-ring.js';
import { ringOf } from '../core/gossip.js';
import { computePreferenceList } from '../core/ring.js';
import { HttpError, readBody, sendJson } from './respond.js';
import type { ApiContext } from './route.js';
import type { ConfigDocument, LogDocument, PartitionJson, PartitionsDocument, RepairDocument } from '../wire/api.js';

export const logPath = '/admin/log';
export const partitionsPath = '/admin/partitions';
export const repairPath = '/admin/repair';
export const configPath = '/admin/config';

export const logLinesDefault = 100;
export { logReadLinesMax };
/** The longest `filter` taken, in characters. */
export const logFilterCharsMax = 256;
/** A repair request is `{}` or `{"partition": p}`. */
export const repairRequestBytesMax = 1024;
/** How long POST /admin/repair waits for its exchanges before it answers with what is done. */
export const repairBudgetMs = 10_000;

function parseCount(raw: string | null, name: string, min: number, max: number, fallback: number): number {
  if (raw === null) return fallback;
  const v = Number(raw);
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) throw new HttpError(400, `bad_${name}`, `${name} must be an integer in ${min}..${max}`);
  return v;
}

/** GET /admin/log?lines=N&filter=TEXT&after=SEQ: the node's recent log lines, from its in-memory ring. */
export async function logRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> {
  const lines = parseCount(url.searchParams.get('lines'), 'lines', 1, logReadLinesMax, logLinesDefault);
  const rawAfter = url.searchParams.get('after');
  const after = rawAfter === null ? undefined : parseCount(rawAfter, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
  const filter = url.searchParams.get('filter') ?? undefined;
  if (filter !== undefined && filter.length > logFilterCharsMax) throw new HttpError(400, 'bad_filter', `filter is at most ${logFilterCharsMax} characters`);
  const out = ctx.logRing.read({ after, filter: filter === '' ? undefined : filter, lines });
  const body: LogDocument = { lines: out.lines, next: out.next, dropped: out.dropped };
  sendJson(res, 200, body, { 'Cache-Control': 'no-store' });
  return 200;
}

/** The partitions this node holds: those whose preference list names it, and any it still has data of. */
function heldPartitions(ctx: ApiContext): { partition: number; replica: boolean }[] {
  const { node, config } = ctx;
  const stored = new Set(node.store.partitionsHeld());
  const out: { partition: number; replica: boolean }[] = [];
  // One copy of the ring for the whole walk: node.preferenceList copies it per call (O(Q) each).
  const ring = ringOf(node.clusterState());
  for (let p = 0; p < config.partitions; p++) {
    const replica = computePreferenceList(ring, p, config.n).includes(config.id);
    if (replica || stored.has(p)) out.push({ partition: p, replica });
  }
  return out;
}

/** GET /admin/partitions: keys, bytes and anti-entropy state of every partition this node holds. */
export async function partitionsRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  const { node, config } = ctx;
  const usage = node.store.partitionUsage?.() ?? new Map<number, { keys: number; bytes: number }>();
  const partitions: PartitionJson[] = heldPartitions(ctx).map(({ partition, replica }) => {
    const u = usage.get(partition);
    const ae = node.antiEntropy.partitionStatus(partition);
    return { partition, replica, keys: u?.keys ?? 0, bytes: u?.bytes ?? 0, lastExchangeMs: ae.lastExchangeMs, keysRepaired: ae.keysRepaired, merkleRoot: ae.merkleRoot };
  });
  const body: PartitionsDocument = { node: config.id, partitions };
  sendJson(res, 200, body, { 'Cache-Control': 'no-store' });
  return 200;
}

/** The partitions a repair body names: `{}` every partition this node replicates, `{"partition": p}` that one. */
function parseRepairBody(ctx: ApiContext, raw: Buffer): number[] {
  let body: unknown;
  try {
    body = raw.byteLength === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_request', 'the body must be JSON: {} or {"partition": p}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'bad_request', 'the body must be a JSON object: {} or {"partition": p}');
  const extra = Object.keys(body).filter((k) => k !== 'partition');
  if (extra.length > 0) throw new HttpError(400, 'bad_request', `unknown field ${JSON.stringify(extra[0]!.slice(0, 32))}: the body is {} or {"partition": p}`);
  const p = (body as { partition?: unknown }).partition;
  const { config, node } = ctx;
  const ring = ringOf(node.clusterState());
  const mine = (q: number) => computePreferenceList(ring, q, config.n).includes(config.id);
  if (p === undefined) return Array.from({ length: config.partitions }, (_, q) => q).filter(mine);
  if (!Number.isSafeInteger(p) || (p as number) < 0 || (p as number) >= config.partitions) throw new HttpError(400, 'bad_partition', `partition must be an integer in 0..${config.partitions - 1}`);
  // 400, not 404: the route exists and the partition too; this node is the wrong one to ask.
  if (!mine(p as number)) throw new HttpError(400, 'not_replica', `this node is not a replica of partition ${String(p)}: ask one of ${computePreferenceList(ring, p as number, config.n).join(', ')}`);
  return [p as number];
}

/** Resolves with the promise's value, or with `onTimeout` once `ms` pass (the work itself goes on). */
function within<T>(ctx: ApiContext, promise: Promise<T>, ms: number, onTimeout: T): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = ctx.node.env.setTimer(Math.max(0, ms), () => resolve(onTimeout));
    promise.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (e: unknown) => {
        timer.cancel();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

type RepairOutcome = { readonly ok: true; readonly keysRepaired: number; readonly agreed: boolean } | { readonly ok: false; readonly reason: string };

/** POST /admin/repair: an anti-entropy exchange now with every other reachable replica of the partition(s), answered when done (at most about 10 s). */
export async function repairRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const { node, config } = ctx;
  const partitions = parseRepairBody(ctx, await readBody(req, repairRequestBytesMax));
  const deadline = node.env.now() + repairBudgetMs;
  const ring = ringOf(node.clusterState());
  const out: RepairDocument['partitions'][number][] = [];
  let complete = true;
  for (const p of partitions) {
    if (node.env.now() >= deadline) {
      complete = false;
      break;
    }
    const others = computePreferenceList(ring, p, config.n).filter((id) => id !== config.id);
    const peers = others.filter((id) => node.isUp(id));
    const skipped = others.filter((id) => !node.isUp(id)).map((id) => ({ node: id, reason: `seen ${node.liveness(id)}` }));
    const outcomes = await Promise.all(
      peers.map((peer) =>
        within<RepairOutcome>(
          ctx,
          node.antiEntropy.repairNow(peer, p, deadline).then(
            (r) => ({ ok: true, ...r }),
            (e: unknown) => ({ ok: false, reason: String((e as Error).message ?? e) }),
          ),
          deadline - node.env.now(),
          { ok: false, reason: 'timed out' },
        ),
      ),
    );
    let keysRepaired = 0;
    let agreed = true;
    const exchanged: string[] = [];
    outcomes.forEach((o, i) => {
      if (o.ok) {
        exchanged.push(peers[i]!);
        keysRepaired += o.keysRepaired;
        agreed &&= o.agreed;
      } else {
        skipped.push({ node: peers[i]!, reason: o.reason });
        agreed = false;
      }
    });
    if (skipped.length > 0) agreed = false;
    out.push({ partition: p, peers: exchanged, keysRepaired, skipped, agreed });
  }
  const body: RepairDocument = { partitions: out, complete };
  sendJson(res, 200, body);
  return 200;
}

/** GET /admin/config: the node's effective settings, secrets shown only as set or unset. */
export async function configRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  const body: ConfigDocument = { node: ctx.config.id, settings: ctx.settings };
  sendJson(res, 200, body, { 'Cache-Control': 'no-store' });
  return 200;
}
