// The operator console end to end (issue 6): a real `gyre console --web` with its own local
// 3-node cluster, driven through Debian's chromium by playwright-core. Every screen renders
// real data (a screenshot of each goes to artifacts/screens/ for CI); killing a node from Chaos
// turns it down in Membership and Overview and raises the handoff backlog, restarting it
// drains it; two concurrent writes show in Conflicts and resolving them from the UI leaves one
// version in /replicas; a fault shows as a marker on the throughput chart; Ctrl-C stops the
// cluster the console launched.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { LocalCluster } from '../../node-core/src/cli/supervisor.js';
import { TestConsole, attrOf, goTo, until as untilOn } from '../helpers/console.js';

const screensDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'artifacts', 'screens');
const routes = ['overview', 'ring', 'membership', 'replicas', 'hints', 'conflicts', 'throughput', 'chaos', 'keys', 'workload', 'connections'] as const;
const tc = new TestConsole();
let page: Page;
let errors: string[];

before(async () => {
  mkdirSync(screensDir, { recursive: true });
  await tc.start();
  ({ page, errors } = await tc.page('#/overview'));
  await page.getByTestId('connection-state').and(page.locator('[data-state="attached"]')).waitFor({ timeout: 30_000 });
});

after(async () => {
  await tc.stop();
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(screensDir, `${name}.png`), fullPage: true });
}

const go = (route: (typeof routes)[number]) => goTo(page, route);

const node = (i: number, method: string, path: string, body?: string, headers: Record<string, string> = {}, timeoutMs = 10_000) => tc.request(i, method, path, body, headers, timeoutMs);
const attr = (testId: string, name: string) => attrOf(page, testId, name);
const until = (what: string, timeoutMs: number, check: () => Promise<boolean>) => untilOn(page, what, timeoutMs, check);

test('console: every screen renders the live cluster without errors (screenshots in artifacts/screens)', async () => {
  // Some data to show: a workload for a few seconds, and one key.
  assert.equal((await node(1, 'PUT', '/kv/console-e2e', 'hello')).status, 204);
  await go('workload');
  await page.getByTestId('workload-rate').fill('200');
  await page.getByTestId('workload-start').click();
  await until('the workload runs', 10_000, async () => (await attr('workload-status', 'data-running')) === 'true');
  await until('requests were sent', 10_000, async () => Number((await page.getByTestId('workload-sent').textContent())?.replace(/\D/g, '') ?? 0) > 50);
  for (const r of routes) {
    await go(r);
    await page.waitForTimeout(1200);
    await shot(r);
  }
  await go('membership');
  for (const id of ['n1', 'n2', 'n3']) assert.match((await page.getByTestId(`member-status-${id}`).textContent()) ?? '', /up/, `${id} up in Membership`);
  assert.equal(await attr('matrix-cell-n1-n3', 'data-status'), 'up');
  await go('ring');
  assert.equal(await attr('ring-svg', 'data-partitions'), '64');
  await page.getByTestId('ring-key-input').fill('console-e2e');
  await page.getByTestId('ring-key-locate').click();
  await page.getByTestId('ring-pref-list').waitFor();
  assert.equal(await page.getByTestId('ring-pref-list').locator('[data-testid^="ring-pref-"]').count(), 3);
  await go('keys');
  await page.getByTestId('keys-key').fill('console-e2e-keys');
  await page.getByTestId('keys-value').fill('from the console');
  // The R choices appear once the first snapshot said what N is: wait for them, never skip.
  await page.locator('[data-testid="keys-r"] option[value="3"]').waitFor({ state: 'attached', timeout: 10_000 });
  await page.getByTestId('keys-r').selectOption('3');
  await page.getByTestId('keys-op-put').click();
  await until('the put answered 204', 10_000, async () => (await attr('keys-result', 'data-status')) === '204');
  await page.getByTestId('keys-op-get').click();
  await until('the get answered 200 with a traced timeline', 10_000, async () => (await attr('keys-result', 'data-status')) === '200' && Number(await attr('trace-timeline', 'data-steps')) >= 5);
  assert.match((await page.getByTestId('keys-result').textContent()) ?? '', /from the console/);
  assert.match((await page.getByTestId('trace-timeline').textContent()) ?? '', /r=3/, 'the traced read asked with r=3');
  await shot('keys-trace');
  await go('throughput');
  await until('puts per second on the chart table', 10_000, async () => /\d/.test((await page.getByTestId('ops-row-put').textContent()) ?? ''));
  await go('workload');
  await page.getByTestId('workload-stop').click();
  await until('the workload stops', 10_000, async () => (await attr('workload-status', 'data-running')) === 'false');
  assert.deepEqual(errors, [], 'no errors in the page');
});

