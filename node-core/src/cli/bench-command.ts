// `gyre bench`: the load generator (node-core/src/bench/) behind the command line.

import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Endpoint } from '../bench/channels.js';
import { type LoadOptions, runLoad } from '../bench/load.js';
import { clearProgress, discoverPids, formatResult, progressBar } from '../bench/report.js';
import { type KeyDistribution, type WorkloadName, isWorkload, workloads } from '../bench/workload.js';

const defaultUrl = 'http://127.0.0.1:7070';

function positive(name: string, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer in 1..${max}`);
    return Number(v);
  };
}

function hostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(s);
  if (!m) throw new InvalidArgumentError(`expected host:port, got ${JSON.stringify(s)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

function endpoints(o: { url?: string; resp?: string }, token: string | undefined): Endpoint[] {
  const out: Endpoint[] = [];
  for (const r of (o.resp ?? '').split(',').filter(Boolean)) out.push({ protocol: 'resp', ...hostPort(r.trim()), token });
  const urls = o.url ?? (out.length === 0 ? defaultUrl : '');
  for (const u of urls.split(',').filter(Boolean)) {
    const url = new URL(u.trim());
    if (url.protocol !== 'http:') throw new InvalidArgumentError(`gyre bench speaks plain HTTP; got ${url.protocol}`);
    out.push({ protocol: 'http', host: url.hostname, port: Number(url.port || 80), token });
  }
  if (new Set(out.map((e) => e.protocol)).size > 1) throw new InvalidArgumentError('give --url or --resp, not both: one run measures one protocol');
  return out;
}

function namedPids(s: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of s.split(',').filter(Boolean)) {
    const [name, pid] = part.split('=');
    if (!name || !/^\d+$/.test(pid ?? '')) throw new InvalidArgumentError(`--pids takes name=pid,...; got ${JSON.stringify(part)}`);
    out.set(name, Number(pid));
  }
  return out;
}

interface BenchFlags {
  url?: string;
  resp?: string;
  workload: string;
  distribution: KeyDistribution;
  keys: number;
  valueBytes: number;
  connections: number;
  pipeline: number;
  threads: number;
  requests: number;
  seconds: number;
  preload: boolean;
  seed: number;
  token?: string;
  pids?: string;
  json?: boolean;
}

export function addBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('load a cluster (or any HTTP or Redis server) with a YCSB workload and report throughput, latency and CPU')
    .option('--url <urls>', `HTTP API base URLs, comma-separated (default ${defaultUrl})`)
    .option('--resp <addresses>', 'RESP servers instead, host:port comma-separated (a Gyre node\'s listeners.resp, or Redis)')
    .addOption(new Option('--workload <w>', `YCSB workload: ${Object.entries(workloads).map(([k, w]) => `${k} (${w.title})`).join(', ')}`).default('a'))
    .addOption(new Option('--distribution <d>', 'key popularity').choices(['uniform', 'zipfian']).default('uniform'))
    .option('--keys <n>', 'distinct keys', positive('keys', 100_000_000), 100_000)
    .option('--value-bytes <n>', 'bytes per value', positive('value bytes', 1024 * 1024), 100)
    .option('--connections <n>', 'connections, spread over the servers given', positive('connections', 10_000), 50)
    .option('--pipeline <n>', 'requests in flight per connection', positive('pipeline', 1024), 1)
    .option('--threads <n>', 'client threads, each with its share of the connections', positive('threads', 64), 1)
    .option('--requests <n>', 'stop after this many requests', positive('requests', 1e12), 200_000)
    .option('--seconds <s>', 'or after this long, whichever comes first', positive('seconds', 86_400), 60)
    .option('--no-preload', 'skip the load phase (writing every key once before a workload with reads)')
    .option('--seed <n>', 'random seed of the operations', positive('seed', 2 ** 31), 1)
    .option('--token <token>', 'cluster token (default $GYRE_TOKEN)')
    .option('--pids <list>', 'server processes to report CPU for, name=pid,... (found by themselves: Gyre nodes and Redis)')
    .option('--json', 'print the result as JSON')
    .action(async (o: BenchFlags) => {
      if (!isWorkload(o.workload)) throw new InvalidArgumentError(`unknown workload ${JSON.stringify(o.workload)}`);
      const token = o.token ?? process.env.GYRE_TOKEN ?? undefined;
      const eps = endpoints(o, token || undefined);
      const pids = o.pids ? namedPids(o.pids) : await discoverPids(eps);
      const opts: LoadOptions = {
        endpoints: eps,
        connections: o.connections,
        pipeline: o.pipeline,
        workload: o.workload as WorkloadName,
        distribution: o.distribution,
        keys: o.keys,
        valueBytes: o.valueBytes,
        requests: o.requests,
        durationMs: o.seconds * 1000,
        preload: o.preload,
        seed: o.seed,
        threads: o.threads,
        pids,
        progress: o.json ? undefined : progressBar(),
      };
      const result = await runLoad(opts);
      clearProgress();
      if (o.json) console.log(JSON.stringify(result, null, 2));
      else console.log(formatResult(result, `${eps[0]!.protocol}, ${eps.map((e) => `${e.host}:${e.port}`).join(' ')}, ${o.connections} connections, pipeline ${o.pipeline}, ${o.threads} thread${o.threads > 1 ? 's' : ''}, ${o.keys} keys ${o.distribution}, ${o.valueBytes}-byte values`));
      // Errors are reported, not hidden: a run that had any exits 1.
      process.exitCode = Object.keys(result.errors).length > 0 ? 1 : 0;
    });
}
