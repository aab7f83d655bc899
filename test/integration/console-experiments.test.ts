// Console experiments (issue 14) on a real local cluster: a scenario of faults under the
// recording workload ends with the checker's verdict; a client outside the history writing to
// the run's keys makes it fail, naming the rule; runs and scenarios survive a reopen; a
// scheduled scenario fires when due. The host is the test's, over the nodes' real admin fault
// API and the supervisor's kill and restart: the same interface backend.ts implements.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, freePortRange } from '../../node-core/src/cli/supervisor.js';
import { type ExperimentHost, Experiments, type RunRecord } from '../../electron/backend/experiments.js';
import { experimentKeys } from '../../electron/backend/scenario.js';
import { bearer, httpRequest, jsonBody } from '../helpers/cluster.js';

const root = mkdtempSync(join(tmpdir(), 'gyre-console-experiments-'));
const token = 'experiments-test-token';
const dbPath = join(root, 'experiments.db');
let cluster: LocalCluster;
/** Every fault body the host was asked to inject, in order. */
const injected: Record<string, unknown>[] = [];

before(async () => {
  const port = await freePortRange(3);
  cluster = LocalCluster.create({ dir: join(root, 'cluster'), nodes: 3, port, token, nodeArgs: ['--partitions', '32'] });
  cluster.start();
  await cluster.waitUntilUp(30_000);
});

