// Membership, sloppy quorum, hinted handoff, join/leave transfers, anti-entropy and reaping on
// real node processes (Dynamo 4.6-4.9). Each test starts its own cluster on loopback; every
// wait is bounded in time and iterations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, downTimeoutMs, jsonBody, sleep, uniqueKey } from '../helpers/cluster.js';

interface FullStatus {
  readonly members: { readonly id: string; readonly status: string; readonly state: string; readonly partitions: number }[];
  readonly hintsPending: number;
  readonly transfers: { readonly pending: unknown[]; readonly keysReceived: number };
  readonly antiEntropy: { readonly exchanges: number; readonly keysRepaired: number };
  readonly tombstones: { readonly candidates: number; readonly reaped: number };
  readonly storage: { readonly keys: number };
}

async function fullStatus(cluster: TestCluster, id: string): Promise<FullStatus> {
  return jsonBody(await cluster.request(id, 'GET', '/status', { timeoutMs: 2000 })) as FullStatus;
}

/** Polls `check` every 200 ms until it returns true or `timeoutMs` passes; returns the ms it took. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < Math.ceil(timeoutMs / 200) + 1; i++) {
    try {
      if (await check()) return Date.now() - started;
    } catch {
      // a node may be restarting: try again
    }
    if (Date.now() - started > timeoutMs) break;
    await sleep(200);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

async function put(cluster: TestCluster, id: string, key: string, value: string, query = 'w=2'): Promise<number> {
  return (await cluster.put(id, key, value, { query })).status;
}

/** Every key on each of its preference-list nodes, one version, the same clock everywhere. */
async function replicatedEverywhere(cluster: TestCluster, via: string, keys: readonly string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const key of keys) {
    const r = await cluster.replicas(via, key);
    const clocks = r.replicas.map((x) => (x.reachable && x.versions.length === 1 ? JSON.stringify(x.versions[0]!.clock) : 'missing'));
    if (r.replicas.length !== 3 || clocks.some((c) => c === 'missing' || c !== clocks[0])) bad.push(key);
  }
  return bad;
}

test('Dynamo 4.6: with one node SIGKILLed, 500 writes at W=2 are all acknowledged, hinted, and handed off when it returns', async (t) => {
  const cluster = new TestCluster();
  t.after(() => cluster.stop());
  await cluster.start();
  await cluster.kill('n3');
  await cluster.waitForStatus(['n1', 'n2'], ['n3'], 'down', downTimeoutMs);
  const keys = Array.from({ length: 500 }, (_, i) => uniqueKey(`hh${i}`));
  const statuses = await Promise.all(keys.map((k, i) => put(cluster, i % 2 ? 'n1' : 'n2', k, `v${i}`)));
  assert.deepEqual(statuses.filter((s) => s !== 204), [], 'every write acknowledged');
  const hints = (await fullStatus(cluster, 'n1')).hintsPending + (await fullStatus(cluster, 'n2')).hintsPending;
  assert.ok(hints > 0, 'the writes for n3 are held as hints');
  cluster.restart('n3');
  const drainedMs = await waitFor('hints drained', 30_000, async () => (await fullStatus(cluster, 'n1')).hintsPending + (await fullStatus(cluster, 'n2')).hintsPending === 0);
  t.diagnostic(`${hints} hints drained ${drainedMs} ms after restart`);
  await waitFor('every key on its three owners with identical clocks', 30_000, async () => (await replicatedEverywhere(cluster, 'n1', keys)).length === 0);
});

test('Dynamo 4.6: a 5-node cluster with two nodes SIGKILLed acknowledges every write at W=2 (stand-ins hold hints)', async (t) => {
  const cluster = new TestCluster({ nodes: 5 });
  t.after(() => cluster.stop());
  await cluster.start();
  await cluster.kill('n4');
  await cluster.kill('n5');
  const killedAt = Date.now();
  await cluster.waitForStatus(['n1', 'n2', 'n3'], ['n4', 'n5'], 'down', downTimeoutMs);
  t.diagnostic(`n4 and n5 seen down by n1-n3 ${Date.now() - killedAt} ms after SIGKILL`);
  const keys = Array.from({ length: 300 }, (_, i) => uniqueKey(`five${i}`));
  const statuses = await Promise.all(keys.map((k, i) => put(cluster, ['n1', 'n2', 'n3'][i % 3]!, k, `v${i}`)));
  assert.deepEqual(statuses.filter((s) => s !== 204), [], 'every write acknowledged');
  const hints = (await Promise.all(['n1', 'n2', 'n3'].map((id) => fullStatus(cluster, id)))).reduce((a, s) => a + s.hintsPending, 0);
  assert.ok(hints > 0, 'writes for the down nodes are held as hints');
  cluster.restart('n4');
  cluster.restart('n5');
  await waitFor('hints drained', 30_000, async () => (await Promise.all(['n1', 'n2', 'n3'].map((id) => fullStatus(cluster, id)))).every((s) => s.hintsPending === 0));
  await waitFor('every key on its three owners with identical clocks', 30_000, async () => (await replicatedEverywhere(cluster, 'n1', keys.slice(0, 100))).length === 0);
});

