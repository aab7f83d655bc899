// Hostile input on real node processes (issue 9): nothing a client sends or the disk holds can
// brick, poison or silently mislead a node. Contexts are sealed with keys only nodes hold; a
// version no restart could read back is refused before it exists; a row corrupted on disk is
// quarantined and repaired from the replicas; a node's full disk turns its own writes into
// clear errors while the cluster keeps acknowledging with W; without a token only loopback
// names are served.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pack, unpack } from 'msgpackr';
import { TestCluster, allReplicas, header, httpRequest, parseError, parseStatus, sleep, uniqueKey } from '../helpers/cluster.js';

const partitions = 16;

/** The context keys a node keeps in its data folder (what no client has). */
function nodeKeys(dir: string): [string, Uint8Array][] {
  const db = new Database(join(dir, 'gyre.sqlite3'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare<[string], { value: Buffer }>('SELECT value FROM meta WHERE name = ?').get('contextKeys');
    assert.ok(row, 'the node keeps its context keys in its data folder');
    return unpack(row.value) as [string, Uint8Array][];
  } finally {
    db.close();
  }
}

/** A context in the current format (2), sealed with `secret` under `keyId`: what only a holder of a node key can make. */
function seal(entries: unknown[], key: string, keyId: string, secret: Uint8Array | string): string {
  const head = Buffer.concat([Buffer.from([2]), Buffer.from(keyId, 'hex')]);
  const payload = pack([entries, []]);
  const keyBytes = Buffer.from(key);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(keyBytes.byteLength);
  const mac = createHmac('sha256', secret).update('gyre-context\0').update(len).update(keyBytes).update(head).update(payload).digest().subarray(0, 12);
  return Buffer.concat([head, payload, mac]).toString('base64url');
}

/** A context in the old format (1), sealed as every client could: with the token, or the public default key. */
function sealV1(entries: unknown[], key: string, secret: string): string {
  const payload = pack([1, entries, []]);
  const keyBytes = Buffer.from(key);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(keyBytes.byteLength);
  const mac = createHmac('sha256', secret).update('gyre-context\0').update(len).update(keyBytes).update(payload).digest().subarray(0, 12);
  return Buffer.concat([payload, mac]).toString('base64url');
}


async function eventually(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  assert.fail(`${what}: not within ${timeoutMs} ms`);
}

describe('hostile contexts', () => {
  const cluster = new TestCluster({ nodes: 3, args: ['--partitions', String(partitions)] });
  before(() => cluster.start());
  after(() => cluster.stop());

  test('a context a client forged with the token or the old public key is refused with 400 and changes nothing', async () => {
    const key = uniqueKey('forged');
    assert.equal((await cluster.put('n1', key, 'original', { query: 'w=3' })).status, 204);
    const ahead = [['n1.zzzzzzzz', 1_000_000, 1]];
    for (const [what, ctx] of [
      ['sealed with the cluster token (every client holds it)', sealV1(ahead, key, cluster.token)],
      ['sealed with the old public default key', sealV1(ahead, key, 'gyre-default-context-key')],
      ['in the current format, sealed with the token under a made-up key id', seal(ahead, key, '00000000', cluster.token)],
    ] as const) {
      const res = await cluster.put('n2', key, 'forged', { context: ctx });
      assert.equal(res.status, 400, `${what}: ${res.status} ${res.body.toString('utf8')}`);
      assert.equal(parseError(res).error, 'bad_context');
    }
    const got = await cluster.get('n3', key, 'r=3');
    assert.equal(got.body.toString('utf8'), 'original');
  });

  test('a context sealed by one node is accepted by every other (the keys travel by gossip)', async () => {
    const key = uniqueKey('shared');
    const put = await cluster.put('n1', key, 'v1', { query: 'w=3' });
    const ctx = header(put, 'x-gyre-context');
    assert.ok(ctx);
    for (const node of ['n2', 'n3']) {
      const res = await cluster.put(node, key, `v-${node}`, { context: ctx, query: 'w=3' });
      assert.equal(res.status, 204, `${node}: ${res.body.toString('utf8')}`);
    }
  });

  test('an empty X-Gyre-Context header means no context (a client forwarding the header of a 404)', async () => {
    const key = uniqueKey('empty-ctx');
    const res = await cluster.put('n1', key, 'first', { context: '' });
    assert.equal(res.status, 204, res.body.toString('utf8'));
    assert.equal((await cluster.get('n2', key, 'r=2')).body.toString('utf8'), 'first');
  });

  test('a sealed context whose counter would overflow gets 400 bad_version, and the node restarts fine after SIGKILL', async () => {
    const key = uniqueKey('overflow');
    const first = await allReplicas(() => cluster.put('n1', key, 'before', { query: 'w=3' }));
    assert.equal(first.status, 204);
    // Only a holder of a node key can seal this (a node bug, or a stolen data folder): the
    // invariant at the disk must still hold.
    const [keyId, secret] = nodeKeys(cluster.node('n1').dir)[0]!;
    const nowSeconds = Math.floor(Date.now() / 1000);
    for (const node of ['n1', 'n2', 'n3']) {
      // This node's actor for the key: its next counter after 2^52 is past the limit.
      const own = await cluster.put(node, key, `own-${node}`, { context: header(first, 'x-gyre-context') });
      assert.equal(own.status, 204, own.body.toString('utf8'));
      const actor = header(own, 'x-gyre-version')!.split(':')[0]!;
      const fresh = uniqueKey('wide');
      for (const [what, k, entries] of [
        ['a counter of its own actor at 2^52', key, [[actor, 2 ** 52, nowSeconds]]],
        // Young entries are never pruned: 256 of them plus the new dot (the first of its actor,
        // so it joins the prefix) make a prefix of 257 entries, one more than a clock may hold.
        ['a clock of 256 young actors', fresh, Array.from({ length: 256 }, (_, i) => [`a${String(i).padStart(3, '0')}.x`, 1, nowSeconds])],
      ] as const) {
        const res = await cluster.put(node, k, 'unstorable', { context: seal([...entries], k, keyId, secret) });
        assert.equal(res.status, 400, `${what} via ${node}: ${res.status} ${res.body.toString('utf8')}`);
        assert.equal(parseError(res).error, 'bad_version');
      }
    }
    await cluster.kill('n1');
    cluster.restart('n1');
    await cluster.waitUntilUp();
    const got = await allReplicas(() => cluster.get('n1', key, 'r=3'));
    assert.ok(got.status === 200 || got.status === 300, got.body.toString('utf8'));
    assert.ok(!got.body.toString('utf8').includes('unstorable'), 'no refused write was stored');
  });
});

describe('disk trouble', () => {
  const cluster = new TestCluster({ nodes: 3, args: ['--partitions', String(partitions)] });
  before(() => cluster.start());
  after(() => cluster.stop());

  test('a row corrupted on disk is quarantined (reported in /status and /metrics), the node starts and serves, and anti-entropy repairs the key', async () => {
    const key = uniqueKey('corrupt');
    assert.equal((await allReplicas(() => cluster.put('n1', key, 'precious', { query: 'w=3' }))).status, 204);
    const other = uniqueKey('neighbour');
    assert.equal((await allReplicas(() => cluster.put('n1', other, 'fine', { query: 'w=3' }))).status, 204);
    await cluster.kill('n2');
    const db = new Database(join(cluster.node('n2').dir, 'gyre.sqlite3'));
    // 0xc1 is never valid msgpack.
    const changed = db.prepare<[Buffer, Buffer]>('UPDATE kv SET data = ? WHERE key = ?').run(Buffer.from([0xc1, 0x00, 0xff]), Buffer.from(key)).changes;
    db.close();
    assert.equal(changed, 1, 'n2 holds a replica of the key (N=3 of 3)');
    cluster.restart('n2');
    await cluster.waitUntilUp();
    const status = parseStatus(await cluster.request('n2', 'GET', '/status')) as unknown as { storage: { quarantined: number; writable: boolean } };
    assert.equal(status.storage.quarantined, 1, JSON.stringify(status.storage));
    const metrics = (await cluster.request('n2', 'GET', '/metrics')).body.toString('utf8');
    assert.match(metrics, /^gyre_store_quarantined_rows 1$/m);
    assert.equal((await cluster.get('n2', other, 'r=1')).body.toString('utf8'), 'fine', 'the other keys are served');
    await eventually(
      'n2 holds the key again (anti-entropy)',
      async () => {
        const r = await cluster.replicas('n2', key);
        return r.replicas.find((x) => x.node === 'n2')?.versions.length === 1;
      },
      30_000,
    );
  });

  test('a row corrupted while the node runs is quarantined when read, and anti-entropy still repairs it (its partition\'s Merkle tree is rebuilt)', async () => {
    const key = uniqueKey('corrupt-live');
    assert.equal((await allReplicas(() => cluster.put('n1', key, 'live', { query: 'w=3' }))).status, 204);
    const db = new Database(join(cluster.node('n2').dir, 'gyre.sqlite3'));
    db.pragma('busy_timeout = 5000');
    const changed = db.prepare<[Buffer, Buffer]>('UPDATE kv SET data = ? WHERE key = ?').run(Buffer.from([0xc1]), Buffer.from(key)).changes;
    db.close();
    assert.equal(changed, 1);
    const before = ((await cluster.status('n2')) as unknown as { storage: { quarantined: number } }).storage.quarantined;
    // Reading n2's replica directly finds the bad row.
    const r = await cluster.replicas('n1', key);
    assert.equal(r.replicas.find((x) => x.node === 'n2')?.versions.length, 0, 'the unreadable row reads as absent');
    const after = ((await cluster.status('n2')) as unknown as { storage: { quarantined: number } }).storage.quarantined;
    assert.equal(after, before + 1);
    // Its old digest is still in the other replicas' trees: only a rebuilt tree on n2 differs.
    await eventually(
      'n2 holds the key again (anti-entropy, no read in between)',
      async () => (await cluster.replicas('n3', key)).replicas.find((x) => x.node === 'n2')?.versions.length === 1,
      30_000,
    );
    assert.ok(cluster.isRunning('n2'));
  });

  test('a corrupted database file stops the node with a clear message and is left as it is', async () => {
    await cluster.kill('n3');
    const file = join(cluster.node('n3').dir, 'gyre.sqlite3');
    for (const f of ['-wal', '-shm']) execFileSync('rm', ['-f', `${file}${f}`]);
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(file, garbage);
    cluster.restart('n3');
    await cluster.waitForExit('n3', 15_000);
    assert.notEqual(cluster.node('n3').exited?.code, 0);
    assert.match(cluster.logTail('n3', 5), /corrupted/);
    assert.equal(Buffer.compare(readFileSync(file), garbage), 0, 'the file was not replaced');
  });
});

describe('a full disk on one replica', () => {
  const cluster = new TestCluster({ nodes: 3, args: ['--partitions', String(partitions)] });
  let mounted = '';
  before(async () => {
    // n3's folder on a small tmpfs of its own (we run as root, as CI does): filling it is a full disk.
    mounted = join(cluster.root, 'n3');
    mkdirSync(mounted, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mounted]);
    await cluster.start();
  });
  after(async () => {
    await cluster.stop().catch(() => {});
    if (mounted) execFileSync('umount', ['-l', mounted], { stdio: 'ignore' });
    rmSync(cluster.root, { recursive: true, force: true });
  });

  test("its own writes become clear errors, /status shows it, and writes through it still reach W on the others", async () => {
    const value = Buffer.alloc(256 * 1024, 7);
    // Fill the disk: a filler file takes what is left but a little.
    const free = Number(execFileSync('df', ['--output=avail', '-B1', mounted]).toString().trim().split('\n')[1]);
    writeFileSync(join(mounted, 'filler'), Buffer.alloc(Math.max(0, free - 64 * 1024)));
    const keys: string[] = [];
    let refusedLocally = false;
    for (let i = 0; i < 40 && !refusedLocally; i++) {
      const key = uniqueKey(`full-${i}`);
      const res = await cluster.put('n1', key, value, { query: 'w=2' });
      assert.equal(res.status, 204, `PUT w=2 via n1 with n3's disk full: ${res.status} ${res.body.toString('utf8')}`);
      keys.push(key);
      const st = (await cluster.status('n3')) as unknown as { storage: { writable: boolean; lastError?: string } };
      refusedLocally = st.storage.writable === false;
    }
    assert.ok(refusedLocally, "n3's /status shows its storage unwritable");
    const st = (await cluster.status('n3')) as unknown as { storage: { writable: boolean; lastError?: string } };
    assert.match(st.storage.lastError ?? '', /FULL|full/);
    // Coordinated by the full node itself: it cannot commit, the other two can.
    const key = uniqueKey('via-full');
    const res = await cluster.put('n3', key, value, { query: 'w=2' });
    assert.equal(res.status, 204, `PUT w=2 via n3: ${res.status} ${res.body.toString('utf8')}`);
    const w3 = await cluster.put('n1', uniqueKey('w3'), value, { query: 'w=3' });
    assert.equal(w3.status, 503, 'w=3 cannot be reached while one replica cannot write');
    assert.ok(cluster.isRunning('n3'), 'the full node keeps running');
    for (const k of [...keys, key]) {
      const got = await cluster.get('n1', k, 'r=2');
      assert.equal(got.status, 200, `${k}: ${got.status}`);
      assert.equal(Buffer.compare(got.body, value), 0);
    }
  });
});

