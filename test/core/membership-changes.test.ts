// The console's membership changes (electron/backend/membership.ts) for a node started alone
// and named by address: every reason it cannot join is said at the plan, before anything is
// asked of it; a node that can join is planned under its own id, and only the commit asks it
// to join. The host here answers as the nodes' /status would; the HTTP side runs in
// test/console/remote-join.test.ts against real processes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MembershipChanges, type MembershipHost, type StartedNode, checkChange } from '../../electron/backend/membership.js';
import { clusterSnapshot } from '../helpers/snapshots.js';

const snapshot = clusterSnapshot({ at: 1000, nodes: ['n1', 'n2', 'n3'].map((id) => ({ id, at: 1000 })) });
const alone: StartedNode = { id: 'n9', partitions: snapshot.config.partitions, n: snapshot.config.n, members: ['n9'], keys: 0 };

function changes(started: StartedNode | Error, kept = new Map<string, string>()): { m: MembershipChanges; asked: string[]; kept: Map<string, string> } {
  const asked: string[] = [];
  const host: MembershipHost = {
    snapshot: () => snapshot,
    partitionSizes: () => Promise.resolve(new Map()),
    nextLocalNode: () => {
      throw new Error('not a local cluster');
    },
    launchNode: () => Promise.reject(new Error('not a local cluster')),
    inspect: (address) => {
      asked.push(`inspect ${address}`);
      return started instanceof Error ? Promise.reject(started) : Promise.resolve(started);
    },
    joinStarted: (address) => {
      asked.push(`join ${address}`);
      return Promise.resolve();
    },
    leave: () => Promise.resolve(),
    retire: () => Promise.resolve(),
    push: () => undefined,
    log: () => undefined,
    save: (cluster, p) => {
      kept.set(cluster, JSON.stringify(p));
      return Promise.resolve();
    },
    load: (cluster) => Promise.resolve(kept.has(cluster) ? (JSON.parse(kept.get(cluster)!) as unknown) : undefined),
  };
  return { m: new MembershipChanges(host, () => 5000), asked, kept };
}

const address = '10.0.0.9:7070';

test('checkChange: a started node is named by host:port; anything else is refused', () => {
  assert.deepEqual(checkChange({ kind: 'join', address: ` ${address} ` }), { kind: 'join', address });
  assert.deepEqual(checkChange({ kind: 'join' }), { kind: 'join' });
  for (const bad of ['http://10.0.0.9:7070', '10.0.0.9', '', 'a b:1', 7070, null, `${'h'.repeat(300)}:1`]) assert.throws(() => checkChange({ kind: 'join', address: bad }), /host:port/, JSON.stringify(bad));
});

test('a started node that can join is planned under its own id; only the commit asks it to join', async () => {
  const { m, asked } = changes(alone);
  await m.attachTo('prod');
  const plan = await m.plan({ kind: 'join', address });
  assert.equal(plan.node, 'n9');
  assert.ok(plan.ownership > 0 && plan.moves.length >= plan.ownership);
  assert.ok(plan.load.some((l) => l.node === 'n9' && l.before === 0 && l.after > 0));
  assert.deepEqual(asked, [`inspect ${address}`]);
  const progress = await m.commit(plan.id);
  assert.deepEqual(asked, [`inspect ${address}`, `join ${address}`]);
  assert.equal(progress.node, 'n9');
  assert.equal(progress.kind, 'join');
  assert.equal(progress.state, 'starting');
});

test('every reason a started node cannot join is said at the plan, and nothing is asked of it', async () => {
  const cases: [string, StartedNode | Error, RegExp][] = [
    ['another Q', { ...alone, partitions: 64 }, /runs Q=64 N=3; this cluster runs Q=8 N=3: start it with --partitions 8 --n 3/],
    ['another N', { ...alone, n: 2 }, /runs Q=8 N=2/],
    ['a member\'s id', { ...alone, id: 'n2', members: ['n2'] }, /named n2, like a member of this cluster/],
    ['members of its own', { ...alone, members: ['n9', 'x1', 'x2'] }, /already belongs to a cluster with x1, x2/],
    ['data', { ...alone, keys: 3 }, /holds 3 keys: only an empty node/],
    ['no answer', new Error('connect ECONNREFUSED'), /cannot read 10\.0\.0\.9:7070's \/status \(connect ECONNREFUSED\): start the node first/],
  ];
  for (const [what, started, why] of cases) {
    const { m, asked } = changes(started);
    await assert.rejects(m.plan({ kind: 'join', address }), why, what);
    assert.deepEqual(asked, [`inspect ${address}`], `${what}: only its /status was read`);
  }
  const { m, asked } = changes(alone);
  await assert.rejects(m.plan({ kind: 'join', address: snapshot.members[1]!.address }), /already a member of this cluster/);
  assert.deepEqual(asked, [], 'a member\'s address is refused without asking it');
});

test('a committed change is kept per cluster: a new console attached to the same cluster follows it to done; another cluster never sees it', async () => {
  const first = changes(alone);
  await first.m.attachTo('prod');
  const plan = await first.m.plan({ kind: 'join', address });
  await first.m.commit(plan.id);
  first.m.detach();
  assert.equal(first.m.progress(), null, 'detached: no change followed');
  await assert.rejects(first.m.commit(plan.id), /no such plan/, 'plans do not outlive the attachment');

  // A console restarted (a new MembershipChanges over the same settings).
  const second = changes(alone, first.kept);
  await second.m.attachTo('staging');
  assert.equal(second.m.progress(), null, 'another cluster has no change');
  await second.m.attachTo('prod');
  assert.equal(second.m.progress()?.node, 'n9');
  assert.equal(second.m.progress()?.state, 'starting');
  // The ring shows n9 a member owning partitions: done, and kept as done.
  const joined = { ...snapshot, members: [...snapshot.members, { ...snapshot.members[0]!, id: 'n9', address }], partitions: snapshot.partitions.map((p, i) => (i === 0 ? { ...p, owner: 'n9' } : p)) };
  second.m.observe(joined);
  assert.equal(second.m.progress()?.state, 'done');
  assert.equal((JSON.parse(first.kept.get('prod')!) as { state: string }).state, 'done');
});

test('a kept change that is not one (a damaged settings row) is ignored', async () => {
  for (const bad of ['{"node": "n9"}', '[]', 'null', JSON.stringify({ planId: 'p', node: '../x', kind: 'join', state: 'moving', startedAt: 1, endedAt: null, partitionsTotal: 1, partitionsMoved: 0, message: '' })]) {
    const { m } = changes(alone, new Map([['prod', bad]]));
    await m.attachTo('prod');
    assert.equal(m.progress(), null, bad);
  }
  const { m } = changes(alone, new Map([['prod', '{not json']]));
  await m.attachTo('prod');
  assert.equal(m.progress(), null);
});
