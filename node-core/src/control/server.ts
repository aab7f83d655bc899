// The control plane (issue 5): Socket.IO on the node's HTTP port (path /socket.io, announced
// in /status as `listeners.control`). A client attached to any node sees the whole cluster:
// about once a second, while at least one client is subscribed, the node asks every member
// for its snapshot (internode, outside injected faults) and streams one ClusterSnapshot plus
// the new events. Nobody subscribed: no timer runs, nothing is asked. With a cluster token,
// a client must present it (`auth: { token }`) or it is refused before any event.

import type http from 'node:http';
import { roleOf, type Role } from '../node/secrets.js';
import { Server, type Socket } from 'socket.io';
import { computePreferenceList } from '../core/ring.js';
import { type ClusterState, ringOf } from '../core/gossip.js';
import { faultToJson } from '../core/faults.js';
import type { GyreNode } from '../node/node.js';
import type { Ack, ClientToServerEvents, ClusterSnapshot, ControlEvent, FaultView, MemberStatus, MemberView, NodeSnapshot, OpKind, PartitionHealth, ServerToClientEvents } from '../wire/control.js';
import { runTrace } from './trace-request.js';
import { parseSnapshotReply } from './snapshot-parse.js';

export const streamIntervalMs = 1000;
const peerSnapshotTimeoutMs = 800;
/** Events streamed per tick across all nodes. */
const eventsPerTickMax = 500;
/** Socket.IO message size limit: commands, and a traced put of a 1 MiB value in base64. */
const maxHttpBufferSize = 2 * 1024 * 1024;
const subscribersMax = 256;

type ControlSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const adminRequiredMessage = 'faults and traces take the admin token on this cluster (GYRE_ADMIN_TOKEN), not the cluster token';

function isAdmin(socket: ControlSocket): boolean {
  return (socket.data as { role?: Role }).role === 'admin';
}

function fail<T>(ack: Ack<T> | undefined, error: string, message: string): void {
  if (typeof ack === 'function') ack({ ok: false, error, message });
}

function isUnreachable(x: ClusterSnapshot['nodes'][number]): x is { id: string; unreachable: string } {
  return 'unreachable' in x;
}

export class ControlServer {
  readonly io: Server<ClientToServerEvents, ServerToClientEvents>;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  /** Per node: the last event seq streamed, and the totals of the previous tick (for rates). */
  private readonly cursors = new Map<string, number>();
  /** When each node's process started (its events restart at 1 with it). */
  private readonly incarnations = new Map<string, number>();
  private previous: { at: number; totals: Map<string, Totals> } | undefined;

  constructor(
    private readonly node: GyreNode,
    server: http.Server,
  ) {
    this.io = new Server<ClientToServerEvents, ServerToClientEvents>(server, {
      serveClient: false,
      maxHttpBufferSize,
      // Without a cluster token nothing authenticates a client, so browsers (which send an
      // Origin, and whose WebSockets ignore CORS) are refused: any web page could otherwise
      // crash or partition a local cluster. Tools and the console backend send no Origin.
      allowRequest: (req, cb) => cb(null, node.credentials.cluster !== undefined || node.credentials.admin !== undefined || req.headers.origin === undefined),
    });
    this.io.use((socket, next) => {
      const auth = socket.handshake.auth as { token?: unknown } | undefined;
      const role = roleOf(node.credentials, auth?.token);
      if (role === undefined) {
        next(new Error('unauthorized: this cluster requires its token (auth: { token })'));
        return;
      }
      (socket.data as { role?: Role }).role = role;
      next();
    });
    this.io.on('connection', (socket) => this.attach(socket));
  }

