// A TLS cluster on real processes (issue 12): certificates made here with openssl, a CA for the
// cluster and another CA for a stranger. The cluster forms over mutual TLS, serves get/put over
// https, RESP over TLS and the control plane over wss; plain connections get nothing; a node
// with a certificate from another CA, holding the right token, never joins; a node without TLS
// says why it cannot join; the CLI checks the node against --ca.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { type Ca, type Leaf, makeCa, makeLeaf, opensslMissing } from '../helpers/certs.js';
import { TestCluster, freePort, httpRequest, sleep, uniqueKey } from '../helpers/cluster.js';

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node-core', 'src', 'cli', 'gyre.js');
const missing = opensslMissing();
const dir = mkdtempSync(join(tmpdir(), 'gyre-tls-'));
let ca: Ca;
let otherCa: Ca;
const leaves = new Map<string, Leaf>();
if (!missing) {
  ca = makeCa(dir, 'cluster-ca');
  otherCa = makeCa(dir, 'other-ca');
  for (const id of ['n1', 'n2', 'n3', 'plain']) leaves.set(id, makeLeaf(dir, ca, id));
  leaves.set('stranger', makeLeaf(dir, otherCa, 'stranger'));
}
const tlsArgs = (id: string): string[] => ['--tls-cert', leaves.get(id)!.cert, '--tls-key', leaves.get(id)!.key, '--tls-ca', ca.cert];

/** Sends raw RESP over a socket and collects what comes back for `waitMs`. */
function exchange(socket: net.Socket, send: string, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => {});
    socket.write(send);
    setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, waitMs);
  });
}

describe('TLS files are checked at start', { skip: missing }, () => {
  test('a CA file with no certificate in it, or a certificate that is not a CA, stops the node and names the file', () => {
    const empty = join(dir, 'empty-ca.pem');
    writeFileSync(empty, '');
    for (const [caFile, why] of [[empty, /holds no certificate/], [leaves.get('n1')!.cert, /is not a CA/]] as const) {
      const r = spawnSync(process.execPath, [cliPath, 'node', '--id', 'bad-ca', '--dir', join(dir, 'bad-ca'), '--port', '0', '--tls-cert', leaves.get('n1')!.cert, '--tls-key', leaves.get('n1')!.key, '--tls-ca', caFile], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, why);
      assert.ok(r.stderr.includes(caFile), 'the message names the file');
    }
  });
});

