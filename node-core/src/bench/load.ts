// `gyre bench`'s run: open the connections, optionally write every key once (YCSB's load
// phase), then keep each connection `pipeline` requests deep until the request count or the
// duration is reached. Latencies go into HDR histograms (microseconds); the CPU time of the
// client and of every server process named is read from /proc before and after.

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { type Channel, type Endpoint, openChannel } from './channels.js';
import { type KeyDistribution, Rng, type WorkloadName, keyChooser, keyName, workloads } from './workload.js';

/** What is run: the same for a whole run and for one thread's share of it. */
interface Workload {
  readonly endpoints: readonly Endpoint[];
  readonly connections: number;
  readonly pipeline: number;
  readonly workload: WorkloadName;
  readonly distribution: KeyDistribution;
  readonly keys: number;
  readonly valueBytes: number;
  /** Stop after this many requests, or after `durationMs`, whichever comes first. */
  readonly requests: number;
  readonly durationMs: number;
  readonly seed: number;
}

export interface LoadOptions extends Workload {
  readonly preload: boolean;
  /** Client threads (worker_threads), each with its share of the connections and requests. */
  readonly threads: number;
  /** Server processes whose CPU time is reported (by pid, on this machine). */
  readonly pids: ReadonlyMap<string, number>;
  /** Told every quarter second: the fraction done (of the count or the duration, whichever is nearer), requests done, the phase. */
  readonly progress?: (fraction: number, done: number, elapsedMs: number, phase: 'load' | 'run') => void;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface LoadResult {
  readonly workload: WorkloadName;
  readonly protocol: string;
  readonly requests: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly all: LatencySummary;
  readonly reads: LatencySummary;
  readonly updates: LatencySummary;
  /** Requests that ended in an error, by kind (not_found is not an error: absent keys are read too). */
  readonly errors: Readonly<Record<string, number>>;
  readonly notFound: number;
  /** CPU seconds (user + system) during the measured phase, by process name; `client` is this one. */
  readonly cpuSeconds: Readonly<Record<string, number>>;
}

const latencyMaxUs = 60_000_000;
const usPerMs = 1000;
const msPerSecond = 1000;
/** Pipeline depth of the load phase: it only has to be quick. */
const preloadPipeline = 16;
const progressIntervalMs = 250;

function histogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: latencyMaxUs, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

function summary(h: Histogram): LatencySummary {
  const ms = (us: number) => us / usPerMs;
  return { count: h.totalCount, p50Ms: ms(h.getValueAtPercentile(50)), p99Ms: ms(h.getValueAtPercentile(99)), p999Ms: ms(h.getValueAtPercentile(99.9)), maxMs: ms(h.maxValue) };
}

/** CPU seconds a process has used (utime + stime from /proc), or undefined if it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const clockTicksPerSecond = 100;
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return undefined;
  }
}

function cpuNow(pids: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  const self = process.cpuUsage();
  out.set('client', (self.user + self.system) / 1e6);
  for (const [name, pid] of pids) {
    const s = processCpuSeconds(pid);
    if (s !== undefined) out.set(name, s);
  }
  return out;
}

/** Opens `count` connections, the i-th to endpoint (offset + i) mod their number. */
async function openAll(endpoints: readonly Endpoint[], count: number, offset: number): Promise<Channel[]> {
  const contexts = endpoints.map(() => new Map<string, string>());
  return Promise.all(Array.from({ length: count }, (_, i) => openChannel(endpoints[(offset + i) % endpoints.length]!, contexts[(offset + i) % endpoints.length]!)));
}

/** Writes keys 0..keys-1 once, spread over the connections. */
async function preload(channels: readonly Channel[], opts: Pick<LoadOptions, 'keys' | 'progress'>, value: Buffer): Promise<Record<string, number>> {
  const errors: Record<string, number> = {};
  let next = 0;
  let done = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    if (opts.keys === 0) resolve();
    const issue = (c: Channel) => {
      if (next >= opts.keys) return;
      c.update(keyName(next++), value, (kind) => {
        done++;
        if (kind !== 'ok') errors[kind] = (errors[kind] ?? 0) + 1;
        if (done === opts.keys) resolve();
        else issue(c);
      });
    };
    for (const c of channels) for (let i = 0; i < preloadPipeline; i++) issue(c);
    const tick = setInterval(() => (done < opts.keys ? opts.progress?.(done / opts.keys, done, performance.now() - started, 'load') : clearInterval(tick)), progressIntervalMs);
  });
  return errors;
}

/** One thread's part of the measured phase: plain data, so a worker can be handed it. */
export interface Share extends Workload {
  /** The first of this share's connections among the run's (they go round the endpoints). */
  readonly connectionOffset: number;
}

/** What a share measured; histograms compressed (HdrHistogram's own encoding) to cross threads. */
export interface ShareResult {
  readonly completed: number;
  readonly seconds: number;
  readonly all: string;
  readonly reads: string;
  readonly updates: string;
  readonly errors: Record<string, number>;
  readonly notFound: number;
}