  private attach(socket: ControlSocket): void {
    socket.on('subscribe', (ack) => {
      if (!socket.rooms.has('stream') && this.subscribers() >= subscribersMax) return fail(ack, 'too_many_subscribers', `at most ${subscribersMax} subscribers per node`);
      void socket.join('stream');
      this.ensureTimer();
      if (typeof ack === 'function') ack({ ok: true, value: { node: this.node.config.id } });
    });
    socket.on('unsubscribe', (ack) => {
      void socket.leave('stream');
      if (typeof ack === 'function') ack({ ok: true, value: null });
    });
    socket.on('snapshot', (ack) => {
      if (typeof ack !== 'function') return;
      this.clusterSnapshot(false).then(
        (s) => ack({ ok: true, value: s.snapshot }),
        (e: unknown) => fail(ack, 'internal', String(e)),
      );
    });
    socket.on('faults:list', (ack) => {
      if (typeof ack !== 'function') return;
      const now = this.node.env.now();
      ack({ ok: true, value: this.node.faults.list().map((f) => faultToJson(f, now) as FaultView) });
    });
    socket.on('faults:inject', (spec, ack) => {
      if (typeof ack !== 'function') return;
      if (!isAdmin(socket)) return fail(ack, 'admin_required', adminRequiredMessage);
      this.node.faults.request(spec).then(
        (r) => (r.ok ? ack({ ok: true, value: { fault: faultToJson(r.value.fault, this.node.env.now()) as FaultView, reached: r.value.reached, missed: r.value.missed } }) : fail(ack, r.error, r.message)),
        (e: unknown) => fail(ack, 'internal', String(e)),
      );
    });
    socket.on('faults:heal', (id, ack) => {
      if (typeof ack !== 'function') return;
      if (!isAdmin(socket)) return fail(ack, 'admin_required', adminRequiredMessage);
      if (id !== null && typeof id !== 'string') return fail(ack, 'bad_request', 'id must be a fault id or null (heal all)');
      this.node.faults.heal(id ?? undefined).then(
        (out) => ack({ ok: true, value: { healed: out.healed.map((f) => faultToJson(f, this.node.env.now()) as FaultView) } }),
        (e: unknown) => fail(ack, 'internal', String(e)),
      );
    });
    socket.on('trace', (req, ack) => {
      if (typeof ack !== 'function') return;
      if (!isAdmin(socket)) return fail(ack, 'admin_required', adminRequiredMessage);
      runTrace(this.node, req).then(
        (r) => (r.ok ? ack({ ok: true, value: r.value }) : fail(ack, r.error, r.message)),
        (e: unknown) => fail(ack, 'internal', String(e)),
      );
    });
  }

