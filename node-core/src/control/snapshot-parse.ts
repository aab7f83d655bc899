// A peer's control-plane snapshot, parsed field by field and rebuilt (STYLE 11): the
// aggregation and every console attached to any node read it, so nothing of a peer's reply is
// passed on that was not checked. A field of the wrong type makes the whole snapshot
// "malformed" (the peer is shown as unreachable with that reason), never a broken stream.

import type { ControlEvent, FaultView, MemberView, NodeSnapshot, OpWindow } from '../wire/control.js';
import { isValidNodeId } from '../core/ids.js';

/** Entries in any list or map of a snapshot; the producer sends far fewer (events: 500). */
const listMax = 10_000;
const textMax = 1024;

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}
function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function count(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}
function text(v: unknown, max = textMax): v is string {
  return typeof v === 'string' && v.length <= max;
}
function numOrNull(v: unknown): v is number | null {
  return v === null || num(v);
}
function list<T>(v: unknown, item: (x: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(v) || v.length > listMax) return undefined;
  const out: T[] = [];
  for (const x of v) {
    const p = item(x);
    if (p === undefined) return undefined;
    out.push(p);
  }
  return out;
}
/** A map of node id (or partition) to a value, rebuilt without a prototype. */
function record<T>(v: unknown, key: (k: string) => boolean, value: (x: unknown) => x is T): Record<string, T> | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const entries = Object.entries(o);
  if (entries.length > listMax) return undefined;
  const out = Object.create(null) as Record<string, T>;
  for (const [k, x] of entries) {
    if (!key(k) || !value(x)) return undefined;
    out[k] = x;
  }
  return out;
}

const statuses = new Set(['up', 'suspect', 'down', 'joining', 'leaving']);
const states = new Set(['joining', 'member', 'leaving', 'left']);

function member(v: unknown): MemberView | undefined {
  const m = obj(v);
  if (!m || !text(m.id) || !isValidNodeId(m.id) || !text(m.address) || !statuses.has(m.status as string) || !states.has(m.state as string)) return undefined;
  if (!numOrNull(m.phi) || !numOrNull(m.heartbeatAgeMs) || !count(m.partitions)) return undefined;
  return { id: m.id, address: m.address, status: m.status as MemberView['status'], state: m.state as MemberView['state'], phi: m.phi, heartbeatAgeMs: m.heartbeatAgeMs, partitions: m.partitions };
}

function opWindow(v: unknown): OpWindow | undefined {
  const w = obj(v);
  if (!w || !count(w.lastSecond) || !count(w.total) || !count(w.errors) || !count(w.unavailable)) return undefined;
  if (!numOrNull(w.p50) || !numOrNull(w.p99) || !numOrNull(w.p999) || !numOrNull(w.max)) return undefined;
  return { lastSecond: w.lastSecond, total: w.total, p50: w.p50, p99: w.p99, p999: w.p999, max: w.max, errors: w.errors, unavailable: w.unavailable };
}

/** A fault as shown: the common fields, and its spec's fields when they are plain values. */
function fault(v: unknown): FaultView | undefined {
  const f = obj(v);
  if (!f || !text(f.id) || !text(f.kind, 32) || !text(f.description) || !num(f.startedAt) || !numOrNull(f.remainingMs)) return undefined;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, x] of Object.entries(f)) {
    if (k.length > 32) return undefined;
    if (x === undefined) continue; // an absent optional field of the spec
    const plain = x === null || typeof x === 'boolean' || num(x) || text(x) || (Array.isArray(x) && x.length <= 64 && x.every((y) => text(y, 64)));
    if (!plain) return undefined;
    out[k] = x;
  }
  return out as unknown as FaultView;
}

