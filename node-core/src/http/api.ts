// The client HTTP API of CONTRACT.md: the server and what happens around every request
// (guards, errors, metrics). Which handler answers is the route table's (routes.ts, the one
// list of routes, which /openapi.json documents); the handlers live by family in kv.ts,
// replicas.ts, admin.ts and status.ts, the guards in guards.ts. Every input is parsed and
// validated once and coordinator results are turned into statuses; the API holds no logic of
// its own.

import http from 'node:http';
import https from 'node:https';
import type { TlsOptions } from 'node:tls';
import { encodeContext } from '../core/context.js';
import { ControlServer } from '../control/server.js';
import type { GyreNode } from '../node/node.js';
import { LogRing } from '../node/log-ring.js';
import type { SettingValue } from '../wire/api.js';
import { HttpBudget } from './budget.js';
import { applyCors } from './cors.js';
import { admitToBudget, refuseBrowserAdmin, requireJsonAdminBody, requireLoopbackHost, requireRole } from './guards.js';
import { HttpError, answerAndLinger, isLingering, sendError } from './respond.js';
import type { ApiContext, Op } from './route.js';
import { matchRoute } from './routes.js';

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
  const match = matchRoute(req.method, path);
  if (match.kind === 'no_route') {
    sendError(res, 404, 'no_route', `no route for ${req.method} ${path}`);
    return 404;
  }
  if (match.kind === 'method_not_allowed') {
    sendError(res, 405, 'method_not_allowed', `${req.method} is not supported on ${match.path}`, { allow: match.allow.join(', ') });
    return 405;
  }
  request.op = match.route.op;
  return match.route.handle(ctx, req, res, url, match.params);
}

/** Answers a request whose guards or route threw, and returns the status it is counted under. */
function answerFailure(ctx: ApiContext, req: http.IncomingMessage, res: http.ServerResponse, path: string, e: unknown): number {
  if (e instanceof HttpError) {
    // A 413 comes while the body may still be arriving: answered at once, the rest drained (see answerAndLinger).
    if (e.status === 413) answerAndLinger(req, res, e.status, e.code, e.message);
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
  if (isLingering(req.socket)) {
    // A request after a refused one on the same connection, which is closing: not served.
    req.socket.destroy();
    return;
  }
  const preflight = applyCors(ctx.corsOrigins, req, res, path);
  if (preflight !== undefined) {
    finish(preflight);
    return;
  }
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

const headMethodPrefix = 'HEAD ';

/** What Node's parser attaches to its error: the bytes it was reading when it gave up. */
type ParserError = NodeJS.ErrnoException & { readonly rawPacket?: Buffer };

/**
 * Requests the HTTP parser refuses (oversized headers, malformed syntax) still get the
 * contract's JSON error body, then the connection is closed. An answer to HEAD has no body
 * (a client reads none, and takes what follows for garbage): the method is known when the
 * request line is among the bytes the parser was reading, as it is for a header block sent
 * in one write.
 */
function answerUnparsable(err: ParserError, socket: RawSocket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify({ error: tooLarge ? 'headers_too_large' : 'bad_request', message: tooLarge ? 'request headers are too large' : `malformed HTTP request (${err.code ?? 'parse error'})` });
  const head = err.rawPacket?.subarray(0, headMethodPrefix.length).toString('latin1') === headMethodPrefix;
  socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? '' : body}`);
}

/**
 * The node's HTTP server: the client API of CONTRACT.md, admin routes, and (unless `control`
 * is false) the Socket.IO control plane on the same port.
 */
export function createApiServer(
  node: GyreNode,
  opts: { control?: boolean; respAddress?: string; tls?: TlsOptions | undefined; logRing?: LogRing; settings?: Readonly<Record<string, SettingValue>> } = {},
): http.Server {
  const controlOn = opts.control !== false;
  const ctx: ApiContext = {
    node,
    config: node.config,
    scheme: opts.tls ? 'https' : 'http',
    controlOn,
    respAddress: opts.respAddress,
    budget: new HttpBudget(),
    corsOrigins: new Set(node.config.corsOrigins ?? []),
    contextFor: (clock, key) => encodeContext(clock, key, node.contextKeys()),
    // A server built without them (serveNode always passes both) has no lines and no settings to show.
    logRing: opts.logRing ?? new LogRing(),
    settings: opts.settings ?? { id: node.config.id },
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
