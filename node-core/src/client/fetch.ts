// The browser transport: fetch, with the deadline and the byte cap the Node one has. The
// browser owns connections (keep-alive, pooling) and trust (its certificate store), so
// `keepAlive`, `maxSockets` and `ca` do not apply; a node answers a page only where it was
// started with that page's origin in --cors-origins (docs/client.md).

import { Buffer } from 'buffer';
import { HttpError, type RawRequest, type RawResponse, type Transport, type TransportOptions, bodyBytes, parseBase, requestTimeoutMs } from './transport.js';

async function readCapped(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) throw new HttpError(`${what}: response body over ${max} bytes`, 'too_large');
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > max) {
      await reader.cancel();
      throw new HttpError(`${what}: response body over ${max} bytes`, 'too_large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export function fetchTransport(opts: TransportOptions): Transport {
  if (opts.ca !== undefined) throw new TypeError('GyreClient: `ca` has no effect in a browser, which checks certificates against its own store');
  const inFlight = new Set<AbortController>();
  return {
    async request(baseUrl: string, req: RawRequest): Promise<RawResponse> {
      const u = parseBase(baseUrl);
      if (u instanceof HttpError) throw u;
      const what = `${req.method} ${req.path}`;
      const timeoutMs = req.timeoutMs ?? requestTimeoutMs;
      const abort = new AbortController();
      inFlight.add(abort);
      let timedOut = false;
      const deadline = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, timeoutMs);
      try {
        const body = bodyBytes(req.body);
        // Every read must reach a node: a cached 300 would hand back siblings already resolved
        // (the DOM's `cache`, missing from Node's RequestInit type, hence the wider type).
        const init: RequestInit & { cache: string } = {
          method: req.method,
          headers: req.headers ?? {},
          ...(body !== undefined ? { body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) } : {}),
          signal: abort.signal,
          // A token goes in the Authorization header, never in cookies.
          credentials: 'omit',
          redirect: 'error',
          cache: 'no-store',
        };
        const res = await fetch(`${baseUrl.replace(/\/$/, '')}${req.path}`, init);
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => {
          headers[k.toLowerCase()] = v;
        });
        return { status: res.status, headers, body: await readCapped(res, opts.responseBytesMax, what) };
      } catch (e) {
        if (e instanceof HttpError) throw e;
        if (timedOut) throw new HttpError(`${what}: no answer within ${timeoutMs} ms`, 'timeout');
        // fetch says no more than "failed" (refused, reset, DNS, or CORS refused by the node): one code for all.
        throw new HttpError(`${what}: ${(e as Error).message}`, 'network');
      } finally {
        clearTimeout(deadline);
        inFlight.delete(abort);
      }
    },
    close() {
      for (const a of inFlight) a.abort();
      inFlight.clear();
    },
  };
}
