// Tombstone reaping (replication/reaper.ts) against a fake of its host (ReaperHost): the local
// replica and its two peers are MemoryStores; readReplica and reapReplica reach a peer through
// the real encoders and parsers, packed and unpacked as the transport does, and the peer
// answers a reap request the way GyreNode.handle does (store.update with reapUpdate). Time is
// the simulator's Scheduler, moved by hand; each test calls round() itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { Reaper, type ReaperHost, reapUpdate } from '../../node-core/src/replication/reaper.js';
import type { LoopLog } from '../../node-core/src/replication/host.js';
import { computePreferenceList, stripedRing } from '../../node-core/src/core/ring.js';
import { partitionOf } from '../../node-core/src/core/partitioner.js';
import { type Version, syncSiblings } from '../../node-core/src/core/siblings.js';
import { type VClock, addEvent, emptyClock, join } from '../../node-core/src/core/vclock.js';
import type { Env } from '../../node-core/src/core/env.js';
import { MemoryStore } from '../../node-core/src/store/memory-store.js';
import { type Request, ackReply, encodeRequest, encodeVersionsReply, isAck, parseRequest, parseVersionsReply } from '../../node-core/src/net/messages.js';
import { Scheduler } from '../harness/sim/env.js';

/** The transport's msgpack settings (net/tcp-transport.ts, the simulator's network). */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function overTheWire(value: unknown): unknown {
  return packr.unpack(packr.pack(value));
}

const silent: LoopLog = { debug: () => {}, info: () => {}, warn: () => {} };

const q = 8;
const ids = ['n1', 'n2', 'n3'] as const;
type Id = (typeof ids)[number];
const self: Id = 'n1';
const graceMs = 10_000;
const retainMs = 60_000;

interface Asked {
  readonly t: 'read' | 'reap';
  readonly node: string;
  readonly key: string;
}

/** n1 runs the reaper; n1, n2 and n3 replicate every partition (three nodes, N = 3). */
class Cluster {
  readonly scheduler = new Scheduler();
  readonly stores = new Map<Id, MemoryStore>(ids.map((id) => [id, new MemoryStore(id, () => this.scheduler.now)]));
  /** Seen down by n1's failure detector (they would still answer). */
  readonly seenDown = new Set<string>();
  /** Not answering at all (their requests time out). */
  readonly unanswering = new Set<string>();
  readonly asked: Asked[] = [];
  /** Runs after a replica answered a read: a write landing between the check and the reap. */
  afterRead: ((node: Id, key: Uint8Array) => Promise<void>) | undefined;
  reported = 0;
  readonly reaper: Reaper;

  /** `strayIn(p)`: n1 is not among partition p's replicas (n2 and n3 are), as after a ring change. */
  constructor(readonly strayIn: (partition: number) => boolean = () => false) {
    const env: Env = { now: () => this.scheduler.now, random: () => 0.5, setTimer: (ms, fn) => this.scheduler.schedule(ms, { node: self, incarnation: undefined }, 'timer', fn) };
    const ring = stripedRing([...ids], q);
    const host: ReaperHost = {
      selfId: self,
      env,
      log: silent,
      isUp: (id) => !this.seenDown.has(id),
      preferenceList: (p) => (this.strayIn(p) ? ['n2', 'n3'] : computePreferenceList(ring, p, 3)),
      store: this.store(self),
      readReplica: (node, key) => this.read(node as Id, key),
      reapReplica: (node, key, partition, versions) => this.reap(node as Id, { t: 'reap', key, partition, versions }),
      reaped: () => this.reported++,
    };
    this.reaper = new Reaper(host, graceMs, retainMs);
  }

  store(id: Id): MemoryStore {
    return this.stores.get(id)!;
  }

  /** GyreNode.readReplica: the node's own store directly, a peer over the wire. */
  private async read(node: Id, key: Uint8Array): Promise<Version[]> {
    this.asked.push({ t: 'read', node, key: Buffer.from(key).toString() });
    if (this.unanswering.has(node)) throw new Error(`no reply from ${node}`);
    if (node === self) return this.store(node).read(key);
    const parsed = parseRequest(overTheWire(encodeRequest({ t: 'read', key, hintFor: undefined })));
    assert.ok(parsed.ok && parsed.value.t === 'read');
    const reply = parseVersionsReply(overTheWire(encodeVersionsReply(await this.store(node).read(parsed.value.key))));
    assert.ok(reply.ok);
    await this.afterRead?.(node, key);
    return reply.value;
  }

