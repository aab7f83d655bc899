// One simulated run, from a seed: build the cluster, start the workload and the nemesis, heal
// everything at `healAt`, let the cluster settle (anti-entropy, handoff), read every key with
// r=N from every node, inspect every store, and check. The seed decides everything (cluster
// size, timings, faults, workload, every delay and loss), so `runSeed(s)` replays exactly.

import { ringOf } from '../../../node-core/src/core/gossip.js';
import { partitionOf } from '../../../node-core/src/core/partitioner.js';
import { computePreferenceList } from '../../../node-core/src/core/ring.js';
import { transferTimeoutMs } from '../../../node-core/src/replication/transfer.js';
import type { VClock } from '../../../node-core/src/core/vclock.js';
import type { Store } from '../../../node-core/src/core/store.js';
import { type CheckStats, check, ruleNumber, type FinalKey, type FinalReplica, type Violation } from '../../../node-core/src/verify/checker.js';
import { type ClusterOptions, SimCluster, defaultClusterOptions } from './cluster.js';
import { Scheduler } from './env.js';
import { History, Oracle, type VersionSeen, seen } from './history.js';
import { FaultLog } from '../../../node-core/src/verify/fault-log.js';
import { applyPlan, planFaults, type FaultPlan } from './nemesis.js';
import { calmLinks, type LinkFaults, type NetworkStats } from './network.js';
import { Rng } from './random.js';
import { Client, type WorkloadOptions } from './workload.js';
import { Adversary } from './adversary.js';

export interface Membership {
  /** When the joiner (the node after the boot nodes) starts, if there is one. */
  readonly joinAt: number | undefined;
  /** A boot node that is decommissioned (`gyre leave`), and when. */
  readonly leave: { readonly node: string; readonly at: number } | undefined;
}

export interface RunConfig {
  readonly seed: number;
  readonly membership: Membership;
  readonly cluster: ClusterOptions;
  readonly workload: WorkloadOptions;
  readonly baseLinks: LinkFaults;
  /** No faults at all. */
  readonly calm: boolean;
  /** Every fault ends here; the workload stops here too. */
  readonly healAt: number;
  /** Rule 4's bound: the cluster must have converged this long after healAt. */
  readonly settleMaxMs: number;
  /** Rule 5 judges only writes with no fault for this long before them. */
  readonly stableMs: number;
  /** A hostile client and member run beside the workload (sim/adversary.ts). */
  readonly adversary: boolean;
}

/** What a run may do besides crashes, pauses and network faults; switch parts off to isolate a bug. */
export interface Features {
  /** A node may join the running cluster, and one may leave it. */
  readonly membership: boolean;
  /** Some runs use a short tombstone grace period, so tombstones are reaped during the run. */
  readonly reaping: boolean;
  /** Faults at all (off: every run is calm). */
  readonly faults: boolean;
  /** A hostile client and member in half the runs. */
  readonly adversary: boolean;
}

export const allFeatures: Features = { membership: true, reaping: true, faults: true, adversary: true };

/**
 * The run a seed stands for; `overrides` pins parts of it (tests). Every draw is made whatever
 * the features, so switching one off changes nothing else about the seed's run.
 */
