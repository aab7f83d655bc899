// Anti-entropy (Dynamo 4.7) against fakes of its host (replication/exchange.ts, ExchangeHost):
// each replica is an AntiEntropy over a MemoryStore; `call` reaches the peer replica through
// the real encoders and parsers, packed and unpacked as the transport does, and the peer
// answers aeRoots, aeLeaves, aeKeys, readMany and writeMany the way GyreNode.handle does.
// No node, no sockets, no wall clock: time is the simulator's Scheduler, moved by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { AntiEntropy, type ExchangeHost, aePartitionsPerRoundMax } from '../../node-core/src/replication/exchange.js';
import type { LoopLog } from '../../node-core/src/replication/host.js';
import { type ClusterState, type MemberRecord, ringOf } from '../../node-core/src/core/gossip.js';
import { computePreferenceList, stripedRing } from '../../node-core/src/core/ring.js';
import { partitionOf } from '../../node-core/src/core/partitioner.js';
import { type Version, sameSiblings, syncSiblings } from '../../node-core/src/core/siblings.js';
import { type VClock, addEvent, emptyClock } from '../../node-core/src/core/vclock.js';
import type { Env } from '../../node-core/src/core/env.js';
import { type ChangeListener, type Space, dataSpace } from '../../node-core/src/core/store.js';
import { MemoryStore } from '../../node-core/src/store/memory-store.js';
import { type Request, ackReply, encodeRequest, parseRequest } from '../../node-core/src/net/messages.js';
import { Scheduler } from '../harness/sim/env.js';
import { replicaMerge } from '../../node-core/src/core/replica-merge.js';

// Wire and cluster

/** The transport's msgpack settings (net/tcp-transport.ts, the simulator's network). */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function overTheWire(value: unknown): unknown {
  return packr.unpack(packr.pack(value));
}

/** A cluster of members `ids` (minus `left`), the ring striped over those still in it. */
function clusterOf(ids: readonly string[], partitions: number, n: number, left: readonly string[] = []): ClusterState {
  const members = new Map<string, MemberRecord>(ids.map((id) => [id, { id, http: `${id}:8080`, internode: `${id}:9090`, state: left.includes(id) ? 'left' : 'member', version: 1, heartbeat: 0 }]));
  const ring = stripedRing(ids.filter((id) => !left.includes(id)), partitions).owners.map((owner) => ({ owner, epoch: 1, pendingTo: undefined }));
  return { partitions, n, members, ring };
}

const silent: LoopLog = { debug: () => {}, info: () => {}, warn: () => {} };

interface Sent {
  readonly from: string;
  readonly to: string;
  readonly req: Request;
}

/** A MemoryStore whose rows can turn unreadable: moved aside without a change event, as SqliteStore does. */
class QuarantiningStore extends MemoryStore {
  private readonly changeListeners: ChangeListener[] = [];
  private readonly quarantineListeners: ((key: Uint8Array, partition: number, space: Space) => void)[] = [];
  private muted = false;

  constructor(nodeId: string, now: () => number) {
    super(nodeId, now);
    super.onChange((key, partition, before, after) => {
      if (!this.muted) for (const l of this.changeListeners) l(key, partition, before, after);
    });
  }

  override onChange(listener: ChangeListener): void {
    this.changeListeners.push(listener);
  }

  onQuarantine(listener: (key: Uint8Array, partition: number, space: Space) => void): void {
    this.quarantineListeners.push(listener);
  }

  /** The row of `key` could not be read back: it is gone, and only the quarantine listeners hear of it. */
  async quarantine(key: Uint8Array, partition: number): Promise<void> {
    this.muted = true;
    try {
      await this.update(key, partition, () => ({ versions: [], result: undefined }));
    } finally {
      this.muted = false;
    }
    for (const l of this.quarantineListeners) l(key, partition, dataSpace);
  }
}

/** Random draws that cycle through [0, 1): every peer index comes up within a few rounds. */
function cyclingRandom(): () => number {
  const draws = [0, 0.26, 0.51, 0.76, 0.99];
  let i = 0;
  return () => draws[i++ % draws.length]!;
}

