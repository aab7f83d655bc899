// Injected faults (issue 5): what an operator, a chaos test or the console asks a running
// cluster to suffer, as plain data and pure functions. The node (fault-injector.ts) keeps one
// table per cluster, spreads it to every member, and consults `linkEffect` for each internode
// message; time and randomness come in as arguments (STYLE 2), so the simulator can drive it.
//
// Faults act on internode traffic only: a client can still reach every node over HTTP, which
// is exactly how a partition looks to Dynamo (the coordinator it reached is cut off from some
// replicas). Every fault but a crash may have a duration and then expires by itself.
//
//   partition  messages from nodes `from` to nodes `to` (everyone else if `to` is omitted) are
//              lost, and back again unless `oneWay`
//   latency    messages sent by or to `nodes` (every link if omitted) wait delayMs + up to jitterMs
//   loss       messages sent by or to `nodes` (every link if omitted) are lost with `probability`
//   pause      node `node` stops processing anything for the duration (a GC pause, SIGSTOP)
//   crash      node `node` kills itself with SIGKILL

import { isValidNodeId } from './ids.js';

export type FaultSpec =
  | { readonly kind: 'partition'; readonly from: readonly string[]; readonly to: readonly string[] | undefined; readonly oneWay: boolean }
  | { readonly kind: 'latency'; readonly nodes: readonly string[] | undefined; readonly delayMs: number; readonly jitterMs: number }
  | { readonly kind: 'loss'; readonly nodes: readonly string[] | undefined; readonly probability: number }
  | { readonly kind: 'pause'; readonly node: string }
  | { readonly kind: 'crash'; readonly node: string };

export type FaultKind = FaultSpec['kind'];
export const faultKinds: readonly FaultKind[] = ['partition', 'latency', 'loss', 'pause', 'crash'];

export interface Fault {
  /** Unique in the cluster: the injecting node and its counter. */
  readonly id: string;
  readonly spec: FaultSpec;
  /** When it was injected, on this node's clock. */
  readonly startedAt: number;
  /** When it expires, on this node's clock; undefined: until healed. */
  readonly until: number | undefined;
}

/**
 * The cluster's fault table as one node knows it: a CRDT, so injections and heals made at the
 * same time on different nodes never undo each other. It is the faults ever injected minus the
 * ones healed, both sets merged by union; a healed id is remembered until its fault would have
 * expired anyway (at most `healedRetainMs`), so a stale copy cannot bring it back. Healing
 * everything heals the faults known at that moment; one injected concurrently elsewhere stays.
 */
export interface FaultTable {
  readonly faults: readonly Fault[];
  /** Healed fault ids, and until when (this node's clock) each is remembered. */
  readonly healed: readonly { readonly id: string; readonly until: number }[];
}

export const emptyFaultTable: FaultTable = { faults: [], healed: [] };
export const healedMax = 256;
export const healedRetainMs = 3600_000;

export const faultsMax = 32;
export const faultNodesMax = 64;
export const faultDurationMaxMs = 24 * 3600_000;
export const pauseDurationMaxMs = 120_000;
export const pauseDurationDefaultMs = 10_000;
export const latencyMaxMs = 60_000;
/** A crash stays listed this long, so a status poll can see it happened. */
export const crashListedMs = 5_000;

export type ParsedSpec = { readonly ok: true; readonly spec: FaultSpec; readonly durationMs: number | undefined } | { readonly ok: false; readonly reason: string };

function nodeList(raw: unknown, what: string, required: boolean): { ok: true; value: string[] | undefined } | { ok: false; reason: string } {
  if (raw === undefined || raw === null) return required ? { ok: false, reason: `${what} is required (a list of node ids)` } : { ok: true, value: undefined };
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : raw;
  if (!Array.isArray(list) || list.length === 0 || list.length > faultNodesMax) return { ok: false, reason: `${what} must list 1 to ${faultNodesMax} node ids` };
  // Never stringify what was sent (a BigInt throws, a deep array overflows the stack): name its type.
  for (const id of list) if (typeof id !== 'string' || !isValidNodeId(id)) return { ok: false, reason: `${what}: ${typeof id === 'string' ? JSON.stringify(id.slice(0, 64)) : `a ${Array.isArray(id) ? 'list' : typeof id}`} is not a node id` };
  return { ok: true, value: [...new Set(list as string[])] };
}

