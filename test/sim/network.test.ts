// The simulator's own parts (STYLE 13): virtual time runs events in (time, sequence) order with
// every promise continuation drained in between; the simulated network behaves like TCP where
// the node can tell (timeout vs unreachable vs remote), delivers what msgpack delivers, and
// drops, duplicates, reorders and cuts as told.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, nodeEnv } from '../harness/sim/env.js';
import { type Endpoint, SimNetwork, SimTransport, calmLinks } from '../harness/sim/network.js';
import { Rng } from '../harness/sim/random.js';
import { TransportError } from '../../node-core/src/net/transport.js';

class Node implements Endpoint {
  transport: SimTransport | undefined;
  incarnation = 0;
  readonly address: string;
  served: unknown[] = [];

  constructor(
    readonly id: string,
    private readonly net: SimNetwork,
    private readonly scheduler: Scheduler,
  ) {
    this.address = `${id}:1`;
    net.register(this);
  }

  current(): SimTransport | undefined {
    return this.transport;
  }

  start(handler: (body: unknown) => Promise<unknown> = async (b) => ['echo', b]): SimTransport {
    this.incarnation++;
    const env = nodeEnv(this.scheduler, { node: this.id, incarnation: this.incarnation }, new Rng(`${this.id}${this.incarnation}`));
    const t = new SimTransport(this.net, this.id, this.address, this.incarnation, env);
    t.setHandler(async (body) => {
      this.served.push(body);
      return handler(body);
    });
    this.transport = t;
    return t;
  }

  crash(): void {
    this.transport?.kill();
    this.transport = undefined;
    this.net.nodeCrashed(this.id);
  }
}

function setup(seed = 1): { scheduler: Scheduler; net: SimNetwork; a: Node; b: Node } {
  const scheduler = new Scheduler();
  const net = new SimNetwork(scheduler, new Rng(seed));
  const a = new Node('a', net, scheduler);
  const b = new Node('b', net, scheduler);
  a.start();
  b.start();
  return { scheduler, net, a, b };
}

async function outcome(p: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    assert.ok(e instanceof TransportError, `rejects with a TransportError, got ${String(e)}`);
    return { ok: false, code: e.code };
  }
}

test('virtual time: events run in (time, sequence) order and each one\'s promise continuations run before the next event', async () => {
  const s = new Scheduler();
  const seen: string[] = [];
  s.schedule(10, undefined, 'late', () => seen.push(`late@${s.now}`));
  s.schedule(5, undefined, 'first', () => {
    seen.push(`first@${s.now}`);
    void Promise.resolve()
      .then(() => Promise.resolve())
      .then(() => seen.push(`first's continuation@${s.now}`));
  });
  s.schedule(5, undefined, 'second', () => seen.push(`second@${s.now}`));
  const t = s.schedule(7, undefined, 'cancelled', () => seen.push('cancelled'));
  t.cancel();
  await s.runUntil(100);
  assert.deepEqual(seen, ['first@5', "first's continuation@5", 'second@5', 'late@10']);
  assert.equal(s.now, 100);
});

test('virtual time: a paused owner\'s events wait and run in order when released; a dead incarnation\'s are dropped', async () => {
  const s = new Scheduler();
  let paused = true;
  let incarnation = 1;
  s.gate = (o) => (o.incarnation !== undefined && o.incarnation !== incarnation ? 'drop' : paused ? 'hold' : 'run');
  const seen: string[] = [];
  s.schedule(1, { node: 'x', incarnation: 1 }, 'a', () => seen.push(`a@${s.now}`));
  s.schedule(2, { node: 'x', incarnation: undefined }, 'b', () => seen.push(`b@${s.now}`));
  s.schedule(3, { node: 'x', incarnation: 1 }, 'c', () => seen.push(`c@${s.now}`));
  await s.runUntil(10);
  assert.deepEqual(seen, []);
  paused = false;
  incarnation = 2; // x crashed and restarted while paused: its old timers are gone, messages to it stay
  s.release('x');
  await s.runUntil(20);
  assert.deepEqual(seen, ['b@10']);
});

test('network: a request gets its reply, decoded as msgpack decodes it (a Buffer arrives as bytes)', async () => {
  const { scheduler, a, b } = setup();
  const p = outcome(a.transport!.request(b.address, ['write', Buffer.from('k1'), 3], 1000));
  await scheduler.runUntil(100);
  const r = await p;
  assert.ok(r.ok);
  const served = b.served[0] as unknown[];
  assert.ok(served[1] instanceof Uint8Array);
  assert.equal(Buffer.from(served[1]).toString(), 'k1');
  assert.deepEqual(r.value, ['echo', ['write', Buffer.from('k1'), 3]]);
});