export function configFor(seed: number, features: Features = allFeatures, overrides: Partial<RunConfig> = {}): RunConfig {
  const rng = new Rng(seed).fork('config');
  const healAt = 30_000 + rng.int(10_001);
  const keys = Array.from({ length: rng.range(3, 6) }, (_, i) => `k${i}`);
  const nodes = rng.range(3, 5);
  const join = nodes <= 4 && rng.chance(0.25) && features.membership;
  const leave = nodes >= 4 && rng.chance(0.25) && features.membership;
  const joinAt = 6000 + rng.int(12_000);
  const leaveAt = { node: `n${1 + rng.int(nodes)}`, at: 6000 + rng.int(14_000) };
  const membership: Membership = { joinAt: join ? joinAt : undefined, leave: leave ? leaveAt : undefined };
  const shortGrace = rng.chance(0.3) && features.reaping;
  const grace = 4000 + rng.int(8000);
  const cluster: ClusterOptions = {
    ...defaultClusterOptions,
    nodes,
    joiners: join ? 1 : 0,
    // Short grace in some runs, so tombstones are reaped while faults are still going on.
    tombstoneGraceMs: shortGrace ? grace : defaultClusterOptions.tombstoneGraceMs,
  };
  const workload: WorkloadOptions = {
    clients: rng.range(2, 4),
    keys,
    startMs: 1500 + rng.int(1500),
    stopMs: healAt,
    thinkMinMs: 30,
    thinkMaxMs: 300,
    requestTimeoutMs: cluster.requestTimeoutMs,
    clientTimeoutMs: 10_000,
  };
  const calm = rng.chance(0.1) || !features.faults;
  // Drawn after everything else, so seeds without an adversary run exactly as before.
  const adversary = rng.chance(0.5) && features.adversary;
  const base: RunConfig = {
    seed,
    membership,
    cluster,
    workload,
    baseLinks: calmLinks,
    calm,
    healAt,
    settleMaxMs: 30_000,
    stableMs: 10_000,
    adversary,
  };
  return { ...base, ...overrides };
}

export interface RunOptions {
  readonly features?: Features;
  readonly overrides?: Partial<RunConfig>;
  /** Each trace line as it happens (--verbose); node logs are shown too, at `nodeLogLevel`. */
  readonly onTrace?: (line: string) => void;
  readonly nodeLogLevel?: string;
  /** Plants a bug: wraps each node's durable store. */
  readonly wrapStore?: (nodeId: string, store: Store) => Store;
  /** Called with the settled cluster just before the final reads (debugging, tests). */
  readonly inspect?: (cluster: SimCluster) => void;
}

export interface RunStats {
  readonly nodes: number;
  readonly clients: number;
  readonly keys: number;
  readonly reads: { ok: number; fail: number; unknown: number };
  readonly writes: { ok: number; fail: number; unknown: number };
  readonly faults: Record<string, number>;
  readonly network: NetworkStats;
  readonly formedAt: number | undefined;
  /** Virtual ms from healAt until the replicas were seen identical; undefined if never. */
  readonly convergedAfterMs: number | undefined;
  readonly siblingsMax: number;
  readonly check: CheckStats;
  readonly events: number;
  readonly virtualMs: number;
  /** Hostile requests the adversary made, by attack. */
  readonly attacks: Record<string, number>;
}

export interface RunResult {
  readonly seed: number;
  readonly config: RunConfig;
  readonly violations: Violation[];
  /** The last events touching each key named by a violation. */
  readonly traces: ReadonlyMap<string, readonly string[]>;
  readonly traceHash: string;
  readonly stats: RunStats;
  readonly realMs: number;
  readonly plan: FaultPlan;
}

/**
 * Everything the cluster should agree on once settled; the list of what it does not. With
 * `views`, also that every node's failure detector sees every node up.
 */
