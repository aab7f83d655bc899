// One HTTP exchange with a Gyre node, for every client in the repo (the CLI, the console, the
// bench, the chaos run, the tests). Written on node:http rather than fetch because callers need
// what fetch hides: the path sent byte for byte (percent-encoding is theirs), chunked bodies,
// a fresh connection per request where a test kills nodes, and a cap on what a server may
// make us buffer.

import http from 'node:http';
import https from 'node:https';

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RawRequest {
  readonly method: string;
  /** Path and query, sent as given (the caller percent-encodes). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | Uint8Array | string;
  /** Send the body in chunks without Content-Length (chunked transfer encoding). */
  readonly chunked?: boolean;
  readonly timeoutMs?: number;
}

export interface ConnectionOptions {
  /** A keep-alive agent to pool connections on, or `false` for a fresh connection per request. */
  readonly agent: http.Agent | false;
  /** Bytes of response body buffered at most; a longer body fails the request. */
  readonly responseBytesMax: number;
  /** Trusted CA certificates for https URLs (PEM). */
  readonly ca?: string | Buffer | undefined;
}

/** Default deadline of a request (the whole exchange): a node answers within its own request timeout (quorum waits) or not at all. */
export const requestTimeoutMs = 30_000;
/** A value is at most 1 MiB; a siblings document of up to 100 of them in base64 stays well under this. */
export const responseBytesMaxDefault = 256 * 1024 * 1024;
/** Body chunk size when sending chunked. */
const chunkBytes = 64 * 1024;

export class HttpError extends Error {
  constructor(
    message: string,
    /** 'timeout', 'too_large', or the socket error code (ECONNREFUSED, ECONNRESET...). */
    readonly code: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function rawRequest(baseUrl: string, req: RawRequest, conn: ConnectionOptions): Promise<RawResponse> {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return Promise.reject(new HttpError(`${JSON.stringify(baseUrl)} is not a URL`, 'bad_url'));
  }
  const tls = u.protocol === 'https:';
  if (!tls && u.protocol !== 'http:') return Promise.reject(new HttpError(`${baseUrl}: only http and https URLs`, 'bad_url'));
  const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
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

export function header(res: RawResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}
