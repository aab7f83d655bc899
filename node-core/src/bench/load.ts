// `gyre bench`'s run: open the connections, optionally write every key once (YCSB's load
// phase), then keep each connection `pipeline` requests deep until the request count or the
// duration is reached. Latencies go into HDR histograms (microseconds); the CPU time of the
// client and of every server process named is read from /proc before and after.

import { readFileSync } from 'node:fs';
import { build, type Histogram } from 'hdr-histogram-js';
import { type Channel, type Endpoint, openChannel } from './channels.js';
import { type KeyDistribution, Rng, type WorkloadName, keyChooser, keyName, workloads } from './workload.js';

export interface LoadOptions {
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
  readonly preload: boolean;
  readonly seed: number;
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

async function openAll(opts: LoadOptions): Promise<Channel[]> {
  const contexts = opts.endpoints.map(() => new Map<string, string>());
  return Promise.all(Array.from({ length: opts.connections }, (_, i) => openChannel(opts.endpoints[i % opts.endpoints.length]!, contexts[i % opts.endpoints.length]!)));
}

/** Writes keys 0..keys-1 once, spread over the connections. */
async function preload(channels: readonly Channel[], opts: LoadOptions, value: Buffer): Promise<Record<string, number>> {
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

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const channels = await openAll(opts);
  const value = Buffer.alloc(opts.valueBytes, 'x');
  const readFraction = workloads[opts.workload].readFraction;
  if (opts.preload && readFraction > 0) {
    const failed = await preload(channels, opts, value);
    if (Object.keys(failed).length > 0) throw new Error(`the load phase failed: ${JSON.stringify(failed)}`);
  }
  const rng = new Rng(opts.seed);
  const choose = keyChooser(opts.distribution, opts.keys);
  const all = histogram();
  const reads = histogram();
  const updates = histogram();
  const errors: Record<string, number> = {};
  let notFound = 0;
  let issued = 0;
  let completed = 0;
  const cpuBefore = cpuNow(opts.pids);
  const started = performance.now();
  const deadline = started + opts.durationMs;
  await new Promise<void>((resolve) => {
    const finishIfDone = () => {
      if (completed === issued && (issued >= opts.requests || performance.now() >= deadline)) resolve();
    };
    const issue = (c: Channel) => {
      if (issued >= opts.requests || performance.now() >= deadline) return finishIfDone();
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
    for (const c of channels) for (let i = 0; i < opts.pipeline; i++) issue(c);
    const tick = setInterval(() => {
      if (completed === issued && issued > 0 && (issued >= opts.requests || performance.now() >= deadline)) return clearInterval(tick);
      const elapsed = performance.now() - started;
      opts.progress?.(Math.min(1, Math.max(completed / opts.requests, elapsed / opts.durationMs)), completed, elapsed, 'run');
    }, progressIntervalMs);
    tick.unref();
  });
  const seconds = (performance.now() - started) / msPerSecond;
  const cpuAfter = cpuNow(opts.pids);
  for (const c of channels) c.close();
  const cpuSeconds: Record<string, number> = {};
  for (const [name, after] of cpuAfter) cpuSeconds[name] = Math.round((after - (cpuBefore.get(name) ?? after)) * 100) / 100;
  return {
    workload: opts.workload,
    protocol: opts.endpoints[0]!.protocol,
    requests: completed,
    seconds,
    opsPerSecond: completed / seconds,
    all: summary(all),
    reads: summary(reads),
    updates: summary(updates),
    errors,
    notFound,
    cpuSeconds,
  };
}
