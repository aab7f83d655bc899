// The real-process chaos run (issue 4): a local cluster of `gyre node` processes on loopback,
// a concurrent client workload over HTTP, and a nemesis that SIGKILLs and restarts nodes,
// SIGSTOPs them (a gray failure), and, through the nodes' own fault injection, partitions
// them, drops and delays their messages and pauses them. Then everything heals, the run waits
// for the replicas to converge, reads every key from every node with r=N, snapshots every
// replica through /replicas, and hands the history to the simulator's checker (same rules,
// same code, node-core/src/verify/). Bounded in time and requests; it stops only the processes it started.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../../../node-core/src/core/env.js';
import { realEnv } from '../../../node-core/src/start/real-env.js';
import { LocalCluster, freePortRange } from '../../../node-core/src/cli/supervisor.js';
import { type CheckStats, type FinalKey, type Violation, check } from '../../../node-core/src/verify/checker.js';
import { History } from '../../../node-core/src/verify/history.js';
import { FaultLog, type FaultInterval } from '../../../node-core/src/verify/fault-log.js';
import { ObservedVersions } from '../../../node-core/src/verify/observed.js';
import { finalKeysOf, identifyTombstones, replicasDiffer } from '../../../node-core/src/verify/final-state.js';
import type { ReplicasDocument } from '../../../node-core/src/wire/api.js';
import { Rng } from '../sim/random.js';
import { ChaosClient, type ChaosClientOptions } from './client.js';
import { GyreClient } from '../../../node-core/src/client/client.js';

export interface ChaosOptions {
  readonly nodes: number;
  readonly seconds: number;
  readonly seed: string;
  readonly clients: number;
  readonly keys: number;
  readonly partitions: number;
  /** How long to wait for convergence after healing. */
  readonly convergeTimeoutMs: number;
  /** Keep the data folder and logs. */
  readonly keep: boolean;
  /**
   * For the checker's own tests: after convergence, a client the history does not know
   * overwrites every key with its current context. The checker must then report the
   * acknowledged writes as lost and the new values as written by nobody.
   */
  readonly sabotage?: 'overwrite';
  readonly log: (line: string) => void;
}

export const defaultChaosOptions: ChaosOptions = {
  nodes: 5,
  seconds: 60,
  seed: 'chaos',
  clients: 8,
  keys: 24,
  partitions: 32,
  convergeTimeoutMs: 90_000,
  keep: false,
  log: () => {},
};

export interface ChaosResult {
  readonly violations: Violation[];
  readonly traces: Map<string, readonly string[]>;
  readonly stats: {
    ops: number;
    reads: number;
    writes: number;
    acked: number;
    failed: number;
    unknown: number;
    siblingReads: number;
    faults: Record<string, number>;
    convergedAfterMs: number | undefined;
    /** Keys with a tombstone whose delete the clients could not name (checked less strictly). */
    unidentifiedKeys: number;
    check: CheckStats;
    wallMs: number;
  };
  readonly dir: string | undefined;
}

const n = 3;
const r = 2;
const w = 2;
const requestTimeoutMs = 3000;
const clientTimeoutMs = 10_000;
/** Faults last this long (ms), and this much calm follows each on its track. */
const faultMinMs = 1500;
const faultMaxMs = 7000;
const gapMinMs = 500;
const gapMaxMs = 4000;
const stableMs = 3000;
const pollMs = 500;

