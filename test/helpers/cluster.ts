// A real local cluster for integration tests (STYLE 16): `gyre node` child processes on
// loopback, each with its own temp data folder, plus small HTTP helpers. It kills exactly
// the processes it spawned (by pid), never anything found by name, and removes its folder.
//
//   const cluster = new TestCluster({ nodes: 3 });
//   before(() => cluster.start());
//   after(() => cluster.stop());        // or t.after(...) for a per-test cluster
//
// Every wait here is bounded in time and in iterations.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GyreClient, type RawRequest, type RawResponse, header, parseErrorDocument, parseReplicasDocument, parseSiblingsDocument, parseStatusDocument } from '../../node-core/src/client/client.js';
import type { ErrorDocument, ReplicaVersionJson as WireReplicaVersionJson, ReplicasDocument, SiblingJson as WireSiblingJson, SiblingsDocument, StatusDocument } from '../../node-core/src/wire/api.js';
import { internodePortOffset, respPortOffset } from '../../node-core/src/cli/node-settings.js';

export const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node-core', 'src', 'cli', 'gyre.js');

/** Ports are drawn from here, below Linux's default ephemeral range (32768+), so a port we
 *  picked is not handed to some outgoing connection before the node binds it. */
const portLow = 20_000;
/** Below Linux's ephemeral range (32768+) with the node's derived ports (+1000, +2000) too. */
const portHigh = 30_000;
const portAttemptsMax = 200;
export const upTimeoutMs = 30_000;
/**
 * How long every observer may take to see a SIGKILLed node down. The accrual detector waits
 * for stale news of the node's heartbeat to stop arriving by gossip (a few rounds), then for
 * phi to pass its threshold (mean interval + acceptable pause + about 5 standard deviations).
 * Three observers seeing two killed nodes of five took 5.8-8.6 s with one core busy elsewhere;
 * a 10 s bound failed one CI run. Detection speed has its own test (failure-detector.test.ts,
 * and the pause test measures one observer).
 */
export const downTimeoutMs = 30_000;
const pollIntervalMs = 100;
const exitWaitMs = 5_000;
export const requestTimeoutMs = 15_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const portsTaken = new Set<number>();
/** The ports a node takes relative to its client port when not told (node-settings.ts). */
const nodePortOffsets = [0, internodePortOffset, respPortOffset] as const;

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free loopback port in [portLow, portHigh) not handed out before by this process, with the
 * ports a node started on it takes by default (port + 1000 internode, port + 2000 RESP) free too.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < portAttemptsMax; i++) {
    const port = portLow + Math.floor(Math.random() * (portHigh - portLow));
    const slot = nodePortOffsets.map((o) => port + o);
    if (slot.some((p) => portsTaken.has(p))) continue;
    if ((await Promise.all(slot.map(portIsFree))).every(Boolean)) {
      for (const p of slot) portsTaken.add(p);
      return port;
    }
  }
  throw new Error(`no free port found in ${portAttemptsMax} attempts`);
}

// --- HTTP -----------------------------------------------------------------------------

export type HttpResponse = RawResponse;
export type HttpOptions = Omit<RawRequest, 'method' | 'path'>;

/**
 * One HTTP request on a fresh connection (no pooling: a pooled socket to a node we just
 * killed would turn into confusing errors in the next test). `path` is sent byte for byte,
 * so percent-encoding is under the caller's control. The repo's one HTTP client underneath.
 */
export function httpRequest(baseUrl: string, method: string, path: string, opts: HttpOptions & { ca?: Buffer | undefined } = {}): Promise<HttpResponse> {
  const { ca, ...req } = opts;
  return new GyreClient({ failover: false, url: baseUrl, keepAlive: false, timeoutMs: requestTimeoutMs, ...(ca ? { ca } : {}) }).request({ ...req, method, path });
}

export { header };

// The API's documents and their parsers are the client's (node-core/src/client, wire/api.ts).
export type SiblingJson = WireSiblingJson;
export type SiblingsJson = SiblingsDocument;
export type ErrorJson = ErrorDocument;
export type ReplicaVersionJson = WireReplicaVersionJson;
export type ReplicasJson = ReplicasDocument;
/** A Gyre node's status always names its listeners (the contract's minimum need not). */
export type StatusJson = StatusDocument & { readonly listeners: NonNullable<StatusDocument['listeners']> };

