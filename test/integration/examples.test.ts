// The README's runnable example (examples/quickstart.mjs) against a real cluster: what a
// newcomer runs must work as printed, and import 'gyre' must resolve to this package.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCluster } from '../helpers/cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cluster = new TestCluster({ nodes: 3 });
before(() => cluster.start());
after(() => cluster.stop());

test('examples/quickstart.mjs writes, reads, merges a two-writer cart by set union, and learns the members', () => {
  const r = spawnSync(process.execPath, [join(root, 'examples', 'quickstart.mjs'), cluster.url('n1')], { cwd: root, encoding: 'utf8', env: { ...process.env, GYRE_TOKEN: cluster.token }, timeout: 60_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^read 200: hello/m);
  assert.match(r.stdout, /^the cart has 2 sibling\(s\)$/m);
  assert.match(r.stdout, /^after update: \["apples","pears","plums"\] \(1 sibling\)$/m);
  for (const id of ['n1', 'n2', 'n3']) assert.ok(r.stdout.includes(cluster.url(id)), `members name ${id}`);
});