class Replica {
  readonly ae: AntiEntropy;
  readonly outcomes: string[] = [];
  readonly repairs: { peer: string; partition: number; keys: number }[] = [];

  constructor(
    readonly id: string,
    readonly store: MemoryStore,
    private readonly net: Net,
  ) {
    const env: Env = { now: () => net.scheduler.now, random: net.random, setTimer: (ms, fn) => net.scheduler.schedule(ms, { node: id, incarnation: undefined }, 'timer', fn) };
    const host: ExchangeHost = {
      selfId: id,
      n: net.state.n,
      env,
      log: silent,
      clusterState: () => net.state,
      isUp: (peer) => !net.down.has(peer),
      preferenceList: (p) => computePreferenceList(ringOf(net.state), p, net.state.n),
      call: (peer, req) => net.call(id, peer, req),
      store,
      mergeLocal: (key, partition, versions, reaped) => this.merge(key, partition, versions, reaped),
      exchanged: (outcome) => this.outcomes.push(outcome),
      repaired: (peer, partition, keys) => this.repairs.push({ peer, partition, keys }),
    };
    this.ae = new AntiEntropy(host);
  }

  /**
   * GyreNode.merge for the data space: drop what a remembered reaped clock covers, merge the
   * sibling sets, commit only on a change, remember a reaped clock learned with the data.
   */
  merge(key: Uint8Array, partition: number, incoming: readonly Version[], incomingReaped: VClock | undefined): Promise<boolean> {
    return this.store.update(key, partition, replicaMerge(incoming, incomingReaped, { data: true }));
  }

  /** What GyreNode.handle answers to the requests anti-entropy sends (the loop's own answers, as there). */
  async serve(body: unknown): Promise<unknown> {
    const parsed = parseRequest(body);
    if (!parsed.ok) throw new Error(`malformed request: ${parsed.reason}`);
    const req = parsed.value;
    switch (req.t) {
      case 'aeRoots':
        return this.ae.rootsReply(req.partitions);
      case 'aeLeaves':
        return this.ae.leavesReply(req.partition);
      case 'aeKeys':
        return this.ae.keysReply(req.partition, req.leaves);
      case 'readMany':
        return this.ae.readManyReply(req.partition, req.keys);
      case 'writeMany':
        await Promise.all(req.items.map((i) => this.merge(i.key, i.partition, i.versions, i.reaped)));
        return ackReply;
      default:
        throw new Error(`the fake peer does not serve ${req.t}`);
    }
  }

  async holds(key: Uint8Array): Promise<string[]> {
    return dotsOf(await this.store.read(key));
  }
}

class Net {
  readonly scheduler = new Scheduler();
  readonly replicas = new Map<string, Replica>();
  readonly down = new Set<string>();
  readonly sent: Sent[] = [];
  readonly random = cyclingRandom();

  constructor(
    readonly state: ClusterState,
    store: (id: string, now: () => number) => MemoryStore = (id, now) => new MemoryStore(id, now),
  ) {
    for (const id of state.members.keys()) this.replicas.set(id, new Replica(id, store(id, () => this.scheduler.now), this));
  }

  node(id: string): Replica {
    const r = this.replicas.get(id);
    assert.ok(r, `no replica ${id}`);
    return r;
  }

  /** A request and its reply cross the wire; a node that is down never answers (the caller's timeout). */
  async call(from: string, to: string, req: Request): Promise<unknown> {
    this.sent.push({ from, to, req });
    if (this.down.has(to)) throw new Error(`no reply from ${to} (down)`);
    return overTheWire(await this.node(to).serve(overTheWire(encodeRequest(req))));
  }

  sentBy(from: string): Sent[] {
    return this.sent.filter((s) => s.from === from);
  }
}

// Data

const q = 8;

function bytes(s: string): Buffer {
  return Buffer.from(s);
}

/** The first `count` keys "<prefix>-i" that fall in partition p. */
function keysIn(p: number, count: number, prefix = 'key'): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; out.length < count; i++) {
    const k = bytes(`${prefix}-${i}`);
    if (partitionOf(k, q) === p) out.push(k);
  }
  return out;
}