/** Parses a JSON body, failing with the body in the message when it is not JSON. */
export function jsonBody(res: HttpResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    throw new Error(`expected a JSON body, got status ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  }
}

/** The `{context, siblings}` form of CONTRACT.md, checked field by field. */
export const parseSiblings: (res: HttpResponse) => SiblingsJson = parseSiblingsDocument;
/** The `{error, message}` form of CONTRACT.md. */
export const parseError: (res: HttpResponse) => ErrorJson = parseErrorDocument;
export const parseReplicas: (res: HttpResponse) => ReplicasJson = parseReplicasDocument;
export function parseStatus(res: HttpResponse): StatusJson {
  const doc = parseStatusDocument(res);
  if (!doc.listeners) throw new Error(`a Gyre node's status without listeners: ${res.body.toString('utf8').slice(0, 300)}`);
  return doc as StatusJson;
}

/** The decoded values of a sibling list, as strings (latin1 keeps arbitrary bytes 1:1). */
export function siblingValues(doc: SiblingsJson, encoding: BufferEncoding = 'utf8'): string[] {
  return doc.siblings.map((s) => Buffer.from(s.value, 'base64').toString(encoding));
}

// --- the cluster ----------------------------------------------------------------------

export interface TestNode {
  readonly id: string;
  readonly port: number;
  readonly dir: string;
  readonly log: string;
  readonly url: string;
  child: ChildProcess | undefined;
  /** Set when the process exited; `expectedExit` tells whether we caused it. */
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  expectedExit: boolean;
}

export interface TestClusterOptions {
  readonly nodes?: number;
  /** Extra flags for every `gyre node`. */
  readonly args?: readonly string[];
  /** false: start the nodes without a cluster token (GYRE_TOKEN unset); default true. */
  readonly token?: boolean;
  /** true: also an admin token (GYRE_ADMIN_TOKEN = `adminToken`); default false. */
  readonly adminToken?: boolean;
  /** false: start the nodes without --allow-faults; default true (most tests inject faults). */
  readonly allowFaults?: boolean;
  /** Flags for one node only, after `args`. */
  readonly argsFor?: (id: string) => readonly string[];
  /** The nodes run TLS (their --tls-* flags go in args/argsFor): requests use https, checked against this CA (PEM). */
  readonly tlsCa?: Buffer;
}

/** Headers that authenticate a client request to a cluster with this token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Pids spawned by any cluster in this process: the exit hook kills whatever is left. */
const livePids = new Set<number>();
/** Temp folders of clusters not stopped yet: the exit hook removes them too. */
const liveRoots = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the runner exits without running `after` hooks: kill only our own pids.
  process.on('exit', cleanUpLeftovers);
  // A runner that stops this file with a signal skips `after` hooks and 'exit' listeners.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanUpLeftovers();
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    });
  }
}

function cleanUpLeftovers(): void {
  killLivePids();
  if (process.env.GYRE_IT_KEEP === '1') return;
  for (const root of liveRoots) rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  liveRoots.clear();
}

