// An experiment's scenario (issue 14) is validated where it comes in: every bound holds at its
// edge (the limit passes, one past it is refused, naming the field), hostile shapes are refused
// with a clear error and never a crash, and each step maps onto the node's fault API exactly
// (the body parseFaultSpec accepts, with the step's duration).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFaultSpec } from '../../node-core/src/core/faults.js';
import { ScenarioError, checkScenario, describeStep, experimentKeys, faultSpecOf, nextRunAt, nodesNamed, scenarioEndMs, settleMsDefault, type Step } from '../../electron/backend/scenario.js';

const base = {
  name: 'partition under load',
  workload: { enabled: true, ratePerSecond: 100, keys: 20, getRatio: 0.5 },
  steps: [{ atMs: 1000, durationMs: 3000, fault: { kind: 'partition', sides: [['n1'], ['n2', 'n3']] } }],
};

function refused(raw: unknown, field: RegExp): void {
  assert.throws(() => checkScenario(raw), (e: unknown) => e instanceof ScenarioError && field.test(e.message), `expected a refusal naming ${field}`);
}

const withWorkload = (w: Record<string, unknown>) => ({ ...base, workload: { ...base.workload, ...w } });
const withStep = (s: Record<string, unknown>) => ({ ...base, steps: [{ ...base.steps[0], ...s }] });
const withFault = (f: unknown) => ({ ...base, steps: [{ atMs: 0, durationMs: 1000, fault: f }] });

test('scenario: a valid scenario is taken with its defaults (settleMs 10 s, no schedule, oneWay false)', () => {
  const s = checkScenario(base);
  assert.equal(s.settleMs, settleMsDefault);
  assert.equal(s.schedule, null);
  assert.deepEqual(s.steps[0]!.fault, { kind: 'partition', sides: [['n1'], ['n2', 'n3']], oneWay: false });
  assert.equal(s.id, undefined);
  assert.equal(checkScenario({ ...base, name: '  padded  ' }).name, 'padded');
});

