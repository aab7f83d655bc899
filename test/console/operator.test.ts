// The console as an operator's daily tool (issue 14), end to end: a real `gyre console --web`
// with its own local 3-node cluster, driven through Debian's chromium. The node list and a
// node page with its log; the data browser paging past one page and finding keys by prefix,
// a JSON value as a tree, a key's causal graph after concurrent writes; charts that keep their
// history across a reload; an alert firing when a node is killed; a planned then committed
// join of a 4th node followed to completion, and its leave; the what-if view agreeing with
// what the cluster does under the same fault; an experiment run to its verdict, and a
// sabotaged one the verdict flags; the audit screen listing what the test did; dark mode.
// Screenshots of every screen, light and dark, go to artifacts/screens/operator/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { TestConsole, attrOf, goTo, until as untilOn } from '../helpers/console.js';

const screensDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'artifacts', 'screens', 'operator');
const tc = new TestConsole();
let page: Page;
let errors: string[];

before(async () => {
  mkdirSync(screensDir, { recursive: true });
  await tc.start();
  ({ page, errors } = await tc.page('#/overview'));
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.getByTestId('connection-state').and(page.locator('[data-state="attached"]')).waitFor({ timeout: 30_000 });
});

after(async () => {
  await tc.stop();
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(screensDir, `${name}.png`), fullPage: true });
}

const go = (route: string) => goTo(page, route);

const node = (i: number, method: string, path: string, body?: string, headers: Record<string, string> = {}, timeoutMs = 10_000) => tc.request(i, method, path, body, headers, timeoutMs);
const attr = (testId: string, name: string) => attrOf(page, testId, name);
const until = (what: string, timeoutMs: number, check: () => Promise<boolean>) => untilOn(page, what, timeoutMs, check);

test('overview lists every node; a node page shows its identity, listeners, storage and its log, tailed and filtered', async () => {
  for (let i = 0; i < 20; i++) assert.equal((await node(1, 'PUT', `/kv/ov-${i}`, `v${i}`)).status, 204);
  await page.getByTestId('nodes-table').waitFor();
  await until('three node rows with keys', 15_000, async () => (await attr('nodes-table', 'data-count')) === '3' && Number((await page.getByTestId('node-keys-n1').textContent())?.replace(/\D/g, '')) > 0);
  for (const id of ['n1', 'n2', 'n3']) {
    assert.equal((await page.getByTestId(`node-status-${id}`).textContent())?.trim(), 'up');
    assert.equal((await page.getByTestId(`node-storage-${id}`).textContent())?.trim(), 'ok');
  }
  await page.getByTestId('node-link-n2').click();
  await page.getByTestId('screen-node').waitFor();
  await until('n2 identity', 10_000, async () => (await page.getByTestId('node-field-id').textContent()) === 'n2');
  assert.match((await page.getByTestId('node-field-version').textContent()) ?? '', /^\d+\.\d+\.\d+/);
  assert.match((await page.getByTestId('listener-internode').textContent()) ?? '', /^127\.0\.0\.1:\d+$/);
  assert.equal((await page.getByTestId('node-writable').textContent())?.trim(), 'true');
  await until('its effective settings', 10_000, async () => (await page.getByTestId('setting-id').textContent()) === 'n2');
  assert.equal((await page.getByTestId('setting-token').textContent())?.trim(), 'set', 'a secret shows only as set');
  assert.doesNotMatch((await page.getByTestId('node-settings').textContent()) ?? '', new RegExp(tc.token), 'the token itself never reaches the page');
  await until('log lines', 10_000, async () => Number(await attr('log-count', 'data-count')) > 3);
  assert.match((await page.getByTestId('node-log').textContent()) ?? '', /node ready/);
  await page.getByTestId('log-filter').fill('node ready');
  await page.getByTestId('log-filter-apply').click();
  await until('only the matching lines', 10_000, async () => {
    const lines = await page.getByTestId('log-line').allTextContents();
    return lines.length >= 1 && lines.every((l) => /node ready/.test(l));
  });
  await page.getByTestId('log-filter').fill('');
  await page.getByTestId('log-filter-apply').click();
  await until('all lines again', 10_000, async () => Number(await attr('log-count', 'data-count')) > 3);
  assert.deepEqual(errors, []);
});

