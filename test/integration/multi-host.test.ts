// Three nodes on three "hosts" (deployment issue: --advertise behind a wildcard bind). Each
// host is a Linux network namespace this test creates, with its own address on a private /24;
// each node runs from its own config file (--config: host 0.0.0.0, advertise, seeds, a token
// file) with the default internode and RESP ports (+1000, +2000). What it proves: a node bound to a
// wildcard announces an address peers and clients can reach, and the cluster forms, replicates,
// is partitioned and heals across real distinct IPs, never loopback. Real processes (STYLE 16).
//
// Needs root and `ip netns` (skipped otherwise). The hosts hang off a bridge that lives in a
// namespace of its own (the "switch"), not in the root namespace: frames bridged there pass
// through that namespace's empty netfilter tables, so a host firewall (Docker's FORWARD DROP
// with br_netfilter on) cannot drop traffic between the hosts. The test process reaches the
// hosts through one veth from the root namespace to the switch. A cut is a switch port taken
// down (no tc netem needed: it is not on every kernel).
//
// Everything created is named with a per-run prefix, recorded once created, and removed in
// `after` (and on exit or SIGINT/SIGTERM if `after` never runs): only what this run made.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type HttpResponse, type StatusJson, bearer, header, httpRequest, parseReplicas, parseStatus, sleep, uniqueKey } from '../helpers/cluster.js';
import { internodePortOffset, respPortOffset } from '../../node-core/src/cli/node-settings.js';

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node-core', 'src', 'cli', 'gyre.js');
const helpersUrl = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'cluster.js')).href;

const hostCount = 3;
// Fixed ports: every namespace has a port space of its own.
const httpPort = 7070;
/** Not given to the nodes: the defaults that follow the client port (node-settings.ts), as a firewall would be told. */
const internodePort = httpPort + internodePortOffset;
const respPort = httpPort + respPortOffset;
/** How long `ip` may take for one change (it is near instant; a hung one is a broken host). */
const ipTimeoutMs = 10_000;
const formTimeoutMs = 30_000;
/** Every observer sees a cut-off host down (the accrual detector; see downTimeoutMs in cluster.ts). */
const detectTimeoutMs = 30_000;
const catchUpTimeoutMs = 30_000;
const pollIntervalMs = 200;
const statusTimeoutMs = 1_000;
const requestTimeoutMs = 10_000;
/** A request made from inside a host's namespace also waits for a node process to start. */
const insideMarginMs = 5_000;
const exitWaitMs = 5_000;
const prefixAttemptsMax = 50;
const logTailLines = 40;

// --- the network ----------------------------------------------------------------------

interface IpResult {
  readonly ok: boolean;
  readonly out: string;
  readonly why: string;
}

function ipRun(args: readonly string[]): IpResult {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: ipTimeoutMs });
  if (r.error) return { ok: false, out: '', why: r.error.message };
  return { ok: r.status === 0, out: r.stdout, why: r.stderr.trim() || `exit ${String(r.status ?? r.signal)}` };
}

