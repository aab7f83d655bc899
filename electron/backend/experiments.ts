// Experiments with a verdict (issue 14): the console runs a saved scenario of faults against
// the attached cluster, with the chaos run's recording workload on its own keys, and ends each
// run with the consistency checker's verdict (node-core/src/verify/checker.ts) on that
// workload's history, kept in a run history.
//
// Design.
// - Scenario (scenario.ts, validated at the boundary, everything bounded):
//     {id?, name (1..100 chars), workload: {enabled, ratePerSecond 1..2000, keys 1..10000, getRatio 0..1},
//      steps: Step[] (1..50), settleMs (default 10000, max 120000), schedule: null | {everyMinutes: 5..10080}}
//     Step = {atMs 0..3600000, durationMs 100..600000, fault}, fault one of
//       {kind: 'partition', sides: [ids, ids], oneWay?}  -> POST /admin/faults {kind: 'partition', from: sides[0], to: sides[1], oneWay, durationMs}
//       {kind: 'latency', nodes, delayMs, jitterMs?}      -> {kind: 'latency', nodes, delayMs, jitterMs, durationMs}
//       {kind: 'loss', nodes, probability}                -> {kind: 'loss', nodes, probability, durationMs}
//       {kind: 'pause', node}  (durationMs <= 120 s)      -> {kind: 'pause', node, durationMs}
//       {kind: 'kill', node}   (local clusters only)      -> host.killNode (SIGKILL), host.restartNode after durationMs
//     The node lifts each injected fault by itself after durationMs (its own timer), so a
//     console that dies mid-run leaves nothing behind for longer than the step.
// - Runner (experiment-run.ts): one run at a time (a second is refused); the workload is the
//   chaos run's recording client (verify/recorder.ts) over the HTTP API, on keys
//   `exp-<runId>-<i>`, so the verdict covers only those; at ratePerSecond operations a second
//   spread over up to 32 clients, with gets getRatio of the mix (the rest the chaos run's
//   writes: put with context, blind put, read-modify-write, delete). It stops when the last
//   step ends; then everything is healed, the cluster gets settleMs to converge (the poll ends
//   as soon as it has), every touched key is read from every replica (/replicas?values=1) and
//   with r=N from every node, and the checker judges. A write by anyone else to those keys is
//   a version no recorded write made: the checker calls it a phantom (and whatever else it breaks).
// - Run record: {id, scenarioId, scenarioName, startedAt, endedAt, state: running | passed |
//   failed | error | stopped, verdict (verdict.ts) | null, steps: [{at, what}] (at: ms since the
//   run started), error?}. Runs left 'running' by a console that died are marked 'error' on open.
// - Persistence: SQLite through `sqlite3` (as profiles.ts), tables `scenarios` (the checked
//   spec as JSON, its next run time) and `runs`; at most scenariosMax scenarios and
//   runsKeptMax runs (the oldest go).
// - Scheduling: an unref'd timer looks every tickMs for a scheduled scenario whose persisted
//   next run time has come, moves that time on by everyMinutes first (a run that fails does
//   not fire again at once), and runs it unless a run is going; the clock and the length of a
//   minute are options, so tests need not wait minutes.

