// The console backend (issue 6): a plain Node module, no Electron. It launches a local cluster
// through the supervisor (or reuses the one running in its data folder), attaches to a local
// or remote cluster's control plane over Socket.IO (failing over to another node when the one
// it is attached to goes away), keeps connection profiles in SQLite, runs the built-in load
// generator, and answers the renderer's requests (ConsoleMethods). Electron's main process
// and `gyre console --web` both host one and bridge it to the renderer.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../../node-core/src/wire/control.js';
import { partitionOf } from '../../node-core/src/core/partitioner.js';
import { LocalCluster, freePortRange } from '../../node-core/src/cli/supervisor.js';
import { ProfileStore, type TokenSealer, keyFileSealer } from './profiles.js';
import type { AlertRule, AlertState, HistoryQuery, HistorySeries, RunRecord, Scenario, Attachment, AttachTarget, ClusterSnapshot, ConnectionState, ConsoleMethod, ConsoleMethods, ConsolePush, ConsolePushes, FaultView, KeyInspection, NodeDetails, NodeLogPage, NodeLogQuery, Profile, TraceResult } from '../../node-core/src/wire/console.js';
import { MembershipChanges, type StartedNode, checkChange } from './membership.js';
import { type AskNode, causal, checkFailed, checkKeyListQuery, listKeys, partitionSizes, partitionsDetail, repair, whatIfView } from './cluster-views.js';
import { SeriesStore } from './history.js';
import { AuditLog } from './audit.js';
import { Experiments, type RunRecord as StoredRun } from './experiments.js';
import type { Scenario as StoredScenario } from './scenario.js';
import { type Observation, checkAlertRules, defaultAlertRules, evaluate, observe, windowMs } from './alerts.js';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Workload, checkWorkloadSpec } from './workload.js';
import { GyreClient } from '../../node-core/src/client/client.js';

export interface BackendOptions {
  /** The console's data folder: console.db (profiles, settings), and the local cluster (the same folder `gyre up` uses). */
  readonly dir: string;
  readonly nodes: number;
  /** First port of a local cluster it launches (0: any free range). */
  readonly port: number;
  readonly token: string | undefined;
  readonly log: (line: string) => void;
  /** How profile tokens are sealed at rest (the desktop app: safeStorage); default a key file in `dir`. */
  readonly sealer?: TokenSealer;
}

const attachTimeoutMs = 4000;

/**
 * A key as the console shows it: text, or `base64:...` for keys that are not printable text
 * (the control plane lists them that way). Returns its bytes.
 */
export function keyBytes(shown: string): Buffer {
  return shown.startsWith('base64:') ? Buffer.from(shown.slice(7), 'base64') : Buffer.from(shown, 'utf8');
}