function killLivePids(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export class TestCluster {
  readonly root: string;
  /**
   * Each cluster gets its own GYRE_TOKEN. Ports are reused on restart and other clusters
   * (parallel test files, the benchmark) pick ports from the same range: with distinct
   * tokens, a node that reaches a stranger's port cannot merge the two memberships.
   */
  readonly token = randomBytes(16).toString('hex');
  readonly nodes: TestNode[] = [];
  private readonly count: number;
  private readonly args: readonly string[];
  private readonly argsFor: (id: string) => readonly string[];
  /** The CA requests check the nodes' certificates against, when they run TLS. */
  readonly tlsCa: Buffer | undefined;
  private readonly scheme: 'http' | 'https';
  /** Whether the nodes run with `token` (requests still send it; a tokenless node ignores it). */
  readonly tokenRequired: boolean;
  /** The admin token, when the nodes run with one (`adminTokenRequired`). */
  readonly adminToken = randomBytes(16).toString('hex');
  readonly adminTokenRequired: boolean;
  private stopped = false;

  constructor(opts: TestClusterOptions = {}) {
    this.count = opts.nodes ?? 3;
    this.args = [...(opts.args ?? ['--partitions', '16']), ...(opts.allowFaults === false ? [] : ['--allow-faults'])];
    this.tokenRequired = opts.token !== false;
    this.adminTokenRequired = opts.adminToken === true;
    this.argsFor = opts.argsFor ?? (() => []);
    this.tlsCa = opts.tlsCa;
    this.scheme = opts.tlsCa ? 'https' : 'http';
    this.root = mkdtempSync(join(tmpdir(), 'gyre-it-'));
    liveRoots.add(this.root);
    installExitHook();
  }

  /** Picks ports, spawns every node, waits until all see each other up. */
  async start(): Promise<void> {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} not found: build with tsc first`);
    for (let i = 0; i < this.count; i++) {
      const id = `n${i + 1}`;
      const port = await freePort();
      this.nodes.push({ id, port, dir: join(this.root, id), log: join(this.root, `${id}.log`), url: `${this.scheme}://127.0.0.1:${port}`, child: undefined, exited: undefined, expectedExit: false });
    }
    for (const n of this.nodes) this.spawnNode(n);
    await this.waitUntilUp();
  }

  node(id: string): TestNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  url(id: string): string {
    return this.node(id).url;
  }

  pid(id: string): number {
    const pid = this.node(id).child?.pid;
    if (pid === undefined) throw new Error(`node ${id} has no process`);
    return pid;
  }

  /** True while the process we spawned for `id` has not exited. */
  isRunning(id: string): boolean {
    const n = this.node(id);
    if (!n.child || n.exited || n.child.pid === undefined) return false;
    try {
      process.kill(n.child.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  private spawnNode(n: TestNode, seedIds?: readonly string[]): void {
    if (this.stopped) throw new Error('cluster already stopped');
    const seeds = this.nodes.filter((x) => x.id !== n.id && (seedIds === undefined || seedIds.includes(x.id))).map((x) => `127.0.0.1:${x.port}`);
    const args = [cliPath, 'node', '--id', n.id, '--dir', n.dir, '--port', String(n.port), '--host', '127.0.0.1', ...(seeds.length > 0 ? ['--seeds', seeds.join(',')] : []), ...this.args, ...this.argsFor(n.id)];
    const out = openSync(n.log, 'a');
    const env = { ...process.env };
    if (this.tokenRequired) env.GYRE_TOKEN = this.token;
    else delete env.GYRE_TOKEN;
    if (this.adminTokenRequired) env.GYRE_ADMIN_TOKEN = this.adminToken;
    else delete env.GYRE_ADMIN_TOKEN;
    const child = spawn(process.execPath, args, { stdio: ['ignore', out, out], env });
    closeSync(out);
    n.child = child;
    n.exited = undefined;
    n.expectedExit = false;
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not spawn node ${n.id}`);
    livePids.add(pid);
    child.on('exit', (code, signal) => {
      livePids.delete(pid);
      if (n.child === child) n.exited = { code, signal };
    });
  }

  /** SIGKILL one node by its pid and wait until the process is gone. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const n = this.node(id);
    const child = n.child;
    if (!child || n.exited || child.pid === undefined) throw new Error(`node ${id} is not running`);
    n.expectedExit = true;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, signal);
    await Promise.race([gone, sleep(exitWaitMs)]);
    if (!n.exited) throw new Error(`node ${id} (pid ${child.pid}) did not exit within ${exitWaitMs} ms of ${signal}`);
  }

  /** Starts a stopped node again with the same --id, --dir and --port (and every other node as a seed, or only `seedIds`). */
  restart(id: string, seedIds?: readonly string[]): void {
    const n = this.node(id);
    if (this.isRunning(id)) throw new Error(`node ${id} is still running`);
    this.spawnNode(n, seedIds);
  }

  /** Starts one more node (the next free nK) with `seeds` of the running cluster; returns its id. */
  async addNode(seeds: readonly string[]): Promise<string> {
    const id = `n${this.nodes.length + 1}`;
    const port = await freePort();
    const n: TestNode = { id, port, dir: join(this.root, id), log: join(this.root, `${id}.log`), url: `${this.scheme}://127.0.0.1:${port}`, child: undefined, exited: undefined, expectedExit: false };
    this.nodes.push(n);
    this.spawnNode(n, seeds);
    return id;
  }

  /** Sends a signal without waiting for an exit (SIGSTOP/SIGCONT for a paused node). */
  signal(id: string, sig: NodeJS.Signals): void {
    const pid = this.node(id).child?.pid;
    if (pid === undefined || !this.isRunning(id)) return;
    process.kill(pid, sig);
  }

  /** Removes a stopped node's data folder (a disk lost with everything on it). */
  wipe(id: string): void {
    if (this.isRunning(id)) throw new Error(`node ${id} is still running`);
    rmSync(this.node(id).dir, { recursive: true, force: true });
  }

  /** Waits until a node's process exits by itself (e.g. after gyre leave). */
  async waitForExit(id: string, timeoutMs: number): Promise<void> {
    const n = this.node(id);
    n.expectedExit = true;
    for (let i = 0; i < Math.ceil(timeoutMs / pollIntervalMs) + 1 && !n.exited; i++) await sleep(pollIntervalMs);
    if (!n.exited) throw new Error(`node ${id} did not exit within ${timeoutMs} ms\n${this.logTail(id)}`);
  }

  async status(id: string, timeoutMs = 2000): Promise<StatusJson> {
    return parseStatus(await this.request(id, 'GET', '/status', { timeoutMs }));
  }

  /** Waits until each of `observers` reports each of `targets` with `status` in GET /status. */
  async waitForStatus(observers: readonly string[], targets: readonly string[], status: string, timeoutMs = upTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const rounds = Math.ceil(timeoutMs / pollIntervalMs) + 1;
    let last = '';
    for (let i = 0; i < rounds; i++) {
      const views = await Promise.all(
        observers.map(async (o) => {
          try {
            return await this.status(o, 1000);
          } catch (e) {
            return (e as Error).message;
          }
        }),
      );
      // For `up`, also wait until every observer knows each target's current internode
      // address: a restarted node listens on a new port, and a peer that still holds the old
      // one may report it up (its gossip arrives) while every request to it fails.
      const own = new Map<string, string>();
      for (const v of views) if (typeof v !== 'string') own.set(v.node.id, v.listeners.internode);
      const addressOk = (m: { id: string; internode?: string }) => status !== 'up' || m.internode === undefined || own.get(m.id) === undefined || own.get(m.id) === m.internode;
      // For `up`, also wait until the ring is formed as each observer sees it: no transfer
      // pending and every target owning a partition. Joins planned concurrently at start can
      // leave a member owning nothing until it tops up its claim (the todo property in
      // test/core/gossip.test.ts), and then a key's preference list is short of a node.
      const formed = (v: StatusJson) => status !== 'up' || ((v.transfers?.pending?.length ?? 0) === 0 && (v.ring?.owners === undefined || targets.every((t) => v.ring!.owners!.includes(t))));
      const ok = views.every((v) => typeof v !== 'string' && formed(v) && targets.every((t) => v.members.some((m) => m.id === t && m.status === status && addressOk(m))));
      if (ok) return;
      last = JSON.stringify(views.map((v) => (typeof v === 'string' ? v : { node: v.node.id, members: v.members.map((m) => `${m.id}:${m.status}${addressOk(m) ? '' : ':stale-address'}:phi=${m.phi ?? '-'}:age=${m.heartbeatAgeMs ?? '-'}`), formed: formed(v) })));
      const unexpected = this.nodes.filter((n) => observers.includes(n.id) && n.exited && !n.expectedExit);
      if (unexpected.length > 0) throw new Error(`node(s) ${unexpected.map((n) => `${n.id} (${JSON.stringify(n.exited)})`).join(', ')} exited\n${this.logTails(unexpected.map((n) => n.id))}`);
      if (Date.now() > deadline) break;
      await sleep(pollIntervalMs);
    }
    throw new Error(`after ${timeoutMs} ms, not every one of ${observers.join(',')} sees ${targets.join(',')} ${status}; last views: ${last}\n${this.logTails(observers)}`);
  }

  /** Each node's view of the members, for failure messages. */
  async describeViews(): Promise<string> {
    const views = await Promise.all(
      this.nodes.map(async (n) => {
        try {
          const s = await this.status(n.id, 1000);
          return `${n.id}: ${s.members.map((m) => `${m.id}=${m.status}`).join(' ')}`;
        } catch (e) {
          return `${n.id}: ${(e as Error).message}`;
        }
      }),
    );
    return views.join('; ');
  }

  /** Waits until every running node sees every node up. */
  waitUntilUp(timeoutMs = upTimeoutMs): Promise<void> {
    const ids = this.nodes.map((n) => n.id);
    return this.waitForStatus(ids, ids, 'up', timeoutMs);
  }

  logTail(id: string, lines = 30): string {
    const n = this.node(id);
    if (!existsSync(n.log)) return '';
    return readFileSync(n.log, 'utf8').split('\n').filter(Boolean).slice(-lines).join('\n');
  }

  logTails(ids: readonly string[]): string {
    return ids.map((id) => `--- ${id} log ---\n${this.logTail(id)}`).join('\n');
  }

  /** Kills every process this cluster spawned (by pid) and removes its temp folder. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // A node that died without being told to is the first thing to look at when tests fail:
    // its log goes to the test output before the folder is removed.
    for (const n of this.nodes) {
      if (n.exited && !n.expectedExit) console.error(`node ${n.id} exited unexpectedly (${JSON.stringify(n.exited)})\n${this.logTail(n.id, 60)}`);
    }
    // Likewise a running node that does not see every other running node up at the end.
    const running = this.nodes.filter((n) => this.isRunning(n.id)).map((n) => n.id);
    const views = await Promise.all(running.map(async (id) => ({ id, view: await this.status(id, 1000).catch((e: Error) => e.message) })));
    const odd = views.filter((v) => typeof v.view === 'string' || running.some((t) => typeof v.view !== 'string' && !v.view.members.some((m) => m.id === t && m.status === 'up')));
    if (odd.length > 0) {
      const show = (v: (typeof views)[number]) => (typeof v.view === 'string' ? v.view : v.view.members.map((m) => `${m.id}:${m.status}`).join(' '));
      console.error(`at cluster stop, not every running node sees the others up:\n${views.map((v) => `  ${v.id} sees ${show(v)}`).join('\n')}\n${this.logTails(odd.map((v) => v.id))}`);
    }
    await Promise.all(
      this.nodes.map(async (n) => {
        const child = n.child;
        if (!child || n.exited || child.pid === undefined) return;
        n.expectedExit = true;
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          return; // already gone
        }
        await Promise.race([gone, sleep(exitWaitMs)]);
      }),
    );
    // GYRE_IT_KEEP=1 keeps the data folders and node logs for a post-mortem.
    liveRoots.delete(this.root);
    if (process.env.GYRE_IT_KEEP === '1') console.error(`kept ${this.root}`);
    else rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }

  // --- client API shortcuts -------------------------------------------------------------

  /** An HTTP request to one node, with the cluster token unless `headers` sets authorization. */
  async request(id: string, method: string, path: string, opts: HttpOptions = {}): Promise<HttpResponse> {
    try {
      return await httpRequest(this.url(id), method, path, { ...opts, ca: this.tlsCa, headers: { ...bearer(this.token), ...(opts.headers ?? {}) } });
    } catch (e) {
      const n = this.node(id);
      if (n.exited && !n.expectedExit) throw new Error(`${(e as Error).message}: node ${id} exited unexpectedly (${JSON.stringify(n.exited)})\n${this.logTail(id, 60)}`, { cause: e });
      throw e;
    }
  }

  get(id: string, key: string, query = '', headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.request(id, 'GET', `/kv/${key}${query ? `?${query}` : ''}`, { headers });
  }

  put(id: string, key: string, value: Buffer | string, opts: { context?: string | undefined; contentType?: string; query?: string; timeoutMs?: number } = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'text/plain' };
    if (opts.context !== undefined) headers['x-gyre-context'] = opts.context;
    return this.request(id, 'PUT', `/kv/${key}${opts.query ? `?${opts.query}` : ''}`, { headers, body: value, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
  }

  del(id: string, key: string, opts: { context?: string | undefined; query?: string } = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (opts.context !== undefined) headers['x-gyre-context'] = opts.context;
    return this.request(id, 'DELETE', `/kv/${key}${opts.query ? `?${opts.query}` : ''}`, { headers });
  }

  async replicas(id: string, key: string): Promise<ReplicasJson> {
    const res = await this.request(id, 'GET', `/replicas/${key}`);
    if (res.status !== 200) throw new Error(`GET /replicas/${key} on ${id}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
    return parseReplicas(res);
  }
}

/**
 * Runs a request that needs every replica (r=3 or w=3), again after a pause while it answers
 * 503: a peer the failure detector briefly suspects is not what the tests using it are about.
 */
export async function allReplicas(run: () => Promise<HttpResponse>, tries = 20): Promise<HttpResponse> {
  let res = await run();
  for (let i = 0; i < tries && res.status === 503; i++) {
    await sleep(500);
    res = await run();
  }
  return res;
}

/** A process's resident memory in bytes (from /proc), or undefined where there is none. */
export function rssBytes(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** A key unique to this run, safe to put in a path as is. */
export function uniqueKey(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
