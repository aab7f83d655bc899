// A chaos client: the simulator's workload (sim/workload.ts) spoken over the real HTTP API of
// CONTRACT.md, recorded into the same History. Black box: it sees only responses. Each value
// is the unique id of its write ("c3-w17"); a DELETE labels its tombstone with its id in the
// Content-Type (the API keeps a DELETE's Content-Type on the tombstone). Versions are told
// apart by the `X-Gyre-Version` header (the event of each version returned or written).
//
// The client keeps, per key, the context of its last read or write and which versions it
// stood for (the write's basis), exactly like the simulated one.

import { GyreClient, type RawResponse, header } from '../../../node-core/src/client/client.js';
import { sleep } from '../../../node-core/src/core/env.js';
import { realEnv } from '../../../node-core/src/start/real-env.js';
import { type Basis, type History, type ReadOp, type VersionSeen, type WriteOp, tombstoneTypePrefix, writerOf } from '../sim/history.js';
import { WorkloadClient, opWeights } from '../sim/workload.js';
import type { Rng } from '../sim/random.js';

export interface ChaosClientOptions {
  readonly keys: readonly string[];
  readonly n: number;
  readonly r: number;
  readonly w: number;
  /** Server-side timeout asked for (?timeout=). */
  readonly requestTimeoutMs: number;
  /** How long the client waits for any answer. */
  readonly clientTimeoutMs: number;
  readonly thinkMinMs: number;
  readonly thinkMaxMs: number;
  readonly token: string | undefined;
}

/** Where the client may send a request now (nodes the nemesis has not killed or stopped). */
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

/** What a chaos client buffers of one response at most. */
const responseBytesMax = 8 * 1024 * 1024;
/** Pooled connections per node and client. */
const socketsPerNode = 4;

type Reply = RawResponse;

function versionIds(res: Reply): string[] {
  const h = header(res, 'x-gyre-version');
  return h ? h.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : [];
}

export class ChaosClient extends WorkloadClient {
  private readonly clients = new Map<string, GyreClient>();
  stopped = false;

  constructor(
    readonly id: string,
    private readonly pick: NodePicker,
    private readonly history: History,
    rng: Rng,
    private readonly opts: ChaosClientOptions,
    /** Milliseconds since the run started (the history's clock). */
    private readonly now: () => number,
    /** Every version a response showed (the checker's index of versions). */
    private readonly observe: (o: Observed) => void,
  ) {
    super(rng, () => opts);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }

  /** One request to a node, on that node's pooled client. */
  private send(base: string, path: string, method: string, headers: Record<string, string>, body: Buffer | undefined, timeoutMs: number): Promise<Reply> {
    let c = this.clients.get(base);
    if (!c) {
      c = new GyreClient({ failover: false, url: base, maxSockets: socketsPerNode, responseBytesMax });
      this.clients.set(base, c);
    }
    return c.request({ method, path, headers, timeoutMs, ...(body !== undefined ? { body } : {}) });
  }

  private auth(): Record<string, string> {
    return this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {};
  }

  /** Runs operations one at a time until `stopAt` (run time) or stop(). */
  async run(stopAt: number): Promise<void> {
    await sleep(realEnv, this.rng.int(200));
    while (this.now() < stopAt && !this.stopped) {
      const key = this.rng.pick(this.opts.keys);
      await this.step(this.rng.weighted(opWeights), key);
      await sleep(realEnv, this.opts.thinkMinMs + this.rng.int(this.opts.thinkMaxMs - this.opts.thinkMinMs + 1));
    }
  }

  /** A get; `final` marks the reads of the settled state (then `at` names the node). */
  async read(key: string, r: number, final: boolean, at?: { id: string; url: string }): Promise<ReadOp> {
    const node = at ?? this.pick();
    const op: ReadOp = { kind: 'get', op: this.history.newOpId(), client: this.id, key, node: node?.id ?? '-', r, invokedAt: this.now(), final };
    this.history.add(op);
    if (!node) {
      op.completedAt = this.now();
      op.outcome = 'fail';
      op.error = 'no node running';
      return op;
    }
    this.history.traceKey(key, `${op.invokedAt} ${this.id} get#${op.op} ${key} at ${node.id} r=${r}`);
    let res: Reply;
    try {
      res = await this.send(node.url, `/kv/${encodeURIComponent(key)}?r=${r}&timeout=${this.opts.requestTimeoutMs}`, 'GET', { ...this.auth(), accept: 'application/json' }, undefined, this.opts.clientTimeoutMs);
    } catch (e) {
      op.completedAt = this.now();
      op.outcome = 'fail';
      op.error = `transport: ${(e as Error).message}`;
      this.history.traceKey(key, `${op.completedAt} ${this.id} get#${op.op} -> ${op.error}`);
      return op;
    }
    op.completedAt = this.now();
    op.status = res.status;
    const ids = versionIds(res);
    const context = header(res, 'x-gyre-context');
    if (res.status === 200 || res.status === 300) {
      let siblings: { value: string; contentType: string; deleted: boolean }[];
      try {
        siblings = (JSON.parse(res.body.toString('utf8')) as { siblings: { value: string; contentType: string; deleted: boolean }[] }).siblings;
      } catch {
        op.outcome = 'fail';
        op.error = `unparseable ${res.status} body`;
        return op;
      }
      if (siblings.length !== ids.length) {
        op.outcome = 'fail';
        op.error = `${siblings.length} siblings but ${ids.length} version ids`;
        return op;
      }
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
      op.error = res.body.toString('utf8').slice(0, 200);
    }
    if (op.outcome === 'ok') {
      op.context = context;
      if (!final) this.known.set(key, { token: context, basis: { kind: 'read', op: op.op, dots: (op.versions ?? []).map((v) => v.dot) } });
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
      res = await this.send(node.url, `/kv/${encodeURIComponent(key)}?w=${w}&timeout=${this.opts.requestTimeoutMs}`, kind === 'put' ? 'PUT' : 'DELETE', headers, kind === 'put' ? value : undefined, this.opts.clientTimeoutMs);
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
      op.returned = header(res, 'x-gyre-context');
      if (dot) this.observe({ key, dot, deleted: kind === 'delete', contentType, value, context: op.returned, at: op.completedAt, node: node.id });
      this.known.set(key, { token: op.returned, basis: { kind: 'put', writeId } });
    } else {
      // 503 "may still be applied": neither acknowledged nor known to be absent.
      op.outcome = 'fail';
      op.error = res.body.toString('utf8').slice(0, 200);
      if (dot) this.observe({ key, dot, deleted: kind === 'delete', contentType, value, context: undefined, at: op.completedAt, node: node.id });
    }
    this.history.traceKey(key, `${op.completedAt} ${this.id} ${kind} ${writeId} -> ${op.outcome} ${res.status}${dot ? ` @${dot}` : ''}${op.error ? ` (${op.error})` : ''}`);
    return op;
  }
}
