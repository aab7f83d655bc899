// One Gyre node: the driver that wires the pure core (ring, clocks, coordinator) to its
// effects (SQLite, TCP, HTTP, timers). Everything here is plumbing; decisions live in core/.

import { pack, unpack } from 'msgpackr';
import { pino, type Logger } from 'pino';
import { Coordinator, type CoordinateRequest, type Replicas } from './core/coordinator.js';
import type { Env, TimerHandle } from './core/env.js';
import { realEnv } from './real-env.js';
import { Membership } from './core/membership.js';
import { partitionOf } from './core/partitioner.js';
import { computePreferenceList } from './core/ring.js';
import { type Version, syncSiblings, sameSiblings } from './core/siblings.js';
import { NodeMetrics } from './metrics.js';
import {
  type MemberInfo,
  type Request,
  ackReply,
  encodeCoordinateReply,
  encodeHelloReply,
  encodeRequest,
  encodeVersionsReply,
  isAck,
  parseCoordinateReply,
  parseHelloReply,
  parseRequest,
  parseVersionsReply,
} from './net/messages.js';
import { TcpTransport } from './net/tcp-transport.js';
import type { Transport } from './net/transport.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { Store } from './store/store.js';

export interface NodeConfig {
  readonly id: string;
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  /** Internode listener port; default port + 1. */
  readonly internodePort: number;
  /** Seeds: other nodes' client HTTP addresses, host:port. */
  readonly seeds: readonly string[];
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly token: string | undefined;
  readonly requestTimeoutMs: number;
  readonly sync: 'normal' | 'full';
  readonly logLevel: string;
}

export const defaultConfig = {
  n: 3,
  r: 2,
  w: 2,
  partitions: 64,
  requestTimeoutMs: 3000,
  sync: 'normal' as const,
  logLevel: 'info',
};

/** How often a node exchanges membership with each peer (also its heartbeat for now). */
export const helloIntervalMs = 1000;
export const helloTimeoutMs = 1000;
export const seedFetchTimeoutMs = 1000;

/** The HMAC key for contexts: the cluster token, or a fixed key when the cluster has none. */
export function contextSecret(token: string | undefined): string {
  return token ?? 'gyre-default-context-key';
}

export class GyreNode {
  readonly log: Logger;
  readonly env: Env;
  readonly metrics: NodeMetrics;
  readonly membership: Membership;
  readonly coordinator: Coordinator;
  readonly startedAtMs: number;
  private helloTimer: TimerHandle | undefined;
  private stopped = false;
  private readonly unresolvedSeeds: Set<string>;
  private readonly replicaClient: Replicas;

  readonly config: NodeConfig;
  readonly store: Store;
  readonly transport: Transport;
  readonly self: MemberInfo;
  private readonly seedLookup: SeedLookup;

  /** Wires a node from its parts; production uses `start`, the simulator passes its own. */
  constructor(parts: NodeParts) {
    const { config, store, transport, log } = parts;
    this.config = config;
    this.store = store;
    this.transport = transport;
    this.self = { id: config.id, http: parts.httpAddress, internode: transport.address };
    this.env = parts.env;
    this.seedLookup = parts.seedLookup;
    this.log = log;
    const self = this.self;
    this.startedAtMs = this.env.now();
    this.membership = new Membership(self, config.partitions);
    for (const m of loadMembers(store)) this.membership.add(m);
    this.unresolvedSeeds = new Set(config.seeds.filter((s) => s !== self.http));
    this.metrics = new NodeMetrics({
      defaultMetrics: parts.defaultMetrics ?? false,
      storeStats: () => this.store.stats(),
      memberStatuses: () => {
        const out: Record<string, number> = { up: 0, suspect: 0, down: 0 };
        for (const m of this.membership.members()) out[this.membership.status(m.id)]!++;
        return out;
      },
    });
    this.replicaClient = this.replicas();
    this.coordinator = new Coordinator({
      selfId: config.id,
      env: this.env,
      store,
      replicas: this.replicaClient,
      partitionOf: (key) => partitionOf(key, config.partitions),
      preferenceList: (p) => this.preferenceList(p),
      events: {
        readRepair: (_key, nodes) => this.metrics.readRepairs.inc(nodes.length),
        replicaFailed: (node, error) => this.log.debug({ node, err: String(error) }, 'replica request failed'),
      },
    });
    transport.setHandler((body, from) => this.handle(body, from));
  }

