// npm run bench: Gyre against its peers, in one run on this machine.
//
// Starts a single Redis (no persistence; installed from Debian if missing), a bare node:http
// server holding a Map (bare-http.ts) and a fresh local 3-node Gyre (N=3 R=2 W=2), then runs
//   - the same redis-benchmark line against Redis and against Gyre's RESP port (and again with -P 16),
//   - the same `gyre bench` workloads over RESP against Redis and Gyre, and over HTTP against
//     the bare server and Gyre,
//   - the write workload against a second Gyre with --sync full, for its ratio to normal,
// and prints one table with Gyre's ratio to each peer. Everything it starts it stops, by pid.
//
//   npm run bench -- [--seconds 15] [--requests 200000] [--workloads a,b,c,write] [--quick]

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LocalCluster, freePortRange } from '../../node-core/src/cli/supervisor.js';
import { GyreClient } from '../../node-core/src/client/client.js';
import type { LoadResult } from '../../node-core/src/bench/load.js';

const here = dirname(fileURLToPath(import.meta.url));
const gyreCli = join(here, '..', '..', 'node-core', 'src', 'cli', 'gyre.js');
const bareServer = join(here, 'bare-http.js');

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    requests: { type: 'string', default: '200000' },
    workloads: { type: 'string', default: 'a,b,c,write' },
    keys: { type: 'string', default: '100000' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const quick = args.quick;
const seconds = quick ? 5 : Number(args.seconds);
const requests = quick ? 50_000 : Number(args.requests);
const keys = Number(args.keys);
const benchWorkloads = args.workloads.split(',').filter(Boolean);
/** redis-benchmark's line from the issue: 50 clients, 100-byte values, keys drawn from 100,000. */
const redisBenchmarkArgs = ['-t', 'set,get', '-n', String(requests), '-c', '50', '-d', '100', '-r', String(keys), '--csv'];

const children: ChildProcess[] = [];
const clusters: LocalCluster[] = [];
const dirs: string[] = [];

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** redis-server and redis-benchmark from Debian, installed if missing; the reason if they cannot be. */
function ensureRedis(): string | undefined {
  if (has('redis-server') && has('redis-benchmark')) return undefined;
  if (process.getuid?.() !== 0) return 'redis-server is not installed and this is not root (apt-get install redis-server redis-tools)';
  log('installing redis-server and redis-tools from Debian (apt-get)');
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server', 'redis-tools'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : update;
  return install.status === 0 && has('redis-server') ? undefined : 'apt-get could not install redis-server';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startRedis(port: number): Promise<number> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''], { stdio: 'ignore' });
  children.push(child);
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    if (spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return child.pid!;
  }
  throw new Error('redis-server did not start');
}

async function startBare(port: number): Promise<number> {
  const child = spawn(process.execPath, [bareServer, '--port', String(port)], { stdio: 'ignore' });
  children.push(child);
  const client = new GyreClient({ failover: false, url: `http://127.0.0.1:${port}`, keepAlive: false, timeoutMs: 500 });
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    if (await client.status().then(() => true, () => false)) return child.pid!;
  }
  throw new Error('the bare http server did not start');
}

interface Gyre {
  readonly urls: string[];
  readonly resp: string[];
  readonly pids: Map<string, number>;
}

async function startGyre(nodeArgs: string[] = []): Promise<Gyre> {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-bench-'));
  dirs.push(dir);
  const port = await freePortRange(3);
  const cluster = LocalCluster.create({ dir, nodes: 3, port, nodeArgs });
  clusters.push(cluster);
  cluster.start();
  await cluster.waitUntilUp();
  const urls = cluster.urls();
  const resp: string[] = [];
  for (const u of urls) {
    const s = await new GyreClient({ failover: false, url: u, keepAlive: false }).status();
    if (!s.listeners?.resp) throw new Error(`${u} announces no RESP listener`);
    resp.push(s.listeners.resp);
  }
  return { urls, resp, pids: new Map(cluster.nodes.map((n) => [n.id, n.pid!])) };
}

interface RedisBenchmarkRow {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** One redis-benchmark run; its --csv rows by test name (SET, GET). */
function redisBenchmark(port: number, extra: string[] = []): Record<string, RedisBenchmarkRow> {
  const out = execFileSync('redis-benchmark', ['-p', String(port), ...redisBenchmarkArgs, ...extra], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const rows: Record<string, RedisBenchmarkRow> = {};
  for (const line of out.split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''));
    if (cells.length < 8 || cells[0] === 'test') continue;
    rows[cells[0]!] = { rps: Number(cells[1]), p50Ms: Number(cells[4]), p99Ms: Number(cells[6]), maxMs: Number(cells[7]) };
  }
  return rows;
}

/** One `gyre bench` run in its own process (so its CPU is its own), with --json. */
function gyreBench(target: string[], workload: string, pids: Map<string, number>, preload: boolean): LoadResult {
  const pidList = [...pids].map(([n, p]) => `${n}=${p}`).join(',');
  const argv = [gyreCli, 'bench', ...target, '--workload', workload, '--requests', String(requests), '--seconds', String(seconds), '--keys', String(keys), '--json', '--pids', pidList, ...(preload ? [] : ['--no-preload'])];
  const run = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (!run.stdout.trim().startsWith('{')) throw new Error(`gyre bench failed: ${run.stderr || run.stdout}`);
  return JSON.parse(run.stdout) as LoadResult;
}

const serverCpu = (r: LoadResult) => Object.entries(r.cpuSeconds).filter(([k]) => k !== 'client').reduce((a, [, s]) => a + s, 0);

interface Row {
  readonly what: string;
  readonly peer: string;
  readonly peerOps: number | undefined;
  readonly gyreOps: number;
  readonly peerP99: number | undefined;
  readonly gyreP99: number;
  readonly gyreP999?: number | undefined;
  readonly errors?: string;
  readonly cpu?: string;
}