test('data browser: pages through more keys than one page holds, finds keys by prefix, shows a JSON value as a tree', async () => {
  const browse = Array.from({ length: 130 }, (_, i) => `browse-${String(i).padStart(3, '0')}`);
  for (const k of browse) assert.equal((await node(1 + (browse.indexOf(k) % 3), 'PUT', `/kv/${k}`, k)).status, 204);
  for (let i = 0; i < 12; i++) assert.equal((await node(2, 'PUT', `/kv/other-${i}`, `o${i}`)).status, 204);
  assert.equal((await node(1, 'PUT', '/kv/doc-json', JSON.stringify({ user: { name: 'ada', tags: ['x', 'y'] }, n: 3 }), { 'content-type': 'application/json' })).status, 204);
  await go('data');
  await page.getByTestId('data-prefix').fill('browse-');
  await page.getByTestId('data-limit').selectOption('50');
  await page.getByTestId('data-search').click();
  await until('the first page of browse- keys', 15_000, async () => (await attr('data-page-info', 'data-prefix')) === 'browse-');
  const seen = new Set<string>();
  let pages = 0;
  for (;;) {
    await until('a page', 15_000, async () => (await page.getByTestId('data-page-info').count()) > 0);
    const rows = await page.locator('[data-testid^="data-open-"]').allTextContents();
    for (const r of rows) {
      assert.ok(r.startsWith('browse-'), `only prefixed keys: ${r}`);
      assert.ok(!seen.has(r), `listed once: ${r}`);
      seen.add(r);
    }
    pages++;
    if ((await attr('data-page-info', 'data-more')) !== 'true') break;
    const before = rows.join();
    await page.getByTestId('data-next').click();
    await until('the next page', 15_000, async () => (await page.locator('[data-testid^="data-open-"]').allTextContents()).join() !== before);
    assert.ok(pages < 20, 'the listing ends');
  }
  assert.equal(seen.size, browse.length, 'every key exactly once across the pages');
  assert.ok(pages >= 3, `more than one page (${pages})`);
  await shot('data-browse-light');
  await page.getByTestId('data-prev').click();
  await until('back to an earlier page', 10_000, async () => (await page.getByTestId('data-page-info').textContent())?.includes(`page ${pages - 1}`) === true);

  await page.getByTestId('data-prefix').fill('other-');
  await page.getByTestId('data-search').click();
  await until('the other- keys', 15_000, async () => (await attr('data-page-info', 'data-prefix')) === 'other-' && (await attr('data-keys', 'data-count')) === '12');
  assert.ok((await page.locator('[data-testid^="data-open-"]').allTextContents()).every((k) => k.startsWith('other-')));
  await page.getByTestId('data-prefix').fill('doc-json');
  await page.getByTestId('data-search').click();
  await page.locator('[data-testid="data-open-doc-json"]').click();
  await page.getByTestId('data-detail').waitFor();
  await until('the JSON tree', 10_000, async () => (await page.locator('[data-testid="json-node"][data-path="$.user"]').count()) === 1);
  await page.locator('[data-testid="json-node"][data-path="$.user"] [data-testid="json-toggle"]').first().press('Enter');
  await until('$.user expanded', 10_000, async () => (await page.locator('[data-testid="json-node"][data-path="$.user.name"]').count()) === 1);
  assert.equal(await page.locator('[data-testid="value-view-json"]').getAttribute('aria-selected'), 'true');
  assert.match((await page.locator('[data-testid="json-node"][data-path="$.user.name"]').textContent()) ?? '', /ada/);
  await shot('data-json-light');
  assert.deepEqual(errors, []);
});

