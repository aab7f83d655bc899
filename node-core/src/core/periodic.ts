// A background loop on the Env's timers: run, wait, run again; never two runs at once (even
// across stop/start); a run may ask for a different delay before the next one (e.g. "more
// work is waiting"). Used by gossip, handoff, transfers, anti-entropy and reaping.

import type { Env, TimerHandle } from './env.js';

export type LoopStep = () => Promise<number | void> | number | void;

export class Periodic {
  private timer: TimerHandle | undefined;
  /** Bumped by start/stop: a run from an older generation must not schedule again. */
  private generation = 0;
  private active = false;
  /** The run in progress, if any: a run due meanwhile waits for it. */
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly env: Env,
    private readonly intervalMs: number,
    private readonly step: LoopStep,
    private readonly onError: (e: unknown) => void = () => {},
  ) {}

  start(firstDelayMs = this.intervalMs): void {
    this.stop();
    this.active = true;
    this.schedule(firstDelayMs, ++this.generation);
  }

  stop(): void {
    this.active = false;
    this.generation++;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(ms: number, generation: number): void {
    if (!this.active || generation !== this.generation) return;
    this.timer = this.env.setTimer(ms, () => {
      if (this.inFlight) void this.inFlight.then(() => this.run(generation));
      else this.run(generation);
    });
  }

  private run(generation: number): void {
    if (!this.active || generation !== this.generation) return;
    let next: Promise<number | void>;
    try {
      next = Promise.resolve(this.step());
    } catch (e) {
      next = Promise.reject(e);
    }
    const done = next.then(
      (delay) => {
        this.inFlight = undefined;
        this.schedule(typeof delay === 'number' ? delay : this.intervalMs, generation);
      },
      (e: unknown) => {
        this.inFlight = undefined;
        try {
          this.onError(e);
        } finally {
          this.schedule(this.intervalMs, generation);
        }
      },
    );
    this.inFlight = done;
  }
}