function printTable(rows: readonly Row[]): void {
  const head = ['test', 'peer', 'peer ops/s', 'gyre ops/s', 'ratio', 'peer p99', 'gyre p99', 'gyre p99.9', 'gyre errors', 'cpu s (client / servers)'];
  const cells = rows.map((r) => [
    r.what,
    r.peer,
    r.peerOps === undefined ? '-' : Math.round(r.peerOps).toLocaleString('en-US'),
    Math.round(r.gyreOps).toLocaleString('en-US'),
    r.peerOps ? `${(r.gyreOps / r.peerOps).toFixed(2)}x` : '-',
    r.peerP99 === undefined ? '-' : `${r.peerP99.toFixed(2)} ms`,
    `${r.gyreP99.toFixed(2)} ms`,
    r.gyreP999 === undefined ? '-' : `${r.gyreP999.toFixed(2)} ms`,
    r.errors ?? '',
    r.cpu ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

function errorsOf(r: LoadResult): string {
  const e = Object.entries(r.errors);
  return e.length === 0 ? '0' : e.map(([k, n]) => `${k} ${n}`).join(', ');
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const redisMissing = ensureRedis();
  if (redisMissing) log(`no Redis column: ${redisMissing}`);
  const [redisPort, barePort] = [await freePortRange(1), await freePortRange(1)];
  const redisPid = redisMissing ? undefined : await startRedis(redisPort);
  const barePid = await startBare(barePort);
  log('starting a fresh 3-node Gyre (N=3 R=2 W=2)');
  const gyre = await startGyre();
  const gyreRespPort = Number(gyre.resp[0]!.split(':').pop());

  if (redisPid !== undefined) {
    for (const extra of [[], ['-P', '16']]) {
      const label = extra.length ? 'redis-benchmark -P 16' : 'redis-benchmark';
      log(`${label} against Redis, then against Gyre's RESP port`);
      const peer = redisBenchmark(redisPort, extra);
      const ours = redisBenchmark(gyreRespPort, extra);
      for (const t of ['SET', 'GET']) {
        if (!peer[t] || !ours[t]) continue;
        rows.push({ what: `${label} ${t}`, peer: 'redis', peerOps: peer[t].rps, gyreOps: ours[t].rps, peerP99: peer[t].p99Ms, gyreP99: ours[t].p99Ms });
      }
    }
  }
  // RESP loads go to one node, as redis-benchmark's do: blind SETs of one key through two
  // coordinators in the same instant become siblings (docs/resp.md), which a Redis client
  // sees as CONFLICT errors; through one coordinator they supersede each other.
  const gyreResp = ['--resp', gyre.resp[0]!];
  const peers: { protocol: string; peer: string; target: string[]; pids: Map<string, number> }[] = [];
  if (redisPid !== undefined) peers.push({ protocol: 'resp', peer: 'redis', target: ['--resp', `127.0.0.1:${redisPort}`], pids: new Map([['redis', redisPid]]) });
  peers.push({ protocol: 'http', peer: 'bare http', target: ['--url', `http://127.0.0.1:${barePort}`], pids: new Map([['bare', barePid]]) });
  const preloaded = new Set<string>();
  for (const p of peers) {
    const gyreTarget = p.protocol === 'resp' ? gyreResp : ['--url', gyre.urls.join(',')];
    for (const w of benchWorkloads) {
      log(`gyre bench --workload ${w} over ${p.protocol}: ${p.peer}, then Gyre`);
      const peerRun = gyreBench(p.target, w, p.pids, !preloaded.has(p.peer));
      preloaded.add(p.peer);
      const ours = gyreBench(gyreTarget, w, gyre.pids, !preloaded.has(`gyre-${p.protocol}`));
      preloaded.add(`gyre-${p.protocol}`);
      rows.push({
        what: `${p.protocol} workload ${w}`,
        peer: p.peer,
        peerOps: peerRun.opsPerSecond,
        gyreOps: ours.opsPerSecond,
        peerP99: peerRun.all.p99Ms,
        gyreP99: ours.all.p99Ms,
        gyreP999: ours.all.p999Ms,
        errors: errorsOf(ours),
        cpu: `peer ${peerRun.cpuSeconds.client?.toFixed(1)} / ${serverCpu(peerRun).toFixed(1)}; gyre ${ours.cpuSeconds.client?.toFixed(1)} / ${serverCpu(ours).toFixed(1)}`,
      });
    }
  }
  log('--sync full against --sync normal (write workload over RESP)');
  const full = await startGyre(['--sync', 'full']);
  const normalRun = gyreBench(gyreResp, 'write', gyre.pids, false);
  const fullRun = gyreBench(['--resp', full.resp[0]!], 'write', full.pids, false);
  rows.push({ what: 'resp write, --sync full', peer: 'gyre normal', peerOps: normalRun.opsPerSecond, gyreOps: fullRun.opsPerSecond, peerP99: normalRun.all.p99Ms, gyreP99: fullRun.all.p99Ms, gyreP999: fullRun.all.p999Ms, errors: errorsOf(fullRun) });

  console.log(`\nGyre vs peers, one run on this machine (${new Date().toISOString()}): ${requests} requests or ${seconds} s per run, 50 connections, ${keys} keys, 100-byte values`);
  printTable(rows);
  if (args.json) console.log(JSON.stringify(rows, null, 2));
}

async function cleanup(): Promise<void> {
  for (const c of clusters) await c.stop().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

main().then(
  () => cleanup(),
  async (e: unknown) => {
    console.error(`bench: ${(e as Error).stack ?? String(e)}`);
    await cleanup();
    process.exitCode = 1;
  },
);
