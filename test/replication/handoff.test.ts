// Hinted handoff and stray-data handoff (Dynamo 4.6, replication/handoff.ts) against a fake of
// HandoffHost: the real MemoryStore holds the hints and data, a fake `call` answers like the
// peers would (['ack'] for writeMany) and records what was sent, and time is a number the
// test moves. tick() is driven directly: no timers, no wall clock, no GyreNode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Handoff, type HandoffHost, handoffBackoffMaxMs, handoffBatchBytesMax, handoffBatchKeysMax } from '../../node-core/src/replication/handoff.js';
import { ManualEnv, quietLog } from './fakes.js';
import type { ClusterState, MemberRecord, MemberState } from '../../node-core/src/core/gossip.js';
import { ringOf } from '../../node-core/src/core/gossip.js';
import { computePreferenceList } from '../../node-core/src/core/ring.js';
import { type Version, siblingsBytes, syncSiblings } from '../../node-core/src/core/siblings.js';
import { normalize } from '../../node-core/src/core/vclock.js';
import { type Space, type StoredKey, dataSpace, hintSpace } from '../../node-core/src/core/store.js';
import { MemoryStore } from '../../node-core/src/store/memory-store.js';
import { type Request, ackReply } from '../../node-core/src/net/messages.js';


/** Lets every promise continuation already queued run (one macrotask turn). */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function version(actor: string, counter: number, bytes = 1, shared?: Uint8Array): Version {
  const dot = { actor, counter, ts: 1 };
  return { dot, clock: normalize([], [dot]), deleted: false, contentType: 'application/octet-stream', value: shared ?? new Uint8Array(bytes).fill(counter % 256) };
}

function key(name: string): Buffer {
  return Buffer.from(name);
}

function keyNames(n: number, prefix = 'k'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
}

function member(id: string, state: MemberState): MemberRecord {
  return { id, http: `${id}.test:8000`, internode: `${id}.test:9000`, state, version: 1, heartbeat: 0 };
}

/**
 * Three members n1..n3 (plus any extra), N = 2, 8 partitions striped n1 n2 n3 n1 n2 n3 n1 n2.
 * Preference lists: p0 [n1 n2], p1 [n2 n3], p2 [n3 n1], p3 [n1 n2], p4 [n2 n3], p5 [n3 n1],
 * p6 [n1 n2], p7 [n2 n1]: n1 (self) does not replicate partitions 1 and 4.
 */
function cluster(extra: Record<string, MemberState> = {}, pendingTo: Record<number, string> = {}): ClusterState {
  const members = new Map<string, MemberRecord>();
  for (const id of ['n1', 'n2', 'n3']) members.set(id, member(id, 'member'));
  for (const [id, state] of Object.entries(extra)) members.set(id, member(id, state));
  const owners = ['n1', 'n2', 'n3', 'n1', 'n2', 'n3', 'n1', 'n2'];
  return { partitions: owners.length, n: 2, members, ring: owners.map((owner, p) => ({ owner, epoch: 1, pendingTo: pendingTo[p] })) };
}

/** One writeMany as a peer received it, and whether the sender still held those keys when the peer answered. */
interface Sent {
  readonly to: string;
  readonly keys: string[];
  readonly bytes: number;
  readonly heldWhenAnswered: boolean;
}

/** What a peer does with a writeMany: the reply (or a thrown error, as a timeout would). */
type Peer = (items: readonly StoredKey[], to: string) => unknown;

const acks: Peer = () => ackReply;

class FakeHost implements HandoffHost {
  readonly selfId = 'n1';
  readonly n = 2;
  readonly env = new ManualEnv();
  readonly log = quietLog;
  readonly mem = new MemoryStore('n1', () => this.env.now());
  /** retireActor and call, in the order the loop made them. */
  readonly events: string[] = [];
  readonly sent: Sent[] = [];
  readonly hintReports: [string, number][] = [];
  readonly strayReports: number[] = [];
  readonly up = new Set(['n1', 'n2', 'n3']);
  readonly peers = new Map<string, Peer>();
  state = cluster();

  readonly store: HandoffHost['store'] = {
    hintCounts: () => this.mem.hintCounts(),
    scanHints: (target, after, limit) => this.mem.scanHints(target, after, limit),
    scanPartition: (p, after, limit) => this.mem.scanPartition(p, after, limit),
    partitionsHeld: () => this.mem.partitionsHeld(),
    retireActor: (p) => {
      this.events.push(`retire ${p}`);
      this.mem.retireActor(p);
    },
    update: (k, p, f, space) => this.mem.update(k, p, f, space),
  };

