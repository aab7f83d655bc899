// The background loop behind gossip, handoff, transfers, anti-entropy and reaping: run, wait,
// run again on the Env's timers; never two runs at once; a run may pick the next delay; a
// failing run is reported and the loop goes on; stop() ends it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Env, type TimerHandle, sleep } from '../../node-core/src/core/env.js';
import { type LoopStep, Periodic } from '../../node-core/src/core/periodic.js';

interface Timer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** Lets every pending promise continuation run (Periodic reschedules from a .then). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A manual clock: timers fire only inside advance(), in (due, creation) order. */
class ManualEnv implements Env {
  private nowMs = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.nowMs;
  }

  random(): number {
    return 0.5;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: Timer = { due: this.nowMs + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Runs every timer due up to now + ms (including ones those timers set), settling promises after each. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: Timer | undefined;
      for (const t of this.timers) if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.nowMs = next.due;
      next.fn();
      await settle();
    }
    this.nowMs = target;
  }
}

/** Wraps a step to record when runs start and how many overlap. */
function instrument(env: ManualEnv, body: (run: number) => ReturnType<LoopStep>): { step: LoopStep; starts: number[]; maxActive: () => number } {
  const starts: number[] = [];
  let active = 0;
  let maxActive = 0;
  const step: LoopStep = () => {
    const run = starts.length;
    starts.push(env.now());
    active++;
    maxActive = Math.max(maxActive, active);
    let out: ReturnType<LoopStep>;
    try {
      out = body(run);
    } catch (e) {
      active--;
      throw e;
    }
    if (out instanceof Promise) {
      return out.finally(() => {
        active--;
      });
    }
    active--;
    return out;
  };
  return { step, starts, maxActive: () => maxActive };
}

// interval, first delay (undefined: the interval) -> start times over 1000 ms
const cadenceCases: readonly [intervalMs: number, firstDelayMs: number | undefined][] = [
  [100, undefined],
  [100, 0],
  [250, 30],
  [1000, undefined],
  [300, 1000],
];

for (const [intervalMs, firstDelayMs] of cadenceCases) {
  test(`Periodic: with interval ${intervalMs} ms and first delay ${firstDelayMs ?? 'default'}, an instant step runs at the first delay and then every interval`, async () => {
    const env = new ManualEnv();
    const { step, starts } = instrument(env, () => undefined);
    const loop = new Periodic(env, intervalMs, step);
    if (firstDelayMs === undefined) loop.start();
    else loop.start(firstDelayMs);
    await env.advance(1000);
    const first = firstDelayMs ?? intervalMs;
    const want: number[] = [];
    for (let t = first; t <= 1000; t += intervalMs) want.push(t);
    assert.deepEqual(starts, want);
    loop.stop();
  });
}

test('Periodic: a step slower than the interval never overlaps the next; the interval counts from its end', async () => {
  const env = new ManualEnv();
  const { step, starts, maxActive } = instrument(env, () => sleep(env, 250));
  const loop = new Periodic(env, 100, step);
  loop.start();
  await env.advance(2000);
  assert.equal(maxActive(), 1);
  assert.deepEqual(starts, [100, 450, 800, 1150, 1500, 1850]);
  loop.stop();
});

type Outcome = { readonly t: 'plain' } | { readonly t: 'delay'; readonly ms: number } | { readonly t: 'throw' };
interface Behaviour {
  /** 0: the step is synchronous; otherwise it resolves (or rejects) this long after it started. */
  readonly durationMs: number;
  readonly outcome: Outcome;
}

const behaviourArb: fc.Arbitrary<Behaviour> = fc.record({
  durationMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })),
  outcome: fc.oneof(
    fc.constant<Outcome>({ t: 'plain' }),
    fc.integer({ min: 0, max: 300 }).map((ms): Outcome => ({ t: 'delay', ms })),
    fc.constant<Outcome>({ t: 'throw' }),
  ),
});

