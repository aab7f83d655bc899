// A node started alone (no --seeds) joins a running cluster when asked (POST /admin/join,
// `gyre join`), on real node processes: the refusals that change nothing (a node holding
// data, a member of a cluster, no seed answering), then a join that takes the node's share of
// the partitions and serves what the cluster held before it came; and a join that survives a
// SIGKILL before its first gossip round (the seeds are kept in the data folder).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { type HttpResponse, TestCluster, bearer, cliPath, jsonBody, sleep, uniqueKey } from '../helpers/cluster.js';
import type { PartitionsDocument } from '../../node-core/src/wire/api.js';

const partitions = 16;
const cluster = new TestCluster({ nodes: 3, adminToken: true, args: ['--partitions', String(partitions), '--n', '2', '--r', '1', '--w', '2'] });
const keyCount = 40;
const joinTimeoutMs = 30_000;

before(() => cluster.start());
after(() => cluster.stop());

function joinRequest(node: string, seeds: readonly string[]): Promise<HttpResponse> {
  return cluster.request(node, 'POST', '/admin/join', { headers: { ...bearer(cluster.adminToken), 'content-type': 'application/json' }, body: JSON.stringify({ seeds }) });
}

function refusedWith(res: HttpResponse, status: number, code: string, what: string): string {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  const body = jsonBody(res) as { error: string; message: string };
  assert.equal(body.error, code, what);
  return body.message;
}

const address = (id: string) => `127.0.0.1:${cluster.node(id).port}`;

/** A node started alone: up, its own one-node cluster. */
async function startAlone(): Promise<string> {
  const id = await cluster.addNode([]);
  await cluster.waitForStatus([id], [id], 'up');
  const status = await cluster.status(id);
  assert.deepEqual(status.members.map((m) => m.id), [id], `${id} started alone`);
  return id;
}

test('refused, changing nothing: a node holding data, a member of a cluster, and a node whose seeds do not answer', async () => {
  const loner = await startAlone();
  const key = uniqueKey('loner');
  const put = await cluster.put(loner, key, 'mine', { query: 'w=1' });
  assert.equal(put.status, 204);
  const holding = refusedWith(await joinRequest(loner, [address('n1')]), 409, 'cannot_join', 'a node holding a key');
  assert.match(holding, /holds data \(1 key\)/);

  refusedWith(await joinRequest('n1', [address(loner)]), 409, 'cannot_join', 'a member of a three-node cluster');

  const empty = await startAlone();
  refusedWith(await joinRequest(empty, ['127.0.0.1:1', '127.0.0.1:2']), 503, 'seeds_unreachable', 'seeds with nothing listening');
  refusedWith(await joinRequest(empty, [address(empty)]), 400, 'bad_seeds', 'its own address');
  // Nothing changed: still alone and a member of its own cluster, and the three never heard of them.
  for (const id of [loner, empty]) assert.deepEqual((await cluster.status(id)).members.map((m) => `${m.id}:${m.status}`), [`${id}:up`]);
  await sleep(1500);
  const known = (await cluster.status('n1')).members.map((m) => m.id).sort();
  assert.deepEqual(known, ['n1', 'n2', 'n3']);
  // A node alone with data must still serve it after a refused join.
  const got = await cluster.get(loner, key);
  assert.equal(got.status, 200);
  assert.equal(got.body.toString('utf8'), 'mine');
  await cluster.kill(loner);
  await cluster.kill(empty);
});

test('a node started alone joins through `gyre join`: it becomes a member, owns its share, and serves what was written before it came', async () => {
  const keys: string[] = [];
  for (let i = 0; i < keyCount; i++) {
    const key = uniqueKey(`before-${i}`);
    const res = await cluster.put('n1', key, `v${i}`);
    assert.equal(res.status, 204, `put ${key}`);
    keys.push(key);
  }
  const id = await startAlone();
  const out = spawnSync(process.execPath, [cliPath, 'join', '--url', cluster.url(id), '--seeds', `${address('n2')},${address('n3')}`, '--json'], { env: { ...process.env, GYRE_TOKEN: cluster.token, GYRE_ADMIN_TOKEN: cluster.adminToken }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(out.status, 0, `gyre join: ${out.stderr}`);
  assert.deepEqual(JSON.parse(out.stdout) as unknown, { joining: cluster.url(id), seeds: [address('n2'), address('n3')] });

  // A second join while the first is under way is refused.
  refusedWith(await joinRequest(id, [address('n1')]), 409, 'cannot_join', 'a node already joining');
  const members = ['n1', 'n2', 'n3', id];
  await cluster.waitForStatus(members, members, 'up', joinTimeoutMs);
  const owners = (await cluster.status('n1')).ring?.owners ?? [];
  const share = owners.filter((o) => o === id).length;
  assert.ok(share >= Math.floor(partitions / 4), `${id} owns ${share} of ${partitions} partitions`);

  // Its transfers and replication brought it keys; every key written before it came reads back through it.
  const held = jsonBody(await cluster.request(id, 'GET', '/admin/partitions', { headers: bearer(cluster.adminToken) })) as PartitionsDocument;
  assert.ok(held.partitions.some((p) => p.keys > 0), `${id} holds no key: ${JSON.stringify(held.partitions)}`);
  for (const [i, key] of keys.entries()) {
    const got = await cluster.get(id, key, 'r=2');
    assert.equal(got.status, 200, `get ${key} through ${id}`);
    assert.equal(got.body.toString('utf8'), `v${i}`);
  }
});

test('a join survives a SIGKILL before the node reached its seeds: restarted, it goes on joining', async () => {
  const id = await startAlone();
  const res = await joinRequest(id, [address('n1')]);
  assert.equal(res.status, 202, res.body.toString('utf8'));
  // At once: the next gossip round (at most a second away) is when the seed is reached.
  await cluster.kill(id);
  const heard = (await cluster.status('n1')).members.some((m) => m.id === id);
  // Started as before, without seeds: only what the data folder kept can take it to the cluster.
  cluster.restart(id, []);
  const everyone = cluster.nodes.filter((n) => cluster.isRunning(n.id)).map((n) => n.id);
  await cluster.waitForStatus(everyone, everyone, 'up', joinTimeoutMs);
  assert.ok(everyone.includes(id));
  // Say which case ran: only a kill before the seed was reached tests the kept seeds.
  if (heard) console.log(`# ${id} had reached its seed before the kill: the restart case ran without testing the kept seeds`);
});