test("a key's causal graph after concurrent writes: two siblings from one common ancestor", async () => {
  const key = `causal-${Date.now().toString(36)}`;
  assert.equal((await node(1, 'PUT', `/kv/${key}`, 'base')).status, 204);
  const ctx = (await node(1, 'GET', `/kv/${key}`)).headers['x-gyre-context'] as string;
  // Two writes from the same read, through different coordinators: concurrent.
  assert.equal((await node(2, 'PUT', `/kv/${key}`, 'left', { 'x-gyre-context': ctx })).status, 204);
  assert.equal((await node(3, 'PUT', `/kv/${key}`, 'right', { 'x-gyre-context': ctx })).status, 204);
  await go('data');
  await page.getByTestId('data-prefix').fill(key);
  await page.getByTestId('data-search').click();
  await until('the key listed with 2 siblings', 15_000, async () => /2/.test((await page.locator(`[data-testid="data-siblings-${key}"]`).textContent()) ?? ''));
  await page.locator(`[data-testid="data-open-${key}"]`).click();
  await until('the causal graph', 15_000, async () => (await page.locator('[data-testid="causal-graph"] [data-sibling="true"]').count()) === 2);
  assert.ok(Number(await attr('causal-graph', 'data-edges')) >= 2, 'each sibling descends from the base');
  assert.ok((await page.locator('[data-testid="causal-graph"] [data-sibling="false"]').count()) >= 1, 'an ancestor drawn');
  await shot('data-causal-light');
  // Two blind writes through one node: siblings side by side, neither drawn as the other's ancestor.
  const blind = `${key}-blind`;
  for (const value of ['one', 'two']) assert.equal((await node(1, 'PUT', `/kv/${blind}?w=3`, value)).status, 204);
  await page.getByTestId('data-prefix').fill(blind);
  await page.getByTestId('data-search').click();
  await until('the blind key listed with 2 siblings', 15_000, async () => /2/.test((await page.locator(`[data-testid="data-siblings-${blind}"]`).textContent()) ?? ''));
  await page.locator(`[data-testid="data-open-${blind}"]`).click();
  await until('its causal graph: two siblings', 15_000, async () => (await page.locator('[data-testid="causal-graph"] [data-sibling="true"]').count()) === 2 && (await attr('causal-history', 'data-key')) === blind);
  assert.equal(await attr('causal-graph', 'data-edges'), '0', 'blind writes share no history: no edge');
  await page.getByTestId('data-prefix').fill(key);
  await page.getByTestId('data-search').click();
  await page.locator(`[data-testid="data-open-${key}"]`).click();
  await until('back on the first key', 15_000, async () => (await page.locator('[data-testid="causal-graph"] [data-sibling="true"]').count()) === 2 && (await attr('causal-history', 'data-key')) === key);
  // Keep one from the browser: the context is handled for the operator.
  await page.getByTestId('data-keep-0').click();
  await until('one version on every replica', 15_000, async () => {
    const rep = JSON.parse((await node(1, 'GET', `/replicas/${key}`)).body.toString('utf8')) as { replicas: { versions: unknown[] }[] };
    return rep.replicas.every((r) => r.versions.length === 1);
  });
});

test('charts keep their history across a reload (the backend records it in SQLite)', async () => {
  await go('history');
  await until('recorded seconds', 20_000, async () => Number(await attr('history-info', 'data-filled')) >= 10);
  const before = Number(await attr('history-info', 'data-filled'));
  await page.reload();
  await page.getByTestId('connection-state').and(page.locator('[data-state="attached"]')).waitFor({ timeout: 30_000 });
  await page.getByTestId('screen-history').waitFor();
  await until('the same seconds after the reload', 15_000, async () => Number(await attr('history-info', 'data-filled')) >= before);
  await go('overview');
  // The live charts are refilled from the backend too: far more than the 1-2 snapshots since the reload.
  await until('the overview chart has its past', 10_000, async () => Number(await attr('chart-overview-ops', 'data-points')) >= 10);
  // Legends show the newest values without a hover (uPlot alone shows dashes until hovered).
  await until('the legend shows figures', 10_000, async () => (await page.locator('[data-testid="chart-overview-ops"] .u-series .u-value').allTextContents()).slice(1).every((v) => /\d/.test(v)));
  await go('history');
  await page.getByTestId('history-range-1h').click();
  await until('the 1 h range', 10_000, async () => Number(await attr('history-info', 'data-points')) > 0);
  await shot('history-1h-light');
});

