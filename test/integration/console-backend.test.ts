// The console backend under plain Node (issue 6): profiles persist in SQLite, the backend
// launches a local cluster through the supervisor and stops it on close, attaches and
// detaches, fails over when the node it is attached to dies, guards production clusters,
// and refuses what the renderer must not ask. Real node processes, no Electron.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleBackend } from '../../electron/backend/backend.js';
import { ProfileStore } from '../../electron/backend/profiles.js';
import { startConsoleWeb } from '../../electron/backend/web.js';
import { io } from 'socket.io-client';
import type { ClusterSnapshot, ConnectionState } from '../../node-core/src/wire/console.js';
import { LocalCluster, freePortRange, isAlive } from '../../node-core/src/cli/supervisor.js';

const root = mkdtempSync(join(tmpdir(), 'gyre-console-backend-'));
const token = 'backend-test-token';
let backend: ConsoleBackend;
let clusterPort = 0;
const logs: string[] = [];

before(async () => {
  clusterPort = await freePortRange(3);
  backend = await ConsoleBackend.open({ dir: join(root, 'console'), nodes: 3, port: clusterPort, token, log: (l) => logs.push(l) });
});

after(async () => {
  await backend.close().catch(() => undefined);
  const left = LocalCluster.load(join(root, 'console'));
  if (left && left.running().length > 0) await left.stop();
  if (process.env.GYRE_IT_KEEP === '1') console.error(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
});

function waitFor<T>(what: string, timeoutMs: number, poll: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    for (;;) {
      const v = await poll();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${logs.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
}

test('console backend: profiles are validated, saved, updated, listed and deleted, and survive a reopen', async () => {
  const file = join(root, 'profiles.db');
  const store = await ProfileStore.open(file);
  const p = await store.save({ name: 'staging', seeds: ['127.0.0.1:7070'], token: null, tls: false, environment: 'staging' });
  assert.match(p.id, /^[0-9a-f-]{36}$/);
  await store.save({ ...p, name: 'staging-eu' });
  await assert.rejects(store.save({ name: 'bad', seeds: ['gopher://x'], token: null, tls: false, environment: 'staging' }), /http/);
  await store.setSetting('theme', 'dark');
  await store.close();
  const again = await ProfileStore.open(file);
  assert.deepEqual(await again.list(), [{ ...p, name: 'staging-eu', seeds: ['http://127.0.0.1:7070'] }]);
  assert.equal(await again.setting('theme'), 'dark');
  await again.remove(p.id);
  assert.deepEqual(await again.list(), []);
  await again.close();
});

test('console backend: attach local launches a 3-node cluster through the supervisor and streams its snapshots; detach stops the stream', async () => {
  const states: ConnectionState[] = [];
  const snaps: ClusterSnapshot[] = [];
  const offState = backend.on('connection', (s) => states.push(s));
  const offSnap = backend.on('cluster', (s) => snaps.push(s));
  const a = await backend.attach({ kind: 'local' });
  assert.equal(a.local, true);
  assert.deepEqual(a.urls, [0, 1, 2].map((i) => `http://127.0.0.1:${clusterPort + i}`));
  const cluster = LocalCluster.load(join(root, 'console'))!;
  assert.equal(cluster.running().length, 3, 'three node processes run');
  const s = await waitFor('a snapshot with 3 members up', 15_000, () => snaps.find((x) => x.members.length === 3 && x.members.every((m) => m.status === 'up')));
  assert.equal(s.config.n, 3);
  assert.ok(states.some((x) => x.state === 'connecting') && states.at(-1)?.state === 'attached');
  await backend.call('detach', []);
  assert.deepEqual(await backend.call('connection', []), { state: 'detached' });
  const count = snaps.length;
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(snaps.length, count, 'no snapshot after detach');
  await assert.rejects(backend.call('trace', [{ op: 'get', key: 'k' }]), /not attached/);
  offState();
  offSnap();
});

test('console backend: attach through a profile; production clusters need their name to inject faults or kill; kill and restart are for local clusters only', async () => {
  const p = await backend.call('saveProfile', [{ name: 'prod-east', seeds: [`127.0.0.1:${clusterPort + 1}`], token, tls: false, environment: 'production' }]);
  const a = await backend.call('attach', [{ kind: 'profile', id: p.id }]);
  assert.equal(a.environment, 'production');
  assert.equal(a.via, `http://127.0.0.1:${clusterPort + 1}`);
  await assert.rejects(backend.call('injectFault', [{ kind: 'latency', delayMs: 10, durationMs: 1000 }, null]), /type the cluster's name/);
  await assert.rejects(backend.call('injectFault', [{ kind: 'latency', delayMs: 10, durationMs: 1000 }, 'prod-west']), /type the cluster's name/);
  const f = await backend.call('injectFault', [{ kind: 'latency', delayMs: 10, durationMs: 1000 }, 'prod-east']);
  assert.equal(f.kind, 'latency');
  await backend.call('healFaults', [null]);
  await assert.rejects(backend.call('killNode', ['n1', 'prod-east']), /local cluster/);
  await assert.rejects(backend.call('attach', [{ kind: 'profile', id: 'nope' }]), /no profile/);
  await assert.rejects(backend.call('startWorkload', [{ ratePerSecond: 1e9, getRatio: 0.5, keys: 1, valueBytes: 1 }]), /ratePerSecond/);
  await backend.call('deleteProfile', [p.id]);
});

test('console backend: when the attached node is killed, the backend fails over to another member and keeps streaming', async () => {
  const a = await backend.call('attach', [{ kind: 'local' }]);
  assert.equal(a.via, `http://127.0.0.1:${clusterPort}`);
  const put = await backend.call('trace', [{ op: 'put', key: 'console-backend', value: 'v' }]);
  assert.equal(put.status, 204);
  const inspected = await backend.call('inspectKey', ['console-backend']);
  assert.equal(inspected.siblings.length, 1);
  assert.deepEqual([...inspected.siblings[0]!.heldBy].sort(), ['n1', 'n2', 'n3']);
  const pos = await backend.call('keyPosition', ['console-backend']);
  assert.ok(pos.position >= 0 && pos.position < 1 && pos.preferenceList.length === 3);
  await backend.call('killNode', ['n1', null]);
  const cluster = LocalCluster.load(join(root, 'console'))!;
  assert.ok(!isAlive(cluster.node('n1').pid), 'n1 was killed');
  const attached = await waitFor('failover to another node', 20_000, async () => {
    const s = await backend.call('connection', []);
    return s.state === 'attached' && s.attachment.via !== `http://127.0.0.1:${clusterPort}` ? s : undefined;
  });
  assert.ok(attached.state === 'attached');
  const seenDown = await waitFor('n1 down in the stream', 20_000, () => new Promise<ClusterSnapshot | undefined>((resolve) => {
    const off = backend.on('cluster', (s) => {
      off();
      resolve(s.members.find((m) => m.id === 'n1')?.status === 'down' ? s : undefined);
    });
    setTimeout(() => {
      off();
      resolve(undefined);
    }, 2500);
  }));
  assert.notEqual(seenDown.via, 'n1');
  await backend.call('restartNode', ['n1', null]);
  // The supervisor recorded the new pid: read cluster.json again.
  await LocalCluster.load(join(root, 'console'), token)!.waitUntilUp();
});

/** Whether a Socket.IO client with these options gets into the console's namespace. */
async function consoleSocketOutcome(base: string, opts: Record<string, unknown>): Promise<string> {
  const socket = io(`${base}/console`, { transports: ['websocket'], reconnection: false, ...opts });
  const outcome = await new Promise<string>((resolve) => {
    socket.once('connect', () => resolve('connected'));
    socket.once('connect_error', () => resolve('refused'));
  });
  socket.close();
  return outcome;
}

test('web console: locked to the secret of the URL it prints, for pages and sockets whatever the Origin', async () => {
  const web = await startConsoleWeb(backend, { port: 0, staticDir: join(root, 'no-build') });
  try {
    const base = web.origin;
    assert.ok(web.url.startsWith(`${base}/?token=`));
    for (const path of ['/', '/index.html', '/assets/app.js', `/?token=${'x'.repeat(43)}`]) assert.equal((await fetch(`${base}${path}`)).status, 403, `${path} without the secret`);
    const opened = await fetch(web.url, { redirect: 'manual' });
    assert.equal(opened.status, 200, 'the printed URL opens the page');
    const cookie = (opened.headers.get('set-cookie') ?? '').split(';')[0]!;
    assert.match(opened.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    assert.equal((await fetch(`${base}/`, { headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${base}/`, { headers: { cookie: 'gyre_console=not-it' } })).status, 403);
    assert.equal(await consoleSocketOutcome(base, {}), 'refused', 'a tool without the secret');
    assert.equal(await consoleSocketOutcome(base, { extraHeaders: { origin: base } }), 'refused', 'the right Origin without the secret');
    assert.equal(await consoleSocketOutcome(base, { auth: { token: 'guess' } }), 'refused');
    // Cookies reach every port of a host (another local user's server could see this one): it opens files, never the console.
    assert.equal(await consoleSocketOutcome(base, { extraHeaders: { cookie } }), 'refused', 'the cookie alone');
    assert.equal(await consoleSocketOutcome(base, { auth: { token: web.secret } }), 'connected', 'the secret the page keeps');
    assert.equal(await consoleSocketOutcome(base, { auth: { token: web.secret }, extraHeaders: { origin: 'http://evil.example' } }), 'refused', 'another origin, even with the secret');
  } finally {
    await web.close();
  }
});

test('web console: a malformed or escaping path is refused and the server lives on; web pages of other origins cannot connect; tokens never reach the renderer', async () => {
  const web = await startConsoleWeb(backend, { port: 0, staticDir: join(root, 'no-build') });
  try {
    const base = web.origin;
    const cookie = `gyre_console=${web.secret}`;
    assert.equal((await fetch(`${base}/%E0`, { headers: { cookie } })).status, 400);
    assert.equal((await fetch(`${base}/..%2F..%2Fetc%2Fpasswd`, { headers: { cookie } })).status, 404);
    const page = await fetch(`${base}/`, { headers: { cookie } });
    assert.equal(page.status, 200, 'still serving');
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(await consoleSocketOutcome(base, { extraHeaders: { origin: 'http://evil.example' } }), 'refused');
    const ok = io(`${base}/console`, { transports: ['websocket'], reconnection: false, auth: { token: web.secret } });
    await new Promise<void>((resolve, reject) => {
      ok.once('connect', () => resolve());
      ok.once('connect_error', reject);
    });
    const call = (method: string, ...args: unknown[]) => new Promise<{ ok: boolean; value?: unknown; error?: string }>((resolve) => ok.emit('call', { method, args }, resolve));
    const saved = await call('saveProfile', { name: 'with-token', seeds: ['127.0.0.1:1'], token: 'top-secret', tls: false, environment: 'staging' });
    assert.ok(saved.ok);
    const listed = await call('listProfiles');
    assert.ok(listed.ok && Array.isArray(listed.value));
    const p = (listed.value as { name: string; token: unknown; hasToken: boolean; id: string }[]).find((x) => x.name === 'with-token')!;
    assert.equal(p.token, null, 'the token stays in the backend');
    assert.equal(p.hasToken, true);
    assert.ok(!JSON.stringify(listed).includes('top-secret'));
    await call('saveProfile', { id: p.id, name: 'renamed', seeds: ['127.0.0.1:1'], token: null, tls: false, environment: 'staging' });
    const store = await ProfileStore.open(join(root, 'console', 'console.db'));
    assert.equal((await store.get(p.id))?.token, 'top-secret', 'saving without a token keeps the stored one');
    await store.close();
    assert.deepEqual(await call('nope'), { ok: false, error: 'a call is {method, args} with one of the console methods' });
    await call('deleteProfile', p.id);
    ok.close();
  } finally {
    await web.close();
  }
});

test('console backend: close stops the cluster it launched (Ctrl-C stops everything it started)', async () => {
  const cluster = LocalCluster.load(join(root, 'console'))!;
  const pids = cluster.nodes.map((n) => n.pid);
  await backend.close();
  assert.ok(pids.every((pid) => !isAlive(pid)), 'every node process it launched has exited');
});