const msPerSecond = 1000;
const tokenBytes = 16;
/** How long the cluster may take to answer on every node, at the start and after healing. */
const clusterUpTimeoutMs = 60_000;
/** How long one admin or /status request may take. */
const adminTimeoutMs = 3000;
/** How long one /replicas request may take (it asks every replica of the key). */
const replicasTimeoutMs = 10_000;
/** A workload client's pause between two operations. */
const thinkMinMs = 5;
const thinkMaxMs = 60;
/** The nemesis starts no fault this close to the end of the workload. */
const faultsEndBeforeStopMs = 2000;
/** When each nemesis track starts: its minimum delay and the random spread added to it. */
const nodeTrackStartMinMs = 1000;
const nodeTrackStartSpreadMs = 2000;
const netTrackStartMinMs = 500;
const netTrackStartSpreadMs = 3000;
/** Killing two nodes at once needs this many, so that a quorum of N=3 can still be up. */
const kill2NodesMin = 5;
/** A pause injected through a node's fault API lasts at most this long. */
const injectedPauseMsMax = 5000;
/** A node lifts an injected fault on its own timer: the interval stays open this much longer. */
const injectedFaultSlackMs = 100;
/** Message loss: a probability in [min, min + spread), in hundredths. */
const lossProbabilityMin = 0.05;
const lossProbabilitySpread = 0.25;
const lossProbabilitySteps = 100;
/** Injected latency: a delay in [min, min + spread) and a jitter below jitterMsMax. */
const latencyMinMs = 20;
const latencySpreadMs = 200;
const jitterMsMax = 200;
/** The quiet window: only in runs this long, starting at this fraction of the workload. */
const quietRunSecondsMin = 20;
const quietStartFraction = 0.4;
/** It lasts the smaller of this long and this fraction of the workload. */
const quietMsMax = 15_000;
const quietFraction = 0.25;
/** The chance that one node stays down throughout the quiet window. */
const quietDownChance = 0.5;
/** Faults keep this far clear of the window before it, and this far after it. */
const quietLeadMs = 1000;
const quietTailMs = 500;
/** How often the quiet track looks whether its node is up again. */
const upPollMs = 50;
/** Reasons for not converging: how many go into the violation, and how many into the log. */
const convergenceReasonsMax = 10;
const convergenceReasonsShown = 3;
/** pino's level for errors (and fatal above it). */
const logErrorLevel = 50;
const rmRetries = 3;

type NodeState = 'up' | 'killed' | 'stopped';
type NodeFault = 'kill' | 'kill2' | 'stop' | 'pause' | 'none';
type NetFault = 'split' | 'isolate' | 'oneway' | 'loss' | 'latency' | 'none';

function nodeFaultWeights(nodes: number): [number, NodeFault][] {
  return [
    [40, 'kill'],
    [nodes >= kill2NodesMin ? 10 : 0, 'kill2'],
    [25, 'stop'],
    [15, 'pause'],
    [10, 'none'],
  ];
}

const netFaultWeights: readonly [number, NetFault][] = [
  [25, 'split'],
  [20, 'isolate'],
  [15, 'oneway'],
  [15, 'loss'],
  [15, 'latency'],
  [10, 'none'],
];

async function json(base: string, path: string, token: string, init: { method?: string; body?: unknown } = {}, timeoutMs = adminTimeoutMs): Promise<{ status: number; body: unknown }> {
  const client = new GyreClient({ failover: false, url: base, token, keepAlive: false, timeoutMs });
  const res = await client.request({ method: init.method ?? 'GET', path, ...(init.body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) } : {}) });
  const text = res.body.toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

/** What every phase of one run shares: the cluster, the run's clock, and what it records. */
interface ChaosRun {
  readonly o: ChaosOptions;
  readonly rng: Rng;
  readonly token: string;
  readonly dir: string;
  readonly port: number;
  readonly cluster: LocalCluster;
  readonly ids: string[];
  readonly keys: string[];
  /** What the nemesis has done to each node; clients send only to nodes it left up. */
  readonly state: Map<string, NodeState>;
  readonly history: History;
  readonly observed: ObservedVersions;
  readonly faults: FaultLog;
  /** Faults started, by kind (the summary's `faults:`). */
  readonly faultCounts: Record<string, number>;
  /** What went wrong outside the checker's rules (it reports them as unhandled). */
  readonly problems: string[];
  readonly copts: ChaosClientOptions;
  /** Run time (ms): the history's clock, restarted once the cluster is up. */
  now(): number;
  restartClock(): void;
  /** Logs a line stamped with the run time. */
  say(line: string): void;
}

/** A window without faults (or with one node down throughout) in the middle of the workload. */
interface QuietWindow {
  readonly from: number;
  readonly to: number;
  /** The node kept down through it, if any. */
  readonly down: string | undefined;
}

