// The production Env: the wall clock, Math.random and Node timers. Only drivers import it.

import type { Env } from './core/env.js';

export const realEnv: Env = {
  now: () => Date.now(),
  random: () => Math.random(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

