// The client data path of CONTRACT.md on a real 3-node cluster (N=3, R=2, W=2, Q=16):
// replication, siblings and contexts (Dynamo 4.4), tombstones, quorum overrides, key
// encoding and read repair (Dynamo 4.5), observed only through the HTTP API.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type HttpResponse, TestCluster, allReplicas, downTimeoutMs, header, jsonBody, parseError, parseSiblings, siblingValues, sleep, uniqueKey } from '../helpers/cluster.js';

const ids = ['n1', 'n2', 'n3'] as const;
const cluster = new TestCluster({ nodes: 3 });

before(() => cluster.start());
after(() => cluster.stop());

function ctxOf(res: HttpResponse, what: string): string {
  const c = header(res, 'x-gyre-context');
  assert.ok(c !== undefined && c.length > 0, `${what}: X-Gyre-Context header missing (status ${res.status})`);
  return c;
}

async function putOk(node: string, key: string, value: Buffer | string, opts: { context?: string; contentType?: string; query?: string } = {}): Promise<string> {
  const res = await cluster.put(node, key, value, opts);
  assert.equal(res.status, 204, `PUT ${key} via ${node}: ${res.status} ${res.body.toString('utf8')}`);
  return ctxOf(res, `PUT ${key} via ${node}`);
}

async function getSiblings(node: string, key: string, query = 'r=3'): Promise<{ status: number; values: string[]; context: string; res: HttpResponse }> {
  const res = await cluster.get(node, key, query, { accept: 'application/json' });
  assert.ok(res.status === 200 || res.status === 300, `GET ${key} via ${node}: ${res.status} ${res.body.toString('utf8')}`);
  const doc = parseSiblings(res);
  assert.equal(header(res, 'x-gyre-context'), doc.context, 'the X-Gyre-Context header equals the body context');
  return { status: res.status, values: siblingValues(doc).sort(), context: doc.context, res };
}