function convergenceProblems(cluster: SimCluster, keys: readonly string[], views: boolean): string[] {
  const problems: string[] = [];
  const active = cluster.activeIds();
  const down = active.filter((id) => !cluster.isRunning(id) || cluster.isPaused(id));
  if (down.length > 0) return [`not running: ${down.join(',')}`];
  const states = active.map((id) => ({ id, state: cluster.gyre(id)!.clusterState() }));
  const ref = states[0]!.state;
  for (const { id, state } of states.slice(1)) {
    const sameRing = state.ring.every((r, p) => r.owner === ref.ring[p]!.owner && r.epoch === ref.ring[p]!.epoch && r.pendingTo === ref.ring[p]!.pendingTo);
    const sameMembers = [...ref.members.values()].every((m) => state.members.get(m.id)?.state === m.state) && state.members.size === ref.members.size;
    if (!sameRing || !sameMembers) problems.push(`${id} and ${states[0]!.id} disagree on the cluster state`);
  }
  if (ref.ring.some((r) => r.pendingTo !== undefined)) problems.push('transfers still pending');
  for (const id of views ? active : []) {
    const g = cluster.gyre(id)!;
    const notUp = active.filter((x) => g.liveness(x) !== 'up');
    if (notUp.length > 0) problems.push(`${id} does not see ${notUp.map((x) => `${x} (${g.liveness(x)})`).join(', ')} up`);
  }
  for (const id of active) {
    if (cluster.gyre(id)!.member(id)?.state === 'left') problems.push(`${id} has left the cluster but its process never exits (onLeft was not called)`);
  }
  const unsettled = [...ref.members.values()].filter((m) => m.state !== (active.includes(m.id) ? 'member' : 'left')).map((m) => `${m.id}:${m.state}`);
  if (unsettled.length > 0) problems.push(`members not settled: ${unsettled.join(' ')}`);
  for (const f of finalState(cluster, keys)) {
    const sets = f.pref.map((node) => (f.replicas.find((r) => r.node === node)?.data ?? []).map((v) => v.dot).sort().join(' '));
    if (new Set(sets).size > 1) problems.push(`${f.key}: replicas ${f.pref.join(',')} differ`);
    for (const r of f.replicas) {
      if (!f.pref.includes(r.node) && r.data.length > 0) problems.push(`${f.key}: stray copy on ${r.node}`);
      if (r.hints.length > 0) problems.push(`${f.key}: hints on ${r.node}`);
    }
  }
  for (const id of active) {
    const hints = cluster.node(id).memory.hintCounts();
    if (hints.size > 0) problems.push(`${id} holds hints for ${[...hints.keys()].join(',')}`);
  }
  return problems;
}

/** Every node's holdings of every key (workload keys and anything stored), read directly from its store. */
function finalState(cluster: SimCluster, workloadKeys: readonly string[]): FinalKey[] {
  const q = cluster.options.partitions;
  const keys = new Set(workloadKeys);
  const holdings = new Map<string, { data: Map<string, VersionSeen[]>; hints: Map<string, { target: string; versions: VersionSeen[] }[]> }>();
  const nodes = cluster.ids.filter((id) => cluster.node(id).status !== 'idle');
  for (const id of nodes) {
    const mem = cluster.node(id).memory;
    const data = new Map<string, VersionSeen[]>();
    for (let p = 0; p < q; p++) for (const k of mem.scanPartition(p, undefined, 1 << 20)) data.set(k.key.toString('utf8'), k.versions.map(seen));
    const hints = new Map<string, { target: string; versions: VersionSeen[] }[]>();
    for (const target of mem.hintCounts().keys()) {
      for (const k of mem.scanHints(target, undefined, 1 << 20)) {
        const key = k.key.toString('utf8');
        hints.set(key, [...(hints.get(key) ?? []), { target, versions: k.versions.map(seen) }]);
      }
    }
    for (const k of [...data.keys(), ...hints.keys()]) keys.add(k);
    holdings.set(id, { data, hints });
  }
  const ref = cluster.activeIds().map((id) => cluster.gyre(id)).find((g) => g !== undefined);
  const ring = ref ? ringOf(ref.clusterState()) : undefined;
  return [...keys].sort().map((key) => {
    const pref = ring ? computePreferenceList(ring, partitionOf(Buffer.from(key), q), cluster.options.n) : [];
    const replicas: FinalReplica[] = nodes.map((id) => ({
      node: id,
      left: cluster.node(id).status === 'left',
      data: holdings.get(id)!.data.get(key) ?? [],
      hints: holdings.get(id)!.hints.get(key) ?? [],
      reaped: cluster.node(id).memory.reapedClock(Buffer.from(key)),
    }));
    return { key, pref, replicas };
  });
}

