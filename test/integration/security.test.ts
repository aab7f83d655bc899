// Roles and chaos by consent, on real node processes (issue 12):
// - with an admin token, the cluster token reads and writes but cannot touch /admin/* (faults,
//   leave, traces) over HTTP, the control plane or the CLI; the admin token can;
// - fault injection is refused with 403 on a node started without --allow-faults, and such a
//   node refuses a fault table sent by a peer that allows them;
// - secrets from files, and the rules a node starts by (file permissions, strength, distinct tokens).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents, TraceRequest, TraceResult } from '../../node-core/src/wire/control.js';
import { RespClient } from '../helpers/resp-client.js';
import { defaultConfig } from '../../node-core/src/node/config.js';
import { serveNode } from '../../node-core/src/start/serve-node.js';
import { TestCluster, bearer, freePort, httpRequest, jsonBody, parseError, sleep, uniqueKey } from '../helpers/cluster.js';

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node-core', 'src', 'cli', 'gyre.js');
const latency = { kind: 'latency', delayMs: 1, jitterMs: 0, durationMs: 5000 };
const json = { 'content-type': 'application/json' };

function gyre(args: string[], env: Record<string, string | undefined>): { status: number | null; stdout: string; stderr: string } {
  const clean = { ...process.env };
  delete clean.GYRE_TOKEN;
  delete clean.GYRE_ADMIN_TOKEN;
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type ControlSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
interface Reply {
  readonly ok: boolean;
  readonly error?: string;
}

/** Connects to a node's control plane with `token`, sends one command, and returns its ack. */
async function controlCall(url: string, token: string, send: (s: ControlSocket, ack: Ack<unknown>) => void): Promise<Reply> {
  const socket: ControlSocket = io(url, { path: '/socket.io', transports: ['websocket'], reconnection: false, auth: { token } });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ack within 5 s')), 5000);
      send(socket, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  } finally {
    socket.close();
  }
}

const inject = (spec: Record<string, unknown>) => (s: ControlSocket, ack: Ack<unknown>) => s.emit('faults:inject', spec, ack);
const heal = (s: ControlSocket, ack: Ack<unknown>) => s.emit('faults:heal', null, ack);
const trace = (s: ControlSocket, ack: Ack<unknown>) => s.emit('trace', { op: 'get', key: 'k' } as TraceRequest, ack as Ack<TraceResult>);

describe('roles: an admin token', () => {
  const cluster = new TestCluster({ adminToken: true });
  const admin = bearer(cluster.adminToken);
  before(() => cluster.start());
  after(() => cluster.stop());

  test('no token or a wrong one gets 401 everywhere; the cluster token reads and writes; the admin token does too', async () => {
    const key = uniqueKey('roles');
    for (const headers of [{ authorization: '' }, { authorization: 'Bearer not-the-token-at-all' }]) {
      assert.equal((await cluster.request('n1', 'GET', `/kv/${key}`, { headers })).status, 401);
      assert.equal((await cluster.request('n1', 'POST', '/admin/faults', { headers: { ...headers, ...json }, body: JSON.stringify(latency) })).status, 401);
    }
    assert.equal((await cluster.put('n1', key, 'by a client')).status, 204);
    assert.equal((await cluster.request('n2', 'GET', `/kv/${key}`, { headers: admin })).status, 200);
    assert.equal((await cluster.request('n2', 'PUT', `/kv/${uniqueKey('roles')}`, { headers: { ...admin, 'content-type': 'text/plain' }, body: 'by an admin' })).status, 204);
  });

  test('the cluster token gets 403 on faults, leave and traces, and nothing happens; the admin token injects and heals', async () => {
    const f = await cluster.request('n1', 'POST', '/admin/faults', { headers: json, body: JSON.stringify(latency) });
    assert.equal(f.status, 403);
    assert.equal(parseError(f).error, 'admin_required');
    const leave = await cluster.request('n2', 'POST', '/admin/leave');
    assert.equal(leave.status, 403);
    const t = await cluster.request('n1', 'POST', '/admin/trace', { headers: json, body: JSON.stringify({ op: 'get', key: 'k' }) });
    assert.equal(t.status, 403);
    const listed = jsonBody(await cluster.request('n1', 'GET', '/admin/faults', { headers: admin })) as { faults: unknown[] };
    assert.deepEqual(listed.faults, [], 'a refused fault is not in force');
    const s = await cluster.status('n2');
    assert.equal((s.members.find((m) => m.id === 'n2') as { state?: string } | undefined)?.state, 'member', 'a refused leave leaves the node a member');

    const ok = await cluster.request('n1', 'POST', '/admin/faults', { headers: { ...admin, ...json }, body: JSON.stringify(latency) });
    assert.equal(ok.status, 201, ok.body.toString());
    const healed = await cluster.request('n1', 'DELETE', '/admin/faults', { headers: admin });
    assert.equal(healed.status, 200);
  });

  test('control plane: the cluster token connects but cannot inject, heal or trace; the admin token can', async () => {
    const { listeners } = await cluster.status('n1');
    const url = listeners.control!;
    for (const send of [inject(latency), heal, trace]) {
      const r = await controlCall(url, cluster.token, send);
      assert.equal(r.ok, false);
      assert.equal(r.error, 'admin_required');
    }
    const r = await controlCall(url, cluster.adminToken, inject(latency));
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal((await controlCall(url, cluster.adminToken, heal)).ok, true);
  });

  test('RESP takes either token with AUTH, and no other', async () => {
    const { listeners } = await cluster.status('n3');
    for (const token of [cluster.token, cluster.adminToken]) {
      const c = await RespClient.connect(listeners.resp!, { token });
      assert.equal(await c.command('PING'), 'PONG');
      c.close();
    }
    await assert.rejects(RespClient.connect(listeners.resp!, { token: 'a-wrong-token-of-some-length' }));
  });

  test('/status says what the node requires and allows', async () => {
    const s = (await cluster.status('n1')) as { security?: unknown };
    assert.deepEqual(s.security, { tokenRequired: true, adminTokenRequired: true, faultsAllowed: true });
  });

  test('the CLI sends GYRE_ADMIN_TOKEN for faults: with the cluster token alone it is refused and says why', () => {
    const url = cluster.url('n2');
    const refused = gyre(['fault', 'latency', '--delay', '1', '--duration', '2s', '--url', url], { GYRE_TOKEN: cluster.token });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /admin token/);
    const done = gyre(['fault', 'latency', '--delay', '1', '--duration', '2s', '--url', url], { GYRE_TOKEN: cluster.token, GYRE_ADMIN_TOKEN: cluster.adminToken });
    assert.equal(done.status, 0, done.stderr);
    assert.equal(gyre(['fault', 'heal', '--url', url], { GYRE_ADMIN_TOKEN: cluster.adminToken }).status, 0);
  });
});

