// The checks a request passes before its route runs: the node-wide budget, the token, the Host
// of a tokenless node, and two rules for admin routes. A guard that refuses answers the request
// itself and returns the status it sent; undefined lets the request through.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { roleOf } from '../node/secrets.js';
import { valueBytesMax } from '../core/codec.js';
import { adminPrefix, traceRequestBytesMax } from './admin.js';
import { answerAndLinger, sendError } from './respond.js';
import type { ApiContext } from './route.js';
import { metricsPath, statusPath } from './status.js';

const bearerPrefix = 'Bearer ';
/** How long a shed client is told to wait (Retry-After) before it tries again. */
const overloadedRetryAfterSeconds = 1;

/** Body bytes a request is admitted for, from its headers alone (see HttpBudget). */
function declaredBodyBytes(req: IncomingMessage): number {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    // A larger body is refused with 413 before much of it is read: reserve no more than can be taken.
    return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, traceRequestBytesMax) : 0;
  }
  return req.headers['transfer-encoding'] !== undefined ? valueBytesMax : 0;
}

/** Admits the request to the node-wide budget of requests and body bytes in flight, or sheds it with 503. */
export function admitToBudget(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, path: string): number | undefined {
  // Status and metrics stay answerable in a flood: that is when operators need them.
  if (req.method === 'GET' && (path === statusPath || path === metricsPath)) return undefined;
  const admitted = ctx.budget.admit(declaredBodyBytes(req));
  if (!admitted.ok) {
    ctx.node.metrics.httpShed.inc();
    answerAndLinger(req, res, 503, 'overloaded', admitted.message, { 'retry-after': String(overloadedRetryAfterSeconds) });
    return 503;
  }
  // 'close' comes once the response is sent or the client went away, whichever is first.
  res.once('close', admitted.release);
  return undefined;
}

/** The bearer token of an Authorization header, if it has one. */
function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith(bearerPrefix) ? header.slice(bearerPrefix.length) : undefined;
}

/**
 * The request's credential decides what it may do (node/secrets.ts): none or a wrong one gets
 * 401; the cluster token on an admin route, where an admin token is set, gets 403.
 */
export function requireRole(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, path: string): number | undefined {
  const role = roleOf(ctx.node.credentials, bearerToken(req.headers.authorization));
  if (role === undefined) {
    sendError(res, 401, 'unauthorized', 'this cluster requires Authorization: Bearer <token>', { 'www-authenticate': 'Bearer' });
    return 401;
  }
  if (role !== 'admin' && path.startsWith(adminPrefix)) {
    sendError(res, 403, 'admin_required', 'admin routes (leave, trace, faults) take the admin token on this cluster (GYRE_ADMIN_TOKEN), not the cluster token');
    return 403;
  }
  return undefined;
}

/**
 * Without a token, a web page the operator has open could reach the node through a DNS name
 * it controls that resolves to 127.0.0.1 (DNS rebinding): the browser then sends that name as
 * Host. A tokenless node listens on loopback only, so only loopback names are accepted.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true; // HTTP/1.0 tools; browsers always send Host
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d*$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

export function requireLoopbackHost(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): number | undefined {
  if (ctx.config.token !== undefined) return undefined; // the token keeps other pages out
  if (isLoopbackHost(req.headers.host)) return undefined;
  sendError(res, 403, 'forbidden_host', 'a node without a token answers only requests addressed to a loopback name (Host: localhost or 127.0.0.1); set GYRE_TOKEN to serve other names');
  return 403;
}

/**
 * Admin routes change the cluster: without a token a browser request (it carries an Origin)
 * could come from any web page the operator has open, so it is refused.
 */
export function refuseBrowserAdmin(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, path: string): number | undefined {
  if (!path.startsWith(adminPrefix)) return undefined;
  if (ctx.node.credentials.cluster !== undefined || ctx.node.credentials.admin !== undefined || req.headers.origin === undefined) return undefined;
  sendError(res, 403, 'forbidden', 'admin routes of a cluster without a token do not accept browser requests; set GYRE_TOKEN');
  return 403;
}

/** Admin bodies are read as JSON: one labelled otherwise is refused up front, not read and misparsed. */
export function requireJsonAdminBody(_ctx: ApiContext, req: IncomingMessage, res: ServerResponse, path: string): number | undefined {
  if (!path.startsWith(adminPrefix) || req.method !== 'POST') return undefined;
  const length = req.headers['content-length'];
  if (length === undefined || length === '0') return undefined; // no body (leave): nothing to label
  if ((req.headers['content-type'] ?? '').startsWith('application/json')) return undefined;
  sendError(res, 415, 'unsupported_media_type', 'admin requests with a body take Content-Type: application/json');
  return 415;
}
