// Ownership transfers (Dynamo 4.9, replication/transfer.ts) against a fake of TransferHost:
// each peer is a real MemoryStore that a fake `call` folds over (answering with the real
// encodeFoldReply, so the loop parses what a peer would send), the joiner's own store is a
// MemoryStore too, and completeTransfer applies the real gossip completeTransfer. tick() is
// driven directly: no timers, no wall clock, no GyreNode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type TransferHost, Transfers, transferBatchKeysMax, transfersConcurrentMax } from '../../node-core/src/replication/transfer.js';
import { ManualEnv, quietLog } from './fakes.js';
import { type ClusterState, type MemberRecord, type MemberState, completeTransfer, planJoin, ringOf, targetRingOf } from '../../node-core/src/core/gossip.js';
import { computePreferenceList, stripedRing } from '../../node-core/src/core/ring.js';
import { type Version, sameSiblings, syncSiblings } from '../../node-core/src/core/siblings.js';
import { normalize } from '../../node-core/src/core/vclock.js';
import { MemoryStore } from '../../node-core/src/store/memory-store.js';
import type { Request } from '../../node-core/src/net/messages.js';


/**
 * tick() starts pulls it does not await. The fake peers answer at once and the stores commit
 * in microtasks, so one macrotask turn runs every pull the tick started to its end.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A version whose clock is actor:1..counter (so actor:c supersedes actor:c-1). */
function version(actor: string, counter: number): Version {
  const dot = { actor, counter, ts: 1 };
  return { dot, clock: normalize([dot], []), deleted: false, contentType: 'text/plain', value: Buffer.from(`${actor}:${counter}`) };
}

function member(id: string, state: MemberState): MemberRecord {
  return { id, http: `${id}.test:8000`, internode: `${id}.test:9000`, state, version: 1, heartbeat: 0 };
}

function clusterOf(members: Record<string, MemberState>, owners: readonly string[], pendingTo: Record<number, string> = {}): ClusterState {
  const map = new Map(Object.entries(members).map(([id, state]) => [id, member(id, state)]));
  return { partitions: owners.length, n: 2, members: map, ring: owners.map((owner, p) => ({ owner, epoch: 1, pendingTo: pendingTo[p] })) };
}

/**
 * n1..n3 members, n4 (self) joining, N = 2, owners n1 n2 n3 n1 n2 n3 n1 n2, partition 2
 * pending to n4. Switching partition 2 to n4 puts n4 in the preference lists of partition 1
 * ([n2 n3] becomes [n2 n4]) and partition 2 ([n3 n1] becomes [n4 n1]), and no other.
 */
const owners8 = ['n1', 'n2', 'n3', 'n1', 'n2', 'n3', 'n1', 'n2'];
const joining: Record<string, MemberState> = { n1: 'member', n2: 'member', n3: 'member', n4: 'joining' };

function joinState(): ClusterState {
  return clusterOf(joining, owners8, { 2: 'n4' });
}

/** What a peer does with a fold: answer from its store, time out, send garbage, or never answer. */
type Answer = 'data' | 'timeout' | 'malformed' | 'hang';

interface Fold {
  readonly to: string;
  readonly partition: number;
  readonly after: string | undefined;
}

class FakeHost implements TransferHost {
  readonly selfId = 'n4';
  readonly n = 2;
  readonly env = new ManualEnv();
  readonly log = quietLog;
  readonly local = new MemoryStore('n4', () => this.env.now());
  readonly peers = new Map(['n1', 'n2', 'n3'].map((id) => [id, new MemoryStore(id, () => this.env.now())]));
  readonly up = new Set(['n1', 'n2', 'n3']);
  readonly folds: Fold[] = [];
  readonly completed: number[] = [];
  /** At each completeTransfer: how many folds had been sent, and what the local store held. */
  readonly atComplete: { folds: number; local: Map<string, string[]> }[] = [];
  readonly started: [number, string][] = [];
  readonly finished: [number, number][] = [];
  readonly received: number[] = [];
  answer: (to: string, partition: number) => Answer = () => 'data';
  onFold: (to: string, partition: number) => void = () => {};
  stopped = false;

  constructor(public state: ClusterState) {}