after(async () => {
  await cluster.stop().catch(() => undefined);
  if (process.env.GYRE_IT_KEEP === '1') console.error(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
});

const host: ExperimentHost = {
  urls: () => cluster.urls(),
  token: () => token,
  ca: () => undefined,
  local: () => true,
  nodeIds: () => cluster.nodes.map((n) => n.id),
  async injectFault(spec) {
    injected.push(spec);
    for (const url of cluster.urls()) {
      const res = await httpRequest(url, 'POST', '/admin/faults', { headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(spec) }).catch(() => undefined);
      if (res?.status === 201) return { id: (jsonBody(res) as { fault: { id: string } }).fault.id };
      if (res) throw new Error(`fault refused: ${res.status} ${res.body.toString('utf8')}`);
    }
    throw new Error('no node took the fault');
  },
  async healFaults() {
    for (const url of cluster.urls()) await httpRequest(url, 'DELETE', '/admin/faults', { headers: bearer(token) }).catch(() => undefined);
  },
  killNode: (id) => cluster.stopNode(id, 'SIGKILL'),
  restartNode: async (id) => {
    cluster.startNode(id);
  },
};

const scenario = {
  name: 'partition then pause',
  workload: { enabled: true, ratePerSecond: 100, keys: 12, getRatio: 0.5 },
  steps: [
    { atMs: 500, durationMs: 3000, fault: { kind: 'partition', sides: [['n1'], ['n2', 'n3']] } },
    { atMs: 4000, durationMs: 1500, fault: { kind: 'pause', node: 'n3' } },
  ],
  settleMs: 15_000,
};

/** Polls until the run ended (bounded), and returns its record. */
async function verdictOf(x: Experiments, runId: string, timeoutMs = 60_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await x.getRun(runId);
    if (r && r.state !== 'running') return r;
    if (Date.now() > deadline) throw new Error(`run ${runId} had no verdict after ${timeoutMs} ms: ${JSON.stringify(r?.steps.slice(-5))}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function show(r: RunRecord): string {
  return [`state ${r.state} ${r.error ?? ''}`, ...r.steps.map((s) => `  ${s.at} ${s.what}`), ...(r.verdict?.violations ?? []).map((v) => `  ${v.rule} ${v.key ?? ''}: ${v.message}`)].join('\n');
}

let passedRunId = '';
let failedRunId = '';
let scenarioId = '';

test('experiments: a partition then a pause under 100 ops/s: the checker passes it, writes acknowledged and none lost; a second run at once is refused', async () => {
  const x = await Experiments.open(dbPath, host);
  try {
    const saved = await x.saveScenario(scenario);
    scenarioId = saved.scenario.id;
    const progress: string[] = [];
    const off = x.onProgress((p) => progress.push(p.what));
    const runId = await x.run(scenarioId);
    await assert.rejects(x.run(scenarioId), /still going/);
    const r = await verdictOf(x, runId);
    off();
    passedRunId = runId;
    assert.equal(r.state, 'passed', show(r));
    assert.ok(r.verdict && r.verdict.ok, show(r));
    assert.ok(r.verdict.acknowledgedWrites > 0, `acknowledged ${r.verdict.acknowledgedWrites}\n${show(r)}`);
    assert.equal(r.verdict.lostWrites, 0);
    assert.equal(r.verdict.divergence, false);
    assert.ok(r.verdict.availability.attempted > 100 && r.verdict.availability.ok > 0, JSON.stringify(r.verdict.availability));
    assert.ok(r.verdict.durationMs > 5500, `the run lasted at least its steps: ${r.verdict.durationMs}`);
    // Each step went through the node's fault API as the fault's own duration.
    assert.deepEqual(injected.slice(-2), [
      { kind: 'partition', from: ['n1'], to: ['n2', 'n3'], oneWay: false, durationMs: 3000 },
      { kind: 'pause', node: 'n3', durationMs: 1500 },
    ]);
    assert.ok(progress.some((l) => l.startsWith('verdict: passed')), progress.join('\n'));
    // Only the run's own keys were written.
    const res = await httpRequest(cluster.url('n1'), 'GET', `/kv/${experimentKeys(runId, 1)[0]}`, { headers: bearer(token) });
    assert.ok([200, 300, 404].includes(res.status));
  } finally {
    await x.close();
  }
});

test('experiments: a client outside the history writing to the run\'s keys during the run fails the verdict, naming the rule (phantom)', async () => {
  const x = await Experiments.open(dbPath, host);
  try {
    const runId = await x.run(scenarioId);
    const keys = experimentKeys(runId, scenario.workload.keys);
    // The saboteur: blind writes (no context) to the run's keys, while the workload runs.
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 700));
      for (const key of keys.slice(0, 4)) await httpRequest(cluster.url('n2'), 'PUT', `/kv/${key}`, { headers: { ...bearer(token), 'content-type': 'text/plain' }, body: `sabotage-${round}` }).catch(() => undefined);
    }
    const r = await verdictOf(x, runId);
    failedRunId = runId;
    assert.equal(r.state, 'failed', show(r));
    assert.ok(r.verdict && !r.verdict.ok);
    assert.ok((r.verdict.violationCounts.phantom ?? 0) > 0, `expected phantom among ${JSON.stringify(r.verdict.violationCounts)}\n${show(r)}`);
    assert.ok(r.verdict.violations.some((v) => v.rule === 'phantom' && v.key !== null && keys.includes(v.key)), 'the violation names one of the run\'s keys');
  } finally {
    await x.close();
  }
});

test('experiments: scenarios and runs (verdicts and logs) are kept across a reopen; a deleted scenario is gone', async () => {
  const x = await Experiments.open(dbPath, host);
  try {
    const runs = await x.listRuns({ limit: 10 });
    const ids = runs.map((r) => r.id);
    assert.ok(ids.includes(passedRunId) && ids.includes(failedRunId), ids.join(' '));
    assert.ok(ids.indexOf(failedRunId) < ids.indexOf(passedRunId), 'the latest first');
    const passed = (await x.getRun(passedRunId))!;
    assert.equal(passed.state, 'passed');
    assert.ok(passed.verdict!.acknowledgedWrites > 0);
    assert.ok(passed.steps.length > 3 && passed.endedAt! >= passed.startedAt);
    assert.equal((await x.getRun(failedRunId))!.state, 'failed');
    assert.equal((await x.listRuns({ limit: 1 })).length, 1);
    const listed = await x.listScenarios();
    assert.deepEqual(listed.map((s) => s.scenario.name), [scenario.name]);
    assert.deepEqual(listed[0]!.scenario.steps[0]!.fault, { kind: 'partition', sides: [['n1'], ['n2', 'n3']], oneWay: false });
    await assert.rejects(x.saveScenario({ ...scenario, steps: [] }), /steps/);
    await assert.rejects(x.run('no-such-scenario'), /no scenario/);
    await x.deleteScenario(scenarioId);
    assert.deepEqual(await x.listScenarios(), []);
  } finally {
    await x.close();
  }
});

test('experiments: a scheduled scenario runs when its persisted time comes (the clock moved on past everyMinutes), and its next time moves on', async () => {
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const quick = { name: 'scheduled latency', workload: { enabled: false, ratePerSecond: 1, keys: 1, getRatio: 0 }, steps: [{ atMs: 0, durationMs: 300, fault: { kind: 'latency', nodes: ['n1'], delayMs: 5 } }], settleMs: 5000, schedule: { everyMinutes: 5 } };
  const first = await Experiments.open(dbPath, host, { now, tickMs: 100 });
  const saved = await first.saveScenario(quick);
  assert.ok(saved.nextRunAt !== null && saved.nextRunAt >= now() + 5 * 60_000 - 1000);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal((await first.listRuns()).filter((r) => r.scenarioId === saved.scenario.id).length, 0, 'not due yet: no run');
  await first.close();
  // The schedule is in the file: a reopened console runs it once the time has come.
  offsetMs = 5 * 60_000 + 1000;
  const x = await Experiments.open(dbPath, host, { now, tickMs: 100 });
  try {
    const deadline = Date.now() + 30_000;
    let run: RunRecord | undefined;
    while (!run || run.state === 'running') {
      if (Date.now() > deadline) throw new Error(`the scheduled run did not end: ${JSON.stringify(run)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      run = (await x.listRuns()).find((r) => r.scenarioId === saved.scenario.id);
    }
    assert.equal(run.state, 'passed', show(run));
    assert.equal(run.verdict!.acknowledgedWrites, 0, 'workload off: nothing recorded');
    const again = (await x.listScenarios()).find((s) => s.scenario.id === saved.scenario.id)!;
    assert.ok(again.nextRunAt! > saved.nextRunAt!, 'the next run moved on');
    assert.equal((await x.listRuns()).filter((r) => r.scenarioId === saved.scenario.id).length, 1, 'once, not at every tick');
  } finally {
    await x.close();
  }
});