describe('chaos by consent: --allow-faults', () => {
  // n1 consents, n2 and n3 do not.
  const cluster = new TestCluster({ allowFaults: false, argsFor: (id) => (id === 'n1' ? ['--allow-faults'] : []) });
  before(() => cluster.start());
  after(() => cluster.stop());

  test('a node without it answers 403 over HTTP, the control plane and the CLI, and injects nothing', async () => {
    const r = await cluster.request('n2', 'POST', '/admin/faults', { headers: json, body: JSON.stringify(latency) });
    assert.equal(r.status, 403);
    assert.equal(parseError(r).error, 'faults_disabled');
    assert.match(parseError(r).message, /--allow-faults/);
    const { listeners } = await cluster.status('n3');
    const c = await controlCall(listeners.control!, cluster.token, inject(latency));
    assert.equal(c.error, 'faults_disabled');
    const cli = gyre(['fault', 'pause', 'n3', '--duration', '2s', '--url', cluster.url('n3')], { GYRE_TOKEN: cluster.token });
    assert.notEqual(cli.status, 0);
    assert.match(cli.stderr, /--allow-faults/);
    for (const id of ['n2', 'n3']) {
      const s = (await cluster.status(id)) as { security?: { faultsAllowed?: boolean }; faults?: unknown[] };
      assert.equal(s.security?.faultsAllowed, false);
      assert.deepEqual(s.faults, []);
    }
  });

  test('a fault injected on a node that consents does not reach those that do not: they refuse its table', async () => {
    const r = await cluster.request('n1', 'POST', '/admin/faults', { headers: json, body: JSON.stringify({ kind: 'pause', node: 'n2', durationMs: 3000 }) });
    assert.equal(r.status, 201, r.body.toString());
    const body = jsonBody(r) as { reached: string[]; missed: string[] };
    assert.deepEqual([...body.missed].sort(), ['n2', 'n3']);
    // Gossip rounds would carry the table on: give them time, then n2 must still be unpaused and clean.
    await sleep(2500);
    const started = Date.now();
    const s = (await cluster.status('n2', 1000)) as { faults?: unknown[] };
    assert.ok(Date.now() - started < 1000, 'n2 answers at once: it was not paused');
    assert.deepEqual(s.faults, []);
    assert.equal((await cluster.put('n2', uniqueKey('consent'), 'v')).status, 204);
    await cluster.request('n1', 'DELETE', '/admin/faults');
  });
});