  clusterState(): ClusterState {
    return this.state;
  }
  isUp(id: string): boolean {
    return this.up.has(id);
  }
  preferenceList(partition: number): string[] {
    return computePreferenceList(ringOf(this.state), partition, this.n);
  }
  member(id: string): MemberRecord | undefined {
    return this.state.members.get(id);
  }
  hintsDelivered(target: string, count: number): void {
    this.hintReports.push([target, count]);
  }
  strayKeysHandedOff(count: number): void {
    this.strayReports.push(count);
  }

  private async holdsAll(items: readonly StoredKey[], space: Space): Promise<boolean> {
    for (const i of items) if ((await this.mem.read(i.key, space)).length === 0) return false;
    return true;
  }

  async call(node: string, req: Request): Promise<unknown> {
    if (req.t !== 'writeMany') throw new Error(`unexpected ${req.t}`);
    this.events.push(`call ${node}`);
    const items = req.items.map((i) => ({ key: Buffer.from(i.key), partition: i.partition, versions: [...i.versions] }));
    // Where the sender keeps these keys: the hints of some target, or else its own data.
    let space = dataSpace;
    for (const target of this.mem.hintCounts().keys()) if (await this.holdsAll(items, hintSpace(target))) space = hintSpace(target);
    // Answer one macrotask later: a sender that drops its copy without waiting for the answer has done it by now.
    await drain();
    const heldWhenAnswered = await this.holdsAll(items, space);
    this.sent.push({ to: node, keys: items.map((i) => i.key.toString()), bytes: items.reduce((s, i) => s + siblingsBytes(i.versions), 0), heldWhenAnswered });
    return (this.peers.get(node) ?? acks)(items, node);
  }

  async putHint(target: string, name: string, partition: number, versions: Version[]): Promise<void> {
    await this.mem.update(key(name), partition, (cur) => ({ versions: syncSiblings(cur, versions), result: undefined }), hintSpace(target));
  }

  async putData(name: string, partition: number, versions: Version[]): Promise<void> {
    await this.mem.update(key(name), partition, (cur) => ({ versions: syncSiblings(cur, versions), result: undefined }), dataSpace);
  }

  hintsHeld(target: string): string[] {
    return this.mem.scanHints(target, undefined, 1e9).map((k) => k.key.toString());
  }

  dataHeld(partition: number): string[] {
    return this.mem.scanPartition(partition, undefined, 1e9).map((k) => k.key.toString());
  }
}

async function hostWithHints(target: string, names: readonly string[], partition = 0): Promise<FakeHost> {
  const host = new FakeHost();
  for (const [i, name] of names.entries()) await host.putHint(target, name, partition, [version('c1', i + 1)]);
  return host;
}

test('Dynamo 4.6: hints for a target are sent to it only while the failure detector sees it up', async () => {
  const cases = [
    { name: 'target down', up: false, sentTo: [] as string[], held: ['a', 'b'] },
    { name: 'target up', up: true, sentTo: ['n2'], held: [] as string[] },
  ];
  for (const c of cases) {
    const host = await hostWithHints('n2', ['a', 'b']);
    if (!c.up) host.up.delete('n2');
    await new Handoff(host).tick();
    assert.deepEqual(
      host.sent.map((s) => s.to),
      c.sentTo,
      c.name,
    );
    assert.deepEqual(host.hintsHeld('n2'), c.held, c.name);
  }
});

test('Dynamo 4.6: hints go out in key order, in batches of at most handoffBatchKeysMax keys and handoffBatchBytesMax bytes', async () => {
  const mib = new Uint8Array(1024 * 1024);
  const cases = [
    // 300 small hints: the key limit cuts the batches.
    { name: 'small values', keys: 300, versionsPerKey: 1, shared: undefined, batches: [128, 128, 44] },
    // 7 keys of 4 siblings of 1 MiB (about 4 MiB each): the byte limit cuts at 3 keys.
    { name: '4 MiB keys', keys: 7, versionsPerKey: 4, shared: mib, batches: [3, 3, 1] },
  ];
  for (const c of cases) {
    const host = new FakeHost();
    const names = keyNames(c.keys);
    for (const name of names) await host.putHint('n2', name, 0, Array.from({ length: c.versionsPerKey }, (_, j) => version(`c${j}`, 1, 1, c.shared)));
    await new Handoff(host).tick();
    assert.deepEqual(
      host.sent.map((s) => s.keys.length),
      c.batches,
      c.name,
    );
    for (const s of host.sent) {
      assert.ok(s.keys.length <= handoffBatchKeysMax, `${c.name}: ${s.keys.length} keys in a batch`);
      assert.ok(s.bytes <= handoffBatchBytesMax, `${c.name}: ${s.bytes} bytes in a batch`);
    }
    assert.deepEqual(
      host.sent.flatMap((s) => s.keys),
      names,
      `${c.name}: every hint once, in key order`,
    );
    assert.deepEqual(host.hintsHeld('n2'), [], c.name);
  }
});