  static async start(config: NodeConfig, opts: { log?: Logger } = {}): Promise<GyreNode> {
    const log = opts.log ?? pino({ level: config.logLevel, base: { node: config.id } });
    const store = new SqliteStore(config.dir, { nodeId: config.id, now: () => realEnv.now(), sync: config.sync });
    const shape = loadShape(store);
    let cfg = config;
    if (shape && (shape.partitions !== config.partitions || shape.n !== config.n)) {
      // Q is fixed when the cluster is created: the data on disk was placed with it.
      log.warn({ stored: shape, flags: { partitions: config.partitions, n: config.n } }, 'using the partition count and N stored in the data folder');
      cfg = { ...config, partitions: shape.partitions, n: shape.n };
    } else if (!shape) {
      await store.setMeta('shape', pack({ partitions: config.partitions, n: config.n }));
    }
    let transport: TcpTransport;
    try {
      transport = await TcpTransport.listen({
        host: cfg.host,
        port: cfg.internodePort,
        nodeId: cfg.id,
        token: cfg.token,
        log: (level, msg, fields) => log[level](fields ?? {}, msg),
      });
    } catch (e) {
      await store.close();
      throw e;
    }
    const node = new GyreNode({ config: cfg, store, transport, env: realEnv, log, httpAddress: `${cfg.host}:${cfg.port}`, seedLookup: httpSeedLookup(cfg.token), defaultMetrics: true });
    node.begin();
    return node;
  }

  /** Starts the node's periodic work (membership exchange). */
  begin(): void {
    this.scheduleHello(0);
  }

  /** What one replica holds for a key, read from it directly (GET /replicas). */
  readReplica(node: string, key: Uint8Array, timeoutMs: number): Promise<Version[]> {
    return this.replicaClient.read(node, key, timeoutMs);
  }

  preferenceList(partition: number): string[] {
    return computePreferenceList(this.membership.ring(), partition, this.config.n);
  }

  // Internode

  private async handle(body: unknown, from: string): Promise<unknown> {
    const parsed = parseRequest(body);
    if (!parsed.ok) {
      this.metrics.internodeRejected.inc({ reason: 'malformed' });
      this.log.warn({ from, reason: parsed.reason }, 'malformed internode request');
      throw Object.assign(new Error(parsed.reason), { code: 'bad_request' });
    }
    const req: Request = parsed.value;
    switch (req.t) {
      case 'hello': {
        if (req.shape.partitions !== this.config.partitions || req.shape.n !== this.config.n) {
          this.metrics.internodeRejected.inc({ reason: 'shape' });
          throw Object.assign(new Error(`cluster shape mismatch: we have Q=${this.config.partitions} N=${this.config.n}, ${req.from.id} has Q=${req.shape.partitions} N=${req.shape.n}`), { code: 'shape_mismatch' });
        }
        this.learn([req.from, ...req.members]);
        this.membership.observe(req.from.id, true, this.env.now());
        return encodeHelloReply(this.self, this.membership.members());
      }
      case 'read':
        return encodeVersionsReply(await this.store.read(req.key));
      case 'write':
        await this.mergeLocal(req.key, req.partition, req.versions);
        return ackReply;
      case 'coordinate': {
        const r = await this.coordinator.put(toCoordinateRequest(req), true);
        return encodeCoordinateReply(r.status === 204 ? { status: 204, clock: r.clock, error: undefined, message: undefined } : { status: r.status, clock: undefined, error: r.error, message: r.message });
      }
    }
  }

  /** Merges versions from elsewhere into the local replica, committing only if something changed. */
  mergeLocal(key: Uint8Array, partition: number, incoming: readonly Version[]): Promise<void> {
    return this.store.update(key, partition, (cur) => {
      const merged = syncSiblings(cur, incoming);
      return { versions: sameSiblings(merged, cur) ? undefined : merged, result: undefined };
    });
  }

  private replicas(): Replicas {
    const self = this.config.id;
    return {
      read: async (node, key, timeoutMs) => {
        if (node === self) return this.store.read(key);
        const reply = await this.call(node, { t: 'read', key }, timeoutMs);
        const parsed = parseVersionsReply(reply);
        if (!parsed.ok) throw new Error(`bad read reply from ${node}: ${parsed.reason}`);
        return parsed.value;
      },
      write: async (node, key, partition, versions, timeoutMs) => {
        if (node === self) return this.mergeLocal(key, partition, versions);
        const reply = await this.call(node, { t: 'write', key, partition, versions }, timeoutMs);
        if (!isAck(reply)) throw new Error(`bad write reply from ${node}`);
      },
      coordinate: async (node, req, timeoutMs) => {
        const reply = await this.call(node, { t: 'coordinate', key: req.key, deleted: req.payload.deleted, value: req.payload.value, contentType: req.payload.contentType, context: req.context, w: req.w, timeoutMs: req.timeoutMs }, timeoutMs);
        const parsed = parseCoordinateReply(reply);
        if (!parsed.ok) throw new Error(`bad coordinate reply from ${node}: ${parsed.reason}`);
        return parsed.value;
      },
    };
  }