describe('secrets: files and rules at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const token = 'c0ffee-d1ce-b0a7-5eed-0123456789ab';

  function tokenFile(name: string, value: string, mode: number): string {
    const f = join(dir, name);
    writeFileSync(f, `${value}\n`);
    chmodSync(f, mode);
    return f;
  }

  test('a token file others can read is refused, with what to do', () => {
    const r = gyre(['node', '--id', 'x1', '--dir', join(dir, 'x1'), '--port', '0', '--token-file', tokenFile('loose', token, 0o644)], {});
    assert.equal(r.status, 2);
    assert.match(r.stderr, /chmod 600/);
  });

  test('a weak token is refused where the network can reach the node, and the admin token must differ from the cluster token', () => {
    const weak = gyre(['node', '--id', 'x2', '--dir', join(dir, 'x2'), '--port', '0', '--host', '0.0.0.0', '--advertise', '127.0.0.1', '--token', 'hunter2'], {});
    assert.equal(weak.status, 2);
    assert.match(weak.stderr, /at least 16/);
    const same = gyre(['node', '--id', 'x3', '--dir', join(dir, 'x3'), '--port', '0', '--token-file', tokenFile('same', token, 0o600)], { GYRE_ADMIN_TOKEN: token });
    assert.equal(same.status, 2);
    assert.match(same.stderr, /must differ/);
  });

  test('a node reads its tokens from files: the file\'s token opens it, the admin file\'s opens /admin/*', async () => {
    const port = await freePort();
    const adminToken = 'a11-admin-7f3e9b2c4d5e6f70';
    const cluster = { dir: join(dir, 'x4') };
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cliPath, 'node', '--id', 'x4', '--dir', cluster.dir, '--port', String(port), '--n', '1', '--r', '1', '--w', '1', '--allow-faults', '--token-file', tokenFile('good', token, 0o600), '--admin-token-file', tokenFile('admin', adminToken, 0o600)], { stdio: 'ignore', env: { ...process.env, GYRE_TOKEN: '', GYRE_ADMIN_TOKEN: '' } });
    try {
      const url = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        await sleep(100);
        up = await httpRequest(url, 'GET', '/status', { headers: bearer(token) }).then((r) => r.status === 200, () => false);
      }
      assert.ok(up, 'the node answers with the token from its file');
      assert.equal((await httpRequest(url, 'GET', '/status')).status, 401);
      assert.equal((await httpRequest(url, 'POST', '/admin/faults', { headers: { ...bearer(token), ...json }, body: JSON.stringify(latency) })).status, 403);
      assert.equal((await httpRequest(url, 'POST', '/admin/faults', { headers: { ...bearer(adminToken), ...json }, body: JSON.stringify(latency) })).status, 201);
      assert.equal(statSync(cluster.dir).mode & 0o777, 0o700, 'the data folder is 0700');
      for (const f of readdirSync(cluster.dir)) assert.equal(statSync(join(cluster.dir, f)).mode & 0o077, 0, `${f} is readable by others`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('protected mode lives in the node: serving a non-loopback address without a token is refused, judged on what was bound', async () => {
    const config = { ...defaultConfig, id: 'x5', dir: join(dir, 'x5'), host: '0.0.0.0', port: 0, internodePort: 0, seeds: [], token: undefined, logLevel: 'silent' };
    await assert.rejects(serveNode(config, { control: false, respPort: 0 }), /protected mode/);
  });
});
