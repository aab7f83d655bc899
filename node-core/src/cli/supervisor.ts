// The local supervisor: launches, stops, kills and restarts a cluster of node processes on
// this machine, with one data folder holding every node's data, its log and cluster.json
// (who runs where, with which pid). Plain Node, no Electron: `gyre up` and the console use it.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, fstatSync, readSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { GyreClient } from '../client/client.js';
import { internodePortOffset, respPortOffset } from './node-settings.js';

export interface LocalNodeSpec {
  readonly id: string;
  readonly port: number;
  readonly dir: string;
  readonly log: string;
  pid: number | undefined;
}

export interface ClusterFile {
  readonly nodes: LocalNodeSpec[];
  readonly startedAt: string;
}

export interface LocalClusterOptions {
  readonly dir: string;
  readonly nodes: number;
  readonly port: number;
  readonly host?: string;
  readonly token?: string | undefined;
  /** Extra arguments for every `gyre node` (e.g. --partitions). */
  readonly nodeArgs?: readonly string[];
}

/** The `gyre` command itself: every node of a local cluster is `gyre node`. */
const cliPath = join(dirname(fileURLToPath(import.meta.url)), 'gyre.js');
export const readyTimeoutMs = 30_000;
export const stopTimeoutMs = 10_000;
/** A node that does not answer GET /status this fast counts as not up yet. */
const statusPollTimeoutMs = 1000;

