// A simulated cluster: N real GyreNodes (node.ts, unchanged) in one process, each built from
// injected parts (NodeParts): a SimStore over a MemoryStore (the disk), a SimTransport (the
// network), an Env on the shared virtual clock, a silent logger and a seed lookup that
// answers for the seed node while it is up.
//
// Faults on nodes:
// - crash: the process dies (its timers, pending requests and queued commits vanish; peers
//   waiting on it see their connections reset); the MemoryStore survives;
// - crash with data loss: as crash, and the disk is replaced by an empty MemoryStore;
// - restart: a new incarnation (new GyreNode) on whatever disk the node has;
// - pause: SIGSTOP; its timers and the messages addressed to it wait until it resumes.
// Clients reach a node through `call`, which goes through the same gates (a paused node does
// not answer; a crashed one refuses), a small delay each way.

import { pino, type Logger } from 'pino';
import type { MemberInfo } from '../../../node-core/src/net/messages.js';
import { GyreNode, type NodeConfig, defaultConfig, seedFetchTimeoutMs } from '../../../node-core/src/node/node.js';
import { MemoryStore } from '../../../node-core/src/store/memory-store.js';
import type { Store } from '../../../node-core/src/core/store.js';
import { type CommitObserver, SimStore } from './disk.js';
import { type Gate, type Owner, type Scheduler, Watchdog, livelockCallsMax, nodeEnv } from './env.js';
import { type Endpoint, SimNetwork, SimTransport } from './network.js';
import type { Rng } from './random.js';

export interface ClusterOptions {
  /** Nodes started together at boot (n1..). */
  readonly nodes: number;
  /** Extra nodes (after those) that join the running cluster later. */
  readonly joiners: number;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly partitions: number;
  readonly requestTimeoutMs: number;
  readonly tombstoneGraceMs: number;
  readonly reapedRetainMs: number;
  /** Group-commit delay of the simulated disk, uniform in [0, max] ms. */
  readonly commitDelayMaxMs: number;
  /** Nodes log at this level into the trace (verbose replays); silent otherwise. */
  readonly nodeLogLevel?: string;
  /** Wraps a node's durable store (tests plant bugs here). Applied again after a wipe. */
  readonly wrapStore?: (nodeId: string, store: Store) => Store;
}

export const defaultClusterOptions: ClusterOptions = {
  nodes: 3,
  joiners: 0,
  n: defaultConfig.n,
  r: defaultConfig.r,
  w: defaultConfig.w,
  partitions: 16,
  requestTimeoutMs: defaultConfig.requestTimeoutMs,
  tombstoneGraceMs: defaultConfig.tombstoneGraceMs,
  reapedRetainMs: defaultConfig.reapedRetainMs,
  commitDelayMaxMs: 2,
};

/** How long after a node is found hung it is restarted (as a supervisor would). */
export const hungRestartMs = 5000;

/** One silent logger for every simulated node: nothing is formatted or written. */
const silentLog: Logger = pino({ level: 'silent' });

export type CallResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: 'refused' | 'timeout' | 'threw'; readonly message: string };

interface Running {
  readonly node: GyreNode;
  readonly transport: SimTransport;
  readonly store: SimStore;
}

/** idle: not started yet; active: part of the cluster (running or down); left: decommissioned. */
export type NodeStatus = 'idle' | 'active' | 'left';

export class SimNode implements Endpoint {
  readonly address: string;
  readonly http: string;
  incarnation = 0;
  status: NodeStatus = 'idle';
  running: Running | undefined;
  paused = false;
  durable: Store;
  /** Raw MemoryStore under any wrapper: what the checker inspects. */
  memory: MemoryStore;

  constructor(
    readonly id: string,
    memory: MemoryStore,
    durable: Store,
  ) {
    // The parser insists on host:port for both addresses (net/messages.ts addressPattern).
    this.address = `${id}:1`;
    this.http = `${id}:80`;
    this.memory = memory;
    this.durable = durable;
  }

  current(): SimTransport | undefined {
    return this.running?.transport;
  }

  info(): MemberInfo {
    return { id: this.id, http: this.http, internode: this.address };
  }
}

export class SimCluster {
  readonly nodes = new Map<string, SimNode>();
  /** Every node the run may use: the boot nodes, then the joiners. */
  readonly ids: string[];
  readonly bootIds: string[];
  readonly net: SimNetwork;

  constructor(
    readonly scheduler: Scheduler,
    private readonly rng: Rng,
    readonly options: ClusterOptions,
    private readonly observer: CommitObserver | undefined,
  ) {
    this.net = new SimNetwork(scheduler, rng.fork('network'));
    this.ids = Array.from({ length: options.nodes + options.joiners }, (_, i) => `n${i + 1}`);
    this.bootIds = this.ids.slice(0, options.nodes);
    for (const id of this.ids) {
      const { memory, durable } = this.freshDisk(id);
      const node = new SimNode(id, memory, durable);
      this.nodes.set(id, node);
      this.net.register(node);
    }
    scheduler.gate = (owner) => this.gate(owner);
  }

