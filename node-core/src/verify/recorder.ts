// A recording client over the HTTP API of CONTRACT.md (issue 4; the console's experiments,
// issue 14): the workload of workload-client.ts, recorded into a History for the checker.
// Black box: it sees only responses. Each value is the unique id of its write ("c3-w17"); a
// DELETE labels its tombstone with its id in the Content-Type (the API keeps a DELETE's
// Content-Type on the tombstone). Versions are told apart by the `X-Gyre-Version` header (the
// event of each version returned or written).
//
// Pure like the checker: the requests go out through `send` and the pauses through an Env,
// both given by whoever runs it (the chaos harness and the console pass the HTTP client and
// the wall clock), so this file needs neither a socket nor a timer.

import { type Env, sleep } from '../core/env.js';
import { type Basis, type History, type ReadOp, type VersionSeen, type WriteOp, tombstoneTypePrefix, writerOf } from './history.js';
import { type OpKind, WorkloadClient, type WorkloadRandom, opWeights } from './workload-client.js';

/** An HTTP answer, as the transport hands it over (header names in lower case). */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface Request {
  readonly method: string;
  /** Path and query, percent-encoded. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
  readonly timeoutMs: number;
}

/** One request to the node at `base` (`http(s)://host:port`); rejects on a transport failure. */
export type Send = (base: string, req: Request) => Promise<Reply>;

export interface RecorderOptions {
  readonly keys: readonly string[];
  readonly n: number;
  readonly r: number;
  readonly w: number;
  /** Server-side timeout asked for (?timeout=). */
  readonly requestTimeoutMs: number;
  /** How long the client waits for any answer. */
  readonly clientTimeoutMs: number;
  /** Pause between two operations: uniform in [thinkMinMs, thinkMaxMs] ... */
  readonly thinkMinMs: number;
  readonly thinkMaxMs: number;
  /** ... unless set: then one operation starts every `intervalMs` (a steady rate; none skipped to catch up). */
  readonly intervalMs?: number | undefined;
  /** The operation mix (default opWeights). */
  readonly weights?: readonly (readonly [number, OpKind])[] | undefined;
  readonly token: string | undefined;
}

/** Where the client may send a request now (nodes no fault has killed or stopped). */
export type NodePicker = () => { id: string; url: string } | undefined;

/** A version the client saw, with what the checker needs to place it. */
export interface Observed {
  readonly key: string;
  readonly dot: string;
  readonly deleted: boolean;
  readonly contentType: string;
  readonly value: Buffer;
  /** The version's own clock, as a context: known for acknowledged writes (what they returned). */
  readonly context: string | undefined;
  readonly at: number;
  readonly node: string;
}

/** A client's first operation waits up to this long, so clients do not start in lockstep. */
const startSpreadMs = 200;
/** Characters of an error body kept in the history. */
const errorTextMax = 200;

export function replyHeader(res: Reply, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

function versionIds(res: Reply): string[] {
  const h = replyHeader(res, 'x-gyre-version');
  return h ? h.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : [];
}

interface SiblingJson {
  value: string;
  contentType: string;
  deleted: boolean;
}

/** The siblings of a 200/300 body, or why not (a node's answer is checked like any input). */
function parseSiblings(body: Buffer): SiblingJson[] | string {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return 'unparseable body';
  }
  const siblings = typeof doc === 'object' && doc !== null ? (doc as { siblings?: unknown }).siblings : undefined;
  if (!Array.isArray(siblings)) return 'no siblings in the body';
  for (const s of siblings as unknown[]) {
    const o = s as Partial<SiblingJson> | null;
    if (typeof o !== 'object' || o === null || typeof o.value !== 'string' || typeof o.contentType !== 'string' || typeof o.deleted !== 'boolean') return 'a malformed sibling';
  }
  return siblings as SiblingJson[];
}

export class RecordingClient extends WorkloadClient {
  stopped = false;

  constructor(
    readonly id: string,
    private readonly pick: NodePicker,
    private readonly history: History,
    rng: WorkloadRandom,
    private readonly opts: RecorderOptions,
    /** Milliseconds since the run started (the history's clock). */
    private readonly now: () => number,
    /** Every version a response showed (the checker's index of versions). */
    private readonly observe: (o: Observed) => void,
    private readonly send: Send,
    /** The pauses between operations. */
    private readonly env: Env,
  ) {
    super(rng, () => opts);
  }

  private auth(): Record<string, string> {
    return this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {};
  }

  /** Runs operations one at a time until `stopAt` (run time) or stop(). */
  async run(stopAt: number): Promise<void> {
    const weights = this.opts.weights ?? opWeights;
    await sleep(this.env, this.rng.int(startSpreadMs));
    while (this.now() < stopAt && !this.stopped) {
      const startedAt = this.now();
      const key = this.rng.pick(this.opts.keys);
      await this.step(this.rng.weighted(weights), key);
      const interval = this.opts.intervalMs;
      const pause = interval !== undefined ? Math.max(0, startedAt + interval - this.now()) : this.opts.thinkMinMs + this.rng.int(this.opts.thinkMaxMs - this.opts.thinkMinMs + 1);
      if (pause > 0) await sleep(this.env, pause);
    }
  }

  private failRead(op: ReadOp, error: string): ReadOp {
    op.completedAt = this.now();
    op.outcome = 'fail';
    op.error = error;
    this.history.traceKey(op.key, `${op.completedAt} ${this.id} get#${op.op} -> ${error}`);
    return op;
  }

  /** A get; `final` marks the reads of the settled state (then `at` names the node). */
  async read(key: string, r: number, final: boolean, at?: { id: string; url: string }): Promise<ReadOp> {
    const node = at ?? this.pick();
    const op: ReadOp = { kind: 'get', op: this.history.newOpId(), client: this.id, key, node: node?.id ?? '-', r, invokedAt: this.now(), final };
    this.history.add(op);
    if (!node) return this.failRead(op, 'no node running');
    this.history.traceKey(key, `${op.invokedAt} ${this.id} get#${op.op} ${key} at ${node.id} r=${r}`);
    let res: Reply;
    try {
      res = await this.send(node.url, { method: 'GET', path: `/kv/${encodeURIComponent(key)}?r=${r}&timeout=${this.opts.requestTimeoutMs}`, headers: { ...this.auth(), accept: 'application/json' }, body: undefined, timeoutMs: this.opts.clientTimeoutMs });
    } catch (e) {
      return this.failRead(op, `transport: ${(e as Error).message}`);
    }
    op.completedAt = this.now();
    op.status = res.status;
    const ids = versionIds(res);
    if (res.status === 200 || res.status === 300) {
      const siblings = parseSiblings(res.body);
      if (typeof siblings === 'string') return this.failRead(op, `${res.status}: ${siblings}`);
      if (siblings.length !== ids.length) return this.failRead(op, `${siblings.length} siblings but ${ids.length} version ids`);
      op.outcome = 'ok';
      op.versions = siblings.map((s, i): VersionSeen => {
        const value = Buffer.from(s.value, 'base64');
        this.observe({ key, dot: ids[i]!, deleted: s.deleted, contentType: s.contentType, value, context: undefined, at: op.completedAt!, node: node.id });
        return { dot: ids[i]!, writeId: writerOf({ deleted: s.deleted, contentType: s.contentType, value }), deleted: s.deleted };
      });
    } else if (res.status === 404) {
      // Absent, or only tombstones (named by their ids; their writers are found from other sightings).
      op.outcome = 'ok';
      op.versions = ids.map((dot) => ({ dot, writeId: undefined, deleted: true }));
    } else {
      op.outcome = 'fail';
      op.error = res.body.toString('utf8').slice(0, errorTextMax);
    }
    if (op.outcome === 'ok') {
      op.context = replyHeader(res, 'x-gyre-context');
      if (!final) this.known.set(key, { token: op.context, basis: { kind: 'read', op: op.op, dots: (op.versions ?? []).map((v) => v.dot) } });
    }
    const shown = op.versions ? ` [${op.versions.map((v) => `${v.writeId ?? '?'}${v.deleted ? '(del)' : ''}@${v.dot}`).join(' ')}]` : ` (${op.error ?? ''})`;
    this.history.traceKey(key, `${op.completedAt} ${this.id} get#${op.op} ${key} -> ${op.outcome} ${res.status}${shown}`);
    return op;
  }

  protected async write(kind: 'put' | 'delete', key: string, basis: Basis, token: string | undefined): Promise<WriteOp | undefined> {
    const node = this.pick();
    if (!node) return undefined;
    const writeId = `${this.id}-w${++this.writes}`;
    const w = this.pickW();
    const op: WriteOp = { kind, op: this.history.newOpId(), writeId, client: this.id, key, node: node.id, w, invokedAt: this.now(), basis, context: token };
    this.history.add(op);
    const from = basis.kind === 'read' ? ` ctx=get#${basis.op}` : basis.kind === 'put' ? ` ctx=${basis.writeId}` : ' blind';
    this.history.traceKey(key, `${op.invokedAt} ${this.id} ${kind} ${writeId} ${key} at ${node.id} w=${w}${from}`);
    const contentType = kind === 'put' ? 'text/plain' : `${tombstoneTypePrefix}${writeId}`;
    const value = kind === 'put' ? Buffer.from(writeId) : Buffer.alloc(0);
    const headers: Record<string, string> = { ...this.auth(), 'content-type': contentType, ...(token ? { 'x-gyre-context': token } : {}) };
    let res: Reply;
    try {
      res = await this.send(node.url, { method: kind === 'put' ? 'PUT' : 'DELETE', path: `/kv/${encodeURIComponent(key)}?w=${w}&timeout=${this.opts.requestTimeoutMs}`, headers, body: kind === 'put' ? value : undefined, timeoutMs: this.opts.clientTimeoutMs });
    } catch (e) {
      op.completedAt = this.now();
      op.outcome = 'unknown';
      op.error = `transport: ${(e as Error).message}`;
      this.history.traceKey(key, `${op.completedAt} ${this.id} ${kind} ${writeId} -> ${op.error}`);
      return op;
    }
    op.completedAt = this.now();
    op.status = res.status;
    const dot = versionIds(res)[0];
    if (res.status === 204) {
      op.outcome = 'ok';
      op.returned = replyHeader(res, 'x-gyre-context');
      if (dot) this.observe({ key, dot, deleted: kind === 'delete', contentType, value, context: op.returned, at: op.completedAt, node: node.id });
      this.known.set(key, { token: op.returned, basis: { kind: 'put', writeId } });
    } else {
      // 503 "may still be applied": neither acknowledged nor known to be absent.
      op.outcome = 'fail';
      op.error = res.body.toString('utf8').slice(0, errorTextMax);
      if (dot) this.observe({ key, dot, deleted: kind === 'delete', contentType, value, context: undefined, at: op.completedAt, node: node.id });
    }
    this.history.traceKey(key, `${op.completedAt} ${this.id} ${kind} ${writeId} -> ${op.outcome} ${res.status}${dot ? ` @${dot}` : ''}${op.error ? ` (${op.error})` : ''}`);
    return op;
  }
}