/** A key's bytes percent-encoded for a URL path, byte by byte. */
function keyPath(key: Buffer): string {
  let out = '';
  for (const b of key) out += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
const callTimeoutMs = 30_000;
const httpTimeoutMs = 10_000;
const reconnectDelayMs = 1000;

type ControlClient = Socket<ServerToClientEvents, ClientToServerEvents>;

/** What the renderer may see of a profile: never its token. */
function withoutToken(p: Profile): Profile {
  return { ...p, token: null, hasToken: p.token !== null };
}

interface Target {
  readonly name: string;
  /**
   * What the cluster's history and kept membership change are filed under: 'local', the
   * profile's id (a rename keeps them), or a digest of the attached URLs (two clusters attached
   * by --attach are both named "remote" and must not share a history).
   */
  readonly key: string;
  readonly local: boolean;
  readonly environment: Profile['environment'];
  readonly seeds: readonly string[];
  readonly token: string | null;
  /** Members' URLs keep the seeds' scheme: a TLS target never sends its token to a plain-HTTP address. */
  readonly tls: boolean;
  /** The CA the nodes' certificates are checked against (read from the profile's file at attach). */
  readonly ca: Buffer | undefined;
}

/** The URL of a member the cluster reports, in the target's scheme. */
function memberUrl(t: Target | undefined, address: string): string {
  return `${t?.tls ? 'https' : 'http'}://${address}`;
}

/** A profile's CA file, read when attaching (an unreadable one fails the attach, saying which). */
function readCa(path: string | null): Buffer | undefined {
  if (path === null) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read the CA file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
}

/**
 * The audit trail's entry for a request, or null for those that change nothing (reads,
 * listings, plans). Values written are never recorded, only their size; tokens never
 * (audit.ts redacts them besides).
 */
export function auditedAction(method: ConsoleMethod, args: readonly unknown[]): { action: string; detail: Record<string, unknown> } | null {
  const a0 = args[0] as Record<string, unknown> | string | null | undefined;
  const obj = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
  switch (method) {
    // attach is recorded by attach() itself: the console attaches at start, not only on request.
    case 'detach':
      return { action: 'detach', detail: {} };
    case 'saveProfile':
      return { action: 'profile:save', detail: { name: obj(a0).name, seeds: obj(a0).seeds, environment: obj(a0).environment } };
    case 'deleteProfile':
      return { action: 'profile:delete', detail: { id: a0 } };
    case 'trace': {
      const t = obj(a0);
      if (t.op !== 'put' && t.op !== 'delete') return null;
      return { action: t.op === 'put' ? 'key:write' : 'key:delete', detail: { key: t.key, keyEncoding: t.keyEncoding ?? 'utf8', ...(t.op === 'put' ? { bytes: typeof t.value === 'string' ? t.value.length : 0, contentType: t.contentType } : {}), withContext: typeof t.context === 'string' } };
    }
    case 'resolveKey':
      return { action: 'key:resolve', detail: { key: a0, base64Chars: typeof args[1] === 'string' ? args[1].length : 0, contentType: args[2] } };
    case 'injectFault':
      return { action: 'fault:inject', detail: obj(a0) };
    case 'healFaults':
      return { action: 'fault:heal', detail: { fault: a0 ?? 'all' } };
    case 'killNode':
      return { action: 'node:kill', detail: { node: a0 } };
    case 'restartNode':
      return { action: 'node:restart', detail: { node: a0 } };
    case 'startWorkload':
      return { action: 'workload:start', detail: obj(a0) };
    case 'stopWorkload':
      return { action: 'workload:stop', detail: {} };
    case 'commitMembership':
      return { action: 'membership:commit', detail: { plan: a0 } };
    case 'saveAlertRules':
      return { action: 'alerts:save', detail: { rules: Array.isArray(a0) ? a0.length : 0 } };
    case 'repairPartition':
      return { action: 'ae:repair', detail: { partition: a0 ?? 'all' } };
    case 'saveScenario':
      return { action: 'experiment:save', detail: { name: obj(a0).name, steps: Array.isArray(obj(a0).steps) ? (obj(a0).steps as unknown[]).length : 0 } };
    case 'deleteScenario':
      return { action: 'experiment:delete', detail: { scenario: a0 } };
    case 'runScenario':
      return { action: 'experiment:run', detail: { scenario: a0 } };
    case 'stopRun':
      return { action: 'experiment:stop', detail: { run: a0 } };
    default:
      return null;
  }
}

/** What the result adds to an audit entry (the node a join launched, the status of a write). */
function auditOutcome(action: string, value: unknown): Record<string, unknown> {
  const v = value as Record<string, unknown> | null | undefined;
  if (!v || typeof v !== 'object') return {};
  if (action === 'membership:commit') return { node: v.node, kind: v.kind };
  if (action === 'key:write' || action === 'key:delete' || action === 'key:resolve') return { status: v.status };
  if (action === 'fault:inject') return { faultId: v.id };
  if (action === 'experiment:run') return { run: v.id };
  return {};
}

/** A stored scenario as the renderer sees it. */
function toScenarioView(s: { scenario: StoredScenario; nextRunAt: number | null }): Scenario {
  return { ...(s.scenario as unknown as Scenario), id: s.scenario.id, nextRunAt: s.nextRunAt };
}

/** A stored run as the renderer sees it. */
function toRunView(r: StoredRun): RunRecord {
  const v = r.verdict;
  return {
    id: r.id,
    scenarioId: r.scenarioId,
    scenarioName: r.scenarioName,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    state: r.state,
    verdict: v ? { ok: v.ok, violations: v.violations, countsByRule: v.violationCounts, acknowledgedWrites: v.acknowledgedWrites, lostWrites: v.lostWrites, divergence: v.divergence, availability: v.availability, durationMs: v.durationMs } : null,
    log: r.steps.map((x) => ({ at: r.startedAt + x.at, what: x.what })),
    error: r.error ?? null,
  };
}

const logLinesMax = 1000;
const logLineCharsMax = 8192;
/** A node page's log reads at most this much of a local log file per request. */
const logReadBytesMax = 1 << 20;

export function checkLogQuery(v: unknown): NodeLogQuery {
  const o = (v ?? {}) as Record<string, unknown>;
  const lines = o.lines ?? 200;
  if (!Number.isInteger(lines) || (lines as number) < 1 || (lines as number) > logLinesMax) throw new Error(`lines is an integer from 1 to ${logLinesMax}`);
  const filter = o.filter ?? null;
  if (filter !== null && (typeof filter !== 'string' || filter.length > 200)) throw new Error('filter is text of at most 200 characters');
  const after = o.after ?? null;
  if (after !== null && (!Number.isSafeInteger(after) || (after as number) < 0)) throw new Error('after is a non-negative integer');
  return { lines: lines as number, filter: filter === '' ? null : (filter as string | null), after: after as number | null };
}

/**
 * A page of a local node's log file. A line's seq is its byte offset in the file, so `next`
 * (the end of the last whole line read) follows the file as it grows; a file that shrank
 * (rotated, truncated) is read again from its start.
 */
export function readLogFile(node: string, path: string, q: NodeLogQuery): NodeLogPage {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { node, source: 'file', lines: [], next: 0, dropped: false };
  }
  try {
    const size = fstatSync(fd).size;
    let start = q.after === null || q.after > size ? Math.max(0, size - 256 * 1024) : q.after;
    let dropped = false;
    if (size - start > logReadBytesMax) {
      start = size - logReadBytesMax;
      dropped = q.after !== null;
    }
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    let pos = 0;
    // Reading from the middle of the file: skip to the first whole line.
    if (start > 0 && (q.after === null || dropped)) {
      const nl = buf.indexOf(10);
      pos = nl < 0 ? buf.length : nl + 1;
    }
    const lines: { seq: number; text: string }[] = [];
    const needle = q.filter?.toLowerCase() ?? null;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      const text = buf.subarray(pos, nl).toString('utf8');
      if (text && (!needle || text.toLowerCase().includes(needle))) lines.push({ seq: start + pos, text: text.slice(0, logLineCharsMax) });
      pos = nl + 1;
    }
    return { node, source: 'file', lines: lines.slice(-q.lines), next: start + pos, dropped };
  } finally {
    closeSync(fd);
  }
}

