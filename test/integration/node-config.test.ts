// gyre node from a config file (issue 13, deployment): --config, --print-config, GYRE_*
// variables, --advertise behind a wildcard bind, and the size-rotated log file. Real processes.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, httpRequest, parseStatus, sleep } from '../helpers/cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cliPath = join(root, 'dist', 'node-core', 'src', 'cli', 'gyre.js');
const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GYRE_')));

describe('gyre node settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--print-config merges flags over GYRE_* over the file, prints a config file, and says where each value came from', () => {
    const cfg = join(dir, 'print.json');
    writeFileSync(cfg, JSON.stringify({ id: 'p1', port: 7400, w: 3, n: 3, dir: 'data/p1', seeds: ['10.0.0.2:7400'] }));
    const r = spawnSync(process.execPath, [cliPath, 'node', '--config', cfg, '--print-config', '--r', '1'], { env: { ...cleanEnv(), GYRE_W: '1', GYRE_SYNC: 'full' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(printed.r, 1);
    assert.equal(printed.w, 1);
    assert.equal(printed.sync, 'full');
    assert.equal(printed.port, 7400);
    assert.equal(printed.dir, join(dir, 'data', 'p1'), 'a relative path in the file is taken from its folder');
    assert.deepEqual(printed.seeds, ['10.0.0.2:7400']);
    assert.match(r.stderr, /^r\s+flag$/m);
    assert.match(r.stderr, /^w\s+env$/m);
    assert.match(r.stderr, /^port\s+file$/m);
    assert.match(r.stderr, /^partitions\s+default$/m);
    assert.ok(!existsSync(join(dir, 'data')), '--print-config starts nothing');
  });

  test('a refused configuration exits 2 naming every problem, and starts nothing', () => {
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ id: 'b1', port: 7401, token: 'x', partitons: 64 }));
    const r = spawnSync(process.execPath, [cliPath, 'node', '--config', cfg, '--sync', 'sometimes'], { env: cleanEnv(), encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--sync: must be one of normal, full/);
    assert.match(r.stderr, /unknown setting "partitons"/);
    assert.match(r.stderr, /"token" does not belong in a config file/);
    const notJson = join(dir, 'bad.txt');
    writeFileSync(notJson, 'port = 7');
    const r2 = spawnSync(process.execPath, [cliPath, 'node', '--config', notJson], { env: cleanEnv(), encoding: 'utf8' });
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /is not JSON/);
    const wildcard = spawnSync(process.execPath, [cliPath, 'node', '--id', 'w1', '--port', '0', '--host', '0.0.0.0'], { env: cleanEnv(), encoding: 'utf8' });
    assert.equal(wildcard.status, 2);
    assert.match(wildcard.stderr, /give --advertise HOST/);
  });

  test('a node run from a config file binds every address, announces the advertised one, and logs to its rotated file', async () => {
    const [port, internodePort] = [await freePort(), await freePort()];
    const token = randomBytes(24).toString('base64url');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${token}\n`);
    chmodSync(tokenFile, 0o600);
    const cfg = join(dir, 'node.json');
    writeFileSync(cfg, JSON.stringify({ '//': 'a sample', id: 'c1', dir: 'c1', host: '0.0.0.0', advertise: '127.0.0.1', port, internodePort, n: 1, r: 1, w: 1, tokenFile: 'token', logFile: 'c1.log', logMaxBytes: 4096, logFiles: 2 }));
    const child = spawn(process.execPath, [cliPath, 'node', '--config', cfg], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      let status;
      for (let i = 0; i < 150 && !status; i++) {
        const res = await httpRequest(url, 'GET', '/status', { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
        if (res?.status === 200) status = parseStatus(res);
        else await sleep(100);
      }
      assert.ok(status, 'the node came up');
      assert.equal(status.listeners.http, `127.0.0.1:${port}`);
      assert.equal(status.listeners.internode, `127.0.0.1:${internodePort}`);
      assert.match(status.listeners.resp ?? '', /^127\.0\.0\.1:\d+$/);
      assert.equal(status.members[0]?.address, `127.0.0.1:${port}`);
      const put = await httpRequest(url, 'PUT', '/kv/config-test', { headers: { authorization: `Bearer ${token}` }, body: Buffer.from('v') });
      assert.equal(put.status, 204, put.body.toString());
      const log = readFileSync(join(dir, 'c1.log'), 'utf8');
      assert.match(log, /"msg":"node ready"/);
      assert.ok(!log.includes(token), 'the token is never logged');
      assert.equal(stdout, '', 'with a log file, nothing goes to standard output');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.match(readFileSync(join(dir, 'c1.log'), 'utf8'), /"msg":"shutting down"/);
  });
});

test('a token file named in the config file gives way to GYRE_TOKEN, as every setting from the file gives way to a variable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gyre-config-token-'));
  const [fileToken, envToken] = [randomBytes(24).toString('base64url'), randomBytes(24).toString('base64url')];
  writeFileSync(join(dir, 'token'), `${fileToken}\n`);
  chmodSync(join(dir, 'token'), 0o600);
  const port = await freePort();
  writeFileSync(join(dir, 'node.json'), JSON.stringify({ id: 't1', dir: 't1', port, n: 1, r: 1, w: 1, tokenFile: 'token' }));
  const child = spawn(process.execPath, [cliPath, 'node', '--config', join(dir, 'node.json')], { env: { ...cleanEnv(), GYRE_TOKEN: envToken }, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const url = `http://127.0.0.1:${port}`;
    const statusWith = (t: string) => httpRequest(url, 'GET', '/status', { headers: { authorization: `Bearer ${t}` } }).then((r) => r.status, () => 0);
    let up = 0;
    for (let i = 0; i < 150 && up !== 200; i++) {
      up = await statusWith(envToken);
      if (up !== 200) await sleep(100);
    }
    assert.equal(up, 200, 'GYRE_TOKEN opens the node');
    assert.equal(await statusWith(fileToken), 401, "the config file's token file was set aside");
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
