// Browsers: a page from an origin named in --cors-origins may call the data routes with the
// client library (fetch): its requests get the CORS headers that let the page read the answer
// (X-Gyre-Context among them), and its preflights are answered here, before the token is
// asked for (a preflight carries none). Any other origin gets no CORS header, so the browser
// keeps the answer from the page; admin routes are never opened to a page, whatever its origin:
// the operator's console reaches them from its own backend.
//
// CORS protects the page's user, not the node: the token still decides what a request may do.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminPrefix } from './admin.js';

export const allowMethods = 'GET, HEAD, PUT, DELETE';
export const allowHeaders = 'authorization, content-type, accept, x-gyre-context';
/** What a page may read of an answer beyond the CORS-safelisted headers. */
export const exposeHeaders = 'x-gyre-context, x-gyre-version, x-gyre-cost, retry-after, www-authenticate, allow';
const preflightMaxAgeSeconds = 600;

/** An origin as --cors-origins takes it: scheme://host[:port], nothing after. */
export function corsOriginProblem(origin: string): string | undefined {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return `${JSON.stringify(origin)} is not an origin (scheme://host[:port])`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${origin}: only http and https origins`;
  if (u.origin !== origin) return `${JSON.stringify(origin)} is not an origin: write it as ${u.origin} (no path, no trailing slash)`;
  return undefined;
}

/**
 * Adds the CORS headers a request from an allowed origin gets, and answers its preflight.
 * Returns the status sent when it answered (a preflight), undefined to go on.
 */
export function applyCors(origins: ReadonlySet<string>, req: IncomingMessage, res: ServerResponse, path: string): number | undefined {
  const origin = req.headers.origin;
  if (origins.size === 0 || origin === undefined || !origins.has(origin) || path.startsWith(adminPrefix)) return undefined;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    res.writeHead(204, {
      'access-control-allow-methods': allowMethods,
      'access-control-allow-headers': allowHeaders,
      'access-control-max-age': String(preflightMaxAgeSeconds),
      'content-length': '0',
    });
    res.end();
    return 204;
  }
  res.setHeader('access-control-expose-headers', exposeHeaders);
  return undefined;
}
