// One Gyre node: the driver that wires the pure core (ring, clocks, coordinator, gossip,
// failure detector) to its effects (SQLite, TCP, HTTP, timers). Decisions live in core/;
// the background loops (handoff, transfers, anti-entropy) live in their own modules.

import { credentialsOf, type Credentials } from './secrets.js';
import { pack, unpack } from 'msgpackr';
import type { Logger } from 'pino';
import { Coordinator, type CoordinateRequest, type Placement, type Replicas, defaultSiblingsMax, tooManySiblings } from '../core/coordinator.js';
import { computePlacement } from '../core/placement.js';
import { type Env, sleep } from '../core/env.js';
import { Periodic } from '../core/periodic.js';
import { FailureDetector, type Liveness } from '../core/failure-detector.js';
import {
  type ClusterState,
  type MemberRecord,
  activeMembers,
  claimStep,
  beat,
  confirmPlaceholders,
  completeTransfer,
  foundState,
  joiningState,
  markLeftIfDone,
  mergeStates,
  pickGossipPeers,
  planLeave,
  reassertSelf,
  rejoin,
  ringOf,
  sameState,
} from '../core/gossip.js';
import { partitionOf } from '../core/partitioner.js';
import { seedProblem } from '../core/ids.js';
import { computePreferenceList } from '../core/ring.js';
import type { Version } from '../core/siblings.js';
import { NodeMetrics } from './metrics.js';
import {
  type MemberInfo,
  type Request,
  ackReply,
  encodeCoordinateReply,
  encodeFaultsReply,
  encodeGossipReply,
  encodeListKeysReply,
  encodeRequest,
  encodeVersionsReply,
  isAck,
  packState,
  parseCoordinateReply,
  parseGossipReply,
  parseListKeysReply,
  listReplyRowBytesMax,
  parseRequest,
  parseState,
  parseVersionsReply,
} from '../net/messages.js';
import { type Transport, TransportError, noReplyCode } from '../net/transport.js';
import { FaultInjector, type ProcessControl } from './fault-injector.js';
import { Observatory } from './observe.js';
import type { MemberView, NodeSnapshot } from '../wire/control.js';
import { faultToJson } from '../core/faults.js';
import { type Store, dataSpace, hintSpace } from '../core/store.js';
import { Handoff } from '../replication/handoff.js';
import { Transfers } from '../replication/transfer.js';
import { AntiEntropy } from '../replication/exchange.js';
import { Reaper, reapUpdate } from '../replication/reaper.js';
import type { LoopHost } from '../replication/host.js';
import type { VClock } from '../core/vclock.js';
import type { ContextKeyring } from '../core/context.js';
import { type ContextCheck, ContextKeys } from './context-keys.js';


// What drivers import with GyreNode (the rest of the configuration lives in config.ts).
export { type NodeConfig, type NodeParts, type SeedLookup, advertisedHost, defaultConfig, seedFetchTimeoutMs } from './config.js';
import { type NodeConfig, type NodeParts, type SeedLookup, gossipIntervalMs, gossipTimeoutMs } from './config.js';
import { replicaMerge } from '../core/replica-merge.js';
import { type KeyRange, type ReplicaListing, inRange } from '../core/listing.js';

export type MemberStatus = Liveness | 'joining' | 'leaving';

/** What POST /admin/join answers (GyreNode.joinVia). */
export type JoinOutcome = { readonly ok: true; readonly message: string } | { readonly ok: false; readonly error: 'cannot_join' | 'seeds_unreachable' | 'bad_seeds'; readonly message: string };

/** The most seeds a join names. */
export const joinSeedsMax = 16;
/** Where the seeds named by POST /admin/join are kept (data folder meta). */
const joinSeedsMeta = 'joinSeeds';