describe('Dynamo 4.5: replication through any coordinator', () => {
  test('a value written via one node is read from every node with the same bytes and Content-Type', async () => {
    const key = uniqueKey('dp-any');
    const value = randomBytes(3000);
    await putOk('n1', key, value, { contentType: 'application/x-gyre-test' });
    for (const id of ids) {
      const res = await cluster.get(id, key);
      assert.equal(res.status, 200, `GET via ${id}`);
      assert.ok(res.body.equals(value), `GET via ${id} returned different bytes (${res.body.byteLength} bytes)`);
      assert.equal(header(res, 'content-type'), 'application/x-gyre-test', `Content-Type via ${id}`);
      ctxOf(res, `GET via ${id}`);
    }
  });

  test('a write acknowledged with w=3 is returned by an r=1 read from each node', async () => {
    const key = uniqueKey('dp-w3r1');
    await putOk('n2', key, 'all-three', { query: 'w=3' });
    for (const id of ids) {
      const res = await cluster.get(id, key, 'r=1');
      assert.equal(res.status, 200, `r=1 GET via ${id}`);
      assert.equal(res.body.toString('utf8'), 'all-three', `r=1 GET via ${id}`);
    }
  });

  test('Accept: application/json returns the JSON form with 200 for a single version', async () => {
    const key = uniqueKey('dp-json');
    await putOk('n3', key, 'solo', { contentType: 'text/x-solo' });
    const res = await cluster.get('n1', key, '', { accept: 'application/json' });
    assert.equal(res.status, 200);
    assert.match(header(res, 'content-type') ?? '', /^application\/json/);
    const before = Date.now();
    const doc = parseSiblings(res);
    assert.equal(header(res, 'x-gyre-context'), doc.context);
    const [only, ...rest] = doc.siblings;
    assert.equal(rest.length, 0);
    const { lastModified, ...sibling } = only!;
    assert.deepEqual(sibling, { value: Buffer.from('solo').toString('base64'), contentType: 'text/x-solo', deleted: false });
    // The coordinator's clock when it wrote the version (the client's lastWriterWins reads it).
    assert.ok(typeof lastModified === 'number' && Math.abs(before - lastModified) < 60_000, `lastModified ${lastModified}`);
  });

  test('GET /replicas: after a w=3 write every replica holds one version with the same clock', async () => {
    const key = uniqueKey('dp-replicas');
    await putOk('n1', key, 'twelve bytes', { query: 'w=3' });
    const rep = await cluster.replicas('n2', key);
    assert.ok(Number.isInteger(rep.partition) && rep.partition >= 0 && rep.partition < 16, `partition ${rep.partition} in 0..15`);
    assert.deepEqual([...rep.preferenceList].sort(), [...ids], 'with 3 nodes and N=3 the preference list is every node');
    assert.deepEqual(rep.replicas.map((r) => r.node).sort(), [...ids]);
    const first = rep.replicas[0]!.versions[0];
    assert.ok(first, 'the first replica holds a version');
    for (const r of rep.replicas) {
      assert.equal(r.reachable, true, `${r.node} reachable`);
      assert.equal(r.versions.length, 1, `${r.node} holds one version`);
      assert.deepEqual(r.versions[0]!.clock, first.clock, `${r.node} holds the same clock`);
      assert.equal(r.versions[0]!.size, 12, `${r.node} version size`);
      assert.equal(r.versions[0]!.deleted, false);
    }
    assert.ok(Object.keys(first.clock).length > 0, 'the clock names at least one event');
  });

  test('GET /replicas: two blind writes through one node are two versions whose exact events do not include each other (the summaries would)', async () => {
    const key = uniqueKey('dp-replicas-blind');
    await putOk('n1', key, 'one', { query: 'w=3' });
    await putOk('n1', key, 'two', { query: 'w=3' });
    const rep = await cluster.replicas('n2', key);
    for (const r of rep.replicas) {
      assert.equal(r.versions.length, 2, `${r.node} holds both blind writes`);
      const covers = (e: NonNullable<(typeof r.versions)[number]['events']>, d: { actor: string; counter: number }) => d.counter <= (e.entries[d.actor] ?? 0) || e.dots.some((x) => x.actor === d.actor && x.counter === d.counter);
      const [a, b] = r.versions;
      assert.ok(a!.events && b!.events && a!.dot && b!.dot, 'each version has its events and its dot');
      assert.ok(covers(a!.events, a!.dot) && covers(b!.events, b!.dot), 'a version\'s events include its own dot');
      assert.ok(!covers(a!.events, b!.dot) && !covers(b!.events, a!.dot), `neither saw the other: ${JSON.stringify(r.versions.map((v) => v.events))}`);
    }
  });
});