test('Dynamo 4.6: one round sends a target at most 8 batches, so one backlog cannot starve the other targets', async () => {
  const host = new FakeHost();
  const backlog = keyNames(8 * handoffBatchKeysMax + 5, 'big');
  for (const name of backlog) await host.putHint('n2', name, 0, [version('c1', 1)]);
  await host.putHint('n3', 'small', 0, [version('c1', 1)]);
  const handoff = new Handoff(host);

  await handoff.tick();
  assert.equal(host.sent.filter((s) => s.to === 'n2').length, 8, 'first round: 8 batches to n2');
  assert.deepEqual(
    host.sent.filter((s) => s.to === 'n3').map((s) => s.keys),
    [['small']],
    'first round: n3 served too',
  );
  assert.equal(host.hintsHeld('n2').length, 5);

  await handoff.tick();
  assert.deepEqual(host.hintsHeld('n2'), [], 'the rest goes next round');
});

test('Dynamo 4.6: a hint is deleted only after the target acknowledged; a failed or non-ack reply keeps it and backs the target off', async () => {
  const cases: { name: string; peer: Peer; delivered: boolean }[] = [
    { name: "['ack']", peer: acks, delivered: true },
    {
      name: 'no reply (timeout)',
      peer: () => {
        throw new Error('timeout');
      },
      delivered: false,
    },
    { name: "['nack']", peer: () => ['nack'], delivered: false },
    { name: 'an error reply', peer: () => ['error', 'disk full'], delivered: false },
    { name: 'undefined', peer: () => undefined, delivered: false },
  ];
  for (const c of cases) {
    const host = await hostWithHints('n2', ['a', 'b']);
    host.peers.set('n2', c.peer);
    const handoff = new Handoff(host);
    await handoff.tick();
    assert.equal(host.sent.length, 1, c.name);
    assert.ok(host.sent[0]!.heldWhenAnswered, `${c.name}: the hints were still here when the target answered`);
    assert.deepEqual(host.hintsHeld('n2'), c.delivered ? [] : ['a', 'b'], c.name);
    assert.deepEqual(handoff.status().backingOff, c.delivered ? [] : ['n2'], `${c.name}: backoff`);
    if (c.delivered) continue;

    // Backing off: the next round, at the same instant, sends nothing.
    await handoff.tick();
    assert.equal(host.sent.length, 1, `${c.name}: no resend while backing off`);
    // Once the backoff has passed (it never exceeds handoffBackoffMaxMs), a good reply delivers them and clears it.
    host.env.nowMs += handoffBackoffMaxMs;
    host.peers.set('n2', acks);
    await handoff.tick();
    assert.equal(host.sent.length, 2, `${c.name}: resent after the backoff`);
    assert.deepEqual(host.hintsHeld('n2'), [], c.name);
    assert.deepEqual(handoff.status().backingOff, [], c.name);
  }
});

test('Dynamo 4.6: a hint that changed between send and ack is kept, and is delivered in a later batch', async () => {
  const host = await hostWithHints('n2', ['a', 'b']);
  const newer = version('c2', 7);
  let first = true;
  host.peers.set('n2', () => {
    // A new hint for key a lands while the first batch is in flight; then the target goes quiet.
    if (!first) throw new Error('timeout');
    first = false;
    void host.putHint('n2', 'a', 0, [newer]);
    return ackReply;
  });
  const handoff = new Handoff(host);
  await handoff.tick();
  assert.deepEqual(host.hintsHeld('n2'), ['a'], 'a changed: kept; b acknowledged as sent: deleted');
  const [a] = host.mem.scanHints('n2', undefined, 1);
  assert.deepEqual(
    a!.versions.map((v) => v.dot.actor).sort(),
    ['c1', 'c2'],
    'the kept hint is the changed one, whole',
  );
  assert.deepEqual(host.hintReports, [['n2', 1]], 'only b counts as delivered');

  host.env.nowMs += handoffBackoffMaxMs;
  host.peers.set('n2', acks);
  await handoff.tick();
  assert.deepEqual(host.hintsHeld('n2'), []);
  assert.deepEqual(host.sent.at(-1)!.keys, ['a']);
});