function ip(args: readonly string[]): string {
  const r = ipRun(args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.why}`);
  return r.out;
}

function netnsNames(): Set<string> {
  // `ip netns list` prints "name" or "name (id: N)".
  return new Set(ip(['netns', 'list']).split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean));
}

const linkExists = (name: string): boolean => ipRun(['link', 'show', 'dev', name]).ok;

/** An IPv4 address as a 32-bit unsigned number, or undefined if `s` is not one. */
function ipv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((a, p) => a * 256 + p, 0);
}

const routeTypes = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat']);

/**
 * The first 10.213.x.0/24 (x from the pid, so parallel runs start apart) inside which the root
 * namespace has no address and no route. A broader route (a 10.0.0.0/8 VPN) is not a clash:
 * for the test's few seconds the /24 is more specific.
 */
function pickSubnet(): string {
  const taken: { base: number; len: number }[] = [];
  for (const line of ip(['-4', 'route', 'show', 'table', 'all']).split('\n')) {
    // "[type] dest ...": dest is a prefix, an address, or "default".
    const words = line.trim().split(/\s+/);
    const dest = routeTypes.has(words[0] ?? '') ? words[1] : words[0];
    if (!dest || dest === 'default') continue;
    const [addr, len] = dest.split('/');
    const base = ipv4(addr ?? '');
    if (base !== undefined) taken.push({ base, len: len === undefined ? 32 : Number(len) });
  }
  for (let i = 0; i < 250; i++) {
    const x = 1 + ((process.pid + i) % 250);
    const lo = ipv4(`10.213.${x}.0`)!;
    const inside = (t: { base: number; len: number }) => t.len >= 24 && t.base >= lo && t.base < lo + 256;
    if (!taken.some(inside)) return `10.213.${x}`;
  }
  throw new Error('every 10.213.x.0/24 is in use on this host');
}

/**
 * The switch namespace with its bridge, one host namespace per node, and a veth from the root
 * namespace so the test can reach the hosts. Port k of the switch is `${p}s${k}`, its far end
 * `${p}e${k}` (k = 0: the root namespace's end; k = i: host i's). Names stay within 15 characters.
 */
class Network {
  readonly prefix: string;
  readonly subnet: string;
  /** Namespaces and root-namespace links this run created, in creation order. */
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];

  constructor() {
    const existing = netnsNames();
    let prefix: string | undefined;
    for (let i = 0; i < prefixAttemptsMax && prefix === undefined; i++) {
      const p = `gy${String((process.pid + i) % 10_000).padStart(4, '0')}`;
      const names = [`${p}sw`, ...Array.from({ length: hostCount }, (_, h) => `${p}h${h + 1}`)];
      if (!names.some((n) => existing.has(n)) && !linkExists(`${p}e0`)) prefix = p;
    }
    if (prefix === undefined) throw new Error(`no unused gyNNNN prefix in ${prefixAttemptsMax} attempts (leftovers? see ip netns list)`);
    this.prefix = prefix;
    this.subnet = pickSubnet();
  }

  get switchNs(): string {
    return `${this.prefix}sw`;
  }

  hostNs(i: number): string {
    return `${this.prefix}h${i}`;
  }

  /** Host i's address (1-based); the root namespace's end is .1. */
  address(i: number): string {
    return `${this.subnet}.${10 + i}`;
  }

  get rootAddress(): string {
    return `${this.subnet}.1`;
  }

  private addNamespace(name: string): void {
    ip(['netns', 'add', name]);
    this.namespaces.push(name);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
  }

  create(): void {
    const p = this.prefix;
    const sw = this.switchNs;
    this.addNamespace(sw);
    // A bridge starts with STP off, so a port forwards as soon as its link is up.
    ip(['-n', sw, 'link', 'add', `${p}br`, 'type', 'bridge']);
    ip(['-n', sw, 'link', 'set', `${p}br`, 'up']);
    ip(['link', 'add', `${p}e0`, 'type', 'veth', 'peer', 'name', `${p}s0`, 'netns', sw]);
    this.rootLinks.push(`${p}e0`);
    ip(['-n', sw, 'link', 'set', `${p}s0`, 'master', `${p}br`, 'up']);
    ip(['addr', 'add', `${this.rootAddress}/24`, 'dev', `${p}e0`]);
    ip(['link', 'set', `${p}e0`, 'up']);
    for (let i = 1; i <= hostCount; i++) {
      const ns = this.hostNs(i);
      this.addNamespace(ns);
      ip(['-n', sw, 'link', 'add', `${p}s${i}`, 'type', 'veth', 'peer', 'name', `${p}e${i}`, 'netns', ns]);
      ip(['-n', sw, 'link', 'set', `${p}s${i}`, 'master', `${p}br`, 'up']);
      ip(['-n', ns, 'addr', 'add', `${this.address(i)}/24`, 'dev', `${p}e${i}`]);
      ip(['-n', ns, 'link', 'set', `${p}e${i}`, 'up']);
    }
  }

  /** Unplugs host i from the switch: its link loses carrier, nothing gets in or out. */
  cut(i: number): void {
    ip(['-n', this.switchNs, 'link', 'set', `${this.prefix}s${i}`, 'down']);
  }

  heal(i: number): void {
    ip(['-n', this.switchNs, 'link', 'set', `${this.prefix}s${i}`, 'up']);
  }

  /** Listening TCP sockets in host i's namespace, as `ss` prints their local address. */
  listening(i: number): string[] {
    const r = spawnSync('ip', ['netns', 'exec', this.hostNs(i), 'ss', '-Hltn'], { encoding: 'utf8', timeout: ipTimeoutMs });
    if (r.error || r.status !== 0) throw new Error(`ss in ${this.hostNs(i)}: ${r.error?.message ?? r.stderr}`);
    return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[3] ?? '').filter(Boolean);
  }

  /**
   * Removes what this run created and nothing else; safe to call again. The root end of the
   * uplink goes first and explicitly: a namespace's devices are freed asynchronously after
   * `ip netns del`, and a veth end left in the root namespace would outlive the check.
   * Callers kill the processes inside first (a namespace lives on while a process is in it).
   */
  destroy(): string[] {
    const problems: string[] = [];
    for (const link of this.rootLinks.splice(0).reverse()) {
      if (!linkExists(link)) continue;
      const r = ipRun(['link', 'del', 'dev', link]);
      if (!r.ok) problems.push(`ip link del ${link}: ${r.why}`);
    }
    const existing = netnsNames();
    for (const ns of this.namespaces.splice(0).reverse()) {
      if (!existing.has(ns)) continue;
      const r = ipRun(['netns', 'del', ns]);
      if (!r.ok) problems.push(`ip netns del ${ns}: ${r.why}`);
    }
    return problems;
  }
}

// --- the nodes ------------------------------------------------------------------------

interface HostNode {
  readonly id: string;
  /** 1-based host number. */
  readonly host: number;
  readonly address: string;
  readonly url: string;
  readonly dir: string;
  readonly log: string;
  child: ChildProcess | undefined;
  exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  expectedExit: boolean;
  /** Unplugged from the switch: the test reaches it only from inside its namespace. */
  cut: boolean;
}

const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GYRE_')));

function logTail(n: HostNode, lines = logTailLines): string {
  if (!existsSync(n.log)) return `--- ${n.id}: no log ---`;
  return `--- ${n.id} log ---\n${readFileSync(n.log, 'utf8').split('\n').filter(Boolean).slice(-lines).join('\n')}`;
}

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, veth, bridge)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: ipTimeoutMs });
  if (r.error || r.status !== 0) return `ip netns is unavailable: ${r.error?.message ?? r.stderr.trim()}`;
  return false;
}

describe('three nodes on three hosts (network namespaces), bound to 0.0.0.0 with --advertise', { skip: skipReason() }, () => {
  let net: Network | undefined;
  let root: string | undefined;
  const token = randomBytes(32).toString('base64');
  const nodes: HostNode[] = [];
  /** Short-lived clients running inside a host's namespace. */
  const probes = new Set<ChildProcess>();
  let cleaned = false;

  const node = (id: string): HostNode => {
    const n = nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  };
  const addressOf = (id: string): string => node(id).address;
  const ids = (): string[] => nodes.map((n) => n.id);
  const tails = (): string => nodes.map((n) => logTail(n)).join('\n');

  /** SIGKILLs each node's process group (ip netns exec may fork node), by the pid we spawned. */
  function killNodes(): void {
    for (const p of probes) if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) killGroup(p.pid);
    for (const n of nodes) {
      const pid = n.child?.pid;
      if (pid === undefined || n.exited) continue;
      n.expectedExit = true;
      killGroup(pid);
    }
  }

  function killGroup(pid: number): void {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Synchronous, idempotent: also what the exit hook runs when `after` never does. */
  function cleanUp(): string[] {
    if (cleaned) return [];
    cleaned = true;
    killNodes();
    const problems = net?.destroy() ?? [];
    if (root && process.env.GYRE_IT_KEEP !== '1') rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    return problems;
  }

  const onExit = (): void => void cleanUp();
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanUp();
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  };

  function spawnNode(n: HostNode): void {
    assert.ok(net && root);
    const seeds = nodes.filter((x) => x.id !== n.id).map((x) => `${x.address}:${httpPort}`);
    // Each host runs from its own config file, as deploy/config/node.example.json shows; the
    // token comes from its file, named relative to the config file's folder.
    const config = join(root, `${n.id}.json`);
    writeFileSync(config, JSON.stringify({ id: n.id, dir: n.dir, host: '0.0.0.0', advertise: n.address, port: httpPort, seeds, tokenFile: 'token', partitions: 16 }, null, 2));
    const args = ['netns', 'exec', net.hostNs(n.host), process.execPath, cliPath, 'node', '--config', config];
    const out = openSync(n.log, 'a');
    // detached: the node leads a process group of its own, which cleanup kills as a whole.
    const child = spawn('ip', args, { detached: true, stdio: ['ignore', out, out], env: cleanEnv() });
    closeSync(out);
    n.child = child;
    child.on('exit', (code, signal) => {
      n.exited = { code, signal };
    });
    if (child.pid === undefined) throw new Error(`could not spawn ${n.id}`);
  }

  interface RequestOptions {
    readonly body?: string;
    readonly headers?: Record<string, string>;
    readonly timeoutMs?: number;
  }

  /**
   * A request to a node, with the token. To a node that is cut off, it is made by a client
   * on its own host: the repo's httpRequest run in a node process inside that namespace.
   */
  function request(id: string, method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    const n = node(id);
    const req = { ...opts, headers: { ...bearer(token), ...(opts.headers ?? {}) }, timeoutMs: opts.timeoutMs ?? requestTimeoutMs };
    if (!n.cut) return httpRequest(n.url, method, path, req);
    assert.ok(net);
    // The request (with the token) goes in the environment: ps shows argv.
    const script = `const [helpers, url, method, path] = process.argv.slice(1);
const { httpRequest } = await import(helpers);
const res = await httpRequest(url, method, path, JSON.parse(process.env.MULTI_HOST_REQUEST));
process.stdout.write(JSON.stringify({ status: res.status, headers: res.headers, body: res.body.toString('base64') }));`;
    const child = spawn('ip', ['netns', 'exec', net.hostNs(n.host), process.execPath, '--input-type=module', '-e', script, helpersUrl, n.url, method, path], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...cleanEnv(), MULTI_HOST_REQUEST: JSON.stringify(req) } });
    probes.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const limit = setTimeout(() => child.pid !== undefined && killGroup(child.pid), req.timeoutMs + insideMarginMs);
    return new Promise<HttpResponse>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(limit);
        probes.delete(child);
        if (code !== 0) return reject(new Error(`${method} ${path} from inside ${id}'s host: ${signal ?? `exit ${String(code)}`} ${err.trim().split('\n').slice(-3).join(' ')}`));
        try {
          const r = JSON.parse(out) as { status: number; headers: HttpResponse['headers']; body: string };
          resolve({ status: r.status, headers: r.headers, body: Buffer.from(r.body, 'base64') });
        } catch (e) {
          reject(new Error(`${method} ${path} from inside ${id}'s host: ${(e as Error).message}: ${out.slice(0, 200)}`));
        }
      });
    });
  }

  async function status(id: string): Promise<{ doc: StatusJson; raw: string }> {
    const res = await request(id, 'GET', '/status', { timeoutMs: statusTimeoutMs });
    return { doc: parseStatus(res), raw: res.body.toString('utf8') };
  }

  /**
   * Polls `probe` until it reports ok or `timeoutMs` passes; returns the ms it took. Only for
   * conditions that become true eventually (membership, handoff); the timeout says what was
   * last seen, with the nodes' logs. A node that exits on its own ends the wait at once.
   */
  async function waitFor(what: string, timeoutMs: number, probe: () => Promise<{ ok: boolean; seen: string }>): Promise<number> {
    const started = Date.now();
    let seen = '(never probed)';
    for (let i = 0; i < Math.ceil(timeoutMs / pollIntervalMs) + 1; i++) {
      try {
        const r = await probe();
        if (r.ok) return Date.now() - started;
        seen = r.seen;
      } catch (e) {
        seen = (e as Error).message;
      }
      const dead = nodes.filter((n) => n.exited && !n.expectedExit);
      if (dead.length > 0) throw new Error(`${what}: node(s) exited: ${dead.map((n) => `${n.id} ${JSON.stringify(n.exited)}`).join(', ')}\n${tails()}`);
      if (Date.now() - started > timeoutMs) break;
      await sleep(pollIntervalMs);
    }
    throw new Error(`${what}: not within ${timeoutMs} ms; last seen: ${seen}\n${tails()}`);
  }

  /** Each of `observers` sees each of `targets` with `state`; for `up`, the ring formed too. */
  const membership = (observers: readonly string[], targets: readonly string[], state: string) => async (): Promise<{ ok: boolean; seen: string }> => {
    const views = await Promise.all(observers.map((o) => status(o).then((s) => s.doc, (e: Error) => `${o}: ${e.message}`)));
    // Joins planned at once can leave a member owning nothing for a moment, and then a key's
    // preference list is short of a node (as TestCluster.waitForStatus waits for too).
    const formed = (v: StatusJson) => state !== 'up' || ((v.transfers?.pending?.length ?? 0) === 0 && targets.every((t) => v.ring?.owners?.includes(t) ?? true));
    const ok = views.every((v) => typeof v !== 'string' && formed(v) && targets.every((t) => v.members.some((m) => m.id === t && m.status === state)));
    const seen = views.map((v) => (typeof v === 'string' ? v : `${v.node.id} sees ${v.members.map((m) => `${m.id}=${m.status}@${m.address}`).join(' ')}${formed(v) ? '' : ' (ring not formed)'}`)).join('; ');
    return { ok, seen };
  };

  /** What one replica of `key` holds, read from it directly (no read repair), as values. */
  async function replicaValues(via: string, key: string, replica: string): Promise<{ reachable: boolean; values: string[] }> {
    const res = await request(via, 'GET', `/replicas/${key}?values=true`);
    assert.equal(res.status, 200, `GET /replicas/${key} via ${via}: ${res.body.toString('utf8').slice(0, 200)}`);
    const entry = parseReplicas(res).replicas.find((r) => r.node === replica);
    assert.ok(entry, `${replica} is in the preference list of ${key}`);
    return { reachable: entry.reachable, values: entry.versions.map((v) => (v.deleted ? '<tombstone>' : Buffer.from(v.value ?? '', 'base64').toString('utf8'))) };
  }

  before(async () => {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} not found: build with tsc first`);
    process.on('exit', onExit);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    root = mkdtempSync(join(tmpdir(), 'gyre-mh-'));
    // A strong token, as `openssl rand -base64 32` makes: protected mode refuses a weak one off loopback.
    writeFileSync(join(root, 'token'), `${token}\n`, { mode: 0o600 });
    net = new Network();
    net.create();
    for (let i = 1; i <= hostCount; i++) {
      const id = `h${i}`;
      const address = net.address(i);
      nodes.push({ id, host: i, address, url: `http://${address}:${httpPort}`, dir: join(root, id), log: join(root, `${id}.log`), child: undefined, exited: undefined, expectedExit: false, cut: false });
    }
    for (const n of nodes) spawnNode(n);
    await waitFor('every node sees every node up', formTimeoutMs, membership(ids(), ids(), 'up'));
  }, { timeout: formTimeoutMs + 15_000 });

  after(async () => {
    for (const n of nodes) if (n.exited && !n.expectedExit) console.error(`node ${n.id} exited unexpectedly (${JSON.stringify(n.exited)})\n${logTail(n, 80)}`);
    const gone = nodes.map((n) => (n.child && !n.exited ? new Promise<void>((r) => n.child!.once('exit', () => r())) : Promise.resolve()));
    killNodes();
    // unref: a pending timer would hold the test process open after the nodes are gone.
    await Promise.race([Promise.all(gone), new Promise<void>((r) => setTimeout(r, exitWaitMs).unref())]);
    const problems = cleanUp();
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    assert.deepEqual(problems, [], 'the network this run created is gone');
  });

  test('a node started with --host 0.0.0.0 listens on the wildcard address with its client, internode and RESP ports', () => {
    assert.ok(net);
    for (const n of nodes) {
      const local = net.listening(n.host);
      for (const port of [httpPort, internodePort, respPort]) {
        const bound = local.filter((a) => a.endsWith(`:${port}`));
        assert.ok(bound.length > 0 && bound.every((a) => ['0.0.0.0', '*', '[::]'].includes(a.slice(0, a.lastIndexOf(':')))), `${n.id} listens on the wildcard for port ${port}: ${local.join(' ')}`);
      }
    }
  });

  test('every node sees all three members up, each at its host address (never 0.0.0.0 or loopback)', async () => {
    for (const n of nodes) {
      const { doc, raw } = await status(n.id);
      assert.equal(doc.node.id, n.id);
      if (doc.node.address !== undefined) assert.equal(doc.node.address, `${n.address}:${httpPort}`, `${n.id}: node.address`);
      assert.equal(doc.listeners.http, `${n.address}:${httpPort}`, `${n.id}: listeners.http`);
      assert.equal(doc.listeners.internode, `${n.address}:${internodePort}`, `${n.id}: listeners.internode`);
      assert.equal(doc.listeners.resp, `${n.address}:${respPort}`, `${n.id}: listeners.resp`);
      assert.deepEqual(doc.members.map((m) => m.id).sort(), ids(), `${n.id}'s members`);
      for (const m of doc.members) {
        assert.equal(m.status, 'up', `${n.id} sees ${m.id} up`);
        assert.equal(m.address, `${addressOf(m.id)}:${httpPort}`, `${n.id} sees ${m.id}'s client address`);
        assert.equal(m.internode, `${addressOf(m.id)}:${internodePort}`, `${n.id} sees ${m.id}'s internode address`);
      }
      for (const bad of ['0.0.0.0', '127.0.0.1', 'localhost', '[::]']) assert.ok(!raw.includes(bad), `${n.id}'s /status mentions ${bad}: ${raw}`);
    }
  });

  test('Dynamo 4.5: a write acknowledged by W=3 through h1 is read at R=1 on h2 and on h3', async () => {
    const key = uniqueKey('mh-w3');
    const put = await request('h1', 'PUT', `/kv/${key}?w=3`, { body: 'across-hosts', headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 204, `PUT w=3 via h1: ${put.body.toString('utf8')}`);
    for (const id of ['h2', 'h3']) {
      const got = await request(id, 'GET', `/kv/${key}?r=1`);
      assert.equal(got.status, 200, `GET r=1 via ${id}: ${got.body.toString('utf8')}`);
      assert.equal(got.body.toString('utf8'), 'across-hosts', `GET r=1 via ${id}`);
    }
  });

  test('Dynamo 4.6: with h3 cut off, writes at W=2 through h1 succeed and are hinted; once healed, h3 serves them at R=1', { timeout: 90_000 }, async (t) => {
    assert.ok(net);
    const key = uniqueKey('mh-cut');
    const later = uniqueKey('mh-late');
    const first = await request('h1', 'PUT', `/kv/${key}?w=3`, { body: 'before', headers: { 'content-type': 'text/plain' } });
    assert.equal(first.status, 204, `PUT w=3 before the cut: ${first.body.toString('utf8')}`);
    const context = header(first, 'x-gyre-context');
    assert.ok(context, 'the PUT returns a context');

    net.cut(3);
    node('h3').cut = true;
    const cutAt = Date.now();
    try {
      // Before anyone sees h3 down: h1 still sends h3 its replica, which fails; the coordinator keeps a hint.
      const during = await request('h1', 'PUT', `/kv/${key}?w=2`, { body: 'after', headers: { 'content-type': 'text/plain', 'x-gyre-context': context } });
      assert.equal(during.status, 204, `PUT w=2 via h1 right after the cut: ${during.body.toString('utf8')}`);
      // Once h3 is seen down it is placed out, and the node keeping the extra hint holds it.
      await waitFor('h1 and h2 see h3 down, and h3 sees them down', detectTimeoutMs, async () => {
        const a = await membership(['h1', 'h2'], ['h3'], 'down')();
        const b = await membership(['h3'], ['h1', 'h2'], 'down')();
        return { ok: a.ok && b.ok, seen: `${a.seen}; ${b.seen}` };
      });
      t.diagnostic(`h3 seen down on both sides of the cut ${Date.now() - cutAt} ms after it`);
      const detected = await request('h1', 'PUT', `/kv/${later}?w=2`, { body: 'while-down', headers: { 'content-type': 'text/plain' } });
      assert.equal(detected.status, 204, `PUT w=2 via h1 with h3 seen down: ${detected.body.toString('utf8')}`);
      await waitFor('h1 and h2 hold hints for h3', 10_000, async () => {
        const pending = await Promise.all(['h1', 'h2'].map(async (id) => (await status(id)).doc.hintsPending));
        return { ok: pending.reduce((a, b) => a + b, 0) >= 2, seen: `hintsPending h1=${pending[0]} h2=${pending[1]}` };
      });
      // The cut is real: h3's own copy (read directly, without read repair) missed both writes.
      assert.deepEqual(await replicaValues('h3', key, 'h3'), { reachable: true, values: ['before'] }, 'h3 still holds only the value from before the cut');
      assert.deepEqual((await replicaValues('h3', later, 'h3')).values, [], 'h3 holds nothing of the write made while it was cut off');
    } finally {
      net.heal(3);
      node('h3').cut = false;
    }
    const healedAt = Date.now();

    // Handoff (or anti-entropy) brings h3 up to date. Polled on /replicas, which reads h3's
    // copy without repairing it, so a read of ours cannot be what fixed it.
    const catchUpMs = await waitFor('h3 holds both writes made while it was cut off', catchUpTimeoutMs, async () => {
      const [a, b] = [await replicaValues('h3', key, 'h3'), await replicaValues('h3', later, 'h3')];
      return { ok: a.values.join() === 'after' && b.values.join() === 'while-down', seen: `h3 holds ${key}=${JSON.stringify(a.values)} ${later}=${JSON.stringify(b.values)}` };
    });
    t.diagnostic(`h3 caught up ${catchUpMs} ms after the heal`);
    for (const [k, v] of [[key, 'after'], [later, 'while-down']] as const) {
      const got = await request('h3', 'GET', `/kv/${k}?r=1`);
      assert.equal(got.status, 200, `GET ${k} r=1 via h3: ${got.body.toString('utf8')}`);
      assert.equal(got.body.toString('utf8'), v, `GET ${k} r=1 via h3`);
    }
    await waitFor('every node sees every node up again', formTimeoutMs, membership(ids(), ids(), 'up'));
    const drainedMs = await waitFor('hints for h3 delivered', catchUpTimeoutMs, async () => {
      const views = await Promise.all(ids().map((id) => status(id)));
      // The node's own account of its hints (per target, backoff) says why they are not delivered.
      const hints = views.map((v) => `${v.doc.node.id}: ${v.doc.hintsPending} ${JSON.stringify((JSON.parse(v.raw) as { hints?: unknown }).hints)}`);
      return { ok: views.every((v) => v.doc.hintsPending === 0), seen: hints.join('; ') };
    });
    t.diagnostic(`membership whole again and hints drained ${Date.now() - healedAt} ms after the heal (drain wait ${drainedMs} ms)`);
  });
});