test('an alert fires when a node is killed, and clears when it is back', async () => {
  await go('alerts');
  await page.getByTestId('alert-rule-nodes-down').waitFor();
  await page.getByTestId('alert-for-nodes-down').fill('1');
  await page.getByTestId('alerts-save').click();
  await until('saved', 5000, async () => (await page.getByTestId('alerts-save').isDisabled()));
  await go('chaos');
  await page.getByTestId('chaos-kill-n3').click();
  await go('alerts');
  await until('the nodes-down alert fires', 30_000, async () => (await attr('alert-rule-nodes-down', 'data-state')) === 'firing');
  await page.getByTestId('notice-error').filter({ hasText: 'Alert' }).first().waitFor({ timeout: 5000 });
  await shot('alerts-firing-light');
  await go('chaos');
  await page.getByTestId('chaos-restart-n3').click();
  await go('alerts');
  await until('the alert clears', 40_000, async () => (await attr('alert-rule-nodes-down', 'data-state')) === 'ok');
  await go('membership');
  await until('n3 up everywhere', 30_000, async () => (await attr('matrix-cell-n1-n3', 'data-status')) === 'up' && (await attr('matrix-cell-n3-n1', 'data-status')) === 'up');
});

test('membership: a planned join of a 4th node, committed and followed to completion, then its planned leave', async () => {
  await go('membership');
  await page.getByTestId('plan-join').click();
  await page.getByTestId('membership-plan').waitFor({ timeout: 15_000 });
  assert.equal(await attr('membership-plan', 'data-node'), 'n4');
  const moves = Number(await attr('membership-plan', 'data-ownership'));
  assert.ok(moves >= 14 && moves <= 18, `about a quarter of 64 partitions change owner (${moves})`);
  assert.ok(Number(await attr('membership-plan', 'data-moves')) > moves, 'n4 is copied every partition whose replicas it joins, more than it owns');
  assert.ok(Number((await page.getByTestId('plan-keys').textContent())?.replace(/\D/g, '')) > 0, 'the keys that move are counted');
  await shot('membership-plan-light');
  await page.getByTestId('plan-commit').click();
  await until('the join is done', 120_000, async () => (await attr('membership-progress', 'data-state')) === 'done');
  assert.equal(await attr('membership-progress', 'data-node'), 'n4');
  await until('n4 up in the members table', 20_000, async () => /up/.test((await page.getByTestId('member-status-n4').textContent()) ?? ''));
  const st = JSON.parse((await node(1, 'GET', '/status')).body.toString('utf8')) as { members: { id: string; partitions: number }[] };
  assert.equal(st.members.find((m) => m.id === 'n4')?.partitions, moves, 'n4 owns what the plan said');
  await shot('membership-joined-light');

  await page.getByTestId('plan-leave-node').selectOption('n4');
  await page.getByTestId('plan-leave').click();
  await until('the leave plan', 15_000, async () => (await attr('membership-plan', 'data-kind')) === 'leave');
  assert.equal(Number(await attr('membership-plan', 'data-ownership')), moves, 'everything n4 owns goes back');
  await page.getByTestId('plan-commit').click();
  await until('the leave is done', 120_000, async () => (await attr('membership-progress', 'data-state')) === 'done' && (await attr('membership-progress', 'data-kind')) === 'leave');
  await until('n4 no longer an active member', 30_000, async () => {
    const s = JSON.parse((await node(1, 'GET', '/status')).body.toString('utf8')) as { members: { id: string; state: string; partitions: number }[] };
    const n4 = s.members.find((m) => m.id === 'n4');
    return !n4 || (n4.state === 'left' && n4.partitions === 0);
  });
  for (let i = 0; i < 20; i++) assert.equal((await node(1, 'GET', `/kv/ov-${i}`)).status, 200, 'every key readable after the join and the leave');
});

