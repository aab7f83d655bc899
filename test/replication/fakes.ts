// What the replication loops' unit tests share: manual time and a silent log.

import type { Env, TimerHandle } from '../../node-core/src/core/env.js';
import type { LoopLog } from '../../node-core/src/replication/host.js';

/** Manual time; tests call tick() themselves, so a loop that sets a timer is a test bug. */
export class ManualEnv implements Env {
  nowMs = 1_000;
  now(): number {
    return this.nowMs;
  }
  random(): number {
    return 0.5;
  }
  setTimer(): TimerHandle {
    throw new Error('these tests drive tick() directly');
  }
}

export const quietLog: LoopLog = { debug() {}, info() {}, warn() {} };