import sqlite3 from 'sqlite3';
import { chmodSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { ExperimentRun, type ExperimentHost } from './experiment-run.js';
import { type Scenario, type ScenarioSpec, checkScenario, nextRunAt } from './scenario.js';
import type { Verdict } from './verdict.js';

export type { ExperimentHost } from './experiment-run.js';

export type RunState = 'running' | 'passed' | 'failed' | 'error' | 'stopped';

export interface RunRecord {
  readonly id: string;
  readonly scenarioId: string;
  readonly scenarioName: string;
  /** Wall-clock ms (the options' clock). */
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly state: RunState;
  readonly verdict: Verdict | null;
  /** What the run did, `at` in ms since it started. */
  readonly steps: readonly { readonly at: number; readonly what: string }[];
  readonly error?: string;
}

export interface SavedScenario {
  readonly scenario: Scenario;
  /** When it runs next (wall-clock ms), if scheduled. */
  readonly nextRunAt: number | null;
}

export interface ExperimentProgress {
  readonly runId: string;
  readonly scenarioId: string;
  readonly state: RunState;
  /** ms since the run started. */
  readonly at: number;
  readonly what: string;
}

export interface ExperimentsOptions {
  /** The wall clock (ms) for run times and schedules. */
  readonly now?: () => number;
  /** How often the scheduler looks for a due scenario. */
  readonly tickMs?: number;
  /** A schedule's minute, in ms (tests shorten it). */
  readonly minuteMs?: number;
}

export const scenariosMax = 200;
export const runsKeptMax = 500;
/** Lines of a run's steps log kept (the verdict's line is always the last). */
export const runLogLinesMax = 400;
const runLogLineCharsMax = 500;
const tickMsDefault = 15_000;
const msPerMinute = 60_000;
const listLimitMax = 1000;
const runIdBytes = 6;

function exec(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (e) => (e ? reject(e) : resolve())));
}

function all<T>(db: sqlite3.Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => db.all(sql, params, (e, rows) => (e ? reject(e) : resolve(rows as T[]))));
}

interface ScenarioRow {
  id: string;
  spec: string;
  next_run_at: number | null;
}

interface RunRow {
  id: string;
  scenario_id: string;
  scenario_name: string;
  started_at: number;
  ended_at: number | null;
  state: string;
  verdict: string | null;
  steps: string;
  error: string | null;
}

const runStates: readonly RunState[] = ['running', 'passed', 'failed', 'error', 'stopped'];

/** A stored row back into a record; a row the console did not write reads as an error, never a crash. */
function runOf(r: RunRow): RunRecord {
  let verdict: Verdict | null = null;
  let steps: RunRecord['steps'] = [];
  let error = r.error ?? undefined;
  try {
    verdict = r.verdict === null ? null : (JSON.parse(r.verdict) as Verdict);
    const parsed = JSON.parse(r.steps) as unknown;
    steps = Array.isArray(parsed) ? (parsed as RunRecord['steps']) : [];
  } catch {
    error = 'this run record is damaged';
  }
  const state = runStates.includes(r.state as RunState) ? (r.state as RunState) : 'error';
  return { id: r.id, scenarioId: r.scenario_id, scenarioName: r.scenario_name, startedAt: r.started_at, endedAt: r.ended_at, state, verdict, steps, ...(error !== undefined ? { error } : {}) };
}

interface Current {
  readonly run: ExperimentRun;
  record: RunRecord;
  readonly done: Promise<void>;
}

export class Experiments {
  private current: Current | undefined;
  private readonly listeners = new Set<(p: ExperimentProgress) => void>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private readonly now: () => number;
  private readonly minuteMs: number;

  private constructor(
    private readonly db: sqlite3.Database,
    private readonly host: ExperimentHost,
    opts: ExperimentsOptions,
  ) {
    this.now = opts.now ?? (() => Date.now());
    this.minuteMs = opts.minuteMs ?? msPerMinute;
    this.timer = setInterval(() => void this.tick().catch(() => undefined), opts.tickMs ?? tickMsDefault);
    this.timer.unref();
  }