test('Dynamo 4.8: a paused node (SIGSTOP, a gray failure) is detected down, writes go on, and after SIGCONT it is up with hints drained', async (t) => {
  const cluster = new TestCluster();
  t.after(async () => {
    cluster.signal('n3', 'SIGCONT');
    await cluster.stop();
  });
  await cluster.start();
  let stop = false;
  let acked = 0;
  const failures: string[] = [];
  const writer = (async () => {
    for (let i = 0; !stop && i < 100_000; i++) {
      const via = i % 2 ? 'n1' : 'n2';
      const r = await cluster.put(via, uniqueKey(`gray${i}`), `v${i}`, { query: 'w=2' });
      if (r.status === 204) acked++;
      else failures.push(`${via} ${r.status} ${r.body.toString().slice(0, 200)}`);
    }
  })();
  try {
    await sleep(500);
    cluster.signal('n3', 'SIGSTOP');
    const detectedMs = await waitFor('n3 seen down', 10_000, async () => (await fullStatus(cluster, 'n1')).members.some((m) => m.id === 'n3' && m.status === 'down'));
    t.diagnostic(`paused node detected down after ${detectedMs} ms`);
    await sleep(Math.max(0, 10_000 - detectedMs));
    const during = acked;
    cluster.signal('n3', 'SIGCONT');
    await cluster.waitForStatus(['n1', 'n2'], ['n3'], 'up', 10_000);
    await waitFor('hints drained', 30_000, async () => (await fullStatus(cluster, 'n1')).hintsPending + (await fullStatus(cluster, 'n2')).hintsPending === 0);
    assert.ok(during > 50, `writes went on during the pause (${during} acknowledged)`);
  } finally {
    stop = true;
    await writer;
  }
  assert.deepEqual(failures, [], 'no write failed');
});

test('Dynamo 4.9: a 4th node joins with --seeds and takes about 1/4 of the data while every key stays readable; gyre leave hands it all back', async (t) => {
  const cluster = new TestCluster({ args: ['--partitions', '64'] });
  t.after(() => cluster.stop());
  await cluster.start();
  const keys = Array.from({ length: 3000 }, (_, i) => `join-${i}`);
  for (let i = 0; i < keys.length; i += 100) {
    const s = await Promise.all(keys.slice(i, i + 100).map((k) => put(cluster, 'n1', k, `value-of-${k}`, 'w=3')));
    assert.ok(s.every((x) => x === 204));
  }
  const copies = async (ids: readonly string[]) => (await Promise.all(ids.map((id) => fullStatus(cluster, id)))).reduce((a, s) => a + s.storage.keys, 0);
  const total = await copies(['n1', 'n2', 'n3']);
  assert.equal(total, 3 * keys.length);

  let stop = false;
  const unreadable: string[] = [];
  let reads = 0;
  const reader = (async () => {
    for (let i = 0; !stop && i < 1_000_000; i++) {
      const key = keys[i % keys.length]!;
      const r = await cluster.get(['n1', 'n2', 'n3'][i % 3]!, key);
      reads++;
      if (r.status !== 200 || r.body.toString() !== `value-of-${key}`) unreadable.push(`${key}:${r.status}`);
    }
  })();
  try {
    const n4 = await cluster.addNode(['n1']);
    await cluster.waitForStatus(['n1', 'n2', 'n3', n4], ['n1', 'n2', 'n3', n4], 'up', 60_000);
    await waitFor('transfers settled', 60_000, async () => (await Promise.all(['n1', 'n2', 'n3', n4].map((id) => fullStatus(cluster, id)))).every((s) => s.transfers.pending.length === 0));
    const s4 = await fullStatus(cluster, n4);
    const ideal = total / 4;
    t.diagnostic(`join: ${s4.storage.keys} keys moved to ${n4} (ideal ${ideal}, ratio ${(s4.storage.keys / ideal).toFixed(3)}), partitions ${s4.members.map((m) => `${m.id}=${m.partitions}`).join(' ')}`);
    assert.ok(s4.storage.keys <= 1.25 * ideal && s4.storage.keys >= 0.75 * ideal, `${s4.storage.keys} keys moved, ideal ${ideal}`);
    assert.ok(s4.members.every((m) => m.partitions === 16), 'the ring is balanced');

    const left = await cluster.request(n4, 'POST', '/admin/leave', { timeoutMs: 2000 });
    assert.equal(left.status, 202);
    await cluster.waitForExit(n4, 60_000);
    await waitFor('the others own the whole ring again', 30_000, async () => (await fullStatus(cluster, 'n1')).members.filter((m) => m.partitions > 0).length === 3);
  } finally {
    stop = true;
    await reader;
  }
  t.diagnostic(`${reads} reads during join and leave, ${unreadable.length} failed`);
  assert.deepEqual(unreadable.slice(0, 10), [], 'every key readable during join and leave');
  assert.equal(await copies(['n1', 'n2', 'n3']), total, 'after the leave the three nodes hold every key three times');
  for (const k of keys.slice(0, 300)) {
    const r = await cluster.get('n2', k, '?r=3');
    assert.equal(r.status, 200, `${k} readable with r=3 after the leave`);
  }
});