test('console: killing n3 from Chaos shows it down in Membership and Overview, writes raise the handoff backlog, restarting it drains it', async () => {
  await go('chaos');
  await page.getByTestId('chaos-kill-n3').click();
  await go('membership');
  await until('n3 down in Membership', 20_000, async () => (await attr('matrix-cell-n1-n3', 'data-status')) === 'down' && /down/.test((await page.getByTestId('member-status-n3').textContent()) ?? ''));
  await shot('membership-n3-down');
  await go('overview');
  await page.getByTestId('problem-node-down-n3').waitFor({ timeout: 10_000 });
  for (let i = 0; i < 30; i++) assert.equal((await node(1, 'PUT', `/kv/handoff-${i}?w=2`, `v${i}`)).status, 204);
  await go('hints');
  await until('a hint backlog', 15_000, async () => Number((await page.getByTestId('hints-total').textContent())?.replace(/\D/g, '') ?? 0) > 0);
  await shot('hints-backlog');
  await go('chaos');
  await page.getByTestId('chaos-restart-n3').click();
  await go('hints');
  await until('the backlog drains', 40_000, async () => (await page.getByTestId('hints-total').textContent())?.replace(/\D/g, '') === '0');
  await go('membership');
  await until('n3 up again', 30_000, async () => (await attr('matrix-cell-n1-n3', 'data-status')) === 'up');
});

test('console: two concurrent writes show in Conflicts; resolving them from the UI leaves one version on every replica', async () => {
  const key = `conflict-${Date.now().toString(36)}`;
  assert.equal((await node(1, 'PUT', `/kv/${key}`, 'left')).status, 204);
  assert.equal((await node(2, 'PUT', `/kv/${key}`, 'right')).status, 204);
  await go('conflicts');
  const item = page.locator(`[data-testid="conflict-key-${key}"]`);
  await item.waitFor({ timeout: 15_000 });
  await item.click();
  await page.getByTestId('conflict-detail').waitFor();
  await page.getByTestId('sibling-1').waitFor();
  await shot('conflict-detail');
  await page.getByTestId('resolve-with-0').click();
  await until('the resolve answered 204', 10_000, async () => (await attr('resolve-result', 'data-status')) === '204');
  const rep = JSON.parse((await node(3, 'GET', `/replicas/${key}`)).body.toString('utf8')) as { replicas: { versions: unknown[] }[] };
  assert.equal(rep.replicas.length, 3);
  for (const r of rep.replicas) assert.equal(r.versions.length, 1, 'one version left on every replica');
  await until('the key leaves the conflicts list', 20_000, async () => (await item.count()) === 0);
});

test('console: a fault injected from Chaos shows as a marker on the throughput chart, and heal all clears it', async () => {
  await go('chaos');
  await page.getByTestId('latency-delay').fill('50');
  await page.getByTestId('latency-duration').fill('5');
  await page.getByTestId('latency-inject').click();
  await until('the fault is listed', 10_000, async () => Number(await attr('active-faults', 'data-count')) > 0);
  await go('throughput');
  await until('a marker on the ops chart', 10_000, async () => Number(await page.locator('[data-testid="chart-ops"] [data-marks], [data-testid="chart-ops"][data-marks]').first().getAttribute('data-marks')) > 0);
  await shot('throughput-fault-marker');
  await go('chaos');
  await page.getByTestId('heal-all').click();
  await until('no faults', 10_000, async () => Number(await attr('active-faults', 'data-count')) === 0);
  assert.deepEqual(errors, [], 'no errors in the page');
});

test('console: Ctrl-C stops the console and the cluster it launched', async () => {
  const cluster = LocalCluster.load(tc.dir)!;
  const pids = cluster.nodes.map((n) => n.pid);
  assert.equal(pids.length, 3);
  const { code } = await tc.stop();
  assert.equal(code, 0);
  for (const pid of pids) assert.throws(() => process.kill(pid!, 0), 'every node process exited');
});
