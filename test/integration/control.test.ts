// The Socket.IO control plane (issue 5) on real node processes, with the real socket.io-client:
// token-checked handshake, the 1 Hz ClusterSnapshot and event streams (membership, the
// who-sees-whom matrix, hints and their drain, conflicts, per-op rates), traced requests over
// Socket.IO and POST /admin/trace, and fault injection from a control client. One 3-node
// cluster serves the file; the SIGKILL test restarts the node it kills. Every wait is bounded.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ClusterSnapshot, ControlEvent, FaultView, NodeSnapshot, ServerToClientEvents, TraceRequest, TraceResult, TraceStepView } from '../../node-core/src/wire/control.js';
import { TestCluster, jsonBody, parseError, parseSiblings, siblingValues, sleep, uniqueKey } from '../helpers/cluster.js';

type ControlSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type Reply<T> = { ok: true; value: T } | { ok: false; error: string; message: string };

const connectTimeoutMs = 5_000;
const ackTimeoutMs = 15_000;
const pollMs = 50;

const cluster = new TestCluster();
const opened: ControlSocket[] = [];

before(() => cluster.start());
after(async () => {
  for (const s of opened) s.close();
  await cluster.stop();
});

/** What a node announces in GET /status for the control plane. */
async function controlAddress(c: TestCluster, id: string): Promise<{ url: string; path: string }> {
  const s = jsonBody(await c.request(id, 'GET', '/status', { timeoutMs: 2000 })) as { listeners?: { control?: unknown; controlPath?: unknown } };
  const url = s.listeners?.control;
  const path = s.listeners?.controlPath;
  if (typeof url !== 'string' || typeof path !== 'string') throw new Error(`${id} announces no control listener: ${JSON.stringify(s.listeners)}`);
  return { url, path };
}

/** One control client and everything the server pushed to it. */
class Client {
  readonly socket: ControlSocket;
  readonly snapshots: { readonly receivedAt: number; readonly s: ClusterSnapshot }[] = [];
  readonly events: ControlEvent[] = [];
  eventBatches = 0;
  connectError: Error | undefined;

  constructor(url: string, path: string, auth: Record<string, unknown> | undefined) {
    this.socket = io(url, { path, transports: ['websocket'], reconnection: false, ...(auth ? { auth } : {}) });
    opened.push(this.socket);
    this.socket.on('cluster', (s) => this.snapshots.push({ receivedAt: Date.now(), s }));
    this.socket.on('events', (batch) => {
      this.eventBatches++;
      this.events.push(...batch);
    });
    this.socket.on('connect_error', (e) => (this.connectError = e));
  }

  /** Resolves once connected; throws on connect_error or after connectTimeoutMs. */
  async connected(): Promise<void> {
    const deadline = Date.now() + connectTimeoutMs;
    for (let i = 0; i < connectTimeoutMs / pollMs + 1 && Date.now() <= deadline; i++) {
      if (this.socket.connected) return;
      if (this.connectError) throw new Error(`connect_error: ${this.connectError.message}`);
      await sleep(pollMs);
    }
    throw new Error(`not connected within ${connectTimeoutMs} ms`);
  }

  /** Resolves with the connect_error; throws if the socket connects or nothing happens in time. */
  async refused(): Promise<Error> {
    const deadline = Date.now() + connectTimeoutMs;
    for (let i = 0; i < connectTimeoutMs / pollMs + 1 && Date.now() <= deadline; i++) {
      if (this.socket.connected) throw new Error('the handshake was accepted');
      if (this.connectError) return this.connectError;
      await sleep(pollMs);
    }
    throw new Error(`neither connect nor connect_error within ${connectTimeoutMs} ms`);
  }

