// Fault injection on a real 3-node cluster (issue 5; core/faults.ts, fault-injector.ts, the
// /admin/faults routes): bad specs are refused and inject nothing; a partition, loss, latency,
// pause or crash injected through one node acts on the whole cluster and shows in what the
// nodes observe (membership views, quorum outcomes, hints, request times, the process itself);
// faults expire by themselves or are healed, and the cluster converges afterwards.
//
// One cluster is shared by the file: afterEach heals every fault, restarts a node that is not
// running and waits until every node sees every node up with no hints pending. Every wait is
// bounded in time and iterations.

import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type HttpResponse, TestCluster, header, jsonBody, parseError, sleep, uniqueKey } from '../helpers/cluster.js';

const cluster = new TestCluster({ nodes: 3 });
const ids = ['n1', 'n2', 'n3'] as const;
before(() => cluster.start());
after(() => cluster.stop());

interface FaultJson {
  readonly id: string;
  readonly kind: string;
  readonly description: string;
  readonly remainingMs: number | null;
  readonly oneWay?: boolean;
}

interface FaultListJson {
  readonly version: number;
  readonly faults: FaultJson[];
}

interface InjectJson {
  readonly fault: FaultJson;
  readonly reached: string[];
  readonly missed: string[];
}

interface FaultStatus {
  readonly members: { readonly id: string; readonly status: string }[];
  readonly hintsPending: number;
  readonly faults: FaultJson[];
}

interface ReplicaVersionsJson {
  readonly preferenceList: string[];
  readonly replicas: { readonly node: string; readonly reachable: boolean; readonly versions: { readonly version: string }[] }[];
}

const pollMs = 100;

/** Polls `check` every 100 ms until it returns true or `timeoutMs` passes; returns the ms it took. */
async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, describe?: () => Promise<string>): Promise<number> {
  const started = Date.now();
  let lastError = '';
  for (let i = 0; i < Math.ceil(timeoutMs / pollMs) + 1; i++) {
    try {
      if (await check()) return Date.now() - started;
      lastError = '';
    } catch (e) {
      lastError = (e as Error).message; // a node may be paused or restarting: try again
    }
    if (Date.now() - started > timeoutMs) break;
    await sleep(pollMs);
  }
  const detail = describe ? await describe().catch((e: Error) => e.message) : '';
  throw new Error(`${what}: not within ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}${detail ? `; ${detail}` : ''}`);
}

function postFault(via: string, spec: unknown): Promise<HttpResponse> {
  const body = typeof spec === 'string' ? spec : JSON.stringify(spec);
  return cluster.request(via, 'POST', '/admin/faults', { headers: { 'content-type': 'application/json' }, body, timeoutMs: 10_000 });
}

