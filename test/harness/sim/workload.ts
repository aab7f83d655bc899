// Simulated clients. Each client runs one operation at a time against a node it picks at
// random, calling the coordinator exactly as the HTTP API does (`coordinator.get`,
// `coordinator.put` with the context decoded from the opaque token the API would have handed
// out). The operation mix and the contexts writes carry are every workload client's
// (node-core/src/verify/workload-client.ts).

import { encodeContext } from '../../../node-core/src/core/context.js';
import { sleep } from '../../../node-core/src/core/env.js';
import type { Payload } from '../../../node-core/src/core/siblings.js';
import { emptyClock, type VClock } from '../../../node-core/src/core/vclock.js';
import type { SimCluster } from './cluster.js';
import { simEnv } from './env.js';
import { type Basis, type History, type ReadOp, type WriteOp, seen, tombstoneTypePrefix } from '../../../node-core/src/verify/history.js';
import type { Rng } from './random.js';
import { WorkloadClient, opWeights } from '../../../node-core/src/verify/workload-client.js';


export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  readonly startMs: number;
  readonly stopMs: number;
  readonly thinkMinMs: number;
  readonly thinkMaxMs: number;
  /** The request timeout the client asks the coordinator for. */
  readonly requestTimeoutMs: number;
  /** How long a client waits for any answer (a coordinator may forward, then coordinate). */
  readonly clientTimeoutMs: number;
}


export class Client extends WorkloadClient<Rng> {
  stopped = false;
  inFlight = 0;

  constructor(
    readonly id: string,
    private readonly cluster: SimCluster,
    private readonly history: History,
    rng: Rng,
    private readonly opts: WorkloadOptions,
    /** The writes a context covers (the oracle's answer), recorded with each operation. */
    private readonly covered?: (key: string, clock: VClock) => string[],
  ) {
    super(rng, () => cluster.options);
  }

  private get now(): number {
    return this.cluster.scheduler.now;
  }

  private pickNode(): string | undefined {
    const up = this.cluster.ids.filter((id) => this.cluster.isRunning(id));
    return up.length === 0 ? undefined : this.rng.pick(up);
  }

  async run(): Promise<void> {
    const env = simEnv(this.cluster.scheduler, this.rng, `${this.id} think`);
    await sleep(env, Math.max(0, this.opts.startMs - this.now) + this.rng.int(200));
    while (this.now < this.opts.stopMs && !this.stopped) {
      const key = this.rng.pick(this.opts.keys);
      const kind = this.rng.weighted(opWeights);
      this.inFlight++;
      try {
        await this.step(kind, key);
      } finally {
        this.inFlight--;
      }
      await sleep(env, this.opts.thinkMinMs + this.rng.int(this.opts.thinkMaxMs - this.opts.thinkMinMs + 1));
    }
  }

  /** A get; `final` marks the reads of the settled state. */
  async read(key: string, r: number, final: boolean, at?: string): Promise<ReadOp> {
    const node = at ?? this.pickNode();
    const op: ReadOp = { kind: 'get', op: this.history.newOpId(), client: this.id, key, node: node ?? '-', r, invokedAt: this.now, final };
    this.history.add(op);
    if (node === undefined) {
      op.completedAt = this.now;
      op.outcome = 'fail';
      op.error = 'no node running';
      return op;
    }
    const keyBytes = Buffer.from(key);
    this.history.traceKey(key, `${this.now} ${this.id} get#${op.op} ${key} at ${node} r=${r}`, true);
    const res = await this.cluster.call(node, `${this.id} get#${op.op} ${key}`, async (g) => {
      // Sealed by the node that answered, as the HTTP API seals it.
      const got = await g.coordinator.get(keyBytes, r, this.opts.requestTimeoutMs);
      return 'versions' in got && got.context ? { ...got, token: encodeContext(got.context, keyBytes, g.contextKeys()) } : { ...got, token: undefined };
    }, this.opts.clientTimeoutMs);
    op.completedAt = this.now;
    if (!res.ok) {
      op.outcome = res.error === 'refused' ? 'fail' : res.error === 'timeout' ? 'unknown' : 'fail';
      op.error = `${res.error}: ${res.message}`;
    } else if ('versions' in res.value) {
      op.outcome = 'ok';
      op.status = res.value.status;
      op.versions = res.value.versions.map(seen);
      op.context = res.value.token;
      if (res.value.context) op.covers = this.covered?.(key, res.value.context);
      if (!final) this.known.set(key, { token: op.context, basis: { kind: 'read', op: op.op, dots: op.versions.map((v) => v.dot) } });
    } else {
      op.outcome = 'fail';
      op.status = res.value.status;
      op.error = res.value.message;
    }
    const shown = op.versions ? ` [${op.versions.map((v) => `${v.writeId ?? '?'}${v.deleted ? '(del)' : ''}@${v.dot}`).join(' ')}]` : op.error ? ` (${op.error})` : '';
    this.history.traceKey(key, `${this.now} ${this.id} get#${op.op} ${key} -> ${op.outcome} ${op.status ?? ''}${shown}`, true);
    return op;
  }