  private freshDisk(id: string): { memory: MemoryStore; durable: Store } {
    const memory = new MemoryStore(id, () => this.scheduler.now);
    return { memory, durable: this.options.wrapStore ? this.options.wrapStore(id, memory) : memory };
  }

  private gate(owner: Owner): Gate {
    const n = this.nodes.get(owner.node);
    if (!n) return 'run';
    if (owner.incarnation !== undefined && (!n.running || n.incarnation !== owner.incarnation)) return 'drop';
    if (n.running && n.paused) return 'hold';
    return 'run';
  }

  private get(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new RangeError(`no node ${id}`);
    return n;
  }

  private config(id: string): NodeConfig {
    const o = this.options;
    return {
      id,
      dir: `sim/${id}`,
      host: id,
      port: 80,
      internodePort: 1,
      // Boot nodes name each other as seeds, as the supervisor does for a local cluster; a
      // joiner names the boot nodes.
      seeds: this.bootIds.filter((x) => x !== id).map((x) => this.get(x).http),
      n: o.n,
      r: o.r,
      w: o.w,
      partitions: o.partitions,
      token: undefined,
      // The simulator is a chaos run: its adversary's fault messages must meet the parser's caps, not the consent check.
      allowFaults: true,
      requestTimeoutMs: o.requestTimeoutMs,
      sync: 'normal',
      logLevel: 'silent',
      tombstoneGraceMs: o.tombstoneGraceMs,
      reapedRetainMs: o.reapedRetainMs,
    };
  }

  /** Starts (or restarts) a node: a new incarnation on its current disk. */
  start(id: string): void {
    const n = this.get(id);
    if (n.running || n.status === 'left') return;
    n.status = 'active';
    n.incarnation++;
    n.paused = false;
    const owner: Owner = { node: id, incarnation: n.incarnation };
    const incarnation = n.incarnation;
    const watchdog = new Watchdog(this.scheduler, livelockCallsMax, (stack) => this.hung(id, incarnation, stack));
    const env = nodeEnv(this.scheduler, owner, this.rng.fork(`${id}#${n.incarnation}/env`), watchdog);
    const store = new SimStore(n.durable, id, env, this.rng.fork(`${id}#${n.incarnation}/disk`), this.options.commitDelayMaxMs, this.observer, watchdog);
    const transport = new SimTransport(this.net, id, n.address, n.incarnation, env, watchdog);
    const node = new GyreNode({
      config: this.config(id),
      store,
      transport,
      env,
      log: this.logFor(id),
      httpAddress: n.http,
      seedLookup: (seed) => this.seedLookup(id, n.incarnation, seed),
      onLeft: () => this.retire(id),
      randomBytes: (len) => {
        const rng = this.rng.fork(`${id}#${n.incarnation}/keys`);
        return Uint8Array.from({ length: len }, () => rng.int(256));
      },
    });
    n.running = { node, transport, store };
    this.scheduler.note(`start ${id}#${n.incarnation}`);
    node.begin();
  }