/** Whether every node of the cluster runs and agrees on a settled ring, every one of them a member. */
function formed(cluster: SimCluster): boolean {
  const active = cluster.activeIds();
  if (active.length === 0 || !active.every((id) => cluster.isRunning(id))) return false;
  const states = active.map((id) => cluster.gyre(id)!.clusterState());
  const ref = states[0]!;
  if (ref.members.size !== active.length || [...ref.members.values()].some((m) => m.state !== 'member')) return false;
  if (ref.ring.some((r) => r.pendingTo !== undefined)) return false;
  return states.every((s) => s.ring.every((r, p) => r.owner === ref.ring[p]!.owner && r.pendingTo === ref.ring[p]!.pendingTo) && [...s.members.values()].every((m) => m.state === 'member'));
}

/** Boot nodes start at a seeded instant within this window. */
const bootSpreadMs = 300;
/** A leave the cluster refused (its node down, say) is tried again this much later. */
const leaveRetryMs = 1000;
/** How often the run looks whether the cluster has formed. */
const formationCheckMs = 250;
/** The nemesis leaves the cluster this long to form before its first fault. */
const faultsFromMs = 4000;
/** The adversary's think time between hostile requests. */
const adversaryThinkMinMs = 100;
const adversaryThinkMaxMs = 500;
/** Detector views are judged this long after the last request into a partition timed out. */
const viewsSlackMs = 1000;
/** Convergence is looked at this often while the cluster settles. */
const convergencePollMs = 500;
/** Convergence is not judged until this long after healing (the first gossip rounds). */
const settleQuietMs = 2000;
/** The final reads get this long beyond a client's own timeout to answer. */
const finalReadSlackMs = 1000;
/** After the final reads, convergence is rechecked for at least this long (up to the deadline). */
const recheckMinMs = 2000;
/** The trace hash as printed: 32 bits in hex. */
const traceHashHexDigits = 8;

/** What the phases of one run share. */
interface Run {
  readonly seed: number;
  readonly cfg: RunConfig;
  readonly opts: RunOptions;
  readonly rng: Rng;
  readonly scheduler: Scheduler;
  readonly history: History;
  readonly oracle: Oracle;
  readonly cluster: SimCluster;
  readonly faults: FaultLog;
  /** The writes a context covers (the oracle's answer), for the clients. */
  readonly covered: (key: string, clock: VClock) => string[];
  /** Unhandled rejections seen while the run was under way. */
  readonly unhandled: string[];
}

/** The run under way: the workload, the adversary and the fault plan started, and when the cluster formed. */
interface Started {
  readonly plan: FaultPlan;
  readonly clients: readonly Client[];
  readonly adversary: Adversary | undefined;
  /** `at` is set when every node first agrees on a settled ring. */
  readonly formation: { at: number | undefined };
}

interface Settled {
  readonly deadline: number;
  /** When the cluster had converged, detector views included; undefined if not by the deadline. */
  readonly convergedAt: number | undefined;
  /** When the data had converged (detector views not yet judged). */
  readonly dataConvergedAt: number | undefined;
  readonly problems: string[];
}

interface Ending {
  /** The replicas as they were when the final reads ended: what those reads are compared with. */
  readonly atFinalReads: FinalKey[];
  /** The state the checker judges. */
  readonly final: FinalKey[];
  readonly problems: string[];
}

