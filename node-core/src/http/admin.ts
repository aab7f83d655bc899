// The admin routes: leave the cluster, trace one request through the coordinator, and inject
// or heal faults. They change the cluster, so guards.ts keeps browsers off them on a node
// without a token and requires a JSON body.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { faultToJson } from '../core/faults.js';
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
