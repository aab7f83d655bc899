// npm run bench:memory: the memory of a node holding a million values, and how long it takes to
// start with them. One node (N=1, so it holds every key) loaded through RESP with `gyre bench`'s
// load phase, then: its RSS loaded, its RSS and time to answer after a restart on that data,
// and its RSS after a read workload over all of it. Everything it starts it stops, by pid.
//
//   npm run bench:memory -- [--keys 1000000] [--value-bytes 100]

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePortRange } from '../../node-core/src/cli/supervisor.js';
import { GyreClient } from '../../node-core/src/client/client.js';

const here = dirname(fileURLToPath(import.meta.url));
const gyreCli = join(here, '..', '..', 'node-core', 'src', 'cli', 'gyre.js');
const { values: args } = parseArgs({ options: { keys: { type: 'string', default: '1000000' }, 'value-bytes': { type: 'string', default: '100' } } });
const keys = Number(args.keys);
const valueBytes = Number(args['value-bytes']);
const mib = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startNode(dir: string, port: number, respPort: number): Promise<{ child: ChildProcess; readyMs: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [gyreCli, 'node', '--id', 'm1', '--dir', dir, '--port', String(port), '--resp-port', String(respPort), '--n', '1', '--r', '1', '--w', '1', '--log-level', 'warn'], { stdio: 'ignore' });
  const client = new GyreClient({ failover: false, url: `http://127.0.0.1:${port}`, keepAlive: false, timeoutMs: 1000 });
  for (;;) {
    if (child.exitCode !== null) throw new Error('the node exited');
    if (await client.status().then(() => true, () => false)) return { child, readyMs: performance.now() - started };
    await sleep(20);
  }
}

async function stopNode(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function bench(respPort: number, extra: string[]): void {
  const run = spawnSync(process.execPath, [gyreCli, 'bench', '--resp', `127.0.0.1:${respPort}`, '--keys', String(keys), '--value-bytes', String(valueBytes), '--json', ...extra], { encoding: 'utf8', maxBuffer: 16 * mib });
  if (run.status !== 0) throw new Error(`gyre bench failed: ${run.stderr || run.stdout}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-memory-'));
  const port = await freePortRange(2);
  let node: ChildProcess | undefined;
  try {
    node = (await startNode(dir, port, port + 1)).child;
    const loadStarted = performance.now();
    // The load phase writes every key once; then one read.
    bench(port + 1, ['--workload', 'c', '--requests', '1', '--pipeline', '16']);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const loadedRss = rssBytes(node.pid!);
    await stopNode(node);
    const restarted = await startNode(dir, port, port + 1);
    node = restarted.child;
    const startRss = rssBytes(node.pid!);
    bench(port + 1, ['--workload', 'c', '--requests', String(Math.min(keys, 200_000)), '--seconds', '60', '--no-preload', '--distribution', 'uniform']);
    const readRss = rssBytes(node.pid!);
    const status = await new GyreClient({ failover: false, url: `http://127.0.0.1:${port}`, keepAlive: false }).status();
    const stored = (status as unknown as { storage?: { keys?: number; bytes?: number } }).storage;
    console.log(`a node holding ${stored?.keys ?? '?'} keys of ${valueBytes}-byte values (${((stored?.bytes ?? 0) / mib).toFixed(0)} MiB of sibling sets):`);
    console.log(`  loaded in ${loadSeconds.toFixed(1)} s (${Math.round(keys / loadSeconds).toLocaleString('en-US')} writes/s, pipeline 16, W=1)`);
    console.log(`  RSS after loading:          ${(loadedRss / mib).toFixed(0)} MiB`);
    console.log(`  restart to answering:       ${(restarted.readyMs / 1000).toFixed(2)} s`);
    console.log(`  RSS after the restart:      ${(startRss / mib).toFixed(0)} MiB`);
    console.log(`  RSS after 200,000 reads:    ${(readRss / mib).toFixed(0)} MiB  (target: under 300 MB)`);
  } finally {
    if (node && node.exitCode === null) await stopNode(node);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:memory: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