test('what-if agrees with the cluster: isolating one node keeps R and W, isolating two loses them, as the view says', async () => {
  await go('whatif');
  await page.getByTestId('whatif-node-n1').check();
  await until('the analysis of n1 failing', 10_000, async () => (await attr('whatif-summary', 'data-strict-write-lost')) === '0');
  assert.equal(await attr('whatif-summary', 'data-strict-read-lost'), '0');
  await page.getByTestId('whatif-duration').fill('8');
  await page.getByTestId('whatif-inject-isolate').click();
  await until('the fault is in force', 10_000, async () => /partition/.test(JSON.stringify((JSON.parse((await node(3, 'GET', '/admin/faults')).body.toString('utf8')) as { faults: unknown[] }).faults)));
  await page.waitForTimeout(1500);
  for (let i = 0; i < 5; i++) assert.equal((await node(3, 'PUT', `/kv/wi-a-${i}?w=2`, 'x')).status, 204, 'W=2 holds with n1 cut off, as the view said');
  assert.equal((await node(3, 'GET', '/kv/wi-a-0?r=2')).status, 200, 'R=2 holds');
  await until('healed', 20_000, async () => (JSON.parse((await node(3, 'GET', '/admin/faults')).body.toString('utf8')) as { faults: unknown[] }).faults.length === 0);

  await page.getByTestId('whatif-node-n2').check();
  const q = String(64);
  await until('the analysis of n1 and n2 failing', 10_000, async () => (await attr('whatif-summary', 'data-strict-write-lost')) === q);
  assert.equal(await attr('whatif-summary', 'data-strict-read-lost'), q);
  assert.equal(await attr('whatif-summary', 'data-sloppy-write-lost'), q, 'one node left cannot make W=2 even with stand-ins');
  await shot('whatif-two-failed-light');
  await page.getByTestId('whatif-inject-isolate').click();
  await until('the fault is in force', 10_000, async () => /partition/.test(JSON.stringify((JSON.parse((await node(3, 'GET', '/admin/faults')).body.toString('utf8')) as { faults: unknown[] }).faults)));
  await page.waitForTimeout(1500);
  assert.equal((await node(3, 'PUT', '/kv/wi-b?w=2', 'x', {}, 15_000)).status, 503, 'W=2 lost with n1 and n2 cut off, as the view said');
  assert.equal((await node(3, 'GET', '/kv/wi-a-0?r=2', undefined, {}, 15_000)).status, 503, 'R=2 lost');
  await go('chaos');
  await page.getByTestId('heal-all').click();
  await until('healed', 10_000, async () => Number(await attr('active-faults', 'data-count')) === 0);
  await go('membership');
  await until('every node up again', 40_000, async () => (await attr('matrix-cell-n3-n1', 'data-status')) === 'up' && (await attr('matrix-cell-n3-n2', 'data-status')) === 'up');
});

async function buildScenario(name: string): Promise<void> {
  await go('experiments');
  await page.getByTestId('scenario-name').fill(name);
  await page.getByTestId('scenario-rate').fill('40');
  await page.getByTestId('scenario-keys').fill('8');
  await page.getByTestId('scenario-settle').fill('6');
  await page.getByTestId('step-add').click();
  await page.getByTestId('step-kind-0').selectOption('partition');
  await page.getByTestId('step-at-0').fill('1');
  await page.getByTestId('step-duration-0').fill('3');
  await page.getByTestId('step-node-0-n1').check();
}

async function runToEnd(): Promise<{ id: string; state: string }> {
  await page.getByTestId('scenario-save-run').click();
  await until('a run starts', 15_000, async () => (await attr('run-detail', 'data-state')) === 'running');
  const id = (await attr('run-detail', 'data-run'))!;
  return { id, state: 'running' };
}

test('an experiment runs to the checker\'s verdict; a sabotaged one (writes outside the history) is flagged', async () => {
  await buildScenario('partition n1 for 3 s');
  const run = await runToEnd();
  await until('the verdict', 90_000, async () => ['passed', 'failed', 'error'].includes((await attr('run-detail', 'data-state')) ?? ''));
  assert.equal(await attr('run-detail', 'data-state'), 'passed', (await page.getByTestId('run-detail').textContent()) ?? '');
  assert.match((await page.getByTestId('run-summary').textContent()) ?? '', /0 lost/);
  assert.equal(await attr(`run-row-${run.id}`, 'data-state'), 'passed');
  await shot('experiments-passed-light');

  // The same scenario again, with a client outside the history writing the run's keys.
  await page.getByTestId('scenario-save-run').click();
  await until('a second run starts', 15_000, async () => (await attr('run-detail', 'data-state')) === 'running' && (await attr('run-detail', 'data-run')) !== run.id);
  const sabotaged = (await attr('run-detail', 'data-run'))!;
  for (let i = 0; i < 8; i++) await node(2, 'PUT', `/kv/exp-${sabotaged}-${i}`, `sabotage-${i}`).catch(() => undefined);
  await until('the second verdict', 90_000, async () => ['passed', 'failed', 'error'].includes((await attr('run-detail', 'data-state')) ?? ''));
  assert.equal(await attr('run-detail', 'data-state'), 'failed', 'the checker flags writes it did not record');
  assert.ok((await page.locator('[data-testid^="run-rule-"]').count()) > 0, 'the broken rule is named');
  await shot('experiments-failed-light');

  // The run's charts: History opens on the run's own time range, with the samples taken during it.
  const started = Number(await attr('run-detail', 'data-started'));
  const ended = Number(await attr('run-detail', 'data-ended'));
  await page.getByTestId('run-charts').click();
  await page.getByTestId('screen-history').waitFor({ timeout: 10_000 });
  await until('the run\'s range, filled', 15_000, async () => Number(await attr('history-info', 'data-filled')) > 0 && (await attr('history-info', 'data-from')) !== '');
  assert.deepEqual([Number(await attr('history-info', 'data-from')), Number(await attr('history-info', 'data-to'))], [started - 5000, ended + 5000], 'the run, 5 s either side');
  await shot('experiments-run-charts-light');
});

