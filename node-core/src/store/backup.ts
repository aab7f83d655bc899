// Backup and restore of one node's database (docs/deploy.md, "Backup and restore").
//
// A backup is SQLite's own consistent copy (VACUUM INTO, from a read-only connection: the node
// keeps serving, and the copy holds every write committed when it began), checked, stamped with
// when it was taken, and moved into place only once whole. A restore puts it back into an empty
// data folder, with two rules a Dynamo node needs that a file copy would break:
//
// - Actors are retired. The node coordinated writes after the backup was taken, advancing its
//   actors' counters in clocks the other replicas still hold. Coordinating again with those
//   actors from the backup's counters would mint the same (actor, counter) twice for different
//   values, and the replicas holding the newer one would drop the new write as already seen: an
//   acknowledged write lost. So the restored database has no actors, and the next write in
//   each partition mints a new one (the same rule as SqliteStore.retireActor).
// - A backup older than the reaped-key retention is refused. Keys deleted and reaped since
//   are remembered by the other replicas only that long; a copy from before would bring them
//   back through anti-entropy. The limit can be raised on purpose (maxAgeMs).
//
// Everything read from the backup file is checked first: it is a file from outside.

import Database from 'better-sqlite3';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { databaseFileName } from './sqlite-store.js';

/** The meta row a backup carries (removed again by a restore). */
const backupMeta = 'gyreBackup';
const backupFormat = 1;
/** Tables a node's database has; a file without them is not one. */
const requiredTables = ['kv', 'meta', 'actors', 'hints'] as const;
const busyTimeoutMs = 5000;

export class BackupError extends Error {}

export interface BackupInfo {
  /** When the copy was taken (ms since the epoch, the backing-up machine's clock). */
  readonly createdAtMs: number;
  /** Keys in the node's data (tombstones included). */
  readonly keys: number;
  /** Hinted versions it held for other nodes. */
  readonly hints: number;
  readonly bytes: number;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function count(db: Database.Database, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/** Opens an SQLite file that came from outside, turning its failures into one clear error. */
function openChecked(file: string, readonly: boolean): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: true });
  } catch (e) {
    throw new BackupError(`cannot open ${file}: ${(e as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    const missing = requiredTables.filter((t) => !tables.has(t));
    if (missing.length > 0) throw new BackupError(`${file} is not a Gyre node's database (no table ${missing.join(', ')})`);
    return db;
  } catch (e) {
    db.close();
    if (e instanceof BackupError) throw e;
    throw new BackupError(`${file} is not a readable SQLite database: ${(e as Error).message}`);
  }
}

/** SQLite's own check of every page and index; a damaged file can also make it throw. */
function integrityProblem(db: Database.Database): string | undefined {
  let rows: { integrity_check: string }[];
  try {
    rows = db.pragma('integrity_check') as { integrity_check: string }[];
  } catch (e) {
    return (e as Error).message;
  }
  const first = rows[0]?.integrity_check;
  return first === 'ok' ? undefined : rows.map((r) => r.integrity_check).slice(0, 5).join('; ');
}

/**
 * Copies the database of the node whose data folder is `dir` to `out` (a new file), while the
 * node runs or not.
 */
export function backupNode(dir: string, out: string, now: number): BackupInfo {
  const source = join(dir, databaseFileName);
  if (!existsSync(source)) throw new BackupError(`no Gyre database in ${dir} (expected ${databaseFileName}): is this a node's data folder?`);
  if (existsSync(out)) throw new BackupError(`${out} exists: a backup never overwrites a file; name a new one`);
  mkdirSync(dirname(out), { recursive: true });
  const partial = `${out}.partial`;
  rmSync(partial, { force: true });
  const db = openChecked(source, true);
  try {
    db.prepare('VACUUM INTO ?').run(partial);
  } catch (e) {
    rmSync(partial, { force: true });
    throw new BackupError(`the copy of ${source} failed: ${(e as Error).message}`);
  } finally {
    db.close();
  }
  try {
    const copy = openChecked(partial, false);
    let info: Omit<BackupInfo, 'bytes'>;
    try {
      const problem = integrityProblem(copy);
      if (problem) throw new BackupError(`the copy of ${source} fails SQLite's integrity check (${problem}); the node's own file may be damaged`);
      info = { createdAtMs: now, keys: count(copy, 'kv'), hints: count(copy, 'hints') };
      copy.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(backupMeta, Buffer.from(JSON.stringify({ format: backupFormat, ...info })));
    } finally {
      copy.close();
    }
    fsyncPath(partial);
    renameSync(partial, out);
    fsyncPath(dirname(out));
    return { ...info, bytes: statSync(out).size };
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  }
}