  /** The joiner's own store: what it answers a fold from, and (through mergeLocal) what pulls fill. */
  get store(): MemoryStore {
    return this.local;
  }

  /** A peer answers a fold with its own Transfers loop (the same code, over the peer's store). */
  private peerLoop(node: string): Transfers {
    const peer: TransferHost = { ...this.hostBase(), selfId: node, store: this.peers.get(node)! };
    return new Transfers(peer);
  }

  private hostBase(): TransferHost {
    return {
      selfId: this.selfId,
      n: this.n,
      env: this.env,
      log: this.log,
      store: this.local,
      clusterState: () => this.state,
      isUp: () => true,
      preferenceList: (p) => this.preferenceList(p),
      call: () => Promise.reject(new Error('a peer answering a fold calls nobody')),
      mergeLocal: () => Promise.resolve(false),
      completeTransfer: () => {},
      isStopped: () => true,
      transferStarted: () => {},
      transferFinished: () => {},
      keysReceived: () => {},
    };
  }

  clusterState(): ClusterState {
    return this.state;
  }
  isUp(id: string): boolean {
    return id === this.selfId || this.up.has(id);
  }
  preferenceList(partition: number): string[] {
    return computePreferenceList(ringOf(this.state), partition, this.n);
  }
  isStopped(): boolean {
    return this.stopped;
  }

  async call(node: string, req: Request): Promise<unknown> {
    if (req.t !== 'fold') throw new Error(`unexpected ${req.t}`);
    this.folds.push({ to: node, partition: req.partition, after: req.afterKey ? Buffer.from(req.afterKey).toString() : undefined });
    this.onFold(node, req.partition);
    const answer = this.answer(node, req.partition);
    if (answer === 'timeout') throw new Error('timeout');
    if (answer === 'malformed') return ['fold', 'not a list', true];
    if (answer === 'hang') return new Promise(() => {});
    return this.peerLoop(node).foldReply(req.partition, req.afterKey, req.limit);
  }

  mergeLocal(key: Uint8Array, partition: number, versions: readonly Version[]): Promise<boolean> {
    return this.local.update(key, partition, (cur) => {
      const merged = syncSiblings(cur, versions);
      return sameSiblings(cur, merged) ? { versions: undefined, result: false } : { versions: merged, result: true };
    });
  }

  completeTransfer(partition: number): void {
    this.completed.push(partition);
    this.atComplete.push({ folds: this.folds.length, local: this.localContents() });
    this.state = completeTransfer(this.state, partition, this.selfId);
  }
  transferStarted(partition: number, from: string): void {
    this.started.push([partition, from]);
  }
  transferFinished(partition: number, keys: number): void {
    this.finished.push([partition, keys]);
  }
  keysReceived(count: number): void {
    this.received.push(count);
  }

  async put(store: MemoryStore, name: string, partition: number, versions: Version[]): Promise<void> {
    await store.update(Buffer.from(name), partition, (cur) => ({ versions: syncSiblings(cur, versions), result: undefined }));
  }

  /** key -> sibling dots ("actor:counter"), over every partition held here. */
  localContents(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const p of this.local.partitionsHeld()) {
      for (const k of this.local.scanPartition(p, undefined, 1e9)) {
        out.set(
          k.key.toString(),
          k.versions.map((v) => `${v.dot.actor}:${v.dot.counter}`),
        );
      }
    }
    return out;
  }
}

function foldList(folds: readonly Fold[]): string[] {
  return folds.map((f) => `${f.to} p${f.partition}${f.after === undefined ? '' : ` after ${f.after}`}`);
}