test('the audit screen lists the actions this test took', async () => {
  await go('audit');
  await until('audit rows', 10_000, async () => Number(await attr('audit-table', 'data-count')) > 0);
  const actions = new Set(await page.locator('[data-testid="audit-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action'))));
  for (const a of ['attach', 'key:resolve', 'alerts:save', 'node:kill', 'node:restart', 'membership:commit', 'fault:inject', 'fault:heal', 'experiment:save', 'experiment:run']) assert.ok(actions.has(a), `audit lists ${a}: ${[...actions].join(', ')}`);
  const commits = await page.locator('[data-testid="audit-row"][data-action="membership:commit"]').count();
  assert.equal(commits, 2, 'the join and the leave');
  assert.doesNotMatch((await page.getByTestId('audit-table').textContent()) ?? '', new RegExp(tc.token), 'no token in the audit trail');
  await shot('audit-actions-light');
});

const screens = ['overview', 'ring', 'membership', 'replicas', 'antientropy', 'hints', 'data', 'conflicts', 'throughput', 'history', 'chaos', 'whatif', 'experiments', 'keys', 'workload', 'alerts', 'audit', 'connections'];

test('dark mode: the toggle switches every screen (screenshots of each, light and dark); keyboard shortcuts and their help sheet', async () => {
  await go('antientropy');
  await until('partitions listed', 15_000, async () => Number(await attr('ae-summary', 'data-count')) === 64);
  await page.getByTestId('ae-repair-0').click();
  await page.getByTestId('notice-ok').filter({ hasText: 'Repair of partition 0' }).first().waitFor({ timeout: 20_000 });
  for (const theme of ['light', 'dark'] as const) {
    while ((await page.evaluate('document.documentElement.dataset.theme')) !== theme) await page.getByTestId('theme-toggle').click();
    for (const r of screens) {
      await go(r);
      await page.waitForTimeout(700);
      await shot(`${r}-${theme}`);
    }
    await page.goto(`${tc.url}#/node?id=n1`);
    await page.getByTestId('screen-node').waitFor();
    await page.waitForTimeout(1000);
    await shot(`node-${theme}`);
  }
  // Dark really is dark: the page background's luminance.
  const bg = String(await page.evaluate('getComputedStyle(document.documentElement).backgroundColor'));
  const rgb = (bg.match(/\d+/g) ?? []).map(Number);
  assert.ok(rgb.length >= 3 && rgb[0]! + rgb[1]! + rgb[2]! < 150, `a dark background (${bg})`);
  // The choice survives a reload.
  await page.reload();
  await page.getByTestId('screen-node').waitFor();
  assert.equal(await page.evaluate('document.documentElement.dataset.theme'), 'dark');

  // Keyboard: ? opens the sheet, Escape closes it, g then a letter goes to a screen.
  await page.locator('body').click({ position: { x: 5, y: 300 } });
  await page.keyboard.press('?');
  await page.getByTestId('shortcuts-help').waitFor();
  await shot('shortcuts-dark');
  await page.keyboard.press('Escape');
  await page.getByTestId('shortcuts-help').waitFor({ state: 'detached' });
  await page.keyboard.press('g');
  await page.keyboard.press('d');
  await page.getByTestId('screen-data').waitFor({ timeout: 5000 });
  await page.keyboard.press('/');
  assert.equal(await page.evaluate("document.activeElement?.getAttribute('data-testid')"), 'data-prefix', '/ focuses the search field');
  assert.deepEqual(errors, []);
});
