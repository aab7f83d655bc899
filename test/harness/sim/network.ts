// The simulated network (STYLE 5, 13; memberlist's mock transport, tigerbeetle's packet
// simulator): SimTransport implements the node's Transport interface, so the real node code
// sends its real messages through it. Every request and reply is packed and unpacked with the
// production msgpack settings (so the node parses exactly the types TCP would hand it), and
// travels as its own event with a seeded delay; on the way it can be lost, duplicated,
// delayed far behind later messages (reordering), or cut by a partition (symmetric or
// one-way). Timeouts are timers of the requesting node, so they run in virtual time.
//
// What TCP would do is mirrored where it matters to the node: a request to a crashed node
// (or across the crash of the node it was sent to) fails with `unreachable` after a round
// trip, as a refused or reset connection does; a request lost or cut by a partition, or sent
// to a paused node, fails with `timeout`; an error thrown by the remote handler fails with
// `remote`.

import { Packr } from 'msgpackr';
import type { Env, TimerHandle } from '../../../node-core/src/core/env.js';
import { type RequestHandler, type Transport, TransportError, noReplyCode } from '../../../node-core/src/net/transport.js';
import type { Scheduler, Watchdog } from './env.js';
import type { Rng } from './random.js';

/** The production codec settings (net/tcp-transport.ts). */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface LinkFaults {
  /** One-way delay of a message, uniform in [min, max] ms. */
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Chance a message is lost. */
  readonly lossRate: number;
  /** Chance a message is delivered twice (each copy with its own delay). */
  readonly dupRate: number;
  /** Chance a message is held back by up to `spikeMaxMs` more: later messages overtake it. */
  readonly spikeRate: number;
  readonly spikeMaxMs: number;
}

export const calmLinks: LinkFaults = { delayMinMs: 1, delayMaxMs: 4, lossRate: 0, dupRate: 0, spikeRate: 0, spikeMaxMs: 0 };

/** What the network knows of a node: its address and its current process, if running. */
export interface Endpoint {
  readonly id: string;
  readonly address: string;
  /** The running incarnation's transport; undefined while the node is down. */
  current(): SimTransport | undefined;
}

type Reply = { readonly kind: 'ok'; readonly bytes: Buffer } | { readonly kind: 'error'; readonly code: string; readonly message: string } | { readonly kind: 'reset' };

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  cut: number;
  duplicated: number;
  resets: number;
}

/** Describes a message body for the trace, and names the keys it touches. */
function describe(body: unknown): { tag: string; keys: string[] } {
  if (!Array.isArray(body) || typeof body[0] !== 'string') return { tag: '?', keys: [] };
  const tag = body[0];
  const text = (k: unknown): string | undefined => (k instanceof Uint8Array ? Buffer.from(k).toString('utf8') : undefined);
  if (tag === 'read' || tag === 'write' || tag === 'coordinate' || tag === 'reap') {
    const k = text(body[1]);
    return { tag, keys: k === undefined ? [] : [k] };
  }
  if (tag === 'writeMany' && Array.isArray(body[1])) {
    const keys: string[] = [];
    for (const item of body[1] as unknown[]) {
      const k = Array.isArray(item) ? text(item[0]) : undefined;
      if (k !== undefined) keys.push(k);
    }
    return { tag, keys };
  }
  if (tag === 'readMany' && Array.isArray(body[2])) {
    return { tag, keys: (body[2] as unknown[]).map(text).filter((k): k is string => k !== undefined) };
  }
  return { tag, keys: [] };
}