describe('Dynamo 4.4: siblings and contexts', () => {
  test('two PUTs without context via different nodes give 300 with both siblings; the merged context resolves them', async () => {
    const key = uniqueKey('dp-sib');
    await putOk('n1', key, 'alpha', { contentType: 'text/x-alpha' });
    await putOk('n2', key, 'beta', { contentType: 'text/x-beta' });
    // W=2 and R=2 overlap, so every node's default read sees both writes.
    for (const id of ids) {
      const res = await cluster.get(id, key);
      assert.equal(res.status, 300, `GET via ${id}: ${res.body.toString('utf8')}`);
      assert.match(header(res, 'content-type') ?? '', /^application\/json/);
      const doc = parseSiblings(res);
      assert.equal(header(res, 'x-gyre-context'), doc.context, 'header and body carry the same context');
      const got = doc.siblings.map((s) => ({ text: Buffer.from(s.value, 'base64').toString('utf8'), contentType: s.contentType, deleted: s.deleted }));
      got.sort((a, b) => a.text.localeCompare(b.text));
      assert.deepEqual(got, [
        { text: 'alpha', contentType: 'text/x-alpha', deleted: false },
        { text: 'beta', contentType: 'text/x-beta', deleted: false },
      ]);
    }
    const merged = (await getSiblings('n3', key)).context;
    await putOk('n3', key, 'gamma', { context: merged, query: 'w=3' });
    for (const id of ids) {
      const res = await cluster.get(id, key, 'r=3');
      assert.equal(res.status, 200, `GET r=3 via ${id} after the resolving PUT: ${res.body.toString('utf8')}`);
      assert.equal(res.body.toString('utf8'), 'gamma');
    }
    const rep = await cluster.replicas('n1', key);
    for (const r of rep.replicas) assert.equal(r.versions.length, 1, `${r.node} keeps only the resolved version`);
  });

  // [x1 via A without context] [x2 via B without context] [x3 via C with x1's context]:
  // x3 supersedes exactly x1 and leaves x2, whoever coordinates (the case C = B is the
  // dotted-version-vector trap: C's own earlier write x2 must not be swallowed).
  const coverCases = [
    ['n1', 'n2', 'n3'],
    ['n1', 'n1', 'n1'],
    ['n1', 'n2', 'n1'],
    ['n1', 'n2', 'n2'],
    ['n2', 'n1', 'n1'],
  ] as const;
  for (const [a, b, c] of coverCases) {
    test(`a PUT whose context covers one of two siblings supersedes exactly that one (x1 via ${a}, x2 via ${b}, x3 via ${c})`, async () => {
      const key = uniqueKey('dp-cover');
      const ctx1 = await putOk(a, key, 'x1');
      await putOk(b, key, 'x2');
      const pre = await getSiblings('n3', key);
      assert.deepEqual(pre.values, ['x1', 'x2'], 'x1 and x2 are siblings');
      await putOk(c, key, 'x3', { context: ctx1 });
      for (const id of ids) {
        const got = await getSiblings(id, key);
        assert.equal(got.status, 300, `GET r=3 via ${id}`);
        assert.deepEqual(got.values, ['x2', 'x3'], `via ${id}: x3 replaced x1 and kept x2`);
      }
    });
  }

  test('concurrent PUTs without context (4 per node, 12 in all) are all kept as siblings', async () => {
    const key = uniqueKey('dp-conc');
    const sent: string[] = [];
    const puts: Promise<string>[] = [];
    for (let i = 0; i < 12; i++) {
      const value = `c${String(i).padStart(2, '0')}`;
      sent.push(value);
      puts.push(putOk(ids[i % 3]!, key, value));
    }
    const contexts = await Promise.all(puts);
    assert.equal(new Set(contexts).size, 12, 'each acknowledged write has its own context');
    const got = await getSiblings('n2', key);
    assert.equal(got.status, 300);
    assert.deepEqual(got.values, sent, 'every acknowledged concurrent write is a sibling');
  });

  test('concurrent PUTs carrying the same context each replace what it covers and stay siblings of each other', async () => {
    const key = uniqueKey('dp-conc-ctx');
    const ctx = await putOk('n1', key, 'base', { query: 'w=3' });
    const values = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
    await Promise.all(values.map((v, i) => putOk(ids[i % 3]!, key, v, { context: ctx })));
    const got = await getSiblings('n3', key);
    assert.deepEqual(got.values, values, 'base is gone; the six concurrent writes remain');
  });

  test('a PUT with a stale context (from before a later write) leaves the later write as a sibling', async () => {
    const key = uniqueKey('dp-stale');
    const ctx1 = await putOk('n1', key, 'v1');
    await putOk('n2', key, 'v2', { context: ctx1 });
    await putOk('n3', key, 'v3', { context: ctx1 });
    const got = await getSiblings('n1', key);
    assert.equal(got.status, 300);
    assert.deepEqual(got.values, ['v2', 'v3'], 'v1 is gone, v2 and v3 are concurrent');
  });
});