  /** GyreNode.reapReplica, and a peer's answer to a reap request. */
  private async reap(node: Id, req: Extract<Request, { t: 'reap' }>): Promise<boolean> {
    this.asked.push({ t: 'reap', node, key: Buffer.from(req.key).toString() });
    if (this.unanswering.has(node)) throw new Error(`no reply from ${node}`);
    if (node === self) return this.store(node).update(req.key, req.partition, reapUpdate(req.versions));
    const parsed = parseRequest(overTheWire(encodeRequest(req)));
    assert.ok(parsed.ok && parsed.value.t === 'reap');
    const got = parsed.value;
    const reply = (await this.store(node).update(got.key, got.partition, reapUpdate(got.versions))) ? ackReply : ['kept'];
    return isAck(overTheWire(reply));
  }

  async put(id: Id, key: Buffer, versions: readonly Version[]): Promise<void> {
    if (versions.length === 0) return;
    await this.store(id).update(key, partitionOf(key, q), () => ({ versions, result: undefined }));
  }

  async holds(id: Id, key: Buffer): Promise<string[]> {
    return dotsOf(await this.store(id).read(key));
  }

  async roundAt(nowMs: number): Promise<void> {
    await this.scheduler.runUntil(nowMs);
    await this.reaper.round();
  }
}

function bytes(s: string): Buffer {
  return Buffer.from(s);
}

/** A version by `actor` with event `counter` at `ts`, having seen `seen`. */
function version(actor: string, counter: number, ts: number, seen: VClock = emptyClock, deleted = false): Version {
  const dot = { actor, counter, ts };
  return { dot, clock: addEvent(seen, dot), deleted, contentType: deleted ? '' : 'text/plain', value: deleted ? new Uint8Array(0) : bytes(`${actor}:${counter}`) };
}

function dotsOf(vs: readonly Version[]): string[] {
  return vs.map((v) => `${v.dot.actor}:${v.dot.counter}${v.deleted ? '(deleted)' : ''}`).sort();
}

/** The value, deleted at 2000 by a client that saw it. */
const value = version('n1.a', 1, 1000);
const tomb = version('n1.a', 2, 2000, value.clock, true);
/** A second delete, concurrent with the first, at 2500. */
const tomb2 = version('n3.a', 1, 2500, value.clock, true);
/** A write after the delete (its client saw the tombstone). */
const newer = version('n2.a', 1, 3000, tomb.clock);
/** An older write the tombstone did not see: concurrent with it. */
const uncovered = version('n2.a', 1, 1500);

const key = bytes('doomed');

/** Everyone holds `local`'s tombstones unless a case says otherwise. */
async function setUp(local: readonly Version[], peers: Partial<Record<Id, readonly Version[]>> = {}): Promise<Cluster> {
  const c = new Cluster();
  await c.put('n1', key, local);
  for (const id of ['n2', 'n3'] as const) await c.put(id, key, peers[id] ?? local);
  return c;
}

/** Reaped everywhere: gone from every replica, each remembering the tombstones' clock; reported once. */
async function assertReaped(c: Cluster, name: string, local: readonly Version[]): Promise<void> {
  for (const id of ids) {
    assert.deepEqual(await c.holds(id, key), [], `${name}: ${id} still holds the key`);
    assert.ok(c.store(id).reapedClock(key), `${name}: ${id} remembers no reaped clock`);
  }
  assert.deepEqual(c.store('n1').reapedClock(key), local.reduce((clock, v) => join(clock, v.clock), emptyClock), name);
  assert.equal(c.reported, 1, `${name}: reported`);
}

/** Not reaped: every replica holds what it held, none was asked to reap, nothing reported. */
async function assertKept(c: Cluster, name: string, before: Map<Id, string[]>): Promise<void> {
  for (const id of ids) assert.deepEqual(await c.holds(id, key), before.get(id), `${name}: ${id} changed`);
  assert.deepEqual(
    c.asked.filter((a) => a.t === 'reap'),
    [],
    `${name}: a replica was asked to reap`,
  );
  assert.equal(c.reported, 0, `${name}: reported`);
}

async function snapshot(c: Cluster): Promise<Map<Id, string[]>> {
  return new Map(await Promise.all(ids.map(async (id) => [id, await c.holds(id, key)] as [Id, string[]])));
}