/** Injects a fault that must be accepted; returns the 201 body. */
async function inject(via: string, spec: Record<string, unknown>): Promise<InjectJson> {
  const res = await postFault(via, spec);
  assert.equal(res.status, 201, `POST /admin/faults ${JSON.stringify(spec)} via ${via}: ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
  const out = jsonBody(res) as InjectJson;
  assert.equal(typeof out.fault?.id, 'string', 'the new fault has an id');
  assert.equal(out.fault.kind, spec.kind, 'the new fault has the kind asked for');
  return out;
}

async function faultList(id: string, timeoutMs = 2000): Promise<FaultListJson> {
  const res = await cluster.request(id, 'GET', '/admin/faults', { timeoutMs });
  assert.equal(res.status, 200, `GET /admin/faults on ${id}: ${res.status}`);
  return jsonBody(res) as FaultListJson;
}

async function fullStatus(id: string, timeoutMs = 2000): Promise<FaultStatus> {
  const res = await cluster.request(id, 'GET', '/status', { timeoutMs });
  assert.equal(res.status, 200, `GET /status on ${id}: ${res.status}`);
  return jsonBody(res) as FaultStatus;
}

async function describeFaults(): Promise<string> {
  const parts = await Promise.all(ids.map(async (id) => `${id}: ${await faultList(id, 1000).then((l) => JSON.stringify(l.faults.map((f) => f.id)), (e: Error) => e.message)}`));
  return `fault lists: ${parts.join('; ')}`;
}

async function describeHints(): Promise<string> {
  const parts = await Promise.all(ids.map(async (id) => `${id}: ${await fullStatus(id, 1000).then((s) => String(s.hintsPending), (e: Error) => e.message)}`));
  return `hintsPending: ${parts.join('; ')}`;
}

/** Whether every node lists the fault `faultId` (in GET /admin/faults and GET /status). */
async function everyNodeLists(faultId: string): Promise<boolean> {
  const lists = await Promise.all(ids.map((id) => faultList(id, 1000)));
  const statuses = await Promise.all(ids.map((id) => fullStatus(id, 1000)));
  return lists.every((l) => l.faults.some((f) => f.id === faultId)) && statuses.every((s) => s.faults.some((f) => f.id === faultId));
}

async function noNodeLists(faultId: string): Promise<boolean> {
  const lists = await Promise.all(ids.map((id) => faultList(id, 1000)));
  return lists.every((l) => !l.faults.some((f) => f.id === faultId));
}

async function hintsDrained(): Promise<boolean> {
  return (await Promise.all(ids.map((id) => fullStatus(id, 1000)))).every((s) => s.hintsPending === 0);
}

/** The version ids each replica of `key` holds, as seen from `via`; undefined if one is unreachable. */
async function versionSets(via: string, key: string): Promise<Map<string, string> | undefined> {
  const res = await cluster.request(via, 'GET', `/replicas/${key}`, { timeoutMs: 5000 });
  if (res.status !== 200) return undefined;
  const doc = jsonBody(res) as ReplicaVersionsJson;
  if (doc.replicas.some((r) => !r.reachable)) return undefined;
  return new Map(doc.replicas.map((r) => [r.node, JSON.stringify(r.versions.map((v) => v.version).sort())]));
}

/** Every key on all three nodes, each holding the same non-empty set of versions. */
async function identicalOnAllThree(via: string, keys: readonly string[]): Promise<boolean> {
  for (const key of keys) {
    const sets = await versionSets(via, key);
    if (!sets || sets.size !== 3 || !ids.every((id) => sets.has(id))) return false;
    const values = [...sets.values()];
    if (values[0] === '[]' || values.some((v) => v !== values[0])) return false;
  }
  return true;
}

/** A write that times how long the client waited. */
async function timedPut(via: string, key: string, query: string): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  const res = await cluster.put(via, key, `value-of-${key}`, { query, timeoutMs: 15_000 });
  return { status: res.status, ms: performance.now() - started, body: res.body.toString('utf8').slice(0, 300) };
}

afterEach(async () => {
  // Heal through a running node; a node that is down (a failed crash test) is started again.
  const running = ids.filter((id) => cluster.isRunning(id));
  if (running.length > 0) {
    const healer = running[0]!;
    await waitFor('heal all accepted', 15_000, async () => (await cluster.request(healer, 'DELETE', '/admin/faults', { timeoutMs: 5000 })).status === 200);
  }
  for (const id of ids) if (!cluster.isRunning(id)) cluster.restart(id);
  await waitFor('no fault listed on any node', 15_000, async () => (await Promise.all(ids.map((id) => faultList(id, 1000)))).every((l) => l.faults.length === 0), describeFaults);
  await cluster.waitUntilUp(30_000);
  await waitFor('no hints pending after the test', 20_000, hintsDrained, describeHints);
});

test('faults: a bad fault spec is refused with 400 and a clear message, and injects nothing on any node', async () => {
  const before = await Promise.all(ids.map((id) => faultList(id)));
  const cases: { spec: unknown; error: string; message: RegExp; what: string }[] = [
    { what: 'unknown kind', spec: { kind: 'meteor', node: 'n2' }, error: 'bad_fault', message: /kind must be one of/ },
    { what: 'loss probability 2', spec: { kind: 'loss', probability: 2 }, error: 'bad_fault', message: /probability/ },
    { what: 'unknown node in a partition', spec: { kind: 'partition', from: ['n9'] }, error: 'unknown_node', message: /n9/ },
    { what: 'unknown node to crash', spec: { kind: 'crash', node: 'n7' }, error: 'unknown_node', message: /n7/ },
    { what: 'a node on both sides of a partition', spec: { kind: 'partition', from: ['n1'], to: ['n1', 'n2'] }, error: 'bad_fault', message: /both sides/ },
    { what: 'pause without a node', spec: { kind: 'pause', durationMs: 1000 }, error: 'bad_fault', message: /node/ },
    { what: 'pause longer than the maximum', spec: { kind: 'pause', node: 'n2', durationMs: 10 * 60_000 }, error: 'bad_fault', message: /durationMs/ },
    { what: 'a body that is not JSON', spec: '{"kind": "partition", ', error: 'bad_fault', message: /JSON/ },
  ];
  for (const c of cases) {
    const res = await postFault('n1', c.spec);
    assert.equal(res.status, 400, `${c.what}: expected 400, got ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
    assert.match(header(res, 'content-type') ?? '', /^application\/json/, `${c.what}: a JSON error`);
    const e = parseError(res);
    assert.equal(e.error, c.error, `${c.what}: error code`);
    assert.match(e.message, c.message, `${c.what}: the message says what is wrong (${e.message})`);
  }
  const afterward = await Promise.all(ids.map((id) => faultList(id)));
  for (let i = 0; i < ids.length; i++) {
    assert.deepEqual(afterward[i]!.faults, [], `${ids[i]} lists no fault`);
    assert.equal(afterward[i]!.version, before[i]!.version, `${ids[i]}: the fault table did not change`);
  }
  // Nothing happened to the cluster either.
  await cluster.waitUntilUp(5000);
});