// Table-driven: [what, raw, accepted?, the field a refusal names].
const bounds: [string, unknown, boolean, RegExp][] = [
  ['name of 100 chars', { ...base, name: 'x'.repeat(100) }, true, /./],
  ['name of 101 chars', { ...base, name: 'x'.repeat(101) }, false, /^name/],
  ['empty name', { ...base, name: '   ' }, false, /^name/],
  ['rate 1', withWorkload({ ratePerSecond: 1 }), true, /./],
  ['rate 2000', withWorkload({ ratePerSecond: 2000 }), true, /./],
  ['rate 2001', withWorkload({ ratePerSecond: 2001 }), false, /workload\.ratePerSecond/],
  ['rate 0', withWorkload({ ratePerSecond: 0 }), false, /workload\.ratePerSecond/],
  ['rate 1.5', withWorkload({ ratePerSecond: 1.5 }), false, /workload\.ratePerSecond/],
  ['keys 10000', withWorkload({ keys: 10_000 }), true, /./],
  ['keys 10001', withWorkload({ keys: 10_001 }), false, /workload\.keys/],
  ['keys 0', withWorkload({ keys: 0 }), false, /workload\.keys/],
  ['getRatio 0', withWorkload({ getRatio: 0 }), true, /./],
  ['getRatio 1', withWorkload({ getRatio: 1 }), true, /./],
  ['getRatio 1.01', withWorkload({ getRatio: 1.01 }), false, /workload\.getRatio/],
  ['getRatio -0.1', withWorkload({ getRatio: -0.1 }), false, /workload\.getRatio/],
  ['enabled "yes"', withWorkload({ enabled: 'yes' }), false, /workload\.enabled/],
  ['no steps', { ...base, steps: [] }, false, /^steps/],
  ['50 steps', { ...base, steps: Array.from({ length: 50 }, () => base.steps[0]) }, true, /./],
  ['51 steps', { ...base, steps: Array.from({ length: 51 }, () => base.steps[0]) }, false, /^steps/],
  ['atMs 0', withStep({ atMs: 0 }), true, /./],
  ['atMs 3600000', withStep({ atMs: 3_600_000 }), true, /./],
  ['atMs 3600001', withStep({ atMs: 3_600_001 }), false, /steps\[0\]\.atMs/],
  ['atMs -1', withStep({ atMs: -1 }), false, /steps\[0\]\.atMs/],
  ['durationMs 100', withStep({ durationMs: 100 }), true, /./],
  ['durationMs 99', withStep({ durationMs: 99 }), false, /steps\[0\]\.durationMs/],
  ['durationMs 600000', withStep({ durationMs: 600_000 }), true, /./],
  ['durationMs 600001', withStep({ durationMs: 600_001 }), false, /steps\[0\]\.durationMs/],
  ['a pause of 120 s', { ...base, steps: [{ atMs: 0, durationMs: 120_000, fault: { kind: 'pause', node: 'n1' } }] }, true, /./],
  ['a pause past the node limit', { ...base, steps: [{ atMs: 0, durationMs: 120_001, fault: { kind: 'pause', node: 'n1' } }] }, false, /pause lasts at most/],
  ['settleMs 0', { ...base, settleMs: 0 }, true, /./],
  ['settleMs 120000', { ...base, settleMs: 120_000 }, true, /./],
  ['settleMs 120001', { ...base, settleMs: 120_001 }, false, /^settleMs/],
  ['every 5 minutes', { ...base, schedule: { everyMinutes: 5 } }, true, /./],
  ['every 4 minutes', { ...base, schedule: { everyMinutes: 4 } }, false, /schedule\.everyMinutes/],
  ['every 10080 minutes', { ...base, schedule: { everyMinutes: 10_080 } }, true, /./],
  ['every 10081 minutes', { ...base, schedule: { everyMinutes: 10_081 } }, false, /schedule\.everyMinutes/],
  ['latency of 60 s', withFault({ kind: 'latency', nodes: ['n1'], delayMs: 60_000 }), true, /./],
  ['latency past 60 s', withFault({ kind: 'latency', nodes: ['n1'], delayMs: 60_001 }), false, /fault\.delayMs/],
  ['negative jitter', withFault({ kind: 'latency', nodes: ['n1'], delayMs: 5, jitterMs: -1 }), false, /fault\.jitterMs/],
  ['loss probability 1', withFault({ kind: 'loss', nodes: ['n1'], probability: 1 }), true, /./],
  ['loss probability 1.5', withFault({ kind: 'loss', nodes: ['n1'], probability: 1.5 }), false, /fault\.probability/],
  ['64 nodes on a side', withFault({ kind: 'partition', sides: [Array.from({ length: 64 }, (_, i) => `a${i}`), ['b']] }), true, /./],
  ['65 nodes on a side', withFault({ kind: 'partition', sides: [Array.from({ length: 65 }, (_, i) => `a${i}`), ['b']] }), false, /sides\[0\]/],
  ['a node on both sides', withFault({ kind: 'partition', sides: [['n1', 'n2'], ['n2']] }), false, /both sides/],
  ['an empty side', withFault({ kind: 'partition', sides: [[], ['n2']] }), false, /sides\[0\]/],
  ['three sides', withFault({ kind: 'partition', sides: [['n1'], ['n2'], ['n3']] }), false, /sides/],
  ['oneWay "no"', withFault({ kind: 'partition', sides: [['n1'], ['n2']], oneWay: 'no' }), false, /oneWay/],
  ['a node id of 65 bytes', withFault({ kind: 'kill', node: 'n'.repeat(65) }), false, /fault\.node/],
  ['a node id with a slash', withFault({ kind: 'pause', node: '../n1' }), false, /fault\.node/],
  ['an unknown fault kind', withFault({ kind: 'crash', node: 'n1' }), false, /fault\.kind/],
];

for (const [what, raw, ok, field] of bounds) {
  test(`scenario bounds: ${what} is ${ok ? 'accepted' : 'refused'}`, () => {
    if (ok) checkScenario(raw);
    else refused(raw, field);
  });
}