  protected async write(kind: 'put' | 'delete', key: string, basis: Basis, token: string | undefined): Promise<WriteOp | undefined> {
    const node = this.pickNode();
    if (node === undefined) return undefined;
    const writeId = `${this.id}-w${++this.writes}`;
    const w = this.pickW();
    const op: WriteOp = { kind, op: this.history.newOpId(), writeId, client: this.id, key, node, w, invokedAt: this.now, basis, context: token };
    this.history.add(op);
    const keyBytes = Buffer.from(key);
    const payload: Payload =
      kind === 'put'
        ? { deleted: false, value: Buffer.from(writeId), contentType: 'text/plain' }
        : { deleted: true, value: Buffer.alloc(0), contentType: `${tombstoneTypePrefix}${writeId}` };
    const from = basis.kind === 'read' ? ` ctx=get#${basis.op}` : basis.kind === 'put' ? ` ctx=${basis.writeId}` : ' blind';
    this.history.traceKey(key, `${this.now} ${this.id} ${kind} ${writeId} ${key} at ${node} w=${w}${from}`, true);
    const res = await this.cluster.call(node, `${writeId} ${kind} ${key}`, async (g) => {
        // The node that takes the write checks the context, as the HTTP API does.
        let context: VClock = emptyClock;
        if (token !== undefined) {
          const decoded = await g.checkContext(token, keyBytes);
          // Not yet in touch with the cluster: the API answers 503 (retry), not 400.
          if (!decoded.ok && 'notJoined' in decoded) return { status: 503 as const, error: 'unavailable', message: decoded.reason };
          // The API would answer 400: a context the cluster handed out must always decode.
          if (!decoded.ok) return { status: 400 as const, error: 'bad_context', message: `context refused: ${decoded.reason}` };
          context = decoded.clock;
        }
        const out = await g.coordinator.put({ key: keyBytes, payload, context, w, timeoutMs: this.opts.requestTimeoutMs });
        return out.status === 204 ? { ...out, token: encodeContext(out.clock, keyBytes, g.contextKeys()) } : out;
      },
      this.opts.clientTimeoutMs,
    );
    op.completedAt = this.now;
    if (!res.ok) {
      op.outcome = res.error === 'timeout' ? 'unknown' : 'fail';
      op.error = `${res.error}: ${res.message}`;
    } else if (res.value.status === 204) {
      op.outcome = 'ok';
      op.status = 204;
      op.returned = res.value.token;
      op.covers = this.covered?.(key, res.value.clock);
      this.known.set(key, { token: op.returned, basis: { kind: 'put', writeId } });
    } else {
      // 503 "may still be applied": neither acknowledged nor known to be absent.
      op.outcome = 'fail';
      op.status = res.value.status;
      op.error = res.value.message;
    }
    this.history.traceKey(key, `${this.now} ${this.id} ${kind} ${writeId} ${key} -> ${op.outcome} ${op.status ?? ''}${op.error ? ` (${op.error})` : ''}`, true);
    return op;
  }
}