describe('a node without a token', () => {
  const cluster = new TestCluster({ nodes: 1, token: false, args: ['--partitions', String(partitions)] });
  before(() => cluster.start());
  after(() => cluster.stop());

  test('answers only loopback Host names (a DNS-rebinding page cannot read or write /kv)', async () => {
    const port = cluster.node('n1').port;
    for (const host of [`evil.example:${port}`, 'attacker.test', `127.0.0.1.nip.io:${port}`, `192.168.1.5:${port}`]) {
      const res = await httpRequest(cluster.url('n1'), 'GET', '/kv/x?r=1', { headers: { host } });
      assert.equal(res.status, 403, `Host ${host}: ${res.status}`);
      assert.equal(parseError(res).error, 'forbidden_host');
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, `127.1.2.3:${port}`]) {
      const res = await httpRequest(cluster.url('n1'), 'GET', '/kv/x?r=1', { headers: { host } });
      assert.equal(res.status, 404, `Host ${host}: ${res.status} ${res.body.toString('utf8')}`);
    }
  });

  test('a malformed percent-escape in a fault id answers 400, not 500', async () => {
    const res = await httpRequest(cluster.url('n1'), 'DELETE', '/admin/faults/%E0%A4%A', {});
    assert.equal(res.status, 400, `${res.status} ${res.body.toString('utf8')}`);
  });
});

