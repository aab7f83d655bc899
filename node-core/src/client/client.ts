// GyreClient: the one client of the Gyre HTTP API in the repo (CONTRACT.md). The CLI, the
// console, the bench, the chaos run and the tests all speak to nodes through it; the
// ecosystem issue makes it the package's public library. What a node sends back is parsed
// and checked here, once: a client trusts a server no more than a server trusts a client.

import http from 'node:http';
import https from 'node:https';
import type { ErrorDocument, ReplicasDocument, SiblingsDocument, StatusDocument } from '../wire/api.js';
import { type RawRequest, type RawResponse, header, rawRequest, responseBytesMaxDefault } from './http.js';

export { HttpError, header, type RawRequest, type RawResponse } from './http.js';

export interface GyreClientOptions {
  /** Any node of the cluster: `http://host:port` (or https). */
  readonly url: string;
  /** The cluster token (GYRE_TOKEN), sent as a bearer token. */
  readonly token?: string | undefined;
  readonly timeoutMs?: number;
  /** Pool connections (default); `false` opens one per request, as tests that kill nodes want. */
  readonly keepAlive?: boolean;
  /** Pooled connections at most (with keepAlive). */
  readonly maxSockets?: number;
  readonly responseBytesMax?: number;
  /** Trusted CA certificates (PEM) for an https URL. */
  readonly ca?: string | Buffer;
}

export interface Sibling {
  readonly value: Buffer;
  readonly contentType: string;
  readonly deleted: boolean;
}

export interface ReadResult {
  /** 200 one version, 300 siblings, 404 absent or deleted. */
  readonly status: 200 | 300 | 404;
  /** Pass it to the next write to supersede what was read; present on a 404 where a tombstone exists. */
  readonly context: string | undefined;
  /** The live versions (tombstones among siblings are marked deleted); empty on 404. */
  readonly siblings: readonly Sibling[];
}

export interface WriteOptions {
  readonly context?: string | undefined;
  readonly w?: number | undefined;
  /** A delete without a context reads the key first, at this R. */
  readonly r?: number | undefined;
  readonly contentType?: string | undefined;
}

/** A node answered with an error document (or something that is not the API's). */
export class GyreError extends Error {
  constructor(
    readonly status: number,
    /** The API's error code (`bad_context`, `too_large`, `unavailable`...), or `bad_response`. */
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = 'GyreError';
  }
}

const contextHeader = 'x-gyre-context';
/** Sockets per pooled client unless told otherwise. */
const maxSocketsDefault = 64;