test('Periodic: runs follow the model (start, then the returned delay or the interval after each end), one at a time, errors reported and survived', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(50, 100, 250), fc.integer({ min: 0, max: 200 }), fc.array(behaviourArb, { maxLength: 12 }), async (intervalMs, firstDelayMs, behaviours) => {
      const env = new ManualEnv();
      const errors: unknown[] = [];
      const thrown: Error[] = [];
      const { step, starts, maxActive } = instrument(env, (run) => {
        const b = behaviours[run];
        if (!b) return undefined; // past the script: an instant, plain step
        const finish = (): number | void => {
          if (b.outcome.t === 'throw') {
            const e = new Error(`run ${run} failed`);
            thrown.push(e);
            throw e;
          }
          return b.outcome.t === 'delay' ? b.outcome.ms : undefined;
        };
        if (b.durationMs === 0) return finish();
        return sleep(env, b.durationMs).then(finish);
      });
      const loop = new Periodic(env, intervalMs, step, (e) => errors.push(e));
      // Model: each run starts at the previous end plus its chosen delay.
      const want = [firstDelayMs];
      for (const b of behaviours) {
        const end = want[want.length - 1]! + b.durationMs;
        want.push(end + (b.outcome.t === 'delay' ? b.outcome.ms : intervalMs));
      }
      loop.start(firstDelayMs);
      await env.advance(want[want.length - 1]!);
      loop.stop();
      assert.deepEqual(starts, want);
      assert.equal(maxActive(), 1);
      assert.deepEqual(errors, thrown, 'onError gets each failure, once, in order');
      assert.equal(env.pending, 0, 'stop() leaves no timer behind');
    }),
    { numRuns: 150 },
  );
});

// when stop() is called -> no run starts afterwards
const stopCases: readonly [what: string, stepMs: number, stopAtMs: number][] = [
  ['before the first run', 0, 50],
  ['between instant runs', 0, 250],
  ['while a slow run is in flight', 300, 200],
  ['exactly when a run is due', 0, 200],
];

for (const [what, stepMs, stopAtMs] of stopCases) {
  test(`Periodic: stop() ${what} ends the loop: no run starts afterwards and no timer is left`, async () => {
    const env = new ManualEnv();
    const { step, starts } = instrument(env, () => (stepMs === 0 ? undefined : sleep(env, stepMs)));
    const loop = new Periodic(env, 100, step);
    loop.start();
    await env.advance(stopAtMs);
    const before = starts.length;
    loop.stop();
    await env.advance(5000);
    assert.equal(starts.length, before, `runs started after stop(): ${starts.slice(before).join(', ')}`);
    assert.equal(env.pending, 0);
  });
}

test('Periodic: a failing step (sync throw or rejection) is reported to onError and the loop keeps its interval', async () => {
  const env = new ManualEnv();
  const errors: unknown[] = [];
  const { step, starts } = instrument(env, (run) => {
    if (run % 3 === 0) throw new Error(`sync ${run}`);
    if (run % 3 === 1) return Promise.reject(new Error(`async ${run}`));
    return 40; // a successful run asks for a shorter wait
  });
  const loop = new Periodic(env, 100, step, (e) => errors.push(e));
  loop.start();
  await env.advance(1000);
  loop.stop();
  assert.deepEqual(starts, [100, 200, 300, 340, 440, 540, 580, 680, 780, 820, 920]);
  assert.deepEqual(
    errors.map((e) => (e instanceof Error ? e.message : String(e))),
    ['sync 0', 'async 1', 'sync 3', 'async 4', 'sync 6', 'async 7', 'sync 9', 'async 10'],
  );
});

test(
  'Periodic: stop() then start() while a run is in flight still never runs two steps at once',
  async () => {
    const env = new ManualEnv();
    const { step, starts, maxActive } = instrument(env, () => sleep(env, 250));
    const loop = new Periodic(env, 100, step);
    loop.start();
    await env.advance(150); // the first run (started at 100) is still in flight
    loop.stop();
    loop.start();
    await env.advance(2000);
    loop.stop();
    assert.equal(maxActive(), 1, `runs started at ${starts.join(', ')}`);
    // One loop: consecutive starts are at least a run plus an interval apart.
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 100, `runs at ${starts[i - 1]} and ${starts[i]}`);
  },
);