  /** One internode request to a member; its outcome feeds this node's view of that member. */
  private async call(node: string, req: Request, timeoutMs: number): Promise<unknown> {
    const info = this.membership.get(node);
    if (!info) throw new Error(`unknown node ${node}`);
    try {
      const reply = await this.transport.request(info.internode, encodeRequest(req), timeoutMs);
      this.membership.observe(node, true, this.env.now());
      this.metrics.internode.inc({ type: req.t, outcome: 'ok' });
      return reply;
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A remote error is an answer: the peer is alive, it just refused this request.
      this.membership.observe(node, code === 'remote', this.env.now());
      this.metrics.internode.inc({ type: req.t, outcome: code ?? 'error' });
      throw e;
    }
  }

  // Membership (seed-based; gossip replaces this)

  private learn(members: readonly MemberInfo[]): void {
    let changed = false;
    for (const m of members) if (this.membership.add(m)) changed = true;
    if (changed) {
      this.log.info({ members: this.membership.members().map((m) => m.id) }, 'membership changed');
      void this.store.setMeta('members', pack(this.membership.members())).catch((e: unknown) => this.log.error({ err: String(e) }, 'could not persist members'));
    }
  }

  private scheduleHello(ms: number): void {
    if (this.stopped) return;
    this.helloTimer = this.env.setTimer(ms, () => {
      void this.helloRound().finally(() => this.scheduleHello(helloIntervalMs));
    });
  }

  private async helloRound(): Promise<void> {
    await Promise.all([...this.unresolvedSeeds].map((s) => this.resolveSeed(s)));
    const hello: Request = { t: 'hello', from: this.self, shape: { partitions: this.config.partitions, n: this.config.n }, members: this.membership.members() };
    await Promise.all(
      this.membership
        .members()
        .filter((m) => m.id !== this.config.id)
        .map(async (m) => {
          try {
            const parsed = parseHelloReply(await this.call(m.id, hello, helloTimeoutMs));
            if (parsed.ok) this.learn([parsed.value.from, ...parsed.value.members]);
          } catch {
            // Recorded by call(); the next round tries again.
          }
        }),
    );
  }

  private async resolveSeed(seed: string): Promise<void> {
    const found = await this.seedLookup(seed);
    if (!found) return; // not up yet: the next round asks again
    this.learn(found);
    this.unresolvedSeeds.delete(seed);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.helloTimer?.cancel();
    await this.transport.close();
    await this.store.close();
  }
}

/** Asks a seed (a client address) for the members it knows; undefined if it cannot answer yet. */
export type SeedLookup = (seed: string) => Promise<MemberInfo[] | undefined>;

export interface NodeParts {
  readonly config: NodeConfig;
  readonly store: Store;
  readonly transport: Transport;
  readonly env: Env;
  readonly log: Logger;
  /** The client address peers and seeds name this node by. */
  readonly httpAddress: string;
  readonly seedLookup: SeedLookup;
  readonly defaultMetrics?: boolean;
}

/** Seeds are client HTTP addresses: GET /status of one tells the members' internode addresses. */
export function httpSeedLookup(token: string | undefined): SeedLookup {
  return async (seed) => {
    try {
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const res = await fetch(`http://${seed}/status`, { headers, signal: AbortSignal.timeout(seedFetchTimeoutMs) });
      if (!res.ok) return undefined;
      const body = (await res.json()) as { members?: unknown };
      if (!Array.isArray(body.members)) return undefined;
      const found: MemberInfo[] = [];
      for (const m of body.members as { id?: unknown; address?: unknown; internode?: unknown }[]) {
        if (typeof m.id === 'string' && typeof m.address === 'string' && typeof m.internode === 'string') found.push({ id: m.id, http: m.address, internode: m.internode });
      }
      return found;
    } catch {
      return undefined;
    }
  };
}

function toCoordinateRequest(req: Extract<Request, { t: 'coordinate' }>): CoordinateRequest {
  return { key: req.key, payload: { deleted: req.deleted, value: req.value, contentType: req.contentType }, context: req.context, w: req.w, timeoutMs: req.timeoutMs };
}

function loadShape(store: Store): { partitions: number; n: number } | undefined {
  const raw = store.getMeta('shape');
  if (!raw) return undefined;
  const v = unpack(raw) as { partitions?: unknown; n?: unknown };
  if (typeof v.partitions === 'number' && typeof v.n === 'number') return { partitions: v.partitions, n: v.n };
  return undefined;
}

function loadMembers(store: Store): MemberInfo[] {
  const raw = store.getMeta('members');
  if (!raw) return [];
  const v = unpack(raw) as unknown;
  if (!Array.isArray(v)) return [];
  return v.filter((m): m is MemberInfo => typeof m?.id === 'string' && typeof m?.http === 'string' && typeof m?.internode === 'string');
}