test('faults: a partition isolating n1 is seen down on both sides; the majority side writes at W=2 with a hint for n1, n1 alone cannot; after heal everything converges', async (t) => {
  const injected = await inject('n2', { kind: 'partition', from: ['n1'], durationMs: 60_000 });
  assert.deepEqual([...injected.reached].sort(), ['n1', 'n3'], 'the table was pushed to every member, across the partition');
  assert.match(injected.fault.description, /n1 <-> the rest/);
  const downMs = await waitFor('n2 and n3 see n1 down, n1 sees n2 and n3 down', 20_000, async () => {
    const [s1, s2, s3] = await Promise.all(ids.map((id) => fullStatus(id, 1000)));
    const sees = (s: FaultStatus, id: string, status: string) => s.members.some((m) => m.id === id && m.status === status);
    return sees(s2!, 'n1', 'down') && sees(s3!, 'n1', 'down') && sees(s1!, 'n2', 'down') && sees(s1!, 'n3', 'down');
  }, () => cluster.describeViews());
  t.diagnostic(`both sides saw the other down ${downMs} ms after the partition`);

  // Majority side: every write at W=2 through n2 is acknowledged; n1's copies become hints.
  const keys = Array.from({ length: 20 }, (_, i) => uniqueKey(`part${i}`));
  const writes = await Promise.all(keys.map((k) => timedPut('n2', k, 'w=2')));
  assert.deepEqual(writes.filter((w) => w.status !== 204), [], 'every W=2 write through n2 is acknowledged');
  const hints = (await Promise.all(['n2', 'n3'].map((id) => fullStatus(id)))).map((s) => s.hintsPending);
  assert.ok(hints[0]! + hints[1]! > 0, `the writes meant for n1 are held as hints on n2 or n3 (hintsPending ${hints.join(', ')})`);

  // Minority side: n1 alone cannot gather two acknowledgements.
  const lonely = await timedPut('n1', uniqueKey('minority'), 'w=2&timeout=1500');
  assert.equal(lonely.status, 503, `a W=2 write through the isolated n1 fails: ${lonely.status} ${lonely.body}`);

  // Still partitioned: n1 is cut off from the keys written on the other side.
  assert.ok(await everyNodeLists(injected.fault.id), 'every node still lists the partition before the heal');

  const healRes = await cluster.request('n3', 'DELETE', '/admin/faults', { timeoutMs: 10_000 });
  assert.equal(healRes.status, 200);
  const healed = jsonBody(healRes) as { healed: FaultJson[] };
  assert.deepEqual(healed.healed.map((f) => f.id), [injected.fault.id], 'the heal names the partition');
  await cluster.waitUntilUp(20_000);
  const drainedMs = await waitFor('hintsPending is 0 on every node', 20_000, hintsDrained, describeHints);
  t.diagnostic(`hints drained ${drainedMs} ms after everyone saw everyone up`);
  await waitFor('the keys written during the partition are on all three replicas with identical versions', 20_000, () => identicalOnAllThree('n1', keys), async () => {
    const sets = await versionSets('n1', keys[0]!);
    return `first key ${keys[0]}: ${sets ? JSON.stringify([...sets]) : 'a replica unreachable'}`;
  });
});