/** A version by `actor` with event `counter`, having seen `seen`. */
function version(actor: string, counter: number, seen: VClock = emptyClock, deleted = false): Version {
  const dot = { actor, counter, ts: 1000 + counter };
  return { dot, clock: addEvent(seen, dot), deleted, contentType: deleted ? '' : 'text/plain', value: deleted ? new Uint8Array(0) : bytes(`${actor}:${counter}`) };
}

const v1 = version('n1.a', 1);
const v2 = version('n1.a', 2, v1.clock);
// A delete coordinated elsewhere after v1: concurrent with v2.
const tomb = version('n3.a', 1, v1.clock, true);
const other = version('n2.a', 1);

function dotsOf(vs: readonly Version[]): string[] {
  return vs.map((v) => `${v.dot.actor}:${v.dot.counter}${v.deleted ? '(deleted)' : ''}`).sort();
}

async function put(r: Replica, key: Buffer, versions: readonly Version[]): Promise<void> {
  await r.store.update(key, partitionOf(key, q), () => ({ versions, result: undefined }));
}

const allPartitions = Array.from({ length: q }, (_, p) => p);

// Tests

const stateArb = fc.constantFrom<readonly Version[]>([], [v1], [v2], [tomb], [other], [v1, other]);
const pairsArb = fc.array(fc.tuple(stateArb, stateArb), { minLength: 12, maxLength: 12 });

test('Dynamo 4.7: replicas whose stores differ converge after exchanges, whichever side held what (both directions)', async () => {
  const keys = Array.from({ length: 12 }, (_, i) => bytes(`conv-${i}`));
  await fc.assert(
    fc.asyncProperty(pairsArb, async (pairs) => {
      const net = new Net(clusterOf(['n1', 'n2', 'n3'], q, 3));
      const [a, b] = [net.node('n1'), net.node('n2')];
      for (const [i, [mine, theirs]] of pairs.entries()) {
        if (mine.length) await put(a, keys[i]!, mine);
        if (theirs.length) await put(b, keys[i]!, theirs);
      }
      const differing = new Set(keys.filter((_, i) => !sameSiblings(pairs[i]![0], pairs[i]![1])).map((k) => partitionOf(k, q)));
      let repairing = 0;
      for (;;) {
        const repaired = await a.ae.exchangeWith('n2');
        if (repaired === 0) break;
        repairing++;
        assert.ok(repairing <= q, 'exchanges keep repairing');
      }
      // Each exchange repairs up to aePartitionsPerRoundMax differing partitions in full.
      assert.equal(repairing, Math.ceil(differing.size / aePartitionsPerRoundMax));
      for (const [i, [mine, theirs]] of pairs.entries()) {
        const want = dotsOf(syncSiblings(mine, theirs));
        assert.deepEqual(await a.holds(keys[i]!), want, `initiator, key ${i}`);
        assert.deepEqual(await b.holds(keys[i]!), want, `peer, key ${i}`);
      }
      assert.deepEqual(a.ae.rootsHex(allPartitions), b.ae.rootsHex(allPartitions));
    }),
    { numRuns: 60 },
  );
});

test('Dynamo 4.7: replicas that hold the same data exchange roots and nothing else', async () => {
  const cases: { name: string; setup: (a: Replica, b: Replica) => Promise<void> }[] = [
    { name: 'both empty', setup: async () => {} },
    {
      name: 'the same versions written on each',
      setup: async (a, b) => {
        for (const [i, k] of [...keysIn(0, 3), ...keysIn(5, 2)].entries()) {
          const vs = i % 2 ? [v1, other] : [tomb];
          await put(a, k, vs);
          await put(b, k, vs);
        }
      },
    },
    {
      name: 'after an exchange that repaired them',
      setup: async (a, b) => {
        for (const k of keysIn(1, 3)) await put(a, k, [v2]);
        for (const k of keysIn(6, 2)) await put(b, k, [other]);
        assert.equal(await a.ae.exchangeWith('n2'), 5);
        a.outcomes.length = 0;
        a.repairs.length = 0;
      },
    },
  ];
  for (const c of cases) {
    const net = new Net(clusterOf(['n1', 'n2', 'n3'], q, 3));
    const [a, b] = [net.node('n1'), net.node('n2')];
    await c.setup(a, b);
    net.sent.length = 0;
    assert.equal(await a.ae.exchangeWith('n2'), 0, c.name);
    assert.deepEqual(
      net.sent.map((s) => [s.from, s.to, s.req.t]),
      [['n1', 'n2', 'aeRoots']],
      c.name,
    );
    assert.deepEqual(a.outcomes, ['in_sync'], c.name);
    assert.deepEqual(a.repairs, [], c.name);
    assert.equal(a.ae.status().partitionsInSync, q, c.name);
    assert.equal(a.ae.status().partitionsDiffering, 0, c.name);
  }
});