/** The phase before the cluster starts: its folder, ports and token, and empty records. */
async function prepareRun(o: ChaosOptions): Promise<ChaosRun> {
  const rng = new Rng(o.seed);
  const token = randomBytes(tokenBytes).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'gyre-chaos-'));
  const portRng = rng.fork('ports');
  const port = await freePortRange(o.nodes, () => portRng.next());
  const cluster = LocalCluster.create({ dir, nodes: o.nodes, port, token, nodeArgs: ['--partitions', String(o.partitions)] });
  const ids = cluster.nodes.map((x) => x.id);
  let t0 = Date.now();
  const now = () => Date.now() - t0;
  const keys = Array.from({ length: o.keys }, (_, i) => `chaos-${i}`);
  return {
    o,
    rng,
    token,
    dir,
    port,
    cluster,
    ids,
    keys,
    state: new Map<string, NodeState>(ids.map((id) => [id, 'up'])),
    history: new History(),
    observed: new ObservedVersions(),
    faults: new FaultLog(),
    faultCounts: {},
    problems: [],
    copts: { keys, n, r, w, requestTimeoutMs, clientTimeoutMs, thinkMinMs, thinkMaxMs, token },
    now,
    restartClock: () => {
      t0 = Date.now();
    },
    say: (line) => o.log(`[${(now() / msPerSecond).toFixed(1)}s] ${line}`),
  };
}

async function startCluster(run: ChaosRun): Promise<void> {
  const { o, cluster, port, dir } = run;
  cluster.start();
  await cluster.waitUntilUp(clusterUpTimeoutMs);
  run.restartClock();
  run.say(`${o.nodes} nodes up on ports ${port}..${port + o.nodes - 1} (data in ${dir})`);
}

// --- the client workload.

/** The workload's clients, each sending to a node picked among those up at that moment. */
function createClients(run: ChaosRun): ChaosClient[] {
  const { o, rng, ids, state, cluster, history, observed, copts } = run;
  const clientRng = rng.fork('pick');
  const pick = () => {
    const up = ids.filter((id) => state.get(id) === 'up');
    if (up.length === 0) return undefined;
    const id = clientRng.pick(up);
    return { id, url: cluster.url(id) };
  };
  return Array.from({ length: o.clients }, (_, i) => new ChaosClient(`c${i + 1}`, pick, history, rng.fork(`client${i + 1}`), copts, run.now, (x) => observed.add(x)));
}

/** The clients run until `stopAt` while the nemesis's tracks inject faults; then they stop. */
async function runWorkload(run: ChaosRun, clients: ChaosClient[], stopAt: number): Promise<void> {
  const quiet = planQuietWindow(run, stopAt);
  const running = clients.map((c) => c.run(stopAt));
  if (quiet) run.say(`quiet window ${quiet.from}..${quiet.to} ms${quiet.down ? ` with ${quiet.down} down` : ''}`);
  await Promise.all([nodeTrack(run, stopAt, quiet), netTrack(run, stopAt, quiet), quietTrack(run, quiet)]);
  for (const c of clients) c.stopped = true;
  await Promise.all(running);
}

// --- the nemesis: two tracks (node faults, network faults) that overlap now and then.

function openFault(run: ChaosRun, i: Omit<FaultInterval, 'to'>): FaultInterval {
  run.faultCounts[i.kind] = (run.faultCounts[i.kind] ?? 0) + 1;
  return run.faults.open(i);
}

/** Asks a running node to inject a fault for `durationMs`, and waits it out. */
async function injectFault(run: ChaosRun, spec: Record<string, unknown>, kind: FaultInterval['kind'], nodes: string[], durationMs: number): Promise<void> {
  const via = run.ids.find((id) => run.state.get(id) === 'up');
  if (!via) return;
  const from = run.now();
  try {
    const res = await json(run.cluster.url(via), '/admin/faults', run.token, { method: 'POST', body: { ...spec, durationMs } });
    if (res.status !== 201) {
      run.problems.push(`fault ${JSON.stringify(spec)} refused by ${via}: ${res.status} ${JSON.stringify(res.body)}`);
      return;
    }
  } catch (e) {
    run.say(`could not inject ${kind} via ${via}: ${(e as Error).message}`);
    return;
  }
  const interval = openFault(run, { kind, nodes, disruptive: true, from });
  interval.to = from + durationMs + injectedFaultSlackMs;
  run.say(`${kind} ${JSON.stringify(spec)} for ${durationMs} ms`);
  await sleep(realEnv, durationMs);
}

