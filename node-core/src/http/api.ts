// The client HTTP API of CONTRACT.md. Parses and validates every input once (key, value
// size, context, r/w) and turns coordinator results into statuses; holds no logic of its own.

import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { encodeContext } from '../core/context.js';
import { keyBytesMax, valueBytesMax, contentTypeBytesMax } from '../core/codec.js';
import { partitionOf } from '../core/partitioner.js';
import { type Version, versionToJson } from '../core/siblings.js';
import { emptyClock, type VClock } from '../core/vclock.js';
import { faultToJson } from '../core/faults.js';
import { ControlServer } from '../control/server.js';
import { runTrace } from '../control/trace-request.js';
import { HttpBudget } from './budget.js';

const faultRequestBytesMax = 64 * 1024;
/** A traced put carries a value: a value's limit plus room for the JSON around it (base64). */
const traceRequestBytesMax = 2 * 1024 * 1024;

/** A version's id as the API shows it: its event, `actor:counter`. */
export function versionId(dot: { readonly actor: string; readonly counter: number }): string {
  return `${dot.actor}:${dot.counter}`;
}
import type { GyreNode } from '../node/node.js';
import type { Failure } from '../core/coordinator.js';

const contextHeader = 'x-gyre-context';
/** Client connections served at once; more wait in the kernel backlog. */
export const httpConnectionsMax = 4096;
const defaultContentType = 'application/octet-stream';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Percent-decodes a path segment to raw bytes (keys are bytes, not necessarily UTF-8). */
export function decodeKeySegment(segment: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c === 0x25) {
      const hex = segment.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new HttpError(400, 'bad_key', `malformed percent-encoding at offset ${i}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else for (const b of Buffer.from(segment[i]!)) out.push(b);
    if (out.length > keyBytesMax) throw new HttpError(400, 'key_too_long', `keys are at most ${keyBytesMax} bytes`);
  }
  if (out.length === 0) throw new HttpError(400, 'bad_key', 'the key is empty');
  return Buffer.from(out);
}

function send(res: http.ServerResponse, status: number, body: string | Buffer | undefined, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: code, message }, headers);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      reject(new HttpError(413, 'value_too_large', `values are at most ${limit} bytes; this one is ${declared}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.byteLength;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, 'value_too_large', `values are at most ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

/** Body bytes a request is admitted for, from its headers alone (see HttpBudget). */
function declaredBodyBytes(req: http.IncomingMessage): number {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    // A larger body is refused with 413 before much of it is read: reserve no more than can be taken.
    return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, traceRequestBytesMax) : 0;
  }
  return req.headers['transfer-encoding'] !== undefined ? valueBytesMax : 0;
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

/** Bytes of a refused body we read and discard so the client sees our answer; past this we answer and hang up. */
const refusedBodyDrainBytesMax = 8 * 1024 * 1024;
/** How long a refused request's body is drained before the answer goes anyway. */
const refusedBodyWaitMs = 1000;

/**
 * Answers a refused request once its body has arrived (read and thrown away), or after
 * refusedBodyWaitMs or refusedBodyDrainBytesMax, whichever comes first. Answering at once and
 * closing while the client still sends makes its kernel reset the connection, and a reset
 * can discard our answer before the client reads it (the lingering-close problem).
 */
function answerAfterBody(req: http.IncomingMessage, answer: () => void): void {
  let done = false;
  let drained = 0;
  const go = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    answer();
  };
  const timer = setTimeout(go, refusedBodyWaitMs);
  req.on('data', (c: Buffer) => {
    drained += c.byteLength;
    if (drained > refusedBodyDrainBytesMax) {
      go();
      req.socket.destroySoon();
    }
  });
  req.once('end', go);
  req.once('error', go);
  req.once('close', go);
  req.resume();
  if (req.readableEnded) go();
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
  if (!Number.isInteger(v) || v < 1 || v > 60_000) throw new HttpError(400, 'bad_timeout', 'timeout must be an integer number of ms in 1..60000');
  return v;
}

function failureResponse(res: http.ServerResponse, f: Failure): void {
  // A write that may still be applied says which version it would be.
  sendError(res, f.status, f.error, f.message, f.dot ? { 'X-Gyre-Version': versionId(f.dot) } : {});
}

function tokenOk(expected: string | undefined, header: string | undefined): boolean {
  if (expected === undefined) return true;
  if (!header?.startsWith('Bearer ')) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(header.slice(7));
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/**
 * The node's HTTP server: the client API of CONTRACT.md, admin routes, and (unless `control`
 * is false) the Socket.IO control plane on the same port.
 */
export function createApiServer(node: GyreNode, opts: { control?: boolean } = {}): http.Server {
  const { config } = node;
  const controlOn = opts.control !== false;

  const contextFor = (clock: VClock, key: Buffer) => encodeContext(clock, key, node.contextKeys());

  const parseContext = async (req: http.IncomingMessage, key: Buffer): Promise<VClock | undefined> => {
    const raw = req.headers[contextHeader];
    if (raw === undefined) return undefined;
    const token = (Array.isArray(raw) ? raw.join('') : raw).trim();
    // An empty header means no context: clients that forward the header of a 404 send exactly that.
    if (token === '') return undefined;
    const parsed = await node.checkContext(token, key);
    if (!parsed.ok && 'notJoined' in parsed) throw new HttpError(503, 'unavailable', parsed.reason);
    if (!parsed.ok) throw new HttpError(400, 'bad_context', parsed.reason);
    return parsed.clock;
  };

  const siblingsJson = (versions: readonly Version[]) =>
    versions.map((v) => ({ value: Buffer.from(v.value).toString('base64'), contentType: v.contentType, deleted: v.deleted }));

  async function kv(req: http.IncomingMessage, res: http.ServerResponse, url: URL, key: Buffer, op: string): Promise<number> {
    const timeoutMs = parseTimeout(url, config.requestTimeoutMs);
    if (req.method === 'GET' || req.method === 'HEAD') {
      const r = parseQuorumParam(url, 'r', config.n, config.r);
      const out = await node.coordinator.get(key, r, timeoutMs);
      if (!('versions' in out)) {
        failureResponse(res, out);
        return out.status;
      }
      const headers: Record<string, string> = out.context ? { 'X-Gyre-Context': contextFor(out.context, key) } : {};
      // The ids of the versions returned, in the order of the siblings: lets tools (the
      // chaos checker, the console) tell versions apart without decoding the context.
      if (out.versions.length > 0) headers['X-Gyre-Version'] = out.versions.map((v) => versionId(v.dot)).join(', ');
      if (out.status === 404) {
        sendError(res, 404, 'not_found', out.versions.length > 0 ? 'the key is deleted' : 'no such key', headers);
        return 404;
      }
      const wantsJson = (req.headers.accept ?? '').includes('application/json');
      if (out.status === 300 || wantsJson) {
        sendJson(res, out.status, { context: headers['X-Gyre-Context'], siblings: siblingsJson(out.versions) }, headers);
        return out.status;
      }
      const v = out.versions[0]!;
      send(res, 200, req.method === 'HEAD' ? undefined : Buffer.from(v.value), { ...headers, 'content-type': v.contentType || defaultContentType });
      return 200;
    }
    if (req.method === 'PUT' || req.method === 'DELETE') {
      const w = parseQuorumParam(url, 'w', config.n, config.w);
      let context = await parseContext(req, key);
      const deleted = req.method === 'DELETE';
      const value = deleted ? Buffer.alloc(0) : await readBody(req, valueBytesMax);
      if (deleted && context === undefined) {
        // Without a context a tombstone would delete nothing it could name; like Riak, read
        // the key first and delete exactly what that read saw.
        const r = parseQuorumParam(url, 'r', config.n, config.r);
        const got = await node.coordinator.get(key, r, timeoutMs);
        if (!('versions' in got)) {
          failureResponse(res, got);
          return got.status;
        }
        if (got.versions.length === 0) {
          sendError(res, 404, 'not_found', 'no such key');
          return 404;
        }
        context = got.context;
      }
      const contentTypeRaw = req.headers['content-type'] ?? defaultContentType;
      if (Buffer.byteLength(contentTypeRaw) > contentTypeBytesMax) throw new HttpError(400, 'bad_content_type', `content types are at most ${contentTypeBytesMax} bytes`);
      const out = await node.coordinator.put({
        key,
        // A DELETE's own Content-Type, if it sent one, labels the tombstone (seen in /replicas).
        payload: { deleted, value, contentType: deleted ? (req.headers['content-type'] ?? '') : contentTypeRaw },
        context: context ?? emptyClock,
        w,
        timeoutMs,
      });
      if (out.status !== 204) {
        failureResponse(res, out);
        return out.status;
      }
      send(res, 204, undefined, { 'X-Gyre-Context': contextFor(out.clock, key), ...(out.dot ? { 'X-Gyre-Version': versionId(out.dot) } : {}) });
      return 204;
    }
    void op;
    sendError(res, 405, 'method_not_allowed', `${req.method} is not supported on /kv/{key}`, { allow: 'GET, HEAD, PUT, DELETE' });
    return 405;
  }

  async function replicas(res: http.ServerResponse, url: URL, key: Buffer): Promise<void> {
    const withValues = url.searchParams.get('values') === 'true' || url.searchParams.get('values') === '1';
    const toJson = (v: Version) => ({
      ...versionToJson(v),
      version: versionId(v.dot),
      contentType: v.contentType,
      // This version's own clock, sealed like any context (exact, where `clock` is a summary).
      context: contextFor(v.clock, key),
      ...(withValues ? { value: Buffer.from(v.value).toString('base64') } : {}),
    });
    const partition = partitionOf(key, config.partitions);
    const pref = node.preferenceList(partition);
    const timeoutMs = config.requestTimeoutMs;
    const replicasOut = await Promise.all(
      pref.map(async (id) => {
        try {
          const versions = await node.readReplica(id, key, timeoutMs);
          return { node: id, reachable: true, versions: versions.map(toJson) };
        } catch (e) {
          return { node: id, reachable: false, error: (e as Error).message, versions: [] };
        }
      }),
    );
    sendJson(res, 200, { key: key.toString('utf8'), partition, preferenceList: pref, replicas: replicasOut });
  }

  function status(res: http.ServerResponse): void {
    const state = node.clusterState();
    const now = node.env.now();
    const hints = node.store.hintCounts();
    const me = state.members.get(config.id);
    sendJson(res, 200, {
      node: { id: config.id, address: node.self.http, state: me?.state ?? 'joining', startedAt: new Date(node.startedAtMs).toISOString(), uptimeMs: now - node.startedAtMs, version: '0.1.0' },
      listeners: { http: node.self.http, internode: node.self.internode, ...(controlOn ? { control: `http://${node.self.http}`, controlPath: '/socket.io' } : {}) },
      config: { n: config.n, r: config.r, w: config.w, partitions: config.partitions, requestTimeoutMs: config.requestTimeoutMs },
      members: node.memberViews().map((v) => ({ ...v, internode: state.members.get(v.id)?.internode, heartbeat: state.members.get(v.id)?.heartbeat })),
      hintsPending: [...hints.values()].reduce((a, b) => a + b, 0),
      hints: { byTarget: Object.fromEntries(hints), ...node.handoff.status() },
      transfers: {
        pending: state.ring.flatMap((r, partition) => (r.pendingTo ? [{ partition, from: r.owner, to: r.pendingTo }] : [])),
        active: node.transfers.active(),
        completed: node.transfers.completed,
        keysReceived: node.transfers.keysReceived,
      },
      antiEntropy: node.antiEntropy.status(),
      tombstones: node.reaper.status(),
      ring: state.partitions <= 4096 ? { partitions: state.partitions, owners: state.ring.map((r) => r.owner) } : { partitions: state.partitions },
      storage: node.store.stats(),
      faults: node.faults.list().map((f) => faultToJson(f, now)),
    });
  }

  /** Fault injection: GET lists, POST injects one (JSON spec), DELETE heals all or one (by id). */
  async function faults(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<number> {
    const now = () => node.env.now();
    let id: string | undefined;
    try {
      id = path.length > '/admin/faults/'.length ? decodeURIComponent(path.slice('/admin/faults/'.length)) : undefined;
    } catch {
      throw new HttpError(400, 'bad_fault_id', 'malformed percent-encoding in the fault id');
    }
    if (req.method === 'GET' && id === undefined) {
      sendJson(res, 200, { version: node.faults.version, faults: node.faults.list().map((f) => faultToJson(f, now())) });
      return 200;
    }
    if (req.method === 'POST' && id === undefined) {
      const body = await readBody(req, faultRequestBytesMax);
      let raw: unknown;
      try {
        raw = JSON.parse(body.toString('utf8'));
      } catch {
        throw new HttpError(400, 'bad_fault', 'the body must be a JSON object describing the fault');
      }
      const r = await node.faults.request(raw);
      if (!r.ok) throw new HttpError(400, r.error, r.message);
      const out = r.value;
      sendJson(res, 201, { fault: faultToJson(out.fault, now()), reached: out.reached, missed: out.missed });
      return 201;
    }
    if (req.method === 'DELETE') {
      const out = await node.faults.heal(id);
      if (id !== undefined && out.healed.length === 0) {
        sendError(res, 404, 'no_such_fault', `no fault ${id} is in force`);
        return 404;
      }
      sendJson(res, 200, { healed: out.healed.map((f) => faultToJson(f, now())), reached: out.reached, missed: out.missed });
      return 200;
    }
    sendError(res, 405, 'method_not_allowed', `${req.method} is not supported on ${path}`, { allow: id === undefined ? 'GET, POST, DELETE' : 'DELETE' });
    return 405;
  }

  const budget = new HttpBudget();
  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
    let op = 'other';
    const finish = (status: number) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      node.metrics.requests.inc({ op, status: String(status) });
      node.metrics.requestSeconds.observe({ op }, seconds);
      if (op === 'get' || op === 'put' || op === 'delete') node.observe.recordOp(op, seconds * 1000, status);
    };
    // Status and metrics stay answerable in a flood: that is when operators need them.
    if (!(req.method === 'GET' && (path === '/status' || path === '/metrics'))) {
      const admitted = budget.admit(declaredBodyBytes(req));
      if (!admitted.ok) {
        node.metrics.httpShed.inc();
        answerAfterBody(req, () => sendError(res, 503, 'overloaded', admitted.message, { 'retry-after': '1', connection: 'close' }));
        finish(503);
        return;
      }
      // 'close' comes once the response is sent or the client went away, whichever is first.
      res.once('close', admitted.release);
    }
    const run = async (): Promise<number> => {
      if (!tokenOk(config.token, req.headers.authorization)) {
        sendError(res, 401, 'unauthorized', 'this cluster requires Authorization: Bearer <token>', { 'www-authenticate': 'Bearer' });
        return 401;
      }
      if (config.token === undefined && !isLoopbackHost(req.headers.host)) {
        sendError(res, 403, 'forbidden_host', 'a node without a token answers only requests addressed to a loopback name (Host: localhost or 127.0.0.1); set GYRE_TOKEN to serve other names');
        return 403;
      }
      let url: URL;
      try {
        url = new URL(rawUrl, 'http://gyre.invalid');
      } catch {
        throw new HttpError(400, 'bad_request', 'the request target is not a valid URL path');
      }
      // Admin routes change the cluster: without a token a browser request (it carries an
      // Origin) could come from any web page the operator has open, so it is refused.
      if (path.startsWith('/admin/') && config.token === undefined && req.headers.origin !== undefined) {
        sendError(res, 403, 'forbidden', 'admin routes of a cluster without a token do not accept browser requests; set GYRE_TOKEN');
        return 403;
      }
      if (path.startsWith('/admin/') && req.method === 'POST' && req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0' && !(req.headers['content-type'] ?? '').startsWith('application/json')) {
        sendError(res, 415, 'unsupported_media_type', 'admin requests with a body take Content-Type: application/json');
        return 415;
      }
      if (path.startsWith('/kv/')) {
        op = req.method === 'PUT' ? 'put' : req.method === 'DELETE' ? 'delete' : 'get';
        return kv(req, res, url, decodeKeySegment(path.slice(4)), op);
      }
      if (path.startsWith('/replicas/') && req.method === 'GET') {
        op = 'replicas';
        await replicas(res, url, decodeKeySegment(path.slice(10)));
        return 200;
      }
      if (path === '/admin/leave' && req.method === 'POST') {
        op = 'admin';
        const r = node.leave();
        sendJson(res, r.ok ? 202 : 409, r.ok ? { ok: true, message: r.message } : { error: 'cannot_leave', message: r.message });
        return r.ok ? 202 : 409;
      }
      if (path === '/admin/trace' && req.method === 'POST') {
        op = 'admin';
        let raw: unknown;
        try {
          raw = JSON.parse((await readBody(req, traceRequestBytesMax)).toString('utf8'));
        } catch (e) {
          if (e instanceof HttpError) throw e;
          throw new HttpError(400, 'bad_request', 'the body must be a JSON trace request {op, key, ...}');
        }
        const out = await runTrace(node, raw);
        if (!out.ok) throw new HttpError(400, out.error, out.message);
        sendJson(res, 200, out.value);
        return 200;
      }
      if (path === '/admin/faults' || path.startsWith('/admin/faults/')) {
        op = 'admin';
        return faults(req, res, path);
      }
      if (path === '/status' && req.method === 'GET') {
        op = 'status';
        status(res);
        return 200;
      }
      if (path === '/metrics' && req.method === 'GET') {
        op = 'metrics';
        const text = await node.metrics.registry.metrics();
        send(res, 200, text, { 'content-type': node.metrics.registry.contentType });
        return 200;
      }
      sendError(res, 404, 'no_route', `no route for ${req.method} ${path}`);
      return 404;
    };
    run().then(finish, (e: unknown) => {
      if (e instanceof HttpError) {
        if (e.status === 413) answerAfterBody(req, () => sendError(res, e.status, e.code, e.message, { connection: 'close' }));
        else sendError(res, e.status, e.code, e.message);
        finish(e.status);
        return;
      }
      // A client that hung up mid-request is not a server error.
      if (req.destroyed || (e as { code?: unknown }).code === 'ECONNRESET' || (e as Error).message === 'aborted') {
        node.log.debug({ path }, 'client went away mid-request');
        finish(499);
        return;
      }
      node.log.error({ err: String(e), path }, 'request failed');
      sendError(res, 500, 'internal', 'internal error');
      finish(500);
    });
  });
  // Requests the HTTP parser refuses (oversized headers, malformed syntax) still get the
  // contract's JSON error body, then the connection is closed.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({ error: tooLarge ? 'headers_too_large' : 'bad_request', message: tooLarge ? 'request headers are too large' : `malformed HTTP request (${err.code ?? 'parse error'})` });
    socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 30_000;
  server.maxHeadersCount = 100;
  server.maxConnections = httpConnectionsMax;
  if (controlOn) {
    const control = new ControlServer(node, server);
    server.once('close', () => void control.close());
  }
  return server;
}

