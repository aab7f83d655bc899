// The real-process chaos run (issue 4): a local cluster of `gyre node` processes on loopback,
// a concurrent client workload over HTTP, and a nemesis that SIGKILLs and restarts nodes,
// SIGSTOPs them (a gray failure), and, through the nodes' own fault injection, partitions
// them, drops and delays their messages and pauses them. Then everything heals, the run waits
// for the replicas to converge, reads every key from every node with r=N, snapshots every
// replica through /replicas, and hands the history to the simulator's checker (same rules,
// same code). Bounded in time and requests; it stops only the processes it started.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../../../node-core/src/core/env.js';
import { realEnv } from '../../../node-core/src/start/real-env.js';
import { LocalCluster, freePortRange } from '../../../node-core/src/cli/supervisor.js';
import { type CheckStats, type FinalKey, type Violation, check } from '../sim/checker.js';
import { History, type VersionSeen, tombstoneTypePrefix, writerOf } from '../sim/history.js';
import { FaultLog, type FaultInterval } from '../sim/nemesis.js';
import { Rng } from '../sim/random.js';
import { ChaosClient, type ChaosClientOptions } from './client.js';
import { ObservedVersions } from './observed.js';
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

type NodeState = 'up' | 'killed' | 'stopped';

async function json(base: string, path: string, token: string, init: { method?: string; body?: unknown } = {}, timeoutMs = 3000): Promise<{ status: number; body: unknown }> {
  const client = new GyreClient({ url: base, token, keepAlive: false, timeoutMs });
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

interface ReplicasDoc {
  preferenceList: string[];
  replicas: { node: string; reachable: boolean; versions: { version: string; deleted: boolean; contentType: string; context: string; value?: string }[] }[];
}

/** The node that coordinated a version: its actor is `node.tenure` or `node~oneshot`. */
function actorNode(dot: string): string {
  const actor = dot.slice(0, dot.lastIndexOf(':'));
  return actor.split(/[.~]/)[0]!;
}

/**
 * Names the writers of tombstones that reads saw without one; returns the keys where some
 * stayed nameless. Each delete names at most one tombstone.
 */
function identifyTombstones(history: History, observed: ObservedVersions): Set<string> {
  const unidentified = new Set<string>();
  const reads = history.reads().filter((r) => r.versions?.some((v) => v.writeId === undefined));
  for (const op of reads) op.versions = op.versions!.map((v) => (v.writeId !== undefined ? v : { ...v, writeId: observed.version(op.key, v.dot)?.writeId }));
  const named = new Set<string>();
  for (const k of observed.keys()) for (const v of observed.versionsOf(k)) if (v.writeId) named.add(v.writeId);
  const firstSeen = new Map<string, { key: string; dot: string; at: number }>();
  for (const op of reads) for (const v of op.versions!) if (v.writeId === undefined && !firstSeen.has(`${op.key} ${v.dot}`)) firstSeen.set(`${op.key} ${v.dot}`, { key: op.key, dot: v.dot, at: op.completedAt ?? op.invokedAt });
  const assigned = new Map<string, string>();
  for (const t of [...firstSeen.values()].sort((a, b) => a.at - b.at)) {
    const candidates = history.writes().filter((w) => w.key === t.key && w.kind === 'delete' && w.outcome !== 'ok' && !named.has(w.writeId) && w.invokedAt <= t.at);
    const byNode = candidates.filter((w) => w.node === actorNode(t.dot));
    const pick = byNode.length === 1 ? byNode[0] : candidates.length === 1 ? candidates[0] : undefined;
    if (!pick) {
      unidentified.add(t.key);
      continue;
    }
    named.add(pick.writeId);
    assigned.set(`${t.key} ${t.dot}`, pick.writeId);
    observed.add({ key: t.key, dot: t.dot, deleted: true, contentType: `${tombstoneTypePrefix}${pick.writeId}`, value: Buffer.alloc(0), context: undefined, at: t.at, node: pick.node });
  }
  for (const op of reads) op.versions = op.versions!.map((v) => (v.writeId !== undefined ? v : { ...v, writeId: assigned.get(`${op.key} ${v.dot}`) }));
  return unidentified;
}

export async function runChaos(options: Partial<ChaosOptions> = {}): Promise<ChaosResult> {
  const o: ChaosOptions = { ...defaultChaosOptions, ...options };
  if (o.nodes < 3) throw new Error('a chaos run needs at least 3 nodes (N=3)');
  const started = performance.now();
  const rng = new Rng(o.seed);
  const token = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'gyre-chaos-'));
  const portRng = rng.fork('ports');
  const port = await freePortRange(o.nodes, () => portRng.next());
  const cluster = LocalCluster.create({ dir, nodes: o.nodes, port, token, nodeArgs: ['--partitions', String(o.partitions)] });
  const ids = cluster.nodes.map((x) => x.id);
  const state = new Map<string, NodeState>(ids.map((id) => [id, 'up']));
  const history = new History();
  const observed = new ObservedVersions();
  const faults = new FaultLog();
  const faultCounts: Record<string, number> = {};
  const problems: string[] = [];
  let t0 = Date.now();
  const now = () => Date.now() - t0;
  const keys = Array.from({ length: o.keys }, (_, i) => `chaos-${i}`);
  const say = (line: string) => o.log(`[${(now() / 1000).toFixed(1)}s] ${line}`);

  try {
    cluster.start();
    await cluster.waitUntilUp(60_000);
    t0 = Date.now();
    say(`${o.nodes} nodes up on ports ${port}..${port + o.nodes - 1} (data in ${dir})`);
    const stopAt = o.seconds * 1000;

    const clientRng = rng.fork('pick');
    const pick = () => {
      const up = ids.filter((id) => state.get(id) === 'up');
      if (up.length === 0) return undefined;
      const id = clientRng.pick(up);
      return { id, url: cluster.url(id) };
    };
    const copts: ChaosClientOptions = { keys, n, r, w, requestTimeoutMs, clientTimeoutMs, thinkMinMs: 5, thinkMaxMs: 60, token };
    const clients = Array.from({ length: o.clients }, (_, i) => new ChaosClient(`c${i + 1}`, pick, history, rng.fork(`client${i + 1}`), copts, now, (x) => observed.add(x)));

    // --- the nemesis: two tracks (node faults, network faults) that overlap now and then.
    const open = (i: Omit<FaultInterval, 'to'>) => {
      faultCounts[i.kind] = (faultCounts[i.kind] ?? 0) + 1;
      return faults.open(i);
    };
    const anyUp = () => ids.find((id) => state.get(id) === 'up');
    const inject = async (spec: Record<string, unknown>, kind: FaultInterval['kind'], nodes: string[], durationMs: number) => {
      const via = anyUp();
      if (!via) return;
      const from = now();
      try {
        const res = await json(cluster.url(via), '/admin/faults', token, { method: 'POST', body: { ...spec, durationMs } });
        if (res.status !== 201) {
          problems.push(`fault ${JSON.stringify(spec)} refused by ${via}: ${res.status} ${JSON.stringify(res.body)}`);
          return;
        }
      } catch (e) {
        say(`could not inject ${kind} via ${via}: ${(e as Error).message}`);
        return;
      }
      const interval = open({ kind, nodes, disruptive: true, from });
      interval.to = from + durationMs + 100;
      say(`${kind} ${JSON.stringify(spec)} for ${durationMs} ms`);
      await sleep(realEnv, durationMs);
    };

    // A quiet window in the middle of longer runs (no faults, or one node down throughout),
    // so the availability rule has writes to judge: Dynamo 4.6 says they must all succeed.
    const quiet = o.seconds >= 20 ? { from: Math.floor(stopAt * 0.4), to: Math.floor(stopAt * 0.4) + Math.min(15_000, Math.floor(stopAt * 0.25)) } : undefined;
    const quietDown = quiet && rng.fork('quiet').chance(0.5) ? rng.fork('quiet-node').pick(ids) : undefined;
    /** Waits out the quiet window if a fault starting now for `d` ms would overlap it; true if it waited. */
    const skipQuiet = async (d: number): Promise<boolean> => {
      if (!quiet) return false;
      const t = now();
      if (t >= quiet.to || t + d < quiet.from - 1000) return false;
      await sleep(realEnv, quiet.to - t + 500);
      return true;
    };
    const quietTrack = async () => {
      if (!quiet || !quietDown) return;
      await sleep(realEnv, Math.max(0, quiet.from - 1000 - now()));
      // The node track stays out of the window, but may still be ending a fault on this node.
      while (state.get(quietDown) !== 'up') await sleep(realEnv, 50);
      const interval = open({ kind: 'crash', nodes: [quietDown], disruptive: false, from: now() });
      state.set(quietDown, 'killed');
      await cluster.stopNode(quietDown, 'SIGKILL');
      say(`quiet window: ${quietDown} down (SIGKILL) until ${quiet.to + 500} ms`);
      await sleep(realEnv, Math.max(0, quiet.to + 500 - now()));
      cluster.startNode(quietDown);
      state.set(quietDown, 'up');
      interval.to = now();
      say(`quiet window over: restarted ${quietDown}`);
    };

    const nodeRng = rng.fork('nemesis-node');
    const nodeTrack = async () => {
      await sleep(realEnv, 1000 + nodeRng.int(2000));
      while (now() < stopAt - 2000) {
        const d = faultMinMs + nodeRng.int(faultMaxMs - faultMinMs);
        if (await skipQuiet(d)) continue;
        const kind = nodeRng.weighted<'kill' | 'kill2' | 'stop' | 'pause' | 'none'>([
          [40, 'kill'],
          [o.nodes >= 5 ? 10 : 0, 'kill2'],
          [25, 'stop'],
          [15, 'pause'],
          [10, 'none'],
        ]);
        const up = ids.filter((id) => state.get(id) === 'up' && id !== quietDown);
        if (up.length === 0) {
          await sleep(realEnv, d);
          continue;
        }
        if (kind === 'kill' || kind === 'kill2') {
          const victims = nodeRng.shuffle(up).slice(0, kind === 'kill2' ? 2 : 1);
          const interval = open({ kind: 'crash', nodes: victims, disruptive: false, from: now() });
          for (const v of victims) {
            state.set(v, 'killed');
            await cluster.stopNode(v, 'SIGKILL');
          }
          say(`SIGKILL ${victims.join(',')} for ${d} ms`);
          await sleep(realEnv, d);
          for (const v of victims) {
            cluster.startNode(v);
            state.set(v, 'up');
          }
          interval.to = now();
          say(`restarted ${victims.join(',')}`);
        } else if (kind === 'stop') {
          const v = nodeRng.pick(up);
          const interval = open({ kind: 'pause', nodes: [v], disruptive: true, from: now() });
          state.set(v, 'stopped');
          cluster.signal(v, 'SIGSTOP');
          say(`SIGSTOP ${v} for ${d} ms`);
          await sleep(realEnv, d);
          cluster.signal(v, 'SIGCONT');
          state.set(v, 'up');
          interval.to = now();
        } else if (kind === 'pause') {
          const v = nodeRng.pick(up);
          await inject({ kind: 'pause', node: v }, 'pause', [v], Math.min(d, 5000));
        } else {
          await sleep(realEnv, d);
        }
        await sleep(realEnv, gapMinMs + nodeRng.int(gapMaxMs - gapMinMs));
      }
    };

    const netRng = rng.fork('nemesis-net');
    const netTrack = async () => {
      await sleep(realEnv, 500 + netRng.int(3000));
      while (now() < stopAt - 2000) {
        const d = faultMinMs + netRng.int(faultMaxMs - faultMinMs);
        if (await skipQuiet(d)) continue;
        const kind = netRng.weighted<'split' | 'isolate' | 'oneway' | 'loss' | 'latency' | 'none'>([
          [25, 'split'],
          [20, 'isolate'],
          [15, 'oneway'],
          [15, 'loss'],
          [15, 'latency'],
          [10, 'none'],
        ]);
        if (kind === 'split') {
          const shuffled = netRng.shuffle(ids);
          const a = shuffled.slice(0, 1 + netRng.int(ids.length - 1));
          await inject({ kind: 'partition', from: a, oneWay: false }, 'split', ids, d);
        } else if (kind === 'isolate') {
          const x = netRng.pick(ids);
          await inject({ kind: 'partition', from: [x], oneWay: false }, 'isolate', [x], d);
        } else if (kind === 'oneway') {
          const [x, y] = netRng.shuffle(ids);
          await inject({ kind: 'partition', from: [x!], to: [y!], oneWay: true }, 'oneway', [x!, y!], d);
        } else if (kind === 'loss') {
          await inject({ kind: 'loss', probability: Math.round((0.05 + netRng.next() * 0.25) * 100) / 100 }, 'loss', ids, d);
        } else if (kind === 'latency') {
          await inject({ kind: 'latency', delayMs: 20 + netRng.int(200), jitterMs: netRng.int(200) }, 'latency', ids, d);
        } else {
          await sleep(realEnv, d);
        }
        await sleep(realEnv, gapMinMs + netRng.int(gapMaxMs - gapMinMs));
      }
    };

    const running = clients.map((c) => c.run(stopAt));
    if (quiet) say(`quiet window ${quiet.from}..${quiet.to} ms${quietDown ? ` with ${quietDown} down` : ''}`);
    await Promise.all([nodeTrack(), netTrack(), quietTrack()]);
    for (const c of clients) c.stopped = true;
    await Promise.all(running);

    // --- heal everything.
    const healAt = now();
    for (const id of ids) {
      if (state.get(id) === 'stopped') cluster.signal(id, 'SIGCONT');
      if (state.get(id) === 'killed') cluster.startNode(id);
      state.set(id, 'up');
    }
    for (const i of faults.intervals) if (i.to === Infinity || i.to > healAt) i.to = healAt;
    for (const id of ids) {
      // Processes that died without the nemesis killing them are crashes.
      if (!cluster.running().some((x) => x.id === id)) {
        problems.push(`${id} was not running at the end of the workload (an unexpected exit); restarted`);
        cluster.startNode(id);
      }
    }
    await cluster.waitUntilUp(60_000);
    for (const id of ids) await json(cluster.url(id), '/admin/faults', token, { method: 'DELETE' }).catch(() => undefined);
    say(`healed; ${history.ops.length} operations so far; waiting for convergence`);

    // --- wait for convergence: no hints, no transfers, every key's replicas identical.
    const snapshot = async (withValues: boolean): Promise<Map<string, ReplicasDoc>> => {
      const out = new Map<string, ReplicasDoc>();
      for (const key of keys) {
        const res = await json(cluster.url(ids[0]!), `/replicas/${encodeURIComponent(key)}${withValues ? '?values=1' : ''}`, token, {}, 10_000);
        if (res.status !== 200) throw new Error(`/replicas/${key}: ${res.status}`);
        out.set(key, res.body as ReplicasDoc);
      }
      return out;
    };
    const whyNotConverged = async (): Promise<string[]> => {
      const why: string[] = [];
      for (const id of ids) {
        try {
          const s = (await json(cluster.url(id), '/status', token)).body as { hintsPending: number; transfers: { pending: unknown[] }; members: { id: string; status: string }[] };
          if (s.hintsPending > 0) why.push(`${id} holds ${s.hintsPending} hints`);
          if (s.transfers.pending.length > 0) why.push(`${id} sees ${s.transfers.pending.length} transfers pending`);
          const notUp = s.members.filter((m) => m.status !== 'up').map((m) => `${m.id}:${m.status}`);
          if (notUp.length > 0) why.push(`${id} sees ${notUp.join(' ')}`);
        } catch (e) {
          why.push(`${id}: /status failed: ${(e as Error).message}`);
        }
      }
      if (why.length > 0) return why;
      for (const [key, doc] of await snapshot(false)) {
        const sets = doc.replicas.map((x) => (x.reachable ? x.versions.map((v) => v.version).sort().join(' ') : '(unreachable)'));
        if (new Set(sets).size > 1) why.push(`${key}: replicas differ (${doc.replicas.map((x, i) => `${x.node}=[${sets[i]}]`).join(' ')})`);
      }
      return why;
    };
    let convergedAfterMs: number | undefined;
    let lastWhy: string[] = [];
    for (let i = 0; i < Math.ceil(o.convergeTimeoutMs / pollMs); i++) {
      lastWhy = await whyNotConverged();
      if (lastWhy.length === 0) {
        convergedAfterMs = now() - healAt;
        break;
      }
      await sleep(realEnv, pollMs);
    }
    const convergenceProblems = convergedAfterMs === undefined ? [`after ${o.convergeTimeoutMs} ms: ${lastWhy.slice(0, 10).join('; ')}`] : [];
    say(convergedAfterMs === undefined ? `not converged: ${lastWhy.slice(0, 3).join('; ')}` : `converged ${convergedAfterMs} ms after healing`);

    if (o.sabotage === 'overwrite') {
      const saboteur = new GyreClient({ url: cluster.url(ids[0]!), token, keepAlive: false });
      for (const key of keys) {
        // A failed sabotage write is only a weaker sabotage: the run goes on either way.
        const got = await saboteur.get(key).catch(() => undefined);
        await saboteur.put(key, 'sabotage', { context: got?.context, w: n }).catch(() => undefined);
      }
      say('sabotage: every key overwritten by a client outside the history');
    }

    // --- the final state, the final reads (r=N from every node), the state again.
    const toFinal = (snap: Map<string, ReplicasDoc>, at: number): FinalKey[] =>
      [...snap].map(([key, doc]) => ({
        key,
        pref: doc.preferenceList,
        replicas: doc.replicas.map((rep) => ({
          node: rep.node,
          left: false,
          hints: [],
          reaped: undefined,
          data: rep.versions.map((v): VersionSeen => {
            const value = Buffer.from(v.value ?? '', 'base64');
            observed.add({ key, dot: v.version, deleted: v.deleted, contentType: v.contentType, value, context: v.context, at, node: rep.node });
            return { dot: v.version, writeId: writerOf({ deleted: v.deleted, contentType: v.contentType, value }), deleted: v.deleted };
          }),
        })),
      }));
    const final = toFinal(await snapshot(true), now());
    const reader = new ChaosClient('final', () => undefined, history, rng.fork('final'), copts, now, (x) => observed.add(x));
    for (const key of keys) for (const id of ids) await reader.read(key, n, true, { id, url: cluster.url(id) });
    reader.close();
    const atFinalReads = toFinal(await snapshot(true), now());
    for (const c of clients) c.close();

    // Tombstones seen only in a 404 carry no writer: name it from any other sighting, or else
    // from the deletes whose answer never came back (so whose version id is unknown): the one
    // whose coordinator made the tombstone's actor, when that singles one out.
    const unidentified = identifyTombstones(history, observed);
    if (unidentified.size > 0) say(`tombstones whose delete could not be named, on ${unidentified.size} key(s): ${[...unidentified].join(', ')}`);
    for (const m of observed.malformed) problems.push(`malformed version id ${m}`);

    // Errors the nodes logged (level 50+) are bugs: nothing a peer or client does should cause one.
    for (const x of cluster.nodes) {
      if (!existsSync(x.log)) continue;
      for (const line of readFileSync(x.log, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { level?: number; msg?: string; err?: string };
          if ((entry.level ?? 0) >= 50) problems.push(`${x.id} logged an error: ${entry.msg ?? ''} ${entry.err ?? ''}`.trim());
        } catch {
          // a line torn by SIGKILL
        }
      }
    }

    const stats: CheckStats = { availabilityJudged: 0, ackedWrites: 0, superseded: 0 };
    const violations = check(
      {
        history,
        oracle: observed,
        faults,
        final,
        atFinalReads,
        n,
        formedAt: 0,
        stableMs,
        clientTimeoutMs,
        convergenceProblems,
        errors: [],
        unhandled: problems,
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
        faults: faultCounts,
        convergedAfterMs,
        unidentifiedKeys: unidentified.size,
        check: stats,
        wallMs: performance.now() - started,
      },
      dir: o.keep ? dir : undefined,
    };
  } finally {
    await cluster.stop().catch(() => undefined);
    if (!o.keep) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}
