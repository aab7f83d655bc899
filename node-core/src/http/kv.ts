// The key-value routes of CONTRACT.md: GET, HEAD, PUT and DELETE on /kv/{key} (routes.ts; any
// other method is answered 405 there). Every input (key, value size, context, r/w, timeout,
// content type) is parsed and checked here, once; deciding what the replicas say is the
// coordinator's.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { keyBytesMax, valueBytesMax, contentTypeBytesMax } from '../core/codec.js';
import type { Version } from '../core/siblings.js';
import { emptyClock, type VClock } from '../core/vclock.js';
import { HttpError, failureResponse, readBody, send, sendError, sendJson, versionId } from './respond.js';
import type { ApiContext, PathParams } from './route.js';
import type { SiblingsDocument } from '../wire/api.js';

const contextHeader = 'x-gyre-context';
const defaultContentType = 'application/octet-stream';
/** The longest wait a client may ask for with `?timeout=`. */
export const requestTimeoutMsMax = 60_000;
const percentCharCode = 0x25; // '%'
/** Code units below this are ASCII, one byte each; the rest are UTF-8 encoded. */
const asciiCharCodeEnd = 0x80;

/** Percent-decodes a path segment to raw bytes (keys are bytes, not necessarily UTF-8). */
export function decodeKeySegment(segment: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === percentCharCode) {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new HttpError(400, 'bad_key', `malformed percent-encoding at offset ${i}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c < asciiCharCodeEnd) out.push(c);
    else for (const b of Buffer.from(segment[i]!)) out.push(b);
    if (out.length > keyBytesMax) throw new HttpError(400, 'key_too_long', `keys are at most ${keyBytesMax} bytes`);
  }
  if (out.length === 0) throw new HttpError(400, 'bad_key', 'the key is empty');
  return Buffer.from(out);
}

function parseQuorumParam(url: URL, name: 'r' | 'w', n: number, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, `bad_${name}`, `${name} must be an integer in 1..${n}`);
  const v = Number(raw);
  if (v < 1 || v > n) throw new HttpError(400, `bad_${name}`, `${name} must be an integer in 1..${n}, got ${v}`);
  return v;
}

function parseTimeout(url: URL, fallback: number): number {
  const raw = url.searchParams.get('timeout');
  if (raw === null) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > requestTimeoutMsMax) throw new HttpError(400, 'bad_timeout', `timeout must be an integer number of ms in 1..${requestTimeoutMsMax}`);
  return v;
}

/** The clock a write's X-Gyre-Context names, checked against `key`; undefined when none was sent. */
async function parseContext(ctx: ApiContext, req: IncomingMessage, key: Buffer): Promise<VClock | undefined> {
  const raw = req.headers[contextHeader];
  if (raw === undefined) return undefined;
  const token = (Array.isArray(raw) ? raw.join('') : raw).trim();
  // An empty header means no context: clients that forward the header of a 404 send exactly that.
  if (token === '') return undefined;
  const parsed = await ctx.node.checkContext(token, key);
  if (!parsed.ok && 'notJoined' in parsed) throw new HttpError(503, 'unavailable', parsed.reason);
  if (!parsed.ok) throw new HttpError(400, 'bad_context', parsed.reason);
  return parsed.clock;
}

/** The value's Content-Type as stored; checked here so an oversized one never reaches the replicas. */
function parseContentType(req: IncomingMessage): string {
  const contentType = req.headers['content-type'] ?? defaultContentType;
  if (Buffer.byteLength(contentType) > contentTypeBytesMax) throw new HttpError(400, 'bad_content_type', `content types are at most ${contentTypeBytesMax} bytes`);
  return contentType;
}

const siblingsJson = (versions: readonly Version[]) =>
  // lastModified: the coordinator's wall clock when it wrote the version (its dot's time), for
  // clients' last-writer-wins resolvers.
  versions.map((v) => ({ value: Buffer.from(v.value).toString('base64'), contentType: v.contentType, deleted: v.deleted, lastModified: v.dot.ts }));

/** GET and HEAD /kv/{key}. */
export function kvReadRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL, params: PathParams): Promise<number> {
  return kvRead(ctx, req, res, url, decodeKeySegment(params.key ?? ''), parseTimeout(url, ctx.config.requestTimeoutMs));
}

/** PUT and DELETE /kv/{key}. */
export function kvWriteRoute(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL, params: PathParams): Promise<number> {
  return kvWrite(ctx, req, res, url, decodeKeySegment(params.key ?? ''), parseTimeout(url, ctx.config.requestTimeoutMs));
}

async function kvRead(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL, key: Buffer, timeoutMs: number): Promise<number> {
  const r = parseQuorumParam(url, 'r', ctx.config.n, ctx.config.r);
  const out = await ctx.node.coordinator.get(key, r, timeoutMs);
  if (!('versions' in out)) {
    failureResponse(res, out);
    return out.status;
  }
  // A read answers what the replicas hold now: 300 and 404 are cacheable by default (RFC 9111),
  // and a browser or proxy that kept one would hand back siblings already resolved.
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...(out.context ? { 'X-Gyre-Context': ctx.contextFor(out.context, key) } : {}) };
  // The ids of the versions returned, in the order of the siblings: lets tools (the
  // chaos checker, the console) tell versions apart without decoding the context.
  if (out.versions.length > 0) headers['X-Gyre-Version'] = out.versions.map((v) => versionId(v.dot)).join(', ');
  if (out.status === 404) {
    sendError(res, 404, 'not_found', out.versions.length > 0 ? 'the key is deleted' : 'no such key', headers);
    return 404;
  }
  const wantsJson = (req.headers.accept ?? '').includes('application/json');
  if (out.status === 300 || wantsJson) {
    const body: SiblingsDocument = { context: headers['X-Gyre-Context']!, siblings: siblingsJson(out.versions) };
    sendJson(res, out.status, body, headers);
    return out.status;
  }
  const v = out.versions[0]!;
  send(res, 200, req.method === 'HEAD' ? undefined : Buffer.from(v.value), { ...headers, 'content-type': v.contentType || defaultContentType });
  return 200;
}

/** PUT writes the body; DELETE writes a tombstone. Both take the context the client last read. */
async function kvWrite(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, url: URL, key: Buffer, timeoutMs: number): Promise<number> {
  const w = parseQuorumParam(url, 'w', ctx.config.n, ctx.config.w);
  let context = await parseContext(ctx, req, key);
  const deleted = req.method === 'DELETE';
  const value = deleted ? Buffer.alloc(0) : await readBody(req, valueBytesMax);
  if (deleted && context === undefined) {
    const seen = await readBeforeDelete(ctx, res, url, key, timeoutMs);
    if (!seen.ok) return seen.status;
    context = seen.context;
  }
  const contentType = parseContentType(req);
  const out = await ctx.node.coordinator.put({
    key,
    // A DELETE's own Content-Type, if it sent one, labels the tombstone (seen in /replicas).
    payload: { deleted, value, contentType: deleted ? (req.headers['content-type'] ?? '') : contentType },
    context: context ?? emptyClock,
    w,
    timeoutMs,
  });
  if (out.status !== 204) {
    failureResponse(res, out);
    return out.status;
  }
  send(res, 204, undefined, { 'X-Gyre-Context': ctx.contextFor(out.clock, key), ...(out.dot ? { 'X-Gyre-Version': versionId(out.dot) } : {}) });
  return 204;
}

/**
 * Without a context a tombstone would delete nothing it could name; like Riak, read the key
 * first and delete exactly what that read saw. Answers the request itself when the read fails
 * or finds nothing.
 */
async function readBeforeDelete(
  ctx: ApiContext,
  res: ServerResponse,
  url: URL,
  key: Buffer,
  timeoutMs: number,
): Promise<{ readonly ok: true; readonly context: VClock | undefined } | { readonly ok: false; readonly status: number }> {
  const r = parseQuorumParam(url, 'r', ctx.config.n, ctx.config.r);
  const got = await ctx.node.coordinator.get(key, r, timeoutMs);
  if (!('versions' in got)) {
    failureResponse(res, got);
    return { ok: false, status: got.status };
  }
  if (got.versions.length === 0) {
    sendError(res, 404, 'not_found', 'no such key');
    return { ok: false, status: 404 };
  }
  return { ok: true, context: got.context };
}