describe('tombstones (DELETE is a PUT of a tombstone)', () => {
  test('DELETE with context leaves a tombstone: GET gives 404 with X-Gyre-Context and every replica holds the same deleted version', async () => {
    const key = uniqueKey('dp-del');
    await putOk('n1', key, 'doomed', { query: 'w=3' });
    const ctx = ctxOf(await cluster.get('n2', key), 'GET before DELETE');
    const del = await cluster.del('n2', key, { context: ctx, query: 'w=3' });
    assert.equal(del.status, 204, `DELETE: ${del.body.toString('utf8')}`);
    for (const id of ids) {
      const res = await cluster.get(id, key, 'r=3');
      assert.equal(res.status, 404, `GET via ${id} after DELETE`);
      ctxOf(res, `404 via ${id}`);
      parseError(res);
    }
    const rep = await cluster.replicas('n3', key);
    assert.equal(rep.replicas.length, 3);
    const clock = rep.replicas[0]?.versions[0]?.clock;
    assert.ok(clock, 'the first replica holds the tombstone');
    for (const r of rep.replicas) {
      assert.equal(r.reachable, true);
      assert.equal(r.versions.length, 1, `${r.node}: the tombstone replaced the value`);
      assert.equal(r.versions[0]!.deleted, true, `${r.node}: the version is a tombstone`);
      assert.deepEqual(r.versions[0]!.clock, clock, `${r.node}: same clock`);
    }
  });

  test('a PUT with the context of a 404 tombstone brings the key back as a single version', async () => {
    const key = uniqueKey('dp-revive');
    const ctx = await putOk('n1', key, 'first');
    assert.equal((await cluster.del('n1', key, { context: ctx })).status, 204);
    const gone = await cluster.get('n2', key);
    assert.equal(gone.status, 404);
    await putOk('n3', key, 'second', { context: ctxOf(gone, 'tombstone 404') });
    const res = await cluster.get('n1', key, 'r=3');
    assert.equal(res.status, 200, `after revival: ${res.body.toString('utf8')}`);
    assert.equal(res.body.toString('utf8'), 'second');
  });

  test('a DELETE whose context covers one of two siblings leaves the other sibling live', async () => {
    const key = uniqueKey('dp-del-one');
    const ctx1 = await putOk('n1', key, 'keep-not');
    await putOk('n2', key, 'keep-me');
    assert.equal((await cluster.del('n3', key, { context: ctx1 })).status, 204);
    const res = await cluster.get('n1', key, 'r=3', { accept: 'application/json' });
    assert.ok(res.status === 200 || res.status === 300, `GET: ${res.status} ${res.body.toString('utf8')}`);
    const doc = parseSiblings(res);
    const live = doc.siblings.filter((s) => !s.deleted).map((s) => Buffer.from(s.value, 'base64').toString('utf8'));
    assert.deepEqual(live, ['keep-me']);
  });
});

describe('keys are bytes, percent-encoded in the path', () => {
  const suffix = uniqueKey('');
  const cases: { name: string; write: string; read: string }[] = [
    { name: 'a space (%20)', write: `with%20space${suffix}`, read: `with%20space${suffix}` },
    { name: 'a slash (%2F)', write: `a%2Fb${suffix}`, read: `a%2Fb${suffix}` },
    { name: 'non-UTF-8 bytes (%FF%FE)', write: `%FF%FE${suffix}`, read: `%FF%FE${suffix}` },
    { name: 'UTF-8 ÿ (%C3%BF), a different key from the byte %FF', write: `%C3%BF${suffix}`, read: `%C3%BF${suffix}` },
    { name: 'a NUL byte (%00)', write: `nul%00byte${suffix}`, read: `nul%00byte${suffix}` },
    { name: 'lower-case hex (%ff) names the same key as upper-case (%FF)', write: `hex%ff%2f${suffix}`, read: `hex%FF%2F${suffix}` },
  ];
  for (const c of cases) {
    test(`a key with ${c.name} round-trips through PUT and GET on other nodes`, async () => {
      const value = `value of ${c.name}`;
      await putOk('n1', c.write, value);
      for (const id of ['n2', 'n3']) {
        const res = await cluster.get(id, c.read, 'r=3');
        assert.equal(res.status, 200, `GET ${c.read} via ${id}: ${res.body.toString('utf8')}`);
        assert.equal(res.body.toString('utf8'), value, `GET ${c.read} via ${id}`);
      }
      const rep = await cluster.replicas('n2', c.read);
      assert.ok(rep.replicas.every((r) => r.versions.length === 1), 'GET /replicas finds the key on every replica');
    });
  }

  test('the byte %FF and the UTF-8 character ÿ (%C3%BF) are distinct keys', async () => {
    const s = uniqueKey('');
    await putOk('n1', `%FF${s}`, 'raw byte');
    await putOk('n2', `%C3%BF${s}`, 'utf-8');
    assert.equal((await cluster.get('n3', `%FF${s}`)).body.toString('utf8'), 'raw byte');
    assert.equal((await cluster.get('n3', `%C3%BF${s}`)).body.toString('utf8'), 'utf-8');
  });
});