export class SimNetwork {
  faults: LinkFaults = calmLinks;
  /** Directed links that drop everything: "from>to". */
  private readonly cuts = new Set<string>();
  private readonly byAddress = new Map<string, Endpoint>();
  private readonly byId = new Map<string, Endpoint>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, cut: 0, duplicated: 0, resets: 0 };
  /** Called for every message that names keys (per-key traces of violations). */
  onKeyEvent: ((key: string, line: string) => void) | undefined;
  /** Drops requests for which this says so (scenario tests: "gossip between n2 and n3 is lost"). */
  dropRequest: ((from: string, to: string, tag: string) => boolean) | undefined;

  constructor(
    readonly scheduler: Scheduler,
    private readonly rng: Rng,
  ) {}

  register(e: Endpoint): void {
    this.byAddress.set(e.address, e);
    this.byId.set(e.id, e);
  }

  // Partitions

  /** Messages from `from` to `to` are dropped (a one-way partition). */
  cut(from: string, to: string): void {
    this.cuts.add(`${from}>${to}`);
  }

  /** Nodes of `a` and nodes of `b` cannot reach each other, both ways. */
  split(a: readonly string[], b: readonly string[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cut(x, y);
        this.cut(y, x);
      }
    }
  }

  heal(): void {
    this.cuts.clear();
  }

  isCut(from: string, to: string): boolean {
    return from !== to && this.cuts.has(`${from}>${to}`);
  }

  partitioned(): boolean {
    return this.cuts.size > 0;
  }

  describeCuts(): string {
    return [...this.cuts].sort().join(' ');
  }

  /** Whether `from` can currently get a message to `to` (for the seed lookup's HTTP call). */
  reachable(from: string, to: string): boolean {
    return !this.isCut(from, to) && !this.isCut(to, from);
  }

  private delay(from: string, to: string): number {
    if (from === to) return 0;
    const f = this.faults;
    let d = f.delayMinMs + this.rng.int(Math.max(1, f.delayMaxMs - f.delayMinMs + 1));
    if (this.rng.chance(f.spikeRate)) d += this.rng.int(Math.max(1, f.spikeMaxMs));
    return d;
  }

  /** How many copies of a message arrive (0: lost or cut). */
  private copies(from: string, to: string): number {
    if (this.isCut(from, to)) {
      this.stats.cut++;
      return 0;
    }
    if (from === to) return 1;
    if (this.rng.chance(this.faults.lossRate)) {
      this.stats.lost++;
      return 0;
    }
    if (this.rng.chance(this.faults.dupRate)) {
      this.stats.duplicated++;
      return 2;
    }
    return 1;
  }

  endpoint(id: string): Endpoint | undefined {
    return this.byId.get(id);
  }

  /** A request leaves `src` for the node listening at `to`. */
  sendRequest(src: SimTransport, to: string, id: number, body: unknown, bytes: Buffer): void {
    this.stats.sent++;
    const dest = this.byAddress.get(to);
    const { tag, keys } = describe(body);
    const label = `${src.nodeId}>${dest?.id ?? to} #${id} ${tag}`;
    for (const k of keys) this.onKeyEvent?.(k, `${this.scheduler.now} send ${label}`);
    const target = dest?.current();
    if (!dest || !target) {
      // Nobody listening: the connection is refused after a round trip.
      if (dest && this.isCut(src.nodeId, dest.id)) return;
      this.reply(dest?.id ?? to, src, id, { kind: 'reset' }, 2 * this.delay(src.nodeId, dest?.id ?? src.nodeId));
      return;
    }
    const incarnation = target.incarnation;
    if (this.dropRequest?.(src.nodeId, dest.id, tag)) {
      this.stats.lost++;
      return;
    }
    const n = this.copies(src.nodeId, dest.id);
    for (let i = 0; i < n; i++) {
      this.scheduler.schedule(this.delay(src.nodeId, dest.id), { node: dest.id, incarnation: undefined }, `deliver ${label}${i > 0 ? ' (dup)' : ''}`, () => {
        const now = dest.current();
        if (!now || now.incarnation !== incarnation) {
          // The process this connection went to is gone: the connection resets.
          this.reply(dest.id, src, id, { kind: 'reset' }, this.delay(dest.id, src.nodeId));
          return;
        }
        this.stats.delivered++;
        now.serve(src, id, bytes);
      });
    }
  }

  /** A reply (or a reset) travels from node `from` back to the requester `dst`. */
  reply(from: string, dst: SimTransport, id: number, r: Reply, delayMs?: number): void {
    if (r.kind === 'reset') this.stats.resets++;
    const n = r.kind === 'reset' ? (this.isCut(from, dst.nodeId) ? 0 : 1) : this.copies(from, dst.nodeId);
    const what = r.kind === 'ok' ? 'reply' : r.kind === 'error' ? `error ${r.code}` : 'reset';
    for (let i = 0; i < n; i++) {
      this.scheduler.schedule(delayMs ?? this.delay(from, dst.nodeId), { node: dst.nodeId, incarnation: dst.incarnation }, `${what} ${from}>${dst.nodeId} #${id}${i > 0 ? ' (dup)' : ''}`, () => dst.settle(id, r));
    }
  }

  /**
   * A node's process died: connections to it close, so every request waiting on it elsewhere
   * fails with `unreachable` (after the FIN/RST reaches the requester).
   */
  nodeCrashed(id: string): void {
    const dead = this.byId.get(id);
    if (!dead) return;
    for (const e of this.byId.values()) {
      if (e.id === id) continue;
      const t = e.current();
      if (!t) continue;
      for (const reqId of t.pendingTo(dead.address)) {
        if (this.isCut(id, e.id)) continue;
        this.reply(id, t, reqId, { kind: 'reset' });
      }
    }
  }
}