test('Reaping: a key whose versions are all tombstones is reaped only once its newest tombstone is older than the grace period', async () => {
  const cases = [
    { name: 'one tombstone, just inside the grace period', local: [tomb], at: 2000 + graceMs - 1, reaped: false },
    { name: 'one tombstone, grace period over', local: [tomb], at: 2000 + graceMs, reaped: true },
    { name: 'two tombstones, grace over for the older only', local: [tomb, tomb2], at: 2000 + graceMs, reaped: false },
    { name: 'two tombstones, grace over for the newer', local: [tomb, tomb2], at: 2500 + graceMs, reaped: true },
  ];
  for (const t of cases) {
    const c = await setUp(t.local);
    const before = await snapshot(c);
    await c.roundAt(t.at);
    if (t.reaped) await assertReaped(c, t.name, t.local);
    else {
      await assertKept(c, t.name, before);
      assert.deepEqual(c.asked, [], `${t.name}: a key in its grace period is not even checked`);
    }
  }
});

test('Reaping: a key is reaped only when every node of its preference list is seen up', async () => {
  const cases = [
    { name: 'all three up', seenDown: [], reaped: true },
    { name: 'a peer seen down', seenDown: ['n2'], reaped: false },
    { name: 'the other peer seen down', seenDown: ['n3'], reaped: false },
    { name: 'both peers seen down', seenDown: ['n2', 'n3'], reaped: false },
  ];
  for (const t of cases) {
    const c = await setUp([tomb]);
    for (const id of t.seenDown) c.seenDown.add(id);
    const before = await snapshot(c);
    await c.roundAt(2000 + graceMs);
    if (t.reaped) await assertReaped(c, t.name, [tomb]);
    else {
      await assertKept(c, t.name, before);
      assert.deepEqual(c.asked, [], `${t.name}: no replica is asked while one is seen down`);
    }
  }
});

test('Reaping: a key is reaped only when every replica holds exactly the same tombstones or nothing (a newer write or an uncovered older value stops it)', async () => {
  const cases: { name: string; local: Version[]; peers: Partial<Record<Id, Version[]>>; unanswering?: Id[]; reaped: boolean }[] = [
    { name: 'every replica holds the same tombstone', local: [tomb], peers: {}, reaped: true },
    { name: 'every replica holds the same two tombstones', local: [tomb, tomb2], peers: {}, reaped: true },
    { name: 'a replica holds nothing', local: [tomb], peers: { n3: [] }, reaped: true },
    { name: 'both peers hold nothing', local: [tomb], peers: { n2: [], n3: [] }, reaped: true },
    { name: 'a replica holds a newer write', local: [tomb], peers: { n2: [newer] }, reaped: false },
    { name: 'a replica holds an older value the tombstone does not cover, beside it', local: [tomb], peers: { n2: syncSiblings([tomb], [uncovered]) }, reaped: false },
    { name: 'a replica holds only an older value the tombstone does not cover', local: [tomb], peers: { n3: [uncovered] }, reaped: false },
    { name: 'a replica still holds the value the tombstone deleted', local: [tomb], peers: { n2: [value] }, reaped: false },
    { name: 'a replica holds only one of the two tombstones', local: [tomb, tomb2], peers: { n3: [tomb] }, reaped: false },
    { name: 'a replica seen up does not answer', local: [tomb], peers: {}, unanswering: ['n2'], reaped: false },
  ];
  for (const t of cases) {
    const c = await setUp(t.local, t.peers);
    for (const id of t.unanswering ?? []) c.unanswering.add(id);
    const before = await snapshot(c);
    await c.roundAt(2500 + graceMs);
    if (t.reaped) await assertReaped(c, t.name, t.local);
    else await assertKept(c, t.name, before);
  }
});