describe('Dynamo 4.5: quorums with one replica down', () => {
  test('with one of three replicas SIGKILLed: it is reported down, w=3 and r=3 give 503, w=2 and r=2 succeed', async () => {
    const key = uniqueKey('dp-down');
    const ctx = await putOk('n1', key, 'before', { query: 'w=3' });
    await cluster.kill('n3');
    try {
      await cluster.waitForStatus(['n1', 'n2'], ['n3'], 'down', downTimeoutMs);
      const w3 = await cluster.put('n1', key, 'w3', { context: ctx, query: 'w=3' });
      assert.equal(w3.status, 503, `PUT w=3 with a replica down: ${w3.body.toString('utf8')}`);
      parseError(w3);
      const r3 = await cluster.get('n2', key, 'r=3');
      assert.equal(r3.status, 503, 'GET r=3 with a replica down');
      parseError(r3);
      const rep = await cluster.replicas('n1', key);
      assert.deepEqual(rep.replicas.map((r) => [r.node, r.reachable]).sort(), [['n1', true], ['n2', true], ['n3', false]], 'GET /replicas reports the dead replica unreachable');
      const r2 = await cluster.get('n2', key, 'r=2', { accept: 'application/json' });
      assert.ok(r2.status === 200 || r2.status === 300, `GET r=2 with a replica down: ${r2.status}`);
      // The 503 write may still have been applied on n1 (CONTRACT: "the write may still be
      // applied"); resolve with the context of everything there is.
      const resolved = await putOk('n2', key, 'after', { context: parseSiblings(r2).context, query: 'w=2' });
      assert.ok(resolved.length > 0);
      const r = await cluster.get('n1', key, 'r=2');
      assert.equal(r.status, 200);
      assert.equal(r.body.toString('utf8'), 'after');
    } finally {
      cluster.restart('n3');
      await cluster.waitUntilUp();
    }
  });
});

