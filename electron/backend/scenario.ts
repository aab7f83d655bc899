// An experiment's scenario (issue 14), as plain data and pure functions: what the operator
// saves (fault steps on a timeline, the recording workload, how long to let the cluster
// settle, a schedule), validated once where it comes in (the renderer, a saved row), and
// how each step maps onto the nodes' own fault API (POST /admin/faults, core/faults.ts).
// experiments.ts runs it; nothing here does I/O or reads the clock.
//
//   {id?, name (1..100 chars), workload: {enabled, ratePerSecond 1..2000, keys 1..10000, getRatio 0..1},
//    steps: Step[] (1..50), settleMs (default 10000, 0..120000), schedule: null | {everyMinutes 5..10080}}
//   Step = {atMs 0..3600000 (from the run's start), durationMs 100..600000, fault}
//   fault = {kind: 'partition', sides: [ids, ids], oneWay?} | {kind: 'latency', nodes, delayMs, jitterMs?}
//         | {kind: 'loss', nodes, probability} | {kind: 'pause', node} (at most 120 s: the node's limit)
//         | {kind: 'kill', node} (SIGKILL, restarted after durationMs; local clusters only)

import { faultNodesMax, latencyMaxMs, pauseDurationMaxMs } from '../../node-core/src/core/faults.js';
import { isValidNodeId } from '../../node-core/src/core/ids.js';

export const scenarioNameCharsMax = 100;
export const scenarioIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
export const workloadRatePerSecondMax = 2000;
export const workloadKeysMax = 10_000;
export const stepsMax = 50;
export const stepAtMsMax = 3_600_000;
export const stepDurationMsMin = 100;
export const stepDurationMsMax = 600_000;
export const settleMsDefault = 10_000;
export const settleMsMax = 120_000;
export const scheduleEveryMinutesMin = 5;
export const scheduleEveryMinutesMax = 10_080;
const msPerMinute = 60_000;

export interface WorkloadSettings {
  readonly enabled: boolean;
  readonly ratePerSecond: number;
  readonly keys: number;
  readonly getRatio: number;
}

export type StepFault =
  | { readonly kind: 'partition'; readonly sides: readonly [readonly string[], readonly string[]]; readonly oneWay: boolean }
  | { readonly kind: 'latency'; readonly nodes: readonly string[]; readonly delayMs: number; readonly jitterMs: number }
  | { readonly kind: 'loss'; readonly nodes: readonly string[]; readonly probability: number }
  | { readonly kind: 'pause'; readonly node: string }
  | { readonly kind: 'kill'; readonly node: string };

export interface Step {
  readonly atMs: number;
  readonly durationMs: number;
  readonly fault: StepFault;
}

export interface Schedule {
  readonly everyMinutes: number;
}

export interface ScenarioSpec {
  readonly id?: string;
  readonly name: string;
  readonly workload: WorkloadSettings;
  readonly steps: readonly Step[];
  readonly settleMs: number;
  readonly schedule: Schedule | null;
}

/** A saved scenario always has its id. */
export type Scenario = ScenarioSpec & { readonly id: string };

/** What a scenario was refused for: one sentence naming the field (`steps[2].fault.node`). */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

type Obj = Record<string, unknown>;

function object(raw: unknown, where: string, fields: readonly string[]): Obj {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ScenarioError(`${where} must be an object`);
  // Unknown fields are refused, not dropped: a misspelt "durationMS" must not silently become a default.
  const extra = Object.keys(raw).find((k) => !fields.includes(k));
  if (extra !== undefined) throw new ScenarioError(`${where}: unknown field ${JSON.stringify(extra.slice(0, 40))} (expected ${fields.join(', ')})`);
  return raw as Obj;
}