/** The pid of node `id` as the supervisor knows it now (undefined: not running). */
const pidOf = (id: string) => (cluster.running().some((n) => n.id === id) ? cluster.nodes.find((n) => n.id === id)?.pid : undefined);

test('experiments: a kill step SIGKILLs the node under the workload and restarts it after its duration; nothing acknowledged is lost', async () => {
  const x = await Experiments.open(dbPath, host);
  try {
    const before = pidOf('n3');
    assert.ok(before !== undefined, 'n3 runs before the run');
    const saved = await x.saveScenario({ name: 'kill n3', workload: { enabled: true, ratePerSecond: 60, keys: 8, getRatio: 0.5 }, steps: [{ atMs: 500, durationMs: 2500, fault: { kind: 'kill', node: 'n3' } }], settleMs: 15_000 });
    const runId = await x.run(saved.scenario.id);
    let seenDown = false;
    for (let i = 0; i < 40 && !seenDown; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seenDown = pidOf('n3') === undefined;
    }
    assert.ok(seenDown, 'n3 was stopped during the step');
    const r = await verdictOf(x, runId);
    assert.equal(r.state, 'passed', show(r));
    assert.ok(r.verdict!.acknowledgedWrites > 0 && r.verdict!.lostWrites === 0, show(r));
    assert.ok(r.steps.some((s) => s.what === 'killed n3 for 2500 ms') && r.steps.some((s) => s.what === 'restarted n3'), show(r));
    const after = pidOf('n3');
    assert.ok(after !== undefined && after !== before, `n3 runs again as a new process (${before} then ${after})`);
    await cluster.waitUntilUp(30_000);
  } finally {
    await x.close();
  }
});

test('experiments: stopping a run in its long fault ends it at once with no verdict, its faults healed on the nodes', async () => {
  const x = await Experiments.open(dbPath, host);
  try {
    const saved = await x.saveScenario({ name: 'long latency', workload: { enabled: true, ratePerSecond: 40, keys: 4, getRatio: 0.5 }, steps: [{ atMs: 0, durationMs: 120_000, fault: { kind: 'latency', nodes: ['n2'], delayMs: 20 } }], settleMs: 10_000 });
    const runId = await x.run(saved.scenario.id);
    const faultsNow = async () => (jsonBody(await httpRequest(cluster.url('n1'), 'GET', '/admin/faults', { headers: bearer(token) })) as { faults: unknown[] }).faults.length;
    const deadline = Date.now() + 10_000;
    while ((await faultsNow()) === 0) {
      if (Date.now() > deadline) throw new Error('the step\'s fault never reached the nodes');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const asked = Date.now();
    await x.stop(runId);
    const tookMs = Date.now() - asked;
    assert.ok(tookMs < 10_000, `stopped within 10 s of a 120 s step (${tookMs} ms)`);
    const r = (await x.getRun(runId))!;
    assert.equal(r.state, 'stopped', show(r));
    assert.equal(r.verdict, null);
    assert.ok(r.endedAt !== null);
    assert.equal(await faultsNow(), 0, 'the fault was healed on the nodes');
    await assert.rejects(x.stop(runId), /is not running/);
    // Another run may start at once.
    const next = await x.run(saved.scenario.id);
    await x.stop(next);
  } finally {
    await x.close();
  }
});