interface Pending {
  readonly to: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: TimerHandle;
}

/** One node incarnation's end of the simulated network. */
export class SimTransport implements Transport {
  private handler: RequestHandler = async () => {
    throw new Error('no handler');
  };
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** The process crashed: nothing it started ever completes. */
  private dead = false;
  private closed = false;

  constructor(
    private readonly net: SimNetwork,
    readonly nodeId: string,
    readonly address: string,
    readonly incarnation: number,
    private readonly env: Env,
    private readonly watchdog?: Watchdog,
  ) {}

  request(to: string, body: unknown, timeoutMs: number): Promise<unknown> {
    this.watchdog?.beat();
    if (this.dead) return new Promise<unknown>(() => {});
    if (this.closed) return Promise.reject(new TransportError('closed', 'transport closed'));
    let bytes: Buffer;
    try {
      bytes = packr.pack(body);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = this.env.setTimer(timeoutMs, () => {
        if (!this.pending.delete(id)) return;
        reject(new TransportError('timeout', `no reply from ${to} within ${timeoutMs} ms`));
      });
      this.pending.set(id, { to, resolve, reject, timer });
      this.net.sendRequest(this, to, id, body, bytes);
    });
  }

  setHandler(handler: RequestHandler): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [, p] of this.pending) {
      p.timer.cancel();
      p.reject(new TransportError('closed', 'transport closed'));
    }
    this.pending.clear();
  }

  /** The process is killed: pending requests never complete, incoming ones are refused. */
  kill(): void {
    this.dead = true;
    for (const p of this.pending.values()) p.timer.cancel();
    this.pending.clear();
  }

  isDead(): boolean {
    return this.dead;
  }

  /** Ids of requests waiting for a reply from `address`. */
  pendingTo(address: string): number[] {
    const out: number[] = [];
    for (const [id, p] of this.pending) if (p.to === address) out.push(id);
    return out;
  }

  /** An incoming request from `src` (the requesting incarnation): run the handler, send its outcome back. */
  serve(src: SimTransport, id: number, bytes: Buffer): void {
    if (this.dead) return;
    let body: unknown;
    try {
      body = packr.unpack(bytes);
    } catch {
      return;
    }
    this.handler(body, src.nodeId).then(
      (reply) => {
        if (this.dead) return;
        let out: Buffer;
        try {
          out = packr.pack(reply);
        } catch (e) {
          this.net.reply(this.nodeId, src, id, { kind: 'error', code: 'too_large', message: (e as Error).message });
          return;
        }
        this.net.reply(this.nodeId, src, id, { kind: 'ok', bytes: out });
      },
      (err: unknown) => {
        if (this.dead) return;
        const e = err as { code?: unknown; message?: unknown };
        if (e.code === noReplyCode) return;
        this.net.reply(this.nodeId, src, id, { kind: 'error', code: typeof e.code === 'string' ? e.code : 'error', message: String(e.message ?? err) });
      },
    );
  }

  /** A reply, failure or reset arrived for request `id`. */
  settle(id: number, r: Reply): void {
    if (this.dead) return;
    const p = this.pending.get(id);
    if (!p) return; // after its timeout (or a duplicate): the caller has moved on
    this.pending.delete(id);
    p.timer.cancel();
    if (r.kind === 'ok') {
      let value: unknown;
      try {
        value = packr.unpack(r.bytes);
      } catch (e) {
        p.reject(new TransportError('remote', `undecodable reply: ${(e as Error).message}`));
        return;
      }
      p.resolve(value);
    } else if (r.kind === 'error') p.reject(new TransportError('remote', `${r.code}: ${r.message}`));
    else p.reject(new TransportError('unreachable', `connection to ${p.to} refused or reset`));
  }
}
