// The client HTTP API of CONTRACT.md: the server, its router and what happens around every
// request (guards, errors, metrics). The routes live by family in kv.ts, replicas.ts, admin.ts
// and status.ts, the guards in guards.ts. Every input is parsed and validated once and
// coordinator results are turned into statuses; the API holds no logic of its own.

import http from 'node:http';
import https from 'node:https';
import type { TlsOptions } from 'node:tls';
import { encodeContext } from '../core/context.js';
import { ControlServer } from '../control/server.js';
import type { GyreNode } from '../node/node.js';
import { faultsPath, faultsPrefix, faultsRoute, leaveRoute, traceRoute } from './admin.js';
import { HttpBudget } from './budget.js';
import { admitToBudget, refuseBrowserAdmin, requireJsonAdminBody, requireLoopbackHost, requireRole } from './guards.js';
import { kvPrefix, kvRoute } from './kv.js';
import { replicasPrefix, replicasRoute } from './replicas.js';
import { HttpError, answerAfterBody, sendError } from './respond.js';
import type { ApiContext, Op, RouteHandler } from './route.js';
import { metricsPath, metricsRoute, statusPath, statusRoute } from './status.js';

export { decodeKeySegment } from './kv.js';
export { isLoopbackHost } from './guards.js';
export { versionId } from './respond.js';

/** Client connections served at once; more wait in the kernel backlog. */
export const httpConnectionsMax = 4096;
/** Time a client has to send its request headers. */
const headersTimeoutMs = 10_000;
/** Time a client has to send its whole request, body included. */
const requestReceiveTimeoutMs = 60_000;
/** Time an idle keep-alive connection is held open for the client's next request. */
const keepAliveTimeoutMs = 30_000;
const headersCountMax = 100;
/** The status a request is counted under when its client hung up first (nginx's convention). */
const clientClosedRequestStatus = 499;
const nsPerSecond = 1e9;
const msPerSecond = 1000;
/** Only the path and query of a request target are read; the origin is a placeholder. */
const urlBase = 'http://gyre.invalid';

interface Route {
  readonly op: Op;
  readonly handle: RouteHandler;
}

/** The route for a request, tried in this order; undefined when none matches. */
function findRoute(method: string | undefined, path: string): Route | undefined {
  // Any method reaches the kv route, which answers 405 itself with the methods it allows.
  if (path.startsWith(kvPrefix)) return { op: method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : 'get', handle: kvRoute };
  if (path.startsWith(replicasPrefix) && method === 'GET') return { op: 'replicas', handle: replicasRoute };
  if (path === '/admin/leave' && method === 'POST') return { op: 'admin', handle: leaveRoute };
  if (path === '/admin/trace' && method === 'POST') return { op: 'admin', handle: traceRoute };
  if (path === faultsPath || path.startsWith(faultsPrefix)) return { op: 'admin', handle: faultsRoute };
  if (path === statusPath && method === 'GET') return { op: 'status', handle: statusRoute };
  if (path === metricsPath && method === 'GET') return { op: 'metrics', handle: metricsRoute };
  return undefined;
}

function parseTarget(rawUrl: string): URL {
  try {
    return new URL(rawUrl, urlBase);
  } catch {
    throw new HttpError(400, 'bad_request', 'the request target is not a valid URL path');
  }
}

/** Runs the guards, then the route; `request.op` is set as soon as the route is known, for the metrics. */
async function serve(ctx: ApiContext, req: http.IncomingMessage, res: http.ServerResponse, rawUrl: string, path: string, request: { op: Op }): Promise<number> {
  const refused = requireRole(ctx, req, res, path) ?? requireLoopbackHost(ctx, req, res);
  if (refused !== undefined) return refused;
  const url = parseTarget(rawUrl);
  const refusedAdmin = refuseBrowserAdmin(ctx, req, res, path) ?? requireJsonAdminBody(ctx, req, res, path);
  if (refusedAdmin !== undefined) return refusedAdmin;
  const route = findRoute(req.method, path);
  if (route === undefined) {
    sendError(res, 404, 'no_route', `no route for ${req.method} ${path}`);
    return 404;
  }
  request.op = route.op;
  return route.handle(ctx, req, res, url, path);
}

