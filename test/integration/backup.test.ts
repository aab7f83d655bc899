// gyre backup and gyre restore on a real cluster (docs/deploy.md, "Backup and restore"): a
// backup taken while the node serves holds every write acknowledged before it began; a node
// restored from it comes back with that data, and its next writes are not lost to the
// replicas' newer clocks (the restore retires the node's actors); bad backups and folders are
// refused with what to do.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestCluster, allReplicas, header, parseSiblings, uniqueKey } from '../helpers/cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cliPath = join(root, 'dist', 'node-core', 'src', 'cli', 'gyre.js');
const refused = 5;

function gyre(args: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000 });
}
const text = (r: SpawnSyncReturns<string>) => `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe('backup and restore of a node', () => {
  const cluster = new TestCluster({ nodes: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'gyre-backup-'));
  const backup = join(dir, 'n1.gyre-backup');
  const keys = Array.from({ length: 40 }, (_, i) => uniqueKey(`bk${i}`));
  const hot = uniqueKey('bk-hot');
  before(() => cluster.start());
  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function putAll(id: string, key: string, value: string, context?: string): Promise<string> {
    const res = await allReplicas(() => cluster.put(id, key, value, { query: 'w=3', context }));
    assert.equal(res.status, 204, `PUT ${key} via ${id}: ${res.status} ${res.body.toString()}`);
    return header(res, 'x-gyre-context') ?? assert.fail('no context');
  }

  test('a backup taken while the node serves holds every write acknowledged before it', async () => {
    for (const k of keys) await putAll('n2', k, `value of ${k}`);
    await putAll('n1', hot, 'v0');
    const r = gyre(['backup', '--dir', cluster.node('n1').dir, '--out', backup, '--json']);
    assert.equal(r.status, 0, text(r));
    const info = JSON.parse(r.stdout) as { keys: number; bytes: number; createdAtMs: number };
    assert.equal(info.keys, keys.length + 1, 'N = 3 on 3 nodes: n1 holds every key');
    assert.ok(Math.abs(info.createdAtMs - Date.now()) < 60_000);
    const check = gyre(['restore', '--from', backup, '--check']);
    assert.equal(check.status, 0, text(check));
    assert.match(check.stdout, new RegExp(`${keys.length + 1} keys`));
    const again = gyre(['backup', '--dir', cluster.node('n1').dir, '--out', backup]);
    assert.equal(again.status, refused, 'an existing file is never overwritten');
    assert.match(again.stderr, /never overwrites/);
  });

  test('a node restored from it serves its data, and its next write survives the newer clocks the others hold', async () => {
    // After the backup, n1 coordinates two more versions of `hot`: the others hold n1's actor
    // at a counter the backup has not seen.
    const ctx1 = await putAll('n1', hot, 'v1', header(await cluster.get('n1', hot), 'x-gyre-context'));
    await putAll('n1', hot, 'v2', ctx1);
    await cluster.kill('n1');
    cluster.wipe('n1');
    const r = gyre(['restore', '--from', backup, '--dir', cluster.node('n1').dir]);
    assert.equal(r.status, 0, text(r));
    cluster.restart('n1');
    await cluster.waitUntilUp();
    // Restored, not repaired: every key is in n1's own database (replicas report where each copy is).
    const held = await cluster.replicas('n1', keys[7]!);
    assert.ok(held.replicas.some((x) => x.node === 'n1' && x.versions.length === 1), JSON.stringify(held));
    // A blind write through n1: with the backup's actors it would reuse a counter the others
    // already hold for v2, and v2's clock would make it look already seen.
    const put = await allReplicas(() => cluster.put('n1', hot, 'after-restore', { query: 'w=3' }));
    assert.equal(put.status, 204, put.body.toString());
    const read = await allReplicas(() => cluster.get('n2', hot, 'r=3', { accept: 'application/json' }));
    const values = parseSiblings(read).siblings.map((s) => Buffer.from(s.value, 'base64').toString()).sort();
    assert.ok(values.includes('after-restore'), `the write acknowledged after the restore is gone: ${JSON.stringify(values)}`);
    assert.ok(values.includes('v2'), `v2 is concurrent with the blind write: ${JSON.stringify(values)}`);
  });

  test('a backup is readable by its owner only; a crafted one cannot bring its schema (triggers, views) into the node', () => {
    assert.equal(statSync(backup).mode & 0o077, 0, 'the backup holds every value: mode 600');
    const crafted = join(dir, 'crafted.gyre-backup');
    copyFileSync(backup, crafted);
    const db = new Database(crafted);
    // Would undo the actor retirement, and rewrite every later write.
    db.exec("CREATE TRIGGER keep_actors AFTER DELETE ON actors BEGIN INSERT INTO actors VALUES (old.partition, old.actor); END");
    db.exec("CREATE TRIGGER blank_writes AFTER INSERT ON kv BEGIN UPDATE kv SET data = x'00' WHERE key = new.key; END");
    const actorsInBackup = (db.prepare('SELECT count(*) AS n FROM actors').get() as { n: number }).n;
    db.close();
    assert.ok(actorsInBackup > 0, 'the backup holds the actors n1 wrote with');
    const into = join(dir, 'crafted-restore');
    const r = gyre(['restore', '--from', crafted, '--dir', into]);
    assert.equal(r.status, 0, text(r));
    const restored = new Database(join(into, 'gyre.sqlite3'), { readonly: true });
    try {
      assert.equal((restored.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type IN ('trigger', 'view')").get() as { n: number }).n, 0, 'no trigger or view came along');
      assert.equal((restored.prepare('SELECT count(*) AS n FROM actors').get() as { n: number }).n, 0, 'the actors are retired');
      assert.equal((restored.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n, keys.length + 1, 'every key came along');
      assert.equal((restored.prepare("SELECT count(*) AS n FROM kv WHERE data = x'00'").get() as { n: number }).n, 0);
    } finally {
      restored.close();
    }
    assert.equal(statSync(join(into, 'gyre.sqlite3')).mode & 0o077, 0);
    // A view where a table belongs is refused.
    const viewed = join(dir, 'viewed.gyre-backup');
    copyFileSync(backup, viewed);
    const v = new Database(viewed);
    v.exec('DROP TABLE hints; CREATE VIEW hints AS SELECT key AS target, key, partition, data FROM kv');
    v.close();
    const refusedView = gyre(['restore', '--from', viewed, '--dir', join(dir, 'viewed-restore')]);
    assert.equal(refusedView.status, refused, text(refusedView));
    assert.match(refusedView.stderr, /no table hints/);
    assert.ok(!existsSync(join(dir, 'viewed-restore', 'gyre.sqlite3')));
  });

  test('restore refuses a folder with a database, a stale backup, a file that is not a backup, and a damaged one', () => {
    const busy = gyre(['restore', '--from', backup, '--dir', cluster.node('n2').dir]);
    assert.equal(busy.status, refused, text(busy));
    assert.match(busy.stderr, /empty data folder/);
    const empty = join(dir, 'empty');
    const stale = gyre(['restore', '--from', backup, '--dir', empty, '--max-age-ms', '0']);
    assert.equal(stale.status, refused, text(stale));
    assert.match(stale.stderr, /keys deleted since would come back/);
    assert.ok(!existsSync(join(empty, 'gyre.sqlite3')));
    const junk = join(dir, 'junk');
    writeFileSync(junk, randomBytes(8192));
    const notDb = gyre(['restore', '--from', junk, '--dir', empty]);
    assert.equal(notDb.status, refused, text(notDb));
    assert.match(notDb.stderr, /not a readable SQLite database/);
    const raw = gyre(['restore', '--from', join(cluster.node('n3').dir, 'gyre.sqlite3'), '--dir', empty]);
    assert.equal(raw.status, refused, text(raw));
    assert.match(raw.stderr, /not a Gyre backup/);
    // Damage: overwrite pages in the middle of the file.
    const bytes = readFileSync(backup);
    const damaged = join(dir, 'damaged');
    randomBytes(bytes.length / 2).copy(bytes, 4096 * 2);
    writeFileSync(damaged, bytes);
    const bad = gyre(['restore', '--from', damaged, '--dir', empty]);
    assert.equal(bad.status, refused, text(bad));
    assert.ok(!existsSync(join(empty, 'gyre.sqlite3')), 'nothing is left behind by a refused restore');
    mkdirSync(empty, { recursive: true });
  });
});