export async function runSeed(seed: number, opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const run = setUp(seed, opts);
  const onUnhandled = (reason: unknown) => {
    run.unhandled.push(reason instanceof Error ? (reason.stack ?? reason.message) : String(reason));
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const load = start(run);
    await run.scheduler.runUntil(run.cfg.healAt);
    const settled = await settle(run, load.clients);
    const ending = await readFinal(run, settled);
    return result(run, load, settled, ending, performance.now() - started);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

/** The seed's config, and the scheduler, history, oracle and cluster it runs on. */
function setUp(seed: number, opts: RunOptions): Run {
  const cfg = configFor(seed, opts.features, opts.overrides);
  const rng = new Rng(seed);
  const scheduler = new Scheduler();
  scheduler.onTrace = opts.onTrace;
  const history = new History();
  history.onNote = (line) => scheduler.note(line, true);
  const oracle = new Oracle(() => scheduler.now);
  oracle.onCommit = (key, line) => {
    history.traceKey(key, line);
    scheduler.show(`${line} [${key}]`);
  };
  const clusterOptions: ClusterOptions = {
    ...cfg.cluster,
    ...(opts.wrapStore ? { wrapStore: opts.wrapStore } : {}),
    ...(opts.onTrace ? { nodeLogLevel: opts.nodeLogLevel ?? 'info' } : {}),
  };
  const cluster = new SimCluster(scheduler, rng.fork('cluster'), clusterOptions, oracle);
  cluster.net.onKeyEvent = (key, line) => history.traceKey(key, line);
  cluster.net.faults = cfg.baseLinks;
  const covered = (key: string, clock: VClock) => oracle.covered(key, clock);
  return { seed, cfg, opts, rng, scheduler, history, oracle, cluster, faults: new FaultLog(), covered, unhandled: [] };
}

/** Schedules the boot, the membership changes, the formation watch and the faults; starts the clients and the adversary. */
function start(run: Run): Started {
  const { seed, cfg, rng, scheduler, cluster } = run;
  const m = cfg.membership;
  const changes = `${m.joinAt !== undefined ? `, n${cfg.cluster.nodes + 1} joins at ${m.joinAt}` : ''}${m.leave ? `, ${m.leave.node} leaves at ${m.leave.at}` : ''}`;
  scheduler.note(`seed ${seed}: ${cfg.cluster.nodes} nodes${changes}, N=${cfg.cluster.n} R=${cfg.cluster.r} W=${cfg.cluster.w} Q=${cfg.cluster.partitions}, ${cfg.workload.clients} clients on ${cfg.workload.keys.length} keys, heal at ${cfg.healAt}${cfg.calm ? ', calm' : ''}`);
  const startRng = rng.fork('start');
  for (const id of cluster.bootIds) scheduler.schedule(startRng.int(bootSpreadMs), undefined, `boot ${id}`, () => cluster.start(id));
  scheduleMembership(run);
  const formation = watchFormation(run);

  const plan = planFaults(rng.fork('faults'), { nodes: cluster.ids, startMs: faultsFromMs, healAt: cfg.healAt, calm: cfg.calm, baseLinks: cfg.baseLinks });
  applyPlan(cluster, plan, run.faults, cfg.baseLinks);

  const clients = Array.from({ length: cfg.workload.clients }, (_, i) => new Client(`c${i + 1}`, cluster, run.history, rng.fork(`client${i + 1}`), cfg.workload, run.covered));
  for (const c of clients) void c.run();
  const adversary = cfg.adversary ? new Adversary(cluster, rng.fork('adversary'), { startMs: cfg.workload.startMs, stopMs: cfg.healAt, thinkMinMs: adversaryThinkMinMs, thinkMaxMs: adversaryThinkMaxMs, clientTimeoutMs: cfg.workload.clientTimeoutMs }) : undefined;
  if (adversary) void adversary.run();
  return { plan, clients, adversary, formation };
}

/** The joiner's start and the leave (retried until the cluster takes it, or the faults heal). */
function scheduleMembership(run: Run): void {
  const { cfg, scheduler, cluster, faults } = run;
  const joiner = cluster.ids[cluster.bootIds.length];
  const joinAt = cfg.membership.joinAt;
  if (joiner !== undefined && joinAt !== undefined) {
    scheduler.schedule(joinAt, undefined, `join ${joiner}`, () => {
      faults.open({ kind: 'join', nodes: [joiner], disruptive: true, from: scheduler.now });
      cluster.start(joiner);
    });
  }
  const leave = cfg.membership.leave;
  if (leave) {
    const tryLeave = () => {
      if (scheduler.now >= cfg.healAt) return;
      if (cluster.isRunning(leave.node) && cluster.leave(leave.node).ok) {
        faults.open({ kind: 'leave', nodes: [leave.node], disruptive: true, from: scheduler.now });
        return;
      }
      scheduler.schedule(leaveRetryMs, undefined, `leave ${leave.node} (retry)`, tryLeave);
    };
    scheduler.schedule(leave.at, undefined, `leave ${leave.node}`, tryLeave);
  }
}

/** Looks every formationCheckMs until the cluster has formed; the answer's `at` is then set. */
function watchFormation(run: Run): { at: number | undefined } {
  const { scheduler, cluster } = run;
  const formation: { at: number | undefined } = { at: undefined };
  const watch = () => {
    if (formed(cluster)) {
      formation.at = scheduler.now;
      scheduler.note('cluster formed');
      return;
    }
    scheduler.schedule(formationCheckMs, undefined, 'formation check', watch);
  };
  scheduler.schedule(formationCheckMs, undefined, 'formation check', watch);
  return formation;
}

/** After healAt: wait for in-flight client operations, then for convergence, within the bound. */
async function settle(run: Run, clients: readonly Client[]): Promise<Settled> {
  const { cfg, scheduler, cluster } = run;
  const deadline = cfg.healAt + cfg.settleMaxMs;
  // Requests sent into a partition time out up to transferTimeoutMs after it heals, and each
  // such timeout makes its target look suspect to the sender (see the report on the failure
  // detector): detector views are judged only once those have all fired.
  const viewsFrom = cfg.healAt + transferTimeoutMs + viewsSlackMs;
  let convergedAt: number | undefined;
  let dataConvergedAt: number | undefined;
  let problems: string[] = ['never checked'];
  while (scheduler.now < deadline) {
    await scheduler.runUntil(Math.min(deadline, scheduler.now + convergencePollMs));
    if (scheduler.now < cfg.healAt + settleQuietMs || clients.some((c) => c.inFlight > 0)) continue;
    problems = convergenceProblems(cluster, cfg.workload.keys, scheduler.now >= viewsFrom);
    if (problems.length === 0) {
      dataConvergedAt ??= scheduler.now;
      if (scheduler.now < viewsFrom) continue;
      convergedAt = scheduler.now;
      break;
    }
  }
  return { deadline, convergedAt, dataConvergedAt, problems };
}

/** Reads every key with r=N from every node, then takes the final state (once converged again, if it had). */
async function readFinal(run: Run, settled: Settled): Promise<Ending> {
  const { cfg, rng, scheduler, cluster } = run;
  run.opts.inspect?.(cluster);
  // Read every key with r=N from every node (if some are down at the deadline, from those up).
  const reader = new Client('final', cluster, run.history, rng.fork('final'), cfg.workload, run.covered);
  let pending = 0;
  for (const key of cfg.workload.keys) {
    for (const id of cluster.activeIds()) {
      if (!cluster.isRunning(id)) continue;
      pending++;
      void reader.read(key, cfg.cluster.n, true, id).finally(() => pending--);
    }
  }
  await scheduler.runUntil(scheduler.now + cfg.workload.clientTimeoutMs + finalReadSlackMs, () => pending === 0);
  const atFinalReads = finalState(cluster, cfg.workload.keys);
  let problems = settled.problems;
  if (settled.convergedAt !== undefined) {
    // Converged again after the final reads (a reap, say, may be half way through): the
    // snapshot the checker judges is one where everything agrees, if that comes in time.
    const recheckUntil = Math.max(settled.deadline, scheduler.now + recheckMinMs);
    do {
      await scheduler.runUntil(scheduler.now + convergencePollMs);
      problems = convergenceProblems(cluster, cfg.workload.keys, true);
    } while (problems.length > 0 && scheduler.now < recheckUntil);
  }
  return { atFinalReads, final: finalState(cluster, cfg.workload.keys), problems };
}

/** The check of the run (and the adversary's findings, as rule H), the traces of the keys it names, and the stats. */
function result(run: Run, load: Started, settled: Settled, ending: Ending, realMs: number): RunResult {
  const { seed, cfg, history, scheduler } = run;
  const checkStats: CheckStats = { availabilityJudged: 0, ackedWrites: 0, superseded: 0 };
  const violations = check({
    history,
    oracle: run.oracle,
    faults: run.faults,
    final: ending.final,
    atFinalReads: ending.atFinalReads,
    n: cfg.cluster.n,
    formedAt: load.formation.at,
    stableMs: cfg.stableMs,
    clientTimeoutMs: cfg.workload.clientTimeoutMs,
    convergenceProblems: ending.problems,
    errors: scheduler.errors,
    unhandled: run.unhandled,
  }, checkStats);
  for (const f of load.adversary?.findings ?? []) violations.push({ rule: 'hostile', key: undefined, message: f });
  const traces = new Map<string, readonly string[]>();
  for (const v of violations) if (v.key !== undefined) traces.set(v.key, history.keyTrace(v.key));
  const stats = runStats(run, load, settled, ending, checkStats);
  return { seed, config: cfg, violations, traces, traceHash: scheduler.traceHash.toString(16).padStart(traceHashHexDigits, '0'), stats, realMs, plan: load.plan };
}

/** The run in numbers (operations by outcome, faults, network, convergence, size). */
function runStats(run: Run, load: Started, settled: Settled, ending: Ending, checkStats: CheckStats): RunStats {
  const { cfg, history, scheduler } = run;
  const count = (kind: 'get' | 'write', outcome: string) => history.ops.filter((o) => (kind === 'get' ? o.kind === 'get' && !o.final : o.kind !== 'get') && o.outcome === outcome).length;
  const faultCounts: Record<string, number> = {};
  for (const i of run.faults.intervals) faultCounts[i.kind] = (faultCounts[i.kind] ?? 0) + 1;
  return {
    nodes: cfg.cluster.nodes,
    clients: cfg.workload.clients,
    keys: cfg.workload.keys.length,
    reads: { ok: count('get', 'ok'), fail: count('get', 'fail'), unknown: count('get', 'unknown') },
    writes: { ok: count('write', 'ok'), fail: count('write', 'fail'), unknown: count('write', 'unknown') },
    faults: faultCounts,
    network: { ...run.cluster.net.stats },
    formedAt: load.formation.at,
    convergedAfterMs: settled.dataConvergedAt === undefined ? undefined : settled.dataConvergedAt - cfg.healAt,
    siblingsMax: Math.max(0, ...ending.final.map((f) => Math.max(0, ...f.replicas.map((r) => r.data.length)))),
    check: checkStats,
    events: scheduler.eventsRun,
    virtualMs: scheduler.now,
    attacks: load.adversary ? Object.fromEntries(load.adversary.tried) : {},
  };
}


/** A violation as printed: seed, rule, key, message, and the key's last events. */
export function formatViolation(r: RunResult, v: Violation, traceLines = 15): string {
  const lines = [`seed ${r.seed}: rule ${ruleNumber[v.rule]} (${v.rule})${v.key !== undefined ? ` key ${v.key}` : ''}: ${v.message}`];
  const trace = v.key !== undefined ? (r.traces.get(v.key) ?? []) : [];
  if (trace.length > 0) {
    lines.push(`  last events touching ${v.key}:`);
    for (const t of trace.slice(-traceLines)) lines.push(`    ${t}`);
  }
  lines.push(`  replay: npm run sim -- --seed ${r.seed} --verbose`);
  return lines.join('\n');
}