/** Answers a request whose guards or route threw, and returns the status it is counted under. */
function answerFailure(ctx: ApiContext, req: http.IncomingMessage, res: http.ServerResponse, path: string, e: unknown): number {
  if (e instanceof HttpError) {
    // A 413 comes while the body may still be arriving: answer once it is in (see answerAfterBody).
    if (e.status === 413) answerAfterBody(req, () => sendError(res, e.status, e.code, e.message, { connection: 'close' }));
    else sendError(res, e.status, e.code, e.message);
    return e.status;
  }
  // A client that hung up mid-request is not a server error.
  if (req.destroyed || (e as { code?: unknown }).code === 'ECONNRESET' || (e as Error).message === 'aborted') {
    ctx.node.log.debug({ path }, 'client went away mid-request');
    return clientClosedRequestStatus;
  }
  ctx.node.log.error({ err: String(e), path }, 'request failed');
  sendError(res, 500, 'internal', 'internal error');
  return 500;
}

function recordRequest(ctx: ApiContext, op: Op, startedNs: bigint, status: number): void {
  const seconds = Number(process.hrtime.bigint() - startedNs) / nsPerSecond;
  ctx.node.metrics.requests.inc({ op, status: String(status) });
  ctx.node.metrics.requestSeconds.observe({ op }, seconds);
  if (op === 'get' || op === 'put' || op === 'delete') ctx.node.observe.recordOp(op, seconds * msPerSecond, status);
}

function handleRequest(ctx: ApiContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const startedNs = process.hrtime.bigint();
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const request: { op: Op } = { op: 'other' };
  const finish = (status: number) => recordRequest(ctx, request.op, startedNs, status);
  const shed = admitToBudget(ctx, req, res, path);
  if (shed !== undefined) {
    finish(shed);
    return;
  }
  serve(ctx, req, res, rawUrl, path, request).then(finish, (e: unknown) => finish(answerFailure(ctx, req, res, path, e)));
}

/** The part of a connection's socket a parser error is answered on. */
interface RawSocket {
  readonly writable: boolean;
  destroy(): void;
  end(data: string): void;
}

/**
 * Requests the HTTP parser refuses (oversized headers, malformed syntax) still get the
 * contract's JSON error body, then the connection is closed.
 */
function answerUnparsable(err: NodeJS.ErrnoException, socket: RawSocket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify({ error: tooLarge ? 'headers_too_large' : 'bad_request', message: tooLarge ? 'request headers are too large' : `malformed HTTP request (${err.code ?? 'parse error'})` });
  socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * The node's HTTP server: the client API of CONTRACT.md, admin routes, and (unless `control`
 * is false) the Socket.IO control plane on the same port.
 */
export function createApiServer(node: GyreNode, opts: { control?: boolean; respAddress?: string; tls?: TlsOptions | undefined } = {}): http.Server {
  const controlOn = opts.control !== false;
  const ctx: ApiContext = {
    node,
    config: node.config,
    scheme: opts.tls ? 'https' : 'http',
    controlOn,
    respAddress: opts.respAddress,
    budget: new HttpBudget(),
    contextFor: (clock, key) => encodeContext(clock, key, node.contextKeys()),
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => handleRequest(ctx, req, res);
  const server: http.Server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
  server.on('clientError', answerUnparsable);
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = requestReceiveTimeoutMs;
  server.keepAliveTimeout = keepAliveTimeoutMs;
  server.maxHeadersCount = headersCountMax;
  server.maxConnections = httpConnectionsMax;
  if (controlOn) {
    const control = new ControlServer(node, server);
    server.once('close', () => void control.close());
  }
  return server;
}