test('Dynamo 4.7: a node whose data folder was wiped is rebuilt by anti-entropy within 60 s, with no client reads', async (t) => {
  const cluster = new TestCluster({ args: ['--partitions', '64'] });
  t.after(() => cluster.stop());
  await cluster.start();
  const keys = Array.from({ length: 2000 }, (_, i) => `ae-${i}`);
  for (let i = 0; i < keys.length; i += 100) {
    const s = await Promise.all(keys.slice(i, i + 100).map((k) => put(cluster, 'n1', k, `v-${k}`, 'w=3')));
    assert.ok(s.every((x) => x === 204));
  }
  await cluster.kill('n3', 'SIGTERM');
  cluster.wipe('n3');
  cluster.restart('n3');
  const ms = await waitFor('n3 rebuilt', 60_000, async () => (await fullStatus(cluster, 'n3')).storage.keys === keys.length);
  const s = await fullStatus(cluster, 'n3');
  t.diagnostic(`anti-entropy restored ${keys.length} keys in ${ms} ms (${Math.round((keys.length * 1000) / ms)} keys/s), ${s.antiEntropy.exchanges} exchanges`);
  await waitFor('the rebuilt replica agrees with the others', 15_000, async () => (await replicatedEverywhere(cluster, 'n2', keys.slice(0, 200))).length === 0);
});

test('tombstones are reaped once every replica holds them and the grace period passed; a stale replica does not bring the key back', async (t) => {
  const cluster = new TestCluster({ args: ['--partitions', '16', '--tombstone-grace-ms', '1500'] });
  t.after(() => cluster.stop());
  await cluster.start();
  const keys = Array.from({ length: 30 }, (_, i) => uniqueKey(`reap${i}`));
  for (const k of keys) assert.equal(await put(cluster, 'n1', k, 'doomed', 'w=3'), 204);
  // n3 misses the deletes: it holds the old values while the others hold tombstones.
  await cluster.kill('n3');
  await cluster.waitForStatus(['n1', 'n2'], ['n3'], 'down', downTimeoutMs);
  for (const k of keys) assert.equal((await cluster.del('n1', k, { query: 'w=2' })).status, 204);
  await sleep(3000); // past the grace period: but n3 is down, so nothing may be reaped yet
  assert.equal((await fullStatus(cluster, 'n1')).tombstones.reaped, 0, 'nothing reaped while a replica is down');
  cluster.restart('n3');
  await cluster.waitForStatus(['n1', 'n2', 'n3'], ['n1', 'n2', 'n3'], 'up', 20_000);
  await waitFor('every tombstone reaped', 30_000, async () => {
    for (const k of keys) {
      const r = await cluster.replicas('n2', k);
      if (r.replicas.some((x) => !x.reachable || x.versions.length > 0)) return false;
    }
    return true;
  });
  for (const k of keys) {
    const r = await cluster.get('n3', k, '?r=3');
    assert.equal(r.status, 404, `${k} stays deleted`);
  }
  // A new write to a reaped key is an ordinary write.
  assert.equal(await put(cluster, 'n2', keys[0]!, 'reborn', 'w=3'), 204);
  assert.equal((await cluster.get('n1', keys[0]!, '?r=3')).body.toString(), 'reborn');
});