export class ConsoleBackend {
  private local: LocalCluster | undefined;
  private launchedHere = false;
  private target: Target | undefined;
  private client: ControlClient | undefined;
  private via: string | null = null;
  private state: ConnectionState = { state: 'detached' };
  private last: ClusterSnapshot | undefined;
  private readonly listeners = new Map<ConsolePush, Set<(v: never) => void>>();
  private readonly workload: Workload;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly membership: MembershipChanges;
  private alertRulesNow: AlertRule[] = [...defaultAlertRules];
  private alertStates: AlertState[] = [];
  private observations: Observation[] = [];
  private history: SeriesStore | undefined;
  private audit: AuditLog | undefined;
  private experiments: Experiments | undefined;

  private constructor(
    private readonly opts: BackendOptions,
    private readonly profiles: ProfileStore,
  ) {
    this.workload = new Workload(
      () => (this.last?.members.filter((m) => m.status === 'up').map((m) => memberUrl(this.target, m.address)) ?? this.target?.seeds ?? []).slice(0, 64),
      () => this.target?.token ?? null,
      () => this.target?.ca,
      (s) => this.emit('workload', s),
    );
    this.membership = new MembershipChanges({
      snapshot: () => this.last,
      partitionSizes: () => partitionSizes(this.ask, this.snapshotNow()),
      nextLocalNode: () => this.requireLocal('launching a node').nextNodeId(),
      launchNode: async () => (await this.requireLocal('launching a node').addNode()).id,
      inspect: (address) => this.inspectStarted(address),
      joinStarted: (address) => this.joinStarted(address),
      leave: (node) => this.leaveNode(node),
      retire: async (node) => {
        if (this.target?.local && this.local?.nodes.some((n) => n.id === node)) await this.local.removeNode(node);
      },
      push: (p) => this.emit('membership', p),
      log: (l) => this.opts.log(l),
      save: (cluster, p) => this.profiles.setSetting(`membership:${cluster}`, JSON.stringify(p)),
      load: async (cluster) => {
        const v = await this.profiles.setting(`membership:${cluster}`);
        return v === undefined ? undefined : (JSON.parse(v) as unknown);
      },
    });
    void this.profiles.setting('alertRules').then((v) => {
      if (v === undefined) return;
      try {
        this.alertRulesNow = checkAlertRules(JSON.parse(v));
      } catch (e) {
        this.opts.log(`stored alert rules ignored: ${(e as Error).message}`);
      }
    });
  }

  /** Every snapshot from the attached cluster goes through here. */
  private onSnapshot(s: ClusterSnapshot): void {
    this.last = s;
    this.emit('cluster', s);
    this.membership.observe(s);
    this.evaluateAlerts(s);
    const t = this.target;
    if (t && this.history) this.history.record(t.key, s).catch((e: Error) => this.opts.log(`history: ${e.message}`));
  }

  private evaluateAlerts(s: ClusterSnapshot): void {
    const o = observe(s);
    const keep = windowMs(this.alertRulesNow);
    this.observations.push(o);
    while (this.observations.length > 0 && this.observations[0]!.at < o.at - keep) this.observations.shift();
    const next = evaluate(this.alertRulesNow, this.alertStates, o, this.observations);
    const changed = next.length !== this.alertStates.length || next.some((x, i) => x.state !== this.alertStates[i]?.state || x.ruleId !== this.alertStates[i]?.ruleId || x.message !== this.alertStates[i]?.message);
    this.alertStates = next;
    if (changed) this.emit('alerts', next);
  }

  static async open(opts: BackendOptions): Promise<ConsoleBackend> {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const b = new ConsoleBackend(opts, await ProfileStore.open(join(opts.dir, 'console.db'), opts.sealer ?? keyFileSealer(opts.dir)));
    // History and experiments are kept in their own files: one that cannot be opened (a
    // corrupt file, a full disk) costs that feature, not the console.
    try {
      b.history = await SeriesStore.open(join(opts.dir, 'history.db'));
    } catch (e) {
      opts.log(`history is off: ${(e as Error).message}`);
    }
    try {
      b.audit = await AuditLog.open(join(opts.dir, 'audit.db'));
    } catch (e) {
      opts.log(`the audit trail is off: ${(e as Error).message}`);
    }
    try {
      b.experiments = await Experiments.open(join(opts.dir, 'experiments.db'), b.experimentHost());
      b.experiments.onProgress((p) => {
        void b.experiments?.getRun(p.runId).then((r) => r && b.emit('experiment', toRunView(r)));
      });
    } catch (e) {
      opts.log(`experiments are off: ${(e as Error).message}`);
    }
    return b;
  }

  /** What an experiment drives: the attached cluster, through the same paths as the Chaos screen. */
  private experimentHost(): import('./experiments.js').ExperimentHost {
    return {
      urls: () => (this.last?.members.filter((m) => m.status === 'up').map((m) => memberUrl(this.target, m.address)) ?? this.target?.seeds ?? []).slice(0, 64),
      token: () => this.target?.token ?? null,
      ca: () => this.target?.ca,
      local: () => this.target?.local === true,
      injectFault: async (spec) => (await this.control<{ fault: FaultView }>((c, ack) => c.emit('faults:inject', spec, ack))).fault,
      healFaults: async () => {
        await this.control<{ healed: FaultView[] }>((c, ack) => c.emit('faults:heal', null, ack));
      },
      killNode: (id) => this.requireLocal().stopNode(id, 'SIGKILL'),
      restartNode: async (id) => {
        const local = this.requireLocal();
        await local.stopNode(id, 'SIGKILL');
        local.startNode(id);
      },
      nodeIds: () => this.last?.members.filter((m) => m.state !== 'left').map((m) => m.id) ?? [],
    };
  }

