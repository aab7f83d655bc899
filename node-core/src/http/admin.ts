// The admin routes: leave the cluster, trace one request through the coordinator, and inject
// or heal faults. They change the cluster, so guards.ts keeps browsers off them on a node
// without a token and requires a JSON body.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { faultToJson } from '../core/faults.js';
import { runTrace } from '../control/trace-request.js';
import { HttpError, readBody, sendError, sendJson } from './respond.js';
import type { ApiContext } from './route.js';

export const adminPrefix = '/admin/';
export const faultsPath = '/admin/faults';
export const faultsPrefix = '/admin/faults/';

const faultRequestBytesMax = 64 * 1024;
/** A traced put carries a value: a value's limit plus room for the JSON around it (base64). */
export const traceRequestBytesMax = 2 * 1024 * 1024;

/** POST /admin/leave: 202 once the handoff of this node's partitions has begun, 409 when it cannot leave. */
export async function leaveRoute(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): Promise<number> {
  const r = ctx.node.leave();
  sendJson(res, r.ok ? 202 : 409, r.ok ? { ok: true, message: r.message } : { error: 'cannot_leave', message: r.message });
  return r.ok ? 202 : 409;
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

/** Fault injection: GET lists, POST injects one (JSON spec), DELETE heals all or one (by id). */
export async function faultsRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, _url: URL, path: string): Promise<number> {
  const id = parseFaultId(path);
  if (req.method === 'GET' && id === undefined) {
    sendJson(res, 200, { version: ctx.node.faults.version, faults: ctx.node.faults.list().map((f) => faultToJson(f, ctx.node.env.now())) });
    return 200;
  }
  if (req.method === 'POST' && id === undefined) return injectFault(ctx, req, res);
  if (req.method === 'DELETE') return healFaults(ctx, res, id);
  sendError(res, 405, 'method_not_allowed', `${req.method} is not supported on ${path}`, { allow: id === undefined ? 'GET, POST, DELETE' : 'DELETE' });
  return 405;
}

/** The id in /admin/faults/{id}; undefined for /admin/faults itself. */
function parseFaultId(path: string): string | undefined {
  if (path.length <= faultsPrefix.length) return undefined;
  try {
    return decodeURIComponent(path.slice(faultsPrefix.length));
  } catch {
    throw new HttpError(400, 'bad_fault_id', 'malformed percent-encoding in the fault id');
  }
}

async function injectFault(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<number> {
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