test('Dynamo 4.7: only partitions both nodes replicate are compared and repaired', async () => {
  // Ring of 8 striped over n1..n4: partition p is owned by n(p mod 4 + 1); its preference list
  // is the owners of p, p+1, p+2 (n = 3), or of p alone (n = 1).
  const cases = [
    { n: 3, peer: 'n2', shared: [0, 3, 4, 7] },
    { n: 3, peer: 'n3', shared: [0, 2, 4, 6] },
    { n: 3, peer: 'n4', shared: [2, 3, 6, 7] },
    { n: 1, peer: 'n2', shared: [] },
  ];
  for (const c of cases) {
    const name = `n=${c.n}, n1 with ${c.peer}`;
    const net = new Net(clusterOf(['n1', 'n2', 'n3', 'n4'], q, c.n));
    const ring = ringOf(net.state);
    // Every node holds a key of its own in every partition it replicates.
    const own = new Map<string, { key: Buffer; p: number }[]>();
    for (const id of ['n1', c.peer]) {
      const held = allPartitions.filter((p) => computePreferenceList(ring, p, c.n).includes(id)).map((p) => ({ key: keysIn(p, 1, `${id}-own`)[0]!, p }));
      for (const { key } of held) await put(net.node(id), key, [version(`${id}.a`, 1)]);
      own.set(id, held);
    }
    await net.node('n1').ae.exchangeWith(c.peer);
    const roots = net.sent.filter((s) => s.req.t === 'aeRoots');
    if (c.shared.length === 0) assert.deepEqual(net.sent, [], `${name}: nothing shared, nothing sent`);
    else assert.deepEqual(roots.map((s) => (s.req.t === 'aeRoots' ? [...s.req.partitions] : [])), [c.shared], name);
    for (const s of net.sent) if ('partition' in s.req) assert.ok(c.shared.includes(s.req.partition), `${name}: ${s.req.t} for partition ${s.req.partition}`);
    for (const [holder, to] of [['n1', c.peer], [c.peer, 'n1']] as const) {
      for (const { key, p } of own.get(holder)!) {
        const got = (await net.node(to).holds(key)).length > 0;
        assert.equal(got, c.shared.includes(p), `${name}: ${holder}'s key of partition ${p} at ${to}`);
      }
    }
  }
});

