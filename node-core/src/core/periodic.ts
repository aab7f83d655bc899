// A background loop on the Env's timers: run, wait, run again; never two runs at once; a run
// may ask for a different delay before the next one (e.g. "more work is waiting"). Used by
// gossip-adjacent loops: handoff, transfers, anti-entropy, reaping.

import type { Env, TimerHandle } from './env.js';

export type LoopStep = () => Promise<number | void> | number | void;

export class Periodic {
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(
    private readonly env: Env,
    private readonly intervalMs: number,
    private readonly step: LoopStep,
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  start(firstDelayMs = this.intervalMs): void {
    this.running = true;
    this.schedule(firstDelayMs);
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = this.env.setTimer(ms, () => {
      let next: Promise<number | void>;
      try {
        next = Promise.resolve(this.step());
      } catch (e) {
        next = Promise.reject(e);
      }
      next.then(
        (delay) => this.schedule(typeof delay === 'number' ? delay : this.intervalMs),
        (e: unknown) => {
          this.onError(e);
          this.schedule(this.intervalMs);
        },
      );
    });
  }
}