/** Percent-encodes a key for /kv/{key}: every byte but the unreserved ones (RFC 3986). */
export function encodeKey(key: string | Uint8Array): string {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export class GyreClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly agent: http.Agent | false;
  private readonly responseBytesMax: number;
  private readonly ca: string | Buffer | undefined;

  constructor(opts: GyreClientOptions) {
    this.url = opts.url.replace(/\/$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs;
    const tls = this.url.startsWith('https:');
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets ?? maxSocketsDefault, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) };
    this.agent = opts.keepAlive === false ? false : tls ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.responseBytesMax = opts.responseBytesMax ?? responseBytesMaxDefault;
    this.ca = opts.ca;
  }

  /** Any request, answered raw: for routes without a method here, and for tests of the API itself. */
  request(req: RawRequest): Promise<RawResponse> {
    const headers = { ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}), ...(req.headers ?? {}) };
    return rawRequest(this.url, { ...req, headers, timeoutMs: req.timeoutMs ?? this.timeoutMs }, { agent: this.agent, responseBytesMax: this.responseBytesMax, ca: this.ca });
  }

  /** Reads a key at R (`r` overrides the cluster's default for this request). */
  async get(key: string | Uint8Array, opts: { readonly r?: number | undefined; readonly w?: number | undefined } = {}): Promise<ReadResult> {
    const res = await this.request({ method: 'GET', path: `/kv/${encodeKey(key)}${query({ r: opts.r, w: opts.w })}`, headers: { accept: 'application/json' } });
    if (res.status === 404) return { status: 404, context: header(res, contextHeader) || undefined, siblings: [] };
    if (res.status !== 200 && res.status !== 300) throw errorOf(res);
    const doc = parseSiblingsDocument(res);
    return { status: res.status, context: doc.context, siblings: doc.siblings.map((s) => ({ value: Buffer.from(s.value, 'base64'), contentType: s.contentType, deleted: s.deleted })) };
  }

  /** Writes a value at W; resolves once W replicas committed it, with the new version's context. */
  async put(key: string | Uint8Array, value: string | Uint8Array, opts: WriteOptions = {}): Promise<{ readonly context: string }> {
    const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/octet-stream' };
    if (opts.context) headers[contextHeader] = opts.context;
    const res = await this.request({ method: 'PUT', path: `/kv/${encodeKey(key)}${query({ r: opts.r, w: opts.w })}`, headers, body: value });
    if (res.status !== 204) throw errorOf(res);
    return { context: requiredContext(res) };
  }

  /** Deletes (writes a tombstone over) the versions `context` covers. */
  async delete(key: string | Uint8Array, opts: WriteOptions = {}): Promise<{ readonly context: string }> {
    const res = await this.request({ method: 'DELETE', path: `/kv/${encodeKey(key)}${query({ r: opts.r, w: opts.w })}`, headers: opts.context ? { [contextHeader]: opts.context } : {} });
    if (res.status !== 204) throw errorOf(res);
    return { context: requiredContext(res) };
  }

  async status(): Promise<StatusDocument> {
    const res = await this.request({ method: 'GET', path: '/status' });
    if (res.status !== 200) throw errorOf(res);
    return parseStatusDocument(res);
  }

  async replicas(key: string | Uint8Array, opts: { readonly values?: boolean } = {}): Promise<ReplicasDocument> {
    const res = await this.request({ method: 'GET', path: `/replicas/${encodeKey(key)}${opts.values ? '?values=true' : ''}` });
    if (res.status !== 200) throw errorOf(res);
    return parseReplicasDocument(res);
  }

  /** Starts this node's decommission (it hands off every partition, then exits). */
  async leave(): Promise<void> {
    const res = await this.request({ method: 'POST', path: '/admin/leave' });
    if (res.status !== 202) throw errorOf(res);
  }

  /** A JSON admin call (faults, trace): the parsed body of a 2xx answer. */
  async admin(method: 'GET' | 'POST' | 'DELETE', path: `/admin/${string}`, body?: unknown): Promise<unknown> {
    const res = await this.request({ method, path, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    if (res.status < 200 || res.status > 299) throw errorOf(res);
    return res.body.byteLength === 0 ? undefined : jsonOf(res);
  }

  /** Closes pooled connections. */
  close(): void {
    if (this.agent) this.agent.destroy();
  }
}

function query(q: Readonly<Record<string, number | undefined>>): string {
  const parts = Object.entries(q).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonOf(res: RawResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    throw new GyreError(res.status, 'bad_response', `expected JSON, got ${JSON.stringify(res.body.subarray(0, 200).toString('utf8'))}`);
  }
}

function requiredContext(res: RawResponse): string {
  const c = header(res, contextHeader);
  if (!c) throw new GyreError(res.status, 'bad_response', 'a write was acknowledged without the new version\'s context');
  return c;
}

/** The error a non-success answer carries (the API's `{error, message}`, or what came instead). */
export function errorOf(res: RawResponse): GyreError {
  try {
    const doc = parseErrorDocument(res);
    return new GyreError(res.status, doc.error, doc.message);
  } catch {
    return new GyreError(res.status, 'bad_response', res.body.subarray(0, 300).toString('utf8'));
  }
}

export function parseErrorDocument(res: RawResponse): ErrorDocument {
  const b = jsonOf(res);
  if (!isRecord(b) || typeof b.error !== 'string' || b.error.length === 0 || typeof b.message !== 'string') throw new GyreError(res.status, 'bad_response', `not an error document: ${res.body.subarray(0, 300).toString('utf8')}`);
  return { error: b.error, message: b.message };
}

/** The `{context, siblings}` form, checked field by field. */
export function parseSiblingsDocument(res: RawResponse): SiblingsDocument {
  const b = jsonOf(res);
  if (!isRecord(b) || typeof b.context !== 'string' || !Array.isArray(b.siblings)) throw new GyreError(res.status, 'bad_response', `not a siblings document: ${res.body.subarray(0, 300).toString('utf8')}`);
  const siblings = (b.siblings as unknown[]).map((s) => {
    if (!isRecord(s) || typeof s.value !== 'string' || typeof s.contentType !== 'string' || typeof s.deleted !== 'boolean') throw new GyreError(res.status, 'bad_response', `malformed sibling: ${JSON.stringify(s)?.slice(0, 200)}`);
    return { value: s.value, contentType: s.contentType, deleted: s.deleted };
  });
  return { context: b.context, siblings };
}

export function parseStatusDocument(res: RawResponse): StatusDocument {
  const b = jsonOf(res);
  const ok =
    isRecord(b) &&
    isRecord(b.node) &&
    typeof b.node.id === 'string' &&
    (b.node.pid === undefined || (Number.isSafeInteger(b.node.pid) && (b.node.pid as number) > 0)) &&
    // Not in the contract's minimum, so optional; when present, what seed lookup relies on.
    (b.listeners === undefined || (isRecord(b.listeners) && typeof b.listeners.http === 'string' && typeof b.listeners.internode === 'string')) &&
    isRecord(b.config) &&
    ['n', 'r', 'w', 'partitions'].every((k) => typeof (b.config as Record<string, unknown>)[k] === 'number') &&
    Array.isArray(b.members) &&
    b.members.every((m) => isRecord(m) && typeof m.id === 'string' && typeof m.address === 'string' && typeof m.status === 'string') &&
    typeof b.hintsPending === 'number';
  if (!ok) throw new GyreError(res.status, 'bad_response', `not a status document: ${res.body.subarray(0, 300).toString('utf8')}`);
  return b as unknown as StatusDocument;
}

export function parseReplicasDocument(res: RawResponse): ReplicasDocument {
  const b = jsonOf(res);
  const ok =
    isRecord(b) &&
    typeof b.partition === 'number' &&
    Array.isArray(b.preferenceList) &&
    b.preferenceList.every((p) => typeof p === 'string') &&
    Array.isArray(b.replicas) &&
    b.replicas.every((r) => isRecord(r) && typeof r.node === 'string' && typeof r.reachable === 'boolean' && Array.isArray(r.versions) && r.versions.every((v) => isRecord(v) && isRecord(v.clock) && typeof v.deleted === 'boolean'));
  if (!ok) throw new GyreError(res.status, 'bad_response', `not a replicas document: ${res.body.subarray(0, 300).toString('utf8')}`);
  return b as unknown as ReplicasDocument;
}