/**
 * A quiet window in the middle of longer runs (no faults, or one node down throughout), so
 * the availability rule has writes to judge: Dynamo 4.6 says they must all succeed.
 */
function planQuietWindow(run: ChaosRun, stopAt: number): QuietWindow | undefined {
  if (run.o.seconds < quietRunSecondsMin) return undefined;
  const from = Math.floor(stopAt * quietStartFraction);
  const to = from + Math.min(quietMsMax, Math.floor(stopAt * quietFraction));
  const down = run.rng.fork('quiet').chance(quietDownChance) ? run.rng.fork('quiet-node').pick(run.ids) : undefined;
  return { from, to, down };
}

/** Waits out the quiet window if a fault starting now for `d` ms would overlap it; true if it waited. */
async function skipQuiet(run: ChaosRun, quiet: QuietWindow | undefined, d: number): Promise<boolean> {
  if (!quiet) return false;
  const t = run.now();
  if (t >= quiet.to || t + d < quiet.from - quietLeadMs) return false;
  await sleep(realEnv, quiet.to - t + quietTailMs);
  return true;
}

/** Keeps the quiet window's node down (SIGKILL) from just before the window to just after. */
async function quietTrack(run: ChaosRun, quiet: QuietWindow | undefined): Promise<void> {
  if (!quiet || !quiet.down) return;
  const { cluster, state } = run;
  const down = quiet.down;
  await sleep(realEnv, Math.max(0, quiet.from - quietLeadMs - run.now()));
  // The node track stays out of the window, but may still be ending a fault on this node.
  while (state.get(down) !== 'up') await sleep(realEnv, upPollMs);
  const interval = openFault(run, { kind: 'crash', nodes: [down], disruptive: false, from: run.now() });
  state.set(down, 'killed');
  await cluster.stopNode(down, 'SIGKILL');
  run.say(`quiet window: ${down} down (SIGKILL) until ${quiet.to + quietTailMs} ms`);
  await sleep(realEnv, Math.max(0, quiet.to + quietTailMs - run.now()));
  cluster.startNode(down);
  state.set(down, 'up');
  interval.to = run.now();
  run.say(`quiet window over: restarted ${down}`);
}

/** Node faults one after another: SIGKILL one or two nodes, SIGSTOP one, or pause one through its fault API. */
async function nodeTrack(run: ChaosRun, stopAt: number, quiet: QuietWindow | undefined): Promise<void> {
  const nodeRng = run.rng.fork('nemesis-node');
  const weights = nodeFaultWeights(run.o.nodes);
  await sleep(realEnv, nodeTrackStartMinMs + nodeRng.int(nodeTrackStartSpreadMs));
  while (run.now() < stopAt - faultsEndBeforeStopMs) {
    const d = faultMinMs + nodeRng.int(faultMaxMs - faultMinMs);
    if (await skipQuiet(run, quiet, d)) continue;
    const kind = nodeRng.weighted(weights);
    const up = run.ids.filter((id) => run.state.get(id) === 'up' && id !== quiet?.down);
    if (up.length === 0) {
      await sleep(realEnv, d);
      continue;
    }
    if (kind === 'kill' || kind === 'kill2') {
      await killNodes(run, nodeRng.shuffle(up).slice(0, kind === 'kill2' ? 2 : 1), d);
    } else if (kind === 'stop') {
      await stopNode(run, nodeRng.pick(up), d);
    } else if (kind === 'pause') {
      const v = nodeRng.pick(up);
      await injectFault(run, { kind: 'pause', node: v }, 'pause', [v], Math.min(d, injectedPauseMsMax));
    } else {
      await sleep(realEnv, d);
    }
    await sleep(realEnv, gapMinMs + nodeRng.int(gapMaxMs - gapMinMs));
  }
}

/** SIGKILLs the victims, and restarts them `d` ms later. */
async function killNodes(run: ChaosRun, victims: string[], d: number): Promise<void> {
  const interval = openFault(run, { kind: 'crash', nodes: victims, disruptive: false, from: run.now() });
  for (const v of victims) {
    run.state.set(v, 'killed');
    await run.cluster.stopNode(v, 'SIGKILL');
  }
  run.say(`SIGKILL ${victims.join(',')} for ${d} ms`);
  await sleep(realEnv, d);
  for (const v of victims) {
    run.cluster.startNode(v);
    run.state.set(v, 'up');
  }
  interval.to = run.now();
  run.say(`restarted ${victims.join(',')}`);
}

