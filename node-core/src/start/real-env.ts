// The production Env: the wall clock, Math.random and Node timers. Only drivers import it.

import type { Env } from '../core/env.js';
import type { ProcessControl } from '../node/fault-injector.js';

export const realEnv: Env = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};


/** Pause and crash faults on a real process. */
export const realProcessControl: ProcessControl = {
  // Blocking the one thread stops everything at once, like SIGSTOP or a long GC pause:
  // timers, sockets and SQLite all wait, and the kernel queues what peers send meanwhile.
  pause(ms) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  },
  crash() {
    process.kill(process.pid, 'SIGKILL');
  },
};