function number(raw: unknown, what: string, min: number, max: number, fallback: number | undefined): { ok: true; value: number } | { ok: false; reason: string } {
  if (raw === undefined || raw === null) return fallback === undefined ? { ok: false, reason: `${what} is required` } : { ok: true, value: fallback };
  const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return { ok: false, reason: `${what} must be a number from ${min} to ${max}` };
  return { ok: true, value: v };
}

/** Validates a fault request from a client (JSON) into a spec and an optional duration. */
export function parseFaultSpec(raw: unknown): ParsedSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'a fault is a JSON object with a "kind"' };
  const o = raw as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !faultKinds.includes(o.kind as FaultKind)) return { ok: false, reason: `kind must be one of ${faultKinds.join(', ')}` };
  const kind = o.kind as FaultKind;
  let durationMs: number | undefined;
  if (o.durationMs !== undefined && o.durationMs !== null) {
    const d = number(o.durationMs, 'durationMs', 1, kind === 'pause' ? pauseDurationMaxMs : faultDurationMaxMs, undefined);
    if (!d.ok) return d;
    durationMs = Math.round(d.value);
  }
  switch (kind) {
    case 'partition': {
      const from = nodeList(o.from ?? o.nodes, 'from', true);
      if (!from.ok) return from;
      const to = nodeList(o.to, 'to', false);
      if (!to.ok) return to;
      if (to.value?.some((id) => from.value!.includes(id))) return { ok: false, reason: 'a node cannot be on both sides of a partition' };
      if (o.oneWay !== undefined && typeof o.oneWay !== 'boolean') return { ok: false, reason: 'oneWay must be true or false' };
      return { ok: true, spec: { kind, from: from.value!, to: to.value, oneWay: o.oneWay === true }, durationMs };
    }
    case 'latency': {
      const nodes = nodeList(o.nodes, 'nodes', false);
      if (!nodes.ok) return nodes;
      const delay = number(o.delayMs, 'delayMs', 0, latencyMaxMs, undefined);
      if (!delay.ok) return delay;
      const jitter = number(o.jitterMs, 'jitterMs', 0, latencyMaxMs, 0);
      if (!jitter.ok) return jitter;
      return { ok: true, spec: { kind, nodes: nodes.value, delayMs: Math.round(delay.value), jitterMs: Math.round(jitter.value) }, durationMs };
    }
    case 'loss': {
      const nodes = nodeList(o.nodes, 'nodes', false);
      if (!nodes.ok) return nodes;
      const p = number(o.probability, 'probability', 0, 1, undefined);
      if (!p.ok) return p;
      return { ok: true, spec: { kind, nodes: nodes.value, probability: p.value }, durationMs };
    }
    case 'pause':
    case 'crash': {
      if (typeof o.node !== 'string' || !isValidNodeId(o.node)) return { ok: false, reason: 'node must name the node to ' + kind };
      if (kind === 'crash') return { ok: true, spec: { kind, node: o.node }, durationMs: undefined };
      return { ok: true, spec: { kind, node: o.node }, durationMs: durationMs ?? pauseDurationDefaultMs };
    }
  }
}

/** The faults still in force at `now`. */
export function activeFaults(t: FaultTable, now: number): Fault[] {
  return t.faults.filter((f) => f.until === undefined || f.until > now);
}

/** Drops what expired: faults past their end, healed ids past their retention. Bounds both. */
function tidy(faults: readonly Fault[], healed: readonly { id: string; until: number }[], now: number): FaultTable {
  const gone = new Set(healed.map((h) => h.id));
  const live = faults.filter((f) => !gone.has(f.id) && (f.until === undefined || f.until > now)).sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : 1));
  const kept = healed.filter((h) => h.until > now).sort((a, b) => b.until - a.until);
  // Past the limits the oldest faults give way, and the healed ids that would expire first.
  return { faults: live.slice(-faultsMax), healed: kept.slice(0, healedMax) };
}

/** The union of two tables (commutative, associative, idempotent). */
export function mergeFaultTables(a: FaultTable, b: FaultTable, now: number): FaultTable {
  const faults = new Map<string, Fault>();
  for (const f of [...a.faults, ...b.faults]) {
    const have = faults.get(f.id);
    // The same fault seen through two copies: keep the earliest start and the earliest end. Times
    // travel as "age" and "time left", so a copy that sat in a queue (a paused node reading its
    // backlog) arrives looking younger and longer-lived than it is: it must never extend it.
    if (!have) faults.set(f.id, f);
    else faults.set(f.id, { ...have, startedAt: Math.min(have.startedAt, f.startedAt), until: have.until === undefined ? f.until : f.until === undefined ? have.until : Math.min(have.until, f.until) });
  }
  const healed = new Map<string, number>();
  for (const h of [...a.healed, ...b.healed]) healed.set(h.id, Math.max(healed.get(h.id) ?? 0, h.until));
  return tidy([...faults.values()], [...healed].map(([id, until]) => ({ id, until })), now);
}