test("Dynamo 4.6: hints for a member that left (or was never known) go to every node of the key's preference list, and are dropped only when all acknowledged", async () => {
  const fail: Peer = () => {
    throw new Error('timeout');
  };
  const left: Record<string, MemberState> = { n4: 'left' };
  const cases: { name: string; target: string; extra: Record<string, MemberState>; down: string[]; peers: Record<string, Peer>; sentTo: string[]; dropped: boolean; backingOff: string[] }[] = [
    { name: 'target left, replicas ack', target: 'n4', extra: left, down: [], peers: {}, sentTo: ['n2', 'n3'], dropped: true, backingOff: [] },
    { name: 'target unknown, replicas ack', target: 'n9', extra: {}, down: [], peers: {}, sentTo: ['n2', 'n3'], dropped: true, backingOff: [] },
    { name: 'target left, a replica down', target: 'n4', extra: left, down: ['n3'], peers: {}, sentTo: [], dropped: false, backingOff: [] },
    { name: 'target left, a replica fails', target: 'n4', extra: left, down: [], peers: { n3: fail }, sentTo: ['n2', 'n3'], dropped: false, backingOff: ['n3'] },
    { name: 'target left, a replica nacks', target: 'n4', extra: left, down: [], peers: { n2: () => ['nack'] }, sentTo: ['n2', 'n3'], dropped: false, backingOff: ['n2'] },
  ];
  for (const c of cases) {
    const host = new FakeHost();
    host.state = cluster(c.extra);
    for (const id of c.down) host.up.delete(id);
    for (const [id, peer] of Object.entries(c.peers)) host.peers.set(id, peer);
    // Partition 1's preference list is [n2, n3].
    // Two keys of the same partition: one batch per replica, not one message per key.
    await host.putHint(c.target, 'k', 1, [version('c1', 1)]);
    await host.putHint(c.target, 'l', 1, [version('c1', 2)]);
    const handoff = new Handoff(host);
    await handoff.tick();
    assert.deepEqual(host.sent.map((s) => s.to).sort(), c.sentTo, c.name);
    for (const s of host.sent) {
      assert.deepEqual(s.keys, ['k', 'l'], `${c.name}: one batch`);
      assert.ok(s.heldWhenAnswered, `${c.name}: still held when ${s.to} answered`);
    }
    assert.deepEqual(host.hintsHeld(c.target), c.dropped ? [] : ['k', 'l'], c.name);
    assert.deepEqual(host.hintReports, c.dropped ? [[c.target, 2]] : [], `${c.name}: redirected hints are reported as delivered`);
    assert.deepEqual(handoff.status().backingOff, c.backingOff, `${c.name}: a replica that failed is backed off`);
  }
});

test("Dynamo 4.6: stray data of a partition this node no longer replicates is pushed to every replica and only then dropped; the partition's actor is retired first", async () => {
  const fail: Peer = () => {
    throw new Error('timeout');
  };
  const cases = [
    { name: 'both replicas ack', down: [] as string[], peers: {} as Record<string, Peer>, sentTo: ['n2', 'n3'], dropped: true, backingOff: [] as string[] },
    { name: 'a replica fails', down: [], peers: { n3: fail }, sentTo: ['n2', 'n3'], dropped: false, backingOff: ['n3'] },
    { name: 'a replica nacks', down: [], peers: { n2: () => ['nack'] }, sentTo: ['n2', 'n3'], dropped: false, backingOff: ['n2'] },
    { name: 'a replica down', down: ['n3'], peers: {}, sentTo: [], dropped: false, backingOff: [] },
  ];
  for (const c of cases) {
    const host = new FakeHost();
    for (const id of c.down) host.up.delete(id);
    for (const [id, peer] of Object.entries(c.peers)) host.peers.set(id, peer);
    // Partition 1 ([n2, n3]) is not n1's; partition 0 ([n1, n2]) is and must stay put.
    await host.putData('x', 1, [version('c1', 1)]);
    await host.putData('y', 1, [version('c1', 2)]);
    await host.putData('mine', 0, [version('c1', 3)]);
    const handoff = new Handoff(host);
    await handoff.tick();

    assert.deepEqual(host.sent.map((s) => s.to).sort(), c.sentTo, c.name);
    for (const s of host.sent) {
      assert.deepEqual(s.keys, ['x', 'y'], c.name);
      assert.ok(s.heldWhenAnswered, `${c.name}: still held when ${s.to} answered`);
    }
    assert.deepEqual(host.dataHeld(1), c.dropped ? [] : ['x', 'y'], c.name);
    assert.deepEqual(host.dataHeld(0), ['mine'], `${c.name}: own partition untouched`);
    assert.deepEqual(handoff.status().backingOff, c.backingOff, c.name);
    if (c.sentTo.length > 0) assert.equal(host.events[0], 'retire 1', `${c.name}: actor retired before anything is sent (${host.events.join(', ')})`);
    else assert.deepEqual(host.events, [], `${c.name}: nothing retired while a replica cannot take the data`);
  }
});