test('scenario: hostile shapes are refused with a ScenarioError, never a crash or a silent default', () => {
  const deep: unknown[] = [];
  let cur = deep;
  for (let i = 0; i < 10_000; i++) {
    const next: unknown[] = [];
    cur.push(next);
    cur = next;
  }
  const hostile: unknown[] = [
    null,
    undefined,
    42,
    'a scenario',
    [],
    [base],
    { ...base, steps: { 0: base.steps[0], length: 1 } },
    { ...base, steps: [null] },
    { ...base, steps: [[1000, 3000]] },
    { ...base, steps: new Array(3) },
    { ...base, workload: null },
    { ...base, workload: [] },
    { ...base, name: 12 },
    { ...base, name: { toString: () => 'x' } },
    { ...base, id: '../../etc' },
    { ...base, id: 'x'.repeat(65) },
    { ...base, settleMs: '10000' },
    { ...base, settleMs: Number.NaN },
    { ...base, settleMs: Infinity },
    { ...base, schedule: { everyMinutes: 10, extra: 1 } },
    { ...base, schedule: 'hourly' },
    withStep({ atMs: 10n }),
    withStep({ durationMS: 1000 }),
    withFault(null),
    withFault({ kind: 'partition', sides: deep }),
    withFault({ kind: 'partition', sides: [deep, ['n1']] }),
    withFault({ kind: 'latency', nodes: 'n1', delayMs: 5 }),
    withFault({ kind: 'latency', nodes: [{ id: 'n1' }], delayMs: 5 }),
    withFault({ kind: 'loss', nodes: ['n1'], probability: 0.1, durationMs: 5 }),
    JSON.parse('{"name":"x","workload":{"enabled":true,"ratePerSecond":1,"keys":1,"getRatio":0},"steps":[],"__proto__":{"polluted":1}}') as unknown,
    { ...base, extra: true },
  ];
  for (const raw of hostile) assert.throws(() => checkScenario(raw), ScenarioError);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('scenario: each step maps onto POST /admin/faults exactly, its duration the fault\'s own', () => {
  const steps: Step[] = [
    { atMs: 0, durationMs: 3000, fault: { kind: 'partition', sides: [['n1'], ['n2', 'n3']], oneWay: true } },
    { atMs: 0, durationMs: 2000, fault: { kind: 'latency', nodes: ['n2'], delayMs: 50, jitterMs: 10 } },
    { atMs: 0, durationMs: 1500, fault: { kind: 'loss', nodes: ['n1', 'n3'], probability: 0.2 } },
    { atMs: 0, durationMs: 1200, fault: { kind: 'pause', node: 'n3' } },
  ];
  const expected = [
    { kind: 'partition', from: ['n1'], to: ['n2', 'n3'], oneWay: true },
    { kind: 'latency', nodes: ['n2'], delayMs: 50, jitterMs: 10 },
    { kind: 'loss', nodes: ['n1', 'n3'], probability: 0.2 },
    { kind: 'pause', node: 'n3' },
  ];
  steps.forEach((step, i) => {
    const body = faultSpecOf(step)!;
    const parsed = parseFaultSpec(body);
    assert.ok(parsed.ok, `the node takes ${JSON.stringify(body)}`);
    assert.deepEqual(parsed.spec, expected[i]);
    assert.equal(parsed.durationMs, step.durationMs);
    assert.ok(describeStep(step).endsWith(`for ${step.durationMs} ms`));
  });
  assert.equal(faultSpecOf({ atMs: 0, durationMs: 1000, fault: { kind: 'kill', node: 'n1' } }), undefined, 'a kill goes through the supervisor: the node cannot restart itself');
});

test('scenario: the nodes it names, when it ends, when it runs next, and the keys a run writes', () => {
  const s = checkScenario({ ...base, steps: [...base.steps, { atMs: 5000, durationMs: 2000, fault: { kind: 'kill', node: 'n4' } }], schedule: { everyMinutes: 5 } });
  assert.deepEqual(nodesNamed(s), ['n1', 'n2', 'n3', 'n4']);
  assert.equal(scenarioEndMs(s), 7000);
  assert.equal(nextRunAt(s.schedule, 1000), 1000 + 5 * 60_000);
  assert.equal(nextRunAt(null, 1000), null);
  assert.deepEqual(experimentKeys('ab12', 3), ['exp-ab12-0', 'exp-ab12-1', 'exp-ab12-2']);
});