test('faults: a fault with durationMs expires by itself on every node, without a heal', async (t) => {
  const t0 = Date.now();
  const injected = await inject('n1', { kind: 'partition', from: ['n3'], to: ['n2'], durationMs: 2000 });
  assert.ok(injected.fault.remainingMs !== null && injected.fault.remainingMs <= 2000 && injected.fault.remainingMs > 1000, `remainingMs ${injected.fault.remainingMs}`);
  const listedMs = await waitFor('every node lists the new fault', 1500, () => everyNodeLists(injected.fault.id), describeFaults);
  const listedAt = Date.now() - t0;
  t.diagnostic(`listed on every node ${listedMs} ms after the POST returned`);
  const goneMs = await waitFor('the fault has left every node\'s list', 6000, () => noNodeLists(injected.fault.id), describeFaults);
  const goneAt = Date.now() - t0;
  t.diagnostic(`listed until at least ${listedAt} ms; gone everywhere at ${goneAt} ms after the POST was sent (${goneMs} ms of polling)`);
  assert.ok(goneAt <= 3500, `gone within ~3 s of the injection (at ${goneAt} ms)`);
  // It stays gone (gossip does not bring an expired entry back).
  await sleep(1500);
  assert.ok(await noNodeLists(injected.fault.id), 'the expired fault does not come back');
});

test('faults: latency of 400 ms on n3 slows a W=3 write through n1 to at least ~400 ms, which still succeeds; after heal it is fast again', async (t) => {
  const before = await timedPut('n1', uniqueKey('lat-warm'), 'w=3&timeout=5000');
  assert.equal(before.status, 204, `a W=3 write before the fault: ${before.status} ${before.body}`);
  const injected = await inject('n1', { kind: 'latency', delayMs: 400, nodes: ['n3'], durationMs: 15_000 });
  assert.deepEqual([...injected.reached].sort(), ['n2', 'n3']);
  await waitFor('every node lists the latency', 2000, () => everyNodeLists(injected.fault.id), describeFaults);
  const slow: number[] = [];
  for (let i = 0; i < 2; i++) {
    const w = await timedPut('n1', uniqueKey(`lat-slow${i}`), 'w=3&timeout=5000');
    assert.equal(w.status, 204, `a W=3 write under latency still succeeds: ${w.status} ${w.body}`);
    slow.push(w.ms);
  }
  t.diagnostic(`W=3 write times under 400 ms latency on n3: ${slow.map((m) => m.toFixed(0)).join(', ')} ms`);
  assert.ok(Math.min(...slow) >= 350, `each W=3 write waited for n3 (${slow.map((m) => m.toFixed(0)).join(', ')} ms)`);

  const healRes = await cluster.request('n2', 'DELETE', `/admin/faults/${injected.fault.id}`, { timeoutMs: 10_000 });
  assert.equal(healRes.status, 200, 'DELETE /admin/faults/{id} heals that fault');
  await waitFor('no node lists the latency', 3000, () => noNodeLists(injected.fault.id), describeFaults);
  await cluster.waitUntilUp(10_000);
  const fast: number[] = [];
  for (let i = 0; i < 3; i++) {
    const w = await timedPut('n1', uniqueKey(`lat-fast${i}`), 'w=3&timeout=5000');
    assert.equal(w.status, 204, `a W=3 write after the heal: ${w.status} ${w.body}`);
    fast.push(w.ms);
  }
  t.diagnostic(`W=3 write times after the heal: ${fast.map((m) => m.toFixed(0)).join(', ')} ms`);
  assert.ok(Math.min(...fast) < 350, `after the heal a W=3 write is fast again (min of ${fast.map((m) => m.toFixed(0)).join(', ')} ms)`);
  // Healing one fault by an id no longer in force is a 404.
  const again = await cluster.request('n1', 'DELETE', `/admin/faults/${injected.fault.id}`, { timeoutMs: 10_000 });
  assert.equal(again.status, 404, 'healing a fault that is not in force is a 404');
  assert.equal(parseError(again).error, 'no_such_fault');
});