/** The last `lines` lines of a file, reading at most its last `maxBytes` bytes (a partial first line is dropped). */
export function tailFile(path: string, lines: number, maxBytes = 1 << 20): string[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const all = buf.toString('utf8').split('\n');
    if (len < size) all.shift();
    return all.filter(Boolean).slice(-lines);
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True if `pid` is a gyre node process for `id` (guards against a recycled pid). */
function isOurNode(pid: number | undefined, id: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.some((a) => a.endsWith('gyre.js') || a.endsWith('cli.js')) /* cli.js: nodes started by builds before the cli/ folder */ && cmd.includes('node') && cmd.includes(id);
  } catch {
    return true; // no /proc (macOS): trust the pid file
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free loopback ports (a local cluster uses PORT, PORT+1, ...), with the
 * ports each node takes beside it (internode at +1000, RESP at +2000) free too, all drawn below
 * Linux's ephemeral range (32768+) so an outgoing connection does not take one first.
 */
export async function freePortRange(count: number, random: () => number = Math.random, attempts = 100): Promise<number> {
  const span = respPortOffset + count;
  for (let i = 0; i < attempts; i++) {
    const base = 20_000 + Math.floor(random() * (12_000 - span));
    const ports = [0, internodePortOffset, respPortOffset].flatMap((o) => Array.from({ length: count }, (_, j) => base + o + j));
    const checks = await Promise.all(ports.map(portFree));
    if (checks.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/**
 * A local cluster is the operator's playground (gyre up, the console's own cluster, the chaos
 * run): its nodes consent to fault injection. A node started by hand does not, unless told.
 */
const localNodeArgs = ['--allow-faults'];

export class LocalCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: LocalNodeSpec[],
    private readonly host: string,
    private readonly token: string | undefined,
    private readonly nodeArgs: readonly string[],
  ) {}

  static clusterFile(dir: string): string {
    return join(dir, 'cluster.json');
  }

  /** The cluster recorded in `dir`, if any. */
  static load(dir: string, token?: string): LocalCluster | undefined {
    const f = LocalCluster.clusterFile(dir);
    if (!existsSync(f)) return undefined;
    const data = JSON.parse(readFileSync(f, 'utf8')) as ClusterFile;
    return new LocalCluster(dir, data.nodes, '127.0.0.1', token, []);
  }

  static create(opts: LocalClusterOptions): LocalCluster {
    const nodes: LocalNodeSpec[] = [];
    for (let i = 0; i < opts.nodes; i++) {
      const id = `n${i + 1}`;
      nodes.push({ id, port: opts.port + i, dir: join(opts.dir, id), log: join(opts.dir, `${id}.log`), pid: undefined });
    }
    return new LocalCluster(opts.dir, nodes, opts.host ?? '127.0.0.1', opts.token, opts.nodeArgs ?? []);
  }

  url(id: string): string {
    const n = this.node(id);
    return `http://${this.host}:${n.port}`;
  }

  urls(): string[] {
    return this.nodes.map((n) => this.url(n.id));
  }

  node(id: string): LocalNodeSpec {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id} in this cluster`);
    return n;
  }

  running(): LocalNodeSpec[] {
    return this.nodes.filter((n) => isOurNode(n.pid, n.id));
  }

  private save(): void {
    mkdirSync(this.dir, { recursive: true });
    const data: ClusterFile = { nodes: this.nodes, startedAt: new Date().toISOString() };
    writeFileSync(LocalCluster.clusterFile(this.dir), JSON.stringify(data, null, 2));
  }

  /** Starts one node process (detached, so it outlives a `gyre up` that exits). */
  startNode(id: string): number {
    const n = this.node(id);
    if (isOurNode(n.pid, n.id)) return n.pid!;
    mkdirSync(this.dir, { recursive: true });
    const seeds = this.nodes.filter((x) => x.id !== id).map((x) => `${this.host}:${x.port}`);
    const args = [cliPath, 'node', '--id', n.id, '--dir', n.dir, '--port', String(n.port), '--host', this.host, ...(seeds.length ? ['--seeds', seeds.join(',')] : []), ...localNodeArgs, ...this.nodeArgs];
    const out = openSync(n.log, 'a');
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', out, out],
      // Inside the desktop app process.execPath is Electron's binary: run it as plain Node
      // (the packaged app's native modules are built for it).
      env: { ...process.env, ...(process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}), ...(this.token ? { GYRE_TOKEN: this.token } : {}) },
    });
    closeSync(out);
    child.unref();
    n.pid = child.pid;
    this.save();
    return child.pid!;
  }

  start(): void {
    for (const n of this.nodes) this.startNode(n.id);
  }

  /** The id the next node added would get (n1, n2, ...: one more than the highest). */
  nextNodeId(): string {
    const taken = this.nodes.map((n) => Number(/^n(\d+)$/.exec(n.id)?.[1] ?? 0));
    return `n${Math.max(0, ...taken) + 1}`;
  }

  /**
   * Adds a node to the cluster file and starts it with every other node as a seed: it joins
   * (Dynamo 4.8.1, an explicit join) and claims its share. Takes the port after the highest in
   * use when it and its internode and RESP ports are free, else any free range.
   */
  async addNode(): Promise<LocalNodeSpec> {
    const id = this.nextNodeId();
    const next = Math.max(...this.nodes.map((n) => n.port)) + 1;
    const free = (await Promise.all([next, next + internodePortOffset, next + respPortOffset].map(portFree))).every(Boolean);
    const port = free ? next : await freePortRange(1);
    const spec: LocalNodeSpec = { id, port, dir: join(this.dir, id), log: join(this.dir, `${id}.log`), pid: undefined };
    this.nodes.push(spec);
    this.save();
    this.startNode(id);
    return spec;
  }

  /** Stops a node that left the cluster and drops it from the cluster file (its data folder stays). */
  async removeNode(id: string): Promise<void> {
    await this.stopNode(id);
    const i = this.nodes.findIndex((n) => n.id === id);
    if (i >= 0) this.nodes.splice(i, 1);
    this.save();
  }

  /** Sends a signal to one node: SIGTERM to stop cleanly, SIGKILL to crash it, SIGSTOP/SIGCONT to pause. */
  signal(id: string, sig: NodeJS.Signals): void {
    const n = this.node(id);
    if (!isOurNode(n.pid, n.id)) throw new Error(`node ${id} is not running`);
    process.kill(n.pid!, sig);
  }

  async stopNode(id: string, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const n = this.node(id);
    if (!isOurNode(n.pid, n.id)) return;
    process.kill(n.pid!, sig);
    const deadline = Date.now() + stopTimeoutMs;
    while (isAlive(n.pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(n.pid)) process.kill(n.pid!, 'SIGKILL');
    while (isAlive(n.pid)) await sleep(20);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopNode(n.id)));
    rmSync(LocalCluster.clusterFile(this.dir), { force: true });
  }

  async restartNode(id: string): Promise<void> {
    await this.stopNode(id);
    this.startNode(id);
  }

  /** The last `lines` lines of a node's log (read from its last `maxBytes` bytes at most). */
  tail(id: string, lines = 50, maxBytes = 1 << 20): string[] {
    return tailFile(this.node(id).log, lines, maxBytes);
  }

  /** Waits until every node reports every other node `up` in GET /status. */
  async waitUntilUp(timeoutMs = readyTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ids = this.nodes.map((n) => n.id);
    const clients = this.nodes.map((n) => new GyreClient({ failover: false, url: this.url(n.id), token: this.token, keepAlive: false, timeoutMs: statusPollTimeoutMs }));
    for (;;) {
      const views = await Promise.all(
        clients.map(async (c) => {
          try {
            return (await c.status()).members;
          } catch {
            return undefined;
          }
        }),
      );
      if (views.every((m) => m && ids.every((id) => m.some((x) => x.id === id && x.status === 'up')))) return;
      const dead = this.nodes.filter((n) => !isAlive(n.pid));
      if (dead.length > 0) throw new Error(`node(s) ${dead.map((n) => n.id).join(', ')} exited; see ${dead.map((n) => n.log).join(', ')}`);
      if (Date.now() > deadline) throw new Error(`cluster not up after ${timeoutMs} ms`);
      await sleep(200);
    }
  }
}
