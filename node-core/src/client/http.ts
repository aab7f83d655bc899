// One HTTP exchange with a Gyre node, for every client in the repo (the CLI, the console, the
// bench, the chaos run, the tests). Written on node:http rather than fetch because callers need
// what fetch hides: the path sent byte for byte (percent-encoding is theirs), chunked bodies,
// a fresh connection per request where a test kills nodes, and a cap on what a server may
// make us buffer.

import http from 'node:http';
import https from 'node:https';
import { HttpError, type RawRequest, type RawResponse, type Transport, type TransportOptions, bodyBytes, parseBase, requestTimeoutMs } from './transport.js';

export { HttpError, header, requestTimeoutMs, responseBytesMaxDefault, type RawRequest, type RawResponse } from './transport.js';

export interface ConnectionOptions {
  /** A keep-alive agent to pool connections on, or `false` for a fresh connection per request. */
  readonly agent: http.Agent | false;
  /** Bytes of response body buffered at most; a longer body fails the request. */
  readonly responseBytesMax: number;
  /** Trusted CA certificates for https URLs (PEM). */
  readonly ca?: string | Buffer | undefined;
}

/** Body chunk size when sending chunked. */
const chunkBytes = 64 * 1024;

/** The Node transport: one keep-alive agent per node (or none), TLS checked against `ca` where given. */
export function nodeTransport(opts: TransportOptions): Transport {
  const agents = new Map<string, http.Agent>();
  // The CA as node:tls takes it, made once for every agent and request.
  const ca = opts.ca === undefined || typeof opts.ca === 'string' ? opts.ca : Buffer.from(opts.ca.buffer, opts.ca.byteOffset, opts.ca.byteLength);
  const agentOptions: https.AgentOptions | undefined = opts.keepAlive ? { keepAlive: true, maxSockets: opts.maxSockets, ...(ca !== undefined ? { ca } : {}) } : undefined;
  const agentFor = (base: string): http.Agent | false => {
    if (!agentOptions) return false;
    let a = agents.get(base);
    if (!a) {
      a = base.startsWith('https:') ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
      agents.set(base, a);
    }
    return a;
  };
  return {
    request: (base, req) => rawRequest(base, req, { agent: agentFor(base), responseBytesMax: opts.responseBytesMax, ca }),
    close: () => {
      for (const a of agents.values()) a.destroy();
      agents.clear();
    },
  };
}

export function rawRequest(baseUrl: string, req: RawRequest, conn: ConnectionOptions): Promise<RawResponse> {
  const u = parseBase(baseUrl);
  if (u instanceof HttpError) return Promise.reject(u);
  const tls = u.protocol === 'https:';
  const body = bodyBytes(req.body);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (body !== undefined && !req.chunked) headers['content-length'] = String(body.byteLength);
  const timeoutMs = req.timeoutMs ?? requestTimeoutMs;
  const basePath = u.pathname.replace(/\/$/, '');
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      host: u.hostname,
      port: u.port === '' ? (tls ? 443 : 80) : Number(u.port),
      method: req.method,
      path: basePath + req.path,
      headers,
      agent: conn.agent,
      ...(tls && conn.ca !== undefined ? { ca: conn.ca } : {}),
    };
    const r = (tls ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.byteLength;
        if (bytes > conn.responseBytesMax) {
          res.destroy();
          r.destroy(new HttpError(`${req.method} ${req.path}: response body over ${conn.responseBytesMax} bytes`, 'too_large'));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => reject(wrap(e, req)));
    });
    // A deadline for the whole exchange, not an idle timeout: a server that trickles bytes
    // cannot hold the caller (the gossip path's seed lookup among them) past it.
    const deadline = setTimeout(() => r.destroy(new HttpError(`${req.method} ${req.path}: no answer within ${timeoutMs} ms`, 'timeout')), timeoutMs);
    r.on('close', () => clearTimeout(deadline));
    r.on('error', (e) => reject(wrap(e, req)));
    if (body !== undefined && req.chunked) {
      for (let i = 0; i < body.byteLength; i += chunkBytes) r.write(body.subarray(i, i + chunkBytes));
      r.end();
    } else r.end(body);
  });
}

function wrap(e: Error, req: RawRequest): Error {
  if (e instanceof HttpError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'network';
  return new HttpError(`${req.method} ${req.path}: ${e.message}`, code);
}