test('faults: loss with probability 1 on n3 cuts n3 off like a partition (seen down by all), and it is up again after heal', async (t) => {
  const injected = await inject('n1', { kind: 'loss', probability: 1, nodes: ['n3'], durationMs: 20_000 });
  const downMs = await waitFor('n1 and n2 see n3 down, n3 sees n1 and n2 down', 20_000, async () => {
    const [s1, s2, s3] = await Promise.all(ids.map((id) => fullStatus(id, 1000)));
    const sees = (s: FaultStatus, id: string, status: string) => s.members.some((m) => m.id === id && m.status === status);
    return sees(s1!, 'n3', 'down') && sees(s2!, 'n3', 'down') && sees(s3!, 'n1', 'down') && sees(s3!, 'n2', 'down');
  }, () => cluster.describeViews());
  t.diagnostic(`n3 seen down ${downMs} ms after total loss`);
  // n1 and n2 still see each other up: the loss only touches links of n3.
  await cluster.waitForStatus(['n1', 'n2'], ['n1', 'n2'], 'up', 5000);
  const res = await cluster.request('n2', 'DELETE', '/admin/faults', { timeoutMs: 10_000 });
  assert.equal(res.status, 200);
  assert.deepEqual((jsonBody(res) as { healed: FaultJson[] }).healed.map((f) => f.id), [injected.fault.id]);
  const upMs = await waitFor('every node sees every node up after the heal', 20_000, async () => {
    await cluster.waitForStatus([...ids], [...ids], 'up', 500);
    return true;
  }, () => cluster.describeViews());
  t.diagnostic(`all up ${upMs} ms after the heal`);
});

test('faults: a pause of n2 (3000 ms, injected via n1) stops n2 answering HTTP, then it answers again and its process never exited', async (t) => {
  const t0 = Date.now();
  const injected = await inject('n1', { kind: 'pause', node: 'n2', durationMs: 3000 });
  assert.ok(injected.reached.includes('n2'), `n2 heard of its pause before pausing (reached ${injected.reached.join(',')})`);
  await sleep(300); // the node acts 50 ms after it answered the push
  await assert.rejects(cluster.request('n2', 'GET', '/status', { timeoutMs: 1000 }), 'a paused n2 does not answer /status within 1000 ms');
  assert.ok(cluster.isRunning('n2'), 'the paused process is still running');
  // n1 and n3 keep answering meanwhile.
  await Promise.all(['n1', 'n3'].map((id) => fullStatus(id, 1000)));
  await waitFor('n2 answers /status again', 10_000, async () => (await cluster.request('n2', 'GET', '/status', { timeoutMs: 1000 })).status === 200);
  const answeredAt = Date.now() - t0;
  t.diagnostic(`n2 answered again ${answeredAt} ms after the pause was injected`);
  assert.ok(answeredAt >= 2500, `n2 stayed paused for about the duration asked for (answered again at ${answeredAt} ms)`);
  assert.ok(cluster.isRunning('n2'), 'n2 is still the same running process after the pause');
  await cluster.waitUntilUp(20_000);
  assert.ok(cluster.isRunning('n2'));
});

