// GyreClient: the client library of the Gyre HTTP API (CONTRACT.md), the package's main export,
// and the one client inside the repo (the CLI, the console, the bench, the chaos run and the
// tests speak to nodes through it).
//
// Two ways to hold it:
// - a cluster client (the default): it takes a list of nodes, learns the others from /status,
//   and a call that meets a dead node, a reset connection or a 503 is tried again on the next
//   node after a backoff, so a caller never depends on one node. Dynamo 4.5's "any node
//   coordinates"; Riak's clients kept the same list.
// - a pinned client (`failover: false`): one node, one try per call, raw errors. For callers
//   that ask a particular node (its /status, its leave, its faults) and for tests of the API.
//
// A retried write may have reached some replicas the first time: the retry then makes a
// sibling of it (same context, another coordinator), which the next read resolves. Nothing is
// lost that way and nothing is acknowledged twice; it is the price of not depending on one node.

import { Buffer } from 'buffer';
import type { ReplicasDocument, StatusDocument } from '../wire/api.js';
import { contextHeader, errorOf, jsonOf, parseReplicasDocument, parseSiblingsDocument, parseStatusDocument, requiredContext } from './documents.js';
import { type Attempt, GyreError, SiblingsError, UnavailableError } from './errors.js';
import { defaultTransport } from './default-transport.js';
import { HttpError, type RawRequest, type RawResponse, type Transport, header, responseBytesMaxDefault } from './transport.js';
import { type Resolver, type ValueInput, toSibling } from './resolvers.js';
import type { Sibling } from './sibling.js';

export type { Sibling } from './sibling.js';

export { HttpError, header, type RawRequest, type RawResponse, type Transport } from './transport.js';
export { errorOf, parseErrorDocument, parseReplicasDocument, parseSiblingsDocument, parseStatusDocument } from './documents.js';

export interface RetryOptions {
  /** Tries per call in all, across nodes (default 5). */
  readonly attempts?: number;
  /** Backoff before the second try; doubled each try, with jitter (default 100 ms). */
  readonly baseDelayMs?: number;
  /** Backoff at most (default 2000 ms). */
  readonly maxDelayMs?: number;
}

export interface GyreClientOptions {
  /** A node of the cluster: `http://host:port` (or https). `urls` names several. */
  readonly url?: string;
  /** Nodes of the cluster, tried in this order, then the members /status names. */
  readonly urls?: readonly string[];
  /** The cluster token (GYRE_TOKEN), sent as a bearer token. */
  readonly token?: string | undefined;
  /** Trusted CA certificates (PEM) for https URLs. */
  readonly ca?: string | Uint8Array | undefined;
  /** Deadline of one try (default 10 s for a cluster client, 30 s pinned); calls may override it. */
  readonly timeoutMs?: number | undefined;
  /** false: one node, one try, raw errors (see the top of this file). Default true. */
  readonly failover?: boolean;
  /** Learn the other members from a node's /status (default true with failover). */
  readonly discover?: boolean;
  readonly retry?: RetryOptions;
  /** Default R and W of this client's calls (default: the cluster's). */
  readonly r?: number | undefined;
  readonly w?: number | undefined;
  /** The resolver getValue and update use where a call names none. */
  readonly resolve?: Resolver;
  /** Told of every try that failed and is about to be retried (for logs and metrics). */
  readonly onRetry?: (failed: Attempt, delayMs: number) => void;
  /** Pool connections (default); `false` opens one per request, as tests that kill nodes want. */
  readonly keepAlive?: boolean;
  /** Pooled connections per node at most (with keepAlive). */
  readonly maxSockets?: number;
  readonly responseBytesMax?: number;
  /** How requests travel (default: node:http in Node, fetch in a browser); see transport.ts. */
  readonly transport?: Transport;
}

