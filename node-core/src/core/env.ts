// Time, randomness and timers are inputs (STYLE 2): the node's logic reads them only through
// an Env, so the simulator can drive a whole cluster from one seeded clock.

export interface TimerHandle {
  cancel(): void;
}

export interface Env {
  now(): number;
  random(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
}

/** Resolves after `ms` of the env's time. */
export function sleep(env: Env, ms: number): Promise<void> {
  return new Promise((resolve) => env.setTimer(ms, resolve));
}