test('Dynamo 4.6: data is not stray while this node still replicates its partition, or will once pending transfers complete', async () => {
  const cases = [
    { name: 'a partition n1 replicates', partition: 0, pendingTo: {} as Record<number, string>, handedOff: false },
    // Partition 2 pending to n1 makes partition 1's target preference list [n2, n1].
    { name: 'a partition n1 will replicate', partition: 1, pendingTo: { 2: 'n1' }, handedOff: false },
    { name: 'a partition n1 neither replicates nor will', partition: 1, pendingTo: {}, handedOff: true },
  ];
  for (const c of cases) {
    const host = new FakeHost();
    host.state = cluster({}, c.pendingTo);
    await host.putData('x', c.partition, [version('c1', 1)]);
    await new Handoff(host).tick();
    assert.equal(host.sent.length > 0, c.handedOff, c.name);
    assert.equal(host.events.includes(`retire ${c.partition}`), c.handedOff, `${c.name}: actor retired`);
    assert.deepEqual(host.dataHeld(c.partition), c.handedOff ? [] : ['x'], c.name);
  }
});

test('Dynamo 4.6: hintsDelivered and strayKeysHandedOff report exactly the keys delivered and dropped, per batch', async () => {
  /** Acks, but the first time a newer version of `name` lands here while the batch is in flight. */
  const changesInFlight = (host: FakeHost, name: string, partition: number, hint: boolean): Peer => {
    let first = true;
    return () => {
      if (first) void (hint ? host.putHint('n2', name, partition, [version('c2', 9)]) : host.putData(name, partition, [version('c2', 9)]));
      first = false;
      return ackReply;
    };
  };
  const cases: { name: string; hints: number; stray: number; reply: (h: FakeHost) => Peer; hintReports: [string, number][]; strayReports: number[]; delivered: number; left: number }[] = [
    { name: '3 hints', hints: 3, stray: 0, reply: () => acks, hintReports: [['n2', 3]], strayReports: [], delivered: 3, left: 0 },
    { name: '130 hints', hints: 130, stray: 0, reply: () => acks, hintReports: [['n2', 128], ['n2', 2]], strayReports: [], delivered: 130, left: 0 },
    { name: '3 hints, one changed in flight', hints: 3, stray: 0, reply: (h) => changesInFlight(h, 'h00000', 0, true), hintReports: [['n2', 2], ['n2', 1]], strayReports: [], delivered: 3, left: 0 },
    { name: '5 stray keys', hints: 0, stray: 5, reply: () => acks, hintReports: [], strayReports: [5], delivered: 0, left: 0 },
    { name: '130 stray keys', hints: 0, stray: 130, reply: () => acks, hintReports: [], strayReports: [128, 2], delivered: 0, left: 0 },
    { name: '5 stray keys, one changed in flight', hints: 0, stray: 5, reply: (h) => changesInFlight(h, 's00000', 4, false), hintReports: [], strayReports: [4, 1], delivered: 0, left: 0 },
    { name: 'nothing acknowledged', hints: 3, stray: 5, reply: () => () => ['nack'], hintReports: [], strayReports: [], delivered: 0, left: 8 },
  ];
  for (const c of cases) {
    const host = await hostWithHints('n2', keyNames(c.hints, 'h'));
    for (const name of keyNames(c.stray, 's')) await host.putData(name, 4, [version('c1', 1)]);
    host.peers.set('n2', c.reply(host)); // n3 acks: stray data waits for both, hints only for n2
    const handoff = new Handoff(host);
    await handoff.tick();
    assert.deepEqual(host.hintReports, c.hintReports, c.name);
    assert.deepEqual(host.strayReports, c.strayReports, c.name);
    assert.equal(handoff.status().delivered, c.delivered, c.name);
    assert.equal(host.hintsHeld('n2').length + host.dataHeld(4).length, c.left, `${c.name}: keys left here`);
  }
});