function num(raw: unknown, where: string, min: number, max: number, integer: boolean): number {
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < min || raw > max || (integer && !Number.isInteger(raw))) throw new ScenarioError(`${where} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  return raw;
}

function bool(raw: unknown, where: string): boolean {
  if (typeof raw !== 'boolean') throw new ScenarioError(`${where} must be true or false`);
  return raw;
}

function nodeId(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || !isValidNodeId(raw)) throw new ScenarioError(`${where} must be a node id (letters, digits, - and _, at most 64 bytes)`);
  return raw;
}

function nodeIds(raw: unknown, where: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > faultNodesMax) throw new ScenarioError(`${where} must list 1 to ${faultNodesMax} node ids`);
  // Array.from, not .map: map skips holes and would keep them.
  const ids = Array.from(raw as unknown[], (id, i) => nodeId(id, `${where}[${i}]`));
  return [...new Set(ids)];
}

function checkWorkload(raw: unknown): WorkloadSettings {
  const o = object(raw, 'workload', ['enabled', 'ratePerSecond', 'keys', 'getRatio']);
  return {
    enabled: bool(o.enabled, 'workload.enabled'),
    ratePerSecond: num(o.ratePerSecond, 'workload.ratePerSecond', 1, workloadRatePerSecondMax, true),
    keys: num(o.keys, 'workload.keys', 1, workloadKeysMax, true),
    getRatio: num(o.getRatio, 'workload.getRatio', 0, 1, false),
  };
}

function checkFault(raw: unknown, where: string): StepFault {
  const kind = typeof raw === 'object' && raw !== null ? (raw as Obj).kind : undefined;
  switch (kind) {
    case 'partition': {
      const o = object(raw, where, ['kind', 'sides', 'oneWay']);
      if (!Array.isArray(o.sides) || o.sides.length !== 2) throw new ScenarioError(`${where}.sides must be two lists of node ids`);
      const a = nodeIds(o.sides[0], `${where}.sides[0]`);
      const b = nodeIds(o.sides[1], `${where}.sides[1]`);
      const both = a.find((id) => b.includes(id));
      if (both !== undefined) throw new ScenarioError(`${where}: ${both} is on both sides of the partition`);
      return { kind, sides: [a, b], oneWay: o.oneWay === undefined ? false : bool(o.oneWay, `${where}.oneWay`) };
    }
    case 'latency': {
      const o = object(raw, where, ['kind', 'nodes', 'delayMs', 'jitterMs']);
      return { kind, nodes: nodeIds(o.nodes, `${where}.nodes`), delayMs: num(o.delayMs, `${where}.delayMs`, 0, latencyMaxMs, true), jitterMs: o.jitterMs === undefined ? 0 : num(o.jitterMs, `${where}.jitterMs`, 0, latencyMaxMs, true) };
    }
    case 'loss': {
      const o = object(raw, where, ['kind', 'nodes', 'probability']);
      return { kind, nodes: nodeIds(o.nodes, `${where}.nodes`), probability: num(o.probability, `${where}.probability`, 0, 1, false) };
    }
    case 'pause':
    case 'kill': {
      const o = object(raw, where, ['kind', 'node']);
      return { kind, node: nodeId(o.node, `${where}.node`) };
    }
    default:
      throw new ScenarioError(`${where}.kind must be one of partition, latency, loss, pause, kill`);
  }
}

function checkStep(raw: unknown, i: number): Step {
  const where = `steps[${i}]`;
  const o = object(raw, where, ['atMs', 'durationMs', 'fault']);
  const atMs = num(o.atMs, `${where}.atMs`, 0, stepAtMsMax, true);
  const durationMs = num(o.durationMs, `${where}.durationMs`, stepDurationMsMin, stepDurationMsMax, true);
  const fault = checkFault(o.fault, `${where}.fault`);
  // A node lifts a pause by itself after at most this long: a longer step could not be kept.
  if (fault.kind === 'pause' && durationMs > pauseDurationMaxMs) throw new ScenarioError(`${where}.durationMs: a pause lasts at most ${pauseDurationMaxMs} ms`);
  return { atMs, durationMs, fault };
}

/** Validates a scenario from outside (the renderer, a saved row); throws a ScenarioError naming the field. */
export function checkScenario(raw: unknown): ScenarioSpec {
  const o = object(raw, 'a scenario', ['id', 'name', 'workload', 'steps', 'settleMs', 'schedule']);
  if (o.id !== undefined && (typeof o.id !== 'string' || !scenarioIdPattern.test(o.id))) throw new ScenarioError('id must be 1 to 64 letters, digits, - or _');
  if (typeof o.name !== 'string') throw new ScenarioError(`name must be a string of 1 to ${scenarioNameCharsMax} characters`);
  const name = o.name.trim();
  if (name.length === 0 || name.length > scenarioNameCharsMax) throw new ScenarioError(`name must be a string of 1 to ${scenarioNameCharsMax} characters`);
  const workload = checkWorkload(o.workload);
  if (!Array.isArray(o.steps) || o.steps.length === 0 || o.steps.length > stepsMax) throw new ScenarioError(`steps must list 1 to ${stepsMax} steps`);
  const steps = Array.from(o.steps as unknown[], (s, i) => checkStep(s, i));
  const settleMs = o.settleMs === undefined ? settleMsDefault : num(o.settleMs, 'settleMs', 0, settleMsMax, true);
  let schedule: Schedule | null = null;
  if (o.schedule !== undefined && o.schedule !== null) {
    const s = object(o.schedule, 'schedule', ['everyMinutes']);
    schedule = { everyMinutes: num(s.everyMinutes, 'schedule.everyMinutes', scheduleEveryMinutesMin, scheduleEveryMinutesMax, true) };
  }
  return { ...(typeof o.id === 'string' ? { id: o.id } : {}), name, workload, steps, settleMs, schedule };
}

/** Every node a scenario names (for checking them against the cluster before a run). */
export function nodesNamed(s: ScenarioSpec): string[] {
  const out = new Set<string>();
  for (const { fault: f } of s.steps) {
    if (f.kind === 'partition') for (const id of [...f.sides[0], ...f.sides[1]]) out.add(id);
    else if (f.kind === 'latency' || f.kind === 'loss') for (const id of f.nodes) out.add(id);
    else out.add(f.node);
  }
  return [...out].sort();
}

/**
 * A step as the body of POST /admin/faults: the node lifts it by itself after the step's
 * duration. Undefined for a kill: the node's crash fault has no duration (it cannot restart
 * itself), so the runner kills and restarts through the supervisor.
 */
export function faultSpecOf(step: Step): Record<string, unknown> | undefined {
  const f = step.fault;
  const durationMs = step.durationMs;
  switch (f.kind) {
    case 'partition':
      return { kind: 'partition', from: [...f.sides[0]], to: [...f.sides[1]], oneWay: f.oneWay, durationMs };
    case 'latency':
      return { kind: 'latency', nodes: [...f.nodes], delayMs: f.delayMs, jitterMs: f.jitterMs, durationMs };
    case 'loss':
      return { kind: 'loss', nodes: [...f.nodes], probability: f.probability, durationMs };
    case 'pause':
      return { kind: 'pause', node: f.node, durationMs };
    case 'kill':
      return undefined;
  }
}

/** The nodes a step acts on (for the fault log the checker reads). */
export function stepNodes(step: Step): string[] {
  const f = step.fault;
  if (f.kind === 'partition') return [...f.sides[0], ...f.sides[1]];
  if (f.kind === 'latency' || f.kind === 'loss') return [...f.nodes];
  return [f.node];
}

/** One line for the run's log. */
export function describeStep(step: Step): string {
  const f = step.fault;
  const what =
    f.kind === 'partition'
      ? `partition ${f.sides[0].join(',')} ${f.oneWay ? '->' : '<->'} ${f.sides[1].join(',')}`
      : f.kind === 'latency'
        ? `latency ${f.delayMs}${f.jitterMs ? `+${f.jitterMs}` : ''} ms on ${f.nodes.join(',')}`
        : f.kind === 'loss'
          ? `loss ${Math.round(f.probability * 1000) / 10}% on ${f.nodes.join(',')}`
          : `${f.kind} ${f.node}`;
  return `${what} for ${step.durationMs} ms`;
}

/** When the last step ends, from the run's start. */
export function scenarioEndMs(s: ScenarioSpec): number {
  return Math.max(...s.steps.map((x) => x.atMs + x.durationMs));
}

/** When a scheduled scenario runs next, `minuteMs` being a minute (tests shorten it). */
export function nextRunAt(schedule: Schedule | null, fromMs: number, minuteMs = msPerMinute): number | null {
  return schedule === null ? null : fromMs + schedule.everyMinutes * minuteMs;
}

/** The keys a run's workload writes: its own prefix, so the verdict covers only them. */
export function experimentKeys(runId: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${experimentKeyPrefix(runId)}${i}`);
}

export function experimentKeyPrefix(runId: string): string {
  return `exp-${runId}-`;
}