export interface ReadResult {
  /** 200 one version, 300 siblings, 404 absent or deleted. */
  readonly status: 200 | 300 | 404;
  /** Pass it to the next write to supersede what was read; present on a 404 where a tombstone exists. */
  readonly context: string | undefined;
  /** The live versions (tombstones among siblings are marked deleted); empty on 404. */
  readonly siblings: readonly Sibling[];
}

/** A read resolved to one value (getValue, update). */
export interface Value {
  readonly value: Buffer;
  readonly contentType: string;
  /** Supersedes every version the read found. */
  readonly context: string;
  /** How many live versions were merged into this one (1: there was no conflict). */
  readonly merged: number;
}

export interface CallOptions {
  readonly r?: number | undefined;
  readonly w?: number | undefined;
  /** Deadline of each try of this call. */
  readonly timeoutMs?: number | undefined;
}

export interface WriteOptions extends CallOptions {
  readonly context?: string | undefined;
  readonly contentType?: string | undefined;
}

export interface ResolveOptions extends CallOptions {
  readonly resolve?: Resolver | undefined;
}

export interface UpdateOptions extends ResolveOptions {
  /** The content type of a returned string or bytes (default: the current value's, else application/octet-stream). */
  readonly contentType?: string | undefined;
}

/** What update's function is given: the resolved current value, or undefined where the key is absent. */
export type UpdateFunction = (current: Value | undefined) => ValueInput | undefined | Promise<ValueInput | undefined>;

const defaultContentType = 'application/octet-stream';
/** Sockets per pooled node unless told otherwise. */
const maxSocketsDefault = 64;
const attemptsDefault = 5;
const attemptsMax = 100;
const baseDelayMsDefault = 100;
const maxDelayMsDefault = 2000;
const clusterTimeoutMsDefault = 10_000;
/** A node that refused a connection is skipped this long (others are tried first). */
const nodeCooldownMs = 2000;
/** Members are learned again this often, at the next call. */
const discoverIntervalMs = 30_000;
const discoverTimeoutMs = 2000;
/** Members learned from /status at most (a hostile node could name millions). */
const discoveredMax = 1024;

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

function isUrl(u: string): boolean {
  try {
    new URL(u);
    return true;
  } catch {
    return false;
  }
}