  static async open(dbPath: string, host: ExperimentHost, opts: ExperimentsOptions = {}): Promise<Experiments> {
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d = new sqlite3.Database(dbPath, (e) => (e ? reject(e) : resolve(d)));
    });
    await exec(db, 'PRAGMA journal_mode = WAL');
    await exec(db, 'CREATE TABLE IF NOT EXISTS scenarios (id TEXT PRIMARY KEY, name TEXT NOT NULL, spec TEXT NOT NULL, next_run_at INTEGER, updated INTEGER NOT NULL)');
    await exec(db, 'CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, scenario_id TEXT NOT NULL, scenario_name TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER, state TEXT NOT NULL, verdict TEXT, steps TEXT NOT NULL, error TEXT)');
    await exec(db, 'CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)');
    chmodSync(dbPath, 0o600);
    const x = new Experiments(db, host, opts);
    // A run the console was in the middle of when it stopped has no verdict, and never will.
    await exec(db, "UPDATE runs SET state = 'error', ended_at = COALESCE(ended_at, ?), error = 'the console stopped during the run' WHERE state = 'running'", [x.now()]);
    return x;
  }

  /** Validates and saves (an id updates that scenario); a new or changed schedule is due everyMinutes from now. */
  async saveScenario(spec: unknown): Promise<SavedScenario> {
    const checked: ScenarioSpec = checkScenario(spec);
    const id = checked.id ?? randomUUID();
    const scenario: Scenario = { ...checked, id };
    const existing = await this.savedScenario(id);
    if (!existing && (await all<{ n: number }>(this.db, 'SELECT COUNT(*) AS n FROM scenarios'))[0]!.n >= scenariosMax) throw new Error(`at most ${scenariosMax} scenarios`);
    const sameSchedule = existing !== undefined && JSON.stringify(existing.scenario.schedule) === JSON.stringify(scenario.schedule);
    const next = sameSchedule ? existing.nextRunAt : nextRunAt(scenario.schedule, this.now(), this.minuteMs);
    await exec(this.db, 'INSERT INTO scenarios (id, name, spec, next_run_at, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, spec = excluded.spec, next_run_at = excluded.next_run_at, updated = excluded.updated', [id, scenario.name, JSON.stringify(scenario), next, this.now()]);
    return { scenario, nextRunAt: next };
  }

  private savedOf(r: ScenarioRow): SavedScenario | undefined {
    try {
      // Read back through the same check as from the renderer: the file is outside input too.
      const s = checkScenario(JSON.parse(r.spec));
      return { scenario: { ...s, id: r.id }, nextRunAt: r.next_run_at };
    } catch {
      return undefined;
    }
  }

  private async savedScenario(id: string): Promise<SavedScenario | undefined> {
    const rows = await all<ScenarioRow>(this.db, 'SELECT id, spec, next_run_at FROM scenarios WHERE id = ?', [id]);
    return rows[0] ? this.savedOf(rows[0]) : undefined;
  }

  async listScenarios(): Promise<SavedScenario[]> {
    const rows = await all<ScenarioRow>(this.db, 'SELECT id, spec, next_run_at FROM scenarios ORDER BY name, id');
    return rows.map((r) => this.savedOf(r)).filter((s): s is SavedScenario => s !== undefined);
  }

  async deleteScenario(id: string): Promise<void> {
    await exec(this.db, 'DELETE FROM scenarios WHERE id = ?', [id]);
  }

  /** Starts a run of scenario `id` and returns its id; the verdict comes later (getRun, onProgress). */
  async run(id: string): Promise<string> {
    if (this.closed) throw new Error('the experiments are closed');
    if (this.current) throw new Error(`experiment run ${this.current.record.id} (${this.current.record.scenarioName}) is still going: stop it or wait for its verdict`);
    const saved = await this.savedScenario(id);
    if (!saved) throw new Error(`no scenario ${id}`);
    // Checked again after the await: two calls in the same turn must not both start.
    if (this.current) throw new Error('another experiment run has just started');
    return this.start(saved.scenario);
  }

  private start(scenario: Scenario): string {
    const runId = randomBytes(runIdBytes).toString('hex');
    const record: RunRecord = { id: runId, scenarioId: scenario.id, scenarioName: scenario.name, startedAt: this.now(), endedAt: null, state: 'running', verdict: null, steps: [] };
    const log: { at: number; what: string }[] = [];
    const run = new ExperimentRun(runId, scenario, this.host, (what) => {
      const line = { at: run.now(), what: what.slice(0, runLogLineCharsMax) };
      if (log.length >= runLogLinesMax) log.splice(runLogLinesMax - 1, 1);
      log.push(line);
      this.emit({ runId, scenarioId: scenario.id, state: 'running', ...line });
    });
    const done = (async () => {
      // The first write is the run's trace if the console dies mid-run (open() marks it an error).
      const started = await this.persist({ ...record, steps: log }).then(() => undefined, (e: Error) => e.message);
      const outcome = started === undefined ? await run.execute() : { state: 'error' as const, verdict: null, error: `could not record the run: ${started}` };
      const final: RunRecord = { ...record, endedAt: this.now(), state: outcome.state, verdict: outcome.verdict, steps: [...log], ...(outcome.error !== undefined ? { error: outcome.error } : {}) };
      await this.persist(final).catch(() => undefined);
      this.current = undefined;
      this.emit({ runId, scenarioId: scenario.id, state: final.state, at: run.now(), what: outcome.error ?? `run ${final.state}` });
    })();
    this.current = { run, record: { ...record, steps: log }, done };
    return runId;
  }

  private async persist(r: RunRecord): Promise<void> {
    await exec(this.db, 'INSERT INTO runs (id, scenario_id, scenario_name, started_at, ended_at, state, verdict, steps, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET ended_at = excluded.ended_at, state = excluded.state, verdict = excluded.verdict, steps = excluded.steps, error = excluded.error', [
      r.id,
      r.scenarioId,
      r.scenarioName,
      r.startedAt,
      r.endedAt,
      r.state,
      r.verdict === null ? null : JSON.stringify(r.verdict),
      JSON.stringify(r.steps),
      r.error ?? null,
    ]);
    await exec(this.db, 'DELETE FROM runs WHERE id IN (SELECT id FROM runs ORDER BY started_at DESC, id LIMIT -1 OFFSET ?)', [runsKeptMax]);
  }

  /** Stops run `runId` (faults are healed, no verdict) and resolves once it ended. */
  async stop(runId: string): Promise<void> {
    const c = this.current;
    if (!c || c.record.id !== runId) throw new Error(`experiment run ${runId} is not running`);
    c.run.stop();
    await c.done;
  }

  /** The latest runs first. */
  async listRuns({ limit = 50 }: { limit?: number } = {}): Promise<RunRecord[]> {
    const n = Number.isInteger(limit) && limit > 0 ? Math.min(limit, listLimitMax) : 50;
    const rows = await all<RunRow>(this.db, 'SELECT * FROM runs ORDER BY started_at DESC, id LIMIT ?', [n]);
    return rows.map((r) => (this.current?.record.id === r.id ? this.current.record : runOf(r)));
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    if (this.current?.record.id === id) return { ...this.current.record, steps: [...this.current.record.steps] };
    const rows = await all<RunRow>(this.db, 'SELECT * FROM runs WHERE id = ?', [id]);
    return rows[0] ? runOf(rows[0]) : undefined;
  }

  /** Told of each line of a run's log and of its end; returns the unsubscribe. */
  onProgress(listener: (p: ExperimentProgress) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(p: ExperimentProgress): void {
    for (const l of this.listeners) {
      try {
        l(p);
      } catch {
        // A listener's failure is its own: the run goes on.
      }
    }
  }

  /** Runs the scheduled scenario that is most overdue, if no run is going. */
  private async tick(): Promise<void> {
    if (this.closed || this.current) return;
    const now = this.now();
    const due = await all<ScenarioRow>(this.db, 'SELECT id, spec, next_run_at FROM scenarios WHERE next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at LIMIT 1', [now]);
    const saved = due[0] ? this.savedOf(due[0]) : undefined;
    if (!saved) return;
    // Moved on before the run: a run that errors must not fire again at the next tick.
    await exec(this.db, 'UPDATE scenarios SET next_run_at = ? WHERE id = ?', [nextRunAt(saved.scenario.schedule, now, this.minuteMs), saved.scenario.id]);
    if (this.closed || this.current) return;
    this.start(saved.scenario);
  }

  /** Stops the scheduler and any run (healed, no verdict), then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const c = this.current;
    if (c) {
      c.run.stop();
      await c.done;
    }
    await new Promise<void>((resolve) => this.db.close(() => resolve()));
  }
}