test('network: a lost request times out with code "timeout", in virtual time', async () => {
  const { scheduler, net, a, b } = setup();
  net.faults = { ...calmLinks, lossRate: 1 };
  const p = outcome(a.transport!.request(b.address, ['x'], 750));
  await scheduler.runUntil(749);
  let settled = false;
  void p.then(() => (settled = true));
  await scheduler.runUntil(749);
  assert.equal(settled, false);
  await scheduler.runUntil(800);
  assert.deepEqual(await p, { ok: false, code: 'timeout' });
  assert.equal(b.served.length, 0);
});

test('network: a one-way cut drops requests one way only; a reply cut on its way back times out after the handler ran', async () => {
  const { scheduler, net, a, b } = setup();
  net.cut('a', 'b');
  const ab = outcome(a.transport!.request(b.address, ['ab'], 500));
  const ba = outcome(b.transport!.request(a.address, ['ba'], 500));
  await scheduler.runUntil(1000);
  assert.deepEqual(await ab, { ok: false, code: 'timeout' });
  assert.deepEqual(await ba, { ok: false, code: 'timeout' }, 'the reply from a to b is cut');
  assert.deepEqual(a.served, [['ba']]);
  assert.deepEqual(b.served, []);
  net.heal();
  const again = outcome(a.transport!.request(b.address, ['again'], 500));
  await scheduler.runUntil(2000);
  assert.ok((await again).ok);
});

test('network: a request to a crashed node, or pending when it crashes, fails with "unreachable"', async () => {
  const { scheduler, a, b } = setup();
  b.start(() => new Promise(() => {})); // never answers
  const pending = outcome(a.transport!.request(b.address, ['slow'], 5000));
  await scheduler.runUntil(50);
  b.crash();
  const refused = outcome(a.transport!.request(b.address, ['x'], 5000));
  await scheduler.runUntil(200);
  assert.deepEqual(await pending, { ok: false, code: 'unreachable' });
  assert.deepEqual(await refused, { ok: false, code: 'unreachable' });
});

test('network: an error thrown by the remote handler fails the request with code "remote"', async () => {
  const { scheduler, a, b } = setup();
  b.start(async () => {
    throw Object.assign(new Error('malformed'), { code: 'bad_request' });
  });
  const p = outcome(a.transport!.request(b.address, ['x'], 1000));
  await scheduler.runUntil(100);
  assert.deepEqual(await p, { ok: false, code: 'remote' });
});

test('network: duplication runs the handler twice but settles the request once; reordering lets later messages overtake', async () => {
  const { scheduler, net, a, b } = setup(7);
  net.faults = { ...calmLinks, dupRate: 1 };
  let settled = 0;
  void a.transport!.request(b.address, ['dup'], 1000).then(() => settled++);
  await scheduler.runUntil(100);
  assert.equal(b.served.length, 2);
  assert.equal(settled, 1);
  net.faults = { ...calmLinks, spikeRate: 0.5, spikeMaxMs: 500 };
  b.served = [];
  for (let i = 0; i < 40; i++) void a.transport!.request(b.address, [i], 5000);
  await scheduler.runUntil(2000);
  const order = b.served.map((x) => (x as number[])[0]!);
  assert.equal(order.length, 40);
  assert.notDeepEqual(order, [...order].sort((x, y) => x - y), 'some messages arrive out of order');
});

test('network: the same seed makes the same choices', async () => {
  const run = async (seed: number) => {
    const { scheduler, net, a, b } = setup(seed);
    net.faults = { ...calmLinks, lossRate: 0.3, dupRate: 0.3, spikeRate: 0.3, spikeMaxMs: 200 };
    const results: string[] = [];
    for (let i = 0; i < 30; i++) void outcome(a.transport!.request(b.address, [i], 300)).then((r) => results.push(`${i}:${r.ok ? 'ok' : r.code}@${scheduler.now}`));
    await scheduler.runUntil(2000);
    return { results, hash: scheduler.traceHash, served: b.served.length };
  };
  assert.deepEqual(await run(3), await run(3));
  assert.notDeepEqual((await run(3)).results, (await run(4)).results);
});