describe('Dynamo 4.5: read repair', () => {
  // Read repair is isolated by construction, not by timing: anti-entropy (every second) and
  // hinted handoff (every 500 ms) would bring a stale replica up to date within a second or two
  // on their own, so in this test nothing but the read's coordinator can reach the stale one.
  // Four nodes, N=3: the coordinator C is the one node outside the key's preference list, so it
  // holds no copy of the key (no anti-entropy for its partition) and, as the write does not go
  // through it, no hint. The stale replica S is cut off from the other two replicas by a
  // partition fault, which stops their anti-entropy exchanges and hint deliveries to it, while
  // C still reaches all three. Only C's read repair can then give S the newer version.
  const rrPartitionMs = 60_000;
  const rrRepairWaitMs = 3000;
  const rrPollMs = 50;

  test('a replica that missed a write holds it right after a read at R through a coordinator that alone can reach it (anti-entropy and handoff cut off)', { timeout: 120_000 }, async (t) => {
    const rr = new TestCluster({ nodes: 4, args: ['--partitions', '16'] });
    t.after(() => rr.stop());
    await rr.start();
    const key = uniqueKey('dp-repair');
    const v1 = await allReplicas(() => rr.put('n1', key, 'v1', { query: 'w=3' }));
    assert.equal(v1.status, 204, `PUT v1 w=3: ${v1.status} ${v1.body.toString('utf8')}`);
    const ctx1 = ctxOf(v1, 'PUT v1');
    const pref = (await rr.replicas('n1', key)).preferenceList;
    assert.equal(pref.length, 3, `N=3: ${pref.join(',')}`);
    const c = rr.nodes.map((n) => n.id).find((id) => !pref.includes(id));
    assert.ok(c !== undefined, `one of four nodes is outside the preference list ${pref.join(',')}`);
    const [a, b, s] = pref as [string, string, string];
    t.diagnostic(`preference list ${pref.join(',')}; writer ${a}, stale replica ${s}, coordinator ${c}`);

    // Cut S off from A and B; write v2 through A at once, while A still sends S its copy
    // directly (so the copy A cannot deliver becomes a hint on A, not one on a stand-in C).
    const cut = await rr.request(c, 'POST', '/admin/faults', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'partition', from: [s], to: [a, b], durationMs: rrPartitionMs }), timeoutMs: 10_000 });
    assert.equal(cut.status, 201, `POST /admin/faults (partition ${s} <-> ${a},${b}): ${cut.status} ${cut.body.toString('utf8').slice(0, 300)}`);
    const cutDoc = jsonBody(cut) as { fault: { id: string }; reached: string[] };
    assert.deepEqual([...cutDoc.reached].sort(), [a, b, s].sort(), 'every node heard of the partition before the write');
    const v2 = await rr.put(a, key, 'v2', { context: ctx1, query: 'w=2' });
    assert.equal(v2.status, 204, `PUT v2 w=2 via ${a} with ${s} cut off: ${v2.status} ${v2.body.toString('utf8')}`);

    const clocksOf = async (): Promise<Map<string, string>> => {
      const rep = await rr.replicas(c, key);
      return new Map(rep.replicas.map((r) => [r.node, r.reachable ? JSON.stringify(r.versions.map((v) => v.clock)) : 'unreachable']));
    };
    const show = (m: Map<string, string>) => [...m].map(([n, cl]) => `${n}=${cl}`).join(' ');
    const before = await clocksOf();
    assert.equal(before.get(a), before.get(b), `${a} and ${b} hold v2: ${show(before)}`);
    assert.notEqual(before.get(s), before.get(a), `${s} is stale before the read: ${show(before)}`);
    assert.notEqual(before.get(s), 'unreachable', `${c} reaches ${s}: ${show(before)}`);
    // The premise: A and B cannot reach S (so neither anti-entropy nor handoff from them can),
    // and C holds no hint (so its own handoff cannot either).
    for (const peer of [a, b]) {
      const view = await rr.replicas(peer, key);
      assert.equal(view.replicas.find((r) => r.node === s)?.reachable, false, `${peer} cannot reach ${s} through the partition`);
    }
    assert.equal((await rr.status(c)).hintsPending, 0, `${c} holds no hint`);
    const stillStale = await clocksOf();
    assert.equal(stillStale.get(s), before.get(s), `${s} is still stale just before the read: ${show(stillStale)}`);

    const res = await rr.get(c, key);
    assert.equal(res.status, 200, `GET at the default R via ${c}: ${res.status} ${res.body.toString('utf8')}`);
    assert.equal(res.body.toString('utf8'), 'v2', 'the read returns the newer version');
    // The repair is sent once every replica answered (after the reply at R): poll briefly.
    const started = Date.now();
    let now = await clocksOf();
    for (let i = 0; i < Math.ceil(rrRepairWaitMs / rrPollMs) && now.get(s) !== now.get(a); i++) {
      await sleep(rrPollMs);
      now = await clocksOf();
    }
    const repairedMs = Date.now() - started;
    assert.equal(now.get(s), now.get(a), `${s} holds the newest version within ${rrRepairWaitMs} ms of the read via ${c}: ${show(now)}`);
    t.diagnostic(`${s} repaired ${repairedMs} ms after the read returned`);
    // And it was the read: the partition was in force throughout and C still holds no hint.
    const faults = jsonBody(await rr.request(c, 'GET', '/admin/faults', { timeoutMs: 2000 })) as { faults: { id: string }[] };
    assert.ok(faults.faults.some((f) => f.id === cutDoc.fault.id), 'the partition is still in force after the repair');
    assert.equal((await rr.status(c)).hintsPending, 0, `${c} still holds no hint`);
  });
});
