// Accrual failure detector (Hayashibara et al., as in Cassandra and Akka): instead of a fixed
// timeout, each node keeps the recent inter-arrival times of a peer's heartbeats and computes
// phi, the -log10 of the probability that a heartbeat this late would still arrive. Each node
// has its own view; nothing here changes membership (Dynamo 4.8.1: an outage is not a departure).
//
// Request outcomes feed it too: refused connections are stronger evidence than a quiet
// gossip channel, and a reply is proof of life.
// Pure: callers pass nowMs.

export type Liveness = 'up' | 'suspect' | 'down';

export interface DetectorOptions {
  /** Samples of inter-arrival time kept per peer. */
  readonly windowSize: number;
  /** Floor for the standard deviation, so a very regular peer is not convicted by jitter. */
  readonly minStdDevMs: number;
  /** Extra delay tolerated before phi rises (GC pauses, busy event loop). */
  readonly acceptablePauseMs: number;
  readonly suspectPhi: number;
  readonly downPhi: number;
  /** Consecutive failed requests (with no reply since) that make a peer down regardless of phi. */
  readonly failuresForDown: number;
  /** Assumed interval before the first samples arrive. */
  readonly firstIntervalMs: number;
  /** Heartbeats closer together than this are not timing samples. */
  readonly minIntervalMs: number;
}

export const defaultDetectorOptions: DetectorOptions = {
  windowSize: 100,
  minStdDevMs: 200,
  acceptablePauseMs: 1500,
  suspectPhi: 5,
  downPhi: 8,
  failuresForDown: 2,
  firstIntervalMs: 1000,
  minIntervalMs: 100,
};

interface PeerHistory {
  intervals: number[];
  /** Mean and standard deviation of `intervals`, recomputed when a sample is added. */
  meanMs: number;
  stdDevMs: number;
  lastHeartbeatMs: number | undefined;
  /**
   * First heartbeat of the latest run of heartbeats each closer than minIntervalMs to the one
   * before: where the next sample is measured from.
   */
  runStartMs: number | undefined;
  /** Latest proof of life of any kind (heartbeat or reply): what phi measures silence from. */
  lastAliveMs: number | undefined;
  failures: number;
}

/** phi for a delay, given the interval distribution (Akka's logistic approximation of the normal CDF). */
export function phi(sinceLastMs: number, meanMs: number, stdDevMs: number): number {
  const y = (sinceLastMs - meanMs) / stdDevMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  if (sinceLastMs > meanMs) return -Math.log10(e / (1 + e));
  return -Math.log10(1 - 1 / (1 + e));
}

export class FailureDetector {
  private readonly peers = new Map<string, PeerHistory>();

  constructor(private readonly opts: DetectorOptions = defaultDetectorOptions) {}

  private history(id: string): PeerHistory {
    let h = this.peers.get(id);
    if (!h) {
      // Seeded with the expected interval (as Akka does), so the first real samples, often
      // a burst as a node starts, do not make the estimate absurdly tight.
      const f = this.opts.firstIntervalMs;
      h = { intervals: [f * 0.75, f * 1.25], meanMs: f, stdDevMs: f * 0.25, lastHeartbeatMs: undefined, runStartMs: undefined, lastAliveMs: undefined, failures: 0 };
      this.peers.set(id, h);
    }
    return h;
  }

  /** A fresh heartbeat from `id` (its gossip heartbeat advanced, or it spoke to us). */
  heartbeat(id: string, nowMs: number): void {
    const h = this.history(id);
    // Observations in quick succession (the same news arriving by two paths) carry no timing
    // information: a run of them counts as one heartbeat at its first arrival. Measuring the
    // next sample from the run's last beat instead would shorten it by the run's length and
    // tighten the estimate; measuring from the last sample's beat would turn steady chatter
    // into samples of just over minIntervalMs.
    if (h.lastHeartbeatMs === undefined || h.runStartMs === undefined) {
      h.runStartMs = nowMs;
    } else if (nowMs - h.lastHeartbeatMs >= this.opts.minIntervalMs) {
      // A run as long as the expected interval may hide heartbeats: its sample means nothing.
      if (h.lastHeartbeatMs - h.runStartMs < h.meanMs) this.addSample(h, nowMs - h.runStartMs);
      h.runStartMs = nowMs;
    }
    h.lastHeartbeatMs = nowMs;
    h.lastAliveMs = Math.max(h.lastAliveMs ?? nowMs, nowMs);
    h.failures = 0;
  }

  private addSample(h: PeerHistory, intervalMs: number): void {
    h.intervals.push(intervalMs);
    if (h.intervals.length > this.opts.windowSize) h.intervals.shift();
    const n = h.intervals.length;
    h.meanMs = h.intervals.reduce((a, b) => a + b, 0) / n;
    h.stdDevMs = Math.sqrt(h.intervals.reduce((a, b) => a + (b - h.meanMs) ** 2, 0) / n);
  }

  /**
   * A reply from `id`: proof of life, so silence is measured from now, but not a timing
   * sample (replies come at the rate of our requests, not of its heartbeats).
   */
  replied(id: string, nowMs: number): void {
    const h = this.history(id);
    if (h.lastHeartbeatMs === undefined) return; // never heard its heartbeat: no estimate yet
    h.lastAliveMs = Math.max(h.lastAliveMs ?? nowMs, nowMs);
    h.failures = 0;
  }

  /**
   * A request to `id`, sent at `sentAtMs`, failed to get any answer (refused, reset, timed out).
   * A heartbeat heard since it was sent is fresher news: the failure is then not counted.
   */
  requestFailed(id: string, sentAtMs = Number.POSITIVE_INFINITY): void {
    const h = this.history(id);
    if (h.lastAliveMs !== undefined && h.lastAliveMs >= sentAtMs) return;
    h.failures++;
  }

  phi(id: string, nowMs: number): number {
    const h = this.peers.get(id);
    if (!h || h.lastHeartbeatMs === undefined) return Infinity;
    const std = Math.max(h.stdDevMs, this.opts.minStdDevMs);
    const mean = h.meanMs;
    return phi(nowMs - (h.lastAliveMs ?? h.lastHeartbeatMs), mean + this.opts.acceptablePauseMs, std);
  }

  liveness(id: string, nowMs: number): Liveness {
    const h = this.peers.get(id);
    if (!h || h.lastHeartbeatMs === undefined) return 'down';
    if (h.failures >= this.opts.failuresForDown) return 'down';
    const p = this.phi(id, nowMs);
    if (p >= this.opts.downPhi) return 'down';
    if (p >= this.opts.suspectPhi || h.failures > 0) return 'suspect';
    return 'up';
  }

  lastHeartbeatMs(id: string): number | undefined {
    return this.peers.get(id)?.lastHeartbeatMs;
  }

  forget(id: string): void {
    this.peers.delete(id);
  }
}
