// One run of an experiment's scenario against the attached cluster (issue 14; the design is at
// the top of experiments.ts). The phases, in order:
//   1. ask every node's /status who it is (id <-> URL) and the cluster's N, R, W;
//   2. the recording workload (node-core/src/verify/recorder.ts, the chaos run's client) on the
//      run's own keys, while each step injects its fault at its offset and lifts it after its
//      duration (the node's own timer; a kill is SIGKILL, then a restart, through the host);
//   3. heal everything, then poll until the cluster converged, for at most settleMs;
//   4. snapshot every key the workload touched on its replicas (/replicas?values=1), read it
//      with r=N from every node, snapshot again, and hand it all to the checker.
// Every wait is bounded and ends early on stop().

import { GyreClient } from '../../node-core/src/client/client.js';
import { parseReplicasDocument, parseStatusDocument } from '../../node-core/src/client/documents.js';
import type { Env } from '../../node-core/src/core/env.js';
import type { ReplicasDocument } from '../../node-core/src/wire/api.js';
import { type CheckStats, type Violation, check } from '../../node-core/src/verify/checker.js';
import { FaultLog } from '../../node-core/src/verify/fault-log.js';
import { finalKeysOf, identifyTombstones, replicasDiffer } from '../../node-core/src/verify/final-state.js';
import { History } from '../../node-core/src/verify/history.js';
import { ObservedVersions } from '../../node-core/src/verify/observed.js';
import { type RecorderOptions, RecordingClient, type Send } from '../../node-core/src/verify/recorder.js';
import { type WorkloadRandom, opWeightsWithGetRatio } from '../../node-core/src/verify/workload-client.js';
import { type Scenario, type Step, describeStep, experimentKeys, faultSpecOf, nodesNamed, scenarioEndMs, stepNodes } from './scenario.js';
import { type Verdict, finalReaderId, verdictOf } from './verdict.js';

/** What the console gives an experiment: the attached cluster and its fault controls (backend.ts implements it). */
export interface ExperimentHost {
  urls(): readonly string[];
  token(): string | null;
  ca(): Buffer | undefined;
  local(): boolean;
  injectFault(spec: Record<string, unknown>): Promise<{ id: string }>;
  healFaults(): Promise<void>;
  killNode(id: string): Promise<void>;
  restartNode(id: string): Promise<void>;
  nodeIds(): readonly string[];
}

export interface RunOutcome {
  readonly state: 'passed' | 'failed' | 'error' | 'stopped';
  readonly verdict: Verdict | null;
  readonly error?: string;
}

/** The workload's clients at most (each runs one operation at a time). */
const clientsMax = 32;
/** Operations per second one client is asked for at most (a local round trip takes a few ms). */
const ratePerClient = 25;
const requestTimeoutMs = 3000;
const clientTimeoutMs = 10_000;
/** How long one /status or /replicas request may take. */
const adminTimeoutMs = 5000;
const replicasTimeoutMs = 10_000;
/** The checker's calm window before a write it judges for availability (as the chaos run). */
const stableMs = 3000;
/** A node lifts an injected fault on its own timer: its interval stays open this much longer. */
const injectedFaultSlackMs = 100;
const convergencePollMs = 500;
/** After healing, nodes get this long to answer /status (a restarted node replays its log) before settling counts. */
const upTimeoutMs = 30_000;
/** /replicas requests in flight at once. */
const snapshotConcurrency = 8;
/** Reasons for not converging kept in the violation. */
const convergenceReasonsMax = 10;
/** Response bytes buffered at most per request. */
const responseBytesMax = 8 * 1024 * 1024;
const socketsPerNode = 8;

const realEnv: Env = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

const mathRandom: WorkloadRandom = {
  int: (n) => Math.floor(Math.random() * n),
  pick: (xs) => xs[Math.floor(Math.random() * xs.length)]!,
  weighted: (choices) => {
    let x = Math.random() * choices.reduce((s, [w]) => s + w, 0);
    for (const [w, v] of choices) if ((x -= w) < 0) return v;
    return choices[choices.length - 1]![1];
  },
};

interface Node {
  readonly id: string;
  readonly url: string;
}