test('Reaping: reaped() is reported once per key every replica reaped, and not for a key a replica kept', async () => {
  const doomed = ['a', 'b', 'c'].map((k) => bytes(`doomed-${k}`));
  const live = bytes('alive');
  const cases = [
    { name: 'every replica reaps every key', rewrite: undefined, reported: 3 },
    // A write reaches n3 after it answered the check: its reap keeps the key (reapUpdate).
    { name: 'a replica written between the check and the reap keeps one key', rewrite: doomed[1]!, reported: 2 },
  ];
  for (const t of cases) {
    const c = new Cluster();
    for (const k of doomed) for (const id of ids) await c.put(id, k, [tomb]);
    for (const id of ids) await c.put(id, live, [value]);
    const rewrite = t.rewrite;
    if (rewrite) {
      c.afterRead = async (node, k) => {
        if (node === 'n3' && Buffer.from(k).equals(rewrite)) await c.put('n3', rewrite, [newer]);
      };
    }
    await c.roundAt(2000 + graceMs);
    assert.equal(c.reported, t.reported, t.name);
    assert.equal(c.reaper.status().reaped, t.reported, t.name);
    // Later rounds find nothing left to reap, and report nothing again.
    c.afterRead = undefined;
    await c.roundAt(2000 + 2 * graceMs);
    await c.roundAt(2000 + 3 * graceMs);
    assert.equal(c.reported, t.reported, `${t.name}: later rounds`);
    assert.equal(c.reaper.status().candidates, 0, `${t.name}: candidates left`);
    assert.deepEqual(await c.holds('n1', live), dotsOf([value]), `${t.name}: the live key`);
    if (rewrite) assert.deepEqual(await c.holds('n3', rewrite), dotsOf([newer]), `${t.name}: the rewritten key at n3`);
  }
});

test('Reaping: a write that leaves a key not all tombstones removes it from the candidates', async () => {
  const cases = [
    { name: 'a new value over the tombstone', write: [newer], candidate: false },
    { name: 'a concurrent older value beside the tombstone', write: syncSiblings([tomb], [uncovered]), candidate: false },
    { name: 'a second tombstone beside the first (control)', write: [tomb, tomb2], candidate: true },
  ];
  for (const t of cases) {
    const c = await setUp([tomb]);
    assert.equal(c.reaper.status().candidates, 1, `${t.name}: a candidate before`);
    await c.put('n1', key, t.write);
    assert.equal(c.reaper.status().candidates, t.candidate ? 1 : 0, t.name);
    if (t.candidate) continue;
    await c.roundAt(2500 + graceMs);
    assert.deepEqual(c.asked, [], `${t.name}: a key that is no candidate is not checked`);
    assert.deepEqual(await c.holds('n1', key), dotsOf(t.write), t.name);
    assert.equal(c.reported, 0, t.name);
  }
});

test('Reaping: a reaped clock is remembered for the retention period after the reap, then a reaping round forgets it', async () => {
  const cases = [
    { name: 'at the end of the retention period', after: retainMs, remembered: true },
    { name: 'past the retention period', after: retainMs + 1, remembered: false },
  ];
  for (const t of cases) {
    const c = await setUp([tomb]);
    const reapedAt = 2000 + graceMs;
    await c.roundAt(reapedAt);
    await assertReaped(c, t.name, [tomb]);
    await c.roundAt(reapedAt + t.after);
    assert.equal(c.store('n1').reapedClock(key) !== undefined, t.remembered, t.name);
  }
});

test('Reaping: a node that holds a stray copy of a key (not one of its replicas) never reaps it; the replicas keep their tombstones for their own reaper', async () => {
  const c = new Cluster(() => true);
  for (const id of ids) await c.put(id, key, [tomb]);
  await c.roundAt(2000 + graceMs);
  await c.roundAt(2000 + graceMs + 10_000);
  assert.deepEqual(c.asked, [], 'a stray copy is not even checked');
  assert.equal(c.reported, 0);
  for (const id of ids) assert.deepEqual(await c.holds(id, key), dotsOf([tomb]), `${id} keeps its tombstone`);
});

test('Reaping: stray copies never take the places of keys this node replicates in a reaping batch', async () => {
  const real = bytes('mine');
  const realPartition = partitionOf(real, q);
  const c = new Cluster((p) => p !== realPartition);
  // More stray tombstones than one batch takes, all due before the real one.
  const strays: Buffer[] = [];
  for (let i = 0; strays.length < 100; i++) {
    const k = bytes(`stray-${i}`);
    if (partitionOf(k, q) !== realPartition) strays.push(k);
  }
  for (const k of strays) await c.put(self, k, [tomb]);
  for (const id of ids) await c.put(id, real, [tomb]);
  await c.roundAt(2000 + graceMs);
  for (const id of ids) assert.deepEqual(await c.holds(id, real), [], `${id}: the key n1 replicates is reaped in the first round`);
  assert.equal(c.reported, 1);
});