describe('a TLS cluster', { skip: missing }, () => {
  const cluster = new TestCluster({ tlsCa: missing ? undefined : readFileSync(ca.cert), argsFor: (id) => tlsArgs(id) });
  const extra: ChildProcess[] = [];
  before(() => cluster.start());
  after(async () => {
    for (const c of extra) c.kill('SIGKILL');
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts one more node process against the cluster's n1, with `args`; returns where its log goes. */
  async function startExtra(id: string, args: string[]): Promise<{ child: ChildProcess; log: () => string }> {
    const port = await freePort();
    let log = '';
    const child = spawn(process.execPath, [cliPath, 'node', '--id', id, '--dir', join(dir, id), '--port', String(port), '--partitions', '16', '--seeds', `127.0.0.1:${cluster.node('n1').port}`, ...args], { env: { ...process.env, GYRE_TOKEN: cluster.token }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    extra.push(child);
    return { child, log: () => log };
  }

  test('forms over mutual TLS and serves put and get over https', async () => {
    const key = uniqueKey('tls');
    assert.equal((await cluster.put('n1', key, 'over tls')).status, 204);
    const got = await cluster.get('n3', key);
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'over tls');
    const s = await cluster.status('n2');
    assert.match(s.listeners.control!, /^https:\/\//);
  });

  test('plain HTTP to a TLS node gets no answer', async () => {
    await assert.rejects(httpRequest(`http://127.0.0.1:${cluster.node('n1').port}`, 'GET', '/status'));
  });

  test('RESP over TLS answers; plain RESP gets nothing', async () => {
    const [host, port] = (await cluster.status('n2')).listeners.resp!.split(':');
    const key = uniqueKey('resp-tls');
    const secure = tls.connect({ host, port: Number(port), ca: readFileSync(ca.cert) });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    const reply = await exchange(secure, `AUTH ${cluster.token}\r\nSET ${key} v1\r\nGET ${key}\r\n`, 1500);
    assert.equal(reply, '+OK\r\n+OK\r\n$2\r\nv1\r\n');
    const plain = net.connect({ host, port: Number(port) });
    await new Promise<void>((resolve) => plain.once('connect', resolve));
    assert.equal(await exchange(plain, 'PING\r\n', 1000), '', 'a plain client gets no RESP reply');
  });

  test('the control plane speaks wss with the CA', async () => {
    const { listeners } = await cluster.status('n1');
    const socket = io(listeners.control!, { path: '/socket.io', transports: ['websocket'], reconnection: false, auth: { token: cluster.token }, ca: readFileSync(ca.cert, 'utf8') });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
    } finally {
      socket.close();
    }
  });

  test('a node with the token but a certificate from another CA never joins', async () => {
    // It trusts the cluster's CA, so it can read a seed's /status; its own certificate is what the members refuse.
    const s = await startExtra('stranger', ['--tls-cert', leaves.get('stranger')!.cert, '--tls-key', leaves.get('stranger')!.key, '--tls-ca', ca.cert]);
    await sleep(6000);
    for (const id of ['n1', 'n2', 'n3']) {
      const members = (await cluster.status(id)).members.map((m) => m.id);
      assert.ok(!members.includes('stranger'), `${id} lists the stranger: ${members.join(', ')}`);
    }
    s.child.kill('SIGKILL');
  });

  test('a node without TLS says why it cannot join, and does not', async () => {
    const p = await startExtra('plain', []);
    let said = false;
    for (let i = 0; i < 60 && !said; i++) {
      await sleep(200);
      said = /cluster runs TLS/.test(p.log());
    }
    assert.ok(said, `no clear message in its log:\n${p.log().slice(-2000)}`);
    const members = (await cluster.status('n1')).members.map((m) => m.id);
    assert.ok(!members.includes('plain'));
    p.child.kill('SIGKILL');
  });

  test('SIGHUP renews the certificates without a restart: new connections get the new one, and the cluster keeps working', async () => {
    const renewed = makeLeaf(dir, ca, 'n2-renewed');
    const n2 = leaves.get('n2')!;
    copyFileSync(renewed.cert, n2.cert);
    copyFileSync(renewed.key, n2.key);
    const peerCn = async (port: number) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(ca.cert) });
      await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
      const cn = String(s.getPeerCertificate().subject.CN);
      s.destroy();
      return cn;
    };
    const port = cluster.node('n2').port;
    assert.equal(await peerCn(port), 'n2', 'before the reload');
    process.kill(cluster.node('n2').child!.pid!, 'SIGHUP');
    let cn = '';
    for (let i = 0; i < 50 && cn !== 'n2-renewed'; i++) {
      await sleep(100);
      cn = await peerCn(port);
    }
    assert.equal(cn, 'n2-renewed');
    const [, respPort] = (await cluster.status('n2')).listeners.resp!.split(':');
    assert.equal(await peerCn(Number(respPort)), 'n2-renewed', 'the RESP listener too');
    assert.equal((await cluster.put('n2', uniqueKey('renewed'), 'v', { query: 'w=3' })).status, 204, 'internode still works');
  });

  test('the CLI reaches an https node with --ca, and refuses it without', () => {
    const url = `https://127.0.0.1:${cluster.node('n2').port}`;
    const env = { ...process.env, GYRE_TOKEN: cluster.token };
    const key = uniqueKey('cli-tls');
    const put = spawnSync(process.execPath, [cliPath, 'put', key, 'from the cli', '--url', url, '--ca', ca.cert], { encoding: 'utf8', env });
    assert.equal(put.status, 0, put.stderr);
    const get = spawnSync(process.execPath, [cliPath, 'get', key, '--url', url, '--ca', ca.cert], { encoding: 'utf8', env });
    assert.equal(get.stdout, 'from the cli');
    const untrusted = spawnSync(process.execPath, [cliPath, 'get', key, '--url', url], { encoding: 'utf8', env });
    assert.notEqual(untrusted.status, 0);
  });
});
