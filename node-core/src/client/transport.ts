// What the client needs of HTTP, whatever carries it: one request, answered whole or failed
// with an HttpError. Two transports implement it: node:http (http.ts, in Node) and fetch
// (fetch.ts, in a browser); `default-transport.ts` names the one a runtime gets, and the
// package's "browser" field swaps it for bundlers. Nothing here touches Node or the DOM.

import { Buffer } from 'buffer';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface RawResponse {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Headers;
  readonly body: Buffer;
}

export interface RawRequest {
  readonly method: string;
  /** Path and query, sent as given (the caller percent-encodes). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | Uint8Array | string;
  /** Send the body in chunks without Content-Length (chunked transfer encoding; Node only). */
  readonly chunked?: boolean;
  readonly timeoutMs?: number;
}

export interface TransportOptions {
  /** Pool connections per node (default); false opens one per request. */
  readonly keepAlive: boolean;
  /** Pooled connections per node at most. */
  readonly maxSockets: number;
  /** Bytes of response body buffered at most; a longer body fails the request. */
  readonly responseBytesMax: number;
  /** Trusted CA certificates for https URLs (PEM); Node only (a browser trusts its own store). */
  readonly ca?: string | Uint8Array | undefined;
}

export interface Transport {
  /** One exchange with the node at `baseUrl` (`http(s)://host:port`). */
  request(baseUrl: string, req: RawRequest): Promise<RawResponse>;
  /** Closes pooled connections. */
  close(): void;
}

/** Default deadline of a request (the whole exchange): a node answers within its own request timeout (quorum waits) or not at all. */
export const requestTimeoutMs = 30_000;
/** A value is at most 1 MiB; a siblings document of up to 100 of them in base64 stays well under this. */
export const responseBytesMaxDefault = 256 * 1024 * 1024;

export class HttpError extends Error {
  constructor(
    message: string,
    /** 'timeout', 'too_large', 'bad_url', or the socket error code (ECONNREFUSED, ECONNRESET..., 'network' in a browser). */
    readonly code: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function header(res: RawResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The URL a base names, or an HttpError: only http and https. */
export function parseBase(baseUrl: string): URL | HttpError {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return new HttpError(`${JSON.stringify(baseUrl)} is not a URL`, 'bad_url');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return new HttpError(`${baseUrl}: only http and https URLs`, 'bad_url');
  return u;
}

/** A request body as bytes. */
export function bodyBytes(body: RawRequest['body']): Buffer | undefined {
  if (body === undefined) return undefined;
  return typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