export class ExperimentRun {
  private readonly t0 = performance.now();
  private stopped = false;
  private readonly wakers = new Set<() => void>();
  private readonly clients = new Map<string, GyreClient>();
  private readonly history = new History();
  private readonly observed = new ObservedVersions();
  private readonly faults = new FaultLog();
  private readonly killed = new Set<string>();
  private readonly problems: string[] = [];
  private nodes: Node[] = [];
  private quorum = { n: 3, r: 2, w: 2 };
  private token: string | undefined;

  constructor(
    readonly id: string,
    private readonly scenario: Scenario,
    private readonly host: ExperimentHost,
    /** A line for the run's steps log. */
    private readonly say: (what: string) => void,
  ) {}

  /** Milliseconds since the run started (the history's clock). */
  now(): number {
    return Math.round(performance.now() - this.t0);
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.wakers) w();
  }

  /** Sleeps `ms`, or less if the run is stopped. */
  private wait(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private client(base: string): GyreClient {
    let c = this.clients.get(base);
    if (!c) {
      const ca = this.host.ca();
      c = new GyreClient({ failover: false, url: base, maxSockets: socketsPerNode, responseBytesMax, ...(ca ? { ca } : {}) });
      this.clients.set(base, c);
    }
    return c;
  }

  private readonly send: Send = (base, req) => this.client(base).request({ method: req.method, path: req.path, headers: req.headers, timeoutMs: req.timeoutMs, ...(req.body !== undefined ? { body: req.body } : {}) });

  private auth(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** Runs the scenario to its verdict; never throws (a failure is the outcome 'error'). */
  async execute(): Promise<RunOutcome> {
    try {
      await this.discover();
      const keys = experimentKeys(this.id, this.scenario.workload.keys);
      const workload = this.scenario.workload.enabled ? this.startWorkload(keys) : { done: Promise.resolve(), stop: () => {} };
      const stepped = await this.runSteps();
      workload.stop();
      await workload.done;
      await this.heal();
      if (!stepped.ok) return { state: 'error', verdict: null, error: stepped.error };
      if (this.stopped) return { state: 'stopped', verdict: null };
      const convergence = await this.awaitConvergence();
      if (this.stopped) return { state: 'stopped', verdict: null };
      const verdict = await this.judge(convergence);
      return { state: verdict.ok ? 'passed' : 'failed', verdict };
    } catch (e) {
      this.stop();
      await this.heal().catch(() => undefined);
      return { state: 'error', verdict: null, error: (e as Error).message };
    } finally {
      for (const c of this.clients.values()) c.close();
    }
  }

  /** Who answers at each URL, and the cluster's N, R, W; checks the scenario's nodes exist. */
  private async discover(): Promise<void> {
    const urls = this.host.urls();
    if (urls.length === 0) throw new Error('attach to a cluster first');
    this.token = this.host.token() ?? undefined;
    const known = new Set(this.host.nodeIds());
    const missing = nodesNamed(this.scenario).filter((id) => !known.has(id));
    if (missing.length > 0) throw new Error(`the scenario names nodes the cluster does not have: ${missing.join(', ')}`);
    if (!this.host.local() && this.scenario.steps.some((s) => s.fault.kind === 'kill')) throw new Error('kill steps are for local clusters only (the console cannot restart a remote node)');
    for (const url of urls) {
      try {
        const doc = parseStatusDocument(await this.client(url).request({ method: 'GET', path: '/status', headers: this.auth(), timeoutMs: adminTimeoutMs }));
        this.nodes.push({ id: doc.node.id, url });
        this.quorum = { n: doc.config.n, r: doc.config.r, w: doc.config.w };
      } catch (e) {
        this.say(`${url} did not answer /status (${(e as Error).message}): left out of the workload`);
      }
    }
    if (this.nodes.length === 0) throw new Error('no node of the cluster answered /status');
    this.say(`nodes ${this.nodes.map((x) => x.id).join(', ')}; N=${this.quorum.n} R=${this.quorum.r} W=${this.quorum.w}`);
  }

  private recorderOptions(keys: readonly string[], intervalMs: number | undefined): RecorderOptions {
    return { keys, ...this.quorum, requestTimeoutMs, clientTimeoutMs, thinkMinMs: 0, thinkMaxMs: 0, intervalMs, weights: opWeightsWithGetRatio(this.scenario.workload.getRatio), token: this.token };
  }

  private pick = (): Node | undefined => {
    const up = this.nodes.filter((x) => !this.killed.has(x.id));
    return up.length === 0 ? undefined : mathRandom.pick(up);
  };

  /** The recording workload, until the last step ends (or stop). */
  private startWorkload(keys: readonly string[]): { done: Promise<void>; stop: () => void } {
    const { ratePerSecond } = this.scenario.workload;
    const count = Math.min(clientsMax, Math.max(1, Math.ceil(ratePerSecond / ratePerClient)));
    const opts = this.recorderOptions(keys, (count * 1000) / ratePerSecond);
    const clients = Array.from({ length: count }, (_, i) => new RecordingClient(`c${i + 1}`, this.pick, this.history, mathRandom, opts, () => this.now(), (o) => this.observed.add(o), this.send, realEnv));
    const stopAt = scenarioEndMs(this.scenario);
    this.say(`workload: ${count} client(s), ${ratePerSecond} ops/s on ${keys.length} key(s) ${keys[0]}..`);
    const done = Promise.all(clients.map((c) => c.run(stopAt))).then(() => undefined);
    return { done, stop: () => clients.forEach((c) => (c.stopped = true)) };
  }

  /** Every step at its offset; resolves when the last one ended. The first failure stops the run. */
  private async runSteps(): Promise<{ ok: true } | { ok: false; error: string }> {
    let failure: string | undefined;
    await Promise.all(
      this.scenario.steps.map(async (step, i) => {
        await this.wait(step.atMs - this.now());
        if (this.stopped) return;
        try {
          await this.runStep(step);
        } catch (e) {
          failure ??= `step ${i + 1} (${describeStep(step)}): ${(e as Error).message}`;
          this.say(`step ${i + 1} failed: ${(e as Error).message}`);
          this.stop();
        }
      }),
    );
    return failure === undefined ? { ok: true } : { ok: false, error: failure };
  }

  private async runStep(step: Step): Promise<void> {
    const spec = faultSpecOf(step);
    if (spec === undefined) {
      // A kill: SIGKILL through the supervisor, the node restarted after the step's duration.
      const node = step.fault.kind === 'kill' ? step.fault.node : '';
      const interval = this.faults.open({ kind: 'crash', nodes: [node], disruptive: false, from: this.now() });
      this.killed.add(node);
      await this.host.killNode(node);
      this.say(`killed ${node} for ${step.durationMs} ms`);
      await this.wait(step.durationMs);
      await this.host.restartNode(node);
      this.killed.delete(node);
      interval.to = this.now();
      this.say(`restarted ${node}`);
      return;
    }
    const from = this.now();
    const fault = await this.host.injectFault(spec);
    const interval = this.faults.open({ kind: step.fault.kind, nodes: stepNodes(step), disruptive: true, from });
    interval.to = from + step.durationMs + injectedFaultSlackMs;
    this.say(`injected ${describeStep(step)} (fault ${fault.id})`);
    await this.wait(step.durationMs);
  }

  /** Lifts every fault and restarts every node a step killed. */
  private async heal(): Promise<void> {
    const at = this.now();
    for (const id of [...this.killed]) {
      await this.host.restartNode(id).catch((e: Error) => this.problems.push(`restarting ${id} after the run failed: ${e.message}`));
      this.killed.delete(id);
    }
    await this.host.healFaults().catch((e: Error) => this.problems.push(`healing the faults failed: ${e.message}`));
    this.faults.healAll(at);
    this.say('healed: faults lifted, killed nodes restarted');
  }

  private async status(node: Node): Promise<ReturnType<typeof parseStatusDocument>> {
    return parseStatusDocument(await this.client(node.url).request({ method: 'GET', path: '/status', headers: this.auth(), timeoutMs: adminTimeoutMs }));
  }

  private async replicas(key: string, withValues: boolean): Promise<ReplicasDocument> {
    const via = this.nodes[0]!;
    const res = await this.client(via.url).request({ method: 'GET', path: `/replicas/${encodeURIComponent(key)}${withValues ? '?values=1' : ''}`, headers: this.auth(), timeoutMs: replicasTimeoutMs });
    if (res.status !== 200) throw new Error(`/replicas/${key} at ${via.id}: ${res.status} ${res.body.subarray(0, 200).toString('utf8')}`);
    return parseReplicasDocument(res);
  }

  /** Every key the workload touched, on its replicas as the first node shows them. */
  private async snapshot(withValues: boolean): Promise<Map<string, ReplicasDocument>> {
    const keys = [...new Set(this.history.ops.map((o) => o.key))].sort();
    const out = new Map<string, ReplicasDocument>();
    for (let i = 0; i < keys.length; i += snapshotConcurrency) {
      const batch = keys.slice(i, i + snapshotConcurrency);
      const docs = await Promise.all(batch.map((k) => this.replicas(k, withValues)));
      batch.forEach((k, j) => out.set(k, docs[j]!));
    }
    return out;
  }

  /** Why the cluster has not converged yet; empty once it has. */
  private async whyNotConverged(): Promise<string[]> {
    const why: string[] = [];
    for (const node of this.nodes) {
      try {
        const s = await this.status(node);
        if (s.hintsPending > 0) why.push(`${node.id} holds ${s.hintsPending} hints`);
        const notUp = s.members.filter((m) => m.status !== 'up').map((m) => `${m.id}:${m.status}`);
        if (notUp.length > 0) why.push(`${node.id} sees ${notUp.join(' ')}`);
      } catch (e) {
        why.push(`${node.id}: /status failed: ${(e as Error).message}`);
      }
    }
    if (why.length > 0) return why;
    for (const [key, doc] of await this.snapshot(false)) {
      const differ = replicasDiffer(key, doc);
      if (differ) why.push(differ);
    }
    return why;
  }

  /** Polls until converged or settleMs passed (plus the time restarted nodes take to answer). */
  private async awaitConvergence(): Promise<readonly string[]> {
    const healedAt = this.now();
    const upBy = healedAt + upTimeoutMs;
    let settleFrom: number | undefined;
    let why: string[] = [];
    while (!this.stopped) {
      why = await this.whyNotConverged().catch((e: Error) => [e.message]);
      if (why.length === 0) {
        this.say(`converged ${this.now() - healedAt} ms after healing`);
        return [];
      }
      const answering = why.every((w) => !w.includes('/status failed'));
      if (settleFrom === undefined && (answering || this.now() > upBy)) settleFrom = this.now();
      if (settleFrom !== undefined && this.now() - settleFrom >= this.scenario.settleMs) break;
      await this.wait(convergencePollMs);
    }
    this.say(`not converged within ${this.scenario.settleMs} ms: ${why.slice(0, 3).join('; ')}`);
    return [`within settleMs (${this.scenario.settleMs} ms) after healing: ${why.slice(0, convergenceReasonsMax).join('; ')}`];
  }

  /** The final state, the final reads (r=N from every node), the state again; then the checker. */
  private async judge(convergenceProblems: readonly string[]): Promise<Verdict> {
    const final = finalKeysOf(await this.snapshot(true), this.observed, this.now());
    const keys = [...final.map((f) => f.key)];
    const reader = new RecordingClient(finalReaderId, () => undefined, this.history, mathRandom, this.recorderOptions(keys, undefined), () => this.now(), (o) => this.observed.add(o), this.send, realEnv);
    for (const key of keys) for (const node of this.nodes) await reader.read(key, this.quorum.n, true, node);
    const atFinalReads = finalKeysOf(await this.snapshot(true), this.observed, this.now());
    const unidentified = identifyTombstones(this.history, this.observed);
    for (const m of this.observed.malformed) this.problems.push(`malformed version id ${m}`);
    const stats: CheckStats = { availabilityJudged: 0, ackedWrites: 0, superseded: 0 };
    const violations: Violation[] = check(
      { history: this.history, oracle: this.observed, faults: this.faults, final, atFinalReads, n: this.quorum.n, formedAt: 0, stableMs, clientTimeoutMs, convergenceProblems, errors: [], unhandled: this.problems, unidentified },
      stats,
    );
    const verdict = verdictOf(violations, this.history, this.now());
    this.say(`verdict: ${verdict.ok ? 'passed' : `failed (${Object.entries(verdict.violationCounts).map(([r, c]) => `${r} ${c}`).join(', ')})`}; ${verdict.acknowledgedWrites} acknowledged writes, ${stats.availabilityJudged} judged for availability`);
    return verdict;
  }
}