test('faults: a crash of n3 (via n1) makes the n3 process SIGKILL itself; restarted, n3 rejoins and does not crash again on the old entry', async (t) => {
  const oldPid = cluster.pid('n3');
  const t0 = Date.now();
  const injected = await inject('n1', { kind: 'crash', node: 'n3' });
  assert.equal(injected.fault.kind, 'crash');
  const listedMs = injected.fault.remainingMs;
  assert.ok(listedMs !== null && listedMs > 0, `a crash entry stays listed for a while (remainingMs ${listedMs})`);
  await cluster.waitForExit('n3', 5000);
  const exited = cluster.node('n3').exited;
  assert.equal(exited?.signal, 'SIGKILL', `n3 killed itself with SIGKILL (exit ${JSON.stringify(exited)})`);
  cluster.restart('n3');
  const newPid = cluster.pid('n3');
  assert.notEqual(newPid, oldPid);
  const restartedAt = Date.now();
  // What is checked: the restarted process receives the old crash entry and does not act on it.
  // That only means something if the entry does reach it while still listed (a few seconds),
  // and a peer's fault sync picks one random member per gossip round, so it may miss n3 in that
  // window. So as soon as n3 answers, it merges tables with its peers itself: a harmless fault
  // (0 ms latency) injected through n3 is pushed to them, and their tables, holding the crash
  // entry, come back with the acknowledgements.
  let nudge = 'not sent';
  let seenAt: number | undefined;
  const deadline = t0 + listedMs! + 1000;
  const rounds = Math.ceil((deadline - Date.now()) / pollMs) + 1;
  for (let i = 0; i < rounds && Date.now() < deadline && cluster.isRunning('n3'); i++) {
    try {
      if ((await faultList('n3', 500)).faults.some((f) => f.id === injected.fault.id)) {
        seenAt = Date.now();
        break;
      }
      if (nudge !== 'reached a peer') {
        const res = await postFault('n3', { kind: 'latency', delayMs: 0, nodes: ['n3'], durationMs: 2000 });
        const reached = res.status === 201 ? (jsonBody(res) as InjectJson).reached : [];
        nudge = reached.length > 0 ? 'reached a peer' : `status ${res.status}, reached ${JSON.stringify(reached)}`;
      }
    } catch {
      // n3 is still starting
    }
    await sleep(pollMs);
  }
  // A restarted node that acts on the old entry dies 50 ms after it arrives: look for that first.
  assert.ok(cluster.isRunning('n3') && cluster.pid('n3') === newPid, `the restarted n3 crashed again on the old entry (exit ${JSON.stringify(cluster.node('n3').exited)})\n${cluster.logTail('n3')}`);
  assert.ok(seenAt !== undefined, `the restarted n3 listed the old crash entry ${injected.fault.id} while it was still in force (nudge: ${nudge}); without it this test checks nothing`);
  t.diagnostic(`the restarted n3 listed the old crash entry ${seenAt - restartedAt} ms after its restart (${seenAt - t0} ms after the injection; nudge: ${nudge})`);
  await sleep(3000);
  assert.ok(cluster.isRunning('n3') && cluster.pid('n3') === newPid, `the restarted n3 is still running 3 s after it received the old entry (exit ${JSON.stringify(cluster.node('n3').exited)})\n${cluster.logTail('n3')}`);
  await cluster.waitUntilUp(30_000);
  assert.ok(cluster.isRunning('n3') && cluster.pid('n3') === newPid, 'n3 rejoined as the same restarted process');
});

test('faults: a one-way partition n1 -> n2 is listed on every node as one-way; n1 cannot reach n2 while n3 stays reachable; after heal all converge', async () => {
  const injected = await inject('n2', { kind: 'partition', from: ['n1'], to: ['n2'], oneWay: true, durationMs: 20_000 });
  assert.match(injected.fault.description, /n1 -> n2/);
  await waitFor('every node lists the one-way partition', 2000, () => everyNodeLists(injected.fault.id), describeFaults);
  for (const id of ids) {
    const f = (await faultList(id)).faults.find((x) => x.id === injected.fault.id);
    assert.equal(f?.oneWay, true, `${id} knows the partition is one-way`);
  }
  // From n1, n2 is unreachable (its requests to n2 are lost) and n3 is not.
  const key = uniqueKey('oneway');
  const w = await timedPut('n3', key, 'w=2');
  assert.equal(w.status, 204, `a W=2 write through n3 (who reaches both) succeeds: ${w.status} ${w.body}`);
  const res = await cluster.request('n1', 'GET', `/replicas/${key}`, { timeoutMs: 5000 });
  assert.equal(res.status, 200);
  const doc = jsonBody(res) as ReplicaVersionsJson;
  const reach = Object.fromEntries(doc.replicas.map((r) => [r.node, r.reachable]));
  assert.equal(reach.n2, false, `n1 cannot reach n2: ${JSON.stringify(reach)}`);
  assert.equal(reach.n3, true, `n1 still reaches n3: ${JSON.stringify(reach)}`);

  const heal = await cluster.request('n1', 'DELETE', '/admin/faults', { timeoutMs: 10_000 });
  assert.equal(heal.status, 200);
  await waitFor('no node lists the partition', 3000, () => noNodeLists(injected.fault.id), describeFaults);
  await cluster.waitUntilUp(20_000);
  await waitFor('the key written during the partition is on all three replicas with identical versions', 20_000, () => identicalOnAllThree('n1', [key]));
  const after = await timedPut('n1', uniqueKey('oneway-after'), 'w=3&timeout=5000');
  assert.equal(after.status, 204, `after the heal n1 writes to all three again: ${after.status} ${after.body}`);
});