  /**
   * The node spins without yielding (its watchdog tripped): in production its process would
   * hang. Recorded as a failure; the process is killed, and GyreNode.stop() sets the flag its
   * loops check, which is what ends the spin.
   */
  private hung(id: string, incarnation: number, stack: string): void {
    const n = this.get(id);
    if (n.incarnation !== incarnation || !n.running) return;
    const g = n.running.node;
    const frames = stack
      .split('\n')
      .filter((l) => l.includes('/node-core/src/') && !l.includes('/sim/'))
      .map((l) => l.trim().replace(/^at /, '').replace(/\(?(file:\/\/)?\S*\/node-core\/src\//, '').replace(/\)$/, ''))
      .slice(0, 6);
    this.scheduler.fail(`${id}#${incarnation}`, 'livelock', `${id} spins in promise continuations without ever yielding (its process would hang); innermost frames: ${frames.join(' < ')}`);
    this.crash(id);
    void g.stop();
    // A supervisor restarts the hung process after a while, so the run goes on.
    this.scheduler.schedule(hungRestartMs, undefined, `restart hung ${id}`, () => {
      if (n.status === 'active' && !n.running) this.start(id);
    });
  }

  /** A node's logger: silent, or (verbose replays) its lines shown in the trace, without wall-clock times. */
  private logFor(id: string): Logger {
    const level = this.options.nodeLogLevel;
    if (level === undefined) return silentLog;
    const stream = {
      write: (line: string) => {
        let text = line.trim();
        try {
          const { level: _l, msg, ...rest } = JSON.parse(text) as { level?: unknown; msg?: unknown };
          text = `${String(msg)}${Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : ''}`;
        } catch {
          // not JSON: show as is
        }
        this.scheduler.show(`${this.scheduler.now} ${id} log: ${text}`);
      },
    };
    return pino({ level, base: undefined, timestamp: false }, stream);
  }

  /** Kills a node's process; with `wipe`, its disk is lost too. */
  crash(id: string, wipe = false): void {
    const n = this.get(id);
    if (n.running) {
      n.running.transport.kill();
      n.running.store.kill();
      n.running = undefined;
      n.paused = false;
      this.scheduler.dropHeld(id);
      this.net.nodeCrashed(id);
    }
    if (wipe) {
      const { memory, durable } = this.freshDisk(id);
      n.memory = memory;
      n.durable = durable;
    }
    this.scheduler.note(`crash ${id}${wipe ? ' (data lost)' : ''}`);
  }

  /** `gyre leave`: the node starts handing its partitions off. */
  leave(id: string): { ok: boolean; message: string } {
    const g = this.gyre(id);
    if (!g) return { ok: false, message: `${id} is not running` };
    const r = g.leave();
    this.scheduler.note(`leave ${id}: ${r.message}`);
    return r;
  }

  /** The node has left the cluster and exits (node.ts calls onLeft). */
  private retire(id: string): void {
    const n = this.get(id);
    const running = n.running;
    n.status = 'left';
    n.running = undefined;
    n.paused = false;
    this.scheduler.note(`${id} left the cluster and exits`);
    if (running) void running.node.stop();
  }

  /** Nodes that are part of the cluster now (started, not left), whether running or down. */
  activeIds(): string[] {
    return this.ids.filter((id) => this.get(id).status === 'active');
  }

  pause(id: string): void {
    const n = this.get(id);
    if (!n.running || n.paused) return;
    n.paused = true;
    this.scheduler.note(`pause ${id}`);
  }

  resume(id: string): void {
    const n = this.get(id);
    if (!n.paused) return;
    n.paused = false;
    this.scheduler.note(`resume ${id}`);
    this.scheduler.release(id);
  }

  isRunning(id: string): boolean {
    return this.get(id).running !== undefined;
  }

  isPaused(id: string): boolean {
    return this.get(id).paused;
  }

  gyre(id: string): GyreNode | undefined {
    return this.get(id).running?.node;
  }

  node(id: string): SimNode {
    return this.get(id);
  }

  /**
   * The seed lookup (an HTTP GET /status in production): answers with the seed's member info
   * after a round trip if it is running, reachable and not paused; otherwise nothing, after
   * the connection is refused (down) or the fetch times out (paused, cut off).
   */
  private seedLookup(asker: string, incarnation: number, seed: string): Promise<MemberInfo[] | undefined> {
    const target = [...this.nodes.values()].find((x) => x.http === seed);
    const owner: Owner = { node: asker, incarnation };
    return new Promise((resolve) => {
      if (!target) {
        this.scheduler.schedule(1, owner, `seed lookup ${seed}: unknown`, () => resolve(undefined));
        return;
      }
      const rtt = 2 + this.rng.int(6);
      if (!target.running) {
        this.scheduler.schedule(rtt, owner, `seed lookup ${target.id}: refused`, () => resolve(undefined));
        return;
      }
      if (target.paused || !this.net.reachable(asker, target.id)) {
        this.scheduler.schedule(seedFetchTimeoutMs, owner, `seed lookup ${target.id}: timeout`, () => resolve(undefined));
        return;
      }
      this.scheduler.schedule(rtt, owner, `seed lookup ${target.id}: ok`, () => resolve([target.info()]));
    });
  }

  /**
   * A client request to node `id` (the same code path as the HTTP API, minus HTTP): delivered
   * after a small delay unless the node is down, held while it is paused, answered after a
   * small delay; the client gives up after `timeoutMs`.
   */
  call<T>(id: string, label: string, fn: (node: GyreNode) => Promise<T>, timeoutMs: number): Promise<CallResult<T>> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: CallResult<T>) => {
        if (done) return;
        done = true;
        timer.cancel();
        resolve(r);
      };
      const timer = this.scheduler.schedule(timeoutMs, undefined, `client timeout ${label}`, () => finish({ ok: false, error: 'timeout', message: `no answer from ${id} within ${timeoutMs} ms` }));
      const n = this.get(id);
      this.scheduler.schedule(1 + this.rng.int(3), { node: id, incarnation: undefined }, `client ${label} at ${id}`, () => {
        const running = n.running;
        if (!running) {
          this.scheduler.schedule(1, undefined, `client ${label} refused`, () => finish({ ok: false, error: 'refused', message: `${id} is down` }));
          return;
        }
        const incarnation = n.incarnation;
        const reply = (r: CallResult<T>) => {
          // A reply from a process that has since died never reaches the client.
          if (n.incarnation !== incarnation || !n.running) return;
          this.scheduler.schedule(1 + this.rng.int(3), { node: id, incarnation }, `client ${label} reply`, () => finish(r));
        };
        let p: Promise<T>;
        try {
          p = fn(running.node);
        } catch (e) {
          reply({ ok: false, error: 'threw', message: String(e) });
          return;
        }
        p.then(
          (value) => reply({ ok: true, value }),
          (e: unknown) => reply({ ok: false, error: 'threw', message: e instanceof Error ? e.message : String(e) }),
        );
      });
    });
  }
}