  private subscribers(): number {
    return this.io.sockets.adapter.rooms.get('stream')?.size ?? 0;
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.subscribers() === 0) {
        // Cheap when nobody listens: the loop stops with the last subscriber.
        clearInterval(this.timer);
        this.timer = undefined;
        this.previous = undefined;
        return;
      }
      if (this.ticking) return; // the previous tick is still gathering: skip, never pile up
      this.ticking = true;
      this.clusterSnapshot(true)
        .then(({ snapshot, events }) => {
          this.io.to('stream').emit('cluster', snapshot);
          if (events.length > 0) this.io.to('stream').emit('events', events);
        })
        .catch((e: unknown) => this.node.log.warn({ err: String(e) }, 'control stream tick failed'))
        .finally(() => (this.ticking = false));
    }, streamIntervalMs);
    this.timer.unref();
  }

  /** Every member's snapshot (this node's own directly), then the cluster-wide view. */
  async clusterSnapshot(stream: boolean): Promise<{ snapshot: ClusterSnapshot; events: ControlEvent[] }> {
    const node = this.node;
    const state = node.clusterState();
    const members = node.memberViews();
    const nodes = await this.gatherSnapshots(members, stream);
    const reports = nodes.filter((x): x is NodeSnapshot => !isUnreachable(x));
    const events = stream ? this.newEvents(reports) : [];
    const sum = (f: (r: NodeSnapshot) => number) => reports.reduce((a, r) => a + f(r), 0);
    // No prototype: a node may be called `constructor` (core/ids.ts).
    const byTarget = Object.create(null) as Record<string, number>;
    for (const r of reports) for (const [t, c] of Object.entries(r.hints.byTarget)) byTarget[t] = (byTarget[t] ?? 0) + c;
    const totals = new Map(reports.map((r) => [r.id, totalsOf(r)]));
    const now = node.env.now();
    const rate = (f: (t: Totals) => number) => ratePerSecond(this.previous, totals, now, f);
    const snapshot: ClusterSnapshot = {
      at: now,
      via: node.config.id,
      config: { n: node.config.n, r: node.config.r, w: node.config.w, partitions: state.partitions },
      members,
      // Merkle roots are summed up in `partitions`, events streamed on their own: not repeated here.
      nodes: nodes.map((x) => ('unreachable' in x ? x : { ...x, merkle: null, events: [] })),
      matrix: statusMatrix(nodes, members.map((m) => m.id)),
      partitions: partitionHealth(state, reports, new Set(members.filter((m) => m.status === 'up').map((m) => m.id))),
      hints: { byTarget, total: Object.values(byTarget).reduce((a, b) => a + b, 0), drainPerSecond: rate((t) => t.delivered) },
      antiEntropy: { exchanges: sum((r) => r.antiEntropy.exchanges), keysRepaired: sum((r) => r.antiEntropy.keysRepaired), repairedPerSecond: rate((t) => t.repaired) },
      // Each replica counts a key with siblings: the cluster-wide figure is the largest any replica reports.
      conflicts: { keysWithSiblings: reports.reduce((a, r) => Math.max(a, r.conflicts.keysWithSiblings), 0), sample: conflictSample(reports), createdPerSecond: rate((t) => t.created), resolvedPerSecond: rate((t) => t.resolved), readRepairsPerSecond: rate((t) => t.readRepairs) },
      ops: { get: opsSummary(reports, 'get'), put: opsSummary(reports, 'put'), delete: opsSummary(reports, 'delete') },
      storage: { keys: sum((r) => r.storage.keys), bytes: sum((r) => r.storage.bytes) },
      faults: node.faults.list().map((f) => faultToJson(f, now) as FaultView),
      faultsAllowed: node.config.allowFaults === true,
    };
    if (stream) this.previous = { at: now, totals };
    return { snapshot, events: events.slice(-eventsPerTickMax) };
  }

  /** Each member's report: our own directly, the others' over the internode channel (a failure is marked, not thrown). */
  private gatherSnapshots(members: readonly MemberView[], stream: boolean): Promise<ClusterSnapshot['nodes'][number][]> {
    const node = this.node;
    return Promise.all(
      members.map(async (m): Promise<ClusterSnapshot['nodes'][number]> => {
        const after = stream ? (this.cursors.get(m.id) ?? 0) : Number.MAX_SAFE_INTEGER;
        if (m.id === node.config.id) return node.snapshot(after);
        try {
          const reply = await node.call(m.id, { t: 'snapshot', afterSeq: after }, peerSnapshotTimeoutMs, true);
          const snap = parseSnapshotReply(reply, m.id);
          return snap ?? { id: m.id, unreachable: 'malformed snapshot reply' };
        } catch (e) {
          return { id: m.id, unreachable: String((e as Error).message ?? e) };
        }
      }),
    );
  }

  /** Events since each node's cursor, merged in time order; moves the cursors. */
  private newEvents(reports: readonly NodeSnapshot[]): ControlEvent[] {
    const events: ControlEvent[] = [];
    for (const r of reports) {
      const incarnation = r.at - r.uptimeMs;
      const known = this.incarnations.get(r.id);
      this.incarnations.set(r.id, incarnation);
      // A restarted node counts its events from 1 again: its report was cut at our old
      // cursor, so the next tick asks from 0 (nothing is skipped, nothing repeated).
      if (known !== undefined && Math.abs(known - incarnation) > incarnationJitterMs) {
        this.cursors.set(r.id, 0);
        continue;
      }
      for (const e of r.events) events.push(e);
      const cursor = this.cursors.get(r.id) ?? 0;
      this.cursors.set(r.id, Math.max(cursor, r.events.at(-1)?.seq ?? cursor));
    }
    return events.sort((a, b) => a.at - b.at);
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return new Promise((resolve) => {
      this.io.close(() => resolve());
    });
  }
}

/** Two reports of one process disagree on its start time by clock jitter only: more means it restarted. */
const incarnationJitterMs = 1000;
/** Keys with siblings shown in a snapshot at most. */
const conflictSampleMax = 50;

/** One node's running totals, kept between ticks to turn them into rates. */
interface Totals {
  readonly delivered: number;
  readonly repaired: number;
  readonly created: number;
  readonly resolved: number;
  readonly readRepairs: number;
  readonly ops: Record<OpKind, number>;
}

