// The admin routes: join or leave the cluster, trace one request through the coordinator, and inject
// or heal faults. They change the cluster, so guards.ts keeps browsers off them on a node
// without a token and requires a JSON body.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { faultToJson } from '../core/faults.js';
import { seedProblem } from '../core/ids.js';
import { joinSeedsMax } from '../node/node.js';
import { runTrace } from '../control/trace-request.js';
import { HttpError, readBody, sendError, sendJson } from './respond.js';
import type { ApiContext, PathParams } from './route.js';

export const adminPrefix = '/admin/';

/** A fault spec is a small JSON object. */
export const faultRequestBytesMax = 64 * 1024;
/** A traced put carries a value: a value's limit plus room for the JSON around it (base64). */
export const traceRequestBytesMax = 2 * 1024 * 1024;

/** POST /admin/leave: 202 once the handoff of this node's partitions has begun, 409 when it cannot leave. */
export async function leaveRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  const r = ctx.node.leave();
  sendJson(res, r.ok ? 202 : 409, r.ok ? { ok: true, message: r.message } : { error: 'cannot_leave', message: r.message });
  return r.ok ? 202 : 409;
}

/** A join body names at most joinSeedsMax seeds of a few hundred characters each. */
export const joinRequestBytesMax = 8 * 1024;

/** The seeds of a join body, {"seeds": ["host:port", ...]}: 1 to joinSeedsMax, distinct. */
export function parseJoinBody(raw: Buffer): string[] {
  const usage = 'the body is {"seeds": ["host:port", ...]}: client addresses of members of the cluster to join';
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_request', `the body must be JSON: ${usage}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'bad_request', usage);
  const extra = Object.keys(body).find((k) => k !== 'seeds');
  if (extra !== undefined) throw new HttpError(400, 'bad_request', `unknown field ${JSON.stringify(extra.slice(0, 32))}: ${usage}`);
  const seeds = (body as { seeds?: unknown }).seeds;
  if (!Array.isArray(seeds) || seeds.length === 0 || seeds.length > joinSeedsMax) throw new HttpError(400, 'bad_seeds', `seeds must be an array of 1 to ${joinSeedsMax} host:port strings`);
  for (const seed of seeds) {
    if (typeof seed !== 'string') throw new HttpError(400, 'bad_seeds', 'every seed is a host:port string');
    const problem = seedProblem(seed);
    if (problem) throw new HttpError(400, 'bad_seeds', problem);
  }
  return [...new Set(seeds as string[])];
}

/**
 * POST /admin/join: 202 once this empty, single-node cluster's node has started joining the
 * cluster of the named seeds; 409 when it cannot (it has members or data, or a seed's node has
 * its id), 503 when no seed answers.
 */
export async function joinRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const seeds = parseJoinBody(await readBody(req, joinRequestBytesMax));
  const r = await ctx.node.joinVia(seeds);
  if (!r.ok) throw new HttpError(r.error === 'bad_seeds' ? 400 : r.error === 'seeds_unreachable' ? 503 : 409, r.error, r.message);
  sendJson(res, 202, { ok: true, message: r.message, seeds });
  return 202;
}

/** POST /admin/trace: runs one get, put or delete with tracing on and answers with its steps. */
export async function traceRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
  let raw: unknown;
  try {
    raw = JSON.parse((await readBody(req, traceRequestBytesMax)).toString('utf8'));
  } catch (e) {
    if (e instanceof HttpError) throw e; // a body over the limit stays a 413
    throw new HttpError(400, 'bad_request', 'the body must be a JSON trace request {op, key, ...}');
  }
  const out = await runTrace(ctx.node, raw);
  if (!out.ok) throw new HttpError(400, out.error, out.message);
  sendJson(res, 200, out.value);
  return 200;
}

/** GET /admin/faults: the faults in force. */
export async function listFaultsRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  sendJson(res, 200, { version: ctx.node.faults.version, faults: ctx.node.faults.list().map((f) => faultToJson(f, ctx.node.env.now())) });
  return 200;
}

/** POST /admin/faults: injects one fault (a JSON spec) into the whole cluster. */
export async function injectFaultRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const body = await readBody(req, faultRequestBytesMax);
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'bad_fault', 'the body must be a JSON object describing the fault');
  }
  const r = await ctx.node.faults.request(raw);
  if (!r.ok) throw new HttpError(r.error === 'faults_disabled' ? 403 : 400, r.error, r.message);
  const out = r.value;
  sendJson(res, 201, { fault: faultToJson(out.fault, ctx.node.env.now()), reached: out.reached, missed: out.missed });
  return 201;
}

/** DELETE /admin/faults: heals every fault this node knows of. */
export function healAllFaultsRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  return healFaults(ctx, res, undefined);
}

/** DELETE /admin/faults/{id}: heals one fault; 404 when none by that id is in force. */
export function healFaultRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, _url: URL, params: PathParams): Promise<number> {
  return healFaults(ctx, res, parseFaultId(params.id ?? ''));
}

/** The id in /admin/faults/{id}, percent-decoded. */
function parseFaultId(raw: string): string {
  // An empty id would otherwise read as "every fault": a heal-all must say so (DELETE /admin/faults).
  if (raw === '') throw new HttpError(400, 'bad_fault_id', 'the fault id is empty (DELETE /admin/faults heals every fault)');
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_fault_id', 'malformed percent-encoding in the fault id');
  }
}

/** Heals the fault `id`, or every fault when `id` is undefined. */
async function healFaults(ctx: ApiContext, res: ServerResponse, id: string | undefined): Promise<number> {
  const out = await ctx.node.faults.heal(id);
  if (id !== undefined && out.healed.length === 0) {
    sendError(res, 404, 'no_such_fault', `no fault ${id} is in force`);
    return 404;
  }
  sendJson(res, 200, { healed: out.healed.map((f) => faultToJson(f, ctx.node.env.now())), reached: out.reached, missed: out.missed });
  return 200;
}