  /** A request to member `node` (null: the node the console is attached through). */
  private readonly ask: AskNode = async (node, method, path, json, timeoutMs) => {
    const base = node === null ? this.via : this.nodeUrl(node);
    if (!base) throw new Error('not attached to a cluster');
    const r = await this.httpTo(base, method, path, json, timeoutMs);
    return { status: r.status, body: r.body };
  };

  private snapshotNow(): ClusterSnapshot {
    if (!this.last) throw new Error('no cluster snapshot yet');
    return this.last;
  }

  private async historyQuery(q: unknown): Promise<{ cluster: string; from: number; to: number; series: 'cluster' | { node: string }; maxPoints: number }> {
    const o = q as HistoryQuery | null;
    if (!this.target) throw new Error('attach to a cluster first');
    if (!this.history) throw new Error('history is off (see the console log)');
    if (typeof o !== 'object' || o === null || !Number.isSafeInteger(o.from) || !Number.isSafeInteger(o.to) || !Number.isInteger(o.maxPoints)) throw new Error('a history query is {from, to, scope, maxPoints}');
    const scope = o.scope === 'cluster' ? 'cluster' : typeof o.scope === 'object' && o.scope !== null && typeof o.scope.node === 'string' ? { node: o.scope.node } : null;
    if (scope === null) throw new Error("scope is 'cluster' or {node}");
    return { cluster: this.target.key, from: o.from, to: o.to, series: scope, maxPoints: o.maxPoints };
  }

  get localClusterDir(): string {
    return this.opts.dir;
  }

  on<P extends ConsolePush>(push: P, listener: (v: ConsolePushes[P]) => void): () => void {
    let set = this.listeners.get(push);
    if (!set) {
      set = new Set();
      this.listeners.set(push, set);
    }
    set.add(listener as (v: never) => void);
    return () => set.delete(listener as (v: never) => void);
  }

  private emit<P extends ConsolePush>(push: P, value: ConsolePushes[P]): void {
    for (const l of this.listeners.get(push) ?? []) (l as (v: ConsolePushes[P]) => void)(value);
  }

  private setState(s: ConnectionState): void {
    this.state = s;
    this.emit('connection', s);
  }

  /** Launches the local cluster (or reuses the one running in the data folder); returns its URLs. */
  async startLocal(): Promise<readonly string[]> {
    const dir = this.localClusterDir;
    const existing = existsSync(LocalCluster.clusterFile(dir)) ? LocalCluster.load(dir, this.opts.token) : undefined;
    if (existing && existing.running().length === existing.nodes.length) {
      this.local = existing;
      this.opts.log(`reusing the local cluster in ${dir}`);
    } else if (existing) {
      // Some nodes of a cluster started before are down: start them again on their ports.
      this.local = existing;
      for (const n of existing.nodes) existing.startNode(n.id);
      this.launchedHere = true;
    } else {
      const port = this.opts.port || (await freePortRange(this.opts.nodes));
      this.local = LocalCluster.create({ dir, nodes: this.opts.nodes, port, token: this.opts.token });
      this.local.start();
      this.launchedHere = true;
    }
    await this.local.waitUntilUp();
    return this.local.urls();
  }

  /** Attaches to the cluster `target` names; resolves once its control plane answered. */
  async attach(t: AttachTarget): Promise<Attachment> {
    let target: Target;
    if (t.kind === 'local') {
      const urls = this.local ? this.local.urls() : await this.startLocal();
      target = { name: 'local', key: 'local', local: true, environment: 'development', seeds: urls, token: this.opts.token ?? null, tls: false, ca: undefined };
    } else {
      const p = await this.profiles.get(t.id);
      if (!p) throw new Error(`no profile ${t.id}`);
      target = { name: p.name, key: `profile:${p.id}`, local: false, environment: p.environment, seeds: p.seeds, token: p.token, tls: p.tls, ca: readCa(p.caFile) };
    }
    await this.detach();
    this.target = target;
    await this.attached(target, t.kind === 'local' ? 'local' : `profile ${t.id}`);
    return this.attachment()!;
  }

  /** Connects to the target's nodes, recording the attach (or its failure) in the audit trail. */
  private async attached(target: Target, how: string): Promise<void> {
    await this.membership.attachTo(target.key);
    try {
      await this.connect(target.seeds);
      this.record({ action: 'attach', detail: { target: how, seeds: target.seeds } }, target.name, 'ok');
    } catch (e) {
      this.record({ action: 'attach', detail: { target: how, seeds: target.seeds } }, target.name, 'error', (e as Error).message);
      throw e;
    }
  }

  /** Attaches to explicit node URLs (gyre console --attach). */
  async attachUrls(urls: readonly string[], token: string | null, name = 'remote', caFile: string | null = null): Promise<Attachment> {
    const tls = urls.some((u) => u.startsWith('https:'));
    if (tls && urls.some((u) => !u.startsWith('https:'))) throw new Error('attach to https URLs only, or http URLs only: a token must not travel in clear text to some of them');
    await this.detach();
    const key = `urls:${createHash('sha256').update([...urls].sort().join(',')).digest('hex').slice(0, 24)}`;
    this.target = { name, key, local: false, environment: 'development', seeds: urls, token, tls, ca: readCa(caFile) };
    await this.attached(this.target, 'urls');
    return this.attachment()!;
  }