test('Dynamo 4.7: the keys an exchange repairs are reported through repaired(), one report per partition with its count', async () => {
  const cases: { name: string; mine: [number, number][]; theirs: [number, number][]; differ: [number, number][]; reported: [number, number][] }[] = [
    // [partition, keys]: keys only the initiator holds, keys only the peer holds, keys both hold in different versions.
    { name: 'keys only the initiator holds', mine: [[0, 3]], theirs: [], differ: [], reported: [[0, 3]] },
    { name: 'keys only the peer holds', mine: [], theirs: [[0, 2]], differ: [], reported: [[0, 2]] },
    { name: 'one key in different versions', mine: [], theirs: [], differ: [[4, 1]], reported: [[4, 1]] },
    { name: 'all three, over two partitions', mine: [[0, 2], [5, 1]], theirs: [[0, 1]], differ: [[5, 2]], reported: [[0, 3], [5, 3]] },
    { name: 'nothing differs', mine: [], theirs: [], differ: [], reported: [] },
  ];
  for (const c of cases) {
    const net = new Net(clusterOf(['n1', 'n2', 'n3'], q, 3));
    const [a, b] = [net.node('n1'), net.node('n2')];
    // Keys both hold alike are not repaired and not counted.
    for (const k of keysIn(0, 2, 'alike')) {
      await put(a, k, [v1]);
      await put(b, k, [v1]);
    }
    for (const [p, count] of c.mine) for (const k of keysIn(p, count, 'mine')) await put(a, k, [v1]);
    for (const [p, count] of c.theirs) for (const k of keysIn(p, count, 'theirs')) await put(b, k, [other]);
    for (const [p, count] of c.differ) {
      for (const k of keysIn(p, count, 'differ')) {
        await put(a, k, [v1]);
        await put(b, k, [v2]);
      }
    }
    const total = c.reported.reduce((s, [, n]) => s + n, 0);
    assert.equal(await a.ae.exchangeWith('n2'), total, c.name);
    assert.deepEqual(
      [...a.repairs].sort((x, y) => x.partition - y.partition),
      c.reported.map(([partition, keys]) => ({ peer: 'n2', partition, keys })),
      c.name,
    );
    assert.equal(a.ae.status().keysRepaired, total, c.name);
    assert.deepEqual(b.repairs, [], `${c.name}: the peer that served the exchange reports nothing`);
  }
});

test('Dynamo 4.7: a row quarantined in the store makes its partition tree rebuild, so the next exchange restores the key', async () => {
  for (const where of ['initiator', 'peer'] as const) {
    const net = new Net(clusterOf(['n1', 'n2', 'n3'], q, 3), (id, now) => new QuarantiningStore(id, now));
    const [a, b] = [net.node('n1'), net.node('n2')];
    const [lost, kept] = keysIn(3, 2);
    for (const r of [a, b]) {
      await put(r, lost!, [v2]);
      await put(r, kept!, [other]);
    }
    assert.equal(await a.ae.exchangeWith('n2'), 0, `${where}: in sync before`);
    const broken = where === 'initiator' ? a : b;
    assert.ok(broken.store instanceof QuarantiningStore);
    await broken.store.quarantine(lost!, 3);
    // The rebuild waits for the commit that found the row to end: run what is due now.
    await net.scheduler.runUntil(net.scheduler.now);
    assert.equal(await a.ae.exchangeWith('n2'), 1, `${where}: the quarantined key is repaired`);
    assert.deepEqual(await broken.holds(lost!), dotsOf([v2]), where);
    assert.deepEqual(a.repairs, [{ peer: 'n2', partition: 3, keys: 1 }], where);
    assert.deepEqual(a.ae.rootsHex([3]), b.ae.rootsHex([3]), where);
  }
});

test('Dynamo 4.7: an exchange round never contacts a peer the failure detector sees down, nor one that left', async () => {
  const rounds = 20;
  const cases = [
    { name: 'one peer down', down: ['n3'], left: [], contacted: ['n2', 'n4'] },
    { name: 'two peers down', down: ['n3', 'n4'], left: [], contacted: ['n2'] },
    { name: 'a peer left the cluster', down: [], left: ['n3'], contacted: ['n2', 'n4'] },
    { name: 'every peer down', down: ['n2', 'n3', 'n4'], left: [], contacted: [] },
  ];
  for (const c of cases) {
    const net = new Net(clusterOf(['n1', 'n2', 'n3', 'n4'], q, 3, c.left));
    for (const id of c.down) net.down.add(id);
    const a = net.node('n1');
    for (const p of allPartitions) for (const k of keysIn(p, 1, 'n1')) await put(a, k, [v1]);
    for (let i = 0; i < rounds; i++) await a.ae.round();
    const contacted = [...new Set(net.sent.map((s) => s.to))].sort();
    assert.deepEqual(contacted, c.contacted, c.name);
    // Each round picks among the live members only: none is wasted on a peer it cannot exchange with.
    assert.equal(a.outcomes.length, c.contacted.length === 0 ? 0 : rounds, `${c.name}: exchanges in ${rounds} rounds`);
    assert.ok(!a.outcomes.includes('error'), `${c.name}: an exchange failed`);
  }
});