/** The table with `fault` added. */
export function withFault(t: FaultTable, fault: Fault, now: number): FaultTable {
  return tidy([...t.faults, fault], t.healed, now);
}

/** The table with fault `id` healed (every fault in force if `id` is undefined). */
export function withoutFaults(t: FaultTable, id: string | undefined, now: number): FaultTable {
  const heal = activeFaults(t, now).filter((f) => id === undefined || f.id === id);
  const healed = heal.map((f) => ({ id: f.id, until: Math.min(now + healedRetainMs, f.until ?? now + healedRetainMs) }));
  return tidy(t.faults, [...t.healed, ...healed], now);
}

/** Whether two tables hold the same faults and healed ids. */
export function sameFaultTable(a: FaultTable, b: FaultTable): boolean {
  const ids = (t: FaultTable) => [...t.faults.map((f) => `f:${f.id}`), ...t.healed.map((h) => `h:${h.id}`)].sort().join(' ');
  return ids(a) === ids(b);
}

function touches(nodes: readonly string[] | undefined, from: string, to: string): boolean {
  return nodes === undefined || nodes.includes(from) || nodes.includes(to);
}

/** Whether a partition cuts the directed link from -> to. */
export function cuts(spec: FaultSpec, from: string, to: string): boolean {
  if (spec.kind !== 'partition') return false;
  const inA = (id: string) => spec.from.includes(id);
  const inB = (id: string) => (spec.to === undefined ? !spec.from.includes(id) : spec.to.includes(id));
  return (inA(from) && inB(to)) || (!spec.oneWay && inB(from) && inA(to));
}

export interface LinkEffect {
  /** The message is lost; why (the fault id). */
  readonly dropBy: string | undefined;
  readonly delayMs: number;
}

/** What the faults in force do to one message on the directed link from -> to. */
export function linkEffect(faults: readonly Fault[], from: string, to: string, random: () => number): LinkEffect {
  let delayMs = 0;
  for (const f of faults) {
    const s = f.spec;
    if (s.kind === 'partition' && cuts(s, from, to)) return { dropBy: f.id, delayMs: 0 };
    if (s.kind === 'loss' && touches(s.nodes, from, to) && random() < s.probability) return { dropBy: f.id, delayMs: 0 };
    if (s.kind === 'latency' && touches(s.nodes, from, to)) delayMs += s.delayMs + Math.floor(random() * (s.jitterMs + 1));
  }
  return { dropBy: undefined, delayMs };
}

/** Whether a fault stops messages between running nodes or stops a node (for charts and checkers). */
export function isDisruptive(spec: FaultSpec): boolean {
  return spec.kind === 'partition' || spec.kind === 'loss' || spec.kind === 'pause' || spec.kind === 'crash';
}

/** One line for logs and the CLI. */
export function describeFault(spec: FaultSpec): string {
  const nodes = (n: readonly string[] | undefined) => (n === undefined ? 'every link' : n.join(','));
  switch (spec.kind) {
    case 'partition':
      return `partition ${spec.from.join(',')} ${spec.oneWay ? '->' : '<->'} ${spec.to === undefined ? 'the rest' : spec.to.join(',')}`;
    case 'latency':
      return `latency ${spec.delayMs}${spec.jitterMs ? `+${spec.jitterMs}` : ''} ms on ${nodes(spec.nodes)}`;
    case 'loss':
      return `loss ${Math.round(spec.probability * 1000) / 10}% on ${nodes(spec.nodes)}`;
    case 'pause':
      return `pause ${spec.node}`;
    case 'crash':
      return `crash ${spec.node}`;
  }
}

/** The JSON form (for /status, /admin/faults and the control plane). */
export function faultToJson(f: Fault, now: number): Record<string, unknown> {
  return { id: f.id, ...f.spec, description: describeFault(f.spec), startedAt: f.startedAt, ageMs: now - f.startedAt, remainingMs: f.until === undefined ? null : Math.max(0, f.until - now) };
}
