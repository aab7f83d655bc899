// Console profiles at rest (issue 12): a token is stored sealed (AES-256-GCM under a key file
// only the user can read), so the database file alone gives it away to nobody; a token saved in
// plain text by an earlier version is sealed when the store opens; another key opens nothing.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { ProfileStore, keyFileSealer } from '../../electron/backend/profiles.js';

const root = mkdtempSync(join(tmpdir(), 'gyre-profiles-'));
after(() => rmSync(root, { recursive: true, force: true }));
const token = 'a-token-that-must-not-be-on-disk-7f3a';

/** A new folder for one test's console.db. */
function freshDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
}

/** Every byte of the database and its WAL, as one string. */
function onDisk(dir: string): string {
  return readdirSync(dir).filter((f) => f.startsWith('console.db')).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('');
}

function exec(path: string, sql: string, params: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (e) => {
      if (e) return reject(e);
      db.run(sql, params, (e2) => db.close(() => (e2 ? reject(e2) : resolve())));
    });
  });
}

test('a saved token is sealed on disk and read back; the key file and the database are 0600', async () => {
  const dir = freshDir('a');
  const store = await ProfileStore.open(join(dir, 'console.db'));
  const p = await store.save({ name: 'prod', seeds: ['127.0.0.1:7070'], token, tls: false, environment: 'production' });
  assert.equal((await store.get(p.id))?.token, token);
  await store.close();
  assert.ok(!onDisk(dir).includes(token), 'the token is in the database file in clear text');
  assert.equal(statSync(join(dir, 'console.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'console.db')).mode & 0o777, 0o600);
  const again = await ProfileStore.open(join(dir, 'console.db'));
  assert.equal((await again.get(p.id))?.token, token, 'the same key opens it after a restart');
  await again.close();
  const stranger = await ProfileStore.open(join(dir, 'console.db'), keyFileSealer(join(root)));
  assert.equal((await stranger.get(p.id))?.token, null, 'another key opens nothing');
  await stranger.close();
});

test('a token an earlier version stored in clear text is sealed when the store opens', async () => {
  const dir = freshDir('b');
  const first = await ProfileStore.open(join(dir, 'console.db'));
  const p = await first.save({ name: 'old', seeds: ['127.0.0.1:7070'], token: null, tls: false, environment: 'staging' });
  await first.close();
  await exec(join(dir, 'console.db'), 'UPDATE profiles SET token = ? WHERE id = ?', [token, p.id]);
  const store = await ProfileStore.open(join(dir, 'console.db'));
  assert.equal((await store.get(p.id))?.token, token);
  await store.close();
  await exec(join(dir, 'console.db'), 'VACUUM', []);
  assert.ok(!onDisk(dir).includes(token), 'the old clear-text token is still on disk');
});

test('saving without a token keeps the stored one only for the same nodes, TLS setting and CA', async () => {
  const dir = freshDir('c');
  const store = await ProfileStore.open(join(dir, 'console.db'));
  const p = await store.save({ name: 'east', seeds: ['127.0.0.1:7070'], token, tls: false, environment: 'staging' });
  await store.save({ id: p.id, name: 'east (renamed)', seeds: ['127.0.0.1:7070'], token: null, tls: false, environment: 'staging' });
  assert.equal((await store.get(p.id))?.token, token, 'a rename keeps it');
  await store.save({ id: p.id, name: 'east', seeds: ['http://attacker.example:7070'], token: null, tls: false, environment: 'staging' });
  assert.equal((await store.get(p.id))?.token, null, 'pointed at other nodes, the profile needs its token again');
  await store.close();
});