function totalsOf(r: NodeSnapshot): Totals {
  return { delivered: r.hints.delivered, repaired: r.antiEntropy.keysRepaired, created: r.conflicts.siblingsCreated, resolved: r.conflicts.siblingsResolved, readRepairs: r.conflicts.readRepairs, ops: { get: r.ops.get.total, put: r.ops.put.total, delete: r.ops.delete.total } };
}

/** How fast a total grew across the cluster since the previous tick (0 on the first; restarts do not count down). */
function ratePerSecond(prev: { at: number; totals: ReadonlyMap<string, Totals> } | undefined, totals: ReadonlyMap<string, Totals>, now: number, f: (t: Totals) => number): number {
  if (!prev) return 0;
  const seconds = Math.max(0.001, (now - prev.at) / 1000);
  let d = 0;
  for (const [id, t] of totals) {
    const p = prev.totals.get(id);
    if (p) d += Math.max(0, f(t) - f(p));
  }
  return Math.round((d / seconds) * 100) / 100;
}

/** Who sees whom how: one row per observer, null where it could not be asked or does not know the target. */
function statusMatrix(nodes: readonly ClusterSnapshot['nodes'][number][], targets: readonly string[]): ClusterSnapshot['matrix'] {
  return {
    observers: nodes.map((x) => x.id),
    targets: [...targets],
    status: nodes.map((x) => {
      if ('unreachable' in x) return targets.map(() => null);
      return targets.map((t): MemberStatus | null => x.members.find((m) => m.id === t)?.status ?? null);
    }),
  };
}

/** Per partition: its preference list, replicas up, stand-ins holding hints, and whether the replicas' Merkle roots agree. */
function partitionHealth(state: ClusterState, reports: readonly NodeSnapshot[], up: ReadonlySet<string>): PartitionHealth[] {
  const ring = ringOf(state);
  const hintTargets = new Map<string, string[]>();
  for (const r of reports) for (const [target, count] of Object.entries(r.hints.byTarget)) if (count > 0) hintTargets.set(target, [...(hintTargets.get(target) ?? []), r.id]);
  return state.ring.map((rec, p) => {
    const pref = computePreferenceList(ring, p, state.n);
    const roots = pref.map((id) => reports.find((r) => r.id === id)?.merkle?.[String(p)]);
    const fallbacks = pref.filter((id) => !up.has(id)).flatMap((id) => (hintTargets.get(id) ?? []).map((standIn) => `${standIn}>${id}`));
    return {
      partition: p,
      owner: rec.owner,
      pendingTo: rec.pendingTo ?? null,
      preferenceList: pref,
      replicasUp: pref.filter((id) => up.has(id)).length,
      fallbacks,
      merkleAgree: roots.every((x) => x !== undefined) ? roots.every((x) => x === roots[0]) : null,
    };
  });
}

/** One operation's cluster-wide figures: rates and errors summed, latency percentiles the worst node's. */
function opsSummary(reports: readonly NodeSnapshot[], op: OpKind): ClusterSnapshot['ops']['get'] {
  const ws = reports.map((r) => r.ops[op]);
  const max = (f: (w: NodeSnapshot['ops']['get']) => number | null) => ws.reduce<number | null>((a, w) => (f(w) === null ? a : Math.max(a ?? 0, f(w)!)), null);
  return { perSecond: ws.reduce((a, w) => a + w.lastSecond, 0), p50: max((w) => w.p50), p99: max((w) => w.p99), p999: max((w) => w.p999), errors: ws.reduce((a, w) => a + w.errors, 0), unavailable: ws.reduce((a, w) => a + w.unavailable, 0) };
}

/**
 * Each node lists its newest keys with siblings first: take them in turns, so every node's
 * newest make the cut (a key's replicas need not include the first node).
 */
function conflictSample(reports: readonly NodeSnapshot[]): string[] {
  const sample = new Set<string>();
  for (let i = 0; sample.size < conflictSampleMax && reports.some((r) => i < r.conflicts.sample.length); i++) for (const r of reports) if (i < r.conflicts.sample.length) sample.add(r.conflicts.sample[i]!);
  return [...sample].slice(0, conflictSampleMax);
}