test('Dynamo 4.9: a transfer pending to this node pulls every partition the switch makes it replicate, from the replicas that are up, merges it, and only then completes', async () => {
  const bulk = Array.from({ length: transferBatchKeysMax + 10 }, (_, i) => `p2-bulk${String(i).padStart(4, '0')}`);
  const cases = [
    {
      name: 'all replicas up',
      down: [] as string[],
      folds: ['n2 p1', 'n3 p1', 'n3 p2', 'n1 p2', `n1 p2 after ${bulk[transferBatchKeysMax - 2]}`],
      p1b: ['c2:1'],
      p2a: ['c3:1', 'c4:1'],
    },
    {
      name: 'n3 down',
      down: ['n3'],
      folds: ['n2 p1', 'n1 p2', `n1 p2 after ${bulk[transferBatchKeysMax - 2]}`],
      p1b: undefined,
      p2a: ['c4:1'],
    },
  ];
  for (const c of cases) {
    const host = new FakeHost(joinState());
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => host.peers.get(id)!);
    await host.put(n2!, 'p1-a', 1, [version('c1', 1)]);
    await host.put(n3!, 'p1-a', 1, [version('c1', 1)]);
    await host.put(n3!, 'p1-b', 1, [version('c2', 1)]); // a write n2 missed
    await host.put(n3!, 'p2-a', 2, [version('c3', 1)]);
    await host.put(n1!, 'p2-a', 2, [version('c4', 1)]); // a concurrent sibling
    for (const name of bulk) await host.put(n1!, name, 2, [version('c5', 1)]); // more than one fold batch
    await host.put(n1!, 'p0-x', 0, [version('c6', 1)]); // partition 0 stays [n1 n2]: not n4's
    for (const id of c.down) host.up.delete(id);

    const transfers = new Transfers(host);
    transfers.tick();
    await settle();

    assert.deepEqual(host.completed, [2], c.name);
    assert.deepEqual(host.started, [[2, 'n3']], c.name);
    const at = host.atComplete[0]!;
    assert.deepEqual(foldList(host.folds.slice(0, at.folds)), c.folds, `${c.name}: folds before completeTransfer`);
    assert.ok(!host.folds.some((f) => c.down.includes(f.to)), `${c.name}: no fold sent to a node that is down`);
    assert.ok(!host.folds.some((f) => f.partition === 0), `${c.name}: partition 0 not pulled`);
    // Everything had arrived and been merged when ownership switched.
    assert.deepEqual(at.local.get('p1-a'), ['c1:1'], c.name);
    assert.deepEqual(at.local.get('p1-b'), c.p1b, c.name);
    assert.deepEqual(at.local.get('p2-a'), c.p2a, c.name);
    for (const name of bulk) assert.deepEqual(at.local.get(name), ['c5:1'], `${c.name}: ${name}`);
    assert.equal(at.local.has('p0-x'), false, c.name);
    assert.equal(host.state.ring[2]!.owner, 'n4', c.name);
    assert.deepEqual(transfers.active(), [], c.name);
  }
});

test('Dynamo 4.9: a transfer whose source fails does not complete, and is retried on a later tick', async () => {
  const cases: { name: string; break: (h: FakeHost) => void; heal: (h: FakeHost) => void }[] = [
    {
      name: 'a fold times out',
      break: (h) => (h.answer = (to, p) => (to === 'n3' && p === 1 ? 'timeout' : 'data')),
      heal: (h) => (h.answer = () => 'data'),
    },
    {
      name: 'a fold reply is malformed',
      break: (h) => (h.answer = (to) => (to === 'n1' ? 'malformed' : 'data')),
      heal: (h) => (h.answer = () => 'data'),
    },
    {
      name: 'every replica of a needed partition is down',
      break: (h) => {
        h.up.delete('n2');
        h.up.delete('n3');
      },
      heal: (h) => {
        h.up.add('n2');
        h.up.add('n3');
      },
    },
    { name: 'the node is stopping', break: (h) => (h.stopped = true), heal: (h) => (h.stopped = false) },
  ];
  for (const c of cases) {
    const host = new FakeHost(joinState());
    await host.put(host.peers.get('n2')!, 'p1-a', 1, [version('c1', 1)]);
    await host.put(host.peers.get('n1')!, 'p2-a', 2, [version('c2', 1)]);
    c.break(host);
    const transfers = new Transfers(host);
    transfers.tick();
    await settle();
    assert.deepEqual(host.completed, [], c.name);
    assert.equal(host.state.ring[2]!.pendingTo, 'n4', c.name);
    assert.deepEqual(transfers.active(), [], `${c.name}: not left in flight`);
    // No retry until the next tick (retrying at once would spin on an unreachable source).
    const sent = host.folds.length;
    await settle();
    assert.equal(host.folds.length, sent, `${c.name}: no retry without a tick`);

    c.heal(host);
    transfers.tick();
    await settle();
    assert.deepEqual(host.completed, [2], `${c.name}: retried and completed`);
    assert.deepEqual(host.atComplete[0]!.local.get('p1-a'), ['c1:1'], c.name);
    assert.deepEqual(host.atComplete[0]!.local.get('p2-a'), ['c2:1'], c.name);
  }
});

