// Adding a node to a remote cluster from the console (issue 14): the console is attached to a
// cluster it did not launch (three real node processes), and the operator names a node that
// was started alone (`gyre node` without --seeds). The plan checks it first: a node holding
// data, or a member's address, is refused with the reason and nothing changes; an empty one
// is planned (its id, the partitions it would take), committed (POST /admin/join through the
// members) and followed until it owns its share. Screenshots go to artifacts/screens/operator/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { TestCluster, uniqueKey } from '../helpers/cluster.js';
import { TestConsole, attrOf, goTo, until as untilOn } from '../helpers/console.js';

const screensDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'artifacts', 'screens', 'operator');
const partitions = 16;
const cluster = new TestCluster({ nodes: 3, args: ['--partitions', String(partitions)] });
let tc: TestConsole;
let page: Page;
let errors: string[];

before(async () => {
  mkdirSync(screensDir, { recursive: true });
  await cluster.start();
  tc = new TestConsole({ attach: cluster.nodes.map((n) => n.url).join(','), token: cluster.token });
  await tc.start();
  ({ page, errors } = await tc.page('#/membership'));
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.getByTestId('connection-state').and(page.locator('[data-state="attached"]')).waitFor({ timeout: 30_000 });
});

after(async () => {
  await tc?.stop();
  await cluster.stop();
});

const attr = (testId: string, name: string) => attrOf(page, testId, name);
const until = (what: string, timeoutMs: number, check: () => Promise<boolean>) => untilOn(page, what, timeoutMs, check);
const address = (id: string) => `127.0.0.1:${cluster.node(id).port}`;

async function startAlone(): Promise<string> {
  const id = await cluster.addNode([]);
  await cluster.waitForStatus([id], [id], 'up');
  return id;
}

/** Plans the join of the node at `addr`; the error notice it gets, or null when a plan is shown. */
async function planStarted(addr: string): Promise<string | null> {
  const notices = page.getByTestId('notice-error');
  const before = await notices.count();
  await page.getByTestId('plan-join-address').fill(addr);
  await page.getByTestId('plan-join-started').click();
  let out: string | null = null;
  await until(`a plan or a refusal for ${addr}`, 15_000, async () => {
    if ((await page.getByTestId('membership-plan').count()) > 0 && (await attr('membership-plan', 'data-address')) === addr) return true;
    if ((await notices.count()) > before) out = (await notices.last().textContent()) ?? '';
    return out !== null;
  });
  return out;
}

test('a remote cluster: no launch button; a started node holding data and a member are refused at the plan, an empty started node is planned, committed and joins', async () => {
  await goTo(page, 'membership');
  assert.equal(await page.getByTestId('plan-join').count(), 0, 'a remote cluster has no node to launch');

  const full = await startAlone();
  assert.equal((await cluster.put(full, uniqueKey('held'), 'x', { query: 'w=1' })).status, 204);
  const heldRefusal = await planStarted(address(full));
  assert.match(heldRefusal ?? '', /holds 1 key:/, `the plan for a node holding data: ${heldRefusal}`);
  const memberRefusal = await planStarted(address('n2'));
  assert.match(memberRefusal ?? '', /already a member/, `the plan for a member: ${memberRefusal}`);
  await cluster.kill(full);

  const id = await startAlone();
  assert.equal(await planStarted(address(id)), null, 'an empty started node gets a plan');
  assert.equal(await attr('membership-plan', 'data-node'), id);
  const ownership = Number(await attr('membership-plan', 'data-ownership'));
  assert.ok(ownership >= 3 && ownership <= 5, `about a quarter of ${partitions} partitions change owner (${ownership})`);
  await page.screenshot({ path: join(screensDir, 'membership-plan-started-light.png'), fullPage: true });
  // Nothing is asked of the node before the commit.
  assert.deepEqual((await cluster.status(id)).members.map((m) => m.id), [id]);

  await page.getByTestId('plan-commit').click();
  await until('the join is done', 60_000, async () => (await attr('membership-progress', 'data-state')) === 'done' && (await attr('membership-progress', 'data-node')) === id);
  const members = ['n1', 'n2', 'n3', id];
  await cluster.waitForStatus(members, members, 'up');
  const owned = ((await cluster.status('n1')).ring?.owners ?? []).filter((o) => o === id).length;
  assert.equal(owned, ownership, `${id} owns what the plan said`);
  await until(`${id} up in the members table`, 20_000, async () => /up/.test((await page.getByTestId(`member-status-${id}`).textContent()) ?? ''));

  await goTo(page, 'audit');
  await until('the commit in the audit trail', 10_000, async () => /membership:commit/.test((await page.getByTestId('screen-audit').textContent()) ?? ''));
  assert.deepEqual(errors, []);
});
