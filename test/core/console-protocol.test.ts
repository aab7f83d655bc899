// The console's API surface (issue 6): the preload (which, sandboxed, cannot import the
// protocol module) exposes exactly the methods and pushes the protocol lists, and what the
// renderer sends for profiles and workloads is validated where it enters the backend.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleMethods, consolePushes } from '../../node-core/src/wire/console.js';
import { checkProfile } from '../../electron/backend/profiles.js';
import { checkWorkloadSpec, workloadRateMax } from '../../electron/backend/workload.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function listIn(source: string, name: string): string[] {
  const m = new RegExp(`const ${name} = \\[([^\\]]*)\\]`).exec(source);
  assert.ok(m, `${name} list found in the preload`);
  return [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
}

test('console: the preload exposes exactly the protocol methods and pushes (one IPC channel each)', () => {
  const preload = readFileSync(join(root, 'electron', 'preload.cts'), 'utf8');
  assert.deepEqual(listIn(preload, 'methods'), [...consoleMethods]);
  assert.deepEqual(listIn(preload, 'pushes'), [...consolePushes]);
  assert.ok(!/exposeInMainWorld\([^)]*ipcRenderer\)/.test(preload), 'ipcRenderer itself is never exposed');
});

test('console: a profile is checked (name, 1..32 http URLs, environment) and its URLs normalised', () => {
  const ok = checkProfile({ name: ' prod ', seeds: ['10.0.0.1:7070', 'https://db.example:7443/'], token: 's3cret', tls: true, environment: 'production' });
  // A TLS profile's bare host:port is https.
  assert.deepEqual(ok, { name: 'prod', seeds: ['https://10.0.0.1:7070', 'https://db.example:7443'], token: 's3cret', tls: true, caFile: null, environment: 'production' });
  assert.deepEqual(checkProfile({ name: 'dev', seeds: ['10.0.0.1:7070'], tls: false, environment: 'development' }).seeds, ['http://10.0.0.1:7070']);
  for (const [bad, why] of [
    [{ name: 'x', seeds: ['http://a:1'], tls: true, environment: 'development' }, /https/],
    [{ name: 'x', seeds: ['https://a:1'], tls: false, environment: 'development' }, /tick TLS/],
    [{ name: 'x', seeds: ['a:1'], tls: false, caFile: '/ca.pem', environment: 'development' }, /needs TLS/],
    [{ name: '', seeds: ['a:1'], environment: 'development' }, /name/],
    [{ name: 'x', seeds: [], environment: 'development' }, /1 to 32/],
    [{ name: 'x', seeds: ['ftp://a:1'], environment: 'development' }, /http/],
    [{ name: 'x', seeds: ['a:1'], environment: 'moon' }, /environment/],
  ] as const) {
    assert.throws(() => checkProfile(bad), why);
  }
});

test('console: a workload is bounded in rate, mix, keys and value size', () => {
  assert.deepEqual(checkWorkloadSpec({ ratePerSecond: 100.4, getRatio: 0.5, keys: 10, valueBytes: 100 }), { ratePerSecond: 100, getRatio: 0.5, keys: 10, valueBytes: 100 });
  assert.throws(() => checkWorkloadSpec({ ratePerSecond: workloadRateMax + 1, getRatio: 0.5, keys: 10, valueBytes: 1 }), /ratePerSecond/);
  assert.throws(() => checkWorkloadSpec({ ratePerSecond: 10, getRatio: 2, keys: 10, valueBytes: 1 }), /getRatio/);
  assert.throws(() => checkWorkloadSpec(null), /workload/);
});