function event(v: unknown): ControlEvent | undefined {
  const e = obj(v);
  if (!e || !count(e.seq) || !num(e.at) || !text(e.node)) return undefined;
  const base = { seq: e.seq, at: e.at, node: e.node };
  const ids = (...ks: string[]) => ks.every((k) => text(e[k]));
  switch (e.type) {
    case 'member-status':
    case 'member-state':
      return ids('member', 'from', 'to') ? { ...base, type: e.type, member: e.member as string, from: e.from as string, to: e.to as string } : undefined;
    case 'transfer-started':
      return count(e.partition) && ids('from', 'to') ? { ...base, type: e.type, partition: e.partition, from: e.from as string, to: e.to as string } : undefined;
    case 'transfer-finished':
      return count(e.partition) && count(e.keys) && num(e.ms) ? { ...base, type: e.type, partition: e.partition, keys: e.keys, ms: e.ms } : undefined;
    case 'hints-delivered':
      return ids('target') && count(e.count) ? { ...base, type: e.type, target: e.target as string, count: e.count } : undefined;
    case 'ae-repair':
      return ids('peer') && count(e.partition) && count(e.keys) ? { ...base, type: e.type, peer: e.peer as string, partition: e.partition, keys: e.keys } : undefined;
    case 'fault-injected': {
      const f = fault(e.fault);
      return f ? { ...base, type: e.type, fault: f } : undefined;
    }
    case 'fault-healed': {
      const f = fault(e.fault);
      return f && (e.reason === 'healed' || e.reason === 'expired') ? { ...base, type: e.type, fault: f, reason: e.reason } : undefined;
    }
    default:
      return undefined;
  }
}

/** A peer's `snapshot` reply, or undefined if any part of it is not what a node sends. */
export function parseSnapshotReply(raw: unknown, expectedId: string): NodeSnapshot | undefined {
  if (!Array.isArray(raw) || raw[0] !== 'snapshot') return undefined;
  const s = obj(raw[1]);
  if (!s || s.id !== expectedId || !num(s.at) || !text(s.address) || !num(s.uptimeMs) || !count(s.lastEventSeq)) return undefined;
  const members = list(s.members, member);
  const events = list(s.events, event);
  const faults = list(s.faults, fault);
  const hints = obj(s.hints);
  const byTarget = hints ? record(hints.byTarget, isValidNodeId, count) : undefined;
  const ae = obj(s.antiEntropy);
  const tr = obj(s.transfers);
  const c = obj(s.conflicts);
  const sample = c ? list(c.sample, (x) => (text(x, 4096) ? x : undefined)) : undefined;
  const o = obj(s.ops);
  const ops = o ? { get: opWindow(o.get), put: opWindow(o.put), delete: opWindow(o.delete) } : undefined;
  const st = obj(s.storage);
  const merkle = s.merkle === null ? null : record(s.merkle, (k) => /^\d{1,6}$/.test(k), (x): x is string => text(x, 64));
  if (!members || !events || !faults || !hints || !byTarget || !count(hints.delivered) || !ae || !count(ae.exchanges) || !count(ae.keysRepaired)) return undefined;
  if (!tr || !count(tr.active) || !count(tr.completed) || !count(tr.keysReceived)) return undefined;
  if (!c || !sample || !count(c.keysWithSiblings) || !count(c.siblingsCreated) || !count(c.siblingsResolved) || !count(c.readRepairs)) return undefined;
  if (!ops || !ops.get || !ops.put || !ops.delete || !st || !count(st.keys) || !count(st.bytes) || merkle === undefined) return undefined;
  return {
    id: expectedId,
    at: s.at,
    address: s.address,
    uptimeMs: s.uptimeMs,
    members,
    hints: { byTarget, delivered: hints.delivered },
    antiEntropy: { exchanges: ae.exchanges, keysRepaired: ae.keysRepaired },
    transfers: { active: tr.active, completed: tr.completed, keysReceived: tr.keysReceived },
    conflicts: { keysWithSiblings: c.keysWithSiblings, sample, siblingsCreated: c.siblingsCreated, siblingsResolved: c.siblingsResolved, readRepairs: c.readRepairs },
    ops: { get: ops.get, put: ops.put, delete: ops.delete },
    // Storage health, as sent (older nodes do not send it).
    storage: { keys: st.keys, bytes: st.bytes, ...(count(st.quarantined) ? { quarantined: st.quarantined } : {}), ...(typeof st.writable === 'boolean' ? { writable: st.writable } : {}) },
    merkle,
    faults,
    events,
    lastEventSeq: s.lastEventSeq,
  };
}