test('Dynamo 4.9: a transfer superseded while it pulls (pendingTo no longer this node) does not complete', async () => {
  const cases = [
    { name: 'the partition now goes to another joiner', pendingTo: 'n5' as string | undefined },
    { name: 'the plan was withdrawn', pendingTo: undefined },
  ];
  for (const c of cases) {
    const host = new FakeHost(clusterOf({ ...joining, n5: 'joining' }, owners8, { 2: 'n4' }));
    await host.put(host.peers.get('n2')!, 'p1-a', 1, [version('c1', 1)]);
    host.onFold = () => {
      // A newer plan for partition 2 arrives by gossip during the first fold.
      const ring = host.state.ring.map((r, p) => (p === 2 ? { owner: 'n3', epoch: r.epoch + 1, pendingTo: c.pendingTo } : r));
      host.state = { ...host.state, ring };
      host.onFold = () => {};
    };
    const transfers = new Transfers(host);
    transfers.tick();
    await settle();
    assert.ok(host.folds.length > 0, `${c.name}: the pull ran`);
    assert.deepEqual(host.completed, [], c.name);
    assert.deepEqual(host.finished, [], c.name);
    assert.equal(transfers.completed, 0, c.name);
  }
});

test('Dynamo 4.9: keysReceived counts only pulled keys that changed the local store', async () => {
  // Both replicas of partition 1 hold p1-a c1:1 and p1-b c1:2; both of partition 2 hold p2-a c2:1.
  const cases = [
    { name: 'nothing here yet (two identical copies of each key)', local: [] as [string, number, Version][], changed: 3 },
    { name: 'everything here already', local: [['p1-a', 1, version('c1', 1)], ['p1-b', 1, version('c1', 2)], ['p2-a', 2, version('c2', 1)]] as [string, number, Version][], changed: 0 },
    { name: 'one key here is older', local: [['p1-a', 1, version('c1', 1)], ['p1-b', 1, version('c1', 1)], ['p2-a', 2, version('c2', 1)]] as [string, number, Version][], changed: 1 },
  ];
  for (const c of cases) {
    const host = new FakeHost(joinState());
    for (const id of ['n2', 'n3']) {
      await host.put(host.peers.get(id)!, 'p1-a', 1, [version('c1', 1)]);
      await host.put(host.peers.get(id)!, 'p1-b', 1, [version('c1', 2)]);
    }
    for (const id of ['n3', 'n1']) await host.put(host.peers.get(id)!, 'p2-a', 2, [version('c2', 1)]);
    for (const [name, p, v] of c.local) await host.put(host.local, name, p, [v]);

    const transfers = new Transfers(host);
    transfers.tick();
    await settle();
    assert.deepEqual(host.completed, [2], c.name);
    assert.deepEqual(host.finished, [[2, c.changed]], `${c.name}: transferFinished keys`);
    assert.equal(
      host.received.reduce((a, b) => a + b, 0),
      c.changed,
      `${c.name}: host.keysReceived`,
    );
    assert.equal(transfers.keysReceived, c.changed, `${c.name}: Transfers.keysReceived`);
  }
});

test('Dynamo 4.9: at most transfersConcurrentMax transfers are in flight at once', async () => {
  const owners = stripedRing(['n1', 'n2', 'n3'], 16).owners;
  const pending = Object.fromEntries(Array.from({ length: transfersConcurrentMax + 2 }, (_, p) => [p, 'n4']));
  const host = new FakeHost(clusterOf(joining, owners, pending));
  host.answer = () => 'hang';
  const transfers = new Transfers(host);
  transfers.tick();
  await settle();
  transfers.tick();
  await settle();
  const active = transfers.active();
  assert.equal(active.length, transfersConcurrentMax);
  assert.deepEqual(
    active.map((t) => t.partition),
    Array.from({ length: transfersConcurrentMax }, (_, p) => p),
  );
  assert.ok(active.every((t) => t.to === 'n4' && t.from === owners[t.partition]));
});