/** The seeds a join named, as kept in the data folder; anything unreadable there names none. */
function savedJoinSeeds(store: Pick<Store, 'getMeta'>): string[] {
  const raw = store.getMeta(joinSeedsMeta);
  if (!raw) return [];
  let v: unknown;
  try {
    v = unpack(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v.slice(0, joinSeedsMax).filter((s): s is string => typeof s === 'string' && seedProblem(s) === undefined);
}

export class GyreNode {
  readonly log: Logger;
  readonly env: Env;
  readonly metrics: NodeMetrics;
  readonly coordinator: Coordinator;
  readonly detector = new FailureDetector();
  readonly startedAtMs: number;
  readonly config: NodeConfig;
  readonly store: Store;
  readonly transport: Transport;
  readonly self: MemberInfo;
  readonly handoff: Handoff;
  readonly faults: FaultInjector;
  /** The cluster and admin tokens, held for comparison only (roles: node/secrets.ts). */
  readonly credentials: Credentials;
  readonly observe: Observatory;
  /** Each member's status and state at the last gossip round (for change events). */
  private lastSeen = new Map<string, { status: string; state: string }>();
  readonly transfers: Transfers;
  readonly antiEntropy: AntiEntropy;
  readonly reaper: Reaper;
  private state: ClusterState;
  private readonly keys: ContextKeys;
  private readonly gossipLoop: Periodic;
  private stopped = false;
  private readonly unresolvedSeeds: Set<string>;
  private readonly replicaClient: Replicas;
  private readonly seedLookup: SeedLookup;
  private readonly onLeft: (() => void) | undefined;
  private readonly rounds = { gossip: 0 };
  private probing = false;
  private syncingFaults = false;
  /** This process marked the node `left` (and is about to exit). */
  private leftHere = false;
  /** Peers that acknowledged a state saying we left. */
  private leftAnnounced = 0;
  private exitScheduled = false;
  /** A POST /admin/join is asking its seeds. */
  private joinInFlight = false;

  /** Wires a node from its parts; production uses `start`, the simulator passes its own. */
  constructor(parts: NodeParts) {
    const { config, store, transport, log } = parts;
    this.config = config;
    this.store = store;
    this.transport = transport;
    this.self = { id: config.id, http: parts.httpAddress, internode: transport.address };
    this.env = parts.env;
    this.seedLookup = parts.seedLookup;
    this.onLeft = parts.onLeft;
    this.log = log;
    this.startedAtMs = this.env.now();
    this.observe = new Observatory(config.id, () => this.env.now());
    store.onChange((key, _partition, before, after) => this.observe.noteVersions(key, before.length, after.length));
    // The configured seeds, and those an operator named later (POST /admin/join) until reached.
    this.unresolvedSeeds = new Set([...config.seeds, ...savedJoinSeeds(store)].filter((s) => s !== this.self.http));
    this.state = this.initialState();
    const randomBytes = parts.randomBytes ?? ((n: number) => Uint8Array.from({ length: n }, () => Math.floor(this.env.random() * 256)));
    this.keys = new ContextKeys({
      env: this.env,
      log: this.log,
      store,
      randomBytes,
      askPeers: () => this.askPeersForKeys(),
      alone: () => activeMembers(this.state).length <= 1 && this.unresolvedSeeds.size > 0,
    });
    this.metrics = this.makeMetrics(parts.defaultMetrics ?? false);
    this.replicaClient = this.replicas();
    this.coordinator = this.makeCoordinator();
    this.credentials = credentialsOf(this.config);
    this.faults = this.makeFaultInjector(parts.processControl);
    this.gossipLoop = new Periodic(this.env, gossipIntervalMs, () => this.gossipRound(), (e) => this.log.warn({ err: String(e) }, 'gossip round failed'));
    const host = this.loopHost();
    this.handoff = this.makeHandoff(host);
    this.transfers = this.makeTransfers(host);
    this.antiEntropy = this.makeAntiEntropy(host);
    this.reaper = this.makeReaper(host);
    transport.setHandler((body, from) => this.handle(body, from));
  }

  private makeMetrics(defaultMetrics: boolean): NodeMetrics {
    return new NodeMetrics({
      defaultMetrics,
      storeStats: () => this.store.stats(),
      memberStatuses: () => {
        const out: Record<string, number> = {};
        for (const m of activeMembers(this.state)) {
          const s = this.memberStatus(m);
          out[s] = (out[s] ?? 0) + 1;
        }
        return out;
      },
      hintCounts: () => this.store.hintCounts(),
      conflicts: () => ({ keysWithSiblings: this.observe.conflicts().keysWithSiblings, siblingsResolved: this.observe.siblingsResolved }),
      faultKinds: () => this.faults.list().map((f) => f.spec.kind),
    });
  }

  private makeCoordinator(): Coordinator {
    const config = this.config;
    return new Coordinator({
      selfId: config.id,
      env: this.env,
      store: this.store,
      replicas: this.replicaClient,
      partitionOf: (key) => partitionOf(key, config.partitions),
      placement: (p) => this.placement(p),
      events: {
        readRepair: (_key, nodes) => {
          this.metrics.readRepairs.inc(nodes.length);
          this.observe.readRepairs += nodes.length;
        },
        replicaFailed: (node, error) => this.log.debug({ node, err: String(error) }, 'replica request failed'),
        hinted: (_key, standIn, target) => this.metrics.hintsWritten.inc({ target, stand_in: standIn }),
        siblingsCreated: () => {
          this.metrics.siblingWrites.inc();
          this.observe.siblingsCreated++;
        },
      },
    });
  }

  private makeFaultInjector(control: ProcessControl | undefined): FaultInjector {
    const config = this.config;
    return new FaultInjector({
      selfId: config.id,
      env: this.env,
      startedAtMs: this.startedAtMs,
      log: this.log,
      peers: () => activeMembers(this.state).filter((m) => m.id !== config.id).map((m) => m.id),
      sendControl: (node, table, timeoutMs) => this.call(node, { t: 'faults', table }, timeoutMs, true),
      control,
      allowed: config.allowFaults === true,
      onEvent: (e) => {
        const fault = faultToJson(e.fault, this.env.now()) as NodeSnapshot['faults'][number];
        this.observe.event(e.type === 'fault-injected' ? { type: 'fault-injected', fault } : { type: 'fault-healed', fault, reason: e.reason });
      },
    });
  }

  private makeHandoff(host: LoopHost): Handoff {
    return new Handoff({
      ...host,
      store: this.store,
      member: (id) => this.member(id),
      hintsDelivered: (target, count) => {
        this.metrics.hintsDelivered.inc({ target }, count);
        if (count > 0) this.observe.event({ type: 'hints-delivered', target, count });
      },
      strayKeysHandedOff: (count) => this.metrics.handoffKeys.inc(count),
    });
  }

  private makeTransfers(host: LoopHost): Transfers {
    return new Transfers({
      ...host,
      store: this.store,
      mergeLocal: (key, partition, versions, reaped) => this.mergeLocalChanged(key, partition, versions, reaped),
      completeTransfer: (p) => this.setState(completeTransfer(this.state, p, this.config.id), `transfer of partition ${p} complete`),
      isStopped: () => this.stopped,
      transferStarted: (partition, from) => this.observe.event({ type: 'transfer-started', partition, from, to: this.config.id }),
      transferFinished: (partition, keys, ms) => {
        this.metrics.transfersCompleted.inc();
        this.observe.event({ type: 'transfer-finished', partition, keys, ms });
      },
      keysReceived: (count) => this.metrics.transferKeys.inc(count),
    });
  }

  private makeAntiEntropy(host: LoopHost): AntiEntropy {
    return new AntiEntropy({
      ...host,
      store: this.store,
      mergeLocal: (key, partition, versions, reaped) => this.mergeLocalChanged(key, partition, versions, reaped),
      exchanged: (outcome) => this.metrics.aeExchanges.inc({ outcome }),
      repaired: (peer, partition, keys) => {
        this.metrics.aeKeysRepaired.inc(keys);
        this.observe.event({ type: 'ae-repair', peer, partition, keys });
      },
    });
  }

  private makeReaper(host: LoopHost): Reaper {
    return new Reaper(
      {
        ...host,
        store: this.store,
        readReplica: (node, key, timeoutMs) => this.readReplica(node, key, timeoutMs),
        reapReplica: (node, key, partition, versions) => this.reapReplica(node, key, partition, versions),
        reaped: () => this.metrics.tombstonesReaped.inc(),
      },
      this.config.tombstoneGraceMs,
      this.config.reapedRetainMs,
    );
  }

  /** What every replication loop sees of this node (each adds what its own interface declares). */
  private loopHost(): LoopHost {
    return {
      selfId: this.config.id,
      n: this.config.n,
      env: this.env,
      log: this.log,
      clusterState: () => this.state,
      isUp: (id) => this.isUp(id),
      preferenceList: (p) => this.preferenceList(p),
      call: (node, req, timeoutMs) => this.call(node, req, timeoutMs),
    };
  }

  /**
   * One pass over the stored keys at start: the Merkle trees, the reaping index and the
   * conflict count. A partition at a time, yielding between them, so a node with a million keys
   * serves from its first second instead of after the whole scan (13 s there); each partition's
   * tree is built from one synchronous scan and replaces what writes made of it meanwhile.
   */
  private async indexStoredKeys(): Promise<void> {
    for (const p of this.store.partitionsHeld()) {
      if (this.stopped) return;
      this.antiEntropy.rebuild(p, (k) => {
        this.observe.noteVersions(k.key, 0, k.versions.length);
        this.reaper.note(k.key, p, k.versions);
      });
      await sleep(this.env, 0);
    }
  }

  private initialState(): ClusterState {
    const raw = this.store.getMeta('cluster');
    const saved = raw ? parseState(unpack(raw)) : undefined;
    if (saved && saved.partitions === this.config.partitions && saved.n === this.config.n && saved.members.has(this.config.id)) return saved;
    // Nobody to join: found a one-node cluster. Otherwise wait to hear from a seed.
    if (this.unresolvedSeeds.size === 0) return foundState(this.self, this.config.partitions, this.config.n);
    return joiningState(this.self, this.config.partitions, this.config.n, undefined);
  }

  /** The cluster's context keys as this node knows them: the first seals, any verifies. */
  contextKeys(): ContextKeyring {
    return this.keys.current();
  }

  /** Checks a client's context (see ContextKeys.check). */
  checkContext(token: string, key: Uint8Array): Promise<ContextCheck> {
    return this.keys.check(token, key);
  }

  /** One key round: an exchange with every reachable member, and a try of each seed not heard from yet. */
  private askPeersForKeys(): Promise<void> {
    const peers = activeMembers(this.state).filter((m) => m.id !== this.config.id && this.isReachable(m.id));
    const seeds = [...this.unresolvedSeeds].map((seed) => this.resolveSeed(seed).catch(() => {}));
    return Promise.all([...peers.map((m) => this.gossipWith(m.id)), ...seeds]).then(() => undefined);
  }

  /** Starts the node's background work: gossip, then handoff, transfers and anti-entropy. */
  begin(): void {
    this.gossipLoop.start(0);
    this.handoff.start();
    this.transfers.start();
    this.reaper.start();
    // Anti-entropy compares trees: it starts once every partition's is built.
    this.indexStoredKeys().then(
      () => {
        if (!this.stopped) this.antiEntropy.start();
      },
      (e: unknown) => this.log.error({ err: String(e) }, 'could not index the stored keys'),
    );
  }

  // Cluster state

  clusterState(): ClusterState {
    return this.state;
  }

  /** Replaces the cluster state (merge results and our own changes), persisting it. */
  setState(next: ClusterState, why: string): void {
    if (next === this.state || sameState(next, this.state)) return;
    const before = this.state;
    this.state = next;
    this.noteHeartbeats(before, next);
    const ownersChanged = before.ring.some((r, p) => r.owner !== next.ring[p]!.owner || r.pendingTo !== next.ring[p]!.pendingTo);
    const membersChanged = [...next.members.values()].some((m) => {
      const o = before.members.get(m.id);
      return !o || o.state !== m.state || o.version !== m.version;
    });
    if (ownersChanged || membersChanged) {
      this.log.info({ why, members: activeMembers(next).map((m) => `${m.id}:${m.state}`), pending: next.ring.filter((r) => r.pendingTo).length }, 'cluster state changed');
    }
    void this.store.setMeta('cluster', pack(packState(next))).catch((e: unknown) => this.log.error({ err: String(e) }, 'could not persist cluster state'));
  }

  /** A member's heartbeat rising is the failure detector's evidence that it is alive. */
  private noteHeartbeats(before: ClusterState, after: ClusterState): void {
    const now = this.env.now();
    for (const [id, m] of after.members) {
      if (id === this.config.id) continue;
      const old = before.members.get(id);
      if (!old || m.heartbeat > old.heartbeat) this.detector.heartbeat(id, now);
    }
  }

  member(id: string): MemberRecord | undefined {
    return this.state.members.get(id);
  }

  liveness(id: string): Liveness {
    if (id === this.config.id) return 'up';
    return this.detector.liveness(id, this.env.now());
  }

  isUp(id: string): boolean {
    return this.liveness(id) === 'up';
  }

  memberStatus(m: MemberRecord): MemberStatus {
    const live = this.liveness(m.id);
    if (live !== 'up') return live;
    if (m.state === 'joining' || m.state === 'leaving') return m.state;
    return 'up';
  }

  /** Ring walks per partition (every distinct live member, in ring order), for the current state only. */
  private walkCache: { state: ClusterState; walks: Map<number, string[]> } | undefined;

  /** Distinct members clockwise from `partition` (left members skipped); cached per cluster state. */
  private ringWalk(partition: number): string[] {
    if (this.walkCache?.state !== this.state) this.walkCache = { state: this.state, walks: new Map() };
    let walk = this.walkCache.walks.get(partition);
    if (!walk) {
      const ring = ringOf(this.state);
      walk = computePreferenceList(ring, partition, ring.partitions).filter((id) => this.state.members.get(id)?.state !== 'left');
      this.walkCache.walks.set(partition, walk);
    }
    return walk;
  }

  /** The strict preference list of a partition under the current ring. */
  preferenceList(partition: number): string[] {
    return computePreferenceList(ringOf(this.state), partition, this.config.n);
  }

  /** Where requests may go: not down. A suspect node still gets its replica (and a hint if it fails to take it). */
  isReachable(id: string): boolean {
    return this.liveness(id) !== 'down';
  }

  /** Sloppy quorum (Dynamo 4.6) for a partition as this node sees the cluster now (core/placement.ts). */
  placement(partition: number): Placement {
    return computePlacement(this.ringWalk(partition), this.config.n, this.config.id, (id) => this.liveness(id));
  }

  // Gossip

  private async gossipRound(): Promise<void> {
    this.rounds.gossip++;
    this.setState(beat(this.state, this.self), 'heartbeat');
    if (this.unresolvedSeeds.size > 0) await Promise.all([...this.unresolvedSeeds].map((s) => this.resolveSeed(s)));
    const { live, unreachable } = pickGossipPeers(this.state, this.config.id, (id) => this.isUp(id), () => this.env.random());
    // The probe of an unreachable peer may take its whole timeout: it runs on the side, one at a time.
    if (unreachable !== undefined && !this.probing) {
      this.probing = true;
      void this.gossipWith(unreachable).finally(() => (this.probing = false));
    }
    if (live !== undefined) await this.gossipWith(live);
    this.afterGossip();
    this.noteMemberChanges();
    this.faults.expire();
    if (this.faults.inUse && !this.syncingFaults) {
      // Fault tables are merged outside the faults, with any member (even one seen down: a
      // partition makes peers look down, and a cut-off node must still hear the heal). On the
      // side, one at a time, so a slow or stopped peer never stretches the gossip round.
      const peers = activeMembers(this.state).filter((m) => m.id !== this.config.id);
      const peer = peers.length > 0 ? peers[Math.floor(this.env.random() * peers.length)] : undefined;
      if (peer) {
        this.syncingFaults = true;
        void this.faults
          .syncWith(peer.id)
          .catch(() => {})
          .finally(() => (this.syncingFaults = false));
      }
    }
  }

  /** Events for members whose status (as this node sees it) or state changed since the last round. */
  private noteMemberChanges(): void {
    const now = new Map<string, { status: string; state: string }>();
    for (const m of activeMembers(this.state)) now.set(m.id, { status: this.memberStatus(m), state: m.state });
    for (const [id, cur] of now) {
      const was = this.lastSeen.get(id);
      if (was && was.status !== cur.status) this.observe.event({ type: 'member-status', member: id, from: was.status, to: cur.status });
      if (was && was.state !== cur.state) this.observe.event({ type: 'member-state', member: id, from: was.state, to: cur.state });
      if (!was && this.lastSeen.size > 0) this.observe.event({ type: 'member-state', member: id, from: 'unknown', to: cur.state });
    }
    for (const [id, was] of this.lastSeen) if (!now.has(id)) this.observe.event({ type: 'member-state', member: id, from: was.state, to: 'left' });
    this.lastSeen = now;
  }

  /** Membership as this node sees it (for /status and the control plane). */
  memberViews(): MemberView[] {
    const now = this.env.now();
    const owned = new Map<string, number>();
    for (const r of this.state.ring) owned.set(r.owner, (owned.get(r.owner) ?? 0) + 1);
    return activeMembers(this.state).map((m) => {
      const last = this.detector.lastHeartbeatMs(m.id);
      const phi = m.id === this.config.id ? 0 : this.detector.phi(m.id, now);
      return {
        id: m.id,
        address: m.http,
        status: this.memberStatus(m),
        state: m.state,
        phi: Number.isFinite(phi) ? Math.round(phi * 100) / 100 : null,
        heartbeatAgeMs: m.id === this.config.id ? 0 : last === undefined ? null : now - last,
        partitions: owned.get(m.id) ?? 0,
      };
    });
  }

  /** This node's report for the control plane; `afterSeq` is the asker's event cursor. */
  snapshot(afterSeq: number): NodeSnapshot {
    const now = this.env.now();
    // Roots of the partitions this node replicates (empty ones included, so replicas compare).
    const ring = ringOf(this.state);
    const replicated: number[] = [];
    if (this.config.partitions <= 1024) for (let p = 0; p < this.config.partitions; p++) if (computePreferenceList(ring, p, this.config.n).includes(this.config.id)) replicated.push(p);
    return {
      id: this.config.id,
      at: now,
      address: this.self.http,
      uptimeMs: now - this.startedAtMs,
      members: this.memberViews(),
      hints: { byTarget: Object.fromEntries(this.store.hintCounts()), delivered: this.handoff.status().delivered },
      antiEntropy: { exchanges: this.antiEntropy.status().exchanges, keysRepaired: this.antiEntropy.status().keysRepaired },
      transfers: { active: this.transfers.active().length, completed: this.transfers.completed, keysReceived: this.transfers.keysReceived },
      conflicts: { ...this.observe.conflicts(), siblingsCreated: this.observe.siblingsCreated, siblingsResolved: this.observe.siblingsResolved, readRepairs: this.observe.readRepairs },
      ops: this.observe.opWindows(),
      storage: this.store.stats(),
      merkle: this.config.partitions <= 1024 ? this.antiEntropy.rootsHex(replicated) : null,
      faults: this.faults.list().map((f) => faultToJson(f, now) as NodeSnapshot['faults'][number]),
      events: this.observe.eventsAfter(afterSeq),
      lastEventSeq: this.observe.lastEventSeq,
    };
  }

  private async gossipWith(id: string): Promise<void> {
    try {
      const sent = this.state;
      const reply = await this.call(id, { t: 'gossip', state: sent, keys: this.keys.current() }, gossipTimeoutMs);
      const parsed = parseGossipReply(reply);
      if (parsed.ok) {
        if (this.leftHere && sent.members.get(this.config.id)?.state === 'left') this.leftAnnounced++;
        this.mergeState(parsed.value.state, `gossip with ${id}`, parsed.value.keys);
      }
    } catch {
      // Recorded by call(); another peer next round.
    }
  }

  private mergeState(remote: ClusterState, why: string, keys: ContextKeyring | undefined): void {
    // Guard: a peer of another cluster shape is not part of this cluster.
    if (remote.partitions !== this.config.partitions || remote.n !== this.config.n) {
      this.metrics.internodeRejected.inc({ reason: 'shape' });
      return;
    }
    // Keys first: whoever learns a member's heartbeat learns, in the same message, the keys
    // it may have sealed contexts with.
    this.keys.merge(keys);
    const mine = this.state.members.get(this.config.id);
    let merged = mergeStates(this.state, remote);
    // Only we start our own leave (gyre leave): a state saying we are leaving that we did not
    // write came from a misbehaving peer, so say again what we are.
    if (mine && mine.state !== 'leaving' && mine.state !== 'left' && merged.members.get(this.config.id)?.state === 'leaving') merged = reassertSelf(merged, mine);
    this.setState(merged, why);
  }

  /** Explicit membership steps that follow from the state: claim a share when joining, finish leaving. */
  private afterGossip(): void {
    let me = this.state.members.get(this.config.id);
    if (!me) return;
    // Started again after leaving (not the process that left): join anew.
    if (me.state === 'left' && !this.leftHere) {
      this.setState(rejoin(this.state, this.self), 'rejoin');
      me = this.state.members.get(this.config.id)!;
    }
    this.setState(claimStep(this.state, this.self), 'join');
    if (this.state.members.get(this.config.id)?.state === 'member') this.setState(confirmPlaceholders(this.state, this.config.id), 'confirm ring');
    if (me.state === 'leaving') {
      const next = markLeftIfDone(this.state, this.config.id);
      if (next !== this.state && this.store.partitionsHeld().length === 0 && this.store.hintCounts().size === 0) {
        this.leftHere = true;
        this.setState(next, 'left');
        this.log.info('left the cluster: every partition handed off; telling the others before exiting');
      }
    }
    // Exit only once a peer has taken the news (a successful exchange after we marked
    // ourselves left), then one more round for good measure: leaving silently would leave
    // everyone else waiting on a 'leaving' member forever.
    if (this.leftHere && this.leftAnnounced > 0 && !this.exitScheduled) {
      this.exitScheduled = true;
      this.env.setTimer(gossipIntervalMs, () => this.onLeft?.());
    }
  }

  /** Explicit decommission (gyre leave): plan the hand-off of every partition we own. */
  leave(): { ok: boolean; message: string } {
    const me = this.state.members.get(this.config.id);
    if (!me || me.state === 'left') return { ok: false, message: 'not a member' };
    const next = planLeave(this.state, this.config.id);
    if (next === this.state) return { ok: false, message: 'the last member of a cluster cannot leave' };
    this.setState(next, 'leave');
    return { ok: true, message: 'leaving: partitions are being handed off' };
  }

  /**
   * Joins the cluster `seeds` belong to (POST /admin/join, `gyre join`): for a node started
   * without seeds, alone in the one-node cluster it founded and holding no data. It starts over
   * as a joining node with those seeds, exactly as if it had been started with --seeds (the
   * seeds are kept in the data folder, so a restart goes on joining). Refused while any seed's
   * node has this node's id, or when no seed answers: nothing changes then.
   */
  async joinVia(seeds: readonly string[]): Promise<JoinOutcome> {
    if (this.joinInFlight) return { ok: false, error: 'cannot_join', message: 'a join is already being checked' };
    const refused = this.joinRefusal(seeds);
    if (refused) return refused;
    this.joinInFlight = true;
    try {
      const answers = await Promise.all(seeds.map((seed) => this.seedLookup(seed).catch(() => undefined)));
      const found = answers.flatMap((a) => a ?? []);
      if (found.length === 0) return { ok: false, error: 'seeds_unreachable', message: `no seed answered (${seeds.join(', ')}): is the node up, and does it take this node's cluster token?` };
      const twin = found.find((m) => m.id === this.config.id);
      if (twin) return { ok: false, error: 'cannot_join', message: `${twin.http} is a node named ${twin.id} too: node ids are unique in a cluster (start this one with another --id and an empty folder)` };
      // The world may have moved while the seeds answered (a write, a node that found us).
      const late = this.joinRefusal(seeds);
      if (late) return late;
      await this.store.setMeta(joinSeedsMeta, pack([...seeds]));
      for (const seed of seeds) this.unresolvedSeeds.add(seed);
      this.setState(joiningState(this.self, this.config.partitions, this.config.n, undefined), `join through ${seeds.join(', ')}`);
      this.log.info({ seeds }, 'joining the cluster of the named seeds');
      return { ok: true, message: `joining through ${seeds.join(', ')}: watch /status for this node to become a member` };
    } finally {
      this.joinInFlight = false;
    }
  }

  /** Why this node cannot join another cluster now, if it cannot. */
  private joinRefusal(seeds: readonly string[]): JoinOutcome | undefined {
    const no = (message: string): JoinOutcome => ({ ok: false, error: 'cannot_join', message });
    if (seeds.includes(this.self.http)) return { ok: false, error: 'bad_seeds', message: `${this.self.http} is this node: name a node of the cluster to join` };
    const others = [...this.state.members.keys()].filter((id) => id !== this.config.id);
    if (others.length > 0) return no(`this node already belongs to a cluster (it knows ${others.length} other member${others.length === 1 ? '' : 's'}): only a node alone in its own cluster can join another`);
    if (this.unresolvedSeeds.size > 0) return no(`this node is already joining through ${[...this.unresolvedSeeds].join(', ')}`);
    if (this.state.members.get(this.config.id)?.state !== 'member') return no('this node is not a member of its own cluster');
    const { keys } = this.store.stats();
    if (keys > 0 || this.store.hintCounts().size > 0) return no(`this node holds data (${keys} key${keys === 1 ? '' : 's'}): only an empty node can join another cluster, since its keys would be merged into that cluster's`);
    return undefined;
  }

  private async resolveSeed(seed: string): Promise<void> {
    const found = await this.seedLookup(seed);
    if (!found) return; // not up yet: the next round asks again
    for (const m of found) {
      // A member we know at the address the seed reports needs no introduction. One whose
      // address changed (it restarted on a new internode port, as after a whole-cluster
      // restart where every remembered address is stale) must be reached at the new one.
      if (m.id === this.config.id || this.state.members.get(m.id)?.internode === m.internode) continue;
      // Just an address to gossip with: its own record arrives with its state.
      try {
        const reply = await this.transport.request(m.internode, encodeRequest({ t: 'gossip', state: this.state, keys: this.keys.current() }), gossipTimeoutMs);
        const parsed = parseGossipReply(reply);
        if (parsed.ok) this.mergeState(parsed.value.state, `seed ${seed}`, parsed.value.keys);
      } catch {
        return;
      }
    }
    this.unresolvedSeeds.delete(seed);
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
    if (req.t === 'faults') return encodeFaultsReply(this.faults.receive(req.table, from));
    // Control-plane reads travel outside the faults too: an operator must see a partitioned node.
    if (req.t === 'snapshot') return ['snapshot', this.snapshot(req.afterSeq)];
    // A partition this node knows of and the sender may not (yet): the request is lost.
    if (this.faults.cutFrom(from)) throw Object.assign(new Error('partitioned'), { code: noReplyCode });
    switch (req.t) {
      case 'gossip':
        this.detector.heartbeat(from, this.env.now());
        this.mergeState(req.state, `gossip from ${from}`, req.keys);
        return encodeGossipReply(this.state, this.keys.current());
      case 'read':
        return encodeVersionsReply(await this.store.read(req.key, req.hintFor ? hintSpace(req.hintFor) : dataSpace));
      case 'write':
        this.refuseIfLeft();
        await this.mergeLocal(req.key, req.partition, req.versions, req.hintFor, req.fresh);
        return ackReply;
      case 'writeMany':
        this.refuseIfLeft();
        await Promise.all(req.items.map((i) => this.merge(i.key, i.partition, i.versions, undefined, i.reaped)));
        return ackReply;
      case 'coordinate': {
        const r = await this.coordinator.put(toCoordinateRequest(req), true);
        return encodeCoordinateReply(r.status === 204 ? { status: 204, clock: r.clock, error: undefined, message: undefined, dot: r.dot } : { status: r.status, clock: undefined, error: r.error, message: r.message, dot: r.dot });
      }
      case 'fold':
        return this.transfers.foldReply(req.partition, req.afterKey, req.limit);
      case 'readMany':
        return this.antiEntropy.readManyReply(req.partition, req.keys);
      case 'reap':
        return this.reaper.answerReap(req.key, req.partition, req.versions);
      case 'aeRoots':
        return this.antiEntropy.rootsReply(req.partitions);
      case 'aeLeaves':
        return this.antiEntropy.leavesReply(req.partition);
      case 'aeKeys':
        return this.antiEntropy.keysReply(req.partition, req.leaves);
      case 'listKeys':
        return encodeListKeysReply(this.listLocal(req));
    }
  }

  /** Once this node has marked itself left it must not take data it would leave with. */
  private refuseIfLeft(): void {
    if (this.leftHere) throw Object.assign(new Error('this node has left the cluster'), { code: 'left' });
  }

  /**
   * Merges versions from elsewhere into the local replica (or, with `hintFor`, into the hints
   * held for that node), committing only if something changed.
   */
  async mergeLocal(key: Uint8Array, partition: number, incoming: readonly Version[], hintFor: string | undefined, fresh = false): Promise<void> {
    await this.merge(key, partition, incoming, hintFor, undefined, fresh);
  }

  /** As mergeLocal, into our own data, with the sender's reaped clock if any; true if something changed. */
  private mergeLocalChanged(key: Uint8Array, partition: number, incoming: readonly Version[], reaped?: VClock): Promise<boolean> {
    return this.merge(key, partition, incoming, undefined, reaped);
  }

  /**
   * `fresh`: a new write from a coordinator without a copy of the key (see Replicas.write): it
   * is refused if it would grow the key past the sibling limit. Merges of what replicas already
   * hold (repair, handoff, transfer) are never refused for that: they must not drop what was
   * acknowledged, and the store's own check keeps what they make readable.
   */
  private merge(key: Uint8Array, partition: number, incoming: readonly Version[], hintFor: string | undefined, incomingReaped?: VClock, fresh = false): Promise<boolean> {
    // A hint addressed to ourselves is just data (we came back before the stand-in knew).
    const space = hintFor && hintFor !== this.config.id ? hintSpace(hintFor) : dataSpace;
    const refuseOver = fresh ? { max: defaultSiblingsMax, error: (siblings: number) => Object.assign(new Error(`${tooManySiblings}: the write would leave ${siblings} siblings (limit ${defaultSiblingsMax})`), { code: tooManySiblings }) } : undefined;
    return this.store.update(key, partition, replicaMerge(incoming, incomingReaped, { data: space.kind === 'data', refuseOver }), space);
  }

  /** Asks a replica to reap a key's tombstones (itself directly). */
  private async reapReplica(node: string, key: Uint8Array, partition: number, versions: readonly Version[]): Promise<boolean> {
    if (node === this.config.id) return this.store.update(key, partition, reapUpdate(versions));
    return isAck(await this.call(node, { t: 'reap', key, partition, versions }, 3000));
  }

  /** What one replica holds of a key range (GET /keys): this node's store directly, another over `listKeys`. */
  async listReplica(node: string, range: KeyRange, timeoutMs: number): Promise<ReplicaListing> {
    if (node === this.config.id) return this.listLocal(range);
    const parsed = parseListKeysReply(await this.call(node, { t: 'listKeys', ...range }, timeoutMs));
    if (!parsed.ok) throw new Error(`bad listKeys reply from ${node}: ${parsed.reason}`);
    // A replica answers keys of the range it was asked, or it could move the walk anywhere.
    const stray = parsed.value.keys.length > range.limit || parsed.value.keys.some((k) => !inRange(k.key, range) || partitionOf(k.key, this.config.partitions) !== range.partition);
    if (stray) throw new Error(`listKeys reply from ${node}: keys outside the range asked`);
    return parsed.value;
  }

  private listLocal(range: KeyRange): ReplicaListing {
    // A store that cannot list (the simulator's) holds nothing a listing could show.
    return this.store.listKeys?.(range, listReplyRowBytesMax) ?? { keys: [], more: false };
  }

  /** What one replica holds for a key, read from it directly (GET /replicas). */
  readReplica(node: string, key: Uint8Array, timeoutMs: number): Promise<Version[]> {
    return this.replicaClient.read({ node, hintFor: undefined }, key, timeoutMs);
  }

  private replicas(): Replicas {
    const self = this.config.id;
    return {
      read: async (t, key, timeoutMs) => {
        if (t.node === self) return this.store.read(key, t.hintFor ? hintSpace(t.hintFor) : dataSpace);
        const reply = await this.call(t.node, { t: 'read', key, hintFor: t.hintFor }, timeoutMs);
        const parsed = parseVersionsReply(reply);
        if (!parsed.ok) throw new Error(`bad read reply from ${t.node}: ${parsed.reason}`);
        return parsed.value;
      },
      write: async (t, key, partition, versions, timeoutMs, fresh = false) => {
        if (t.node === self) return this.mergeLocal(key, partition, versions, t.hintFor, fresh);
        const reply = await this.call(t.node, { t: 'write', key, partition, versions, hintFor: t.hintFor, fresh }, timeoutMs);
        if (!isAck(reply)) throw new Error(`bad write reply from ${t.node}`);
      },
      coordinate: async (node, req, timeoutMs) => {
        const reply = await this.call(node, { t: 'coordinate', key: req.key, deleted: req.payload.deleted, value: req.payload.value, contentType: req.payload.contentType, context: req.context, w: req.w, timeoutMs: req.timeoutMs, supersede: req.supersede ?? false }, timeoutMs);
        const parsed = parseCoordinateReply(reply);
        if (!parsed.ok) throw new Error(`bad coordinate reply from ${node}: ${parsed.reason}`);
        return parsed.value;
      },
    };
  }

  /**
   * One internode request to a member; its outcome feeds the failure detector. Injected faults
   * act here, on the request's link and then the reply's (`control` messages pass them by).
   */
  async call(node: string, req: Request, timeoutMs: number, control = false): Promise<unknown> {
    const info = this.state.members.get(node);
    if (!info) throw new Error(`unknown node ${node}`);
    // Control messages cross injected partitions, so they say nothing of the peer's health.
    if (control) return this.transport.request(info.internode, encodeRequest(req), timeoutMs);
    const sentAtMs = this.env.now();
    try {
      const reply = await this.faultyRequest(node, info.internode, req, timeoutMs);
      this.detector.replied(node, this.env.now());
      this.metrics.internode.inc({ type: req.t, outcome: 'ok' });
      return reply;
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A remote error is an answer: the peer is alive, it just refused this request. A
      // message we could not even send (too large, too many in flight, or our own invariant
      // failing as we encoded it) says nothing of the peer.
      if (code !== 'remote' && code !== 'too_large' && code !== 'overloaded' && code !== 'invariant') this.detector.requestFailed(node, sentAtMs);
      this.metrics.internode.inc({ type: req.t, outcome: code ?? 'error' });
      throw e;
    }
  }

  /** A request as the injected faults let it through: lost requests and replies become timeouts. */
  private async faultyRequest(node: string, address: string, req: Request, timeoutMs: number): Promise<unknown> {
    const start = this.env.now();
    const lost = async (fault: string, what: string): Promise<never> => {
      const left = timeoutMs - (this.env.now() - start);
      if (left > 0) await sleep(this.env, left);
      throw new TransportError('timeout', `no reply from ${node} within ${timeoutMs} ms (${what} lost to fault ${fault})`);
    };
    const out = this.faults.outbound(node);
    if (out.dropBy !== undefined) return lost(out.dropBy, 'request');
    if (out.delayMs > 0) {
      if (out.delayMs >= timeoutMs) return lost('latency', 'request');
      await sleep(this.env, out.delayMs);
    }
    const reply = await this.transport.request(address, encodeRequest(req), timeoutMs - (this.env.now() - start));
    const back = this.faults.inbound(node);
    if (back.dropBy !== undefined) return lost(back.dropBy, 'reply');
    if (back.delayMs > 0) {
      if (this.env.now() - start + back.delayMs >= timeoutMs) return lost('latency', 'reply');
      await sleep(this.env, back.delayMs);
    }
    return reply;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.gossipLoop.stop();
    this.handoff.stop();
    this.transfers.stop();
    this.antiEntropy.stop();
    this.reaper.stop();
    await this.transport.close();
    await this.store.close();
  }

}

function toCoordinateRequest(req: Extract<Request, { t: 'coordinate' }>): CoordinateRequest {
  return { key: req.key, payload: { deleted: req.deleted, value: req.value, contentType: req.contentType }, context: req.context, w: req.w, timeoutMs: req.timeoutMs, supersede: req.supersede };
}