/** Runs a share on this thread; `progress` is told the requests completed so far. */
export async function runShare(share: Share, progress?: (completed: number) => void): Promise<ShareResult> {
  const channels = await openAll(share.endpoints, share.connections, share.connectionOffset);
  const value = Buffer.alloc(share.valueBytes, 'x');
  const readFraction = workloads[share.workload].readFraction;
  const rng = new Rng(share.seed);
  const choose = keyChooser(share.distribution, share.keys);
  const all = histogram();
  const reads = histogram();
  const updates = histogram();
  const errors: Record<string, number> = {};
  let notFound = 0;
  let issued = 0;
  let completed = 0;
  const started = performance.now();
  const deadline = started + share.durationMs;
  const tick = setInterval(() => progress?.(completed), progressIntervalMs);
  await new Promise<void>((resolve) => {
    if (share.requests === 0) return resolve();
    const finishIfDone = () => {
      if (completed === issued && (issued >= share.requests || performance.now() >= deadline)) resolve();
    };
    const issue = (c: Channel) => {
      if (issued >= share.requests || performance.now() >= deadline) return finishIfDone();
      issued++;
      const key = keyName(choose(rng));
      const isRead = rng.next() < readFraction;
      const t0 = performance.now();
      const done = (kind: string) => {
        completed++;
        const us = Math.max(1, Math.round((performance.now() - t0) * usPerMs));
        all.recordValue(us);
        (isRead ? reads : updates).recordValue(us);
        if (kind === 'not_found') notFound++;
        else if (kind !== 'ok') errors[kind] = (errors[kind] ?? 0) + 1;
        issue(c);
      };
      if (isRead) c.read(key, done);
      else c.update(key, value, done);
    };
    for (const c of channels) for (let i = 0; i < share.pipeline; i++) issue(c);
  });
  clearInterval(tick);
  const seconds = (performance.now() - started) / msPerSecond;
  for (const c of channels) c.close();
  return { completed, seconds, all: encodeIntoCompressedBase64(all), reads: encodeIntoCompressedBase64(reads), updates: encodeIntoCompressedBase64(updates), errors, notFound };
}

/** Splits `total` into `parts` integers that differ by at most one. */
function split(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

function runInWorker(share: Share, progress: (completed: number) => void): Promise<ShareResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: share });
    worker.on('message', (m: { progress?: number; result?: ShareResult }) => {
      if (m.progress !== undefined) progress(m.progress);
      if (m.result) resolve(m.result);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`bench thread exited with code ${code}`))));
  });
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const readFraction = workloads[opts.workload].readFraction;
  if (opts.preload && readFraction > 0) {
    const channels = await openAll(opts.endpoints, opts.connections, 0);
    const failed = await preload(channels, opts, Buffer.alloc(opts.valueBytes, 'x'));
    for (const c of channels) c.close();
    if (Object.keys(failed).length > 0) throw new Error(`the load phase failed: ${JSON.stringify(failed)}`);
  }
  const threads = Math.max(1, Math.min(opts.threads, opts.connections));
  const shares: Share[] = Array.from({ length: threads }, (_, i) => ({
    endpoints: opts.endpoints,
    connections: split(opts.connections, threads, i),
    connectionOffset: Array.from({ length: i }, (_, j) => split(opts.connections, threads, j)).reduce((a, b) => a + b, 0),
    pipeline: opts.pipeline,
    workload: opts.workload,
    distribution: opts.distribution,
    keys: opts.keys,
    valueBytes: opts.valueBytes,
    requests: split(opts.requests, threads, i),
    durationMs: opts.durationMs,
    seed: opts.seed + i,
  }));
  const done = new Array<number>(threads).fill(0);
  const started = performance.now();
  const report = (i: number) => (completed: number) => {
    done[i] = completed;
    const total = done.reduce((a, b) => a + b, 0);
    const elapsed = performance.now() - started;
    opts.progress?.(Math.min(1, Math.max(total / opts.requests, elapsed / opts.durationMs)), total, elapsed, 'run');
  };
  const cpuBefore = cpuNow(opts.pids);
  // One thread runs its share here; more run theirs in workers (the CPU of all of them is this process's).
  const results = await Promise.all(shares.map((share, i) => (threads === 1 ? runShare(share, report(i)) : runInWorker(share, report(i)))));
  const cpuAfter = cpuNow(opts.pids);
  const merged = { all: histogram(), reads: histogram(), updates: histogram() };
  const errors: Record<string, number> = {};
  let notFound = 0;
  let completed = 0;
  let seconds = 0;
  for (const r of results) {
    for (const k of ['all', 'reads', 'updates'] as const) merged[k].add(decodeFromCompressedBase64(r[k], 32, false));
    for (const [kind, n] of Object.entries(r.errors)) errors[kind] = (errors[kind] ?? 0) + n;
    notFound += r.notFound;
    completed += r.completed;
    seconds = Math.max(seconds, r.seconds);
  }
  const cpuSeconds: Record<string, number> = {};
  for (const [name, after] of cpuAfter) cpuSeconds[name] = Math.round((after - (cpuBefore.get(name) ?? after)) * 100) / 100;
  return {
    workload: opts.workload,
    protocol: opts.endpoints[0]!.protocol,
    requests: completed,
    seconds,
    opsPerSecond: completed / seconds,
    all: summary(merged.all),
    reads: summary(merged.reads),
    updates: summary(merged.updates),
    errors,
    notFound,
    cpuSeconds,
  };
}