test('Dynamo 4.9: a partition this node enters without a transfer to it (the ring changed elsewhere) is pulled on the next tick, and retried until a pull succeeds', async () => {
  // n1..n4 members, owners n1 n2 n3 n4 n1 n2 n3 n4: partition 1 is [n2 n3]. When partition 2
  // moves from n3 to n2, partition 1 becomes [n2 n4]: n4 enters it with nothing pending to it.
  const members: Record<string, MemberState> = { n1: 'member', n2: 'member', n3: 'member', n4: 'member' };
  const before = clusterOf(members, ['n1', 'n2', 'n3', 'n4', 'n1', 'n2', 'n3', 'n4']);
  const after = clusterOf(members, ['n1', 'n2', 'n2', 'n4', 'n1', 'n2', 'n3', 'n4']);
  const cases = [
    { name: 'the first pull succeeds', failures: 0 },
    { name: 'the first two pulls fail', failures: 2 },
  ];
  for (const c of cases) {
    const host = new FakeHost(before);
    await host.put(host.peers.get('n2')!, 'p1-a', 1, [version('c1', 1)]);
    let failures = c.failures;
    host.answer = () => (failures-- > 0 ? 'timeout' : 'data');
    const transfers = new Transfers(host);
    transfers.tick();
    await settle();
    assert.deepEqual(host.folds, [], `${c.name}: the first tick only notes what n4 replicates`);

    host.state = after;
    for (let round = 0; round <= c.failures; round++) {
      transfers.tick();
      await settle();
    }
    assert.deepEqual(foldList(host.folds), Array.from({ length: c.failures + 1 }, () => 'n2 p1'), c.name);
    assert.deepEqual(host.localContents().get('p1-a'), ['c1:1'], c.name);
    assert.deepEqual(host.completed, [], `${c.name}: no ownership change`);
  }
});

test('Dynamo 4.9: after planJoin, ticking completes every pending transfer, and the joiner then holds every version of every partition it replicates', async () => {
  const base = clusterOf({ n1: 'member', n2: 'member', n3: 'member' }, stripedRing(['n1', 'n2', 'n3'], 16).owners);
  const planned = planJoin(base, member('n4', 'joining'));
  const pending = planned.ring.flatMap((r, p) => (r.pendingTo === 'n4' ? [p] : []));
  assert.ok(pending.length >= 4, `planJoin claimed ${pending.length} partitions`);
  const host = new FakeHost(planned);
  // Every replica of every partition holds a shared key (its own sibling) and a key of its own.
  const expected = new Map<string, string[]>();
  for (let q = 0; q < base.partitions; q++) {
    for (const id of computePreferenceList(ringOf(base), q, base.n)) {
      await host.put(host.peers.get(id)!, `p${q}-shared`, q, [version(`w${id}`, q + 1)]);
      await host.put(host.peers.get(id)!, `p${q}-${id}`, q, [version(`w${id}`, q + 1)]);
      expected.set(`p${q}-shared`, [...(expected.get(`p${q}-shared`) ?? []), `w${id}:${q + 1}`].sort());
      expected.set(`p${q}-${id}`, [`w${id}:${q + 1}`]);
    }
  }
  const transfers = new Transfers(host);
  for (let round = 0; round < 10 && host.state.ring.some((r) => r.pendingTo === 'n4'); round++) {
    transfers.tick();
    await settle();
  }
  assert.deepEqual([...host.completed].sort((a, b) => a - b), pending);
  assert.deepEqual(ringOf(host.state).owners, targetRingOf(planned).owners);
  const local = host.localContents();
  const mine = Array.from({ length: base.partitions }, (_, q) => q).filter((q) => computePreferenceList(ringOf(host.state), q, base.n).includes('n4'));
  for (const q of mine) {
    for (const [name, dots] of expected) if (name.startsWith(`p${q}-`)) assert.deepEqual([...(local.get(name) ?? [])].sort(), dots, name);
  }
});
