// The console backend against a TLS cluster (issue 12): a profile with TLS and a CA file
// attaches over wss/https, and after its node is SIGKILLed fails over to another member, still
// over TLS (the members' addresses the cluster reports get the profile's scheme and CA, so the
// token never goes to a plain address). A TLS profile naming an http node is refused; without
// the CA file the nodes' certificates are not trusted and nothing attaches.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleBackend } from '../../electron/backend/backend.js';
import { type Ca, type Leaf, makeCa, makeLeaf, opensslMissing } from '../helpers/certs.js';
import { TestCluster, uniqueKey } from '../helpers/cluster.js';

const missing = opensslMissing();
const dir = mkdtempSync(join(tmpdir(), 'gyre-console-tls-'));
let ca: Ca;
const leaves = new Map<string, Leaf>();
if (!missing) {
  ca = makeCa(dir, 'ca');
  for (const id of ['n1', 'n2', 'n3']) leaves.set(id, makeLeaf(dir, ca, id));
}

describe('the console over TLS', { skip: missing }, () => {
  const cluster = new TestCluster({ tlsCa: missing ? undefined : readFileSync(ca.cert), argsFor: (id) => ['--tls-cert', leaves.get(id)!.cert, '--tls-key', leaves.get(id)!.key, '--tls-ca', ca.cert] });
  const logs: string[] = [];
  let backend: ConsoleBackend;
  before(async () => {
    await cluster.start();
    backend = await ConsoleBackend.open({ dir: join(dir, 'console'), nodes: 3, port: 0, token: undefined, log: (l) => logs.push(l) });
  });
  after(async () => {
    await backend?.close().catch(() => undefined);
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a TLS profile names https nodes only', async () => {
    await assert.rejects(backend.call('saveProfile', [{ name: 'mixed', seeds: [cluster.url('n1').replace('https:', 'http:')], token: cluster.token, tls: true, caFile: ca.cert, environment: 'staging' }]), /https/);
    const bare = await backend.call('saveProfile', [{ name: 'bare', seeds: [cluster.url('n1').replace('https://', '')], token: cluster.token, tls: true, caFile: ca.cert, environment: 'staging' }]);
    assert.deepEqual(bare.seeds, [cluster.url('n1')], 'a bare host:port in a TLS profile is https');
    await backend.call('deleteProfile', [bare.id]);
  });

  test('without the CA file nothing attaches: the certificates are not trusted', async () => {
    const p = await backend.call('saveProfile', [{ name: 'no-ca', seeds: [cluster.url('n1')], token: cluster.token, tls: true, caFile: null, environment: 'staging' }]);
    await assert.rejects(backend.call('attach', [{ kind: 'profile', id: p.id }]));
    await backend.call('deleteProfile', [p.id]);
  });

  test('attaches with the CA, reads and writes, and fails over over TLS when its node is killed', async () => {
    const p = await backend.call('saveProfile', [{ name: 'tls', seeds: [cluster.url('n1')], token: cluster.token, tls: true, caFile: ca.cert, environment: 'staging' }]);
    const a = await backend.call('attach', [{ kind: 'profile', id: p.id }]);
    assert.equal(a.via, cluster.url('n1'));
    const key = uniqueKey('console-tls');
    assert.equal((await backend.call('trace', [{ op: 'put', key, value: 'v' }])).status, 204);
    await cluster.kill('n1');
    let via: string | null = null;
    for (let i = 0; i < 100 && (via === null || via === cluster.url('n1')); i++) {
      await new Promise((r) => setTimeout(r, 200));
      const s = await backend.call('connection', []);
      via = s.state === 'attached' ? s.attachment.via : null;
    }
    assert.ok(via !== null && via !== cluster.url('n1'), `failed over: ${via}\n${logs.slice(-5).join('\n')}`);
    assert.match(via, /^https:\/\/127\.0\.0\.1:\d+$/, 'the member it failed over to is reached over https');
    const inspected = await backend.call('inspectKey', [key]);
    assert.equal(inspected.siblings.length, 1, 'reads through the new node, over https with the CA');
  });
});