describe('1,100 blind writes to one key across a partition', () => {
  const cluster = new TestCluster({ nodes: 3, args: ['--partitions', String(partitions)] });
  before(() => cluster.start());
  after(() => cluster.stop());

  test('each side refuses past the sibling limit with 413; after heal and a restart of every node, all nodes start, reads work, and every acknowledged write is there', async () => {
    const key = uniqueKey('blind');
    const fault = await cluster.request('n2', 'POST', '/admin/faults', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'partition', from: ['n1'], durationMs: 120_000 }) });
    assert.equal(fault.status, 201, fault.body.toString('utf8'));
    const acked = new Set<string>();
    const statuses = new Map<number, number>();
    const writes = 1100;
    let next = 0;
    // Both sides take blind writes (no context): each coordinator keeps every one as a sibling.
    const worker = async () => {
      for (let i = next++; i < writes; i = next++) {
        const node = i % 2 === 0 ? 'n1' : 'n2';
        const value = `w${i}`;
        const res = await cluster.put(node, key, value, { query: 'w=1' });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 204) acked.add(value);
        else if (res.status === 413) assert.equal(parseError(res).error, 'too_many_siblings');
        else assert.fail(`write ${i} via ${node}: ${res.status} ${res.body.toString('utf8')}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.ok((statuses.get(413) ?? 0) > 0, `past the limit writes are refused: ${JSON.stringify([...statuses])}`);
    assert.ok(acked.size >= 100, `${acked.size} acknowledged`);
    const heal = await cluster.request('n2', 'DELETE', '/admin/faults');
    assert.equal(heal.status, 200);
    await cluster.waitUntilUp();
    // Converged: every replica holds every acknowledged version.
    await eventually(
      'every replica holds every acknowledged write',
      async () => {
        const r = await cluster.replicas('n1', key).catch(() => undefined);
        return r !== undefined && r.replicas.every((x) => x.reachable && x.versions.length === acked.size);
      },
      60_000,
    );
    for (const n of ['n1', 'n2', 'n3']) await cluster.kill(n);
    for (const n of ['n1', 'n2', 'n3']) cluster.restart(n);
    await cluster.waitUntilUp();
    for (const n of ['n1', 'n2', 'n3']) {
      const got = await allReplicas(() => cluster.request(n, 'GET', `/kv/${key}?r=3`, { headers: { accept: 'application/json' } }));
      assert.equal(got.status, 300, `GET via ${n}: ${got.status}`);
      const values = new Set((JSON.parse(got.body.toString('utf8')) as { siblings: { value: string }[] }).siblings.map((s) => Buffer.from(s.value, 'base64').toString('utf8')));
      const lost = [...acked].filter((v) => !values.has(v));
      assert.deepEqual(lost, [], `acknowledged writes missing via ${n}`);
    }
  });
});
