// Chaos by consent in the console (issue 12): attached to a cluster whose nodes run without
// --allow-faults, the Chaos screen says fault injection is not enabled instead of offering
// buttons the nodes would refuse. (The main console test attaches to a local cluster, which
// consents, and drives those buttons.)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from '../helpers/cluster.js';
import { TestConsole } from '../helpers/console.js';

const cluster = new TestCluster({ allowFaults: false });
let tc: TestConsole;

before(async () => {
  await cluster.start();
  tc = new TestConsole({ attach: cluster.nodes.map((n) => n.url).join(','), token: cluster.token });
  await tc.start();
});

after(async () => {
  await tc?.stop();
  await cluster.stop();
});

test('on a cluster without --allow-faults, Chaos says fault injection is not enabled and offers no fault buttons', async () => {
  const { page, errors } = await tc.page('#/chaos');
  await page.getByTestId('connection-state').and(page.locator('[data-state="attached"]')).waitFor({ timeout: 30_000 });
  await page.getByTestId('faults-disabled').waitFor({ timeout: 10_000 });
  assert.match((await page.getByTestId('faults-disabled').textContent()) ?? '', /not enabled on this cluster/);
  for (const id of ['partition-inject', 'latency-inject', 'loss-inject', 'chaos-pause-n1']) assert.equal(await page.getByTestId(id).count(), 0, `${id} is offered`);
  assert.deepEqual(errors, []);
});