/** SIGSTOPs a node (a gray failure: its sockets stay open), and SIGCONTs it `d` ms later. */
async function stopNode(run: ChaosRun, v: string, d: number): Promise<void> {
  const interval = openFault(run, { kind: 'pause', nodes: [v], disruptive: true, from: run.now() });
  run.state.set(v, 'stopped');
  run.cluster.signal(v, 'SIGSTOP');
  run.say(`SIGSTOP ${v} for ${d} ms`);
  await sleep(realEnv, d);
  run.cluster.signal(v, 'SIGCONT');
  run.state.set(v, 'up');
  interval.to = run.now();
}

/** Network faults one after another, through the nodes' fault API: cuts, loss and latency. */
async function netTrack(run: ChaosRun, stopAt: number, quiet: QuietWindow | undefined): Promise<void> {
  const { ids } = run;
  const netRng = run.rng.fork('nemesis-net');
  await sleep(realEnv, netTrackStartMinMs + netRng.int(netTrackStartSpreadMs));
  while (run.now() < stopAt - faultsEndBeforeStopMs) {
    const d = faultMinMs + netRng.int(faultMaxMs - faultMinMs);
    if (await skipQuiet(run, quiet, d)) continue;
    const kind = netRng.weighted(netFaultWeights);
    if (kind === 'split') {
      const shuffled = netRng.shuffle(ids);
      const a = shuffled.slice(0, 1 + netRng.int(ids.length - 1));
      await injectFault(run, { kind: 'partition', from: a, oneWay: false }, 'split', ids, d);
    } else if (kind === 'isolate') {
      const x = netRng.pick(ids);
      await injectFault(run, { kind: 'partition', from: [x], oneWay: false }, 'isolate', [x], d);
    } else if (kind === 'oneway') {
      const [x, y] = netRng.shuffle(ids);
      await injectFault(run, { kind: 'partition', from: [x!], to: [y!], oneWay: true }, 'oneway', [x!, y!], d);
    } else if (kind === 'loss') {
      const probability = Math.round((lossProbabilityMin + netRng.next() * lossProbabilitySpread) * lossProbabilitySteps) / lossProbabilitySteps;
      await injectFault(run, { kind: 'loss', probability }, 'loss', ids, d);
    } else if (kind === 'latency') {
      await injectFault(run, { kind: 'latency', delayMs: latencyMinMs + netRng.int(latencySpreadMs), jitterMs: netRng.int(jitterMsMax) }, 'latency', ids, d);
    } else {
      await sleep(realEnv, d);
    }
    await sleep(realEnv, gapMinMs + netRng.int(gapMaxMs - gapMinMs));
  }
}

// --- heal and wait for convergence.

/** Resumes, restarts and un-faults every node; closes every fault interval. Returns when it healed. */
async function heal(run: ChaosRun): Promise<number> {
  const { ids, state, cluster, problems } = run;
  const healAt = run.now();
  for (const id of ids) {
    if (state.get(id) === 'stopped') cluster.signal(id, 'SIGCONT');
    if (state.get(id) === 'killed') cluster.startNode(id);
    state.set(id, 'up');
  }
  run.faults.healAll(healAt);
  for (const id of ids) {
    // Processes that died without the nemesis killing them are crashes.
    if (!cluster.running().some((x) => x.id === id)) {
      problems.push(`${id} was not running at the end of the workload (an unexpected exit); restarted`);
      cluster.startNode(id);
    }
  }
  await cluster.waitUntilUp(clusterUpTimeoutMs);
  for (const id of ids) await json(cluster.url(id), '/admin/faults', run.token, { method: 'DELETE' }).catch(() => undefined);
  run.say(`healed; ${run.history.ops.length} operations so far; waiting for convergence`);
  return healAt;
}

