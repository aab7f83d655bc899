// Generated ClusterSnapshots for the console history's tests and its measurement (issue 14):
// plausible shapes with the figures a test sets, the rest filled in.

import type { ClusterSnapshot, MemberStatus, NodeSnapshot, OpWindow } from '../../node-core/src/wire/control.js';

export interface NodeFigures {
  readonly id: string;
  /** Node clock, ms, and when it started (at - uptimeMs). */
  readonly at: number;
  readonly startedAt?: number;
  readonly status?: MemberStatus;
  readonly unreachable?: boolean;
  /** Cumulative errors and 503s of each op (the same for get, put and delete). */
  readonly errors?: number;
  readonly unavailable?: number;
  readonly lastSecond?: number;
  readonly p99?: number | null;
  readonly hintsFor?: Readonly<Record<string, number>>;
  readonly keys?: number;
  readonly bytes?: number;
}

export interface ClusterFigures {
  readonly at: number;
  readonly nodes: readonly NodeFigures[];
  readonly perSecond?: number;
  readonly p50?: number | null;
  readonly p99?: number | null;
  readonly p999?: number | null;
  readonly hints?: number;
  readonly drainPerSecond?: number;
  readonly siblings?: number;
  readonly repairedPerSecond?: number;
  readonly readRepairsPerSecond?: number;
  readonly merkleAgree?: readonly (boolean | null)[];
}

function op(f: NodeFigures): OpWindow {
  const p99 = f.p99 === undefined ? 2.5 : f.p99;
  return { lastSecond: f.lastSecond ?? 10, total: 1000, p50: p99 === null ? null : p99 / 4, p99, p999: p99 === null ? null : p99 * 2, max: p99 === null ? null : p99 * 3, errors: f.errors ?? 0, unavailable: f.unavailable ?? 0 };
}

export function nodeSnapshot(f: NodeFigures, all: readonly NodeFigures[]): NodeSnapshot {
  return {
    id: f.id,
    at: f.at,
    address: `127.0.0.1:${7000 + all.indexOf(f)}`,
    uptimeMs: f.at - (f.startedAt ?? 0),
    members: [],
    hints: { byTarget: f.hintsFor ?? {}, delivered: 0 },
    antiEntropy: { exchanges: 0, keysRepaired: 0 },
    transfers: { active: 0, completed: 0, keysReceived: 0 },
    conflicts: { keysWithSiblings: 0, sample: [], siblingsCreated: 0, siblingsResolved: 0, readRepairs: 0 },
    ops: { get: op(f), put: op(f), delete: op(f) },
    storage: { keys: f.keys ?? 12_345, bytes: f.bytes ?? 4_567_890 },
    merkle: null,
    faults: [],
    events: [],
    lastEventSeq: 0,
  };
}

export function clusterSnapshot(c: ClusterFigures): ClusterSnapshot {
  const ids = c.nodes.map((n) => n.id);
  const opSummary = { perSecond: c.perSecond ?? 30, p50: c.p50 === undefined ? 0.6 : c.p50, p99: c.p99 === undefined ? 2.5 : c.p99, p999: c.p999 === undefined ? 5.25 : c.p999, errors: 0, unavailable: 0 };
  return {
    at: c.at,
    via: ids[0] ?? 'n1',
    config: { n: 3, r: 2, w: 2, partitions: 8 },
    members: c.nodes.map((n) => ({ id: n.id, address: 'x', status: n.status ?? 'up', state: 'member', phi: 0.5, heartbeatAgeMs: 100, partitions: 2 })),
    nodes: c.nodes.map((n) => (n.unreachable ? { id: n.id, unreachable: 'timeout' } : nodeSnapshot(n, c.nodes))),
    matrix: { observers: ids, targets: ids, status: ids.map(() => ids.map(() => 'up' as const)) },
    partitions: (c.merkleAgree ?? [true, true, true, true]).map((agree, p) => ({ partition: p, owner: ids[p % ids.length] ?? 'n1', pendingTo: null, preferenceList: ids.slice(0, 3), replicasUp: 3, fallbacks: [], merkleAgree: agree })),
    hints: { byTarget: {}, total: c.hints ?? 0, drainPerSecond: c.drainPerSecond ?? 0 },
    antiEntropy: { exchanges: 0, keysRepaired: 0, repairedPerSecond: c.repairedPerSecond ?? 0 },
    conflicts: { keysWithSiblings: c.siblings ?? 0, sample: [], createdPerSecond: 0, resolvedPerSecond: 0, readRepairsPerSecond: c.readRepairsPerSecond ?? 0 },
    ops: { get: opSummary, put: opSummary, delete: opSummary },
    storage: { keys: c.nodes.reduce((a, n) => a + (n.keys ?? 12_345), 0), bytes: c.nodes.reduce((a, n) => a + (n.bytes ?? 4_567_890), 0) },
    faults: [],
    faultsAllowed: false,
  };
}

/** n nodes n1..nN at one time, with figures that vary a little with `i` (so samples are not all alike). */
export function busyCluster(n: number, at: number, i: number): ClusterSnapshot {
  const nodes = Array.from({ length: n }, (_, k) => ({ id: `n${k + 1}`, at, errors: i * (k % 3), lastSecond: 100 + ((i * 7 + k) % 50), p99: 1 + ((i + k) % 17) / 7, keys: 100_000 + i * 3 + k, bytes: 40_000_000 + i * 1024 + k * 17 }));
  return clusterSnapshot({ at, nodes, perSecond: 300 + (i % 40), p50: 0.4 + (i % 9) / 10, p99: 2 + (i % 13) / 3, p999: 6 + (i % 5), hints: i % 4, drainPerSecond: (i % 3) * 1.5, siblings: i % 2, repairedPerSecond: 0, readRepairsPerSecond: (i % 7) / 2 });
}