function readStamp(db: Database.Database, file: string): Omit<BackupInfo, 'bytes'> {
  const row = db.prepare('SELECT value FROM meta WHERE name = ?').get(backupMeta) as { value: unknown } | undefined;
  if (row === undefined) throw new BackupError(`${file} is not a Gyre backup (no backup stamp): make one with gyre backup; a copied gyre.sqlite3 may be mid-write`);
  let stamp: unknown;
  try {
    stamp = JSON.parse(Buffer.isBuffer(row.value) ? row.value.toString('utf8') : String(row.value));
  } catch {
    stamp = undefined;
  }
  const s = stamp as Partial<Record<'format' | 'createdAtMs' | 'keys' | 'hints', unknown>> | undefined;
  const ok = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (typeof s !== 'object' || s === null || s.format !== backupFormat || !ok(s.createdAtMs) || !ok(s.keys) || !ok(s.hints)) throw new BackupError(`${file} has an unreadable backup stamp (format ${backupFormat} expected)`);
  return { createdAtMs: s.createdAtMs, keys: s.keys, hints: s.hints };
}

/** What a backup file holds, after checking it whole. */
export function inspectBackup(file: string): BackupInfo {
  const db = openChecked(file, true);
  try {
    const problem = integrityProblem(db);
    if (problem) throw new BackupError(`${file} fails SQLite's integrity check (${problem})`);
    return { ...readStamp(db, file), bytes: statSync(file).size };
  } catch (e) {
    if (e instanceof BackupError) throw e;
    throw new BackupError(`${file} cannot be read whole: ${(e as Error).message}`);
  } finally {
    db.close();
  }
}

function duration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} days`;
}

export interface RestoreOptions {
  readonly now: number;
  /** The oldest backup accepted (ms): the cluster's reaped-key retention. */
  readonly maxAgeMs: number;
}

/** Restores `from` into the data folder `dir`, which must hold no database; the node is started afterwards. */
export function restoreNode(from: string, dir: string, opts: RestoreOptions): BackupInfo {
  const target = join(dir, databaseFileName);
  for (const f of [target, `${target}-wal`]) if (existsSync(f)) throw new BackupError(`${f} exists: restore only into a stopped node's empty data folder (move the old database away first)`);
  const info = inspectBackup(from);
  const ageMs = opts.now - info.createdAtMs;
  if (ageMs > opts.maxAgeMs) {
    throw new BackupError(
      `${from} was taken ${duration(ageMs)} ago, beyond the ${duration(opts.maxAgeMs)} the cluster remembers reaped keys (--reaped-retain-ms): keys deleted since would come back. Start the node empty instead (anti-entropy refills it), or raise --max-age-ms knowing that`,
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const partial = `${target}.restoring`;
  rmSync(partial, { force: true });
  const src = openChecked(from, true);
  try {
    src.prepare('VACUUM INTO ?').run(partial);
  } finally {
    src.close();
  }
  try {
    const db = openChecked(partial, false);
    try {
      db.transaction(() => {
        db.prepare('DELETE FROM actors').run();
        const last = db.prepare("SELECT value FROM meta WHERE name = 'lastActorMs'").get() as { value: Buffer } | undefined;
        const stored = last ? Number(Buffer.from(last.value).toString()) : 0;
        const ms = Math.max(opts.now, Number.isSafeInteger(stored) ? stored + 1 : 0);
        db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('lastActorMs', ?)").run(Buffer.from(String(ms)));
        db.prepare('DELETE FROM meta WHERE name = ?').run(backupMeta);
      })();
    } finally {
      db.close();
    }
    fsyncPath(partial);
    renameSync(partial, target);
    fsyncPath(dir);
    return info;
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  }
}