function normalizeUrl(u: string): string {
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new TypeError(`${JSON.stringify(u)} is not a URL (expected http://host:port or https://host:port)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`${u}: only http and https URLs`);
  return u.replace(/\/+$/, '');
}

/** Why a failed try is worth another (on the next node), or undefined: the error is final. */
function retryable(url: string, e: unknown): Attempt | undefined {
  if (e instanceof UnavailableError) {
    const last = e.attempts[e.attempts.length - 1];
    return { url, status: 503, code: last?.code ?? 'unavailable', message: e.message };
  }
  if (!(e instanceof HttpError) || e.code === 'bad_url' || e.code === 'too_large') return undefined;
  // A certificate the client does not trust stays untrusted on the next try: said at once.
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|EPROTO/.test(e.code)) return undefined;
  return { url, status: 0, code: e.code, message: e.message };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class GyreClient {
  /** The first node named: a pinned client's only one. */
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number | undefined;
  private readonly failover: boolean;
  private readonly discover: boolean;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly defaults: { readonly r: number | undefined; readonly w: number | undefined; readonly resolve: Resolver | undefined };
  private readonly onRetry: GyreClientOptions['onRetry'];
  private readonly transport: Transport;
  /** The nodes named, then those discovered; calls start at `next`. */
  private nodes: string[];
  private readonly seeds: readonly string[];
  private next = 0;
  private readonly downUntil = new Map<string, number>();
  private discoveredAt = -Infinity;
  private discovering: Promise<void> | undefined;

  constructor(opts: GyreClientOptions) {
    const named = [...(opts.url !== undefined ? [opts.url] : []), ...(opts.urls ?? [])].map(normalizeUrl);
    if (named.length === 0) throw new TypeError('GyreClient needs url or urls: at least one node of the cluster');
    this.seeds = [...new Set(named)];
    this.nodes = [...this.seeds];
    this.url = this.seeds[0]!;
    this.token = opts.token;
    this.failover = opts.failover !== false;
    this.discover = this.failover && opts.discover !== false;
    this.timeoutMs = opts.timeoutMs ?? (this.failover ? clusterTimeoutMsDefault : undefined);
    const attempts = opts.retry?.attempts ?? attemptsDefault;
    if (!Number.isInteger(attempts) || attempts < 1 || attempts > attemptsMax) throw new TypeError(`retry.attempts must be an integer in 1..${attemptsMax}`);
    this.attempts = this.failover ? attempts : 1;
    this.baseDelayMs = opts.retry?.baseDelayMs ?? baseDelayMsDefault;
    this.maxDelayMs = opts.retry?.maxDelayMs ?? maxDelayMsDefault;
    this.defaults = { r: opts.r, w: opts.w, resolve: opts.resolve };
    this.onRetry = opts.onRetry;
    this.transport = opts.transport ?? defaultTransport({ keepAlive: opts.keepAlive !== false, maxSockets: opts.maxSockets ?? maxSocketsDefault, responseBytesMax: opts.responseBytesMax ?? responseBytesMaxDefault, ca: opts.ca });
  }

  /** The nodes this client knows, in the order it tries them. */
  get members(): readonly string[] {
    return [...this.nodes];
  }

  /** Any request to the first node, answered raw: for routes without a method here, and for tests of the API itself. */
  request(req: RawRequest): Promise<RawResponse> {
    return this.send(this.url, req);
  }

  /** Reads a key at R (`r` overrides the cluster's default for this call). */
  get(key: string | Uint8Array, opts: CallOptions = {}): Promise<ReadResult> {
    return this.call(async (base) => {
      const res = await this.send(base, { method: 'GET', path: `/kv/${encodeKey(key)}${this.query(opts)}`, headers: { accept: 'application/json' }, timeoutMs: opts.timeoutMs });
      if (res.status === 404) return { status: 404, context: header(res, contextHeader) || undefined, siblings: [] };
      if (res.status !== 200 && res.status !== 300) throw errorOf(res, base);
      const doc = parseSiblingsDocument(res);
      const siblings = doc.siblings.map((s) => ({ value: Buffer.from(s.value, 'base64'), contentType: s.contentType, deleted: s.deleted, ...(s.lastModified !== undefined ? { lastModified: s.lastModified } : {}) }));
      return { status: res.status, context: doc.context, siblings };
    });
  }

  /**
   * Reads a key and resolves its siblings into one value (the call's resolver, else the
   * client's); undefined where it is absent or deleted. Throws SiblingsError where there are
   * siblings and no resolver. Writes nothing back: update does.
   */
  async getValue(key: string | Uint8Array, opts: ResolveOptions = {}): Promise<Value | undefined> {
    return this.resolveRead(key, await this.get(key, opts), opts.resolve ?? this.defaults.resolve);
  }

  /** Writes a value at W; resolves once W replicas committed it, with the new version's context. */
  put(key: string | Uint8Array, value: string | Uint8Array, opts: WriteOptions = {}): Promise<{ readonly context: string }> {
    const headers: Record<string, string> = { 'content-type': opts.contentType ?? defaultContentType };
    if (opts.context) headers[contextHeader] = opts.context;
    return this.call(async (base) => {
      const res = await this.send(base, { method: 'PUT', path: `/kv/${encodeKey(key)}${this.query(opts)}`, headers, body: value, timeoutMs: opts.timeoutMs });
      if (res.status !== 204) throw errorOf(res, base);
      return { context: requiredContext(res) };
    });
  }

  /** Deletes (writes a tombstone over) the versions `context` covers; without one, the node reads the key first. */
  delete(key: string | Uint8Array, opts: WriteOptions = {}): Promise<{ readonly context: string }> {
    return this.call(async (base) => {
      const res = await this.send(base, { method: 'DELETE', path: `/kv/${encodeKey(key)}${this.query(opts)}`, headers: opts.context ? { [contextHeader]: opts.context } : {}, timeoutMs: opts.timeoutMs });
      if (res.status !== 204) throw errorOf(res, base);
      return { context: requiredContext(res) };
    });
  }

  /**
   * Read, resolve, write back, in one call: `fn` gets the current value (siblings merged by
   * the resolver) and returns the new one, or undefined to delete the key. The write carries
   * the read's context, so it supersedes every version read; one written meanwhile by someone
   * else survives as a sibling for the next read to resolve. Resolves with what was written.
   */
  async update(key: string | Uint8Array, fn: UpdateFunction, opts: UpdateOptions = {}): Promise<Value | undefined> {
    const read = await this.get(key, opts);
    const current = this.resolveRead(key, read, opts.resolve ?? this.defaults.resolve);
    const next = await fn(current);
    if (next === undefined) {
      if (read.context === undefined) return undefined; // absent, and to stay so
      await this.delete(key, { ...opts, context: read.context });
      return undefined;
    }
    const { value, contentType } = toSibling(next, opts.contentType ?? current?.contentType ?? defaultContentType);
    const { context } = await this.put(key, value, { ...opts, contentType, context: read.context });
    return { value, contentType, context, merged: current?.merged ?? 0 };
  }

  /** This node's view of the cluster (any node's, with failover). */
  status(): Promise<StatusDocument> {
    return this.call(async (base) => {
      const res = await this.send(base, { method: 'GET', path: '/status' });
      if (res.status !== 200) throw errorOf(res, base);
      return parseStatusDocument(res);
    });
  }

  replicas(key: string | Uint8Array, opts: { readonly values?: boolean } = {}): Promise<ReplicasDocument> {
    return this.call(async (base) => {
      const res = await this.send(base, { method: 'GET', path: `/replicas/${encodeKey(key)}${opts.values ? '?values=true' : ''}` });
      if (res.status !== 200) throw errorOf(res, base);
      return parseReplicasDocument(res);
    });
  }

  /** Starts the decommission of the first node named (it hands off every partition, then exits). */
  async leave(): Promise<void> {
    const res = await this.request({ method: 'POST', path: '/admin/leave' });
    if (res.status !== 202) throw errorOf(res, this.url);
  }

  /**
   * Asks the first node named, started without seeds and holding nothing, to join the cluster
   * of `seeds` (client addresses, host:port): resolves once it has begun (POST /admin/join).
   */
  async join(seeds: readonly string[]): Promise<void> {
    const res = await this.request({ method: 'POST', path: '/admin/join', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seeds }) });
    if (res.status !== 202) throw errorOf(res, this.url);
  }

  /** A JSON admin call to the first node named (faults, trace): the parsed body of a 2xx answer. */
  async admin(method: 'GET' | 'POST' | 'DELETE', path: `/admin/${string}`, body?: unknown): Promise<unknown> {
    const res = await this.request({ method, path, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    if (res.status < 200 || res.status > 299) throw errorOf(res, this.url);
    return res.body.byteLength === 0 ? undefined : jsonOf(res);
  }

  /** Closes pooled connections. */
  close(): void {
    this.transport.close();
  }

  private resolveRead(key: string | Uint8Array, read: ReadResult, resolve: Resolver | undefined): Value | undefined {
    const live = read.siblings.filter((s) => !s.deleted);
    if (live.length === 0 || read.context === undefined) return undefined;
    if (live.length === 1) return { value: live[0]!.value, contentType: live[0]!.contentType, context: read.context, merged: 1 };
    if (!resolve) throw new SiblingsError(typeof key === 'string' ? key : Buffer.from(key).toString('utf8'), live.length);
    const merged = toSibling(resolve(live), live[0]!.contentType);
    return { ...merged, context: read.context, merged: live.length };
  }

  private query(opts: CallOptions): string {
    const q = { r: opts.r ?? this.defaults.r, w: opts.w ?? this.defaults.w };
    const parts = Object.entries(q).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    return parts.length === 0 ? '' : `?${parts.join('&')}`;
  }

  private send(base: string, req: RawRequest): Promise<RawResponse> {
    const headers = { ...(this.token !== undefined ? { authorization: `Bearer ${this.token}` } : {}), ...(req.headers ?? {}) };
    return this.transport.request(base, { ...req, headers, timeoutMs: req.timeoutMs ?? this.timeoutMs });
  }

  /** Runs one call: on the first node when pinned; else across nodes with backoff, as the top of the file says. */
  private async call<T>(run: (base: string) => Promise<T>): Promise<T> {
    if (!this.failover) return run(this.url);
    await this.discoverMembers();
    const failed: Attempt[] = [];
    for (let i = 0; i < this.attempts; i++) {
      const base = this.pick();
      try {
        const out = await run(base);
        this.downUntil.delete(base);
        return out;
      } catch (e) {
        const attempt = retryable(base, e);
        if (!attempt) throw e;
        failed.push(attempt);
        // A node that did not answer is skipped a while; one that answered 503 only loses its turn.
        if (attempt.status === 0) this.downUntil.set(base, Date.now() + nodeCooldownMs);
        this.next = (this.nodes.indexOf(base) + 1) % this.nodes.length;
        if (i + 1 === this.attempts) break;
        const delayMs = this.backoff(i);
        this.onRetry?.(attempt, delayMs);
        if (attempt.status === 0 && this.nodes.every((n) => (this.downUntil.get(n) ?? 0) > Date.now())) this.discoveredAt = -Infinity;
        await sleep(delayMs);
      }
    }
    const tried = [...new Set(failed.map((a) => a.url))].join(', ');
    throw new UnavailableError(`no node could serve the call after ${failed.length} tries (${tried}); last: ${failed[failed.length - 1]!.message}`, failed);
  }

  /** Full jitter on an exponential backoff (AWS's "exponential backoff and jitter"): tries of many clients spread out. */
  private backoff(i: number): number {
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** i);
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }

  /** The next node in turn that is not cooling down (or the next in turn, if all are). */
  private pick(): string {
    const now = Date.now();
    for (let k = 0; k < this.nodes.length; k++) {
      const n = this.nodes[(this.next + k) % this.nodes.length]!;
      if ((this.downUntil.get(n) ?? 0) <= now) return n;
    }
    return this.nodes[this.next % this.nodes.length]!;
  }

  /** Learns the members from the first node that answers /status, at most every discoverIntervalMs. */
  private discoverMembers(): Promise<void> {
    if (!this.discover || Date.now() - this.discoveredAt < discoverIntervalMs) return Promise.resolve();
    this.discovering ??= this.learnMembers().finally(() => {
      this.discoveredAt = Date.now();
      this.discovering = undefined;
    });
    return this.discovering;
  }

  private async learnMembers(): Promise<void> {
    for (const base of [...this.nodes]) {
      let status: StatusDocument;
      try {
        const res = await this.send(base, { method: 'GET', path: '/status', timeoutMs: discoverTimeoutMs });
        if (res.status !== 200) continue;
        status = parseStatusDocument(res);
      } catch {
        continue;
      }
      const scheme = base.startsWith('https:') ? 'https' : 'http';
      const learned = status.members
        .filter((m) => m.status !== 'down' && m.status !== 'leaving' && /^[^\s/@?#]+:\d{1,5}$/.test(m.address))
        .slice(0, discoveredMax)
        .map((m) => `${scheme}://${m.address}`)
        // What a node names is input: a member whose address makes no URL is skipped, not tried.
        .filter(isUrl);
      // The nodes named stay first and stay known, whatever a node says.
      this.nodes = [...new Set([...this.seeds, ...learned])];
      this.next %= this.nodes.length;
      return;
    }
  }
}

export { GyreError };
