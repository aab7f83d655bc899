// Throughput/latency benchmark (npm run bench): a real local cluster of node processes on
// loopback, C concurrent HTTP clients doing a get/put mix over a key set, each client's puts
// carrying the context of its last read of that key (read-modify-write when it has one).
// Bounded by both a request count and a duration; stops by itself.
//
//   npm run bench -- --nodes 3 --clients 50 --seconds 20 --keys 10000 --value-bytes 100 --get-ratio 0.5

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster, freePortRange } from '../../node-core/src/cli/supervisor.js';
import { GyreClient, header } from '../../node-core/src/client/client.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    clients: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '20' },
    requests: { type: 'string', default: '2000000' },
    keys: { type: 'string', default: '10000' },
    'value-bytes': { type: 'string', default: '100' },
    'get-ratio': { type: 'string', default: '0.5' },
    r: { type: 'string', default: '2' },
    w: { type: 'string', default: '2' },
    sync: { type: 'string', default: 'normal' },
    urls: { type: 'string' },
  },
});

const nodes = Number(args.nodes);
const clients = Number(args.clients);
const seconds = Number(args.seconds);
const requestsMax = Number(args.requests);
const keyCount = Number(args.keys);
const valueBytes = Number(args['value-bytes']);
const getRatio = Number(args['get-ratio']);

// GyreClient's raw requests ride node:http with a keep-alive agent: fetch (undici) costs the
// load generator several times more CPU per request, and on 2 cores that CPU is taken from
// the nodes being measured.
const nodeClients = new Map<string, GyreClient>();
/** Pooled connections per node: more than the bench's concurrency, so none waits for a socket. */
const socketsPerNode = 1024;

async function call(url: string, method: string, body: Buffer | undefined, headers: Record<string, string>): Promise<{ status: number; context: string | undefined }> {
  const u = new URL(url);
  let c = nodeClients.get(u.origin);
  if (!c) {
    c = new GyreClient({ url: u.origin, maxSockets: socketsPerNode });
    nodeClients.set(u.origin, c);
  }
  const res = await c.request({ method, path: u.pathname + u.search, headers, ...(body ? { body } : {}) });
  return { status: res.status, context: header(res, 'x-gyre-context') };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface OpStats {
  latencies: number[];
  statuses: Map<number, number>;
  errors: number;
}

function newStats(): OpStats {
  return { latencies: [], statuses: new Map(), errors: 0 };
}

async function main(): Promise<void> {
  // --urls targets a running cluster instead of starting one (e.g. nodes run under a profiler).
  const external = args.urls?.split(',').filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'gyre-bench-'));
  const port = await freePortRange(nodes);
  const cluster = external ? undefined : LocalCluster.create({ dir, nodes, port, nodeArgs: ['--log-level', 'warn', '--sync', args.sync!] });
  cluster?.start();
  try {
    await cluster?.waitUntilUp();
    const urls = external ?? cluster!.urls();
    const value = Buffer.alloc(valueBytes, 'x');
    const stats = { get: newStats(), put: newStats() };
    const contexts = new Map<number, string>();
    let issued = 0;
    let siblingReads = 0;
    const deadline = performance.now() + seconds * 1000;
    let seed = 12345;
    const rand = () => {
      // xorshift: a reproducible key/op sequence across runs
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 4294967296;
    };
    const client = async (c: number) => {
      const base = urls[c % urls.length]!;
      while (issued < requestsMax && performance.now() < deadline) {
        issued++;
        const k = Math.floor(rand() * keyCount);
        const isGet = rand() < getRatio;
        const url = `${base}/kv/bench-${k}?${isGet ? `r=${args.r}` : `w=${args.w}`}`;
        const st = isGet ? stats.get : stats.put;
        const t0 = performance.now();
        try {
          const ctx = contexts.get(k);
          const res = isGet ? await call(url, 'GET', undefined, {}) : await call(url, 'PUT', value, { 'content-type': 'application/octet-stream', ...(ctx ? { 'x-gyre-context': ctx } : {}) });
          st.latencies.push(performance.now() - t0);
          st.statuses.set(res.status, (st.statuses.get(res.status) ?? 0) + 1);
          if (res.context) contexts.set(k, res.context);
          if (res.status === 300) siblingReads++;
        } catch {
          st.errors++;
        }
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
    const elapsed = (performance.now() - t0) / 1000;
    const total = stats.get.latencies.length + stats.put.latencies.length;
    console.log(`gyre bench: ${nodes} nodes, N=3 R=${args.r} W=${args.w}, ${clients} clients, ${valueBytes}-byte values, ${keyCount} keys, get ratio ${getRatio}, sync=${args.sync}`);
    console.log(`${total} requests in ${elapsed.toFixed(1)} s: ${(total / elapsed).toFixed(0)} ops/s`);
    for (const [op, s] of Object.entries(stats)) {
      const sorted = Float64Array.from(s.latencies).sort();
      const statuses = [...s.statuses].map(([k, v]) => `${k}:${v}`).join(' ');
      console.log(
        `${op.padEnd(4)} ${String(s.latencies.length).padStart(8)} ops ${(s.latencies.length / elapsed).toFixed(0).padStart(6)}/s  p50 ${percentile(sorted, 50).toFixed(2)} ms  p99 ${percentile(sorted, 99).toFixed(2)} ms  p99.9 ${percentile(sorted, 99.9).toFixed(2)} ms  max ${percentile(sorted, 100).toFixed(2)} ms  statuses ${statuses}  errors ${s.errors}`,
      );
    }
    console.log(`reads that returned siblings (300): ${siblingReads}`);
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