  /** Sends one command and waits (bounded) for its ack. */
  private acked<T>(what: string, send: (ack: Ack<T>) => void): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: no ack within ${ackTimeoutMs} ms`)), ackTimeoutMs);
      send((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  async subscribe(): Promise<string> {
    return (await value(this.acked<{ node: string }>('subscribe', (ack) => this.socket.emit('subscribe', ack)))).node;
  }

  unsubscribe(): Promise<Reply<null>> {
    return this.acked('unsubscribe', (ack) => this.socket.emit('unsubscribe', ack));
  }

  snapshot(): Promise<Reply<ClusterSnapshot>> {
    return this.acked('snapshot', (ack) => this.socket.emit('snapshot', ack));
  }

  faultsList(): Promise<Reply<readonly FaultView[]>> {
    return this.acked('faults:list', (ack) => this.socket.emit('faults:list', ack));
  }

  inject(spec: Record<string, unknown>): Promise<Reply<{ fault: FaultView; reached: string[]; missed: string[] }>> {
    return this.acked('faults:inject', (ack) => this.socket.emit('faults:inject', spec, ack));
  }

  heal(id: string | null): Promise<Reply<{ healed: FaultView[] }>> {
    return this.acked('faults:heal', (ack) => this.socket.emit('faults:heal', id, ack));
  }

  trace(req: TraceRequest): Promise<Reply<TraceResult>> {
    return this.acked('trace', (ack) => this.socket.emit('trace', req, ack));
  }

  latest(): ClusterSnapshot | undefined {
    return this.snapshots.at(-1)?.s;
  }

  /** The first snapshot at index >= `from` for which `check` holds, waiting up to `timeoutMs`. */
  async snapshotWhere(what: string, timeoutMs: number, check: (s: ClusterSnapshot) => boolean, from = this.snapshots.length): Promise<ClusterSnapshot> {
    const deadline = Date.now() + timeoutMs;
    let i = from;
    for (let round = 0; round < timeoutMs / pollMs + 2; round++) {
      for (; i < this.snapshots.length; i++) if (check(this.snapshots[i]!.s)) return this.snapshots[i]!.s;
      if (Date.now() > deadline) break;
      await sleep(pollMs);
    }
    const last = this.latest();
    throw new Error(`${what}: no such snapshot within ${timeoutMs} ms (${this.snapshots.length - from} received); last: ${last ? describe(last) : 'none'}`);
  }

  /** The first event at index >= `from` for which `check` holds, waiting up to `timeoutMs`. */
  async eventWhere(what: string, timeoutMs: number, check: (e: ControlEvent) => boolean, from = 0): Promise<ControlEvent> {
    const deadline = Date.now() + timeoutMs;
    let i = from;
    for (let round = 0; round < timeoutMs / pollMs + 2; round++) {
      for (; i < this.events.length; i++) if (check(this.events[i]!)) return this.events[i]!;
      if (Date.now() > deadline) break;
      await sleep(pollMs);
    }
    throw new Error(`${what}: no such event within ${timeoutMs} ms; events seen: ${JSON.stringify(this.events.slice(from).map((e) => `${e.node}#${e.seq}:${e.type}`))}`);
  }
}

async function value<T>(p: Promise<Reply<T>>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`refused: ${r.error}: ${r.message}`);
  return r.value;
}

/** A connected client of node `id`, with the cluster token. */
async function client(id: string, c: TestCluster = cluster): Promise<Client> {
  const { url, path } = await controlAddress(c, id);
  const cl = new Client(url, path, { token: c.token });
  await cl.connected();
  return cl;
}

/** A subscribed client of node `id`, once its first snapshot arrived (rates need a previous tick). */
async function subscribed(id: string): Promise<Client> {
  const cl = await client(id);
  assert.equal(await cl.subscribe(), id);
  await cl.snapshotWhere('first streamed snapshot', 5000, () => true, 0);
  return cl;
}

function isNode(x: ClusterSnapshot['nodes'][number]): x is NodeSnapshot {
  return !('unreachable' in x);
}

function describe(s: ClusterSnapshot): string {
  return JSON.stringify({
    via: s.via,
    members: s.members.map((m) => `${m.id}:${m.status}`),
    matrix: s.matrix.observers.map((o, i) => `${o}:[${(s.matrix.status[i] ?? []).join(',')}]`),
    nodes: s.nodes.map((n) => (isNode(n) ? n.id : `${n.id}:unreachable(${n.unreachable})`)),
    hints: s.hints,
    conflicts: s.conflicts,
    ops: s.ops,
    faults: s.faults.map((f) => f.id),
  });
}

/** What observer `o` thinks of target `t` in the matrix. */
function seen(s: ClusterSnapshot, o: string, t: string): string | null | undefined {
  const i = s.matrix.observers.indexOf(o);
  const j = s.matrix.targets.indexOf(t);
  return i < 0 || j < 0 ? undefined : s.matrix.status[i]?.[j];
}

function steps(r: TraceResult, step: string, node?: string): TraceStepView[] {
  return r.steps.filter((s) => s.step === step && (node === undefined || s.node === node));
}

function showSteps(r: TraceResult): string {
  return r.steps.map((s) => `${s.at}ms ${s.step} ${s.node ?? '-'}${s.hintFor ? ` (for ${s.hintFor})` : ''}: ${s.detail}`).join('\n');
}

const ids = ['n1', 'n2', 'n3'];

test('control auth: without the token or with a wrong one the handshake fails (connect_error, never a cluster event); with it, subscribe streams ClusterSnapshots at about 1 Hz', async () => {
  const { url, path } = await controlAddress(cluster, 'n2');
  assert.equal(url, cluster.url('n2'), 'GET /status announces the control plane on the client port');
  assert.equal(path, '/socket.io');

  const none = new Client(url, path, undefined);
  const wrong = new Client(url, path, { token: 'f'.repeat(cluster.token.length) });
  const good = new Client(url, path, { token: cluster.token });
  const [noneErr, wrongErr] = await Promise.all([none.refused(), wrong.refused()]);
  assert.match(noneErr.message, /unauthorized/);
  assert.match(wrongErr.message, /unauthorized/);

  await good.connected();
  assert.equal(await good.subscribe(), 'n2', 'subscribe acks with the node attached to');
  const from = Date.now();
  await sleep(3500);
  const got = good.snapshots.filter((x) => x.receivedAt >= from);
  assert.ok(got.length >= 2 && got.length <= 6, `about 1 Hz: ${got.length} snapshots in 3.5 s`);
  for (let i = 1; i < good.snapshots.length; i++) {
    const gap = good.snapshots[i]!.receivedAt - good.snapshots[i - 1]!.receivedAt;
    assert.ok(gap >= 250, `snapshots are paced, not flooded (gap of ${gap} ms)`);
  }
  assert.equal(none.snapshots.length + none.events.length, 0, 'no token: nothing streamed');
  assert.equal(wrong.snapshots.length + wrong.events.length, 0, 'wrong token: nothing streamed');
  assert.equal(none.socket.connected || wrong.socket.connected, false);

  const s = good.latest()!;
  assert.equal(s.via, 'n2');
  assert.deepEqual(s.config, { n: 3, r: 2, w: 2, partitions: 16 });
  assert.deepEqual(s.members.map((m) => `${m.id}:${m.status}`).sort(), ['n1:up', 'n2:up', 'n3:up'], describe(s));
  assert.deepEqual([...s.matrix.observers].sort(), ids);
  assert.deepEqual([...s.matrix.targets].sort(), ids);
  assert.equal(s.matrix.status.length, 3);
  for (const row of s.matrix.status) assert.deepEqual(row, ['up', 'up', 'up'], describe(s));
  assert.equal(s.nodes.length, 3);
  assert.deepEqual(s.nodes.filter((n) => !isNode(n)), [], 'every node reported its own snapshot');
  assert.deepEqual(s.nodes.map((n) => n.id).sort(), ids);
  assert.equal(s.partitions.length, 16);
  for (const p of s.partitions) {
    assert.equal(p.replicasUp, 3, `partition ${p.partition}`);
    assert.deepEqual([...p.preferenceList].sort(), ids);
    assert.deepEqual(p.fallbacks, []);
  }
  assert.equal(s.hints.total, 0);

  // unsubscribe stops the stream on this socket (give an in-flight tick time to land first).
  await value(good.unsubscribe());
  await sleep(300);
  const n = good.snapshots.length;
  await sleep(2200);
  assert.equal(good.snapshots.length, n, 'no snapshots after unsubscribe');
  // A one-off snapshot still works without a subscription.
  const one = await value(good.snapshot());
  assert.equal(one.via, 'n2');
  assert.equal(one.nodes.length, 3);
  for (const c of [none, wrong, good]) c.socket.close();
});

test('control ops: HTTP gets and puts show in the stream as per-second rates with p50 <= p99 <= p999 (over the last whole second)', async () => {
  const cl = await subscribed('n1');
  const from = cl.snapshots.length;
  let stop = false;
  const statuses: number[] = [];
  const worker = async (via: string, w: number) => {
    for (let i = 0; !stop && i < 100_000; i++) {
      const key = uniqueKey(`ops${w}-${i}`);
      statuses.push((await cluster.put(via, key, `v${i}`)).status);
      statuses.push((await cluster.get(via, key)).status);
    }
  };
  const load = Promise.all([worker('n1', 1), worker('n2', 2)]);
  let s: ClusterSnapshot;
  try {
    s = await cl.snapshotWhere('ops in the stream', 8000, (x) => x.ops.put.perSecond > 0 && x.ops.put.p50 !== null && x.ops.get.perSecond > 0 && x.ops.get.p50 !== null, from);
  } finally {
    stop = true;
    await load;
  }
  assert.ok(statuses.length > 0 && statuses.every((x) => x === 204 || x === 200), `every request succeeded: ${[...new Set(statuses)].join(',')}`);
  for (const op of ['get', 'put'] as const) {
    const o = s.ops[op];
    assert.ok(o.p50! > 0 && o.p50! <= o.p99! && o.p99! <= o.p999!, `${op} percentiles ordered: ${JSON.stringify(o)}`);
    assert.equal(o.errors, 0, `${op} errors`);
    assert.equal(o.unavailable, 0, `${op} unavailable`);
  }
  cl.socket.close();
});

test('control conflicts: two PUTs without context via n1 and n2 show as a key with siblings in the stream; a PUT with the read context resolves it and it leaves the sample', async () => {
  const cl = await subscribed('n1');
  const from = cl.snapshots.length;
  const key = uniqueKey('conflict');
  assert.equal((await cluster.put('n1', key, 'left', { query: 'w=3' })).status, 204);
  assert.equal((await cluster.put('n2', key, 'right', { query: 'w=3' })).status, 204);
  const res = await cluster.get('n1', key, 'r=3', { accept: 'application/json' });
  assert.equal(res.status, 300, 'a sibling pair');
  const doc = parseSiblings(res);
  assert.deepEqual(siblingValues(doc).sort(), ['left', 'right']);

  const withSiblings = await cl.snapshotWhere('the key listed with siblings', 10_000, (s) => s.conflicts.keysWithSiblings >= 1 && s.conflicts.sample.includes(key), from);
  assert.ok(withSiblings.nodes.filter(isNode).some((n) => n.conflicts.sample.includes(key)));

  const resolvedFrom = cl.snapshots.length;
  assert.equal((await cluster.put('n1', key, 'merged', { context: doc.context, query: 'w=3' })).status, 204);
  const read = await cluster.get('n2', key, 'r=3');
  assert.equal(read.status, 200);
  assert.equal(read.body.toString(), 'merged');
  const gone = await cl.snapshotWhere('the key gone from the sample', 10_000, (s) => !s.conflicts.sample.includes(key), resolvedFrom);
  for (const n of gone.nodes.filter(isNode)) assert.ok(!n.conflicts.sample.includes(key), `${n.id} no longer lists the key`);
  // The rates are deltas between ticks: each change showed in some snapshot.
  const seenSince = cl.snapshots.slice(from).map((x) => x.s.conflicts);
  assert.ok(
    seenSince.some((c) => c.createdPerSecond > 0),
    `createdPerSecond > 0 at some point: ${JSON.stringify(seenSince)}`,
  );
  assert.ok(
    seenSince.some((c) => c.resolvedPerSecond > 0),
    `resolvedPerSecond > 0 at some point: ${JSON.stringify(seenSince)}`,
  );
  cl.socket.close();
});

test('control trace: a traced put commits and sends to every replica; a traced get plans, asks and hears all 3 replicas, decides; POST /admin/trace answers the same shape, 400 for a bad request', async () => {
  const cl = await client('n1');
  const key = uniqueKey('trace');
  const put = await value(cl.trace({ op: 'put', key, value: 'traced-value', contentType: 'text/plain', w: 3 }));
  assert.equal(put.status, 204, showSteps(put));
  assert.equal(put.coordinator, 'n1');
  assert.equal(typeof put.context, 'string');
  assert.match(put.version ?? '', /^n1(\.[0-9a-z]+)?:\d+$/, 'a version by an actor of n1 (n1.<stamp>)');
  assert.equal(put.steps[0]?.step, 'plan', showSteps(put));
  assert.ok(steps(put, 'commit').length + steps(put, 'forward').length >= 1, showSteps(put));
  assert.ok(steps(put, 'decided').length === 1, showSteps(put));
  // The trace waits for the acks that come after the answer.
  assert.deepEqual([...new Set(steps(put, 'ack').map((s) => s.node))].sort(), ['n2', 'n3'], showSteps(put));
  for (let i = 1; i < put.steps.length; i++) assert.ok(put.steps[i]!.at >= put.steps[i - 1]!.at, 'steps in time order');

  const get = await value(cl.trace({ op: 'get', key }));
  assert.ok(get.status === 200 || get.status === 300, showSteps(get));
  assert.equal(get.status, 200);
  assert.equal(get.coordinator, 'n1');
  assert.equal(get.siblings?.length, 1);
  assert.equal(Buffer.from(get.siblings![0]!.value, 'base64').toString(), 'traced-value');
  assert.equal(get.siblings![0]!.version, put.version, 'the version the put made');
  assert.equal(get.steps[0]?.step, 'plan', showSteps(get));
  assert.deepEqual([...new Set(steps(get, 'ask').map((s) => s.node))].sort(), ids, showSteps(get));
  assert.deepEqual([...new Set(steps(get, 'reply').map((s) => s.node))].sort(), ids, showSteps(get));
  for (const r of steps(get, 'reply')) {
    assert.equal(r.versions?.[0]?.version, put.version, `${r.node} replied with the version`);
    assert.ok(r.at >= steps(get, 'ask', r.node)[0]!.at, 'a reply comes after its ask');
  }
  assert.equal(steps(get, 'decided').length, 1, showSteps(get));
  assert.deepEqual(steps(get, 'fail'), []);

  const bad = await cl.trace({ op: 'nope' as 'get', key });
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.error, 'bad_request');

  const http = await cluster.request('n2', 'POST', '/admin/trace', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'get', key }) });
  assert.equal(http.status, 200, http.body.toString());
  const viaHttp = jsonBody(http) as TraceResult;
  assert.equal(viaHttp.status, 200);
  assert.equal(viaHttp.coordinator, 'n2');
  assert.equal(typeof viaHttp.durationMs, 'number');
  assert.equal(viaHttp.siblings?.[0]?.version, put.version);
  assert.equal(viaHttp.steps[0]?.step, 'plan');
  assert.deepEqual([...new Set(steps(viaHttp, 'reply').map((s) => s.node))].sort(), ids, showSteps(viaHttp));
  assert.equal(steps(viaHttp, 'decided').length, 1);

  const badHttp = await cluster.request('n1', 'POST', '/admin/trace', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'nope', key }) });
  assert.equal(badHttp.status, 400);
  assert.equal(parseError(badHttp).error, 'bad_request');
  const notJson = await cluster.request('n1', 'POST', '/admin/trace', { headers: { 'content-type': 'application/json' }, body: '{op:' });
  assert.equal(notJson.status, 400);
  assert.equal(parseError(notJson).error, 'bad_request');
  cl.socket.close();
});

test('control faults: faults:inject (latency on n3) acks, streams fault-injected, shows in faults:list and in a traced read; faults:heal(null) heals and streams fault-healed; a bad spec is bad_fault', async (t) => {
  const key = uniqueKey('slow');
  assert.equal((await cluster.put('n1', key, 'slow-value', { query: 'w=3' })).status, 204);
  const cl = await subscribed('n1');

  const bad = await cl.inject({ kind: 'nope' });
  assert.deepEqual(bad.ok ? bad : { ok: bad.ok, error: bad.error }, { ok: false, error: 'bad_fault' });
  const noDelay = await cl.inject({ kind: 'latency', nodes: ['n3'] });
  assert.equal(!noDelay.ok && noDelay.error, 'bad_fault');
  const stranger = await cl.inject({ kind: 'latency', delayMs: 10, nodes: ['n9'] });
  assert.equal(!stranger.ok && stranger.error, 'unknown_node');
  assert.deepEqual(await value(cl.faultsList()), [], 'a refused spec injects nothing');

  const eventsFrom = cl.events.length;
  const injected = await value(cl.inject({ kind: 'latency', delayMs: 300, nodes: ['n3'], durationMs: 8000 }));
  const id = injected.fault.id;
  try {
    assert.equal(injected.fault.kind, 'latency');
    assert.deepEqual(injected.missed, []);
    assert.deepEqual([...injected.reached].sort(), ['n2', 'n3']);
    const ev = await cl.eventWhere('fault-injected', 5000, (e) => e.type === 'fault-injected' && e.fault.id === id, eventsFrom);
    assert.equal(ev.type === 'fault-injected' && ev.fault.kind, 'latency');
    const list: readonly FaultView[] = await value(cl.faultsList());
    assert.deepEqual(
      list.map((f) => f.id),
      [id],
    );
    assert.ok(list[0]!.remainingMs !== null && list[0]!.remainingMs > 0 && list[0]!.remainingMs <= 8000);
    await cl.snapshotWhere('the fault in the stream', 5000, (s) => s.faults.some((f) => f.id === id));

    const traced = await value(cl.trace({ op: 'get', key, r: 3 }));
    assert.equal(traced.status, 200, showSteps(traced));
    const askN3 = steps(traced, 'ask', 'n3')[0];
    const replyN3 = steps(traced, 'reply', 'n3')[0];
    assert.ok(askN3 && replyN3, showSteps(traced));
    assert.ok(replyN3.at - askN3.at >= 290, `n3 answered ${replyN3.at - askN3.at} ms after its ask under 300 ms of latency\n${showSteps(traced)}`);
    assert.ok(traced.durationMs >= 290, `r=3 waits for n3: ${traced.durationMs} ms`);
    t.diagnostic(`under 300 ms latency on n3, its reply came ${replyN3.at - askN3.at} ms after the ask`);

    const healFrom = cl.events.length;
    const healed = await value(cl.heal(null));
    assert.deepEqual(
      healed.healed.map((f) => f.id),
      [id],
    );
    const hev = await cl.eventWhere('fault-healed', 5000, (e) => e.type === 'fault-healed' && e.fault.id === id, healFrom);
    assert.equal(hev.type === 'fault-healed' && hev.reason, 'healed');
    assert.deepEqual(await value(cl.faultsList()), []);
    const badHeal = await cl.heal(42 as unknown as string);
    assert.equal(!badHeal.ok && badHeal.error, 'bad_request');
  } finally {
    await cluster.request('n1', 'DELETE', '/admin/faults');
  }
  cl.socket.close();
});

test('control stream on a node SIGKILL: n3 goes down in members and in every row of the matrix, its snapshot is unreachable, a member-status event streams; W=2 writes show hints for n3 that drain after it restarts', async (t) => {
  const cl = await subscribed('n1');
  const from = cl.snapshots.length;
  const killedAt = Date.now();
  await cluster.kill('n3');
  const down = await cl.snapshotWhere(
    'n3 down in the stream',
    15_000,
    (s) => s.members.some((m) => m.id === 'n3' && m.status === 'down') && seen(s, 'n1', 'n3') === 'down' && seen(s, 'n2', 'n3') === 'down' && s.nodes.some((n) => n.id === 'n3' && !isNode(n)),
    from,
  );
  t.diagnostic(`n3 down in the stream ${Date.now() - killedAt} ms after SIGKILL`);
  assert.deepEqual(down.matrix.status[down.matrix.observers.indexOf('n3')], [null, null, null], 'no report from n3');
  assert.equal(seen(down, 'n1', 'n2'), 'up');
  await cl.eventWhere('member-status for n3', 5000, (e) => e.type === 'member-status' && e.member === 'n3' && (e.to === 'suspect' || e.to === 'down'));
  assert.ok(cl.eventBatches > 0);

  const keys = Array.from({ length: 40 }, (_, i) => uniqueKey(`hint${i}`));
  const statuses = await Promise.all(keys.map((k, i) => cluster.put('n1', k, `v${i}`, { query: 'w=2' })));
  assert.deepEqual(
    statuses.map((r) => r.status).filter((x) => x !== 204),
    [],
  );
  const hinted = await cl.snapshotWhere('hints for n3 in the stream', 10_000, (s) => s.hints.total > 0 && (s.hints.byTarget.n3 ?? 0) > 0);
  assert.equal(
    hinted.hints.total,
    Object.values(hinted.hints.byTarget).reduce((a, b) => a + b, 0),
  );
  for (const p of hinted.partitions) assert.equal(p.replicasUp, 2, `partition ${p.partition} has two replicas up`);
  assert.ok(
    hinted.partitions.some((p) => p.fallbacks.some((f) => /^n[12]>n3$/.test(f))),
    `a stand-in holds hints for n3: ${JSON.stringify(hinted.partitions.map((p) => p.fallbacks))}`,
  );

  const restartedAt = cl.snapshots.length;
  const eventsFrom = cl.events.length;
  const restartedMs = Date.now();
  cluster.restart('n3');
  await cluster.waitForStatus(ids, ids, 'up', 20_000);
  const drained = await cl.snapshotWhere('hints drained', 20_000, (s) => s.hints.total === 0, restartedAt);
  t.diagnostic(`${hinted.hints.byTarget.n3} hints for n3 drained in the stream ${Date.now() - restartedMs} ms after the restart`);
  const delivered = await cl.eventWhere('hints-delivered to n3', 5000, (e) => e.type === 'hints-delivered' && e.target === 'n3' && e.count > 0, eventsFrom);
  assert.equal(delivered.type === 'hints-delivered' && delivered.node !== 'n3', true);
  const upToDrained = cl.snapshots.slice(restartedAt, cl.snapshots.findIndex((x) => x.s === drained) + 1).map((x) => x.s.hints.drainPerSecond);
  assert.ok(
    upToDrained.some((d) => d > 0),
    `drainPerSecond > 0 while the hints drained: ${JSON.stringify(upToDrained)}`,
  );
  await cl.snapshotWhere('n3 back in the stream', 10_000, (s) => s.members.every((m) => m.status === 'up') && s.nodes.every(isNode) && s.matrix.status.every((row) => row.every((x) => x === 'up')));
  cl.socket.close();
});

test('control without a cluster token: a client without auth is accepted and gets snapshots', async (t) => {
  const open = new TestCluster({ nodes: 1, token: false });
  t.after(() => open.stop());
  await open.start();
  const { url, path } = await controlAddress(open, 'n1');
  const cl = new Client(url, path, undefined);
  await cl.connected();
  const s = await value(cl.snapshot());
  assert.equal(s.via, 'n1');
  assert.deepEqual(
    s.nodes.map((n) => n.id),
    ['n1'],
  );
  assert.equal(await cl.subscribe(), 'n1');
  await cl.snapshotWhere('a streamed snapshot', 5000, (x) => x.via === 'n1', 0);
  cl.socket.close();
  // Nothing authenticates a browser here, so browsers (they send an Origin) are refused: no
  // web page the operator has open may crash or partition a tokenless local cluster.
  const browser = io(url, { path, transports: ['websocket'], reconnection: false, extraHeaders: { origin: 'http://evil.example' } });
  const refused = await new Promise<string>((resolve) => {
    browser.once('connect', () => resolve('connected'));
    browser.once('connect_error', (e) => resolve(`refused: ${e.message}`));
  });
  browser.close();
  assert.match(refused, /^refused/, 'a control client with an Origin is refused on a tokenless cluster');
  const fromPage = await open.request('n1', 'POST', '/admin/faults', { headers: { origin: 'http://evil.example', 'content-type': 'text/plain' }, body: JSON.stringify({ kind: 'crash', node: 'n1' }) });
  assert.equal(fromPage.status, 403, 'an admin request from a web page is refused');
  const plain = await open.request('n1', 'POST', '/admin/faults', { headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ kind: 'crash', node: 'n1' }) });
  assert.equal(plain.status, 415, 'an admin body must be JSON (a browser cannot send that cross-site without a preflight)');
  assert.equal((await open.request('n1', 'GET', '/status')).status, 200, 'n1 is still running');
});
