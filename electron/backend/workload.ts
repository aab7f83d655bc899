// The console's built-in load generator (issue 6): gets and puts at a steady rate over a key
// set, spread over the cluster's nodes, each put carrying the context of the last read of its
// key, so a fresh local cluster has something to chart. Bounded in rate, in requests in
// flight and in time; it stops by itself.

import { GyreClient, header } from '../../node-core/src/client/client.js';
import type { WorkloadSpec, WorkloadStatus } from '../../node-core/src/wire/console.js';

export const workloadRateMax = 5000;
export const workloadKeysMax = 1_000_000;
export const workloadValueBytesMax = 64 * 1024;
const inFlightMax = 256;
/** Contexts remembered for read-modify-writes (past this, puts to other keys go blind). */
const contextsMax = 100_000;
const tickMs = 100;
const requestTimeoutMs = 10_000;
/** Pooled connections per node. */
const socketsPerNode = 64;
/** A forgotten load generator stops after this long. */
export const workloadDurationMaxMs = 3600_000;

export function checkWorkloadSpec(raw: unknown): WorkloadSpec {
  if (typeof raw !== 'object' || raw === null) throw new Error('a workload is {ratePerSecond, getRatio, keys, valueBytes}');
  const o = raw as Record<string, unknown>;
  const num = (v: unknown, what: string, min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new Error(`${what} must be a number in ${min}..${max}`);
    return v;
  };
  return {
    ratePerSecond: Math.round(num(o.ratePerSecond, 'ratePerSecond', 1, workloadRateMax)),
    getRatio: num(o.getRatio, 'getRatio', 0, 1),
    keys: Math.round(num(o.keys, 'keys', 1, workloadKeysMax)),
    valueBytes: Math.round(num(o.valueBytes, 'valueBytes', 0, workloadValueBytesMax)),
  };
}

export class Workload {
  private timer: NodeJS.Timeout | undefined;
  private spec: WorkloadSpec | null = null;
  private startedAt: number | null = null;
  private sent = 0;
  private ok = 0;
  private failed = 0;
  private inFlight = 0;
  private credit = 0;
  private readonly contexts = new Map<number, string>();
  private readonly clients = new Map<string, GyreClient>();

  constructor(
    /** Node URLs to spread requests over (read each tick: membership changes). */
    private readonly targets: () => readonly string[],
    private readonly token: () => string | null,
    /** The CA to check https nodes against (the attached profile's). */
    private readonly ca: () => Buffer | undefined,
    private readonly onChange: (s: WorkloadStatus) => void,
  ) {}

  status(): WorkloadStatus {
    return { running: this.timer !== undefined, spec: this.spec, sent: this.sent, ok: this.ok, failed: this.failed, startedAt: this.startedAt };
  }

  start(spec: WorkloadSpec): WorkloadStatus {
    this.stop();
    this.spec = spec;
    this.startedAt = Date.now();
    this.sent = this.ok = this.failed = 0;
    this.credit = 0;
    this.contexts.clear();
    let ticks = 0;
    this.timer = setInterval(() => {
      if (Date.now() - this.startedAt! > workloadDurationMaxMs) {
        this.stop();
        return;
      }
      this.tick(spec);
      // Status at 1 Hz, not per tick.
      if (++ticks % 10 === 0) this.onChange(this.status());
    }, tickMs);
    this.timer.unref();
    this.onChange(this.status());
    return this.status();
  }

  stop(): WorkloadStatus {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.onChange(this.status());
    return this.status();
  }

  close(): void {
    this.stop();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private tick(spec: WorkloadSpec): void {
    const urls = this.targets();
    if (urls.length === 0) return;
    this.credit = Math.min(this.credit + (spec.ratePerSecond * tickMs) / 1000, spec.ratePerSecond);
    const value = Buffer.alloc(spec.valueBytes, 0x61);
    while (this.credit >= 1 && this.inFlight < inFlightMax) {
      this.credit--;
      const key = Math.floor(Math.random() * spec.keys);
      const url = urls[Math.floor(Math.random() * urls.length)]!;
      const isGet = Math.random() < spec.getRatio;
      this.send(url, key, isGet ? undefined : value);
    }
  }

  /** One pooled client per node URL (membership changes add URLs; there are at most a few dozen). */
  private clientFor(base: string): GyreClient {
    let c = this.clients.get(base);
    if (!c) {
      const ca = this.ca();
      c = new GyreClient({ failover: false, url: base, maxSockets: socketsPerNode, timeoutMs: requestTimeoutMs, ...(ca ? { ca } : {}) });
      this.clients.set(base, c);
    }
    return c;
  }

  private send(base: string, key: number, value: Buffer | undefined): void {
    this.inFlight++;
    this.sent++;
    const context = this.contexts.get(key);
    const path = `/kv/workload-${key}`;
    // The token is read per request: the console may attach to another cluster meanwhile.
    const token = this.token();
    const headers: Record<string, string> = {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(value ? { 'content-type': 'application/octet-stream', ...(context ? { 'x-gyre-context': context } : {}) } : {}),
    };
    // A bad address must cost one failed request, never the console (this runs in a timer):
    // the client rejects it (it parses the URL per request), it never throws here.
    this.clientFor(base).request({ method: value ? 'PUT' : 'GET', path, headers, ...(value ? { body: value } : {}) }).then(
      (res) => {
        const c = header(res, 'x-gyre-context');
        if (c && !value && (this.contexts.size < contextsMax || this.contexts.has(key))) this.contexts.set(key, c);
        this.settle(res.status < 500);
      },
      () => this.settle(false),
    );
  }

  private settle(ok: boolean): void {
    this.inFlight--;
    if (ok) this.ok++;
    else this.failed++;
  }
}