  private attachment(): Attachment | undefined {
    const t = this.target;
    if (!t) return undefined;
    return { name: t.name, local: t.local, environment: t.environment, urls: t.seeds, via: this.via };
  }

  /** Tries each URL in turn: the first control plane that accepts us is the one we use. */
  private async connect(urls: readonly string[]): Promise<void> {
    const target = this.target;
    if (!target) return;
    const errors: string[] = [];
    for (const url of urls) {
      this.setState({ state: 'connecting', target: url });
      try {
        const client = await this.open(url, target);
        if (this.target !== target) {
          client.close();
          return;
        }
        this.client = client;
        this.via = url;
        this.setState({ state: 'attached', attachment: this.attachment()! });
        return;
      } catch (e) {
        errors.push(`${url}: ${(e as Error).message}`);
      }
    }
    this.setState({ state: 'error', message: `no node answered: ${errors.join('; ')}` });
    throw new Error(`cannot attach: ${errors.join('; ')}`);
  }

  private open(url: string, target: Target): Promise<ControlClient> {
    const token = target.token;
    if (target.tls && !url.startsWith('https:')) return Promise.reject(new Error(`${url} is not https: a TLS cluster's token never goes to a plain address`));
    return new Promise((resolve, reject) => {
      const client: ControlClient = io(url, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false, timeout: attachTimeoutMs, ...(target.ca ? { ca: target.ca.toString('utf8') } : {}) });
      const timer = setTimeout(() => fail('no answer'), attachTimeoutMs);
      client.once('connect_error', (e) => fail(e.message));
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.close();
        reject(new Error(why));
      };
      client.once('disconnect', () => fail('the node went away while attaching'));
      client.once('connect', () => {
        client.emit('subscribe', (reply) => {
          if (!reply?.ok) return fail(reply && !reply.ok ? reply.message : 'subscribe refused');
          // The first snapshot at once, not a second later: the screens (and keyPosition) need it.
          client.emit('snapshot', (snap) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (snap.ok) this.onSnapshot(snap.value);
            resolve(client);
          });
        });
      });
      client.on('cluster', (s) => {
        if (this.client === client) this.onSnapshot(s);
      });
      client.on('events', (e) => {
        if (this.client === client) this.emit('events', e);
      });
      client.on('disconnect', (reason) => {
        if (this.client !== client || this.closed) return;
        // The node went away (killed, restarted, partitioned from us): fail over to another.
        this.client = undefined;
        this.opts.log(`control connection to ${url} lost (${reason}); reconnecting`);
        this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      const t = this.target;
      if (!t || this.client) return;
      // Every member we last knew of, then the seeds: whichever answers.
      const known = this.last?.members.map((m) => memberUrl(t, m.address)) ?? [];
      const urls = [...new Set([...known.filter((u) => u !== this.via), ...t.seeds])];
      this.connect(urls).catch(() => this.scheduleReconnect());
    }, reconnectDelayMs);
    this.reconnectTimer.unref();
  }

  async detach(): Promise<void> {
    this.workload.stop();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const c = this.client;
    this.client = undefined;
    this.target = undefined;
    this.via = null;
    this.last = undefined;
    this.observations = [];
    this.alertStates = [];
    this.membership.detach();
    c?.close();
    this.setState({ state: 'detached' });
  }

  private control<T>(send: (client: ControlClient, ack: Ack<T>) => void): Promise<T> {
    const client = this.client;
    if (!client) return Promise.reject(new Error('not attached to a cluster'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the node did not answer in time')), callTimeoutMs);
      send(client, (reply) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply.value);
        else reject(new Error(`${reply.error}: ${reply.message}`));
      });
    });
  }

  private async http(path: string): Promise<{ status: number; body: unknown; headers: Headers }> {
    if (!this.via) throw new Error('not attached to a cluster');
    return this.httpTo(this.via, 'GET', path);
  }

  /** A request to one node (`base`: its URL), answered as parsed JSON when it is JSON. */
  /** A one-off client to one node of the attached cluster, with its token and CA. */
  private clientTo(base: string, timeoutMs: number): GyreClient {
    return new GyreClient({ failover: false, url: base, token: this.target?.token ?? undefined, keepAlive: false, timeoutMs, ...(this.target?.ca ? { ca: this.target.ca } : {}) });
  }

  private async httpTo(base: string, method: string, path: string, json?: unknown, timeoutMs = httpTimeoutMs): Promise<{ status: number; body: unknown; headers: Headers }> {
    const res = await this.clientTo(base, timeoutMs).request({ method, path, headers: { accept: 'application/json', ...(json !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    const text = res.body.toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    return { status: res.status, body, headers };
  }

  /** Destructive actions on a production cluster need its name typed by the operator. */
  private confirm(confirm: string | null, what: string): void {
    const t = this.target;
    if (t?.environment === 'production' && confirm !== t.name) throw new Error(`${what} on the production cluster "${t.name}": type the cluster's name to confirm`);
  }

  private requireLocal(what = 'kill and restart'): LocalCluster {
    if (!this.target?.local || !this.local) throw new Error(`${what} works on the local cluster this console launched${what === 'launching a node' ? '; on a remote cluster, start the new node alone (gyre node, without --seeds) and add it by its address' : ''}`);
    return this.local;
  }

  /** The URL of member `id` as the attached node last reported it. */
  private nodeUrl(id: string): string {
    const m = this.last?.members.find((x) => x.id === id);
    if (!m) throw new Error(`no member ${id} in the cluster's view`);
    return memberUrl(this.target, m.address);
  }

  /** A started node's own account of itself (GET /status, parsed and checked by the client library). */
  private async inspectStarted(address: string): Promise<StartedNode> {
    if (!this.target) throw new Error('not attached to a cluster');
    const client = this.clientTo(memberUrl(this.target, address), 5000);
    try {
      const status = await client.status();
      return { id: status.node.id, partitions: status.config.partitions, n: status.config.n, members: status.members.map((m) => m.id), keys: Number.isSafeInteger(status.storage?.keys) ? (status.storage!.keys as number) : null };
    } finally {
      client.close();
    }
  }

  /** Asks the started node at `address` to join through the members seen up (at most 16 of them, as seeds). */
  private async joinStarted(address: string): Promise<void> {
    const seeds = (this.last?.members ?? []).filter((m) => m.status === 'up' && m.state === 'member').map((m) => m.address).slice(0, 16);
    if (seeds.length === 0) throw new Error('no member is seen up: nothing to join through');
    const r = await this.httpTo(memberUrl(this.target, address), 'POST', '/admin/join', { seeds });
    if (r.status !== 202) throw new Error(`${address} refused to join (${r.status}): ${(r.body as { message?: string })?.message ?? String(r.body).slice(0, 200)}`);
  }

  private async leaveNode(node: string): Promise<void> {
    const r = await this.httpTo(this.nodeUrl(node), 'POST', '/admin/leave');
    if (r.status !== 202) throw new Error(`${node} refused to leave (${r.status}): ${(r.body as { message?: string })?.message ?? String(r.body).slice(0, 200)}`);
  }

  async nodeDetails(id: string): Promise<NodeDetails> {
    let status: Record<string, unknown> | null = null;
    let error: string | null = null;
    try {
      const r = await this.httpTo(this.nodeUrl(id), 'GET', '/status', undefined, 5000);
      if (r.status === 200 && typeof r.body === 'object' && r.body !== null) status = r.body as Record<string, unknown>;
      else error = `/status answered ${r.status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    let settings: Record<string, unknown> | null = null;
    try {
      const r = await this.httpTo(this.nodeUrl(id), 'GET', '/admin/config', undefined, 5000);
      const got = (r.body as { settings?: unknown })?.settings;
      if (r.status === 200 && typeof got === 'object' && got !== null && !Array.isArray(got)) settings = Object.fromEntries(Object.entries(got).slice(0, 200));
    } catch {
      // an older node, or no admin role: the page shows /status's configuration only
    }
    const spec = this.target?.local ? this.local?.nodes.find((n) => n.id === id) : undefined;
    return { id, status, error, settings, local: spec ? { pid: spec.pid ?? null, log: spec.log, dir: spec.dir, port: spec.port } : null };
  }

  async nodeLog(id: string, q: NodeLogQuery): Promise<NodeLogPage> {
    const spec = this.target?.local ? this.local?.nodes.find((n) => n.id === id) : undefined;
    if (spec) return readLogFile(id, spec.log, q);
    const params = new URLSearchParams({ lines: String(q.lines) });
    if (q.filter) params.set('filter', q.filter);
    if (q.after !== null) params.set('after', String(q.after));
    const r = await this.httpTo(this.nodeUrl(id), 'GET', `/admin/log?${params}`, undefined, 5000);
    const b = r.body as { lines?: unknown; next?: unknown; dropped?: unknown };
    if (r.status !== 200 || !Array.isArray(b?.lines)) throw new Error(`${id}'s /admin/log answered ${r.status}: ${(r.body as { message?: string })?.message ?? ''}`);
    const lines = (b.lines as { seq?: unknown; text?: unknown }[]).slice(0, logLinesMax).filter((l) => Number.isInteger(l?.seq) && typeof l.text === 'string').map((l) => ({ seq: l.seq as number, text: (l.text as string).slice(0, logLineCharsMax) }));
    return { node: id, source: 'node', lines, next: Number.isInteger(b.next) ? (b.next as number) : (lines.at(-1)?.seq ?? 0) + 1, dropped: b.dropped === true };
  }

  async inspectKey(key: string): Promise<KeyInspection> {
    const enc = keyPath(keyBytes(key));
    const got = await this.http(`/kv/${enc}`);
    const rep = await this.http(`/replicas/${enc}?values=1`);
    if (rep.status !== 200) throw new Error(`/replicas answered ${rep.status}`);
    const doc = rep.body as { preferenceList: string[]; replicas: { node: string; reachable: boolean; versions: { version: string; clock: Record<string, number>; deleted: boolean; contentType: string; value?: string }[] }[] };
    const siblings = new Map<string, KeyInspection['siblings'][number]>();
    for (const r of doc.replicas) {
      for (const v of r.versions) {
        const have = siblings.get(v.version);
        if (have) siblings.set(v.version, { ...have, heldBy: [...have.heldBy, r.node] });
        else siblings.set(v.version, { version: v.version, value: v.value ?? '', contentType: v.contentType, deleted: v.deleted, clock: v.clock, heldBy: [r.node] });
      }
    }
    // What a read returns (its context covers every sibling) decides what a resolve replaces.
    const ids = (got.headers.get('x-gyre-version') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const shown = ids.length > 0 ? ids.map((id) => siblings.get(id)).filter((x) => x !== undefined) : [...siblings.values()];
    return {
      key,
      status: got.status,
      context: got.headers.get('x-gyre-context'),
      siblings: shown,
      preferenceList: doc.preferenceList,
      replicas: doc.replicas.map((r) => ({ node: r.node, reachable: r.reachable, versions: r.versions.map((v) => v.version) })),
    };
  }

  keyPosition(key: string): ConsoleMethods['keyPosition']['result'] {
    const s = this.last;
    if (!s) throw new Error('no cluster snapshot yet');
    const bytes = keyBytes(key);
    const partition = partitionOf(bytes, s.config.partitions);
    // The key's place on the ring: the top 48 bits of its MD5, as a fraction of a turn.
    const digest = createHash('md5').update(bytes).digest();
    const position = digest.readUIntBE(0, 6) / 2 ** 48;
    return { key, partition, position, preferenceList: s.partitions[partition]?.preferenceList ?? [] };
  }

  /** Dispatches one renderer request (arguments are validated where they enter). */
  async call<M extends ConsoleMethod>(method: M, args: unknown[]): Promise<ConsoleMethods[M]['result']> {
    const audited = auditedAction(method, args);
    // The cluster the action was aimed at, taken before it runs (attach and detach change it).
    const cluster = this.target?.name ?? '';
    try {
      const r = await this.dispatch(method, args);
      if (audited) this.record(audited, cluster, 'ok', undefined, r);
      return r as ConsoleMethods[M]['result'];
    } catch (e) {
      if (audited) this.record(audited, cluster, 'error', (e as Error).message);
      throw e;
    }
  }

  private record(a: { action: string; detail: Record<string, unknown> }, cluster: string, result: 'ok' | 'error', error?: string, value?: unknown): void {
    if (!this.audit) return;
    const detail = { ...a.detail, ...auditOutcome(a.action, value) };
    this.audit.record({ at: Date.now(), cluster, action: a.action, detail, result, ...(error !== undefined ? { error: error.slice(0, 500) } : {}) }).catch((e: Error) => this.opts.log(`audit: ${e.message}`));
  }

  private async dispatch(method: ConsoleMethod, args: unknown[]): Promise<unknown> {
    const str = (i: number, what: string): string => {
      const v = args[i];
      if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw new Error(`${what} must be a non-empty string`);
      return v;
    };
    const optStr = (i: number): string | null => (typeof args[i] === 'string' ? (args[i] as string) : null);
    switch (method) {
      case 'connection':
        return this.state;
      case 'listProfiles':
        return (await this.profiles.list()).map(withoutToken);
      case 'saveProfile':
        return withoutToken(await this.profiles.save(args[0]));
      case 'deleteProfile':
        await this.profiles.remove(str(0, 'id'));
        return null;
      case 'attach': {
        const t = args[0] as AttachTarget | undefined;
        if (t?.kind === 'local') return this.attach({ kind: 'local' });
        if (t?.kind === 'profile' && typeof t.id === 'string') return this.attach({ kind: 'profile', id: t.id });
        throw new Error("attach takes {kind: 'local'} or {kind: 'profile', id}");
      }
      case 'detach':
        await this.detach();
        return null;
      case 'trace':
        return this.control<TraceResult>((c, ack) => c.emit('trace', args[0] as never, ack));
      case 'inspectKey':
        return this.inspectKey(str(0, 'key'));
      case 'keyPosition':
        return this.keyPosition(str(0, 'key'));
      case 'resolveKey':
        return this.control<TraceResult>((c, ack) => c.emit('trace', { op: 'put', key: keyBytes(str(0, 'key')).toString('base64'), keyEncoding: 'base64', value: typeof args[1] === 'string' ? args[1] : '', valueEncoding: 'base64', contentType: str(2, 'content type'), context: str(3, 'context') }, ack));
      case 'injectFault': {
        const spec = args[0];
        if (typeof spec !== 'object' || spec === null) throw new Error('a fault is an object');
        this.confirm(optStr(1), 'injecting a fault');
        const out = await this.control<{ fault: FaultView }>((c, ack) => c.emit('faults:inject', spec as Record<string, unknown>, ack));
        return out.fault;
      }
      case 'healFaults': {
        const out = await this.control<{ healed: FaultView[] }>((c, ack) => c.emit('faults:heal', optStr(0), ack));
        return out.healed;
      }
      case 'killNode': {
        const node = str(0, 'node');
        const local = this.requireLocal();
        this.confirm(optStr(1), `killing ${node}`);
        await local.stopNode(node, 'SIGKILL');
        return null;
      }
      case 'restartNode': {
        const node = str(0, 'node');
        const local = this.requireLocal();
        this.confirm(optStr(1), `restarting ${node}`);
        await local.stopNode(node, 'SIGKILL');
        local.startNode(node);
        return null;
      }
      case 'startWorkload':
        if (!this.target) throw new Error('attach to a cluster first');
        return this.workload.start(checkWorkloadSpec(args[0]));
      case 'stopWorkload':
        return this.workload.stop();
      case 'workloadStatus':
        return this.workload.status();
      default:
        return this.dispatchOperations(method, args, str, optStr);
    }
  }

  /** The operator's tools (issue 14): node pages, membership changes, history, audit, alerts, data, anti-entropy, what-if, experiments. */
  private async dispatchOperations(method: ConsoleMethod, args: unknown[], str: (i: number, what: string) => string, optStr: (i: number) => string | null): Promise<unknown> {
    switch (method) {
      case 'nodeDetails':
        return this.nodeDetails(str(0, 'node'));
      case 'nodeLog':
        return this.nodeLog(str(0, 'node'), checkLogQuery(args[1]));
      case 'planMembership':
        return this.membership.plan(checkChange(args[0]));
      case 'commitMembership':
        this.confirm(optStr(1), 'changing membership');
        return this.membership.commit(str(0, 'plan id'));
      case 'membershipProgress':
        return this.membership.progress();
      case 'alertRules':
        return this.alertRulesNow;
      case 'saveAlertRules': {
        const rules = checkAlertRules(args[0]);
        await this.profiles.setSetting('alertRules', JSON.stringify(rules));
        this.alertRulesNow = rules;
        this.alertStates = [];
        return rules;
      }
      case 'alerts':
        return this.alertStates;
      case 'listAudit': {
        if (!this.audit) throw new Error('the audit trail is off (see the console log)');
        const q = (args[0] ?? {}) as { limit?: unknown; before?: unknown };
        const limit = Number.isInteger(q.limit) && (q.limit as number) >= 1 && (q.limit as number) <= 1000 ? (q.limit as number) : 100;
        const before = Number.isSafeInteger(q.before) ? (q.before as number) : undefined;
        const got = await this.audit.list({ limit, ...(before !== undefined ? { before } : {}) });
        return got.map((e) => ({ id: e.id, at: e.at, cluster: e.cluster, action: e.action, detail: (typeof e.detail === 'object' && e.detail !== null && !Array.isArray(e.detail) ? e.detail : { value: e.detail }) as Record<string, unknown>, result: e.result, error: e.error ?? null }));
      }
      case 'history': {
        const q = await this.historyQuery(args[0]);
        const r = await this.history!.query(q);
        const seen = await this.history!.nodes(q.cluster, q.from, q.to).catch(() => [] as string[]);
        const out: HistorySeries = { t: r.t, series: r.series, stepMs: r.stepMs, tier: r.tier, nodes: [...new Set([...seen, ...(this.last?.members.map((m) => m.id) ?? [])])].sort() };
        return out;
      }
      case 'historyCsv':
        return this.history!.csv(await this.historyQuery(args[0]));
      case 'listKeys':
        return listKeys(this.ask, checkKeyListQuery(args[0]));
      case 'causalGraph': {
        const key = str(0, 'key');
        return causal(this.ask, key, keyPath(keyBytes(key)));
      }
      case 'partitionsDetail':
        return partitionsDetail(this.ask, this.snapshotNow());
      case 'repairPartition':
        return repair(this.ask, this.snapshotNow(), args[0] === null || args[0] === undefined ? null : (args[0] as number));
      case 'whatIf':
        return whatIfView(this.ask, this.snapshotNow(), checkFailed(args[0]), typeof args[1] === 'number' ? args[1] : 30_000);
      case 'listScenarios':
      case 'saveScenario':
      case 'deleteScenario':
      case 'runScenario':
      case 'stopRun':
      case 'listRuns':
      case 'getRun':
        return this.dispatchExperiments(method, args, str, optStr);
      default:
        throw new Error(`no console method ${method}`);
    }
  }

  private async dispatchExperiments(method: ConsoleMethod, args: unknown[], str: (i: number, what: string) => string, optStr: (i: number) => string | null): Promise<unknown> {
    switch (method) {
      case 'listScenarios':
        return (await this.requireExperiments().listScenarios()).map(toScenarioView);
      case 'saveScenario':
        return toScenarioView(await this.requireExperiments().saveScenario(args[0]));
      case 'deleteScenario':
        await this.requireExperiments().deleteScenario(str(0, 'scenario id'));
        return null;
      case 'runScenario': {
        const ex = this.requireExperiments();
        if (!this.target) throw new Error('attach to a cluster first');
        this.confirm(optStr(1), 'running an experiment');
        const id = await ex.run(str(0, 'scenario id'));
        const r = await ex.getRun(id);
        if (!r) throw new Error('the run was not recorded');
        return toRunView(r);
      }
      case 'stopRun': {
        const ex = this.requireExperiments();
        const id = str(0, 'run id');
        await ex.stop(id);
        const r = await ex.getRun(id);
        return r ? toRunView(r) : null;
      }
      case 'listRuns': {
        const limit = (args[0] as { limit?: unknown } | undefined)?.limit;
        return (await this.requireExperiments().listRuns({ limit: Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= 500 ? (limit as number) : 50 })).map(toRunView);
      }
      case 'getRun': {
        const r = await this.requireExperiments().getRun(str(0, 'run id'));
        return r ? toRunView(r) : null;
      }
      default:
        throw new Error(`no console method ${method}`);
    }
  }

  private requireExperiments(): Experiments {
    if (!this.experiments) throw new Error('experiments are off (see the console log)');
    return this.experiments;
  }

  /** Stops the load generator, detaches, and stops the local cluster if this console launched it. */
  async close(): Promise<void> {
    this.closed = true;
    this.workload.close();
    await this.experiments?.close().catch(() => undefined);
    await this.history?.close().catch(() => undefined);
    await this.audit?.close().catch(() => undefined);
    await this.detach();
    if (this.local && this.launchedHere) await this.local.stop();
    await this.profiles.close();
  }
}