/** Every key's replicas as the first node's /replicas shows them. */
async function snapshotReplicas(run: ChaosRun, withValues: boolean): Promise<Map<string, ReplicasDocument>> {
  const out = new Map<string, ReplicasDocument>();
  for (const key of run.keys) {
    const res = await json(run.cluster.url(run.ids[0]!), `/replicas/${encodeURIComponent(key)}${withValues ? '?values=1' : ''}`, run.token, {}, replicasTimeoutMs);
    if (res.status !== 200) throw new Error(`/replicas/${key}: ${res.status}`);
    out.set(key, res.body as ReplicasDocument);
  }
  return out;
}

/** Why the cluster has not converged yet (no hints, no transfers, all up, replicas identical); empty once it has. */
async function whyNotConverged(run: ChaosRun): Promise<string[]> {
  const why: string[] = [];
  for (const id of run.ids) {
    try {
      const s = (await json(run.cluster.url(id), '/status', run.token)).body as { hintsPending: number; transfers: { pending: unknown[] }; members: { id: string; status: string }[] };
      if (s.hintsPending > 0) why.push(`${id} holds ${s.hintsPending} hints`);
      if (s.transfers.pending.length > 0) why.push(`${id} sees ${s.transfers.pending.length} transfers pending`);
      const notUp = s.members.filter((m) => m.status !== 'up').map((m) => `${m.id}:${m.status}`);
      if (notUp.length > 0) why.push(`${id} sees ${notUp.join(' ')}`);
    } catch (e) {
      why.push(`${id}: /status failed: ${(e as Error).message}`);
    }
  }
  if (why.length > 0) return why;
  for (const [key, doc] of await snapshotReplicas(run, false)) {
    const differ = replicasDiffer(key, doc);
    if (differ) why.push(differ);
  }
  return why;
}

interface Convergence {
  readonly convergedAfterMs: number | undefined;
  /** The checker's convergence violation: empty if it converged. */
  readonly problems: string[];
}

/** Polls until the cluster converged or the timeout passed. */
async function awaitConvergence(run: ChaosRun, healAt: number): Promise<Convergence> {
  const { o } = run;
  let convergedAfterMs: number | undefined;
  let lastWhy: string[] = [];
  for (let i = 0; i < Math.ceil(o.convergeTimeoutMs / pollMs); i++) {
    lastWhy = await whyNotConverged(run);
    if (lastWhy.length === 0) {
      convergedAfterMs = run.now() - healAt;
      break;
    }
    await sleep(realEnv, pollMs);
  }
  const problems = convergedAfterMs === undefined ? [`after ${o.convergeTimeoutMs} ms: ${lastWhy.slice(0, convergenceReasonsMax).join('; ')}`] : [];
  run.say(convergedAfterMs === undefined ? `not converged: ${lastWhy.slice(0, convergenceReasonsShown).join('; ')}` : `converged ${convergedAfterMs} ms after healing`);
  return { convergedAfterMs, problems };
}

// --- sabotage (the checker's own tests).

/** A client the history does not know overwrites every key with its current context. */
async function sabotageOverwrite(run: ChaosRun): Promise<void> {
  const saboteur = new GyreClient({ failover: false, url: run.cluster.url(run.ids[0]!), token: run.token, keepAlive: false });
  for (const key of run.keys) {
    // A failed sabotage write is only a weaker sabotage: the run goes on either way.
    const got = await saboteur.get(key).catch(() => undefined);
    await saboteur.put(key, 'sabotage', { context: got?.context, w: n }).catch(() => undefined);
  }
  run.say('sabotage: every key overwritten by a client outside the history');
}

// --- the final state, the final reads (r=N from every node), the state again.

interface FinalState {
  readonly final: FinalKey[];
  readonly atFinalReads: FinalKey[];
}

/** Snapshots the replicas, reads every key from every node with r=N, snapshots them again. */
async function readFinalState(run: ChaosRun, clients: ChaosClient[]): Promise<FinalState> {
  const { history, observed, keys, ids, cluster } = run;
  const final = finalKeysOf(await snapshotReplicas(run, true), observed, run.now());
  const reader = new ChaosClient('final', () => undefined, history, run.rng.fork('final'), run.copts, run.now, (x) => observed.add(x));
  for (const key of keys) for (const id of ids) await reader.read(key, n, true, { id, url: cluster.url(id) });
  reader.close();
  const atFinalReads = finalKeysOf(await snapshotReplicas(run, true), observed, run.now());
  for (const c of clients) c.close();
  return { final, atFinalReads };
}

