// Alert rules (issue 14): pending until the condition held forSeconds, firing then, ok at once
// when it stops; growth rules compare with the figure a window ago; hostile rule sets refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Observation, checkAlertRules, defaultAlertRules, evaluate, newlyFiring } from '../../electron/backend/alerts.js';
import type { AlertRule, AlertState } from '../../node-core/src/wire/console.js';

const obs = (at: number, o: Partial<Observation> = {}): Observation => ({ at, nodesDown: 0, hints: 0, p99: 1, siblings: 0, merkleDisagree: 0, ...o });

function run(rules: readonly AlertRule[], series: readonly Observation[]): AlertState[][] {
  let states: AlertState[] = [];
  const out: AlertState[][] = [];
  series.forEach((o, i) => {
    states = evaluate(rules, states, o, series.slice(0, i + 1));
    out.push(states);
  });
  return out;
}

test('a node down fires after forSeconds, not before, and clears at once', () => {
  const rules = [{ id: 'down', metric: 'nodesDown', threshold: 1, forSeconds: 5, enabled: true }] as const;
  const series = Array.from({ length: 12 }, (_, i) => obs(i * 1000, { nodesDown: i >= 2 && i < 10 ? 1 : 0 }));
  const states = run(rules, series).map((s) => s[0]!.state);
  assert.deepEqual(states, ['ok', 'ok', 'pending', 'pending', 'pending', 'pending', 'pending', 'firing', 'firing', 'firing', 'ok', 'ok']);
  const all = run(rules, series);
  assert.equal(newlyFiring(all[6]!, all[7]!).length, 1);
  assert.equal(newlyFiring(all[7]!, all[8]!).length, 0, 'a firing alert notifies once');
});

test('hint backlog growth is measured over the window, so a high but steady backlog does not fire', () => {
  const rules = [{ id: 'h', metric: 'hintsGrowing', threshold: 100, forSeconds: 10, enabled: true }] as const;
  const steady = Array.from({ length: 40 }, (_, i) => obs(i * 1000, { hints: 5000 }));
  assert.ok(run(rules, steady).every((s) => s[0]!.state === 'ok'));
  const growing = Array.from({ length: 40 }, (_, i) => obs(i * 1000, { hints: i * 20 }));
  const last = run(rules, growing).at(-1)![0]!;
  assert.equal(last.state, 'firing');
  assert.equal(last.value, 200, 'grew by 20/s over 10 s');
});

test('p99 over its bound; rules switched off are not evaluated', () => {
  const rules: AlertRule[] = [
    { id: 'p', metric: 'p99', threshold: 100, forSeconds: 0, enabled: true },
    { id: 'off', metric: 'nodesDown', threshold: 1, forSeconds: 0, enabled: false },
  ];
  const s = run(rules, [obs(0, { p99: 150, nodesDown: 3 })]).at(-1)!;
  assert.deepEqual(s.map((x) => [x.ruleId, x.state]), [['p', 'firing']]);
  assert.equal(run(rules, [obs(0, { p99: null })]).at(-1)![0]!.state, 'ok', 'no requests: no latency alert');
});

test('rule sets from the renderer are validated', () => {
  assert.deepEqual(checkAlertRules(defaultAlertRules), defaultAlertRules);
  for (const bad of [null, {}, [{ id: 'x' }], [{ ...defaultAlertRules[0], metric: 'cpu' }], [{ ...defaultAlertRules[0], threshold: -1 }], [{ ...defaultAlertRules[0], threshold: Infinity }], [{ ...defaultAlertRules[0], forSeconds: 1.5 }], [{ ...defaultAlertRules[0], id: '<script>' }], [defaultAlertRules[0], defaultAlertRules[0]], Array(40).fill(defaultAlertRules[0])]) {
    assert.throws(() => checkAlertRules(bad), Error, JSON.stringify(bad)?.slice(0, 80));
  }
});