// --- checking, and the result.

/**
 * Tombstones seen only in a 404 carry no writer: name it from any other sighting, or else
 * from the deletes whose answer never came back (so whose version id is unknown): the one
 * whose coordinator made the tombstone's actor, when that singles one out. Returns the keys
 * where that failed; reports malformed version ids (naming may have added some).
 */
function nameTombstones(run: ChaosRun): Set<string> {
  const unidentified = identifyTombstones(run.history, run.observed);
  if (unidentified.size > 0) run.say(`tombstones whose delete could not be named, on ${unidentified.size} key(s): ${[...unidentified].join(', ')}`);
  for (const m of run.observed.malformed) run.problems.push(`malformed version id ${m}`);
  return unidentified;
}

/** Errors the nodes logged (level 50+) are bugs: nothing a peer or client does should cause one. */
function collectLoggedErrors(run: ChaosRun): void {
  for (const x of run.cluster.nodes) {
    if (!existsSync(x.log)) continue;
    for (const line of readFileSync(x.log, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: string };
        if ((entry.level ?? 0) >= logErrorLevel) run.problems.push(`${x.id} logged an error: ${entry.msg ?? ''} ${entry.err ?? ''}`.trim());
      } catch {
        // a line torn by SIGKILL
      }
    }
  }
}

/** Hands everything recorded to the simulator's checker and sums up the run. */
function judge(run: ChaosRun, state: FinalState, convergence: Convergence, unidentified: Set<string>, started: number): ChaosResult {
  const { history, o } = run;
  const stats: CheckStats = { availabilityJudged: 0, ackedWrites: 0, superseded: 0 };
  const violations = check(
    {
      history,
      oracle: run.observed,
      faults: run.faults,
      final: state.final,
      atFinalReads: state.atFinalReads,
      n,
      formedAt: 0,
      stableMs,
      clientTimeoutMs,
      convergenceProblems: convergence.problems,
      errors: [],
      unhandled: run.problems,
      unidentified,
    },
    stats,
  );
  const writes = history.writes().filter((x) => x.client !== 'final');
  const reads = history.reads().filter((x) => !x.final);
  const traces = new Map<string, readonly string[]>();
  for (const v of violations) if (v.key !== undefined) traces.set(v.key, history.keyTrace(v.key));
  return {
    violations,
    traces,
    stats: {
      ops: writes.length + reads.length,
      reads: reads.length,
      writes: writes.length,
      acked: writes.filter((x) => x.outcome === 'ok').length,
      failed: writes.filter((x) => x.outcome === 'fail').length,
      unknown: writes.filter((x) => x.outcome === 'unknown').length,
      siblingReads: reads.filter((x) => x.status === 300).length,
      faults: run.faultCounts,
      convergedAfterMs: convergence.convergedAfterMs,
      unidentifiedKeys: unidentified.size,
      check: stats,
      wallMs: performance.now() - started,
    },
    dir: o.keep ? run.dir : undefined,
  };
}

export async function runChaos(options: Partial<ChaosOptions> = {}): Promise<ChaosResult> {
  const o: ChaosOptions = { ...defaultChaosOptions, ...options };
  if (o.nodes < n) throw new Error(`a chaos run needs at least ${n} nodes (N=${n})`);
  const started = performance.now();
  const run = await prepareRun(o);
  try {
    await startCluster(run);
    const stopAt = o.seconds * msPerSecond;
    const clients = createClients(run);
    await runWorkload(run, clients, stopAt);
    const healAt = await heal(run);
    const convergence = await awaitConvergence(run, healAt);
    if (o.sabotage === 'overwrite') await sabotageOverwrite(run);
    const state = await readFinalState(run, clients);
    const unidentified = nameTombstones(run);
    collectLoggedErrors(run);
    return judge(run, state, convergence, unidentified, started);
  } finally {
    await run.cluster.stop().catch(() => undefined);
    if (!o.keep) rmSync(run.dir, { recursive: true, force: true, maxRetries: rmRetries });
  }
}
